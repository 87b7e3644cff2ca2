import BerthTestSupport
import Foundation
import Testing

/// A registry on loopback for a test: Debian's docker-registry (distribution 2.8) with its
/// storage in the test's directory, or the fault-injecting fixture. Stopped by `stop()`.
final class LoopbackRegistry {
    let process: Process
    let port: Int
    let address: String
    var host: String { "\(address):\(port)" }
    /// berth-registry's stderr, when it is one.
    var logPath: String?
    /// Whether it runs, and what it wrote to stderr: for failure messages.
    var diagnosis: String {
        "registry running: \(process.isRunning)" + (process.isRunning ? "" : " (exit \(process.terminationStatus), \(process.terminationReason == .uncaughtSignal ? "signal" : "exit"))") +
            "; its log: " + (logPath.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? "")
    }

    /// distribution 2.8 on a free port of `address`.
    init(distributionIn dir: String, address: String = "127.0.0.1") throws {
        self.address = address
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var started: (Process, Int)?
        for attempt in 0..<10 where started == nil {
            let port = 20000 + Int.random(in: 0..<20000) + attempt
            let config = dir + "/registry.yml"
            try """
            version: 0.1
            log:
              level: error
            storage:
              filesystem:
                rootdirectory: \(dir)/registry-data
              delete:
                enabled: true
            http:
              addr: \(address):\(port)
            """.write(toFile: config, atomically: true, encoding: .utf8)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/docker-registry")
            p.arguments = ["serve", config]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            for _ in 0..<100 {
                if let r = try? runCommand(["curl", "-sf", "http://\(address):\(port)/v2/"]), r.status == 0 { started = (p, port); break }
                if !p.isRunning { break }
                usleep(50_000)
            }
            if started == nil, p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExitReliably() }
        }
        guard let (p, port) = started else { throw DaemonError("docker-registry did not start") }
        process = p
        self.port = port
    }

    /// Berth's own registry (`berth-registry serve`) on a free port, with Basic users and
    /// bearer tokens when `users` is given.
    /// `addr` restarts one on a known address (a restart after a kill); `extra` are more flags
    /// (TLS).
    init(berthRegistryIn dir: String, users: String?, addr: String = "127.0.0.1:0", extra: [String] = []) throws {
        address = String(addr[..<addr.lastIndex(of: ":")!])
        var args = ["serve", "--addr", addr, "--root", dir + "/berth-registry"] + extra
        if let users {
            try users.write(toFile: dir + "/users", atomically: true, encoding: .utf8)
            args += ["--auth-basic", dir + "/users", "--token-secret", "test-secret"]
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Paths.repo + "/.build/debug/berth-registry")
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        // Its stderr is kept (appended across restarts) for failure messages: `log`.
        logPath = dir + "/berth-registry.log"
        if !FileManager.default.fileExists(atPath: logPath!) { FileManager.default.createFile(atPath: logPath!, contents: nil) }
        let log = FileHandle(forWritingAtPath: logPath!)
        log?.seekToEndOfFile()
        p.standardError = log ?? FileHandle.nullDevice
        try p.run()
        let line = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        guard let port = line.split(separator: ":").last.flatMap({ Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) else {
            kill(p.processIdentifier, SIGKILL)
            throw DaemonError("berth-registry did not start: \(line)")
        }
        process = p
        self.port = port
    }

    /// The fault-injecting registry (Fixtures/fault_registry.py) serving the test image.
    init(faultsServing archive: String) throws {
        address = "127.0.0.1"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = [Paths.repo + "/Tests/IntegrationTests/Fixtures/fault_registry.py", archive]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let line = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        guard let port = Int(line.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            kill(p.processIdentifier, SIGKILL)
            throw DaemonError("fault registry did not start: \(line)")
        }
        process = p
        self.port = port
    }

    /// SIGKILL: children of Foundation's Process inherit a blocked signal mask here, so SIGTERM
    /// may never arrive.
    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExitReliably() }
    }

    /// Pushes the test image with skopeo (the OCI archive) as `repo:tag`.
    func pushTestImage(_ repoTag: String) throws {
        let r = try runCommand(["skopeo", "copy", "-q", "--dest-tls-verify=false", "oci-archive:" + Paths.testImage,
                                "docker://\(host)/\(repoTag)"])
        guard r.status == 0 else { throw DaemonError("skopeo push failed: \(r.stderr)") }
    }
}

