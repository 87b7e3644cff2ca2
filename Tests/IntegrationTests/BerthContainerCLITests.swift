import Foundation
import Testing

/// The container commands of our own `berth` CLI against a real berthd: output and exit codes
/// as docker's.
@Suite(.serialized)
struct BerthContainerCLITests {
    func trimmed(_ s: String) -> String { s.trimmingCharacters(in: .whitespacesAndNewlines) }

    @Test func runPsLogsExecStopRemove() throws {
        try withDaemon { d in
            #expect(try d.berth("load", "-i", Paths.testImage).status == 0)
            let hi = try d.berth("run", "--rm", "busybox:test", "echo", "hi")
            #expect(hi.status == 0, "\(hi.stderr)")
            #expect(hi.stdout == "hi\n")
            let three = try d.berth("run", "--name", "three", "busybox:test", "sh", "-c", "echo out; echo err >&2; exit 3")
            #expect(three.status == 3)
            #expect(three.stdout == "out\n")
            #expect(three.stderr == "err\n")
            let piped = try d.berth("run", "-i", "--rm", "busybox:test", "wc", "-c", stdin: Data(repeating: 65, count: 100_000))
            #expect(trimmed(piped.stdout) == "100000", "\(piped.stderr)")
            let notFound = try d.berth("run", "--rm", "busybox:test", "no-such-program")
            #expect(notFound.status == 127)
            #expect(notFound.stderr.contains("executable file not found"))
            let noImage = try d.berth("run", "--rm", "busybox:nope", "true")
            #expect(noImage.status == 125)
            #expect(noImage.stderr.contains("Unable to find image 'busybox:nope' locally"), "\(noImage.stderr)")

            let id = trimmed(try d.berth("run", "-d", "--name", "web", "-e", "GREETING=hello", "--memory", "64m", "--cpus", "0.5",
                                         "--label", "app=web", "busybox:test",
                                         "sh", "-c", "echo $GREETING; while true; do sleep 0.1; done").stdout)
            #expect(id.count == 64)
            let ps = try d.berth("ps", "--format", "{{.Names}} {{.Image}} {{.Command}} {{.State}}")
            #expect(trimmed(ps.stdout) == "web busybox:test \"sh -c 'echo $GREETI…\" running", "\(ps.stdout)")
            let table = try d.berth("ps", "-a")
            #expect(table.stdout.hasPrefix("CONTAINER ID   IMAGE          COMMAND                  CREATED"), "\(table.stdout)")
            #expect(table.stdout.contains("Exited (3)"))
            let quiet = try d.berth("ps", "-q", "--filter", "label=app=web")
            #expect(trimmed(quiet.stdout) == String(id.prefix(12)))
            let inspect = try d.berth("inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.State.Running}}", "web")
            #expect(trimmed(inspect.stdout) == "67108864 500000000 true", "\(inspect.stdout) \(inspect.stderr)")
            usleep(300_000)
            #expect(try d.berth("logs", "web").stdout == "hello\n")
            let exec = try d.berth("exec", "-e", "X=2", "web", "sh", "-c", "echo $X; exit 9")
            #expect(exec.status == 9)
            #expect(exec.stdout == "2\n")
            #expect(trimmed(try d.berth("stop", "-t", "1", "web").stdout) == "web")
            #expect(trimmed(try d.berth("wait", "web").stdout) == "137")
            let started = try d.berth("start", "-a", "three")
            #expect(started.stdout == "out\n", "\(started.stderr)")
            #expect(try d.berth("kill", "three").status != 0)
            let rm = try d.berth("rm", "web", "three")
            #expect(rm.stdout == "web\nthree\n")
            #expect(trimmed(try d.berth("ps", "-aq").stdout).isEmpty)
            let missing = try d.berth("rm", "ghost")
            #expect(missing.status == 1)
            #expect(missing.stderr.contains("No such container: ghost"))
        }
    }

    @Test func lifecycleCommands() throws {
        try withImage { d in
            #expect(try d.berth("run", "-d", "--name", "life", "-p", "127.0.0.1::80", "busybox:test", "sh", "-c",
                                "echo hi > /new; rm /etc/motd 2>/dev/null; httpd -f -p 80 -h /etc").status == 0)
            // pause / unpause as docker prints them.
            let pause = try d.berth("pause", "life")
            #expect(pause.status == 0 && trimmed(pause.stdout) == "life", "\(pause.stderr)")
            #expect(trimmed(try d.docker("inspect", "-f", "{{.State.Status}}", "life").stdout) == "paused")
            #expect(try d.berth("unpause", "life").status == 0)
            // rename, then everything by the new name.
            #expect(try d.berth("rename", "life", "life2").status == 0)
            let top = try d.berth("top", "life2")
            #expect(top.stdout.hasPrefix("UID") || top.stdout.hasPrefix("PID"), "\(top.stdout) \(top.stderr)")
            #expect(top.stdout.contains("httpd -f -p 80"), "\(top.stdout)")
            let port = try d.berth("port", "life2")
            #expect(port.stdout.hasPrefix("80/tcp -> 127.0.0.1:"), "\(port.stdout) \(port.stderr)")
            #expect(trimmed(try d.berth("port", "life2", "80").stdout) == trimmed(try d.docker("port", "life2", "80").stdout))
            let noPort = try d.berth("port", "life2", "81")
            #expect(noPort.status == 1 && noPort.stderr.contains("No public port '81/tcp' published for life2"), "\(noPort.stderr)")
            let diff = try d.berth("diff", "life2")
            #expect(diff.stdout.contains("A /new"), "\(diff.stdout)")
            #expect(diff.stdout == (try d.docker("diff", "life2").stdout))
            // update then stats: the new memory limit shows in the table.
            let update = try d.berth("update", "--memory", "64m", "--memory-swap", "128m", "--restart", "on-failure:2", "life2")
            #expect(update.status == 0 && trimmed(update.stdout) == "life2", "\(update.stderr)")
            #expect(trimmed(try d.docker("inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.RestartPolicy.Name}}", "life2").stdout)
                    == "67108864 on-failure")
            let stats = try d.berth("stats", "--no-stream", "life2")
            let lines = stats.stdout.split(separator: "\n")
            #expect(lines.count == 2 && lines[0].hasPrefix("CONTAINER ID   NAME    CPU %"), "\(stats.stdout) \(stats.stderr)")
            #expect(lines.count == 2 && lines[1].contains("/ 64MiB") && lines[1].contains(" life2 "), "\(stats.stdout)")
            let bad = try d.berth("update", "life2")
            #expect(bad.status != 0 && bad.stderr.contains("you must provide one or more flags"), "\(bad.stderr)")
            // export to a file: a tar holding the container's new file.
            let tar = d.dir + "/life.tar"
            #expect(try d.berth("export", "-o", tar, "life2").status == 0)
            let listing = try runCommand(["tar", "-tf", tar])
            #expect(listing.stdout.split(separator: "\n").contains("new"), "\(listing.stdout.prefix(200))")
            // prune: only stopped containers go.
            #expect(try d.berth("create", "--name", "idle", "busybox:test", "true").status == 0)
            let prune = try d.berth("container", "prune", "-f")
            #expect(prune.status == 0 && prune.stdout.contains("Deleted Containers:") && prune.stdout.contains("Total reclaimed space:"), "\(prune.stdout)")
            #expect(try d.docker("inspect", "idle").status != 0)
            #expect(try d.docker("inspect", "life2").status == 0)
        }
    }
}
