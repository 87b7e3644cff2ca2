import BerthCore
import BerthSystem
import Glibc
import BerthTar
import Testing
@testable import BerthVM

/// Real VMs: Debian's cloud kernel under QEMU (TCG on this machine, KVM where VMX/SVM
/// exist), Berth's initramfs, root disks made from a busybox tree. Serialized: two cores
/// and TCG make parallel boots slow enough to blur timeouts.
@Suite("qemu backend", .serialized)
struct QEMUBackendTests {
    @Test func bootsFromBusyboxRunsTheCommandAndStaysThin() async throws {
        try await VMFixture.with { f in
            let root = try f.makeRootDisk()
            let data = f.dir + "/data.qcow2"
            try DiskImage().createThin(at: data, virtualSize: 10 << 30)
            let config = f.config("boot", disks: [VMDisk(path: root), VMDisk(path: data)],
                                  command: ["sh", "-c", "echo hello-from-$(hostname); grep -c ^processor /proc/cpuinfo; ls /dev/vdb; exit 7"])
            try await f.backend.create(config)
            #expect(try await f.backend.state("boot") == .created)
            let t0 = monotonicSeconds()
            try await f.backend.start("boot")
            let boot = try await f.waitForConsole("boot", GuestInit.readyMarker)
            print("vm boot: start() \(String(format3(monotonicSeconds() - t0 - boot))) s + marker \(format3(boot)) s after start returned")
            let exit = try #require(try await f.backend.wait("boot", timeout: 60))
            #expect(exit.reason == .guestShutdown)
            #expect(exit.processExitCode == 0)
            let out = try await f.console("boot")
            #expect(out.contains("hello-from-boot"))
            #expect(out.contains("/dev/vdb"))
            #expect(GuestInit.exitStatus(inConsole: Array(out.utf8)) == 7)
            #expect(try await f.backend.state("boot") == .stopped(exit))
            // Thin: the 10 GiB root disk and the 10 GiB data disk hold only what was written.
            let rootUsage = try DiskImage.hostUsage(root), dataUsage = try DiskImage.hostUsage(data)
            print("vm disks after boot: root \(rootUsage >> 10) KiB, data \(dataUsage >> 10) KiB on the host (10 GiB virtual each)")
            #expect(rootUsage < 50 << 20)
            #expect(dataUsage < 50 << 20)
            #expect(try DiskImage().info(root, format: "qcow2").virtualSize == 10 << 30)
            #expect(VMFixture.qemuPIDs(mentioning: f.dir).isEmpty)
            try await f.backend.delete("boot")
            #expect(!FileSystem.exists(f.dir + "/vms/boot"))
            #expect(FileSystem.exists(root))
        }
    }

