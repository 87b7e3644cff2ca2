import Foundation
import Testing

/// Volumes through the real docker CLI and docker-py against a real berthd: named and
/// anonymous volumes, copy-up, driver options, references, prune, restarts. Serialized: each
/// test owns a daemon, and the machine has two cores.
@Suite(.serialized)
struct VolumeTests {
    func trimmed(_ s: String) -> String { s.trimmingCharacters(in: .whitespacesAndNewlines) }

    func lines(_ s: String) -> [String] { s.split(separator: "\n").map(String.init) }

    @Test func namedVolumeOutlivesContainers() throws {
        try withImage { d in
            let created = try d.docker("volume", "create", "--label", "team=db", "--label", "tier", "data")
            #expect(created.status == 0 && trimmed(created.stdout) == "data", "\(created.stderr)")
            // Creating it again is not an error (Docker returns the existing volume).
            #expect(try d.docker("volume", "create", "data").status == 0)
            let mountpoint = trimmed(try d.docker("volume", "inspect", "-f", "{{.Mountpoint}}", "data").stdout)
            #expect(mountpoint == d.root + "/volumes/data/_data")
            #expect(trimmed(try d.docker("volume", "inspect", "-f", "{{.Driver}} {{.Scope}} {{.Labels.team}}", "data").stdout) == "local local db")

            let w = try d.docker("run", "--name", "writer", "-v", "data:/data", "busybox:test", "sh", "-c", "echo persisted > /data/f")
            #expect(w.status == 0, "\(w.stderr)")
            #expect(try d.docker("rm", "writer").status == 0)
            let r = try d.docker("run", "--rm", "-v", "data:/in:ro", "busybox:test", "sh", "-c", "cat /in/f; touch /in/x")
            #expect(r.stdout == "persisted\n")
            #expect(r.stderr.contains("Read-only file system"), "\(r.stderr)")
            #expect(FileManager.default.fileExists(atPath: mountpoint + "/f"))
            let inspect = try d.docker("run", "--name", "holder", "-v", "data:/data", "busybox:test", "true")
            #expect(inspect.status == 0)
            let mounts = trimmed(try d.docker("inspect", "-f", "{{range .Mounts}}{{.Type}} {{.Name}} {{.Source}} {{.Destination}} {{.Driver}} {{.RW}}{{end}}", "holder").stdout)
            #expect(mounts == "volume data \(mountpoint) /data local true")

            // In use: not removable, with Docker's message; listed as not dangling.
            let rm = try d.docker("volume", "rm", "data")
            #expect(rm.status == 1)
            #expect(rm.stderr.contains("volume is in use"), "\(rm.stderr)")
            #expect(try d.docker("volume", "ls", "-q", "--filter", "dangling=true").stdout == "")
            #expect(try d.docker("volume", "ls", "-q", "--filter", "dangling=false").stdout == "data\n")
            #expect(try d.docker("volume", "ls", "-q", "--filter", "label=team=db").stdout == "data\n")
            #expect(try d.docker("volume", "ls", "-q", "--filter", "label=team=web").stdout == "")
            #expect(try d.docker("volume", "ls", "-q", "--filter", "name=at").stdout == "data\n")
            #expect(try d.docker("volume", "ls", "-q", "--filter", "driver=local").stdout == "data\n")
            // rm -v keeps named volumes.
            #expect(try d.docker("rm", "-v", "holder").status == 0)
            #expect(try d.docker("volume", "inspect", "data").status == 0)
            #expect(try d.docker("volume", "rm", "data").status == 0)
            #expect(!FileManager.default.fileExists(atPath: d.root + "/volumes/data"))
            let missing = try d.docker("volume", "inspect", "data")
            #expect(missing.status == 1 && missing.stderr.contains("get data: no such volume"), "\(missing.stderr)")
            // -f makes a missing volume a success.
            #expect(try d.docker("volume", "rm", "-f", "data").status == 0)
        }
    }

