import BerthCore
import BerthOCI
import BerthRuntime
import BerthSystem
import Foundation
import Testing

/// Real containers from the busybox bundle, checked from the inside with busybox probes.
/// Root only (CI runs as root).
@Suite("containers")
struct ContainerTests {
    static let dockerCapMask = "00000000a80425fb"

    func withHarness(_ body: (RuntimeHarness) throws -> Void) throws {
        let h = try RuntimeHarness()
        defer { h.cleanUp() }
        try body(h)
    }

    func dockerSeccomp() throws -> RuntimeSpec.Seccomp {
        try DockerSeccompProfile.default.ociConfig(capabilities: SecurityDefaults.capabilities)
    }

    @Test func pid1IsTheCommandAndHostnameIsSet() throws {
        try withHarness { h in
            let r = try h.runContainer("p1", ["sh", "-c", "echo pid=$$; hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo"])
            #expect(r.code == 0, "\(r.stderr)")
            let lines = r.stdout.split(separator: "\n").map(String.init)
            #expect(lines.first == "pid=1")
            #expect(lines.contains("berth-test"))
            #expect(lines.contains { $0.hasPrefix("sh -c echo pid") })
        }
    }

    @Test func hostProcessesAreInvisible() throws {
        try withHarness { h in
            let r = try h.runContainer("ps", ["sh", "-c", "ls /proc | grep -c '^[0-9]'"])
            #expect(r.code == 0, "\(r.stderr)")
            // sh, ls and grep at most.
            #expect((Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 99) <= 3, "\(r.stdout)")
        }
    }

