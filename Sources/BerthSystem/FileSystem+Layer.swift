#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import CBerth

/// What `lstat` says about a file, in Swift types (`FileAt.status`).
public struct FileStatus: Sendable, Equatable {
    /// The file type, from the `S_IFMT` bits of `st_mode`.
    public enum Kind: Sendable, Equatable {
        case regular, directory, symlink, characterDevice, blockDevice, fifo, socket, unknown
    }

    public var kind: Kind
    /// Permission bits including setuid, setgid and sticky (`st_mode & 0o7777`).
    public var permissions: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var size: Int64
    public var mtime: Int64
    public var mtimeNanoseconds: Int32
    public var inode: UInt64
    public var device: UInt64
    public var linkCount: UInt64
    /// Major and minor numbers of a device node (`st_rdev`).
    public var deviceMajor: UInt32
    public var deviceMinor: UInt32

    init(_ st: stat) {
        switch st.st_mode & 0o170000 {
        case 0o100000: kind = .regular
        case 0o040000: kind = .directory
        case 0o120000: kind = .symlink
        case 0o020000: kind = .characterDevice
        case 0o060000: kind = .blockDevice
        case 0o010000: kind = .fifo
        case 0o140000: kind = .socket
        default: kind = .unknown
        }
        permissions = UInt32(st.st_mode & 0o7777)
        uid = st.st_uid
        gid = st.st_gid
        size = Int64(st.st_size)
        mtime = Int64(st.st_mtim.tv_sec)
        mtimeNanoseconds = Int32(truncatingIfNeeded: st.st_mtim.tv_nsec)
        inode = UInt64(st.st_ino)
        device = UInt64(st.st_dev)
        linkCount = UInt64(st.st_nlink)
        // glibc's dev_t encoding (gnu_dev_major/minor).
        let rdev = UInt64(st.st_rdev)
        deviceMajor = UInt32(truncatingIfNeeded: ((rdev >> 8) & 0xfff) | ((rdev >> 32) & ~UInt64(0xfff)))
        deviceMinor = UInt32(truncatingIfNeeded: (rdev & 0xff) | ((rdev >> 12) & ~UInt64(0xff)))
    }
}

/// Descriptor-relative file operations (the `*at` family) for code that must never follow a
/// path out of a directory tree it does not trust: layer extraction and layer diffs.
///
/// Every function takes a directory descriptor and a single path *component* `name` (no `/`)
/// unless documented otherwise, and never follows a symlink in that final component. Callers
/// resolve parent directories with `openDirectoryInRoot` (openat2 `RESOLVE_IN_ROOT`), so no
/// path string built from untrusted input ever reaches the host's path resolution.
/// Errors are `BerthError.sys("what name", errno)`.
public enum FileAt {
    /// `O_PATH` (not exported by the Glibc module on every toolchain).
    public static let pathOnly: Int32 = 0o10000000
    private static let resolveInRoot: UInt64 = 0x10
    private static let resolveNoMagicLinks: UInt64 = 0x02
    private static let atEmptyPath: Int32 = 0x1000

    /// Opens `path` (relative, may contain `/`) as a directory with `openat2(RESOLVE_IN_ROOT |
    /// RESOLVE_NO_MAGICLINKS)`: symlinks and `..` are resolved as if `root` were `/`, so the
    /// result is always a directory inside `root`. `flags` is usually `O_PATH` (for `*at` calls)
    /// or `O_RDONLY` (to change the directory's own metadata). `noFollow` refuses a symlink as
    /// the final component. Returns nil when a component does not exist (ENOENT).
    public static func openDirectoryInRoot(_ root: Int32, _ path: String, flags: Int32 = pathOnly,
                                           noFollow: Bool = false) throws -> Int32? {
        var f = flags | O_DIRECTORY | O_CLOEXEC
        if noFollow { f |= O_NOFOLLOW }
        while true {
            let fd = berth_openat2(root, path, UInt64(UInt32(bitPattern: f)), 0, resolveInRoot | resolveNoMagicLinks)
            if fd >= 0 { return fd }
            let e = errno
            if e == EINTR || e == EAGAIN { continue }
            if e == ENOENT { return nil }
            throw BerthError.sys("open directory \(path)", e)
        }
    }