    @Test func bootsTheBusyboxTestImage() async throws {
        try await VMFixture.with { f in
            // scripts/make-test-image writes busybox:test and its unpacked rootfs (no network);
            // the engine will hand the image's snapshot directory to makeRootDisk the same way.
            let repo = String(#filePath.prefix(upTo: #filePath.firstRange(of: "/Tests/BerthVMTests/")!.lowerBound))
            let out = f.dir + "/test-image"
            try Subprocess.check("/usr/bin/python3", [repo + "/scripts/make-test-image", out], tool: "python3", what: "make busybox:test")
            let root = f.dir + "/busybox-test.qcow2"
            try DiskImage().makeRootDisk(at: root, from: out + "/rootfs", virtualSize: 1 << 30)
            try await f.backend.create(f.config("bbtest", disks: [VMDisk(path: root)],
                                                command: ["sh", "-c", "echo marker-from-busybox-test; grep -c ^processor /proc/cpuinfo; free -m | grep -i mem"]))
            try await f.backend.start("bbtest")
            let exit = try #require(try await f.backend.wait("bbtest", timeout: 60))
            #expect(exit.reason == .guestShutdown)
            let out2 = try await f.console("bbtest")
            let lines = out2.split(whereSeparator: { $0.isNewline }).map(String.init)
            #expect(lines.contains("marker-from-busybox-test"))
            let marker = try #require(lines.firstIndex(of: "marker-from-busybox-test"))
            #expect(lines[marker + 1] == "1", "one vcpu")
            #expect(GuestInit.exitStatus(inConsole: Array(out2.utf8)) == 0)
        }
    }

    @Test func twoVMsAtOnceAndADiskInUse() async throws {
        try await VMFixture.with { f in
            let a = try f.makeRootDisk("a.qcow2", size: 1 << 30)
            let b = f.dir + "/b.qcow2"
            try DiskImage().createThin(at: b, virtualSize: 1 << 30, backingFile: a)
            // One and two boot from overlays on the same base: QEMU opens a backing file
            // read-only and shared, the overlays read-write and locked.
            let c = f.dir + "/c.qcow2"
            try DiskImage().createThin(at: c, virtualSize: 1 << 30, backingFile: a)
            try await f.backend.create(f.config("one", disks: [VMDisk(path: b)], command: ["sleep", "1000"]))
            try await f.backend.create(f.config("two", disks: [VMDisk(path: c)], command: ["sleep", "1000"]))
            try await f.backend.start("one")
            try await f.backend.start("two")
            _ = try await f.waitForConsole("one", GuestInit.readyMarker)
            _ = try await f.waitForConsole("two", GuestInit.readyMarker)
            #expect(try await f.backend.state("one") == .running)
            #expect(try await f.backend.state("two") == .running)
            #expect(try await f.backend.stats("one").pid != f.backend.stats("two").pid)
            // A disk a running VM holds cannot be given to another.
            do {
                try await f.backend.create(f.config("three", disks: [VMDisk(path: b)], command: ["true"]))
                Issue.record("a disk in use was accepted")
            } catch let e as BerthError {
                #expect(e.code == .conflict)
                #expect(e.message.hasPrefix("vm three: disk \(b) is in use by another process"), "\(e)")
            }
            #expect(!FileSystem.exists(f.dir + "/vms/three"))
            try await f.backend.kill("one")
            #expect(try await f.backend.state("two") == .running)
            #expect(try await f.backend.stop("two", timeout: 20).reason == .powerdown)
            // Overlays hold only what the guests wrote.
            #expect(try DiskImage().info(b, format: "qcow2").backingFile == a)
            #expect(try DiskImage.hostUsage(b) < 10 << 20)
        }
    }

    @Test func pauseResumeStatsAndKill() async throws {
        try await VMFixture.with { f in
            let root = try f.makeRootDisk()
            try await f.backend.create(f.config("tick", disks: [VMDisk(path: root)],
                                                command: ["sh", "-c", "i=0; while true; do echo tick-$i; i=$((i+1)); sleep 0.2; done"]))
            try await f.backend.start("tick")
            _ = try await f.waitForConsole("tick", "tick-3")
            #expect(try await f.backend.state("tick") == .running)

            try await f.backend.pause("tick")
            #expect(try await f.backend.state("tick") == .paused)
            let qmp = try await f.backend.qmp("tick")
            #expect(try await qmp.waitForEvent(["STOP"], timeout: 5) != nil)
            try await Task.sleep(nanoseconds: 300_000_000)
            let frozen = try await f.console("tick")
            try await Task.sleep(nanoseconds: 1_000_000_000)
            #expect(try await f.console("tick") == frozen, "a paused guest printed something")

            try await f.backend.resume("tick")
            #expect(try await f.backend.state("tick") == .running)
            #expect(try await qmp.waitForEvent(["RESUME"], after: qmp.receivedEvents.first { $0.name == "STOP" }?.sequence ?? 0, timeout: 5) != nil)
            let count = frozen.split(whereSeparator: { $0.isNewline }).filter { $0.hasPrefix("tick-") }.count
            _ = try await f.waitForConsole("tick", "tick-\(count + 2)", timeout: 30)

            let stats = try await f.backend.stats("tick")
            print("vm stats: cpu \(stats.cpuTimeNanoseconds / 1_000_000) ms, rss \(stats.residentBytes >> 20) MiB of \(stats.memoryLimitBytes >> 20) MiB")
            #expect(stats.cpuTimeNanoseconds > 100_000_000)
            #expect(stats.residentBytes > 16 << 20)
            #expect(stats.memoryLimitBytes == 256 << 20)

            // A QMP error is typed.
            do {
                try await qmp.execute("no-such-command")
                Issue.record("no-such-command succeeded")
            } catch let e as BerthError {
                #expect(e.qmpErrorClass == .commandNotFound)
                #expect(e.code == .unsupported)
                #expect(e.message.hasPrefix("vm tick: qmp no-such-command: "))
            }

            let pid = stats.pid
            let exit = try await f.backend.kill("tick")
            #expect(exit.reason == .killed)
            #expect(exit.processExitCode == 128 + SIGKILL)
            #expect(Glibc.kill(pid, 0) != 0)
            #expect(!FileSystem.exists(f.dir + "/vms/tick/qmp.sock"))
            do {
                try await f.backend.pause("tick")
                Issue.record("pause of a stopped vm succeeded")
            } catch let e as BerthError {
                #expect(e.code == .conflict)
                #expect(e.message == "vm tick is not running")
            }
        }
    }

    @Test func stopByPowerButton() async throws {
        try await VMFixture.with { f in
            let root = try f.makeRootDisk()
            try await f.backend.create(f.config("polite", disks: [VMDisk(path: root)], command: ["sleep", "1000"]))
            try await f.backend.start("polite")
            // Right at the marker: acpid is started before it is printed.
            _ = try await f.waitForConsole("polite", GuestInit.readyMarker)
            let t0 = monotonicSeconds()
            let exit = try await f.backend.stop("polite", timeout: 30)
            let took = monotonicSeconds() - t0
            print("vm stop by acpi: \(format3(took)) s")
            #expect(exit.reason == .powerdown)
            #expect(took < 20)
            #expect(GuestInit.exitStatus(inConsole: Array(try await f.console("polite").utf8)) == 128 + SIGTERM)
            // Stopping again answers with the same exit.
            #expect(try await f.backend.stop("polite", timeout: 1) == exit)
        }
    }

    @Test func stopKillsAGuestThatIgnoresThePowerButton() async throws {
        try await VMFixture.with { f in
            let root = try f.makeRootDisk()
            try await f.backend.create(f.config("stubborn", disks: [VMDisk(path: root)],
                                                command: ["sh", "-c", "trap '' TERM; echo ignoring-term; while true; do sleep 1; done"]))
            try await f.backend.start("stubborn")
            _ = try await f.waitForConsole("stubborn", "ignoring-term")
            try await Task.sleep(nanoseconds: 500_000_000)
            let t0 = monotonicSeconds()
            let exit = try await f.backend.stop("stubborn", timeout: 3)
            let took = monotonicSeconds() - t0
            #expect(exit.reason == .killed)
            #expect(took >= 3 && took < 10)
            #expect(VMFixture.qemuPIDs(mentioning: f.dir).isEmpty)
            #expect(GuestInit.exitStatus(inConsole: Array(try await f.console("stubborn").utf8)) == nil)
        }
    }

    @Test func withoutACommandTheRootDisksInitRuns() async throws {
        try await VMFixture.with { f in
            let root = try f.makeRootDisk()
            try await f.backend.create(f.config("init", disks: [VMDisk(path: root)], command: nil))
            try await f.backend.start("init")
            _ = try await f.waitForConsole("init", "berth-test: busybox init ran")
            #expect(try await f.backend.state("init") == .running)
            // busybox init has no power-button handler: stop falls back to SIGKILL.
            let exit = try await f.backend.stop("init", timeout: 2)
            #expect(exit.reason == .killed)
            #expect(VMFixture.qemuPIDs(mentioning: f.dir).isEmpty)
        }
    }

    @Test func badInputIsRefusedAndLeavesNothingBehind() async throws {
        try await VMFixture.with { f in
            let root = try f.makeRootDisk()
            let good = f.config("bad", disks: [VMDisk(path: root)], command: ["true"])
            func refusal(_ c: VMConfig) async -> BerthError? {
                do {
                    try await f.backend.create(c)
                    return nil
                } catch {
                    return error as? BerthError
                }
            }
            var c = good
            c.vcpus = HostInfo.onlineCPUs() + 1
            var e = await refusal(c)
            #expect(e?.code == .invalidArgument)
            #expect(e?.message == "vm bad: \(c.vcpus) vcpus asked for, but the host has only \(HostInfo.onlineCPUs()) cpus")

            c = good
            c.memoryMiB = 64
            e = await refusal(c)
            #expect(e?.message == "vm bad: memory 64 MiB is below the minimum of 128 MiB")

            c = good
            c.kernel = f.dir + "/no-such-kernel"
            e = await refusal(c)
            #expect(e?.code == .notFound)
            #expect(e?.message == "vm bad: kernel not found: \(f.dir)/no-such-kernel")

            // A qcow2 whose L1 table points past the end of the file.
            let corrupt = f.dir + "/corrupt.qcow2"
            try DiskImage().createThin(at: corrupt, virtualSize: 1 << 30)
            try corruptL1Offset(corrupt)
            c = good
            c.disks = [VMDisk(path: corrupt)]
            e = await refusal(c)
            #expect(e?.code == .corrupt)
            #expect(e?.message.hasPrefix("vm bad: disk \(corrupt) is corrupt") == true, "\(String(describing: e))")
            #expect(e?.message.contains("exceeding the end of the file") == true)
            print("vm corrupt disk error: \(String(describing: e))")

            // Not a qcow2 at all.
            let garbage = f.dir + "/garbage.qcow2"
            try FileSystem.writeAtomically(garbage, [UInt8](repeating: 0x41, count: 65536), durable: false)
            c.disks = [VMDisk(path: garbage)]
            e = await refusal(c)
            #expect(e?.code == .corrupt)
            #expect(e?.message == "vm bad: disk \(garbage) is corrupt or not a qcow2 image: Could not open '\(garbage)': Image is not in qcow2 format")

            c.disks = [VMDisk(path: f.dir + "/absent.qcow2")]
            e = await refusal(c)
            #expect(e?.code == .notFound)

            #expect(try FileSystem.list(f.dir + "/vms").isEmpty)
            #expect(await f.backend.names.isEmpty)
            #expect(VMFixture.qemuPIDs(mentioning: f.dir).isEmpty)

            // A disk that goes bad between create and start: start fails, nothing runs, the
            // VM is still just created.
            let later = f.dir + "/later.qcow2"
            try DiskImage().createThin(at: later, virtualSize: 1 << 30)
            c = good
            c.disks = [VMDisk(path: root), VMDisk(path: later)]
            try await f.backend.create(c)
            try corruptL1Offset(later)
            do {
                try await f.backend.start("bad")
                Issue.record("start with a corrupt disk succeeded")
            } catch let e as BerthError {
                #expect(e.code == .corrupt)
            }
            #expect(try await f.backend.state("bad") == .created)
            #expect(VMFixture.qemuPIDs(mentioning: f.dir).isEmpty)
            #expect(!FileSystem.exists(f.dir + "/vms/bad/qmp.sock"))
        }
    }

    @Test func qemuFailingAtStartIsReportedWithItsOwnWords() async throws {
        try await VMFixture.with { f in
            // A kernel file that is not a kernel passes the file checks; QEMU refuses it.
            let fake = f.dir + "/fake-kernel"
            try FileSystem.writeAtomically(fake, Array("not a kernel".utf8), durable: false)
            var c = f.config("fake", disks: [], command: ["true"])
            c.kernel = fake
            try await f.backend.create(c)
            do {
                try await f.backend.start("fake")
                Issue.record("start with a fake kernel succeeded")
            } catch let e as BerthError {
                #expect(e.message.hasPrefix("start vm fake: qemu failed: "), "\(e)")
                print("vm start error: \(e)")
            }
            #expect(try await f.backend.state("fake") == .created)
            #expect(VMFixture.qemuPIDs(mentioning: f.dir).isEmpty)
        }
    }

    @Test func consoleAttachCarriesInputAndOutput() async throws {
        try await VMFixture.with { f in
            try await f.backend.create(f.config("tty", disks: [], command: ["sh", "-c", "echo waiting-for-input; read line; echo got:$line"]))
            try await f.backend.start("tty")
            _ = try await f.waitForConsole("tty", "waiting-for-input")
            let fd = try await f.backend.attachConsole("tty")
            defer { FD.close(fd) }
            try FD.writeAll(fd, "ping\n")
            _ = try await f.waitForConsole("tty", "got:ping", timeout: 30)
            let exit = try #require(try await f.backend.wait("tty", timeout: 30))
            #expect(exit.reason == .guestShutdown)
            #expect(GuestInit.exitStatus(inConsole: Array(try await f.console("tty").utf8)) == 0)
        }
    }
}

/// Points a qcow2's L1 table (header offset 40, big-endian u64) far past the end of the file.
func corruptL1Offset(_ path: String) throws {
    let fd = try FD.open(path, O_WRONLY)
    defer { FD.close(fd) }
    let bogus: [UInt8] = [0, 0, 0, 0x7f, 0, 0, 0, 0]
    let n = bogus.withUnsafeBytes { pwrite(fd, $0.baseAddress, 8, 40) }
    if n != 8 { throw BerthError.sys("corrupt \(path)") }
}

func format3(_ v: Double) -> String {
    let ms = Int((v * 1000).rounded())
    let frac = String(ms % 1000)
    return "\(ms / 1000).\(String(repeating: "0", count: 3 - frac.count))\(frac)"
}

// Nested in QEMUBackendTests so that its .serialized covers them too: one VM test at a time.
extension QEMUBackendTests {
    @Suite("qemu snapshots")
    struct Snapshots {
        /// Numbers printed as `n=K` lines in `text`.
        static func counts(_ text: Substring) -> [Int] {
            text.split(whereSeparator: { $0.isNewline }).compactMap { $0.hasPrefix("n=") ? Int($0.dropFirst(2)) : nil }
        }

