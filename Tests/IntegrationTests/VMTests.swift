import Foundation
import Testing

/// VMs through berthd: `berth vm …` over `/berth/vms`, a real QEMU (TCG here) booting Debian's
/// cloud kernel with a root disk made from busybox:test, on a Berth network beside a container.
/// Boots are slow under TCG, so one test drives many checks through few boots.
@Suite(.serialized)
struct VMTests {
    static var available: Bool {
        FileManager.default.fileExists(atPath: "/usr/bin/qemu-system-x86_64")
            && ((try? FileManager.default.contentsOfDirectory(atPath: "/boot")) ?? []).contains { $0.hasSuffix("-cloud-amd64") && $0.hasPrefix("vmlinuz-") }
    }

    func trimmed(_ s: String) -> String { s.trimmingCharacters(in: .whitespacesAndNewlines) }

    /// Polls the console log (`berth vm logs`) until it holds `text` (a generous bound: TCG).
    @discardableResult
    func waitConsole(_ d: TestDaemon, _ vm: String, for text: String, after: Int = 0, seconds: Double = 180) throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let log = try d.berth("vm", "logs", vm).stdout
            let tail = String(log.dropFirst(min(after, log.count)))
            if tail.contains(text) { return tail }
            if Date() > deadline { throw DaemonError("\(vm): no \(text) on the console after \(seconds) s; console: \(log.suffix(2000))") }
            usleep(100_000)
        }
    }

    /// Types a line into the VM's console (`berth vm console` with a piped stdin) and waits for
    /// `marker` in the output that follows.
    @discardableResult
    func type(_ d: TestDaemon, _ vm: String, _ line: String, expect marker: String) throws -> String {
        let before = try d.berth("vm", "logs", vm).stdout.count
        let r = try d.berth("vm", "console", vm, stdin: Data((line + "\n").utf8))
        #expect(r.status == 0, "\(r.stderr)")
        return try waitConsole(d, vm, for: marker, after: before)
    }

    /// `berth vm inspect NAME` as JSON.
    func inspect(_ d: TestDaemon, _ vm: String) throws -> [String: Any] {
        let r = try d.berth("vm", "inspect", vm)
        guard let arr = try JSONSerialization.jsonObject(with: r.stdoutData) as? [[String: Any]], let o = arr.first else {
            throw DaemonError("vm inspect \(vm): \(r.stdout) \(r.stderr)")
        }
        return o
    }

    func address(_ d: TestDaemon, _ vm: String) throws -> String {
        ((try inspect(d, vm)["Networks"] as? [[String: Any]])?.first?["IPAddress"] as? String) ?? ""
    }

    func leftovers(_ d: TestDaemon) -> [String] {
        let fm = FileManager.default
        var out: [String] = []
        for sub in ["records", "disks", "state", "tmp"] {
            for f in (try? fm.contentsOfDirectory(atPath: d.root + "/vms/" + sub)) ?? [] { out.append(sub + "/" + f) }
        }
        let links = (try? runCommand(["ip", "-o", "link", "show"]).stdout) ?? ""
        for l in links.split(separator: "\n") where l.contains(": bvm") { out.append(String(l)) }
        return out
    }

    /// curl's status for a request to the daemon.
    func status(_ d: TestDaemon, _ method: String, _ path: String, body: String? = nil) throws -> (Int, String) {
        var args = ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--unix-socket", d.socket, "-X", method]
        if let body { args += ["-H", "Content-Type: application/json", "-d", body] }
        let r = try runCommand(args + ["http://x" + path])
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    @Test(.enabled(if: VMTests.available))
    func badInputLeavesNothing() throws {
        try withImage { d in
            #expect(try d.docker("network", "create", "vmbad").status == 0)
            let cpus = try d.berth("vm", "create", "--image", "busybox:test", "--cpus", "999", "--network", "vmbad", "--name", "b1")
            #expect(cpus.status != 0)
            #expect(cpus.stderr.contains("999 vcpus asked for"), "\(cpus.stderr)")
            let mem = try d.berth("vm", "create", "--image", "busybox:test", "--memory", "64m", "--network", "vmbad", "--name", "b2")
            #expect(mem.status != 0)
            #expect(mem.stderr.contains("below the minimum of 128 MiB"), "\(mem.stderr)")
            let img = try d.berth("vm", "create", "--image", "nosuch:latest", "--network", "vmbad", "--name", "b3")
            #expect(img.status != 0)
            #expect(img.stderr.contains("no such image: nosuch:latest"), "\(img.stderr)")
            let net = try d.berth("vm", "create", "--image", "busybox:test", "--network", "nosuchnet", "--name", "b4")
            #expect(net.stderr.contains("network nosuchnet not found"), "\(net.stderr)")
            // Statuses and Docker-style bodies.
            let (s1, b1) = try status(d, "POST", "/berth/vms/create?name=b5", body: #"{"Image":"busybox:test","Cpus":999}"#)
            #expect(s1 == 400, "\(b1)")
            #expect(b1.contains(#""message""#))
            let (s2, b2) = try status(d, "POST", "/berth/vms/create?name=b6", body: #"{"Image":"nosuch:latest"}"#)
            #expect(s2 == 404, "\(b2)")
            let (s3, b3) = try status(d, "POST", "/berth/vms/create", body: "{not json")
            #expect(s3 == 400, "\(b3)")
            let (s4, b4) = try status(d, "GET", "/berth/vms/nosuch/json")
            #expect(s4 == 404 && b4.contains("no such vm: nosuch"), "\(s4) \(b4)")
            #expect(leftovers(d).isEmpty, "\(leftovers(d))")
            // No address held: a container gets the network's first address.
            let sub = trimmed(try d.docker("network", "inspect", "-f", "{{(index .IPAM.Config 0).Subnet}}", "vmbad").stdout)
            let first = sub.split(separator: "/")[0].split(separator: ".").prefix(3).joined(separator: ".") + ".2"
            let ip = try d.docker("run", "--rm", "--network", "vmbad", "busybox:test", "sh", "-c", "ip -o -4 addr show eth0")
            #expect(ip.stdout.contains(first + "/"), "\(ip.stdout)")

            // A created (never booted) VM: duplicate name is a conflict; rm gives everything back.
            let ok = try d.berth("vm", "create", "--image", "busybox:test", "--network", "vmbad", "--name", "c1", "--disk-size", "64m")
            #expect(ok.status == 0, "\(ok.stderr)")
            #expect(trimmed(ok.stdout) == "c1")
            let dup = try d.berth("vm", "create", "--image", "busybox:test", "--network", "vmbad", "--name", "c1")
            #expect(dup.status != 0)
            #expect(dup.stderr.contains("vm c1 exists already"), "\(dup.stderr)")
            let (s5, _) = try status(d, "POST", "/berth/vms/create?name=c1", body: #"{"Image":"busybox:test"}"#)
            #expect(s5 == 409)
            let ls = try d.berth("vm", "ls")
            #expect(ls.stdout.contains("c1") && ls.stdout.contains("created") && ls.stdout.contains("VM ID"), "\(ls.stdout)")
            #expect(trimmed(try d.berth("vm", "ls", "-q").stdout) == "c1")
            #expect(trimmed(try d.berth("vm", "inspect", "-f", "{{.State}} {{.Cpus}} {{.MemoryMiB}}", "c1").stdout) == "created 1 256")
            // While it exists it holds its address (the network's first).
            let vmIP = try address(d, "c1")
            #expect(vmIP == first)
            #expect(try d.berth("vm", "rm", "c1").status == 0)
            #expect(leftovers(d).isEmpty, "\(leftovers(d))")
            let (s6, _) = try status(d, "DELETE", "/berth/vms/c1")
            #expect(s6 == 404)
        }
    }

    @Test(.enabled(if: VMTests.available))
    func bootNetworkSnapshotExportImport() throws {
        try withImage { d in
            #expect(try d.docker("network", "create", "vmnet").status == 0)
            #expect(try d.docker("run", "-d", "--name", "ctr", "--network", "vmnet", "busybox:test", "sleep", "1000").status == 0)
            let create = try d.berth("vm", "create", "--image", "busybox:test", "--cpus", "1", "--memory", "256m", "--disk-size", "10g",
                                     "--network", "vmnet", "--name", "vm1", "sh")
            #expect(create.status == 0, "\(create.stderr)")
            let started = Date()
            #expect(try d.berth("vm", "start", "vm1").status == 0)
            try waitConsole(d, "vm1", for: "BERTH_GUEST_READY")
            print("vm boot to marker through berthd: \(String(format: "%.2f", Date().timeIntervalSince(started))) s")

            // The console both ways.
            try type(d, "vm1", "echo MARK-$((6*7))", expect: "MARK-42")
            // The VM resolves and reaches the container by name; the container the VM.
            let vmPing = try type(d, "vm1", "ping -c1 -W5 ctr >/dev/null 2>&1; r=$?; echo VMPING-$((1))=$r", expect: "VMPING-1=")
            #expect(vmPing.contains("VMPING-1=0"), "\(vmPing)")
            let ping = try d.docker("exec", "ctr", "ping", "-c1", "-W5", "vm1")
            #expect(ping.status == 0, "\(ping.stdout) \(ping.stderr)")
            let vmIP = try address(d, "vm1")
            #expect(ping.stdout.contains(vmIP), "\(ping.stdout)")

            // berthd restarts: the VM keeps running, is re-adopted, keeps its address and name.
            d.stop()
            try d.start()
            #expect(trimmed(try d.berth("vm", "inspect", "-f", "{{.State}}", "vm1").stdout) == "running")
            try type(d, "vm1", "echo AFTER-$((2+2))", expect: "AFTER-4")
            let again = try d.docker("exec", "ctr", "ping", "-c1", "-W5", "vm1")
            #expect(again.status == 0 && again.stdout.contains(vmIP), "\(again.stdout) \(again.stderr)")

            // ls / inspect / stats.
            let ls = try d.berth("vm", "ls")
            #expect(ls.stdout.contains("vm1") && ls.stdout.contains("running") && ls.stdout.contains("10GiB"), "\(ls.stdout)")
            #expect(trimmed(try d.berth("vm", "inspect", "-f", "{{.State}}", "vm1").stdout) == "running")
            let stats = try d.berth("vm", "stats", "vm1")
            #expect(stats.status == 0 && stats.stdout.contains("MEM USAGE") && stats.stdout.contains("vm1"), "\(stats.stdout) \(stats.stderr)")
            // Thin: a 10 GiB root disk uses < 50 MiB on the host after boot.
            let disk = ((try inspect(d, "vm1")["Disks"] as? [[String: Any]])?.first?["Path"] as? String) ?? ""
            let used = try runCommand(["du", "-B1", disk]).stdout.split(separator: "\t").first.flatMap { Int($0) } ?? -1
            print("10 GiB root disk after boot: \(used) bytes on the host")
            #expect(used > 0 && used < 50 << 20, "\(used)")

            // Snapshot after writing a file; change it; restore; the file is as at the snapshot.
            try type(d, "vm1", "echo one > /state; sync; echo WROTE-$((1+0))", expect: "WROTE-1")
            let snap = try d.berth("vm", "snapshot", "create", "vm1", "s1")
            #expect(snap.status == 0, "\(snap.stderr)")
            try type(d, "vm1", "echo two > /state; sync; echo WROTE-$((1+1))", expect: "WROTE-2")
            #expect(trimmed(try d.berth("vm", "snapshot", "ls", "-q", "vm1").stdout) == "s1")
            let restore = try d.berth("vm", "restore", "vm1", "s1")
            #expect(restore.status == 0, "\(restore.stderr)")
            let st = try type(d, "vm1", "echo STATE-$((1))=$(cat /state)", expect: "STATE-1=")
            #expect(st.contains("STATE-1=one"), "\(st)")

            // export → rm → import → start: the same disk content (and the snapshot).
            #expect(try d.berth("vm", "kill", "vm1").status == 0)
            let file = d.dir + "/vm1.tar"
            let export = try d.berth("vm", "export", "-o", file, "vm1")
            #expect(export.status == 0, "\(export.stderr)")
            #expect(try d.berth("vm", "rm", "vm1").status == 0)
            #expect(!(try runCommand(["ip", "-o", "link", "show"]).stdout.contains(": bvm")))
            let imp = try d.berth("vm", "import", "-i", file, "--name", "vm2", "--network", "vmnet")
            #expect(imp.status == 0, "\(imp.stderr)")
            #expect(trimmed(imp.stdout) == "vm2")
            // The address vm1 held was given back: vm2 gets it again.
            #expect(try address(d, "vm2") == vmIP)
            #expect(trimmed(try d.berth("vm", "snapshot", "ls", "-q", "vm2").stdout) == "s1")
            #expect(try d.berth("vm", "start", "vm2").status == 0)
            try waitConsole(d, "vm2", for: "BERTH_GUEST_READY")
            let st2 = try type(d, "vm2", "echo STATE-$((2))=$(cat /state)", expect: "STATE-2=")
            #expect(st2.contains("STATE-2=one"), "\(st2)")
            let rm = try d.berth("vm", "rm", "vm2")
            #expect(rm.status != 0 && rm.stderr.contains("running"), "\(rm.stderr)")
            #expect(try d.berth("vm", "rm", "-f", "vm2").status == 0)
            #expect(leftovers(d).isEmpty, "\(leftovers(d))")
        }
    }
}

extension VMTests {
    /// Live migration between two berthds on this host: a counter in the guest keeps counting
    /// on the destination (no reboot), the VM is gone from the source.
    @Test(.enabled(if: VMTests.available))
    func migrateBetweenDaemons() throws {
        try withImage { a in
            let b = try TestDaemon()
            defer { b.cleanup() }
            try b.start()
            let create = try a.berth("vm", "create", "--image", "busybox:test", "--network", "none", "--name", "mig",
                                     "sh", "-c", "i=0; while true; do echo TICK-$i; i=$((i+1)); sleep 1; done")
            #expect(create.status == 0, "\(create.stderr)")
            #expect(try a.berth("vm", "start", "mig").status == 0)
            try waitConsole(a, "mig", for: "TICK-3")
            let migrate = try a.berth("vm", "migrate", "mig", "--to", b.host)
            #expect(migrate.status == 0, "\(migrate.stderr)")
            print("vm migrate: \(migrate.stderr)")
            let last = try a.berth("vm", "logs", "mig")
            #expect(last.status != 0 && last.stderr.contains("no such vm: mig"), "\(last.stdout) \(last.stderr)")
            #expect(trimmed(try a.berth("vm", "ls", "-q").stdout).isEmpty)
            #expect(trimmed(try b.berth("vm", "inspect", "-f", "{{.State}}", "mig").stdout) == "running")
            // The destination's console carries on from where the source stopped: no boot, the
            // counter goes on past what the source printed.
            let seen = try waitConsole(b, "mig", for: "TICK-")
            _ = try waitConsole(b, "mig", for: "\n", after: seen.count)
            let out = try b.berth("vm", "logs", "mig").stdout
            #expect(!out.contains("BERTH_GUEST_READY"), "\(out)")
            let ticks = out.split(separator: "\n").compactMap { l -> Int? in
                guard let r = l.range(of: "TICK-") else { return nil }
                return Int(l[r.upperBound...].prefix { $0.isNumber })
            }
            #expect((ticks.first ?? 0) >= 3, "\(out)")
            #expect(try b.berth("vm", "rm", "-f", "mig").status == 0)
            #expect(leftovers(a).isEmpty && leftovers(b).isEmpty, "\(leftovers(a)) \(leftovers(b))")
        }
    }
}