    @Test func anonymousVolumesAndCopyUp() throws {
        try withImage { d in
            // An image with a VOLUME whose content has its own owner and mode.
            let dir = d.dir + "/ctx"
            try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
            try "seed\n".write(toFile: dir + "/data/seed", atomically: false, encoding: .utf8)
            #expect(chown(dir + "/data/seed", 1000, 1001) == 0 && chmod(dir + "/data/seed", 0o640) == 0)
            #expect(chown(dir + "/data", 1000, 1001) == 0 && chmod(dir + "/data", 0o750) == 0)
            let tar = try runCommand(["tar", "-cf", d.dir + "/img.tar", "-C", Paths.testRootfs, ".", "-C", dir, "data"])
            #expect(tar.status == 0, "\(tar.stderr)")
            let imp = try d.docker("import", "--change", "VOLUME /data", "--change", "CMD [\"sh\"]", d.dir + "/img.tar", "withvol:1")
            #expect(imp.status == 0, "\(imp.stderr)")

            let run = try d.docker("run", "--name", "anon", "withvol:1", "sh", "-c",
                                   "stat -c '%u:%g %a' /data /data/seed; cat /data/seed; echo more > /data/new")
            #expect(run.stdout == "1000:1001 750\n1000:1001 640\nseed\n", "\(run.stdout) \(run.stderr)")
            let name = trimmed(try d.docker("inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", "anon").stdout)
            #expect(name.count == 64)
            let label = try d.docker("volume", "inspect", "-f", "{{json .Labels}}", name)
            #expect(label.stdout.contains("com.docker.volume.anonymous"), "\(label.stdout)")
            // The volume keeps what the container wrote: a restart sees it, no second copy-up.
            #expect(try d.docker("start", "-a", "anon").stdout.contains("seed"))
            #expect(FileManager.default.fileExists(atPath: d.root + "/volumes/\(name)/_data/new"))

            // --volumes-from shares the anonymous volume, read-only with :ro.
            let from = try d.docker("run", "--rm", "--volumes-from", "anon:ro", "busybox:test", "sh", "-c", "cat /data/new; touch /data/z")
            #expect(from.stdout == "more\n")
            #expect(from.stderr.contains("Read-only file system"))
            // A bind over the VOLUME path replaces the anonymous volume; nocopy leaves a new volume empty.
            let nocopy = try d.docker("run", "--rm", "-v", "fresh:/data:nocopy", "withvol:1", "ls", "-A", "/data")
            #expect(nocopy.status == 0 && nocopy.stdout == "", "\(nocopy.stdout) \(nocopy.stderr)")
            let mountNoCopy = try d.docker("run", "--rm", "--mount", "type=volume,src=fresh2,dst=/etc,volume-nocopy",
                                           "busybox:test", "ls", "/etc")
            // Only the mount points of /etc/hostname, hosts and resolv.conf (mounted over the volume).
            #expect(lines(mountNoCopy.stdout).sorted() == ["hostname", "hosts", "resolv.conf"], "\(mountNoCopy.stdout) \(mountNoCopy.stderr)")
            let copied = try d.docker("run", "--rm", "-v", "etc:/etc", "busybox:test", "cat", "/etc/passwd")
            #expect(copied.stdout.hasPrefix("root:"), "\(copied.stdout) \(copied.stderr)")

            // `-v /path` makes an anonymous volume too; rm -v removes anonymous ones only.
            #expect(try d.docker("run", "--name", "dash", "-v", "/scratch", "-v", "keep:/keep", "busybox:test", "true").status == 0)
            let dashName = trimmed(try d.docker("inspect", "-f", "{{range .Mounts}}{{if eq .Destination \"/scratch\"}}{{.Name}}{{end}}{{end}}", "dash").stdout)
            #expect(dashName.count == 64)
            #expect(try d.docker("rm", "-v", "dash").status == 0)
            #expect(try d.docker("volume", "inspect", dashName).status == 1)
            #expect(try d.docker("volume", "inspect", "keep").status == 0)
            // --rm removes the anonymous volumes of the container.
            let before = Set(lines(try d.docker("volume", "ls", "-q").stdout))
            #expect(try d.docker("run", "--rm", "withvol:1", "true").status == 0)
            #expect(Set(lines(try d.docker("volume", "ls", "-q").stdout)) == before)

            // prune: unused anonymous volumes only; --all also named ones; in-use ones stay.
            #expect(try d.docker("create", "--name", "idle", "-v", "/idle", "busybox:test", "true").status == 0)
            #expect(try d.docker("rm", "idle").status == 0)  // without -v: its anonymous volume stays
            let pruned = try d.docker("volume", "prune", "-f")
            #expect(pruned.status == 0, "\(pruned.stderr)")
            let after = Set(lines(try d.docker("volume", "ls", "-q").stdout))
            #expect(after.contains(name), "in use by anon")
            #expect(after.contains("keep") && after.contains("fresh") && after.contains("etc"))
            #expect(after.count == 5, "\(after)")
            let all = try d.docker("volume", "prune", "-af")
            #expect(all.status == 0, "\(all.stderr)")
            #expect(Set(lines(try d.docker("volume", "ls", "-q").stdout)) == [name])
            #expect(try d.docker("rm", "-v", "anon").status == 0)
            #expect(try d.docker("volume", "ls", "-q").stdout == "")
        }
    }