    @Test func capabilitiesNoNewPrivsAndSeccomp() throws {
        let seccomp = try dockerSeccomp()
        try withHarness { h in
            let r = try h.runContainer("caps", ["cat", "/proc/self/status"]) { $0.linux?.seccomp = seccomp }
            #expect(r.code == 0, "\(r.stderr)")
            func field(_ name: String) -> String? {
                r.stdout.split(separator: "\n").first { $0.hasPrefix(name + ":") }
                    .map { $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces) }
            }
            #expect(field("CapEff") == Self.dockerCapMask)
            #expect(field("CapPrm") == Self.dockerCapMask)
            #expect(field("CapBnd") == Self.dockerCapMask)
            #expect(field("CapAmb") == "0000000000000000")
            #expect(field("NoNewPrivs") == "1")
            #expect(field("Seccomp") == "2")
        }
    }

    @Test func seccompBlocksWhatTheProfileBlocks() throws {
        let seccomp = try dockerSeccomp()
        try withHarness { h in
            // unshare(CLONE_NEWUSER) needs no capability, so only the seccomp profile stops it.
            let blocked = try h.runContainer("sc1", ["unshare", "-U", "true"]) { $0.linux?.seccomp = seccomp }
            #expect(blocked.code != 0)
            #expect(blocked.stderr.contains("Operation not permitted"), "\(blocked.stderr)")
            let allowed = try h.runContainer("sc2", ["unshare", "-U", "true"])
            #expect(allowed.code == 0, "without seccomp: \(allowed.stderr)")
        }
    }

    @Test func maskedPathsAndReadOnlySys() throws {
        try withHarness { h in
            let r = try h.runContainer("mask", ["sh", "-c", """
                echo kcore=$(cat /proc/kcore | wc -c)
                echo keys=$(cat /proc/keys | wc -c)
                echo firmware=$(ls /sys/firmware | wc -l)
                touch /sys/berth 2>/dev/null && echo sys=rw || echo sys=ro
                echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo procsys=rw || echo procsys=ro
                grep ' /sys ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1
                """])
            #expect(r.code == 0, "\(r.stderr)")
            let out = r.stdout
            #expect(out.contains("kcore=0"))
            #expect(out.contains("keys=0"))
            #expect(out.contains("firmware=0"))
            #expect(out.contains("sys=ro"))
            #expect(out.contains("procsys=ro"))
            #expect(out.split(separator: "\n").last == "ro")
        }
    }

    @Test func devIsPopulated() throws {
        try withHarness { h in
            let r = try h.runContainer("dev", ["sh", "-c", "ls -l /dev/null /dev/zero /dev/urandom /dev/tty | cut -c1; readlink /dev/ptmx; readlink /dev/fd; head -c 4 /dev/zero | wc -c"])
            #expect(r.code == 0, "\(r.stderr)")
            #expect(r.stdout == "c\nc\nc\nc\npts/ptmx\n/proc/self/fd\n4\n", "\(r.stdout)")
        }
    }

    @Test func bindAndTmpfsMountsAsSpecified() throws {
        try withHarness { h in
            let host = "\(h.dir)/shared"
            try FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
            try "from-host\n".write(toFile: "\(host)/greeting", atomically: true, encoding: .utf8)
            let r = try h.runContainer("mnt", ["sh", "-c", """
                cat /data/greeting
                echo written > /data/out
                echo x > /ro/y 2>/dev/null && echo ro-writable || echo ro-readonly
                grep ' /scratch ' /proc/mounts | cut -d' ' -f3,4
                """]) { spec in
                spec.mounts? += [
                    .init(destination: "/data", type: "bind", source: host, options: ["rbind", "rw"]),
                    .init(destination: "/ro", type: "bind", source: host, options: ["bind", "ro"]),
                    .init(destination: "/scratch", type: "tmpfs", source: "tmpfs", options: ["nosuid", "size=1m", "mode=700"]),
                ]
            }
            #expect(r.code == 0, "\(r.stderr)")
            let lines = r.stdout.split(separator: "\n").map(String.init)
            #expect(lines.first == "from-host")
            #expect(lines.contains("ro-readonly"))
            #expect(lines.last?.hasPrefix("tmpfs rw,nosuid") == true, "\(lines)")
            #expect(lines.last?.contains("size=1024k") == true, "\(lines)")
            #expect((try? String(contentsOfFile: "\(host)/out", encoding: .utf8)) == "written\n")
        }
    }

    @Test func readonlyRoot() throws {
        try withHarness { h in
            let r = try h.runContainer("rofs", ["sh", "-c", "touch /x 2>&1; echo tmp; touch /dev/shm/ok && echo shm-ok"]) {
                $0.root?.readonly = true
            }
            #expect(r.stdout.contains("Read-only file system"), "\(r.stdout)")
            #expect(r.stdout.contains("shm-ok"))
        }
    }

    @Test func exitCodesAndSignals() throws {
        try withHarness { h in
            #expect(try h.runContainer("e3", ["sh", "-c", "exit 3"]).code == 3)
            #expect(try h.runContainer("e0", ["true"]).code == 0)
            // A pid namespace's init ignores signals it has no handler for (even SIGKILL from
            // inside), so 128+signal is checked without one; `kill` from outside is checked below.
            let noPidNS: (inout RuntimeSpec) -> Void = { $0.linux?.namespaces?.removeAll { $0.type == "pid" } }
            #expect(try h.runContainer("k9", ["sh", "-c", "kill -9 $$"], edit: noPidNS).code == 137)
            #expect(try h.runContainer("k15", ["sh", "-c", "kill -TERM $$; sleep 1"], edit: noPidNS).code == 143)
            let missing = try h.runContainer("nx", ["/no/such/program"])
            #expect(missing.code != 0)
            #expect(missing.stderr.contains("/no/such/program"), "\(missing.stderr)")
        }
    }

    @Test func killReachesPid1() throws {
        try withHarness { h in
            let b = try h.bundle("sig", args: ["sh", "-c", "trap 'exit 7' TERM; echo ready; while true; do sleep 0.1; done"])
            let c = try h.initCmd(["create", "--bundle", b, "sig"])
            #expect(c.code == 0, "\(c.stderr)")
            #expect(try h.initCmd(["state", "sig"]).stdout.contains("\"created\""))
            #expect(try h.initCmd(["start", "sig"]).code == 0)
            #expect(try h.initCmd(["state", "sig"]).stdout.contains("\"running\""))
            // PID 1 ignores TERM until its trap is set, so repeat it until the container exits
            // (bounded): no guess about how long the shell takes to start.
            for _ in 0..<300 where !FileManager.default.fileExists(atPath: "\(h.stateRoot)/sig/exit.json") {
                let k = try h.initCmd(["kill", "sig", "TERM"])
                #expect(k.code == 0 || k.stderr.contains("is not running"), "\(k.stderr)")
                usleep(100_000)
            }
            let exit = try h.waitExit("sig")
            #expect(exit.exitCode == 7)
            #expect(exit.startedAt != nil)
            #expect(try h.initCmd(["state", "sig"]).stdout.contains("\"stopped\""))
            #expect(try h.initCmd(["delete", "sig"]).code == 0)
            #expect(!FileManager.default.fileExists(atPath: "\(h.stateRoot)/sig"))
        }
    }

    @Test func memoryLimitOOMKills() throws {
        try withHarness { h in
            let b = try h.bundle("oom", args: ["sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived"]) {
                $0.linux?.resources?.memory = .init(limit: 32 << 20, swap: 32 << 20)
            }
            #expect(try h.initCmd(["create", "--bundle", b, "oom"]).code == 0)
            #expect(try h.initCmd(["start", "oom"]).code == 0)
            let exit = try h.waitExit("oom", timeout: 60)
            #expect(exit.oomKilled)
            #expect(exit.exitCode == 137)
        }
    }

    @Test func pidsLimitMakesForkFail() throws {
        try withHarness { h in
            let r = try h.runContainer("pids", ["sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 2 & done; wait; echo end"]) {
                $0.linux?.resources?.pids = .init(limit: 5)
            }
            #expect(r.stderr.contains("can't fork") || r.stderr.contains("Resource temporarily unavailable"), "\(r.stderr)")
        }
    }

    @Test func cpuLimitsVisibleInCgroupFiles() throws {
        try withHarness { h in
            let r = try h.runContainer("cpu", ["sh", "-c", """
                if [ -f /sys/fs/cgroup/cpu.max ]; then cat /sys/fs/cgroup/cpu.max; \
                else echo "$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)"; \
                cat /sys/fs/cgroup/cpu/cpu.shares; cat /sys/fs/cgroup/memory/memory.limit_in_bytes; fi
                """]) {
                $0.linux?.resources?.cpu = .init(shares: 512, quota: 50000, period: 100000)
                $0.linux?.resources?.memory = .init(limit: 64 << 20)
            }
            #expect(r.code == 0, "\(r.stderr)")
            #expect(r.stdout.hasPrefix("50000 100000\n"), "\(r.stdout)")
            if !r.stdout.hasPrefix("50000 100000\nmax") {
                #expect(r.stdout.contains("\n512\n"))
                #expect(r.stdout.contains("\(64 << 20)"))
            }
        }
    }

    @Test func terminalGivesAPty() throws {
        try withHarness { h in
            let r = try h.runContainer("tty", ["tty"]) { $0.process?.terminal = true }
            #expect(r.code == 0, "\(r.stderr)")
            #expect(r.stdout.hasPrefix("/dev/pts/"), "\(r.stdout)")
        }
    }

    @Test func userNamespaceWithMappings() throws {
        try withHarness { h in
            let b = try h.bundle("userns", args: ["sh", "-c", "id -u; cat /proc/self/uid_map"]) { spec in
                spec.linux?.namespaces?.append(.init(type: "user"))
                spec.linux?.uidMappings = [.init(containerID: 0, hostID: 100000, size: 65536)]
                spec.linux?.gidMappings = [.init(containerID: 0, hostID: 100000, size: 65536)]
                // sysfs can't be mounted in a user namespace without its own network namespace
                // owner; keep the default set, which has one.
            }
            _ = try h.run("/bin/chown", ["-R", "100000:100000", "\(b)/rootfs"])
            let r = try h.initCmd(["run", "--bundle", b, "userns"])
            #expect(r.code == 0, "\(r.stderr)")
            let lines = r.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
            #expect(lines.first == "0")
            #expect(lines.contains("0 100000 65536"), "\(lines)")
        }
    }

    @Test func execJoinsTheContainer() throws {
        try withHarness { h in
            let b = try h.bundle("ex", args: ["sleep", "30"])
            #expect(try h.initCmd(["run", "--detach", "--bundle", b, "ex"]).code == 0)
            let r = try h.initCmd(["exec", "ex", "sh", "-c", "hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; grep CapEff /proc/self/status"])
            #expect(r.code == 0, "\(r.stderr)")
            #expect(r.stdout.contains("berth-test\nsleep 30 \n"), "\(r.stdout)")
            #expect(r.stdout.contains(Self.dockerCapMask))
            #expect(try h.initCmd(["exec", "ex", "sh", "-c", "exit 5"]).code == 5)
            #expect(try h.initCmd(["kill", "ex", "KILL"]).code == 0)
            #expect(try h.waitExit("ex").exitCode == 137)
        }
    }

    @Test func jsonFileLog() throws {
        try withHarness { h in
            let b = try h.bundle("log", args: ["sh", "-c", "echo out1; echo err1 >&2; printf 'no newline <&>'"])
            let log = "\(h.dir)/log.json"
            let r = try h.initCmd(["run", "--log-path", log, "--bundle", b, "log"])
            #expect(r.code == 0, "\(r.stderr)")
            let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
            #expect(lines.count == 3)
            let records = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] ?? [:] }
            #expect(records.contains { $0["log"] == "out1\n" && $0["stream"] == "stdout" })
            #expect(records.contains { $0["log"] == "err1\n" && $0["stream"] == "stderr" })
            #expect(records.contains { $0["log"] == "no newline <&>" })
            #expect(lines.contains { $0.contains("\\u003c\\u0026\\u003e") })
            for rec in records { #expect(rec["time"]?.hasSuffix("Z") == true) }
        }
    }
}

