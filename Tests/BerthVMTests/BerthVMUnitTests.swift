import BerthCore
import Testing
@testable import BerthVM

/// The pure parts: cpio bytes, modules.dep resolution, the command line, validation.
@Suite("vm units")
struct BerthVMUnitTests {
    @Test func cpioNewcLayout() {
        var w = CPIOWriter()
        w.file("a", Array("hi".utf8), mode: 0o644)
        let bytes = w.finish()
        let text = String(decoding: bytes.prefix(110), as: UTF8.self)
        // magic, ino 1, mode 0100644, uid, gid, nlink 1, mtime, size 2, dev, rdev, namesize 2, check
        #expect(text == "070701" + "00000001" + "000081a4" + "00000000" + "00000000" + "00000001" + "00000000"
            + "00000002" + "00000000" + "00000000" + "00000000" + "00000000" + "00000002" + "00000000")
        // name "a\0" padded to 112, data "hi" padded to 116, then the trailer.
        #expect(Array(bytes[110..<112]) == [97, 0])
        #expect(Array(bytes[112..<116]) == [104, 105, 0, 0])
        #expect(String(decoding: bytes[116..<122], as: UTF8.self) == "070701")
        #expect(bytes.count % 4 == 0)
        let tail = String(decoding: bytes[(116 + 110)...], as: UTF8.self)
        #expect(tail.hasPrefix("TRAILER!!!"))
    }

    @Test func moduleOrderFollowsModulesDep() throws {
        let dep = """
        kernel/drivers/virtio/virtio.ko.xz: kernel/drivers/virtio/virtio_ring.ko.xz
        kernel/drivers/virtio/virtio_ring.ko.xz:
        kernel/drivers/virtio/virtio_pci.ko.xz: kernel/drivers/virtio/virtio_pci_legacy_dev.ko.xz kernel/drivers/virtio/virtio_pci_modern_dev.ko.xz kernel/drivers/virtio/virtio.ko.xz kernel/drivers/virtio/virtio_ring.ko.xz
        kernel/drivers/virtio/virtio_pci_legacy_dev.ko.xz:
        kernel/drivers/virtio/virtio_pci_modern_dev.ko.xz:
        kernel/drivers/block/virtio_blk.ko.xz: kernel/drivers/virtio/virtio.ko.xz kernel/drivers/virtio/virtio_ring.ko.xz
        kernel/drivers/char/hw_random/virtio-rng.ko.xz: kernel/drivers/virtio/virtio.ko.xz kernel/drivers/virtio/virtio_ring.ko.xz
        """
        let m = KernelModules(directory: "/lib/modules/x", modulesDep: dep, modulesBuiltin: "kernel/drivers/input/evdev.ko\n")
        let order = try m.loadOrder(for: ["virtio_pci", "virtio_blk", "virtio-rng", "evdev"])
        #expect(order == ["virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_ring", "virtio", "virtio_pci", "virtio_blk", "virtio_rng"])
        #expect(m.paths["virtio_rng"] == "kernel/drivers/char/hw_random/virtio-rng.ko.xz")
        #expect(throws: BerthError.self) { try m.loadOrder(for: ["no_such_module"]) }
        do {
            _ = try m.loadOrder(for: ["nope"])
        } catch let e as BerthError {
            #expect(e.code == .notFound)
            #expect(e.message.contains("kernel module not found: nope"))
        }
    }

    @Test(arguments: [
        ("flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic vmx ssse3\n", true),
        ("flags\t\t: fpu svm lm\n", true),
        ("flags\t\t: fpu vme hypervisor lm\nvmx flags\t: vnmi\n", false),
        ("", false),
    ])
    func cpuinfoVirtualizationFlags(text: String, expected: Bool) {
        #expect(HostInfo.cpuinfoHasVirtualization(text) == expected)
    }

    @Test func commandLineForTCG() {
        let config = VMConfig(name: "web", vcpus: 2, memoryMiB: 256, kernel: "/boot/k", initrd: "/i",
                              disks: [VMDisk(path: "/d/a,b.qcow2"), VMDisk(path: "/d/ro.raw", format: "raw", readOnly: true)],
                              networks: [VMNetworkInterface(tap: "tap0", mac: "52:54:00:12:34:56")],
                              hostname: "h1", command: ["echo", "it's"])
        let q = QEMUCommandLine(binary: "/usr/bin/qemu-system-x86_64", accelerator: .tcg, firmware: nil)
        let a = q.arguments(for: config, paths: .init(qmpSocket: "/s/qmp.sock", consoleSocket: "/s/console.sock", consoleLog: "/s/console.log"))
        let joined = a.joined(separator: " ")
        #expect(a.first == "/usr/bin/qemu-system-x86_64")
        #expect(joined.contains("-machine q35 -accel tcg -cpu max -smp 2 -m 256M -nodefaults -no-user-config -nographic -no-reboot -S"))
        #expect(joined.contains("-qmp unix:/s/qmp.sock,server=on,wait=off"))
        #expect(joined.contains("-serial chardev:console"))
        #expect(joined.contains("file=/d/a,,b.qcow2,if=none,id=disk0,format=qcow2"))
        #expect(joined.contains("file=/d/ro.raw,if=none,id=disk1,format=raw,discard=unmap,readonly=on"))
        #expect(joined.contains("-netdev tap,id=net0,ifname=tap0,script=no,downscript=no -device virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56"))
        #expect(!a.contains("-bios"))
        let append = a[a.firstIndex(of: "-append")! + 1]
        #expect(append.hasPrefix("console=ttyS0 panic=-1 quiet berth.root=/dev/vda berth.hostname=h1 berth.cmd="))
        // 'echo' 'it'\''s'
        #expect(append.hasSuffix("berth.cmd=" + base64Encode(Array("'echo' 'it'\\''s'".utf8))))
        var net = config
        net.networks = [VMNetworkInterface(tap: "t0", bridge: "br0", address: "10.88.0.5/16", gateway: "10.88.0.1"),
                        VMNetworkInterface(tap: "t1", address: "10.89.0.5/16")]
        net.nameservers = ["10.88.0.1", "1.1.1.1"]
        #expect(GuestInit.kernelCommandLine(for: net).contains("berth.ip=eth0,10.88.0.5/16,10.88.0.1 berth.ip=eth1,10.89.0.5/16 berth.dns=10.88.0.1,1.1.1.1 berth.cmd="))
        net.networks[0].address = "10.88.0.5"
        #expect(throws: BerthError.self) { try net.validate(hostCPUs: 2, hostMemoryMiB: 4096) }
        let kvm = QEMUCommandLine(binary: "q", accelerator: .kvm, firmware: "/fw").arguments(for: config, paths: .init(qmpSocket: "a", consoleSocket: "b", consoleLog: "c"))
        #expect(kvm.joined(separator: " ").contains("-accel kvm -cpu host"))
        #expect(kvm.joined(separator: " ").contains("-bios /fw"))
    }

    @Test func qemuArgumentsWithShares() throws {
        var config = VMConfig(name: "web", vcpus: 1, memoryMiB: 300, kernel: "/boot/k", initrd: "/i")
        let q = QEMUCommandLine(binary: "qemu", accelerator: .tcg, firmware: nil)
        let paths = QEMUCommandLine.Paths(qmpSocket: "/s/qmp.sock", consoleSocket: "/s/console.sock", consoleLog: "/s/console.log")
        // No share: private memory, no vhost-user device.
        let plain = q.arguments(for: config, paths: paths).joined(separator: " ")
        #expect(plain.contains("-machine q35 -accel"))
        #expect(!plain.contains("memory-backend") && !plain.contains("vhost-user-fs"))
        config.shares = [VMShare(tag: "berth", socket: "/run/x,y/virtiofs.sock"), VMShare(tag: "two", socket: "/s/2.sock")]
        try config.validate(hostCPUs: 2, hostMemoryMiB: 4096)
        let a = q.arguments(for: config, paths: paths)
        let joined = a.joined(separator: " ")
        #expect(joined.contains("-machine q35,memory-backend=mem -accel tcg"))
        #expect(joined.contains("-object memory-backend-memfd,id=mem,size=300M,share=on"))
        #expect(joined.contains("-chardev socket,id=fs0,path=/run/x,,y/virtiofs.sock -device vhost-user-fs-pci,chardev=fs0,tag=berth"))
        #expect(joined.contains("-chardev socket,id=fs1,path=/s/2.sock -device vhost-user-fs-pci,chardev=fs1,tag=two"))
        // The memory size and -m agree (QEMU refuses a mismatch).
        #expect(a[a.firstIndex(of: "-m")! + 1] == "300M")
        // Tags: 1 to 36 bytes, unique.
        var bad = config
        bad.shares = [VMShare(tag: String(repeating: "t", count: 37), socket: "/s")]
        #expect(throws: BerthError.self) { try bad.validate(hostCPUs: 2, hostMemoryMiB: 4096) }
        bad.shares = [VMShare(tag: "a", socket: "/s1"), VMShare(tag: "a", socket: "/s2")]
        #expect(throws: BerthError.self) { try bad.validate(hostCPUs: 2, hostMemoryMiB: 4096) }
        // Older config.json files (no "shares") still decode.
        var enc = BerthJSONEncoder()
        enc.options = []
        let text = String(decoding: try enc.encode(VMConfig(name: "old", kernel: "/k")), as: UTF8.self)
        #expect(text.contains(",\"shares\":[]"))
        let old = text.replacing(",\"shares\":[]", with: "")
        #expect(try BerthJSONDecoder().decode(VMConfig.self, from: Array(old.utf8)).shares.isEmpty)
    }

    @Test func guestMountsTravelInTheSpec() throws {
        var spec = GuestRunSpec(args: ["true"], env: [])
        spec.mounts = [GuestMount(type: "share", source: "0", target: "/data", readOnly: true),
                       GuestMount(type: "tmpfs", target: "/t", flags: 6, data: "size=65536k")]
        #expect(try GuestRunSpec.decode(spec.encoded()) == spec)
        // /proc/self/mounts escapes spaces, tabs, newlines and backslashes in octal.
        #expect(GuestAgent.unescapeMountField("/newroot/a\\040b\\011c") == "/newroot/a b\tc")
        #expect(GuestAgent.unescapeMountField("/x\\") == "/x\\")
    }

    @Test(arguments: [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")])
    func base64(input: String, output: String) {
        #expect(base64Encode(Array(input.utf8)) == output)
    }

    @Test func exitStatusFromConsole() {
        #expect(GuestInit.exitStatus(inConsole: Array("boot\r\nBERTH_GUEST_READY\r\nhello\r\nBERTH_GUEST_EXIT=7\r\n[ 2.1] reboot: Power down\r\n".utf8)) == 7)
        #expect(GuestInit.exitStatus(inConsole: Array("BERTH_GUEST_READY\n".utf8)) == nil)
    }

    @Test func validationNamesTheProblem() {
        func error(_ c: VMConfig) -> BerthError? {
            do { try c.validate(hostCPUs: 2, hostMemoryMiB: 4096); return nil } catch { return error as? BerthError }
        }
        let ok = VMConfig(name: "vm1", kernel: "/k")
        #expect(error(ok) == nil)
        var c = ok; c.vcpus = 3
        #expect(error(c)?.message == "vm vm1: 3 vcpus asked for, but the host has only 2 cpus")
        c = ok; c.vcpus = 0
        #expect(error(c)?.code == .invalidArgument)
        c = ok; c.memoryMiB = 64
        #expect(error(c)?.message == "vm vm1: memory 64 MiB is below the minimum of 128 MiB")
        c = ok; c.memoryMiB = 8192
        #expect(error(c)?.message == "vm vm1: memory 8192 MiB is more than the host's 4096 MiB")
        c = ok; c.name = "-bad"
        #expect(error(c)?.code == .invalidArgument)
        c = ok; c.networks = [VMNetworkInterface(tap: "a-very-long-tap-name")]
        #expect(error(c)?.message == "vm vm1: invalid tap device name \"a-very-long-tap-name\"")
        c = ok; c.command = [String(repeating: "x", count: 2000)]
        #expect(error(c)?.message.contains("kernel command line") == true)
        c = ok; c.disks = [VMDisk(path: "/d", format: "vmdk")]
        #expect(error(c)?.code == .invalidArgument)
    }

    @Test func configRoundTripsAndOldConfigsDecode() throws {
        var c = VMConfig(name: "vm1", vcpus: 2, memoryMiB: 512, kernel: "/k", initrd: "/i",
                         disks: [VMDisk(path: "/d")], networks: [VMNetworkInterface(tap: "t0", bridge: "br0", address: "10.0.0.2/24")],
                         hostname: "h", command: ["echo", "hi"])
        c.nameservers = ["10.0.0.1"]
        let bytes = try BerthJSONEncoder().encode(c)
        #expect(try BerthJSONDecoder().decode(VMConfig.self, from: bytes) == c)
        let old = try BerthJSONDecoder().decode(VMConfig.self, from: Array(#"{"name":"old","kernel":"/k"}"#.utf8))
        #expect(old == VMConfig(name: "old", kernel: "/k"))
    }

    @Test func staticELFDetection() throws {
        #expect(Initramfs.isStaticELF([0x7f, 0x45]) == false)
    }
}