    @Test func driverOptionsTmpfsAndBind() throws {
        try withImage { d in
            #expect(try d.docker("volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "--opt", "o=size=1m", "small").status == 0)
            let fill = try d.docker("run", "--rm", "-v", "small:/t", "busybox:test", "sh", "-c",
                                    "df -k /t | tail -1; dd if=/dev/zero of=/t/big bs=1k count=2048")
            #expect(fill.status != 0)
            #expect(fill.stdout.contains(" 1024 "), "\(fill.stdout)")
            #expect(fill.stderr.contains("No space left on device"), "\(fill.stderr)")
            // Docker's local driver mounts the tmpfs while a container uses it, and only then.
            #expect(TestDaemon.mounts(under: d.root + "/volumes").isEmpty)
            #expect(try d.docker("run", "-d", "--name", "t1", "-v", "small:/t", "busybox:test", "sleep", "60").status == 0)
            #expect(try d.docker("run", "-d", "--name", "t2", "-v", "small:/t", "busybox:test", "sleep", "60").status == 0)
            #expect(TestDaemon.mounts(under: d.root + "/volumes") == [d.root + "/volumes/small/_data"])
            #expect(try d.docker("exec", "t1", "sh", "-c", "echo shared > /t/f").status == 0)
            #expect(try d.docker("exec", "t2", "cat", "/t/f").stdout == "shared\n")
            #expect(try d.docker("rm", "-f", "t1").status == 0)
            #expect(TestDaemon.mounts(under: d.root + "/volumes").count == 1, "t2 still uses it")
            #expect(try d.docker("rm", "-f", "t2").status == 0)
            #expect(TestDaemon.mounts(under: d.root + "/volumes").isEmpty)

            let host = d.dir + "/hostdir"
            try FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
            try "from host\n".write(toFile: host + "/h", atomically: false, encoding: .utf8)
            #expect(try d.docker("volume", "create", "-o", "type=none", "-o", "o=bind", "-o", "device=\(host)", "hostvol").status == 0)
            let b = try d.docker("run", "--rm", "-v", "hostvol:/b", "busybox:test", "sh", "-c", "cat /b/h; echo back > /b/back")
            #expect(b.stdout == "from host\n", "\(b.stderr)")
            #expect(FileManager.default.fileExists(atPath: host + "/back"))
            #expect(TestDaemon.mounts(under: d.root + "/volumes").isEmpty)

            // --mount with volume options creates the volume with them.
            let m = try d.docker("run", "--rm", "--mount", "type=volume,src=mv,dst=/m,volume-driver=local,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-label=k=v",
                                 "busybox:test", "sh", "-c", "grep ' /m ' /proc/mounts")
            #expect(m.stdout.hasPrefix("tmpfs /m tmpfs"), "\(m.stdout) \(m.stderr)")
            #expect(trimmed(try d.docker("volume", "inspect", "-f", "{{.Labels.k}} {{.Options.type}}", "mv").stdout) == "v tmpfs")
        }
    }

    @Test func badInput() throws {
        try withImage { d in
            func fails(_ args: [String], _ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
                let r = try runCommand(["docker"] + args, env: ["DOCKER_HOST": d.host])
                #expect(r.status != 0, "\(args) succeeded", sourceLocation: sourceLocation)
                #expect(r.stderr.contains(text), "\(args): \(r.stderr)", sourceLocation: sourceLocation)
            }
            try fails(["volume", "create", "a/b"], "includes invalid characters for a local volume name")
            try fails(["volume", "create", "x"], "includes invalid characters for a local volume name")
            try fails(["volume", "create", "-d", "nfs-plugin", "v1"], "plugin \"nfs-plugin\" not found")
            try fails(["volume", "create", "-o", "bogus=1", "v1"], "invalid option: \"bogus\"")
            try fails(["volume", "create", "-o", "type=tmpfs", "v1"], "missing required option: \"device\"")
            try fails(["volume", "create", "-o", "o=size=1m", "v1"], "missing required option: \"device\"")
            try fails(["run", "--rm", "-v", "a/b:/x", "busybox:test", "true"], "includes invalid characters")
            try fails(["run", "--rm", "-v", "rel/path:/x", "busybox:test", "true"], "use absolute path")
            try fails(["run", "--rm", "-v", "vol:rel", "busybox:test", "true"], "mount path must be absolute")
            try fails(["run", "--rm", "--mount", "type=volume,src=v2,dst=/x,volume-driver=nope", "busybox:test", "true"], "plugin \"nope\" not found")
            try fails(["run", "--rm", "--volumes-from", "nosuch", "busybox:test", "true"], "No such container: nosuch")
            try fails(["volume", "rm", "nosuch"], "no such volume")
            // Nothing was made by the failed requests.
            #expect(try d.docker("volume", "ls", "-q").stdout == "")
            #expect(try d.docker("ps", "-aq").stdout == "")
            // A device volume whose device is missing fails at start, cleanly.
            #expect(try d.docker("volume", "create", "-o", "type=none", "-o", "o=bind", "-o", "device=/nonexistent/dir", "broken").status == 0)
            try fails(["run", "--rm", "-v", "broken:/x", "busybox:test", "true"], "failed to mount local volume")
            #expect(TestDaemon.mounts(under: d.root + "/volumes").isEmpty)
            #expect(try d.docker("volume", "rm", "broken").status == 0)
        }
    }

