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
}
