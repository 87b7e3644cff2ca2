#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthSystem

/// VM disk images: thin qcow2 files (the virtual size is a ceiling, not an allocation), root
/// disks made from a directory tree, checks and host usage. Uses `qemu-img` and `mke2fs`.
///
/// Every function blocks (it runs those tools): call them through `BlockingWork.run`.
/// A failed call leaves no file behind at the target path.
public struct DiskImage: Sendable {
    /// `qemu-img` (Debian's qemu-utils).
    public var qemuImg: String
    /// `mke2fs` (e2fsprogs), which can fill a new file system from a directory (`-d`).
    public var mke2fs: String

    public init(qemuImg: String = "/usr/bin/qemu-img", mke2fs: String = "/usr/sbin/mke2fs") {
        self.qemuImg = qemuImg
        self.mke2fs = mke2fs
    }

    /// What `qemu-img info` says about an image.
    public struct Info: Sendable, Equatable {
        /// `qcow2`, `raw`, …
        public var format: String
        /// The size the guest sees, in bytes.
        public var virtualSize: UInt64
        /// Bytes allocated on the host.
        public var actualSize: UInt64
        /// The backing file, for overlays.
        public var backingFile: String?
    }

    /// Creates an empty thin qcow2 image of `virtualSize` bytes (nothing allocated but
    /// metadata: ~200 KiB on the host whatever the size).
    public func createThin(at path: String, virtualSize: UInt64, backingFile: String? = nil) throws {
        guard virtualSize > 0, virtualSize % 512 == 0 else {
            throw BerthError.invalid("disk \(path): size must be a positive multiple of 512 bytes, not \(virtualSize)")
        }
        guard !FileSystem.exists(path) else { throw BerthError.conflict("disk \(path) exists already") }
        var args = ["create", "-q", "-f", "qcow2"]
        if let backingFile { args += ["-b", backingFile, "-F", "qcow2"] }
        args += [path, String(virtualSize)]
        do {
            try Subprocess.check(qemuImg, args, tool: "qemu-utils", what: "create disk \(path)")
        } catch {
            try? FileSystem.removeTree(path)
            throw error
        }
    }

    /// Makes a qcow2 root disk of `virtualSize` bytes holding an ext4 file system with the
    /// contents of `directory` (owners, modes, links as they are there): `mke2fs -d` on a
    /// sparse raw file beside `path`, then `qemu-img convert`, which stores only the blocks in
    /// use. Inode tables and the journal are initialized at creation (not lazily by the guest
    /// kernel, which would allocate them all in the image on first mount).
    public func makeRootDisk(at path: String, from directory: String, virtualSize: UInt64, label: String = "berth-root") throws {
        guard FileSystem.isDirectory(directory) else { throw BerthError.notFound("no such directory: \(directory)") }
        guard virtualSize >= 16 << 20, virtualSize % 4096 == 0 else {
            throw BerthError.invalid("disk \(path): a root disk needs at least 16 MiB in whole 4 KiB blocks, not \(virtualSize) bytes")
        }
        guard !FileSystem.exists(path) else { throw BerthError.conflict("disk \(path) exists already") }
        let raw = FileSystem.parentDirectory(of: path) + "/.\(path.split(separator: "/").last ?? "disk").raw.tmp"
        defer { try? FileSystem.removeTree(raw) }
        do {
            let fd = try FD.open(raw, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
            let r = ftruncate(fd, off_t(virtualSize))
            let e = errno
            FD.close(fd)
            if r != 0 { throw BerthError.sys("size \(raw)", e) }
            try Subprocess.check(mke2fs, ["-q", "-F", "-t", "ext4", "-L", label, "-d", directory,
                                         "-E", "lazy_itable_init=0,lazy_journal_init=0", raw],
                                 tool: "e2fsprogs", what: "make ext4 file system from \(directory)")
            try Subprocess.check(qemuImg, ["convert", "-q", "-f", "raw", "-O", "qcow2", raw, path],
                                 tool: "qemu-utils", what: "convert root disk \(path) to qcow2")
        } catch {
            try? FileSystem.removeTree(path)
            throw error
        }
    }

    /// `qemu-img info` of an image, read as `format` (never probed).
    public func info(_ path: String, format: String? = nil) throws -> Info {
        guard FileSystem.exists(path) else { throw BerthError.notFound("no such disk: \(path)") }
        var args = ["info", "--output=json", "-U"]
        if let format { args += ["-f", format] }
        let r = try Subprocess.run(qemuImg, args + [path], tool: "qemu-utils")
        guard r.status == .exited(0) else {
            throw BerthError(.corrupt, "disk \(path) is not a valid \(format ?? "disk") image: \(r.lastLine)")
        }
        let json = try JSON.parse(r.output)
        return Info(format: json["format"]?.stringValue ?? "",
                    virtualSize: json["virtual-size"]?.uint64Value ?? 0,
                    actualSize: json["actual-size"]?.uint64Value ?? 0,
                    backingFile: json["backing-filename"]?.stringValue)
    }

    /// Checks an image before it is booted: readable, of `format`, and for qcow2 consistent
    /// (`qemu-img check`: exit 2 means corruption, 1 that it could not even be read; leaked
    /// clusters, exit 3, are harmless). Throws `.corrupt` naming the disk.
    /// `shared`: the image may be open in another QEMU (the source of a migration): check
    /// without taking its lock.
    public func check(_ path: String, format: String, shared: Bool = false) throws {
        guard FileSystem.exists(path) else { throw BerthError.notFound("no such disk: \(path)") }
        guard access(path, R_OK) == 0 else { throw BerthError.sys("disk \(path)", EACCES) }
        if format == "raw" { return }
        let r = try Subprocess.run(qemuImg, ["check", "-q"] + (shared ? ["-U"] : []) + ["-f", format, path], tool: "qemu-utils")
        if r.status != .exited(0), r.text.contains("lock") {
            throw BerthError.conflict("disk \(path) is in use by another process: \(r.lastLine)")
        }
        // The first "ERROR: …" line says what is wrong; otherwise qemu-img's last words.
        let lines = r.text.split(whereSeparator: { $0.isNewline }).map { $0.trimmingSpaces }
        var detail = lines.first { $0.hasPrefix("ERROR") }.map { String($0.dropFirst($0.hasPrefix("ERROR: ") ? 7 : 5)) } ?? r.lastLine
        if detail.hasPrefix("qemu-img: ") { detail = String(detail.dropFirst(10)) }
        switch r.status {
        case .exited(0), .exited(3):
            return
        case .exited(2):
            throw BerthError(.corrupt, "disk \(path) is corrupt: \(detail.isEmpty ? "qemu-img check found errors" : detail)")
        default:
            throw BerthError(.corrupt, "disk \(path) is corrupt or not a \(format) image: \(detail)")
        }
    }

    /// Bytes the file occupies on the host (allocated blocks × 512), not its apparent size.
    public static func hostUsage(_ path: String) throws -> UInt64 {
        var st = stat()
        guard stat(path, &st) == 0 else { throw BerthError.sys("stat \(path)") }
        return UInt64(st.st_blocks) * 512
    }
}