    /// Opens `path` (relative, may contain `/`) inside `root` with `openat2(RESOLVE_IN_ROOT |
    /// RESOLVE_NO_MAGICLINKS)`, following symlinks as if `root` were `/` (the final one too,
    /// unless `noFollow`). Any file type; `flags` as for `open` (`O_RDONLY`, `O_PATH`).
    /// Returns nil when a component does not exist.
    public static func openInRoot(_ root: Int32, _ path: String, flags: Int32 = O_RDONLY, noFollow: Bool = false) throws -> Int32? {
        // O_PATH takes no other flags than O_CLOEXEC, O_DIRECTORY and O_NOFOLLOW (EINVAL).
        var f = flags | O_CLOEXEC | (flags & pathOnly != 0 ? 0 : O_NOCTTY)
        if noFollow { f |= O_NOFOLLOW }
        while true {
            let fd = berth_openat2(root, path.isEmpty ? "." : path, UInt64(UInt32(bitPattern: f)), 0, resolveInRoot | resolveNoMagicLinks)
            if fd >= 0 { return fd }
            let e = errno
            if e == EINTR || e == EAGAIN { continue }
            if e == ENOENT || e == ENOTDIR { return nil }
            throw BerthError.sys("open \(path)", e)
        }
    }

    /// Opens a directory by host path (`O_DIRECTORY`, no `O_PATH` unless given in `flags`).
    public static func openDirectory(_ path: String, flags: Int32 = O_RDONLY) throws -> Int32 {
        try sysCall("open \(path)") { open(path, flags | O_DIRECTORY | O_CLOEXEC) }
    }

    /// Opens the directory `name` in `dir` for reading, refusing a symlink (`O_NOFOLLOW`).
    public static func openDirectory(at dir: Int32, _ name: String, flags: Int32 = O_RDONLY) throws -> Int32 {
        try sysCall("open directory \(name)") { openat(dir, name, flags | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
    }

    /// Opens the regular file `name` in `dir` read-only, refusing a symlink.
    public static func openFile(at dir: Int32, _ name: String) throws -> Int32 {
        try sysCall("open \(name)") { openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK) }
    }

    /// `fstatat(AT_SYMLINK_NOFOLLOW)`; nil when `name` does not exist. `name` "" is `dir` itself.
    public static func status(at dir: Int32, _ name: String) throws -> FileStatus? {
        var st = stat()
        let flags = AT_SYMLINK_NOFOLLOW | (name.isEmpty ? atEmptyPath : 0)
        if fstatat(dir, name, &st, flags) == 0 { return FileStatus(st) }
        let e = errno
        if e == ENOENT || e == ENOTDIR { return nil }
        throw BerthError.sys("stat \(name)", e)
    }

    /// `fstat`.
    public static func status(fd: Int32) throws -> FileStatus {
        var st = stat()
        try sysCall("fstat") { fstat(fd, &st) }
        return FileStatus(st)
    }

    /// `mkdirat`; returns false when something named `name` exists already (EEXIST), which
    /// may be a symlink: `mkdirat` never follows it.
    @discardableResult
    public static func makeDirectory(at dir: Int32, _ name: String, mode: mode_t = 0o755) throws -> Bool {
        if mkdirat(dir, name, mode) == 0 { return true }
        let e = errno
        if e == EEXIST { return false }
        throw BerthError.sys("mkdir \(name)", e)
    }

    /// Creates a new regular file for writing: `O_CREAT | O_EXCL | O_NOFOLLOW`, so an existing
    /// file or symlink of that name is an error (EEXIST) rather than written through.
    public static func createFile(at dir: Int32, _ name: String, mode: mode_t = 0o600) throws -> Int32 {
        try sysCall("create \(name)") {
            openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        }
    }

    /// `symlinkat`: the target is stored verbatim (never resolved).
    public static func makeSymlink(target: String, at dir: Int32, _ name: String) throws {
        try sysCall("symlink \(name)") { symlinkat(target, dir, name) }
    }

    /// `linkat(flags: 0)`: links `fromName` in `fromDir` itself (a symlink is linked, not
    /// followed) as `name` in `dir`.
    public static func makeHardLink(from fromDir: Int32, _ fromName: String, at dir: Int32, _ name: String) throws {
        try sysCall("link \(name) to \(fromName)") { linkat(fromDir, fromName, dir, name, 0) }
    }

    /// `mknodat` of a fifo, character or block device (`mode` includes the `S_IF*` type bits).
    /// Throws with the errno kept (EPERM in a user namespace).
    public static func makeNode(at dir: Int32, _ name: String, mode: mode_t, major: UInt32, minor: UInt32) throws {
        try sysCall("mknod \(name)") { mknodat(dir, name, mode, berth_makedev(major, minor)) }
    }

    /// `unlinkat`, with `AT_REMOVEDIR` for an (empty) directory.
    public static func remove(at dir: Int32, _ name: String, directory: Bool = false) throws {
        try sysCall("remove \(name)") { unlinkat(dir, name, directory ? AT_REMOVEDIR : 0) }
    }

    /// Removes `name` and, if it is a directory, everything below it, without following any
    /// symlink (each level is opened `O_NOFOLLOW` relative to its parent). Missing is fine.
    public static func removeTree(at dir: Int32, _ name: String) throws {
        guard let st = try status(at: dir, name) else { return }
        guard st.kind == .directory else {
            try remove(at: dir, name)
            return
        }
        let sub = try openDirectory(at: dir, name)
        defer { close(sub) }
        for child in try directoryEntries(fd: sub) { try removeTree(at: sub, child) }
        try remove(at: dir, name, directory: true)
    }

    /// The names in a directory (without `.` and `..`), in the order the kernel returns them.
    /// `fd` stays open and owned by the caller.
    public static func directoryEntries(fd: Int32) throws -> [String] {
        let copy = try sysCall("open directory") { openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard let d = fdopendir(copy) else {
            let e = errno
            close(copy)
            throw BerthError.sys("opendir", e)
        }
        defer { closedir(d) }
        var names: [String] = []
        while true {
            errno = 0
            guard let ent = readdir(d) else {
                if errno != 0 { throw BerthError.sys("readdir") }
                return names
            }
            // SAFETY: d_name is a NUL-terminated array inside the dirent readdir returned,
            // valid until the next readdir call; it is copied into a String right here.
            let name = withUnsafePointer(to: &ent.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: ent.pointee.d_name)) {
                    String(cString: $0)
                }
            }
            if name != "." && name != ".." { names.append(name) }
        }
    }