        @Test func liveSnapshotRestoreListDelete() async throws {
            try await VMFixture.with { f in
                let root = try f.makeRootDisk(size: 1 << 30)
                try await f.backend.create(f.config("snap", disks: [VMDisk(path: root)],
                                                    command: ["sh", "-c", "i=0; while true; do echo n=$i; i=$((i+1)); sleep 0.2; done"]))
                #expect(try await f.backend.snapshots("snap").isEmpty)
                try await f.backend.start("snap")
                _ = try await f.waitForConsole("snap", "n=5\r\n")
                let t0 = monotonicSeconds()
                try await f.backend.snapshot("snap", tag: "s1")
                print("vm snapshot of 256 MiB: \(format3(monotonicSeconds() - t0)) s")
                #expect(try await f.backend.state("snap") == .running)
                let list = try await f.backend.snapshots("snap")
                #expect(list.map(\.tag) == ["s1"])
                #expect(list[0].vmStateSize > 1 << 20)
                do {
                    try await f.backend.snapshot("snap", tag: "s1")
                    Issue.record("a second s1 was taken")
                } catch let e as BerthError {
                    #expect(e.code == .conflict)
                }

                _ = try await f.waitForConsole("snap", "n=25\r\n")
                let before = try await f.console("snap")
                let maxBefore = try #require(Snapshots.counts(Substring(before)).max())
                let t1 = monotonicSeconds()
                try await f.backend.restoreSnapshot("snap", tag: "s1")
                print("vm restore of 256 MiB: \(format3(monotonicSeconds() - t1)) s")
                try await Task.sleep(nanoseconds: 1_500_000_000)
                let after = try await f.console("snap")
                let fresh = Snapshots.counts(after.utf8.count > before.utf8.count ? Substring(after).dropFirst(before.count) : "")
                // The guest continues from the snapshot: it counts again from where it was then.
                #expect(!fresh.isEmpty)
                #expect((fresh.min() ?? .max) < maxBefore - 5, "after restore: \(fresh), before: up to \(maxBefore)")
                #expect(try await f.backend.state("snap") == .running)

                do {
                    try await f.backend.restoreSnapshot("snap", tag: "nope")
                    Issue.record("restore of a missing snapshot succeeded")
                } catch let e as BerthError {
                    #expect(e.code == .notFound)
                    #expect(e.message == "vm snap: no such snapshot: nope")
                }
                try await f.backend.deleteSnapshot("snap", tag: "s1")
                #expect(try await f.backend.snapshots("snap").isEmpty)
                try await f.backend.kill("snap")
            }
        }