/// The same bundle runs under runc and under berth-init, with the same view from inside.
@Suite("runc compatibility")
struct RuncCompatibilityTests {
    @Test func runcSpecBundleRunsUnderBoth() throws {
        let runc = ["/usr/sbin/runc", "/usr/bin/runc"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let runc else {
            Issue.record("runc is not installed (scripts/setup installs it)")
            return
        }
        let h = try RuntimeHarness()
        defer { h.cleanUp() }
        let b = try h.bundle("compat", args: ["true"])
        try FileManager.default.removeItem(atPath: "\(b)/config.json")
        let spec = try h.run(runc, ["spec", "--bundle", b])
        #expect(spec.code == 0, "\(spec.stderr)")
        // runc's own default config, with a probe as the program and a cgroup of the test's.
        // The PID count is the shell's own glob (a pipeline like `ls /proc | grep -c` races:
        // grep may or may not exist yet when ls reads /proc).
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(b)/config.json"))) as? [String: Any] ?? [:]
        var process = config["process"] as? [String: Any] ?? [:]
        process["terminal"] = false
        process["args"] = ["sh", "-c", "hostname; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status; set -- /proc/[0-9]*; echo $#; cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max; touch /sys/fs/cgroup/x 2>/dev/null || echo cgroupfs-ro"]
        config["process"] = process
        var linux = config["linux"] as? [String: Any] ?? [:]
        linux["resources"] = ["pids": ["limit": 42], "devices": [["allow": false, "access": "rwm"]]]
        linux["cgroupsPath"] = "\(h.cgroupParent)/compat"
        config["linux"] = linux
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: "\(b)/config.json"))