    /// `fchownat(AT_SYMLINK_NOFOLLOW)`: owner of `name` itself (a symlink's own owner).
    public static func changeOwner(at dir: Int32, _ name: String, uid: UInt32, gid: UInt32) throws {
        try sysCall("chown \(name)") { fchownat(dir, name, uid, gid, AT_SYMLINK_NOFOLLOW) }
    }

    /// `fchown` on an open descriptor.
    public static func changeOwner(fd: Int32, uid: UInt32, gid: UInt32, what: String) throws {
        try sysCall("chown \(what)") { fchown(fd, uid, gid) }
    }

    /// `fchmodat` of a non-symlink `name` (callers check the type first: Linux cannot change
    /// a symlink's mode, and `fchmodat` follows one).
    public static func changeMode(at dir: Int32, _ name: String, mode: UInt32) throws {
        try sysCall("chmod \(name)") { fchmodat(dir, name, mode_t(mode & 0o7777), 0) }
    }

    /// `fchmod` on an open descriptor (setuid/setgid/sticky included).
    public static func changeMode(fd: Int32, mode: UInt32, what: String) throws {
        try sysCall("chmod \(what)") { fchmod(fd, mode_t(mode & 0o7777)) }
    }

    /// `utimensat(AT_SYMLINK_NOFOLLOW)`: atime and mtime of `name` itself set to the given time.
    public static func setTimes(at dir: Int32, _ name: String, seconds: Int64, nanoseconds: Int32) throws {
        var ts = [timespec(tv_sec: Int(seconds), tv_nsec: Int(nanoseconds)),
                  timespec(tv_sec: Int(seconds), tv_nsec: Int(nanoseconds))]
        try sysCall("set times of \(name)") { utimensat(dir, name, &ts, AT_SYMLINK_NOFOLLOW) }
    }

