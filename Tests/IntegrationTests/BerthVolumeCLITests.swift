import Foundation
import Testing

/// The `volume` commands of our own `berth` CLI (and the volumes of `system df`) against a real
/// berthd: output and exit codes as docker's.
@Suite(.serialized)
struct BerthVolumeCLITests {
    func trimmed(_ s: String) -> String { s.trimmingCharacters(in: .whitespacesAndNewlines) }

    func lines(_ s: String) -> [String] { s.split(separator: "\n").map(String.init) }

    /// The volume names `volume ls -q` prints.
    func names(_ d: TestDaemon, _ filters: String...) throws -> Set<String> {
        var args = ["volume", "ls", "-q"]
        for f in filters { args += ["--filter", f] }
        let r = try runCommand([Paths.berth, "-H", d.host] + args)
        #expect(r.status == 0, "\(r.stderr)")
        return Set(lines(r.stdout))
    }

    @Test func createListInspectUseRemovePrune() throws {
        try withDaemon { d in
            #expect(try d.berth("load", "-i", Paths.testImage).status == 0)

            // create: prints the name; a second create of the same name is not an error.
            let created = try d.berth("volume", "create", "--label", "team=db", "--label", "tier", "data")
            #expect(created.status == 0, "\(created.stderr)")
            #expect(created.stdout == "data\n")
            #expect(try d.berth("volume", "create", "data").stdout == "data\n")
            let small = try d.berth("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "--opt", "o=size=1m", "--name", "small")
            #expect(small.status == 0 && small.stdout == "small\n", "\(small.stderr)")
            let both = try d.berth("volume", "create", "--name", "x", "y")
            #expect(both.status == 1)
            #expect(both.stderr.contains("conflicting options"), "\(both.stderr)")
            let badLabel = try d.berth("volume", "create", "--label", "=1", "z")
            #expect(badLabel.status == 125)
            #expect(badLabel.stderr.contains("invalid label '=1': empty name"), "\(badLabel.stderr)")

            // ls: docker's table, -q, filters, templates.
            let ls = try d.berth("volume", "ls")
            #expect(ls.stdout == "DRIVER    VOLUME NAME\nlocal     data\nlocal     small\n", "\(ls.stdout) \(ls.stderr)")
            #expect(try d.berth("volume", "list", "-q").stdout == "data\nsmall\n")
            #expect(try names(d, "name=at") == ["data"])
            #expect(try names(d, "label=team=db") == ["data"])
            #expect(try names(d, "label=tier") == ["data"])
            #expect(try names(d, "label=team=web").isEmpty)
            #expect(try names(d, "driver=local") == ["data", "small"])
            #expect(try names(d, "dangling=true") == ["data", "small"])
            #expect(try names(d, "dangling=false").isEmpty)
            let labels = try d.berth("volume", "ls", "--format", "{{.Name}} {{.Driver}} {{.Labels}} {{.Label \"team\"}}", "-f", "name=data")
            #expect(labels.stdout == "data local team=db,tier= db\n", "\(labels.stdout) \(labels.stderr)")
            let json = try d.berth("volume", "ls", "--format", "json", "--filter", "name=small")
            #expect(json.stdout.hasPrefix(#"{"Availability":"N/A","Driver":"local","Group":"N/A","Labels":"","Links":"N/A","Mountpoint":""#),
                    "\(json.stdout)")
            #expect(json.stdout.hasSuffix(#""Name":"small","Scope":"local","Size":"N/A","Status":"N/A"}"# + "\n"))
            let badFilter = try d.berth("volume", "ls", "--filter", "colour=red")
            #expect(badFilter.status == 1)
            #expect(badFilter.stderr.contains("Error response from daemon: invalid filter 'colour'"), "\(badFilter.stderr)")

            // inspect: a JSON array; the mountpoint is under the daemon's root.
            let mountpoint = trimmed(try d.berth("volume", "inspect", "-f", "{{.Mountpoint}}", "data").stdout)
            #expect(mountpoint == d.root + "/volumes/data/_data")
            var isDir: ObjCBool = false
            #expect(FileManager.default.fileExists(atPath: mountpoint, isDirectory: &isDir) && isDir.boolValue)
            let inspect = try d.berth("volume", "inspect", "data")
            #expect(inspect.status == 0)
            #expect(inspect.stdout.hasPrefix("[\n    {\n"), "\(inspect.stdout)")
            let parsed = try JSONSerialization.jsonObject(with: inspect.stdoutData) as? [[String: Any]]
            #expect(parsed?.count == 1)
            #expect(parsed?.first?["Name"] as? String == "data")
            #expect(parsed?.first?["Driver"] as? String == "local")
            #expect(parsed?.first?["Scope"] as? String == "local")
            #expect(parsed?.first?["Labels"] as? [String: String] == ["team": "db", "tier": ""])
            #expect(trimmed(try d.berth("volume", "inspect", "--format", "{{.Options.type}} {{.Options.o}}", "small").stdout) == "tmpfs size=1m")
            let missing = try d.berth("volume", "inspect", "data", "ghost")
            #expect(missing.status == 1)
            #expect((try JSONSerialization.jsonObject(with: missing.stdoutData) as? [Any])?.count == 1, "\(missing.stdout)")
            #expect(missing.stderr == "Error response from daemon: get ghost: no such volume\n", "\(missing.stderr)")
            let none = try d.berth("volume", "inspect", "ghost")
            #expect(none.status == 1 && none.stdout == "[]\n")

            // Containers share the volume; the data is on the host.
            let write = try d.berth("run", "--rm", "-v", "data:/data", "busybox:test", "sh", "-c", "echo hi > /data/f")
            #expect(write.status == 0, "\(write.stderr)")
            let read = try d.berth("run", "--rm", "-v", "data:/data:ro", "busybox:test", "cat", "/data/f")
            #expect(read.stdout == "hi\n", "\(read.stdout) \(read.stderr)")
            #expect(FileManager.default.contents(atPath: mountpoint + "/f") == Data("hi\n".utf8))

            // In use: not removable; not dangling.
            #expect(try d.berth("run", "--name", "holder", "-v", "data:/data", "busybox:test", "true").status == 0)
            let inUse = try d.berth("volume", "rm", "data")
            #expect(inUse.status == 1)
            #expect(inUse.stdout == "")
            #expect(inUse.stderr.hasPrefix("Error response from daemon: "), "\(inUse.stderr)")
            #expect(inUse.stderr.contains("volume is in use"), "\(inUse.stderr)")
            #expect(try names(d, "dangling=true") == ["small"])
            #expect(try names(d, "dangling=false") == ["data"])

            // rm: prints what it removed, reports the rest after, exit 1; -f makes a missing
            // volume a success (docker prints its name).
            let forced = try d.berth("volume", "rm", "-f", "ghost")
            #expect(forced.status == 0 && forced.stderr == "", "\(forced.stderr)")
            #expect(forced.stdout == "ghost\n")
            #expect(try d.berth("volume", "create", "tmp1").status == 0)
            let mixed = try d.berth("volume", "remove", "ghost", "tmp1")
            #expect(mixed.status == 1)
            #expect(mixed.stdout == "tmp1\n")
            #expect(mixed.stderr == "Error response from daemon: get ghost: no such volume\n", "\(mixed.stderr)")

            // system df: the volumes' count, use and size; -v lists each.
            let df = try d.berth("system", "df")
            #expect(df.status == 0, "\(df.stderr)")
            #expect(lines(df.stdout).contains("Local Volumes   2         1         3B        0B (0%)"), "\(df.stdout)")
            let dfv = try d.berth("system", "df", "-v")
            #expect(dfv.status == 0, "\(dfv.stderr)")
            #expect(dfv.stdout.contains("\nLocal Volumes space usage:\n\nVOLUME NAME   LINKS     SIZE\n"), "\(dfv.stdout)")
            let rows = lines(dfv.stdout).map { $0.split(separator: " ").map(String.init) }
            #expect(rows.contains(["data", "1", "3B"]), "\(dfv.stdout)")
            #expect(rows.contains(["small", "0", "0B"]), "\(dfv.stdout)")

            // prune: asks first (nothing happens on "n"); -f removes the unused anonymous
            // volumes only, -a also unused named ones; volumes in use stay.
            #expect(try d.berth("run", "--name", "anon", "-v", "/scratch", "busybox:test", "true").status == 0)
            let mounts = try d.berth("inspect", "-f", "{{json .Mounts}}", "anon")
            let anon = ((try? JSONSerialization.jsonObject(with: mounts.stdoutData) as? [[String: Any]])?.first?["Name"] as? String) ?? ""
            #expect(anon.count == 64)
            #expect(try d.berth("rm", "anon").status == 0)  // without -v: the anonymous volume stays
            let declined = try d.berth("volume", "prune", stdin: Data("n\n".utf8))
            #expect(declined.status == 0)
            #expect(declined.stdout == "WARNING! This will remove anonymous local volumes not used by at least one container.\n"
                + "Are you sure you want to continue? [y/N] ", "\(declined.stdout)")
            #expect(try names(d) == ["data", "small", anon])
            let pruned = try d.berth("volume", "prune", "-f")
            #expect(pruned.status == 0, "\(pruned.stderr)")
            #expect(pruned.stdout == "Deleted Volumes:\n\(anon)\n\nTotal reclaimed space: 0B\n", "\(pruned.stdout)")
            #expect(try names(d) == ["data", "small"])
            let again = try d.berth("volume", "prune", "-f")
            #expect(again.stdout == "Total reclaimed space: 0B\n", "\(again.stdout)")
            let allDeclined = try d.berth("volume", "prune", "-a", stdin: Data("\n".utf8))
            #expect(allDeclined.stdout.hasPrefix("WARNING! This will remove all local volumes not used by at least one container.\n"))
            #expect(try names(d) == ["data", "small"])
            let all = try d.berth("volume", "prune", "-a", stdin: Data("y\n".utf8))
            #expect(all.status == 0, "\(all.stderr)")
            #expect(all.stdout.hasSuffix("[y/N] Deleted Volumes:\nsmall\n\nTotal reclaimed space: 0B\n"), "\(all.stdout)")
            #expect(try names(d) == ["data"])

            // Once the container is gone the volume goes, with its directory.
            #expect(try d.berth("rm", "holder").status == 0)
            #expect(try d.berth("volume", "rm", "data").stdout == "data\n")
            #expect(!FileManager.default.fileExists(atPath: d.root + "/volumes/data"))
            #expect(try d.berth("volume", "ls").stdout == "DRIVER    VOLUME NAME\n")
        }
    }

    @Test func pruneSizesAndLabelFilters() throws {
        try withDaemon { d in
            #expect(try d.berth("load", "-i", Paths.testImage).status == 0)
            #expect(try d.berth("volume", "create", "--label", "keep", "kept").status == 0)
            #expect(try d.berth("volume", "create", "--label", "env=test", "scratch").status == 0)
            let fill = try d.berth("run", "--rm", "-v", "scratch:/s", "busybox:test", "sh", "-c", "dd if=/dev/zero of=/s/f bs=1000 count=12 2>/dev/null")
            #expect(fill.status == 0, "\(fill.stderr)")
            let df = try d.berth("system", "df", "--format", "{{.Type}}: {{.TotalCount}} {{.Active}} {{.Size}} {{.Reclaimable}}")
            #expect(lines(df.stdout).contains("Local Volumes: 2 0 12kB 12kB (100%)"), "\(df.stdout)")
            // label! keeps the labelled one; label= selects.
            let pruned = try d.berth("volume", "prune", "-af", "--filter", "label!=keep", "--filter", "label=env=test")
            #expect(pruned.stdout == "Deleted Volumes:\nscratch\n\nTotal reclaimed space: 12kB\n", "\(pruned.stdout) \(pruned.stderr)")
            #expect(try names(d) == ["kept"])
            let conflict = try d.berth("volume", "prune", "-af", "--filter", "all=1")
            #expect(conflict.status == 1)
            #expect(conflict.stderr.contains("conflicting options: cannot specify both --all and --filter all=1"))
        }
    }

    /// Docker (≥ 23) labels a volume created without a name as anonymous, so a plain prune
    /// removes it.
    @Test func unnamedVolumeIsAnonymous() throws {
        try withDaemon { d in
            let name = trimmed(try d.berth("volume", "create").stdout)
            #expect(name.count == 64)
            #expect(try d.berth("volume", "create", "named").status == 0)
            let labels = try d.berth("volume", "inspect", "-f", "{{json .Labels}}", name)
            #expect(labels.stdout.contains("com.docker.volume.anonymous"), "\(labels.stdout)")
            let pruned = try d.berth("volume", "prune", "-f")
            #expect(pruned.stdout == "Deleted Volumes:\n\(name)\n\nTotal reclaimed space: 0B\n", "\(pruned.stdout)")
            #expect(try names(d) == ["named"])
        }
    }

    @Test func daemonDown() throws {
        let d = try TestDaemon()
        defer { d.cleanup() }
        let r = try d.berth("volume", "ls")
        #expect(r.status == 1)
        #expect(r.stderr == "Cannot connect to the Berth daemon at \(d.host). Is berthd running?\n")
    }
}