        let ours = try h.initCmd(["run", "--bundle", b, "compat"])
        #expect(ours.code == 0, "berth-init: \(ours.stderr)")
        let theirs = try h.run(runc, ["--root", "\(h.dir)/runc-state", "run", "--bundle", b, "compat-runc"])
        #expect(theirs.code == 0, "runc: \(theirs.stderr)")
        #expect(ours.stdout == theirs.stdout, "berth-init:\n\(ours.stdout)\nrunc:\n\(theirs.stdout)")
        #expect(ours.stdout.contains("42\ncgroupfs-ro"), "\(ours.stdout)")
    }
}

/// `process.terminal` with `create --console-socket`: the pty master arrives over the socket, as
/// with runc, and the container's output comes through it.
@Suite("console socket")
struct ConsoleSocketTests {
    @Test func masterArrivesOverTheSocket() throws {
        let h = try RuntimeHarness()
        defer { h.cleanUp() }
        let b = try h.bundle("con", args: ["sh", "-c", "tty; echo via-pty"]) { $0.process?.terminal = true }
        let path = "\(h.dir)/console.sock"
        let listener = try UnixSocket.listen(path)
        defer { close(listener) }
        let c = try h.initCmd(["create", "--console-socket", path, "--bundle", b, "con"])
        #expect(c.code == 0, "\(c.stderr)")
        let conn = accept(listener, nil, nil)
        try #require(conn >= 0)
        defer { close(conn) }
        let (tag, master) = try UnixSocket.receive(conn)
        #expect(!tag.isEmpty)
        try #require(master >= 0, "no descriptor came with the message")
        defer { close(master) }
        #expect(try h.initCmd(["start", "con"]).code == 0)
        _ = try h.waitExit("con")
        var out = [UInt8](repeating: 0, count: 4096)
        let n = read(master, &out, out.count)
        let text = String(decoding: out[0..<max(n, 0)], as: UTF8.self)
        #expect(text.contains("/dev/pts/0"), "\(text)")
        #expect(text.contains("via-pty"), "\(text)")
    }
}

