import BerthTestSupport
import Foundation
import Testing

/// `berth` against a real berthd on a temp root: every command's output format and exit code.
@Suite(.serialized)
struct CLITests {
    static let busybox = "busybox:test"

    @Test func versionInfoAndDiskUsage() throws {
        try withCLIDaemon { d in
            let v = try berthOK(d, ["version"])
            #expect(v.stdout.hasPrefix("Client:\n"))
            #expect(v.stdout.contains("\nServer: Berth Engine\n"))
            #expect(v.stdout.contains(" Engine:\n"))
            #expect(v.stdout.contains("API version:       1.51"))
            #expect(v.stdout.contains("(minimum version 1.24)"))
            let vj = try berthOK(d, ["version", "--format", "json"])
            let vobj = try #require(try parseJSON(vj.stdout) as? [String: Any])
            #expect((vobj["Server"] as? [String: Any])?["ApiVersion"] as? String == "1.51")

            let info = try berthOK(d, ["info"])
            for needle in ["Containers: 0", "Images: 0", "Server Version: ", "Storage Driver: overlay2", "Cgroup Version: ",
                           "Kernel Version: ", "Operating System: ", "CPUs: ", "Total Memory: ", "Docker Root Dir: \(d.root)"] {
                #expect(info.stdout.contains(needle), "info lacks \(needle): \(info.stdout)")
            }
            let root = try berthOK(d, ["info", "--format", "{{.DockerRootDir}}"])
            #expect(root.stdout == d.root + "\n")

            try berthOK(d, ["load", "-i", CLIPaths.testImage])
            let df = try berthOK(d, ["system", "df"])
            let lines = df.lines
            #expect(lines.count == 5)
            #expect(lines.first?.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") == "TYPE TOTAL ACTIVE SIZE RECLAIMABLE")
            #expect(lines.count > 1 && lines[1].hasPrefix("Images "))
            #expect(lines.count > 1 && lines[1].contains("(100%)"))
            let dfj = try berthOK(d, ["system", "df", "--format", "json"])
            #expect(dfj.lines.count == 4)
            let first = try #require(try parseJSON(dfj.lines[0]) as? [String: Any])
            #expect(first["Type"] as? String == "Images")
            #expect(first["TotalCount"] as? String == "1")
        }
    }