/// Pulls through berthd with the real docker CLI and docker-py, from a real distribution 2.8
/// registry on loopback (filled by skopeo) and from a registry that corrupts or truncates blobs.
@Suite(.serialized)
struct RegistryPullTests {
    func trimmed(_ s: String) -> String { s.trimmingCharacters(in: .whitespacesAndNewlines) }

    static let testImageID = "sha256:7d80cc26767f"

    @Test func pullFromDistribution() throws {
        try withDaemon { d in
            let registry = try LoopbackRegistry(distributionIn: d.dir)
            defer { registry.stop() }
            try registry.pushTestImage("library/busybox:test")
            let ref = "\(registry.host)/library/busybox:test"
            let expectedDigest = trimmed(try runCommand(["skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}",
                                                         "docker://" + ref]).stdout)

            let pull = try d.docker("pull", ref)
            #expect(pull.status == 0, "\(pull.stdout) \(pull.stderr)")
            #expect(pull.stdout.contains("Pull complete"), "\(pull.stdout)")
            #expect(pull.stdout.contains("Digest: \(expectedDigest)"), "\(pull.stdout)")
            #expect(pull.stdout.contains("Status: Downloaded newer image for \(ref)"), "\(pull.stdout)")
            // The same image as `docker load` gives, with its repo digest.
            #expect(trimmed(try d.docker("image", "inspect", "-f", "{{.Id}}", ref).stdout).hasPrefix(Self.testImageID))
            #expect(trimmed(try d.docker("image", "inspect", "-f", "{{index .RepoDigests 0}}", ref).stdout)
                    == "\(registry.host)/library/busybox@\(expectedDigest)")
            #expect(try d.docker("run", "--rm", ref, "echo", "pulled").stdout == "pulled\n")

            let again = try d.docker("pull", ref)
            #expect(again.stdout.contains("Already exists") && again.stdout.contains("Image is up to date"), "\(again.stdout)")
            let byDigest = try d.docker("pull", "\(registry.host)/library/busybox@\(expectedDigest)")
            #expect(byDigest.status == 0, "\(byDigest.stderr)")

            // `docker run` of an absent image pulls it.
            try registry.pushTestImage("other/app:v2")
            let run = try d.docker("run", "--rm", "\(registry.host)/other/app:v2", "echo", "ran")
            #expect(run.status == 0 && run.stdout == "ran\n", "\(run.stdout) \(run.stderr)")
            #expect(run.stderr.contains("Unable to find image"), "\(run.stderr)")

            // A build whose base image is not here pulls it.
            try registry.pushTestImage("base/img:1")
            let ctx = d.dir + "/ctx"
            try FileManager.default.createDirectory(atPath: ctx, withIntermediateDirectories: true)
            try "FROM \(registry.host)/base/img:1\nRUN echo built > /b\n".write(toFile: ctx + "/Dockerfile", atomically: true, encoding: .utf8)
            let build = try runCommand(["docker", "build", "-q", "-t", "frompull", ctx],
                                       env: ["DOCKER_HOST": d.host, "DOCKER_BUILDKIT": "0", "DOCKER_CONFIG": d.dir + "/docker-config"])
            #expect(build.status == 0, "\(build.stdout) \(build.stderr)")
            #expect(try d.docker("run", "--rm", "frompull", "cat", "/b").stdout == "built\n")

            // berth pull.
            try registry.pushTestImage("cli/img:2")
            let bp = try d.berth("pull", "\(registry.host)/cli/img:2")
            #expect(bp.status == 0, "\(bp.stdout) \(bp.stderr)")
            #expect(bp.stdout.contains("Status: Downloaded newer image for \(registry.host)/cli/img:2"), "\(bp.stdout)")
            let bpMissing = try d.berth("pull", "\(registry.host)/cli/img:none")
            #expect(bpMissing.status == 1 && bpMissing.stderr.contains("not found"), "\(bpMissing.stderr)")

            // docker-py.
            try registry.pushTestImage("py/img:1")
            let py = try d.python("""
            import docker
            c = docker.from_env()
            img = c.images.pull("\(registry.host)/py/img", tag="1")
            print(img.id[:19], img.tags)
            try:
                c.images.pull("\(registry.host)/py/img", tag="missing")
            except docker.errors.NotFound as e:
                print("not found:", e.explanation)
            """)
            #expect(py.status == 0, "\(py.stderr)")
            #expect(py.stdout.contains(Self.testImageID) && py.stdout.contains("'\(registry.host)/py/img:1'"), "\(py.stdout)")
            #expect(py.stdout.contains("not found: manifest for \(registry.host)/py/img:missing not found"), "\(py.stdout)")

            // Unknown repositories and tags: Docker's error, exit 1, nothing recorded.
            let missing = try d.docker("pull", "\(registry.host)/nosuch/repo:1")
            #expect(missing.status == 1, "\(missing.stdout)")
            #expect(missing.stderr.contains("manifest for \(registry.host)/nosuch/repo:1 not found"), "\(missing.stderr)")
            let invalid = try d.docker("pull", "\(registry.host)/UPPER:1")
            #expect(invalid.status != 0)
            try verifyStore(d.root)
        }
    }

    @Test func multiPlatformIndexPullsAmd64() throws {
        try withDaemon { d in
            let registry = try LoopbackRegistry(distributionIn: d.dir)
            defer { registry.stop() }
            // An OCI layout whose index lists an arm64 image (its own config and layer) before the
            // amd64 busybox image; skopeo pushes the whole index.
            let layout = d.dir + "/multi"
            let script = """
            import hashlib, io, json, os, sys, tarfile
            src, out = sys.argv[1], sys.argv[2]
            os.makedirs(out + "/blobs/sha256", exist_ok=True)
            t = tarfile.open(src)
            for m in t.getmembers():
                if m.isfile() and m.name.startswith("blobs/sha256/"):
                    open(out + "/" + m.name, "wb").write(t.extractfile(m).read())
            amd = json.loads(t.extractfile("index.json").read())["manifests"][0]
            amd["platform"] = {"architecture": "amd64", "os": "linux"}
            def put(data):
                d = hashlib.sha256(data).hexdigest()
                open(f"{out}/blobs/sha256/{d}", "wb").write(data)
                return "sha256:" + d, len(data)
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as lt:
                info = tarfile.TarInfo("arm-marker"); payload = b"arm64"; info.size = len(payload)
                lt.addfile(info, io.BytesIO(payload))
            layer = buf.getvalue()
            ld, ls = put(layer)
            cfg = json.dumps({"architecture": "arm64", "os": "linux", "config": {}, "rootfs": {"type": "layers", "diff_ids": [ld]}}).encode()
            cd, cs = put(cfg)
            man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                              "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
                              "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": ls}]}).encode()
            md, ms = put(man)
            arm = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
                   "platform": {"architecture": "arm64", "os": "linux"}}
            idx = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [arm, amd]}
            json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json",
                       "digest": put(json.dumps(idx).encode())[0], "size": len(json.dumps(idx).encode()),
                       "annotations": {"org.opencontainers.image.ref.name": "multi"}}]}, open(out + "/index.json", "w"))
            open(out + "/oci-layout", "w").write('{"imageLayoutVersion": "1.0.0"}')
            """
            let gen = try runCommand(["python3", "-c", script, Paths.testImage, layout])
            #expect(gen.status == 0, "\(gen.stderr)")
            let push = try runCommand(["skopeo", "copy", "-q", "--all", "--dest-tls-verify=false", "oci:\(layout):multi",
                                       "docker://\(registry.host)/multi/arch:1"])
            #expect(push.status == 0, "\(push.stderr)")
            let pull = try d.docker("pull", "\(registry.host)/multi/arch:1")
            #expect(pull.status == 0, "\(pull.stdout) \(pull.stderr)")
            #expect(trimmed(try d.docker("image", "inspect", "-f", "{{.Id}} {{.Architecture}}", "\(registry.host)/multi/arch:1").stdout)
                        .hasPrefix(Self.testImageID), "the amd64 image was not the one pulled")
            // The repo digest is the index's.
            let indexDigest = trimmed(try runCommand(["skopeo", "inspect", "--raw", "--tls-verify=false",
                                                      "docker://\(registry.host)/multi/arch:1"]).stdout)
            #expect(indexDigest.contains("arm64"), "the registry does not hold the index")
            #expect(try d.docker("run", "--rm", "\(registry.host)/multi/arch:1", "uname", "-m").stdout == "x86_64\n")
        }
    }

    @Test func corruptAndTruncatedBlobs() throws {
        try withDaemon { d in
            let registry = try LoopbackRegistry(faultsServing: Paths.testImage)
            defer { registry.stop() }
            // A blob that does not match its digest: refused, nothing recorded or left.
            let bad = try d.docker("pull", "\(registry.host)/corrupt/img:1")
            #expect(bad.status == 1, "\(bad.stdout)")
            #expect(bad.stderr.contains("digest"), "\(bad.stderr)")
            #expect(try d.docker("images", "-aq").stdout == "")
            try verifyStore(d.root)
            // A download cut in half: resumed with a range request.
            let flaky = try d.docker("pull", "\(registry.host)/flaky/img:1")
            #expect(flaky.status == 0, "\(flaky.stdout) \(flaky.stderr)")
            #expect(try d.docker("run", "--rm", "\(registry.host)/flaky/img:1", "echo", "whole").stdout == "whole\n")
            let good = try d.docker("pull", "\(registry.host)/good/img:1")
            #expect(good.status == 0 && good.stdout.contains("Already exists"), "\(good.stdout)")
            try verifyStore(d.root)
        }
    }

    @Test func loginAndTokenAuthAgainstBerthRegistry() throws {
        try withDaemon { d in
            let registry = try LoopbackRegistry(berthRegistryIn: d.dir, users: "alice:wonderland\n")
            defer { registry.stop() }
            let push = try runCommand(["skopeo", "copy", "-q", "--dest-tls-verify=false", "--dest-creds", "alice:wonderland",
                                       "oci-archive:" + Paths.testImage, "docker://\(registry.host)/team/app:1"])
            #expect(push.status == 0, "\(push.stderr)")
            let ref = "\(registry.host)/team/app:1"
            // Anonymous: refused, Docker's words.
            let anonymous = try d.docker("pull", ref)
            #expect(anonymous.status == 1 && anonymous.stderr.contains("pull access denied"), "\(anonymous.stderr)")
            // A wrong password: 401 and a clear message.
            let wrong = try d.docker("login", "-u", "alice", "--password-stdin", registry.host, stdin: Data("nope\n".utf8))
            #expect(wrong.status == 1, "\(wrong.stdout)")
            #expect(wrong.stderr.contains("401 Unauthorized"), "\(wrong.stderr)")
            let login = try d.docker("login", "-u", "alice", "--password-stdin", registry.host, stdin: Data("wonderland\n".utf8))
            #expect(login.status == 0 && login.stdout.contains("Login Succeeded"), "\(login.stdout) \(login.stderr)")
            // The CLI now sends the credentials; the pull goes through the token flow.
            let pull = try d.docker("pull", ref)
            #expect(pull.status == 0, "\(pull.stdout) \(pull.stderr)")
            #expect(try d.docker("run", "--rm", ref, "echo", "authorized").stdout == "authorized\n")
            try verifyStore(d.root)
        }
    }

    /// `--registry-mirror`: Docker Hub names resolve on the mirror first; `--insecure-registry`:
    /// a registry on a non-loopback address is spoken to over plain HTTP only when configured.
    @Test func mirrorsAndInsecureRegistries() throws {
        let hostIP = trimmed(try runCommand(["sh", "-c", "ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -1"]).stdout)
        let d = try TestDaemon()
        defer { d.cleanup() }
        let mirror = try LoopbackRegistry(distributionIn: d.dir + "/m")
        defer { mirror.stop() }
        try mirror.pushTestImage("library/busybox:mirrored")
        var remote: LoopbackRegistry?
        defer { remote?.stop() }
        d.extraArgs = ["--registry-mirror", "http://\(mirror.host)"]
        if !hostIP.isEmpty {
            remote = try LoopbackRegistry(distributionIn: d.dir + "/r", address: hostIP)
            try remote?.pushTestImage("team/app:1")
            d.extraArgs += ["--insecure-registry", remote?.host ?? ""]
        }
        try d.start()
        let pull = try d.docker("pull", "busybox:mirrored")
        #expect(pull.status == 0, "\(pull.stdout) \(pull.stderr)")
        #expect(pull.stdout.contains("Status: Downloaded newer image for busybox:mirrored"), "\(pull.stdout)")
        #expect(try d.docker("run", "--rm", "busybox:mirrored", "echo", "via mirror").stdout == "via mirror\n")
        #expect(trimmed(try d.docker("info", "-f", "{{json .RegistryConfig.Mirrors}}").stdout) == "[\"http://\(mirror.host)/\"]")
        if let remote {
            let r = try d.docker("pull", "\(remote.host)/team/app:1")
            #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
            // Without the flag the same registry is spoken to over HTTPS, which it does not serve.
            d.stop()
            d.extraArgs = []
            try d.start()
            let https = try d.docker("pull", "\(remote.host)/team/app:2")
            #expect(https.status == 1 && https.stderr.contains("https://\(remote.host)"), "\(https.stderr)")
        }
        // A bad mirror URL is refused at start.
        d.stop()
        d.extraArgs = ["--registry-mirror", "\(mirror.host)"]
        #expect(throws: DaemonError.self) { try d.start() }
        #expect(d.daemonLog.contains("invalid registry mirror"))
    }
}
