#if canImport(Glibc)
import Glibc
#endif
import BerthCore

/// Whole-tree operations built on the descriptor-relative `FileAt` calls: copying a directory's
/// contents with their metadata (a volume's copy-up) and measuring a tree. Nothing here follows
/// a symlink: every level is opened `O_NOFOLLOW` relative to its parent.
extension FileAt {
    /// Copies everything inside directory `source` into directory `destination` (both open
    /// descriptors readable as directories), keeping types, owners, modes, times and extended
    /// attributes; the destination directory itself gets `source`'s owner and mode. Entries
    /// that exist in `destination` already are left alone (the copy fills, never overwrites).
    /// Sockets are skipped; hard links are copied as separate files.
    public static func copyContents(from source: Int32, to destination: Int32) throws {
        let top = try status(fd: source)
        try changeOwner(fd: destination, uid: top.uid, gid: top.gid, what: "copy destination")
        try changeMode(fd: destination, mode: top.permissions, what: "copy destination")
        try copyEntries(from: source, to: destination)
        try setTimes(fd: destination, seconds: top.mtime, nanoseconds: top.mtimeNanoseconds, what: "copy destination")
    }

    private static func copyEntries(from src: Int32, to dst: Int32) throws {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        for name in try directoryEntries(fd: src) {
            guard let st = try status(at: src, name), try status(at: dst, name) == nil else { continue }
            switch st.kind {
            case .directory:
                try makeDirectory(at: dst, name, mode: 0o700)
                let s = try openDirectory(at: src, name)
                defer { close(s) }
                let d = try openDirectory(at: dst, name)
                defer { close(d) }
                try copyEntries(from: s, to: d)
                try changeOwner(fd: d, uid: st.uid, gid: st.gid, what: name)
                try changeMode(fd: d, mode: st.permissions, what: name)
                try copyXattrs(from: src, to: dst, name)
                try setTimes(fd: d, seconds: st.mtime, nanoseconds: st.mtimeNanoseconds, what: name)
            case .regular:
                let s = try openFile(at: src, name)
                defer { close(s) }
                let d = try createFile(at: dst, name, mode: 0o600)
                defer { close(d) }
                while true {
                    let n = try buffer.withUnsafeMutableBytes { try read(s, into: $0, what: name) }
                    if n == 0 { break }
                    try buffer.withUnsafeBytes { try writeAll(d, UnsafeRawBufferPointer(rebasing: $0[0..<n]), what: name) }
                }
                try changeOwner(fd: d, uid: st.uid, gid: st.gid, what: name)
                try changeMode(fd: d, mode: st.permissions, what: name)
                try copyXattrs(from: src, to: dst, name)
                try setTimes(fd: d, seconds: st.mtime, nanoseconds: st.mtimeNanoseconds, what: name)
            case .symlink:
                try makeSymlink(target: try readLink(at: src, name), at: dst, name)
                try changeOwner(at: dst, name, uid: st.uid, gid: st.gid)
                try setTimes(at: dst, name, seconds: st.mtime, nanoseconds: st.mtimeNanoseconds)
            case .characterDevice, .blockDevice, .fifo:
                let type: mode_t = st.kind == .fifo ? 0o010000 : st.kind == .characterDevice ? 0o020000 : 0o060000
                try makeNode(at: dst, name, mode: type | mode_t(st.permissions), major: st.deviceMajor, minor: st.deviceMinor)
                try changeOwner(at: dst, name, uid: st.uid, gid: st.gid)
                try changeMode(at: dst, name, mode: st.permissions)
                try setTimes(at: dst, name, seconds: st.mtime, nanoseconds: st.mtimeNanoseconds)
            case .socket, .unknown:
                continue
            }
        }
    }

    /// Extended attributes of `name` in `src` onto `name` in `dst`; attributes the destination
    /// filesystem does not support are dropped (tmpfs has no `user.*` on older kernels).
    private static func copyXattrs(from src: Int32, to dst: Int32, _ name: String) throws {
        for (key, value) in try xattrs(at: src, name) {
            do { try setXattr(at: dst, name, key, value) } catch let e as BerthError {
                if e.errno == EOPNOTSUPP || e.errno == ENOTSUP || e.errno == EPERM { continue }
                throw e
            }
        }
    }

    /// Whether the directory open at `fd` has no entries.
    public static func isEmptyDirectory(fd: Int32) throws -> Bool {
        try directoryEntries(fd: fd).isEmpty
    }

    /// The apparent size of a tree (the sum of `st_size` of everything but directories, each
    /// inode counted once), as Docker reports volume and container sizes. Missing is 0.
    public static func treeSize(_ path: String) throws -> Int64 {
        guard FileSystem.isDirectory(path) else { return 0 }
        let fd = try openDirectory(path)
        defer { close(fd) }
        var seen = Set<UInt64>()
        return try treeSize(fd: fd, seen: &seen)
    }

    private static func treeSize(fd: Int32, seen: inout Set<UInt64>) throws -> Int64 {
        var total: Int64 = 0
        for name in try directoryEntries(fd: fd) {
            guard let st = try status(at: fd, name) else { continue }
            if st.kind == .directory {
                let sub = try openDirectory(at: fd, name)
                defer { close(sub) }
                total += try treeSize(fd: sub, seen: &seen)
            } else if st.linkCount <= 1 || seen.insert(st.inode).inserted {
                total += st.size
            }
        }
        return total
    }
}