    @Test func loadListInspectHistoryTagRemove() throws {
        try withCLIDaemon { d in
            let load = try berthOK(d, ["load", "-i", CLIPaths.testImage])
            #expect(load.stdout.contains("Loaded image: \(Self.busybox)"), "load: \(load.stdout)")

            // Table: header and one row, columns aligned as docker's tabwriter does.
            let table = try berthOK(d, ["images"]).lines
            #expect(table.count == 2)
            let header = try #require(table.first)
            #expect(header.hasPrefix("REPOSITORY   TAG       IMAGE ID       CREATED"))
            #expect(header.hasSuffix("SIZE"))
            let row = table.count > 1 ? table[1].split(separator: " ", omittingEmptySubsequences: true).map(String.init) : []
            #expect(row.first == "busybox")
            #expect(row.count > 1 && row[1] == "test")
            #expect(row.count > 2 && row[2].count == 12)
            #expect(table.count > 1 && table[1].contains(" years ago "))

            let quiet = try berthOK(d, ["images", "-q"]).lines
            #expect(quiet.count == 1)
            let shortID = try #require(quiet.first)
            #expect(shortID.count == 12 && shortID.allSatisfy(\.isHexDigit))

            let json = try berthOK(d, ["image", "ls", "--format", "json"]).lines
            #expect(json.count == 1)
            let obj = try #require(try parseJSON(json.first ?? "") as? [String: Any])
            #expect(obj["Repository"] as? String == "busybox")
            #expect(obj["Tag"] as? String == "test")
            #expect(obj["ID"] as? String == shortID)

            // Inspect: a pretty array of the server's JSON; --format with a field path.
            let inspect = try berthOK(d, ["image", "inspect", Self.busybox])
            #expect(inspect.stdout.hasPrefix("[\n    {\n        \"Id\": \"sha256:"))
            let arr = try #require(try parseJSON(inspect.stdout) as? [[String: Any]])
            #expect(arr.count == 1)
            let id = try #require(arr.first?["Id"] as? String)
            #expect(id.hasPrefix("sha256:" + shortID))
            #expect(try berthOK(d, ["image", "inspect", "--format", "{{.Id}}", Self.busybox]).stdout == id + "\n")
            #expect(try berthOK(d, ["inspect", "-f", "{{json .RepoTags}}", Self.busybox]).stdout == "[\"busybox:test\"]\n")
            let full = try berthOK(d, ["images", "--no-trunc", "-q"]).lines
            #expect(full == [id])

            let history = try berthOK(d, ["image", "history", Self.busybox]).lines
            #expect(history.count == 2)
            #expect(history.first?.hasPrefix("IMAGE          CREATED        CREATED BY") == true)
            #expect(history.first?.contains("COMMENT") == true)
            #expect(history.count > 1 && history[1].hasPrefix(shortID))
            #expect(history.count > 1 && history[1].contains("scripts/make-test-image"))
            #expect(try berthOK(d, ["history", "-q", Self.busybox]).lines == [shortID])
            let hj = try berthOK(d, ["history", "--format", "json", Self.busybox]).lines
            #expect(hj.count == 1)
            let hobj = try #require(try parseJSON(hj.first ?? "") as? [String: Any])
            #expect((hobj["CreatedBy"] as? String)?.hasPrefix("scripts/make-test-image") == true)

            // Tag, then untag and delete.
            try berthOK(d, ["image", "tag", Self.busybox, "mine/box:v1"])
            try berthOK(d, ["tag", Self.busybox, "other"])
            let tagged = try berthOK(d, ["images", "--format", "{{.Repository}}:{{.Tag}}"]).lines.sorted()
            #expect(tagged == ["busybox:test", "mine/box:v1", "other:latest"])

            let rm1 = try berthOK(d, ["rmi", "mine/box:v1", "other"])
            #expect(rm1.lines == ["Untagged: mine/box:v1", "Untagged: other:latest"])
            let rm2 = try berthOK(d, ["image", "rm", Self.busybox])
            #expect(rm2.lines.first == "Untagged: \(Self.busybox)")
            #expect(rm2.lines.contains("Deleted: \(id)"))
            #expect(try berthOK(d, ["images", "-q"]).stdout.isEmpty)
        }
    }

    @Test func saveThenLoadIntoAnotherDaemon() throws {
        let out = NSTemporaryDirectory() + "berth-cli-save-" + UUID().uuidString.prefix(8) + ".tar"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let id = try withCLIDaemon { d -> String in
            try berthOK(d, ["load", "-q", "-i", CLIPaths.testImage])
            try berthOK(d, ["save", "-o", out, Self.busybox])
            #expect(FileManager.default.fileExists(atPath: out))
            #expect(!FileManager.default.fileExists(atPath: out + ".tmp"))
            // A failed save leaves nothing behind.
            let bad = out + ".bad"
            let failed = try d.berth(["image", "save", "-o", bad, "nosuch:image"])
            #expect(failed.status == 1)
            #expect(failed.stderr.hasPrefix("Error response from daemon: "))
            #expect(!FileManager.default.fileExists(atPath: bad))
            #expect(!FileManager.default.fileExists(atPath: bad + ".tmp"))
            return try berthOK(d, ["image", "inspect", "-f", "{{.Id}}", Self.busybox]).stdout
        }
        try withCLIDaemon { d in
            // Through stdin this time.
            let load = try berthOK(d, ["image", "load"], stdinFile: out)
            #expect(load.stdout.contains("Loaded image: \(Self.busybox)"))
            #expect(try berthOK(d, ["image", "inspect", "-f", "{{.Id}}", Self.busybox]).stdout == id)
        }
    }

