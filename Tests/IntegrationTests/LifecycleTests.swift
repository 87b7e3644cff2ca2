import Foundation
import Testing

/// pause/unpause, top and rename through the real docker CLI and docker-py.
@Suite(.serialized)
struct LifecycleTests {
    func trimmed(_ s: String) -> String { s.trimmingCharacters(in: .whitespacesAndNewlines) }

    @Test func pauseTopRename() throws {
        try withDaemon { d in
            #expect(try d.docker("load", "-i", Paths.testImage).status == 0)
            #expect(try d.docker("run", "-d", "--name", "counter", "busybox:test", "sh", "-c",
                                 "i=0; while true; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done").status == 0)
            usleep(300_000)
            #expect(try d.docker("pause", "counter").status == 0)
            #expect(trimmed(try d.docker("inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "counter").stdout) == "paused true")
            #expect(try d.docker("ps", "--format", "{{.Status}}").stdout.contains("(Paused)"))
            // Frozen: the counter file, read from the host through the rootfs, stops advancing.
            let file = d.root + "/containers/" + trimmed(try d.docker("inspect", "-f", "{{.Id}}", "counter").stdout) + "/diff/tmp/n"
            let a = try String(contentsOfFile: file, encoding: .utf8)
            usleep(400_000)
            let b = try String(contentsOfFile: file, encoding: .utf8)
            #expect(a == b, "counter advanced while paused: \(a) → \(b)")
            let exec = try d.docker("exec", "counter", "true")
            #expect(exec.status != 0 && exec.stderr.contains("is paused"), "\(exec.stderr)")
            let again = try d.docker("pause", "counter")
            #expect(again.status != 0 && again.stderr.contains("already paused"))
            #expect(try d.docker("unpause", "counter").status == 0)
            usleep(400_000)
            let c = try String(contentsOfFile: file, encoding: .utf8)
            #expect(Int(trimmed(c)) ?? 0 > Int(trimmed(b)) ?? 0, "counter did not resume: \(b) → \(c)")

            let top = try d.docker("top", "counter")
            #expect(top.status == 0, "\(top.stderr)")
            #expect(top.stdout.hasPrefix("UID"), "\(top.stdout)")
            #expect(top.stdout.contains("sh -c i=0"), "\(top.stdout)")
            let topCols = try d.docker("top", "counter", "-o", "pid,comm")
            #expect(topCols.stdout.split(separator: "\n").first.map { $0.split(separator: " ") } == ["PID", "COMMAND"])
            // Only the container's processes: every PID listed is in the container's cgroup.
            #expect(topCols.stdout.split(separator: "\n").count >= 2)

            #expect(try d.docker("rename", "counter", "ticker").status == 0)
            #expect(trimmed(try d.docker("inspect", "-f", "{{.Name}}", "ticker").stdout) == "/ticker")
            #expect(try d.docker("inspect", "counter").status != 0)
            #expect(try d.docker("run", "-d", "--name", "other", "busybox:test", "sleep", "30").status == 0)
            let clash = try d.docker("rename", "other", "ticker")
            #expect(clash.status != 0 && clash.stderr.contains("is already in use"), "\(clash.stderr)")
            let same = try d.docker("rename", "ticker", "ticker")
            #expect(same.status != 0 && same.stderr.contains("same name"))
            let bad = try d.docker("rename", "ticker", "no/slash")
            #expect(bad.status != 0 && bad.stderr.contains("Invalid container name"), "\(bad.stderr)")

            // A paused container still stops (SIGKILL thaws it).
            #expect(try d.docker("pause", "ticker").status == 0)
            #expect(try d.docker("stop", "-t", "1", "ticker").status == 0)
            #expect(trimmed(try d.docker("inspect", "-f", "{{.State.Status}}", "ticker").stdout) == "exited")
            let stopped = try d.docker("pause", "ticker")
            #expect(stopped.status != 0 && stopped.stderr.contains("is not running"), "\(stopped.stderr)")
            #expect(try d.docker("top", "ticker").stderr.contains("is not running"))

