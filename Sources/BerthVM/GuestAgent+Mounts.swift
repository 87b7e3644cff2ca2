#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthSystem

/// Volumes, binds and tmpfs of `--isolation vm` (`GuestRunSpec.mounts`).
///
/// The host bind-mounts every bind source and volume directory into one staging directory
/// (entry `0`, `1`, …; read-only ones read-only there) served by one `virtiofsd`. The agent
/// loads fuse + virtiofs (`Initramfs.virtiofsOrderPath`), mounts the share once at
/// `GuestRunSpec.shareMountPoint` — in the initramfs, outside the root disk the command is
/// chrooted into — and bind-mounts each entry onto its target in the root disk, read-only
/// where asked. Targets are made as Docker makes them (directories, or an empty file for a
/// file bind). A tmpfs is a tmpfs in the guest. At the end everything is unmounted (after a
/// sync) before the share, so the data is on the host when the container has exited.
extension GuestAgent {
    /// Makes the spec's mounts inside `root`. Throws a message naming the mount.
    static func setUpMounts(_ spec: GuestRunSpec) throws {
        guard !spec.mounts.isEmpty else { return }
        if spec.mounts.contains(where: { $0.type == "share" }) {
            try loadVirtioFS()
            let share = GuestRunSpec.shareMountPoint
            if !FileSystem.isDirectory(share) { try FileSystem.makeDirectories(share, mode: 0o700) }
            try mountShare(at: share)
        }
        for m in spec.mounts {
            guard m.target.hasPrefix("/"), !m.target.split(separator: "/").contains("..") else {
                throw BerthError.invalid("invalid mount target \(m.target)")
            }
            let target = root + m.target
            do {
                switch m.type {
                case "share":
                    try makeTarget(target, file: m.isFile)
                    try Mounts.mount(source: GuestRunSpec.shareMountPoint + "/" + m.source, target: target, type: nil, flags: [.bind])
                    if m.readOnly { try Mounts.remountBind(target, adding: .readOnly) }
                case "tmpfs":
                    try makeTarget(target, file: false)
                    var flags = MountFlags(rawValue: m.flags)
                    if m.readOnly { flags.insert(.readOnly) }
                    try Mounts.mount(source: "tmpfs", target: target, type: "tmpfs", flags: flags, data: m.data.isEmpty ? nil : m.data)
                default:
                    throw BerthError.invalid("unknown mount type \(m.type)")
                }
            } catch {
                throw BerthError(.system, "error mounting \(m.type == "tmpfs" ? "tmpfs" : "volume") to rootfs at \"\(m.target)\": \((error as? BerthError)?.message ?? "\(error)")")
            }
        }
    }

    /// After the command: sync, then unmount everything below the root disk except
    /// proc/sys/dev (deepest first), then the share.
    static func tearDownMounts() {
        sync()
        let special = ["proc", "sys", "dev"].map { "\(root)/\($0)" }
        let targets = mountPoints().filter { $0.hasPrefix(root + "/") && !special.contains($0) }
        for t in targets.reversed() {
            if (try? Mounts.unmount(t)) == nil { try? Mounts.unmount(t, detach: true) }
        }
        if mountPoints().contains(GuestRunSpec.shareMountPoint) {
            if (try? Mounts.unmount(GuestRunSpec.shareMountPoint)) == nil {
                try? Mounts.unmount(GuestRunSpec.shareMountPoint, detach: true)
            }
        }
    }

    /// The mount points of /proc/self/mounts, in mount order (octal escapes decoded).
    static func mountPoints() -> [String] {
        guard let text = try? FileSystem.readString("/proc/self/mounts") else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            guard f.count >= 2 else { return nil }
            return unescapeMountField(String(f[1]))
        }
    }

    static func unescapeMountField(_ s: String) -> String {
        var out: [UInt8] = []
        let b = Array(s.utf8)
        var i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "\\"), i + 3 < b.count,
               let v = UInt8(String(decoding: b[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
                out.append(v)
                i += 4
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Creates `path` (and its parents) as a directory, or as an empty file for a file bind,
    /// unless it exists.
    static func makeTarget(_ path: String, file: Bool) throws {
        var st = stat()
        if lstat(path, &st) == 0 { return }
        let parent = FileSystem.parentDirectory(of: path)
        if !FileSystem.isDirectory(parent) { try FileSystem.makeDirectories(parent, mode: 0o755) }
        if file {
            let fd = try FD.open(path, O_WRONLY | O_CREAT | O_CLOEXEC, mode: 0o644)
            FD.close(fd)
        } else {
            try FileSystem.makeDirectories(path, mode: 0o755)
        }
    }

    /// insmod (busybox, in the initramfs) of fuse and virtiofs, in order.
    static func loadVirtioFS() throws {
        let order = (try? FileSystem.readString(Initramfs.virtiofsOrderPath)) ?? ""
        for name in order.split(separator: "\n").map(String.init) where !name.isEmpty {
            let pid = try ProcessControl.fork()
            if pid == 0 {
                do { try ProcessControl.exec(path: "/bin/busybox", args: ["insmod", "/lib/modules/\(name).ko"], env: []) } catch {
                    ProcessControl.exitNow(127)
                }
            }
            guard let r = try ProcessControl.wait(pid), r.status.code == 0 else {
                throw BerthError(.system, "cannot load kernel module \(name)")
            }
        }
    }

    /// Mounts the virtio-fs share, waiting up to 5 s for the device to be probed.
    static func mountShare(at path: String) throws {
        var rounds = 0
        while true {
            do {
                try Mounts.mount(source: GuestRunSpec.shareTag, target: path, type: "virtiofs")
                return
            } catch {
                rounds += 1
                if rounds >= 500 { throw error }
                usleep(10_000)
            }
        }
    }
}