        @Test func aVMWithoutQcow2DisksCannotBeSnapshotted() async throws {
            try await VMFixture.with { f in
                try await f.backend.create(f.config("nodisk", disks: [], command: ["sleep", "1000"]))
                try await f.backend.start("nodisk")
                _ = try await f.waitForConsole("nodisk", GuestInit.readyMarker)
                do {
                    try await f.backend.snapshot("nodisk", tag: "s1")
                    Issue.record("a snapshot without disks succeeded")
                } catch let e as BerthError {
                    #expect(e.code == .unsupported, "\(e)")
                    print("vm snapshot without disks: \(e)")
                }
                #expect(try await f.backend.state("nodisk") == .running)
            }
        }
    }
}

extension QEMUBackendTests {
    @Suite("qemu networking")
    struct Networking {
        @Test func aVMOnABridgeReachesTheHostAndIsReached() async throws {
            try await VMFixture.with { f in
                let tag = String(getpid() % 10000)
                let bridge = "bvm\(tag)", tap = "tvm\(tag)"
                let nl = try Netlink.open()
                defer {
                    try? nl.deleteLink(bridge, ignoreMissing: true)
                    nl.close()
                }
                try nl.createBridge(name: bridge)
                try nl.addAddress(link: bridge, try #require(CIDR("10.213.7.1/24")))
                try nl.setUp(link: bridge)

                let root = try f.makeRootDisk(size: 1 << 30)
                var c = f.config("net", disks: [VMDisk(path: root)],
                                 command: ["sh", "-c", "cat /etc/resolv.conf; ip -4 addr show eth0 | grep inet; ping -c 1 -W 5 10.213.7.1 && echo guest-ping-ok; sleep 1000"])
                c.networks = [VMNetworkInterface(tap: tap, mac: "52:54:00:aa:bb:01", bridge: bridge, address: "10.213.7.2/24", gateway: "10.213.7.1")]
                c.nameservers = ["10.213.7.1"]
                try await f.backend.create(c)
                try await f.backend.start("net")
                #expect(try nl.link(named: tap)?.masterIndex == nl.linkIndex(bridge))
                _ = try await f.waitForConsole("net", "guest-ping-ok")
                let out = try await f.console("net")
                #expect(out.contains("nameserver 10.213.7.1"))
                #expect(out.contains("inet 10.213.7.2/24"))
                let ping = try Subprocess.run("/bin/busybox", ["ping", "-c", "1", "-W", "5", "10.213.7.2"], tool: "busybox-static")
                #expect(ping.status == .exited(0), "host → guest: \(ping.text)")
                try await f.backend.kill("net")
                // QEMU made the tap; it went with QEMU.
                #expect(try nl.link(named: tap) == nil)
            }
        }

        @Test func aMissingBridgeIsRefusedBeforeAnythingStarts() async throws {
            try await VMFixture.with { f in
                var c = f.config("nobridge", disks: [], command: ["true"])
                c.networks = [VMNetworkInterface(tap: "tvmx\(getpid() % 1000)", bridge: "no-such-br0")]
                do {
                    try await f.backend.create(c)
                    Issue.record("a missing bridge was accepted")
                } catch let e as BerthError {
                    #expect(e.code == .notFound)
                    #expect(e.message == "vm nobridge: no such bridge: no-such-br0")
                }
                #expect(try FileSystem.list(f.dir + "/vms").isEmpty)
            }
        }
    }
}

extension QEMUBackendTests {
    @Suite("qemu adoption")
    struct Adoption {
        /// berthd restarting: a new backend on the same root finds the running VM, drives it,
        /// and records its stop; configs and exits survive too.
        @Test func aNewBackendAdoptsRunningVMs() async throws {
            try await VMFixture.with { f in
                let root = try f.makeRootDisk(size: 1 << 30)
                try await f.backend.create(f.config("keep", disks: [VMDisk(path: root)],
                                                    command: ["sh", "-c", "i=0; while true; do echo n=$i; i=$((i+1)); sleep 0.2; done"]))
                try await f.backend.create(f.config("idle", disks: [], command: ["true"]))
                try await f.backend.start("keep")
                _ = try await f.waitForConsole("keep", "n=3\r\n")
                let pid = try await f.backend.stats("keep").pid
                await f.backend.releaseAll()
                #expect(await f.backend.names.isEmpty)
                #expect(Glibc.kill(pid, 0) == 0, "release must not stop the vm")

                let next = try QEMUBackend(options: .init(root: f.dir + "/vms"))
                #expect(await next.names == ["idle", "keep"])
                #expect(await next.restore() == ["keep"])
                #expect(try await next.state("idle") == .created)
                #expect(try await next.state("keep") == .running)
                #expect(try await next.stats("keep").pid == pid)
                try await next.pause("keep")
                #expect(try await next.state("keep") == .paused)
                try await next.resume("keep")
                _ = try await f.waitForConsole("keep", "n=10\r\n", timeout: 30, via: next)
                let exit = try await next.stop("keep", timeout: 20)
                #expect(exit.reason == .powerdown)
                #expect(VMFixture.qemuPIDs(mentioning: f.dir).isEmpty)

                // A third backend sees the stop.
                let third = try QEMUBackend(options: .init(root: f.dir + "/vms"))
                #expect(await third.restore().isEmpty)
                #expect(try await third.state("keep") == .stopped(exit))
                try await third.delete("keep")
                #expect(!FileSystem.exists(f.dir + "/vms/keep"))
            }
        }