    @Test func restartKeepsVolumesAndReferences() throws {
        try withImage { d in
            #expect(try d.docker("volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "live").status == 0)
            #expect(try d.docker("run", "-d", "--name", "user", "-v", "live:/l", "-v", "/anon", "busybox:test",
                                 "sh", "-c", "echo kept > /l/f; sleep 60").status == 0)
            #expect(try d.docker("volume", "create", "idle").status == 0)
            d.crash()
            try d.start()
            #expect(Set(lines(try d.docker("volume", "ls", "-q").stdout)).isSuperset(of: ["live", "idle"]))
            #expect(try d.docker("volume", "rm", "live").stderr.contains("volume is in use"))
            #expect(try d.docker("exec", "user", "cat", "/l/f").stdout == "kept\n")
            // The live-restored container still holds the tmpfs: stopping it releases the mount.
            #expect(TestDaemon.mounts(under: d.root + "/volumes").count == 1)
            #expect(try d.docker("stop", "-t", "0", "user").status == 0)
            #expect(TestDaemon.mounts(under: d.root + "/volumes").isEmpty)
            #expect(try d.docker("rm", "-v", "user").status == 0)
            #expect(Set(lines(try d.docker("volume", "ls", "-q").stdout)) == ["live", "idle"])
        }
    }

    @Test func systemDFAndDockerPy() throws {
        try withImage { d in
            let r = try d.python(#"""
            import docker
            c = docker.from_env()
            v = c.volumes.create(name="pyvol", labels={"app": "py"})
            assert v.attrs["Mountpoint"].endswith("/volumes/pyvol/_data"), v.attrs
            out = c.containers.run("busybox:test", ["sh", "-c", "head -c 5000 /dev/zero > /v/blob; echo ok"],
                                   volumes={"pyvol": {"bind": "/v", "mode": "rw"}}, remove=True)
            assert out == b"ok\n", out
            out = c.containers.run("busybox:test", ["stat", "-c", "%s", "/v/blob"],
                                   volumes=["pyvol:/v:ro"], remove=True)
            assert out == b"5000\n", out
            assert [x.name for x in c.volumes.list(filters={"label": "app=py"})] == ["pyvol"]
            df = c.df()
            sizes = {x["Name"]: x["UsageData"] for x in df["Volumes"]}
            assert sizes["pyvol"] == {"Size": 5000, "RefCount": 0}, sizes
            cont = c.containers.create("busybox:test", ["true"], volumes={"pyvol": {"bind": "/v"}})
            try:
                c.volumes.get("pyvol").remove()
                raise SystemExit("removed a volume in use")
            except docker.errors.APIError as e:
                assert e.status_code == 409 and "in use" in str(e), e
            cont.remove()
            res = c.volumes.prune(filters={"all": "true", "label": "app=py"})
            assert res["VolumesDeleted"] == ["pyvol"] and res["SpaceReclaimed"] == 5000, res
            try:
                c.volumes.get("pyvol")
                raise SystemExit("still there")
            except docker.errors.NotFound:
                pass
            print("ok")
            """#)
            #expect(r.stdout == "ok\n", "\(r.stdout) \(r.stderr)")
            #expect(try d.docker("volume", "create", "dfvol").status == 0)
            #expect(try d.docker("run", "--rm", "-v", "dfvol:/d", "busybox:test", "sh", "-c", "head -c 2048 /dev/zero > /d/x").status == 0)
            let df = try d.docker("system", "df", "-v")
            #expect(df.stdout.contains("dfvol"), "\(df.stdout)")
            #expect(df.stdout.range(of: #"dfvol\s+0\s+2\.048kB"#, options: .regularExpression) != nil, "\(df.stdout)")
        }
    }
}
