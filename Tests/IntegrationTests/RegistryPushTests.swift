import BerthTestSupport
import Foundation
import Testing

/// Pushes through berthd with the real docker CLI, docker-py and the berth CLI, to a real
/// distribution 2.8 registry and to Berth's own registry (with token auth), and the faults:
/// the registry killed mid-push.
@Suite(.serialized)
struct RegistryPushTests {
    func trimmed(_ s: String) -> String { s.trimmingCharacters(in: .whitespacesAndNewlines) }

    @Test func pushToDistributionAndPullBack() throws {
        try withImage { d in
            let registry = try LoopbackRegistry(distributionIn: d.dir)
            defer { registry.stop() }
            let ref = "\(registry.host)/lib/bb:1"
            #expect(try d.docker("tag", "busybox:test", ref).status == 0)
            let push = try d.docker("push", ref)
            #expect(push.status == 0, "\(push.stdout) \(push.stderr)")
            #expect(push.stdout.contains("The push refers to repository [\(registry.host)/lib/bb]"), "\(push.stdout)")
            #expect(push.stdout.contains(": Pushed"), "\(push.stdout)")
            // The digest the CLI printed is the one the registry serves, and is recorded.
            let line = push.stdout.split(separator: "\n").first { $0.hasPrefix("1: digest: sha256:") }.map(String.init) ?? ""
            let digest = line.split(separator: " ").dropFirst(2).first.map(String.init) ?? "?"
            let served = trimmed(try runCommand(["skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}",
                                                 "docker://" + ref]).stdout)
            #expect(served == digest, "\(push.stdout)")
            #expect(trimmed(try d.docker("image", "inspect", "-f", "{{json .RepoDigests}}", ref).stdout).contains("\(registry.host)/lib/bb@\(digest)"))
            // Again: every layer is already there.
            let again = try d.docker("push", ref)
            #expect(again.status == 0 && again.stdout.contains("Layer already exists") && !again.stdout.contains(": Pushed"), "\(again.stdout)")

            // A built image: its base layer is mounted from lib/bb, its own layer pushed.
            let ctx = d.dir + "/ctx"
            try FileManager.default.createDirectory(atPath: ctx, withIntermediateDirectories: true)
            try "FROM \(ref)\nRUN echo built-and-pushed > /marker\n".write(toFile: ctx + "/Dockerfile", atomically: true, encoding: .utf8)
            let app = "\(registry.host)/team/app:v1"
            let build = try runCommand(["docker", "build", "-q", "-t", app, ctx],
                                       env: ["DOCKER_HOST": d.host, "DOCKER_BUILDKIT": "0", "DOCKER_CONFIG": d.dir + "/docker-config"])
            #expect(build.status == 0, "\(build.stderr)")
            let pushApp = try d.docker("push", app)
            #expect(pushApp.status == 0, "\(pushApp.stdout) \(pushApp.stderr)")
            #expect(pushApp.stdout.contains("Mounted from lib/bb"), "\(pushApp.stdout)")
            #expect(pushApp.stdout.contains(": Pushed"), "\(pushApp.stdout)")
            let id = trimmed(try d.docker("image", "inspect", "-f", "{{.Id}}", app).stdout)

            // Every tag of a repository: `push -a`.
            #expect(try d.docker("tag", "busybox:test", "\(registry.host)/lib/bb:2").status == 0)
            let all = try d.docker("push", "-a", "\(registry.host)/lib/bb")
            #expect(all.status == 0 && all.stdout.contains("1: digest:") && all.stdout.contains("2: digest:"), "\(all.stdout) \(all.stderr)")
            let tags = try runCommand(["curl", "-sf", "http://\(registry.host)/v2/lib/bb/tags/list"])
            #expect(tags.stdout.contains("\"1\"") && tags.stdout.contains("\"2\""), "\(tags.stdout)")

            // skopeo copies it out; a fresh store pulls it back and runs it, same image ID.
            let out = try runCommand(["skopeo", "copy", "-q", "--src-tls-verify=false", "docker://" + app, "oci:\(d.dir)/out:app"])
            #expect(out.status == 0, "\(out.stderr)")
            #expect(try d.docker("rmi", app).status == 0)
            let pull = try d.docker("pull", app)
            #expect(pull.status == 0, "\(pull.stdout) \(pull.stderr)")
            #expect(trimmed(try d.docker("image", "inspect", "-f", "{{.Id}}", app).stdout) == id)
            #expect(try d.docker("run", "--rm", app, "cat", "/marker").stdout == "built-and-pushed\n")

            // GET /distribution/{name}/json (docker-py's registry data), and push through docker-py.
            #expect(try d.docker("tag", "busybox:test", "\(registry.host)/py/img:3").status == 0)
            let py = try d.python("""
            import docker
            c = docker.from_env()
            aux = [m["aux"] for m in c.images.push("\(registry.host)/py/img", tag="3", stream=True, decode=True) if "aux" in m]
            print("aux", aux[0]["Tag"], aux[0]["Digest"][:7], aux[0]["Size"] > 0)
            rd = c.images.get_registry_data("\(registry.host)/py/img:3")
            print("registry", rd.id == aux[0]["Digest"], rd.has_platform("linux/amd64"), rd.has_platform("linux/arm64"))
            try:
                c.images.get_registry_data("\(registry.host)/py/img:none")
            except docker.errors.NotFound as e:
                print("not found")
            """)
            #expect(py.status == 0, "\(py.stderr)")
            #expect(py.stdout.contains("aux 3 sha256: True"), "\(py.stdout)")
            #expect(py.stdout.contains("registry True True False"), "\(py.stdout)")
            #expect(py.stdout.contains("not found"), "\(py.stdout)")

            // berth push.
            #expect(try d.docker("tag", "busybox:test", "\(registry.host)/cli/img:4").status == 0)
            let bp = try d.berth("push", "\(registry.host)/cli/img:4")
            #expect(bp.status == 0, "\(bp.stdout) \(bp.stderr)")
            #expect(bp.stdout.contains("4: digest: sha256:"), "\(bp.stdout)")

            // Bad input: an image that is not here; a digest reference.
            let missing = try d.docker("push", "\(registry.host)/nosuch/img:1")
            #expect(missing.status == 1 && missing.stderr.contains("An image does not exist locally with the tag: \(registry.host)/nosuch/img"),
                    "\(missing.stderr)")
            let bpMissing = try d.berth("push", "\(registry.host)/nosuch/img:1")
            #expect(bpMissing.status == 1 && bpMissing.stderr.contains("An image does not exist locally"), "\(bpMissing.stderr)")
            try verifyStore(d.root)
        }
    }

    @Test func pushToBerthRegistryWithLogin() throws {
        try withImage { d in
            let registry = try LoopbackRegistry(berthRegistryIn: d.dir, users: "alice:wonderland\n")
            defer { registry.stop() }
            let ref = "\(registry.host)/team/app:1"
            #expect(try d.docker("tag", "busybox:test", ref).status == 0)
            // Anonymous: denied, in Docker's words.
            let anonymous = try d.docker("push", ref)
            #expect(anonymous.status == 1 && anonymous.stderr.contains("denied"), "\(anonymous.stdout) \(anonymous.stderr)")
            // berth login with a wrong password: a clear 401; then the right one.
            let wrong = try d.berth("login", "-u", "alice", "--password-stdin", registry.host, stdin: Data("nope\n".utf8))
            #expect(wrong.status == 1 && wrong.stderr.contains("401 Unauthorized"), "\(wrong.stdout) \(wrong.stderr)")
            // berth login stores the credentials in Docker's config.json: the docker CLI uses them.
            let login = try d.berth("login", "-u", "alice", "--password-stdin", registry.host, stdin: Data("wonderland\n".utf8))
            #expect(login.status == 0 && login.stdout.contains("Login Succeeded"), "\(login.stdout) \(login.stderr)")
            let push = try d.docker("push", ref)
            #expect(push.status == 0, "\(push.stdout) \(push.stderr)")
            // berth push with them too; after berth logout, denied again.
            #expect(try d.docker("tag", "busybox:test", "\(registry.host)/team/cli:1").status == 0)
            let bp = try d.berth("push", "\(registry.host)/team/cli:1")
            #expect(bp.status == 0, "\(bp.stdout) \(bp.stderr)")
            let logout = try d.berth("logout", registry.host)
            #expect(logout.stdout.contains("Removing login credentials for \(registry.host)"), "\(logout.stdout)")
            let denied = try d.berth("push", "\(registry.host)/team/cli:1")
            #expect(denied.status == 1 && denied.stderr.contains("denied"), "\(denied.stdout) \(denied.stderr)")
            #expect(try d.docker("login", "-u", "alice", "--password-stdin", registry.host, stdin: Data("wonderland\n".utf8)).status == 0)
            // skopeo copies it out of Berth's registry.
            let out = try runCommand(["skopeo", "copy", "-q", "--src-tls-verify=false", "--src-creds", "alice:wonderland",
                                      "docker://" + ref, "oci:\(d.dir)/out:app"])
            #expect(out.status == 0, "\(out.stderr)")
            // The docker CLI pulls it back (token flow with the stored credentials).
            #expect(try d.docker("rmi", ref).status == 0)
            #expect(try d.docker("pull", ref).status == 0)
            #expect(try d.docker("run", "--rm", ref, "echo", "round trip").stdout == "round trip\n")
            try verifyStore(d.root)
        }
    }

    /// The registry killed mid-push: kept down, the push fails clearly and no partial blob is
    /// visible; restarted soon enough, the push resumes and completes.
    @Test func registryKilledMidPush() throws {
        try withImage { d in
            let ctx = d.dir + "/ctx"
            try FileManager.default.createDirectory(atPath: ctx, withIntermediateDirectories: true)
            try "FROM busybox:test\nRUN head -c 268435456 /dev/urandom > /big\n".write(toFile: ctx + "/Dockerfile", atomically: true, encoding: .utf8)
            let build = try runCommand(["docker", "build", "-q", "-t", "big", ctx],
                                       env: ["DOCKER_HOST": d.host, "DOCKER_BUILDKIT": "0", "DOCKER_CONFIG": d.dir + "/docker-config"])
            #expect(build.status == 0, "\(build.stderr)")
            var registry = try LoopbackRegistry(berthRegistryIn: d.dir, users: nil)
            let host = registry.host
            defer { registry.stop() }
            let uploads = d.dir + "/berth-registry"
            func uploadedBytes() -> Int64 {
                var total: Int64 = 0
                for f in filesUnder(uploads) {
                    if let size = (try? FileManager.default.attributesOfItem(atPath: uploads + "/" + f))?[.size] as? NSNumber { total += size.int64Value }
                }
                return total
            }
            /// Starts `docker push` and kills the registry once 8 MiB of the layer have arrived.
            func pushAndKill(_ ref: String) throws -> Process {
                #expect(try d.docker("tag", "big", ref).status == 0)
                let p = Process()
                p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                p.arguments = ["docker", "push", ref]
                p.environment = ProcessInfo.processInfo.environment.merging(["DOCKER_HOST": d.host, "DOCKER_CONFIG": d.dir + "/docker-config"]) { $1 }
                let log = d.dir + "/push-\(ref.split(separator: "/")[2].split(separator: ":")[0]).log"
                FileManager.default.createFile(atPath: log, contents: nil)
                p.standardOutput = FileHandle(forWritingAtPath: log)
                p.standardError = FileHandle(forWritingAtPath: log)
                let base = uploadedBytes()
                try p.run()
                var waited = 0
                while uploadedBytes() - base < 8 << 20, waited < 20_000 { usleep(1_000); waited += 1 }
                registry.stop()
                return p
            }
            // Kept down: the push fails (after its retries) and says why.
            let first = try pushAndKill("\(host)/big/one:1")
            first.waitUntilExitReliably()
            let firstLog = (try? String(contentsOfFile: d.dir + "/push-one.log", encoding: .utf8)) ?? ""
            #expect(first.terminationStatus == 1 && firstLog.contains("cannot be reached"), "\(firstLog)")
            registry = try LoopbackRegistry(berthRegistryIn: d.dir, users: nil, addr: host)
            let tags = try runCommand(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://\(host)/v2/big/one/manifests/1"])
            #expect(tags.stdout == "404", "a manifest is visible after a failed push")
            let layer = trimmed(try d.docker("image", "inspect", "-f", "{{index .RootFS.Layers 1}}", "big").stdout)
            let head = try runCommand(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-I", "http://\(host)/v2/big/one/blobs/\(layer)"])
            #expect(head.stdout == "404", "a partial blob is visible")

            // Restarted within the client's retries: the push goes on and completes.
            let second = try pushAndKill("\(host)/big/two:1")
            usleep(300_000)
            registry = try LoopbackRegistry(berthRegistryIn: d.dir, users: nil, addr: host)
            second.waitUntilExitReliably()
            #expect(second.terminationStatus == 0, "the push did not resume: \((try? String(contentsOfFile: d.dir + "/push-two.log", encoding: .utf8)) ?? ""); \(registry.diagnosis)")
            let check = try runCommand(["skopeo", "copy", "-q", "--src-tls-verify=false", "docker://\(host)/big/two:1", "oci:\(d.dir)/big:two"])
            #expect(check.status == 0, "\(check.stderr); \(registry.diagnosis)")
            try verifyStore(d.root)
        }
    }
}