        @Test func aVMWhoseQemuDiedWhileNobodyWatchedIsStopped() async throws {
            try await VMFixture.with { f in
                try await f.backend.create(f.config("gone", disks: [], command: ["sleep", "1000"]))
                try await f.backend.start("gone")
                _ = try await f.waitForConsole("gone", GuestInit.readyMarker)
                let pid = try await f.backend.stats("gone").pid
                await f.backend.releaseAll()
                _ = Glibc.kill(pid, SIGKILL)
                while Glibc.kill(pid, 0) == 0 { try await Task.sleep(nanoseconds: 20_000_000) }
                let next = try QEMUBackend(options: .init(root: f.dir + "/vms"))
                #expect(await next.restore().isEmpty)
                #expect(try await next.state("gone") == .stopped(VMExit(reason: .crashed, processExitCode: 255)))
            }
        }
    }
}

extension QEMUBackendTests {
    @Suite("qemu migration")
    struct Migration {
        /// Two backends (two berthds) on one host, the disk shared: the counting guest moves
        /// and keeps counting, without a reboot.
        @Test func liveMigrationMovesARunningGuest() async throws {
            try await VMFixture.with { f in
                let root = try f.makeRootDisk(size: 1 << 30)
                let config = f.config("mover", disks: [VMDisk(path: root)],
                                      command: ["sh", "-c", "i=0; while true; do echo n=$i; i=$((i+1)); sleep 0.2; done"])
                try await f.backend.create(config)
                try await f.backend.start("mover")
                _ = try await f.waitForConsole("mover", "n=5\r\n")

                let other = try QEMUBackend(options: .init(root: f.dir + "/vms2"))
                do {
                    let uri = try await other.prepareIncoming(config)
                    #expect(uri == "unix:\(f.dir)/vms2/mover/migrate.sock")
                    #expect(try await other.state("mover") == .paused)
                    let t0 = monotonicSeconds()
                    let exit = try await f.backend.migrate("mover", to: uri)
                    print("vm live migration of 256 MiB over a unix socket: \(format3(monotonicSeconds() - t0)) s")
                    #expect(exit.reason == .migrated)
                    #expect(try await f.backend.state("mover") == .stopped(exit))
                    let before = Snapshots.counts(Substring(try await f.console("mover"))).max() ?? 0
                    #expect(try await other.state("mover") == .running)
                    _ = try await f.waitForConsole("mover", "n=\(before + 5)\r\n", timeout: 30, via: other)
                    let there = try await other.consoleOutput("mover")
                    let text = String(decoding: there, as: UTF8.self)
                    #expect(!text.contains(GuestInit.readyMarker), "the guest must not have rebooted")
                    #expect((Snapshots.counts(Substring(text)).min() ?? 0) >= before - 1)
                    #expect(try await other.stop("mover", timeout: 20).reason == .powerdown)
                } catch {
                    await other.killAll()
                    throw error
                }
                await other.killAll()
            }
        }

