import BerthTestSupport
import Foundation
import Testing

/// Images travel between Berth and the real Docker engine (Debian's dockerd) with the same IDs.
@Suite(.serialized)
struct DockerdRoundTripTests {
    @Test func saveAndLoadBothWays() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/dockerd") else {
            Issue.record("dockerd is not installed (scripts/setup installs docker.io)")
            return
        }
        try withDaemon { berth in
            let dir = berth.dir + "/dockerd"
            let sock = dir + "/docker.sock"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/sbin/dockerd")
            p.arguments = ["--storage-driver=overlay2", "--data-root", dir + "/data", "--exec-root", dir + "/exec",
                           "-H", "unix://" + sock, "--pidfile", dir + "/docker.pid", "--bridge=none", "--iptables=false",
                           "--ip6tables=false", "--containerd-namespace", "berth-test", "--containerd-plugins-namespace", "berth-test-plugins"]
            let log = dir + "/dockerd.log"
            FileManager.default.createFile(atPath: log, contents: nil)
            p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            p.standardError = p.standardOutput
            try p.run()
            defer {
                p.terminate()
                p.waitUntilExitReliably()
                // dockerd leaves its overlay mounts behind only if killed; unmount anything under dir.
                _ = try? runCommand(["sh", "-c", "grep -o ' \(dir)[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l"])
            }
            func docker(_ args: String...) throws -> CommandResult {
                try runCommand(["docker"] + args, env: ["DOCKER_HOST": "unix://" + sock, "DOCKER_CONFIG": dir + "/cfg"])
            }
            var up = false
            for _ in 0..<300 {
                if (try? docker("version"))?.status == 0 { up = true; break }
                usleep(100_000)
            }
            guard up else {
                Issue.record("dockerd did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
                return
            }
            // Berth → Docker.
            #expect(try berth.docker("load", "-i", Paths.testImage).status == 0)
            #expect(try berth.docker("tag", "busybox:test", "roundtrip/one:1").status == 0)
            let fromBerth = berth.dir + "/from-berth.tar"
            #expect(try berth.docker("save", "-o", fromBerth, "busybox:test", "roundtrip/one:1").status == 0)
            let load = try docker("load", "-i", fromBerth)
            #expect(load.status == 0, "\(load.stderr)")
            let berthID = try berth.docker("image", "inspect", "busybox:test", "--format", "{{.Id}}").stdout
            let dockerID = try docker("image", "inspect", "roundtrip/one:1", "--format", "{{.Id}}").stdout
            #expect(berthID == dockerID)
            #expect(berthID.hasPrefix("sha256:"))
            // Docker → Berth (Docker 20.10 writes the legacy layout: <id>/layer.tar).
            #expect(try docker("tag", "busybox:test", "fromdocker/two:2").status == 0)
            let fromDocker = berth.dir + "/from-docker.tar"
            #expect(try docker("save", "-o", fromDocker, "fromdocker/two:2").status == 0)
            #expect(try berth.docker("rmi", "busybox:test", "roundtrip/one:1").status == 0)
            let back = try berth.docker("load", "-i", fromDocker)
            #expect(back.status == 0, "\(back.stderr)")
            #expect(try berth.docker("image", "inspect", "fromdocker/two:2", "--format", "{{.Id}}").stdout == dockerID)
            try verifyStore(berth.root)
        }
    }
}
