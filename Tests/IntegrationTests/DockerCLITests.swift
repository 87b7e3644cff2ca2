import Foundation
import Testing

/// The real docker CLI and docker-py against a real berthd. Serialized: each test owns a daemon,
/// and the machine has two cores.
@Suite(.serialized)
struct DockerCLITests {
    static let busyboxID = "sha256:7d80cc26767f200fd5aa2f89042678f0990684e46d075fb0053ce146189b2228"

    @Test func versionInfoAndPing() throws {
        try withDaemon { d in
            let v = try d.docker("version", "--format", "{{.Server.APIVersion}} {{.Server.MinAPIVersion}} {{.Server.Os}}")
            #expect(v.status == 0, "\(v.stderr)")
            #expect(v.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1.51 1.24 linux")
            let i = try d.docker("info", "--format", "{{.Driver}} {{.DockerRootDir}} {{.OSType}} {{.Images}}")
            #expect(i.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "overlay2 \(d.root) linux 0")
            let head = try runCommand(["curl", "-sI", "--unix-socket", d.socket, "http://x/_ping"])
            #expect(head.stdout.contains("Api-Version: 1.51"))
            #expect(head.stdout.contains("Ostype: linux"))
            #expect(head.stdout.contains("Builder-Version: 1"))
            // Versioned and unversioned paths; too new and too old versions.
            let old = try runCommand(["curl", "-s", "--unix-socket", d.socket, "http://x/v1.24/version"])
            #expect(old.stdout.contains("\"ApiVersion\":\"1.51\""))
            let tooNew = try runCommand(["curl", "-s", "-w", "%{http_code}", "--unix-socket", d.socket, "http://x/v1.99/version"])
            #expect(tooNew.stdout.contains("client version 1.99 is too new. Maximum supported API version is 1.51"))
            #expect(tooNew.stdout.hasSuffix("400"))
            let tooOld = try runCommand(["curl", "-s", "-w", "%{http_code}", "--unix-socket", d.socket, "http://x/v1.12/info"])
            #expect(tooOld.stdout.contains("is too old. Minimum supported API version is 1.24"))
            let unknown = try runCommand(["curl", "-s", "-w", "%{http_code}", "--unix-socket", d.socket, "http://x/v1.51/nope/nope"])
            #expect(unknown.stdout == "{\"message\":\"page not found\"}\n404")
            let badFilter = try runCommand(["curl", "-s", "-w", "%{http_code}", "--unix-socket", d.socket,
                                            "http://x/images/json?filters=%7Bnot-json"])
            #expect(badFilter.stdout.hasPrefix("{\"message\":\"invalid filter"))
            #expect(badFilter.stdout.hasSuffix("400"))
            let unknownFilter = try runCommand(["curl", "-s", "-w", "%{http_code}", "--unix-socket", d.socket,
                                                "http://x/images/json?filters=%7B%22color%22%3A%5B%22red%22%5D%7D"])
            #expect(unknownFilter.stdout.contains("invalid filter 'color'"))
        }
    }