        @Test func migrationToNowhereFailsAndTheVMKeepsRunning() async throws {
            try await VMFixture.with { f in
                try await f.backend.create(f.config("stay", disks: [], command: ["sleep", "1000"]))
                try await f.backend.start("stay")
                _ = try await f.waitForConsole("stay", GuestInit.readyMarker)
                do {
                    try await f.backend.migrate("stay", to: "unix:\(f.dir)/nobody.sock")
                    Issue.record("migration to nowhere succeeded")
                } catch let e as BerthError {
                    #expect(e.message.hasPrefix("vm stay: "), "\(e)")
                    print("vm migration error: \(e)")
                }
                #expect(try await f.backend.state("stay") == .running)
            }
        }
    }
}

extension QEMUBackendTests {
    @Suite("qemu export")
    struct Export {
        /// A VM with a live snapshot, exported, imported into another backend under a new
        /// name: it boots, and its snapshot (memory included) came along.
        @Test func exportAndImportCarrySnapshots() async throws {
            try await VMFixture.with { f in
                let root = try f.makeRootDisk(size: 1 << 30)
                try await f.backend.create(f.config("orig", disks: [VMDisk(path: root)],
                                                    command: ["sh", "-c", "i=0; while true; do echo n=$i; i=$((i+1)); sleep 0.2; done"]))
                try await f.backend.start("orig")
                _ = try await f.waitForConsole("orig", "n=20\r\n")
                try await f.backend.snapshot("orig", tag: "s1")
                do {
                    try await f.backend.export("orig", to: f.dir + "/running.tar")
                    Issue.record("export of a running vm succeeded")
                } catch let e as BerthError {
                    #expect(e.code == .conflict)
                }
                try await f.backend.kill("orig")
                let archive = f.dir + "/orig.tar"
                try await f.backend.export("orig", to: archive)
                print("vm export: \(try DiskImage.hostUsage(archive) >> 20) MiB (kernel, initrd, 1 GiB disk with a 256 MiB snapshot)")

                let other = try QEMUBackend(options: .init(root: f.dir + "/vms2"))
                do {
                    let config = try await other.importVM(from: archive, name: "copy", into: f.dir + "/imported")
                    #expect(config.disks.map(\.path) == [f.dir + "/imported/disks/0.qcow2"])
                    #expect(config.kernel == f.dir + "/imported/kernel")
                    #expect(try await other.snapshots("copy").map(\.tag) == ["s1"])
                    try await other.start("copy")
                    _ = try await f.waitForConsole("copy", "n=2\r\n", via: other)
                    try await other.restoreSnapshot("copy", tag: "s1")
                    try await Task.sleep(nanoseconds: 1_500_000_000)
                    let counts = Snapshots.counts(Substring(String(decoding: try await other.consoleOutput("copy"), as: UTF8.self)))
                    #expect((counts.max() ?? 0) >= 20, "after restoring s1 the guest counts on from ~20: \(counts)")
                } catch {
                    await other.killAll()
                    throw error
                }
                await other.killAll()
            }
        }