    @Test func importWithChanges() throws {
        try withCLIDaemon { d in
            let tarball = d.dir + "/rootfs.tar"
            let tar = Process()
            tar.executableURL = URL(fileURLWithPath: "/bin/tar")
            tar.arguments = ["-C", CLIPaths.packageRoot + "/.build/test-image/rootfs", "-cf", tarball, "."]
            try tar.run()
            tar.waitUntilExitReliably()
            try #require(tar.terminationStatus == 0)

            let r = try berthOK(d, ["import", "--change", "CMD [\"/bin/sh\", \"-c\", \"echo hi\"]", "-c", "ENV A=b",
                                    "-m", "imported by a test", tarball, "imported:v1"])
            let id = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(id.hasPrefix("sha256:") && id.count == 71, "import printed \(r.stdout)")
            #expect(try berthOK(d, ["image", "inspect", "-f", "{{.Id}}", "imported:v1"]).stdout == id + "\n")
            #expect(try berthOK(d, ["image", "inspect", "-f", "{{json .Config.Cmd}}", "imported:v1"]).stdout
                    == "[\"/bin/sh\",\"-c\",\"echo hi\"]\n")
            let env = try berthOK(d, ["image", "inspect", "-f", "{{json .Config.Env}}", "imported:v1"]).stdout
            #expect(env.contains("\"A=b\""))
            let history = try berthOK(d, ["image", "history", "--format", "{{.Comment}}", "imported:v1"]).stdout
            #expect(history.contains("imported by a test"))

            // From stdin, untagged.
            let r2 = try berthOK(d, ["image", "import", "-"], stdinFile: tarball)
            #expect(r2.stdout.hasPrefix("sha256:"))
        }
    }

    @Test func pruneAll() throws {
        try withCLIDaemon { d in
            try berthOK(d, ["load", "-i", CLIPaths.testImage])
            let id = try berthOK(d, ["image", "inspect", "-f", "{{.Id}}", Self.busybox]).stdout.trimmingCharacters(in: .newlines)
            // Nothing dangling: nothing removed.
            let none = try berthOK(d, ["image", "prune", "-f"])
            #expect(none.stdout == "Total reclaimed space: 0B\n")
            // Without -f, answering no removes nothing.
            let answer = d.dir + "/no"
            try "n\n".write(toFile: answer, atomically: true, encoding: .utf8)
            let declined = try berthOK(d, ["image", "prune", "-a"], stdinFile: answer)
            #expect(declined.stdout.hasPrefix("WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue? [y/N] "))
            #expect(try berthOK(d, ["images", "-q"]).lines.count == 1)

            let pruned = try berthOK(d, ["image", "prune", "-a", "-f"])
            let lines = pruned.lines
            #expect(lines.first == "Deleted Images:")
            #expect(lines.contains("untagged: \(Self.busybox)"))
            #expect(lines.contains("deleted: \(id)"))
            #expect(lines.last?.hasPrefix("Total reclaimed space: ") == true)
            #expect(lines.last != "Total reclaimed space: 0B")
            #expect(try berthOK(d, ["images", "-q", "-a"]).stdout.isEmpty)
        }
    }

    @Test func eventsSinceUntil() throws {
        try withCLIDaemon { d in
            try berthOK(d, ["load", "-i", CLIPaths.testImage])
            try berthOK(d, ["tag", Self.busybox, "evt:1"])
            let until = String(Int(Date().timeIntervalSince1970) + 1)
            let text = try berthOK(d, ["events", "--since", "0", "--until", until])
            let lines = text.lines
            let load = lines.first { $0.contains(" image load sha256:") }
            #expect(load != nil, "events: \(text.stdout)")
            if let load {
                // 2024-05-01T12:00:00.123456789Z image load sha256:… (name=busybox:test)
                let stamp = load.prefix(while: { $0 != " " })
                #expect(stamp.count == 30 && stamp.hasSuffix("Z") && stamp.dropFirst(19).hasPrefix("."))
                #expect(load.hasSuffix("(name=\(Self.busybox))"))
            }
            #expect(lines.contains { $0.contains(" image tag sha256:") && $0.hasSuffix("(name=evt:1)") })

            let json = try berthOK(d, ["system", "events", "--since", "0", "--until", until, "--filter", "event=tag", "--format", "json"]).lines
            #expect(json.count == 1)
            let e = try #require(try parseJSON(json.first ?? "") as? [String: Any])
            #expect(e["Type"] as? String == "image")
            #expect(e["Action"] as? String == "tag")
            #expect((e["Actor"] as? [String: Any])?["Attributes"] as? [String: String] == ["name": "evt:1"])
            let tmpl = try berthOK(d, ["events", "--since", "0", "--until", until, "-f", "type=image", "-f", "event=load",
                                       "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}"])
            #expect(tmpl.lines == ["image load busybox:test"])
        }
    }

    @Test func errors() throws {
        // No daemon behind the socket.
        let missing = NSTemporaryDirectory() + "berth-cli-none-" + UUID().uuidString.prefix(8) + ".sock"
        let down = try runBerth(["-H", "unix://" + missing, "images"])
        #expect(down.status == 1)
        #expect(down.stderr == "Cannot connect to the Berth daemon at unix://\(missing). Is berthd running?\n")
        // BERTH_HOST is honoured too.
        let envDown = try runBerth(["info"], env: ["BERTH_HOST": "unix://" + missing])
        #expect(envDown.status == 1)
        #expect(envDown.stderr.contains("Cannot connect to the Berth daemon at unix://\(missing)"))

        // Help goes to stdout with status 0, also for a command group without a subcommand.
        let help = try runBerth(["--help"])
        #expect(help.status == 0 && help.stdout.contains("USAGE: berth"))
        let group = try runBerth(["image"])
        #expect(group.status == 0 && group.stdout.contains("SUBCOMMANDS:"))

        try withCLIDaemon { d in
            let inspect = try d.berth(["image", "inspect", "nosuch"])
            #expect(inspect.status == 1)
            #expect(inspect.stdout == "[]\n")
            #expect(inspect.stderr.hasPrefix("Error response from daemon: "))
            #expect(inspect.stderr.lowercased().contains("no such image"))
            #expect(inspect.stderr.contains("nosuch"))

            // rmi goes on after an error and exits 1 at the end.
            try berthOK(d, ["load", "-q", "-i", CLIPaths.testImage])
            try berthOK(d, ["tag", Self.busybox, "keep:1"])
            let rmi = try d.berth(["rmi", "nosuch", "keep:1"])
            #expect(rmi.status == 1)
            #expect(rmi.stdout == "Untagged: keep:1\n")
            #expect(rmi.stderr.hasPrefix("Error response from daemon: "))

            let history = try d.berth(["history", "nosuch"])
            #expect(history.status == 1)
            #expect(history.stderr.hasPrefix("Error response from daemon: "))

            // A corrupt archive: the stream's error is printed, exit 1.
            let junk = d.dir + "/junk.tar"
            try Data(repeating: 0x41, count: 4096).write(to: URL(fileURLWithPath: junk))
            let bad = try d.berth(["load", "-i", junk])
            #expect(bad.status == 1)
            #expect(!bad.stderr.isEmpty)

            // Usage errors exit 125 like docker.
            let usage = try d.berth(["images", "--bogus"])
            #expect(usage.status == 125)
            let badFilter = try d.berth(["images", "--filter", "nonsense"])
            #expect(badFilter.status == 1)
            #expect(badFilter.stderr == "bad format of filter (expected name=value)\n")
        }
    }
}