            let py = try d.python(#"""
            import docker
            c = docker.from_env()
            o = c.containers.get("other")
            o.pause(); o.reload(); assert o.status == "paused", o.status
            o.unpause(); o.reload(); assert o.status == "running", o.status
            t = o.top(); assert "PID" in t["Titles"] and t["Processes"], t
            o.rename("renamed"); assert c.containers.get("renamed").id == o.id
            print("ok")
            """#)
            #expect(py.stdout == "ok\n", "\(py.stdout) \(py.stderr)")
        }
    }

    /// Polls `body` every 100 ms for up to `seconds`.
    func eventually(_ seconds: Double = 15, _ body: () throws -> Bool) rethrows -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if try body() { return true }
            usleep(100_000)
        }
        return try body()
    }

    @Test func restartPoliciesAndUpdate() throws {
        try withImage { d in
            func state(_ name: String) throws -> String {
                trimmed(try d.docker("inspect", "-f", "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}", name).stdout)
            }
            // on-failure:3 restarts three times, then stays exited with the last exit code.
            #expect(try d.docker("run", "-d", "--name", "flaky", "--restart", "on-failure:3", "busybox:test", "sh", "-c", "echo run; exit 1").status == 0)
            let flaky = try eventually { try state("flaky") == "exited 3 1" }
            #expect(flaky, "\((try? state("flaky")) ?? "")")
            usleep(500_000)
            #expect(try state("flaky") == "exited 3 1")
            #expect(try d.docker("logs", "flaky").stdout == "run\nrun\nrun\nrun\n")
            // on-failure does not restart a clean exit.
            #expect(try d.docker("run", "-d", "--name", "clean", "--restart", "on-failure", "busybox:test", "true").status == 0)
            #expect(try eventually { try state("clean") == "exited 0 0" })
            // always restarts until stopped; a stop sticks.
            #expect(try d.docker("run", "-d", "--name", "loop", "--restart", "always", "busybox:test", "sh", "-c", "sleep 0.2").status == 0)
            #expect(try eventually { Int(try state("loop").split(separator: " ")[1]) ?? 0 >= 2 })
            #expect(try d.docker("stop", "-t", "1", "loop").status == 0)
            let stopped = try state("loop")
            usleep(800_000)
            #expect(try state("loop") == stopped && stopped.hasPrefix("exited"), "\(stopped)")
            // rm -f of a container that keeps restarting.
            #expect(try d.docker("run", "-d", "--name", "churn", "--restart", "always", "busybox:test", "true").status == 0)
            usleep(300_000)
            let rm = try d.docker("rm", "-f", "churn")
            #expect(rm.status == 0, "\(rm.stderr)")
            #expect(try d.docker("inspect", "churn").status != 0)

            // A container that exits while berthd is down is restarted by its policy when berthd returns.
            #expect(try d.docker("run", "-d", "--name", "phoenix", "--restart", "unless-stopped", "busybox:test", "sh", "-c", "sleep 1; exit 2").status == 0)
            d.crash()
            usleep(1_500_000)
            try d.start()
            let reborn = try eventually { let s = try state("phoenix"); return s.hasPrefix("running") && !s.hasPrefix("running 0") }
            #expect(reborn, "\((try? state("phoenix")) ?? "")")
            #expect(try d.docker("rm", "-f", "phoenix").status == 0)

            // update: limits change live; nonsense is refused.
            #expect(try d.docker("run", "-d", "--name", "box", "--memory", "32m", "busybox:test", "sleep", "60").status == 0)
            let up = try d.docker("update", "--memory", "64m", "--memory-swap", "128m", "--pids-limit", "40", "--restart", "on-failure:2", "box")
            #expect(up.status == 0, "\(up.stderr)")
            let limits = try d.docker("exec", "box", "sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max")
            #expect(limits.stdout == "67108864\n40\n", "\(limits.stdout) \(limits.stderr)")
            #expect(trimmed(try d.docker("inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.RestartPolicy.Name}}", "box").stdout) == "67108864 on-failure")
            // Enforced: allocating past the new limit kills the process.
            let oom = try d.docker("exec", "box", "sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived")
            #expect(!oom.stdout.contains("survived"))
            let tiny = try d.docker("update", "--memory", "1m", "box")
            #expect(tiny.status != 0 && tiny.stderr.contains("Minimum memory limit allowed is 6MB"), "\(tiny.stderr)")
            let over = try d.docker("update", "--memory", "300m", "box")
            #expect(over.status != 0 && over.stderr.contains("memoryswap"), "\(over.stderr)")
            let missing = try d.docker("update", "--memory", "64m", "nosuch")
            #expect(missing.status != 0 && missing.stderr.contains("No such container"))
        }
    }

    @Test func statsReadings() throws {
        try withImage { d in
            #expect(try d.docker("run", "-d", "--name", "busy", "--memory", "64m", "--pids-limit", "30", "busybox:test", "sh", "-c",
                                 "x=$(head -c 10000000 /dev/zero | tr '\\0' a); while true; do :; done").status == 0)
            usleep(1_500_000)
            let r = try d.docker("stats", "--no-stream", "--format", "{{.Name}}|{{.MemUsage}}|{{.MemPerc}}|{{.CPUPerc}}|{{.PIDs}}", "busy")
            #expect(r.status == 0, "\(r.stderr)")
            let f = trimmed(r.stdout).split(separator: "|").map(String.init)
            #expect(f.count == 5, "\(r.stdout)")
            if f.count == 5 {
                #expect(f[0] == "busy")
                // Usage under the limit, and the limit is the container's.
                #expect(f[1].hasSuffix("/ 64MiB"), "\(f[1])")
                let used = Double(f[1].split(separator: "M").first ?? "") ?? -1
                #expect(used > 5 && used < 64, "\(f[1])")
                let cpu = Double(f[3].dropLast()) ?? -1
                #expect(cpu > 20 && cpu <= 210, "a busy loop on 2 cores: \(f[3])")
                #expect(f[4] == "1")
            }
            let py = try d.python(#"""
            import docker
            c = docker.from_env()
            s = c.containers.get("busy").stats(stream=False)
            m = s["memory_stats"]
            assert 0 < m["usage"] <= m["limit"] == 64 * 1024 * 1024, m
            assert s["pids_stats"] == {"current": 1, "limit": 30}, s["pids_stats"]
            assert s["cpu_stats"]["cpu_usage"]["total_usage"] > s["precpu_stats"]["cpu_usage"]["total_usage"] > 0
            assert s["cpu_stats"]["system_cpu_usage"] > s["precpu_stats"]["system_cpu_usage"]
            it = c.api.stats("busy", decode=True)
            a, b = next(it), next(it)
            assert b["cpu_stats"]["cpu_usage"]["total_usage"] > a["cpu_stats"]["cpu_usage"]["total_usage"]
            print("ok")
            """#)
            #expect(py.stdout == "ok\n", "\(py.stdout) \(py.stderr)")
            #expect(try d.docker("stop", "-t", "0", "busy").status == 0)
            let stopped = try d.docker("stats", "--no-stream", "--format", "{{.MemUsage}}", "busy")
            #expect(stopped.status == 0 && trimmed(stopped.stdout) == "0B / 0B", "\(stopped.stdout) \(stopped.stderr)")
        }
    }

    @Test func diffAndExport() throws {
        try withImage { d in
            let run = try d.docker("run", "--name", "changed", "busybox:test", "sh", "-c",
                                   "mkdir -p /tmp/new && echo x > /tmp/new/f && rm /etc/group && echo y >> /etc/passwd")
            #expect(run.status == 0, "\(run.stderr)")
            let diff = try d.docker("diff", "changed")
            #expect(diff.stdout == "C /etc\nD /etc/group\nC /etc/passwd\nC /tmp\nA /tmp/new\nA /tmp/new/f\n", "\(diff.stdout)")
            // Export of a stopped container: the merged filesystem, with the changes.
            let out = d.dir + "/export.tar"
            #expect(try d.docker("export", "-o", out, "changed").status == 0)
            let list = try runCommand(["tar", "tf", out]).stdout.split(separator: "\n").map(String.init)
            #expect(list.contains("bin/busybox") && list.contains("tmp/new/f") && list.contains("etc/passwd"))
            #expect(!list.contains("etc/group"))
            let passwd = try runCommand(["tar", "xOf", out, "etc/passwd"]).stdout
            #expect(passwd.hasSuffix("y\n"))
            #expect(TestDaemon.mounts(under: d.root).isEmpty, "the temporary rootfs mount is gone")
            // A running container exports its live filesystem; stdout works too.
            #expect(try d.docker("run", "-d", "--name", "live", "busybox:test", "sh", "-c", "echo live > /marker; sleep 30").status == 0)
            usleep(300_000)
            let piped = try runCommand(["sh", "-c", "docker export live | tar t | grep -c ^marker$"], env: ["DOCKER_HOST": d.host])
            #expect(trimmed(piped.stdout) == "1", "\(piped.stdout) \(piped.stderr)")
            #expect(try d.docker("diff", "nosuch").status != 0)
        }
    }

    @Test func copyBothWays() throws {
        try withImage { d in
            let src = d.dir + "/cpsrc"
            try FileManager.default.createDirectory(atPath: src + "/dir/sub", withIntermediateDirectories: true)
            try "hello\n".write(toFile: src + "/dir/sub/a", atomically: false, encoding: .utf8)
            try "f\n".write(toFile: src + "/file", atomically: false, encoding: .utf8)
            #expect(try d.docker("run", "-d", "--name", "cp1", "-v", "cpvol:/vol", "busybox:test", "sh", "-c",
                                 "ln -s / /escape; ln -s /etc/passwd /plink; sleep 60").status == 0)
            usleep(300_000)
            // Host → container: a file, and a directory into a volume (seen through the container's mounts).
            #expect(try d.docker("cp", src + "/file", "cp1:/tmp/").status == 0)
            let dir = try d.docker("cp", src + "/dir", "cp1:/vol/")
            #expect(dir.status == 0, "\(dir.stderr)")
            #expect(try d.docker("exec", "cp1", "cat", "/tmp/file", "/vol/dir/sub/a").stdout == "f\nhello\n")
            #expect(FileManager.default.fileExists(atPath: d.root + "/volumes/cpvol/_data/dir/sub/a"))
            // Container → host: a directory, a directory's contents, a file to stdout.
            #expect(try d.docker("cp", "cp1:/etc", d.dir + "/etc-out").status == 0)
            #expect(FileManager.default.fileExists(atPath: d.dir + "/etc-out/passwd"))
            #expect(try d.docker("cp", "cp1:/vol/dir/.", d.dir + "/contents").status == 0)
            #expect(FileManager.default.fileExists(atPath: d.dir + "/contents/sub/a"))
            let piped = try runCommand(["sh", "-c", "docker cp cp1:/etc/passwd - | tar t"], env: ["DOCKER_HOST": d.host])
            #expect(piped.stdout == "passwd\n", "\(piped.stdout) \(piped.stderr)")
            // Symlinks resolve inside the container: /escape -> / is the container's root.
            let hostile = try d.docker("cp", "cp1:/escape/etc/hostname", d.dir + "/h")
            #expect(hostile.status == 0, "\(hostile.stderr)")
            let hostname = try String(contentsOfFile: d.dir + "/h", encoding: .utf8)
            #expect(hostname == (try String(contentsOfFile: d.root + "/containers/" + trimmed(try d.docker("inspect", "-f", "{{.Id}}", "cp1").stdout) + "/hostname", encoding: .utf8)))
            // A tar whose entries climb out lands inside the target directory.
            let evil = d.dir + "/evil.tar"
            let mk = try runCommand(["python3", "-c", """
            import io, tarfile, sys
            with tarfile.open(sys.argv[1], "w") as t:
                for name in ["../../../../tmp/berth-cp-escape", "/abs-escape"]:
                    data = b"pwned"
                    i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))
            """, evil])
            #expect(mk.status == 0, "\(mk.stderr)")
            let put = try runCommand(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", d.socket, "-X", "PUT",
                                      "--data-binary", "@" + evil, "-H", "Content-Type: application/x-tar",
                                      "http://x/containers/cp1/archive?path=/tmp"])
            // Refused as a breakout (as Docker does), and nothing reached the host.
            #expect(put.stdout == "400", "\(put.stdout) \(put.stderr)")
            #expect(!FileManager.default.fileExists(atPath: "/tmp/berth-cp-escape"))
            #expect(!FileManager.default.fileExists(atPath: "/abs-escape"))
            // Bad input.
            let missing = try d.docker("cp", "cp1:/nosuch", d.dir + "/x")
            #expect(missing.status != 0 && missing.stderr.contains("Could not find the file /nosuch"), "\(missing.stderr)")
            let notDir = try runCommand(["curl", "-s", "--unix-socket", d.socket, "-X", "PUT", "--data-binary", "@" + evil,
                                         "http://x/containers/cp1/archive?path=/etc/passwd"])
            #expect(notDir.stdout.contains("extraction point is not a directory"), "\(notDir.stdout)")
            #expect(try d.docker("run", "-d", "--name", "ro", "--read-only", "busybox:test", "sleep", "30").status == 0)
            let ro = try d.docker("cp", src + "/file", "ro:/tmp/")
            #expect(ro.status != 0 && ro.stderr.contains("read-only"), "\(ro.stderr)")
            // A stopped container: both ways through its filesystem.
            #expect(try d.docker("stop", "-t", "0", "cp1").status == 0)
            #expect(try d.docker("cp", src + "/file", "cp1:/etc/copied").status == 0)
            #expect(try d.docker("cp", "cp1:/etc/copied", d.dir + "/back").status == 0)
            #expect(try String(contentsOfFile: d.dir + "/back", encoding: .utf8) == "f\n")
            let id = trimmed(try d.docker("inspect", "-f", "{{.Id}}", "cp1").stdout)
            #expect(!TestDaemon.mounts(under: d.root + "/containers").contains { $0.contains(id) }, "the temporary mount is gone")
        }
    }

    @Test func healthchecks() throws {
        try withImage { d in
            let since = String(Int(Date().timeIntervalSince1970) - 1)
            #expect(try d.docker("run", "-d", "--name", "hc", "--health-cmd", "test -f /tmp/ok", "--health-interval", "300ms",
                                 "--health-retries", "2", "busybox:test", "sh", "-c", "touch /tmp/ok; sleep 60").status == 0)
            func health(_ n: String) throws -> String { trimmed(try d.docker("inspect", "-f", "{{.State.Health.Status}}", n).stdout) }
            #expect(try health("hc") == "starting")
            #expect(try eventually(10) { try health("hc") == "healthy" })
            #expect(try d.docker("ps", "--format", "{{.Status}}", "--filter", "name=hc").stdout.contains("(healthy)"))
            #expect(try d.docker("exec", "hc", "rm", "/tmp/ok").status == 0)
            #expect(try eventually(10) { try health("hc") == "unhealthy" })
            let streak = Int(trimmed(try d.docker("inspect", "-f", "{{.State.Health.FailingStreak}}", "hc").stdout)) ?? 0
            #expect(streak >= 2)
            // The log keeps the last five probes.
            #expect(try eventually(10) { trimmed(try d.docker("inspect", "-f", "{{len .State.Health.Log}}", "hc").stdout) == "5" })
            usleep(700_000)
            #expect(trimmed(try d.docker("inspect", "-f", "{{len .State.Health.Log}}", "hc").stdout) == "5")
            // A probe that outlives its timeout fails with Docker's message.
            #expect(try d.docker("run", "-d", "--name", "slow", "--health-cmd", "sleep 5", "--health-interval", "200ms",
                                 "--health-timeout", "300ms", "--health-retries", "1", "busybox:test", "sleep", "60").status == 0)
            #expect(try eventually(10) { try health("slow") == "unhealthy" })
            #expect(try d.docker("inspect", "-f", "{{(index .State.Health.Log 0).Output}}", "slow").stdout.contains("Health check exceeded timeout (300ms)"))
            // --health-cmd none (and no healthcheck) has no Health.
            #expect(try d.docker("run", "-d", "--name", "none", "--no-healthcheck", "busybox:test", "sleep", "60").status == 0)
            #expect(trimmed(try d.docker("inspect", "-f", "{{.State.Health}}", "none").stdout) == "<nil>")
            let until = String(Int(Date().timeIntervalSince1970) + 1)
            let events = try d.docker("events", "--since", since, "--until", until, "--filter", "container=hc")
            #expect(events.stdout.contains("health_status: healthy") && events.stdout.contains("health_status: unhealthy"), "\(events.stdout)")
            // Probes are not left behind as exec instances: at most the user's `docker exec` and
            // the probe in flight, after a dozen probes.
            let execs = Int(trimmed(try d.docker("inspect", "-f", "{{len .ExecIDs}}", "hc").stdout)) ?? 99
            #expect(execs <= 2, "ExecIDs: \(execs)")
        }
    }

    @Test func pruneAndSizes() throws {
        try withImage { d in
            #expect(try d.docker("run", "--name", "writer", "--label", "keep=no", "busybox:test", "sh", "-c", "head -c 100000 /dev/zero > /blob").status == 0)
            #expect(try d.docker("create", "--name", "fresh", "--label", "keep=yes", "busybox:test", "true").status == 0)
            #expect(try d.docker("run", "-d", "--name", "alive", "busybox:test", "sleep", "30").status == 0)
            let sizes = try d.docker("ps", "-a", "-s", "--filter", "name=writer", "--format", "{{.Size}}")
            #expect(sizes.stdout.hasPrefix("100kB") || sizes.stdout.hasPrefix("100.1kB") || sizes.stdout.hasPrefix("1"), "\(sizes.stdout)")
            let rw = Int(trimmed(try d.docker("inspect", "-s", "-f", "{{.SizeRw}}", "writer").stdout)) ?? 0
            #expect(rw >= 100_000 && rw < 120_000, "\(rw)")
            // Prune with a label filter keeps what does not match; running containers stay.
            let some = try d.docker("container", "prune", "-f", "--filter", "label=keep=no")
            #expect(some.status == 0, "\(some.stderr)")
            #expect(some.stdout.contains("Total reclaimed space:"), "\(some.stdout)")
            #expect(try d.docker("inspect", "writer").status != 0)
            #expect(try d.docker("inspect", "fresh").status == 0)
            let rest = try d.docker("container", "prune", "-f")
            #expect(rest.status == 0)
            #expect(trimmed(try d.docker("ps", "-a", "--format", "{{.Names}}").stdout) == "alive")
        }
    }

    /// The issue's crash test: 20 running containers and 5 that exit on their own while berthd
    /// is down (kill -9), plus an AutoRemove one; after the restart all are accounted for.
    @Test func crashWithTwentyFiveContainers() throws {
        try withImage { d in
            for i in 0..<20 {
                let r = try d.docker("run", "-d", "--name", "up\(i)", "busybox:test", "sh", "-c", "echo up\(i); exec sleep 300")
                #expect(r.status == 0, "\(r.stderr)")
            }
            for i in 0..<5 {
                let r = try d.docker("run", "-d", "--name", "down\(i)", "busybox:test", "sh", "-c",
                                     "echo start\(i); sleep 1.5; echo end\(i); exit \(i + 1)")
                #expect(r.status == 0, "\(r.stderr)")
            }
            #expect(try d.docker("run", "-d", "--rm", "--name", "gone", "busybox:test", "sleep", "1").status == 0)
            d.crash()
            sleep(3)
            try d.start()
            let ps = try d.docker("ps", "-a", "--format", "{{.Names}} {{.State}}")
            let states = Dictionary(uniqueKeysWithValues: ps.stdout.split(separator: "\n").map { line -> (String, String) in
                let f = line.split(separator: " "); return (String(f[0]), String(f.last ?? ""))
            })
            for i in 0..<20 { #expect(states["up\(i)"] == "running", "up\(i): \(states["up\(i)"] ?? "missing")") }
            for i in 0..<5 { #expect(states["down\(i)"] == "exited", "down\(i): \(states["down\(i)"] ?? "missing")") }
            #expect(eventually(10) { (try? d.docker("inspect", "gone"))?.status != 0 }, "the AutoRemove container is still there")
            for i in 0..<5 {
                let st = trimmed(try d.docker("inspect", "-f", "{{.State.ExitCode}} {{.State.FinishedAt}}", "down\(i)").stdout)
                #expect(st.hasPrefix("\(i + 1) ") && !st.hasSuffix("0001-01-01T00:00:00Z"), "down\(i): \(st)")
                #expect(try d.docker("logs", "down\(i)").stdout == "start\(i)\nend\(i)\n")
            }
            for i in [0, 7, 19] {
                #expect(try d.docker("logs", "up\(i)").stdout == "up\(i)\n")
                #expect(try d.docker("exec", "up\(i)", "true").status == 0)
            }
        }
    }
}