        @Test(arguments: ["../evil", "disks/0.qcow2/../../x", "extra"])
        func importRefusesUnexpectedMembers(member: String) async throws {
            try await VMFixture.with { f in
                let archive = f.dir + "/hostile.tar"
                let config = VMConfig(name: "evil", kernel: "kernel")
                let manifest = try BerthJSONEncoder().encode(VMExportManifest(version: 1, config: config))
                var bytes: [UInt8] = []
                var tar = TarWriter { bytes.append(contentsOf: $0) }
                try tar.write(header: TarHeader(name: "berth-vm.json", kind: .file, size: Int64(manifest.count)))
                try tar.write(data: manifest)
                try tar.write(header: TarHeader(name: member, kind: .file, size: 3))
                try tar.write(data: Array("bad".utf8))
                try tar.finish()
                try FileSystem.writeAtomically(archive, bytes, durable: false)
                do {
                    try await f.backend.importVM(from: archive, into: f.dir + "/target")
                    Issue.record("a hostile export was imported")
                } catch let e as BerthError {
                    #expect(e.code == .corrupt, "\(e)")
                }
                #expect(!FileSystem.exists(f.dir + "/target"))
                #expect(!FileSystem.exists(f.dir + "/evil"))
                #expect(await f.backend.names.isEmpty)
            }
        }
    }
}