    @Test func loadListInspectHistoryTagRemove() throws {
        try withDaemon { d in
            let load = try d.docker("load", "-i", Paths.testImage)
            #expect(load.status == 0, "\(load.stderr)")
            #expect(load.stdout.contains("Loaded image: busybox:test"))
            let images = try d.docker("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
            #expect(images.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "busybox:test 7d80cc26767f")
            let inspect = try d.docker("image", "inspect", "busybox:test", "--format", "{{.Id}} {{.Os}} {{json .Config.Cmd}} {{len .RootFS.Layers}}")
            #expect(inspect.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "\(Self.busyboxID) linux [\"sh\"] 1")
            let history = try d.docker("history", "--no-trunc", "--format", "{{.ID}} {{.CreatedBy}}", "busybox:test")
            #expect(history.stdout.hasPrefix(Self.busyboxID))
            #expect(history.stdout.contains("make-test-image"))

            #expect(try d.docker("tag", "busybox:test", "localhost:5000/team/app:v1").status == 0)
            let tagged = try d.docker("images", "--format", "{{.Repository}}:{{.Tag}}")
            #expect(Set(tagged.stdout.split(separator: "\n").map(String.init)) == ["busybox:test", "localhost:5000/team/app:v1"])
            let refFilter = try d.docker("images", "--filter", "reference=busybox", "-q")
            #expect(refFilter.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "7d80cc26767f")
            // By ID with two repositories: conflict, as Docker.
            let conflict = try d.docker("rmi", "7d80cc26767f")
            #expect(conflict.status != 0)
            #expect(conflict.stderr.contains("image is referenced in multiple repositories"))
            // By name: untag only.
            let untag = try d.docker("rmi", "localhost:5000/team/app:v1")
            #expect(untag.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "Untagged: localhost:5000/team/app:v1")
            let missing = try d.docker("rmi", "nosuch:image")
            #expect(missing.status == 1)
            #expect(missing.stderr.contains("No such image: nosuch:image"))
            let badTag = try d.docker("tag", "busybox:test", "bad//name")
            #expect(badTag.status != 0)
            // Last reference: the image and its layer go.
            let rm = try d.docker("rmi", "busybox:test")
            #expect(rm.stdout.contains("Untagged: busybox:test"))
            #expect(rm.stdout.contains("Deleted: \(Self.busyboxID)"))
            #expect(try d.docker("images", "-q").stdout.isEmpty)
            let leftover = filesUnder(d.root + "/image/snapshots").filter { !$0.hasPrefix(".tmp") }
            #expect(leftover.isEmpty, "\(leftover.count) files left in snapshots, first: \(leftover.prefix(3))")
            try verifyStore(d.root)
        }
    }

    @Test func saveLoadRoundTripAndImportAndPrune() throws {
        try withDaemon { d in
            #expect(try d.docker("load", "-i", Paths.testImage).status == 0)
            let out = d.dir + "/saved.tar"
            let save = try d.docker("save", "-o", out, "busybox:test")
            #expect(save.status == 0, "\(save.stderr)")
            let listing = try runCommand(["tar", "tf", out]).stdout
            for f in ["manifest.json", "index.json", "oci-layout", "repositories"] { #expect(listing.contains(f)) }
            // skopeo reads both views of the archive.
            if (try? runCommand(["skopeo", "--version"]))?.status == 0 {
                let a = try runCommand(["skopeo", "inspect", "--config", "docker-archive:" + out])
                #expect(a.status == 0, "\(a.stderr)")
                let b = try runCommand(["skopeo", "inspect", "oci-archive:" + out + ":test"])
                #expect(b.status == 0, "\(b.stderr)")
                // An OCI archive written by skopeo (gzip layers) loads with the same ID.
                let oci = d.dir + "/skopeo-oci.tar"
                let copy = try runCommand(["skopeo", "copy", "--dest-compress", "docker-archive:" + out, "oci-archive:" + oci + ":busybox:oci"])
                #expect(copy.status == 0, "\(copy.stderr)")
                let l = try d.docker("load", "-i", oci)
                #expect(l.status == 0, "\(l.stderr)")
                // skopeo rewrites the config when converting (so the ID differs); the layer is the same.
                let layers = try d.docker("image", "inspect", "busybox:oci", "busybox:test", "--format", "{{json .RootFS.Layers}}")
                let rows = layers.stdout.split(separator: "\n")
                #expect(rows.count == 2 && rows[0] == rows[1], "\(layers.stdout) \(layers.stderr)")
                #expect(try d.docker("rmi", "busybox:oci").status == 0)
            }
            #expect(try d.docker("rmi", "busybox:test").status == 0)
            let reload = try d.docker("load", "-i", out)
            #expect(reload.stdout.contains("Loaded image: busybox:test"), "\(reload.stderr)")
            #expect(try d.docker("images", "-q", "--no-trunc").stdout.contains(Self.busyboxID))

            // Import the rootfs with changes.
            let tar = d.dir + "/rootfs.tar"
            #expect(try runCommand(["tar", "-C", Paths.testRootfs, "-czf", tar, "."]).status == 0)
            let imp = try d.docker("import", "-c", "CMD [\"/bin/echo\", \"hi\"]", "-c", "ENV FOO=bar", "-c", "LABEL team=core",
                                   "-m", "from a test", tar, "imported:1")
            #expect(imp.status == 0, "\(imp.stderr)")
            let id = imp.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(id.hasPrefix("sha256:"))
            let cfg = try d.docker("image", "inspect", "imported:1", "--format", "{{json .Config.Cmd}} {{json .Config.Env}} {{.Config.Labels.team}} {{.Comment}}")
            #expect(cfg.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[\"/bin/echo\",\"hi\"] [\"FOO=bar\"] core from a test")
            let badChange = try d.docker("import", "-c", "RUN true", tar)
            #expect(badChange.status != 0)
            #expect(badChange.stderr.contains("RUN is not a valid change command"))

            // Dangling prune keeps tagged images; prune -a removes the unused ones.
            #expect(try d.docker("image", "prune", "-f").status == 0)
            #expect(try d.docker("images", "-q").stdout.split(separator: "\n").count == 2)
            let df = try d.docker("system", "df", "--format", "{{.Type}} {{.TotalCount}}")
            #expect(df.stdout.contains("Images 2"))
            let pruneAll = try d.docker("image", "prune", "-a", "-f")
            #expect(pruneAll.stdout.contains("deleted: \(id)"))
            #expect(pruneAll.stdout.contains("Total reclaimed space"))
            #expect(try d.docker("images", "-q").stdout.isEmpty)
            try verifyStore(d.root)

            // Events replay with since/until (the CLI sends whole seconds: wait for this one to pass).
            usleep(1_100_000)
            let events = try d.docker("events", "--since", "10m", "--until", "0s", "--format", "{{.Type}} {{.Action}}")
            let lines = events.stdout.split(separator: "\n").map(String.init)
            for want in ["image load", "image save", "image untag", "image delete", "image import", "image prune"] {
                #expect(lines.contains(want), "missing event \(want) in \(lines)")
            }
            let filtered = try d.docker("events", "--since", "10m", "--until", "0s", "--filter", "event=import", "--format", "{{.Action}}")
            #expect(filtered.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "import")
        }
    }

    @Test func dockerPy() throws {
        guard (try? runCommand(["python3", "-c", "import docker"]))?.status == 0 else {
            Issue.record("docker-py is not installed")
            return
        }
        try withDaemon { d in
            let r = try d.python("""
            import docker, sys
            c = docker.from_env()
            v = c.version()
            assert v["ApiVersion"] == "1.51", v
            with open("\(Paths.testImage)", "rb") as f:
                imgs = c.images.load(f.read())
            assert [i.tags for i in imgs] == [["busybox:test"]], imgs
            assert [i.id for i in c.images.list()] == ["\(Self.busyboxID)"]
            img = c.images.get("busybox:test")
            assert img.attrs["Config"]["Cmd"] == ["sh"]
            img.tag("py/copy", "v2")
            assert sorted(c.images.get(img.id).tags) == ["busybox:test", "py/copy:v2"]
            data = b"".join(img.save(named="busybox:test"))
            assert len(data) > 1000000
            c.images.remove("py/copy:v2")
            c.images.remove("busybox:test")
            assert c.images.list() == []
            try:
                c.images.get("busybox:test")
                sys.exit("expected ImageNotFound")
            except docker.errors.ImageNotFound:
                pass
            imgs = c.images.load(data)
            assert imgs[0].id == "\(Self.busyboxID)"
            print("ok")
            """)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("ok"))
        }
    }
}