/// The process settings of the spec, each checked from inside.
@Suite("process settings")
struct ProcessSettingsTests {
    @Test func userGroupsUmaskRlimitsCwdEnvOomScoreSysctl() throws {
        let h = try RuntimeHarness()
        defer { h.cleanUp() }
        let r = try h.runContainer("proc", ["sh", "-c", """
            echo uid=$(id -u) gid=$(id -g) groups=$(id -G)
            echo umask=$(umask)
            echo nofile=$(ulimit -n)
            echo cwd=$(pwd)
            echo greeting=$GREETING home=$HOME
            echo oom=$(cat /proc/self/oom_score_adj)
            echo forward=$(cat /proc/sys/net/ipv4/ip_forward)
            grep -E '^Cap(Eff|Prm|Amb)' /proc/self/status
            """]) { spec in
            spec.process?.user = .init(uid: 1000, gid: 1000, umask: 0o027, additionalGids: [5, 65534])
            spec.process?.rlimits = [.init(type: "RLIMIT_NOFILE", hard: 512, soft: 256)]
            spec.process?.cwd = "/tmp"
            spec.process?.env = ["PATH=/bin:/usr/bin", "GREETING=hello world"]
            spec.process?.oomScoreAdj = 500
            spec.linux?.sysctl = ["net.ipv4.ip_forward": "1"]
            // Non-root keeps only ambient capabilities (which need inheritable too).
            spec.process?.capabilities = .init(bounding: ["CAP_NET_BIND_SERVICE", "CAP_CHOWN"],
                                               effective: ["CAP_NET_BIND_SERVICE"], inheritable: ["CAP_NET_BIND_SERVICE"],
                                               permitted: ["CAP_NET_BIND_SERVICE"], ambient: ["CAP_NET_BIND_SERVICE"])
        }
        #expect(r.code == 0, "\(r.stderr)")
        let out = r.stdout
        #expect(out.contains("uid=1000 gid=1000 groups=1000 5 65534"), "\(out)")
        #expect(out.contains("umask=0027"), "\(out)")
        #expect(out.contains("nofile=256"), "\(out)")
        #expect(out.contains("cwd=/tmp"), "\(out)")
        #expect(out.contains("greeting=hello world home=/"), "\(out)")
        #expect(out.contains("oom=500"), "\(out)")
        #expect(out.contains("forward=1"), "\(out)")
        // CAP_NET_BIND_SERVICE is bit 10: 0x400.
        #expect(out.contains("CapEff:\t0000000000000400"), "\(out)")
        #expect(out.contains("CapAmb:\t0000000000000400"), "\(out)")
    }

    @Test func aFailingSysctlNamesTheKey() throws {
        let h = try RuntimeHarness()
        defer { h.cleanUp() }
        let bad = try h.runContainer("sysctl", ["true"]) { $0.linux?.sysctl = ["kernel.no_such_knob": "1"] }
        #expect(bad.code != 0)
        #expect(bad.stderr.contains("sysctl kernel.no_such_knob=1"), "\(bad.stderr)")
        #expect(h.leftoverCgroups().isEmpty)
    }
}
