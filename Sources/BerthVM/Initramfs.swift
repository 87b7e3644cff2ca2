#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthSystem

/// Berth's initramfs: a newc cpio (uncompressed: the kernel reads it as is, and it boots
/// faster than gzip under TCG) holding static busybox, the kernel modules a virtio guest
/// needs (dependencies resolved from modules.dep, decompressed when the distribution ships
/// them compressed — busybox insmod cannot load compressed modules), and `GuestInit`'s
/// `/init`.
///
/// Layout: `/init`, `/bin/busybox` (applets installed by /init at boot), `/dev/console`,
/// `/dev/null`, `/lib/modules/<name>.ko` and `/lib/modules/berth.order` (one name per line,
/// load order), `/lib/modules/virtiofs.order` (loaded on demand by the agent), `/etc/acpi/PWRF/00000080` (the power button handler), empty `/proc`, `/sys`,
/// `/newroot`, `/run`, `/tmp`.
public enum Initramfs {
    /// Modules a Berth guest loads: virtio over PCI (q35), block, net, console, vsock, and
    /// evdev + button so that ACPI power-button presses reach acpid.
    public static let defaultModules = [
        "virtio_pci", "virtio_blk", "virtio_net", "virtio_console", "vmw_vsock_virtio_transport",
        "evdev", "button",
    ]

    /// Modules carried but loaded only when a guest needs them: virtio-fs (fuse + virtiofs),
    /// loaded by the agent when the container has volumes or binds. Listed in load order in
    /// `virtiofsOrderPath`.
    public static let virtiofsModules = ["virtiofs"]
    /// The load order of `virtiofsModules` in the archive (one name per line, each
    /// `/lib/modules/<name>.ko`).
    public static let virtiofsOrderPath = "/lib/modules/virtiofs.order"

    /// What was written.
    public struct Summary: Sendable {
        /// The modules in load order.
        public var modules: [String]
        /// The archive's size in bytes.
        public var size: Int
    }

    /// Builds the archive for `kernel`'s modules and writes it to `path` atomically.
    /// Blocking (reads ~10 MiB, may run `xz`/`zstd`): call it through `BlockingWork.run`.
    @discardableResult
    public static func write(to path: String, kernel: GuestKernel, busybox: String = "/bin/busybox",
                             modules: [String] = defaultModules, agent: String? = nil) throws -> Summary {
        let archive = try build(kernel: kernel, busybox: busybox, modules: modules, agent: agent)
        try FileSystem.writeAtomically(path, archive.bytes, mode: 0o644, durable: false)
        return Summary(modules: archive.modules, size: archive.bytes.count)
    }

    /// The archive's bytes and the modules it loads, in order. `agent`: a statically linked
    /// `berth-vm-agent` to carry as `/sbin/berth-vm-agent` (`--isolation vm`).
    public static func build(kernel: GuestKernel, busybox: String = "/bin/busybox",
                             modules: [String] = defaultModules, agent: String? = nil) throws -> (bytes: [UInt8], modules: [String]) {
        guard FileSystem.exists(busybox) else {
            throw BerthError.notFound("busybox not found at \(busybox) (install busybox-static)")
        }
        let busyboxBytes = try FileSystem.read(busybox)
        guard isStaticELF(busyboxBytes) else {
            throw BerthError.invalid("\(busybox) is not a statically linked executable (install busybox-static)")
        }
        let table = try KernelModules(directory: kernel.modulesDirectory)
        let order = try table.loadOrder(for: modules)
        // Dependencies already loaded at boot (virtio, virtio_ring) are left out.
        let virtiofsOrder = try table.loadOrder(for: virtiofsModules).filter { !order.contains($0) }

        var w = CPIOWriter()
        for d in ["bin", "sbin", "dev", "etc", "etc/acpi", "etc/acpi/PWRF", "lib", "lib/modules",
                  "newroot", "proc", "run", "sys", "tmp", "usr", "usr/bin", "usr/sbin"] {
            w.directory(d, mode: d == "tmp" ? 0o1777 : 0o755)
        }
        w.characterDevice("dev/console", major: 5, minor: 1)
        w.characterDevice("dev/null", major: 1, minor: 3, mode: 0o666)
        w.file("bin/busybox", busyboxBytes, mode: 0o755)
        w.symlink("bin/sh", target: "busybox")
        w.file("init", Array(GuestInit.script.utf8), mode: 0o755)
        if let agent {
            let bytes = try FileSystem.read(agent)
            guard isStaticELF(bytes) else {
                throw BerthError.invalid("\(agent) is not a statically linked executable (the guest agent must be: the root disk may have no libc)")
            }
            w.file(String(GuestRunSpec.agentPath.dropFirst()), bytes, mode: 0o755)
        }
        w.file("etc/acpi/PWRF/00000080", Array(GuestInit.powerButtonHandler.utf8), mode: 0o755)
        for name in order + virtiofsOrder {
            guard let rel = table.paths[name] else { continue }
            w.file("lib/modules/\(name).ko", try moduleBytes(kernel.modulesDirectory + "/" + rel))
        }
        w.file("lib/modules/berth.order", Array((order.joined(separator: "\n") + "\n").utf8))
        w.file(String(virtiofsOrderPath.dropFirst()), Array((virtiofsOrder.joined(separator: "\n") + "\n").utf8))
        return (w.finish(), order)
    }

    /// A module file's ELF bytes, decompressing `.ko.xz`, `.ko.zst` and `.ko.gz`.
    static func moduleBytes(_ path: String) throws -> [UInt8] {
        let tools: [(suffix: String, program: String, package: String)] = [
            (".xz", "/usr/bin/xz", "xz-utils"), (".zst", "/usr/bin/zstd", "zstd"), (".gz", "/usr/bin/gzip", "gzip"),
        ]
        for t in tools where path.hasSuffix(t.suffix) {
            let r = try Subprocess.check(t.program, ["-dc", path], tool: t.package, what: "decompress kernel module \(path)")
            return r.output
        }
        return try FileSystem.read(path)
    }

    /// ELF with no PT_INTERP program header (what `file` calls "statically linked").
    static func isStaticELF(_ b: [UInt8]) -> Bool {
        guard b.count > 64, b[0] == 0x7f, b[1] == 0x45, b[2] == 0x4c, b[3] == 0x46, b[4] == 2 else { return false }
        func u64(_ o: Int) -> Int { (0..<8).reduce(0) { $0 | Int(b[o + $1]) << (8 * $1) } }
        func u16(_ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 }
        let phoff = u64(32), phentsize = u16(54), phnum = u16(56)
        for i in 0..<phnum {
            let o = phoff + i * phentsize
            guard o + 4 <= b.count else { return false }
            if b[o] == 3 && b[o + 1] == 0 && b[o + 2] == 0 && b[o + 3] == 0 { return false } // PT_INTERP
        }
        return true
    }
}
