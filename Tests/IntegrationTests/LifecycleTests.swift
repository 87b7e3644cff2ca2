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
}
