import Foundation
import Testing

/// `--isolation vm`: containers in a VM of their own (Debian's cloud kernel under TCG here),
/// with the Swift guest agent as PID 1. Few boots (each is ~3-5 s under TCG); serialized.
@Suite(.serialized)
struct VMIsolationTests {
    func trimmed(_ s: String) -> String { s.trimmingCharacters(in: .whitespacesAndNewlines) }

    /// The release of the kernel BerthVM boots (`/boot/vmlinuz-<release>` of the cloud kernel).
    static var guestKernelRelease: String? {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/boot")) ?? [])
            .filter { $0.hasPrefix("vmlinuz-") && $0.hasSuffix("-cloud-amd64") }.sorted().last
            .map { String($0.dropFirst("vmlinuz-".count)) }
    }

    static var available: Bool {
        guestKernelRelease != nil && FileManager.default.fileExists(atPath: "/usr/bin/qemu-system-x86_64")
    }

    /// QEMU processes whose command line names `needle` (a VM's state directory).
    static func qemuProcesses(mentioning needle: String) -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
            guard let pid = Int32(entry), let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
            let cmd = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            return cmd.contains("qemu-system") && cmd.contains(needle) ? pid : nil
        }
    }

    /// virtiofsd processes whose command line names `needle` (a daemon's exec root).
    static func virtiofsdProcesses(mentioning needle: String) -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
            guard let pid = Int32(entry), let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
            let cmd = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            return cmd.contains("virtiofsd") && cmd.contains(needle) ? pid : nil
        }
    }

    @Test(.enabled(if: available, "needs qemu-system-x86 and Debian's cloud kernel (scripts/setup)"))
    func volumesBindsAndTmpfsReachTheGuest() throws {
        try withDaemon { d in
            // A failure must not leave a virtiofsd behind (the daemon's cleanup does not know it).
            defer { for pid in Self.virtiofsdProcesses(mentioning: d.execRoot) { kill(pid, SIGKILL) } }
            #expect(try d.docker("load", "-i", Paths.testImage).status == 0)
            let host = d.dir + "/host"
            try FileManager.default.createDirectory(atPath: host + "/rw", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: host + "/ro", withIntermediateDirectories: true)
            try "read-only data\n".write(toFile: host + "/ro/r.txt", atomically: true, encoding: .utf8)
            try "hello file\n".write(toFile: host + "/greeting", atomically: true, encoding: .utf8)
            let probe = """
                echo from-vm > /vol/v.txt; echo from-vm > /rw/b.txt; cat /etc/greeting /ro/r.txt
                if echo x > /ro/new; then echo ro-writable; fi
                grep ' /scratch ' /proc/mounts; grep ' /t2 ' /proc/mounts; grep ' /ro ' /proc/mounts
                """
            let r = try d.docker("run", "--name", "vmmounts", "--isolation", "vm", "-v", "vmvol:/vol", "-v", host + "/rw:/rw",
                                 "--mount", "type=bind,src=\(host)/ro,dst=/ro,readonly", "-v", host + "/greeting:/etc/greeting:ro",
                                 "--tmpfs", "/scratch:size=1m", "--mount", "type=tmpfs,dst=/t2",
                                 "busybox:test", "sh", "-c", probe)
            #expect(r.status == 0, "\(r.stderr)\n\(d.daemonLog.suffix(2000))")
            #expect(r.stdout.contains("hello file\nread-only data\n"), "\(r.stdout)")
            #expect(r.stderr.contains("Read-only file system"), "\(r.stderr)")
            #expect(!r.stdout.contains("ro-writable"))
            #expect(r.stdout.contains("tmpfs /scratch tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k"), "\(r.stdout)")
            #expect(r.stdout.contains("tmpfs /t2 tmpfs rw,nosuid,nodev,noexec"), "\(r.stdout)")
            #expect(r.stdout.contains(" /ro virtiofs ro,"), "\(r.stdout)")
            // The writes are on the host, seen by a namespace container using the same volume.
            #expect((try? String(contentsOfFile: host + "/rw/b.txt", encoding: .utf8)) == "from-vm\n")
            #expect(!FileManager.default.fileExists(atPath: host + "/ro/new"))
            let vol = try d.docker("run", "--rm", "-v", "vmvol:/vol", "busybox:test", "cat", "/vol/v.txt")
            #expect(trimmed(vol.stdout) == "from-vm", "\(vol.stdout) \(vol.stderr)")
            // The VM is gone, and with it its virtiofsd and the staging mounts.
            let id = trimmed(try d.docker("inspect", "-f", "{{.Id}}", "vmmounts").stdout)
            #expect(Self.virtiofsdProcesses(mentioning: d.execRoot).isEmpty)
            #expect(TestDaemon.mounts(under: d.root + "/containers/" + id).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: d.root + "/containers/" + id + "/vm/share"))
            #expect(try d.docker("rm", "vmmounts").status == 0)
            #expect(try d.docker("volume", "rm", "vmvol").status == 0)
        }
    }

    @Test(.enabled(if: available, "needs qemu-system-x86 and Debian's cloud kernel (scripts/setup)"))
    func runPrintsGuestKernelAndExitCode() throws {
        try withDaemon { d in
            #expect(try d.docker("load", "-i", Paths.testImage).status == 0)
            let guest = try #require(Self.guestKernelRelease)
            let host = trimmed(try runCommand(["uname", "-r"]).stdout)
            let r = try d.berth("run", "--name", "vm1", "--isolation", "vm", "busybox:test", "sh", "-c", "uname -r; exit 7")
            #expect(r.status == 7, "\(r.stderr)\n\(d.daemonLog.suffix(2000))")
            #expect(trimmed(r.stdout) == guest, "stdout \(r.stdout) stderr \(r.stderr)")
            #expect(trimmed(r.stdout) != host)
            let inspect = trimmed(try d.docker("inspect", "-f", "{{.HostConfig.Isolation}} {{.State.Status}} {{.State.ExitCode}}", "vm1").stdout)
            #expect(inspect == "vm exited 7")
            #expect(try d.docker("ps", "-a", "--format", "{{.Names}} {{.Status}}").stdout.contains("vm1 Exited (7)"))
            #expect(trimmed(try d.docker("logs", "vm1").stdout) == guest)
            #expect(try d.docker("rm", "vm1").status == 0)
        }
    }

    @Test(.enabled(if: available, "needs qemu-system-x86 and Debian's cloud kernel (scripts/setup)"))
    func dockerRunAppliesConfigAndKeepsStreamsApart() throws {
        try withDaemon { d in
            #expect(try d.docker("load", "-i", Paths.testImage).status == 0)
            let probe = "echo uid=$(id -u) gid=$(id -g) pwd=$(pwd) foo=$FOO home=$HOME host=$(hostname); echo path=$PATH; echo oops >&2; exit 3"
            let r = try d.docker("run", "--name", "vm2", "--isolation", "vm", "-e", "FOO=bar baz", "-w", "/tmp", "-u", "nobody",
                                 "--hostname", "guesty", "busybox:test", "sh", "-c", probe)
            #expect(r.status == 3, "\(r.stderr)\n\(d.daemonLog.suffix(2000))")
            #expect(r.stdout.contains("uid=65534 gid=65534 pwd=/tmp foo=bar baz home=/nonexistent host=guesty"), "\(r.stdout)")
            #expect(r.stdout.contains("path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"), "\(r.stdout)")
            #expect(!r.stdout.contains("oops"))
            #expect(r.stderr.contains("oops"), "\(r.stderr)")
            // The json-file log keeps the streams apart too.
            let out = try runCommand(["sh", "-c", "docker logs vm2 2>/dev/null"], env: ["DOCKER_HOST": d.host])
            #expect(out.stdout.contains("uid=65534") && !out.stdout.contains("oops"), "\(out.stdout)")
            let err = try runCommand(["sh", "-c", "docker logs vm2 2>&1 >/dev/null"], env: ["DOCKER_HOST": d.host])
            #expect(trimmed(err.stdout) == "oops", "\(err.stdout)")
            #expect(try d.docker("rm", "vm2").status == 0)
        }
    }

    @Test(.enabled(if: available, "needs qemu-system-x86 and Debian's cloud kernel (scripts/setup)"))
    func stopSendsTermAndRemoveLeavesNothing() throws {
        try withDaemon { d in
            #expect(try d.docker("load", "-i", Paths.testImage).status == 0)
            let run = try d.docker("run", "-d", "--name", "vm3", "--isolation", "vm", "busybox:test", "sh", "-c", "echo up; exec sleep 1000")
            #expect(run.status == 0, "\(run.stderr)")
            let id = trimmed(run.stdout)
            let vmName = "c" + String(id.prefix(15))
            #expect(Self.qemuProcesses(mentioning: vmName).count == 1)
            #expect(trimmed(try d.docker("inspect", "-f", "{{.State.Status}}", "vm3").stdout) == "running")
            // Wait for the command to run (the guest boots first), as a user would with logs -f.
            var waited = 0
            while !(try d.docker("logs", "vm3").stdout.contains("up")) && waited < 600 {
                usleep(100_000)
                waited += 1
            }
            #expect(try d.docker("logs", "vm3").stdout.contains("up"))
            let exec = try d.docker("exec", "vm3", "true")
            #expect(exec.status != 0 && exec.stderr.contains("runs in its own vm"), "\(exec.stderr)")
            let stop = try d.docker("stop", "-t", "30", "vm3")
            #expect(stop.status == 0, "\(stop.stderr)")
            #expect(trimmed(try d.docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "vm3").stdout) == "exited 143")
            #expect(Self.qemuProcesses(mentioning: vmName).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: d.execRoot + "/vm/" + vmName))
            #expect(try d.docker("rm", "vm3").status == 0)
            #expect(!FileManager.default.fileExists(atPath: d.root + "/containers/" + id))

            // rm -f of a running VM container kills it and leaves nothing either.
            let run2 = try d.docker("run", "-d", "--name", "vm4", "--isolation", "vm", "busybox:test", "sleep", "1000")
            #expect(run2.status == 0, "\(run2.stderr)")
            let id2 = trimmed(run2.stdout)
            let vm2 = "c" + String(id2.prefix(15))
            #expect(try d.docker("rm", "-f", "vm4").status == 0)
            #expect(Self.qemuProcesses(mentioning: vm2).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: d.execRoot + "/vm/" + vm2))
            #expect(!FileManager.default.fileExists(atPath: d.root + "/containers/" + id2))
        }
    }

    @Test(.enabled(if: available, "needs qemu-system-x86 and Debian's cloud kernel (scripts/setup)"))
    func runningVMSurvivesADaemonRestart() throws {
        try withDaemon { d in
            #expect(try d.docker("load", "-i", Paths.testImage).status == 0)
            // With a volume: virtiofsd (its own session) must outlive berthd too, and be cleaned up later.
            let run = try d.docker("run", "-d", "--name", "vm5", "--isolation", "vm", "-v", "vm5data:/data", "busybox:test", "sh", "-c",
                                   "echo before; trap 'echo got-term; echo after-restart > /data/late; exit 42' TERM; while true; do sleep 0.2; done")
            #expect(run.status == 0, "\(run.stderr)")
            let id = trimmed(run.stdout)
            let vmName = "c" + String(id.prefix(15))
            var waited = 0
            while !(try d.docker("logs", "vm5").stdout.contains("before")) && waited < 600 {
                usleep(100_000)
                waited += 1
            }
            let qemu = Self.qemuProcesses(mentioning: vmName)
            #expect(qemu.count == 1)
            // berthd goes away; QEMU (its own session) keeps the guest running.
            d.crash()
            #expect(Self.qemuProcesses(mentioning: vmName) == qemu)
            try d.start()
            #expect(trimmed(try d.docker("inspect", "-f", "{{.State.Status}}", "vm5").stdout) == "running")
            // Re-adopted: stop reaches the guest (the trap runs), output after the restart is logged once.
            #expect(try d.docker("stop", "-t", "30", "vm5").status == 0)
            #expect(trimmed(try d.docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "vm5").stdout) == "exited 42")
            let logs = try d.docker("logs", "vm5").stdout
            #expect(logs.components(separatedBy: "before").count == 2, "\(logs)")
            #expect(logs.contains("got-term"), "\(logs)")
            #expect(Self.qemuProcesses(mentioning: vmName).isEmpty)
            #expect(Self.virtiofsdProcesses(mentioning: d.execRoot).isEmpty)
            #expect(TestDaemon.mounts(under: d.root + "/containers/" + id).isEmpty)
            let late = try d.docker("run", "--rm", "-v", "vm5data:/data", "busybox:test", "cat", "/data/late")
            #expect(trimmed(late.stdout) == "after-restart", "\(late.stdout) \(late.stderr)")
            #expect(try d.docker("rm", "vm5").status == 0)
            #expect(!FileManager.default.fileExists(atPath: d.execRoot + "/vm/" + vmName))
        }
    }

    @Test(.enabled(if: available, "needs qemu-system-x86 and Debian's cloud kernel (scripts/setup)"))
    func vmContainerJoinsAUserNetwork() throws {
        try withDaemon { d in
            #expect(try d.docker("load", "-i", Paths.testImage).status == 0)
            #expect(try d.docker("network", "create", "--subnet", "10.231.7.0/24", "vmnet").status == 0)
            let run = try d.docker("run", "-d", "--name", "vmweb", "--network", "vmnet", "--ip", "10.231.7.9", "--isolation", "vm",
                                   "busybox:test", "sh", "-c", "ip -4 -o addr show eth0; ping -c 1 -W 5 10.231.7.1 >/dev/null && echo gateway-ok; exec sleep 1000")
            #expect(run.status == 0, "\(run.stderr)")
            var waited = 0
            while !(try d.docker("logs", "vmweb").stdout.contains("gateway-ok")) && waited < 600 {
                usleep(100_000)
                waited += 1
            }
            let logs = try d.docker("logs", "vmweb").stdout
            #expect(logs.contains("inet 10.231.7.9/24"), "\(logs)")
            #expect(logs.contains("gateway-ok"), "\(logs)")
            // A container on the same network reaches the VM container by name (embedded DNS).
            let ping = try d.docker("run", "--rm", "--network", "vmnet", "busybox:test", "ping", "-c", "1", "-W", "5", "vmweb")
            #expect(ping.status == 0, "\(ping.stdout) \(ping.stderr)")
            #expect(ping.stdout.contains("10.231.7.9"), "\(ping.stdout)")
            #expect(try d.docker("rm", "-f", "vmweb").status == 0)
            // The address is free again.
            let again = try d.docker("run", "--rm", "--network", "vmnet", "--ip", "10.231.7.9", "busybox:test", "true")
            #expect(again.status == 0, "\(again.stderr)")
            #expect(try d.docker("network", "rm", "vmnet").status == 0)
        }
    }

    @Test(.enabled(if: available, "needs qemu-system-x86 and Debian's cloud kernel (scripts/setup)"))
    func stdinReachesTheGuestAndEnds() throws {
        try withDaemon { d in
            #expect(try d.docker("load", "-i", Paths.testImage).status == 0)
            let r = try d.docker("run", "--rm", "-i", "--isolation", "vm", "busybox:test", "sh", "-c", "read x; echo got=$x; cat; echo eof",
                                 stdin: Data("hello\nmore lines\n".utf8))
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout == "got=hello\nmore lines\neof\n", "\(r.stdout)")
            // Input that comes later is waited for (no early EOF while the client is there).
            let slow = try runCommand(["sh", "-c", "(echo first; sleep 2; echo second) | docker run --rm -i --isolation vm busybox:test sh -c 'cat; echo eof'"],
                                      env: ["DOCKER_HOST": d.host])
            #expect(slow.stdout == "first\nsecond\neof\n", "\(slow.stdout) \(slow.stderr)")
        }
    }

    /// `-t` through the API (docker-py): the command's stdio is a pty of the guest with the
    /// size from `HostConfig.ConsoleSize`, a resize reaches it; /etc/hosts, /etc/hostname and
    /// /etc/resolv.conf are the container's; stats come from QEMU; after a berthd restart an
    /// attach's stdin reaches the guest's shell again.
    @Test(.enabled(if: available, "needs qemu-system-x86 and Debian's cloud kernel (scripts/setup)"))
    func ttyEtcFilesStatsAndStdinAfterRestart() throws {
        try withDaemon { d in
            #expect(try d.docker("load", "-i", Paths.testImage).status == 0)
            let script = "tty; stty size; echo hostname=$(cat /etc/hostname); cat /etc/hosts; cat /etc/resolv.conf; "
                + "ping -c 1 -W 5 $(ip route | awk '/default/ {print $3}') >/dev/null && echo ping-ok; echo ready; "
                + "while [ \"$(stty size)\" != \"33 111\" ]; do sleep 0.1; done; echo resized=$(stty size); exec sh"
            let create = try d.python("""
                import docker, json, time
                api = docker.from_env().api
                hc = api.create_host_config(extra_hosts={'extra.example': '10.1.2.3'}, isolation='vm')
                hc['ConsoleSize'] = [21, 77]
                c = api.create_container('busybox:test', ['sh', '-c', \(pythonString(script))], tty=True, stdin_open=True,
                                         hostname='ttyhost', name='vmtty', host_config=hc)
                api.start(c)
                def wait(text):
                    for _ in range(600):
                        if text in api.logs(c).decode(): return
                        time.sleep(0.1)
                    raise SystemExit('timed out waiting for ' + text + ': ' + api.logs(c).decode())
                wait('ready')
                s = api.stats(c, stream=False)
                print('STATS ' + json.dumps({'cpu': s['cpu_stats']['cpu_usage']['total_usage'], 'mem': s['memory_stats']['usage'],
                      'limit': s['memory_stats']['limit'], 'net': s.get('networks', {})}))
                api.resize(c, height=33, width=111)
                wait('resized=33 111')
                print(api.logs(c).decode())
                """)
            #expect(create.status == 0, "\(create.stdout) \(create.stderr)\n\(d.daemonLog.suffix(3000))")
            let out = create.stdout
            #expect(out.contains("/dev/pts/0\r\n21 77\r\n"), "\(out)")
            #expect(out.contains("hostname=ttyhost\r\n"), "\(out)")
            #expect(out.contains("10.1.2.3\textra.example"), "\(out)")
            #expect(out.range(of: #"\d+\.\d+\.\d+\.\d+\tttyhost"#, options: .regularExpression) != nil, "\(out)")
            #expect(out.contains("ping-ok"), "\(out)")
            #expect(out.contains("resized=33 111"), "\(out)")
            let id = trimmed(try d.docker("inspect", "-f", "{{.Id}}", "vmtty").stdout)
            let resolv = (try? String(contentsOfFile: d.root + "/containers/" + id + "/resolv.conf", encoding: .utf8)) ?? ""
            let nameserver = resolv.split(separator: "\n").first { $0.hasPrefix("nameserver ") }.map(String.init)
            #expect(nameserver != nil && out.contains(nameserver! + "\r\n"), "\(resolv) vs \(out)")
            // Stats: QEMU's CPU time and resident memory, the VM's memory as the limit, the tap's counters.
            let statsLine = out.split(separator: "\n").first { $0.hasPrefix("STATS ") }.map { String($0.dropFirst(6)) } ?? "{}"
            let stats = try JSONSerialization.jsonObject(with: Data(statsLine.utf8)) as? [String: Any] ?? [:]
            #expect((stats["cpu"] as? Int ?? 0) > 0, "\(statsLine)")
            #expect((stats["mem"] as? Int ?? 0) > 0, "\(statsLine)")
            #expect(stats["limit"] as? Int == 256 << 20, "\(statsLine)")
            let eth0 = (stats["net"] as? [String: Any])?["eth0"] as? [String: Any] ?? [:]
            #expect((eth0["rx_bytes"] as? Int ?? 0) > 0 && (eth0["tx_bytes"] as? Int ?? 0) > 0, "\(statsLine)")
            let cli = try d.docker("stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}", "vmtty")
            #expect(cli.status == 0 && cli.stdout.contains("vmtty ") && cli.stdout.contains("/ 256MiB"), "\(cli.stdout) \(cli.stderr)")

            // berthd goes away and comes back: the re-adopted container takes stdin again.
            d.crash()
            try d.start()
            let attach = try d.python("""
                import docker, socket, time
                api = docker.from_env().api
                s = api.attach_socket('vmtty', params={'stdin': 1, 'stdout': 1, 'stream': 1})
                sock = s._sock
                sock.sendall(b'echo hello-$((6*7))\\n')
                sock.settimeout(1)
                seen = b''
                for _ in range(60):
                    try:
                        data = sock.recv(4096)
                    except socket.timeout:
                        continue
                    if not data: break
                    seen += data
                    if b'hello-42' in seen: break
                print(seen.decode(errors='replace'))
                """)
            #expect(attach.stdout.contains("hello-42"), "\(attach.stdout) \(attach.stderr)\n\(d.daemonLog.suffix(3000))")
            #expect(try d.docker("rm", "-f", "vmtty").status == 0)
            #expect(Self.qemuProcesses(mentioning: "c" + String(id.prefix(15))).isEmpty)
        }
    }

    /// `docker run -t` (in a terminal: `script`) and `berth run -t`: one raw stream (stderr
    /// included) from a pty in the guest; the exit code comes through.
    @Test(.enabled(if: available, "needs qemu-system-x86 and Debian's cloud kernel (scripts/setup)"))
    func runWithTerminalFromBothCLIs() throws {
        try withDaemon { d in
            #expect(try d.docker("load", "-i", Paths.testImage).status == 0)
            let docker = try runCommand(["script", "-qec", "docker run --name vmt1 -t --isolation vm busybox:test sh -c 'tty; echo err >&2; exit 5'", "/dev/null"],
                                        env: ["DOCKER_HOST": d.host, "DOCKER_CONFIG": d.dir + "/docker-config"])
            #expect(docker.status == 5, "\(docker.stdout) \(docker.stderr)\n\(d.daemonLog.suffix(2000))")
            #expect(docker.stdout.contains("/dev/pts/0"), "\(docker.stdout)")
            #expect(docker.stdout.contains("err"), "\(docker.stdout)")
            // The log is the terminal's stream, all of it on stdout.
            let logs = try runCommand(["sh", "-c", "docker logs vmt1 2>/dev/null"], env: ["DOCKER_HOST": d.host])
            #expect(logs.stdout == "/dev/pts/0\r\nerr\r\n", "\(logs.stdout)")
            let berth = try d.berth("run", "--rm", "-t", "--isolation", "vm", "busybox:test", "sh", "-c", "tty; test -t 0 && test -t 2 && echo all-tty")
            #expect(berth.status == 0, "\(berth.stdout) \(berth.stderr)")
            #expect(berth.stdout == "/dev/pts/0\r\nall-tty\r\n", "\(berth.stdout)")
            #expect(try d.docker("rm", "vmt1").status == 0)
        }
    }
}

/// `s` as a Python string literal.
private func pythonString(_ s: String) -> String {
    "'" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
}