    /// `futimens` on an open (non-`O_PATH`) descriptor.
    public static func setTimes(fd: Int32, seconds: Int64, nanoseconds: Int32, what: String) throws {
        var ts = [timespec(tv_sec: Int(seconds), tv_nsec: Int(nanoseconds)),
                  timespec(tv_sec: Int(seconds), tv_nsec: Int(nanoseconds))]
        try sysCall("set times of \(what)") { futimens(fd, &ts) }
    }

    /// `fsetxattr` on an open descriptor. Throws with the errno kept (callers ignore
    /// EOPNOTSUPP for some names).
    public static func setXattr(fd: Int32, _ key: String, _ value: [UInt8], what: String) throws {
        let r = value.withUnsafeBytes { fsetxattr(fd, key, $0.baseAddress, $0.count, 0) }
        if r != 0 { throw BerthError.sys("set xattr \(key) on \(what)") }
    }

    /// `lsetxattr` on `name` in `dir` itself (not following a symlink), named through
    /// `/proc/self/fd/<dir>/<name>`: the magic link only stands for `dir`, which is already
    /// resolved, and `name` is a single component.
    public static func setXattr(at dir: Int32, _ name: String, _ key: String, _ value: [UInt8]) throws {
        let path = "/proc/self/fd/\(dir)/\(name)"
        let r = value.withUnsafeBytes { lsetxattr(path, key, $0.baseAddress, $0.count, 0) }
        if r != 0 { throw BerthError.sys("set xattr \(key) on \(name)") }
    }

    /// The extended attributes of `name` in `dir` itself (`llistxattr` + `lgetxattr`, not
    /// following a symlink). Filesystems without xattr support give an empty list.
    public static func xattrs(at dir: Int32, _ name: String) throws -> [(key: String, value: [UInt8])] {
        let path = "/proc/self/fd/\(dir)/\(name)"
        var size = llistxattr(path, nil, 0)
        if size < 0 {
            if errno == EOPNOTSUPP || errno == ENOTSUP { return [] }
            throw BerthError.sys("list xattrs of \(name)")
        }
        if size == 0 { return [] }
        var list = [CChar](repeating: 0, count: size)
        size = list.withUnsafeMutableBufferPointer { llistxattr(path, $0.baseAddress, $0.count) }
        if size < 0 { throw BerthError.sys("list xattrs of \(name)") }
        var out: [(key: String, value: [UInt8])] = []
        var start = 0
        for i in 0..<size where list[i] == 0 {
            let key = String(decoding: list[start..<i].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            start = i + 1
            if key.isEmpty { continue }
            var vsize = lgetxattr(path, key, nil, 0)
            if vsize < 0 {
                if errno == ENODATA { continue }
                throw BerthError.sys("get xattr \(key) of \(name)")
            }
            var value = [UInt8](repeating: 0, count: vsize)
            vsize = value.withUnsafeMutableBytes { lgetxattr(path, key, $0.baseAddress, $0.count) }
            if vsize < 0 { throw BerthError.sys("get xattr \(key) of \(name)") }
            value.removeLast(value.count - vsize)
            out.append((key, value))
        }
        return out
    }

    /// `readlinkat`: a symlink's target, verbatim.
    public static func readLink(at dir: Int32, _ name: String) throws -> String {
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = try buf.withUnsafeMutableBytes { b -> Int in
            guard let base = b.baseAddress else { return 0 }
            // SAFETY: readlinkat writes at most b.count bytes into the array's storage.
            return try sysCall("readlink \(name)") { readlinkat(dir, name, base.assumingMemoryBound(to: CChar.self), b.count) }
        }
        return String(decoding: buf[0..<n], as: UTF8.self)
    }

    /// One `write` loop: all bytes to `fd` (retrying short writes and EINTR).
    @inline(__always)
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, what: String) throws {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let n = Glibc.write(fd, p, left)
            if n < 0 {
                if errno == EINTR { continue }
                throw BerthError.sys("write \(what)")
            }
            // SAFETY: 0 ≤ n ≤ left, so p stays within `bytes`.
            p += n
            left -= n
        }
    }

    /// One `read` (retrying EINTR) into `buffer`; 0 at EOF.
    @inline(__always)
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, what: String) throws -> Int {
        try sysCall("read \(what)") { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }
}
