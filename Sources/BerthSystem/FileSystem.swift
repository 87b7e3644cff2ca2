#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CBerth
import BerthCore

/// Plain file operations on paths, Foundation-free. All throw `BerthError` naming the path.
public enum FileSystem {
    /// Reads a whole file.
    public static func read(_ path: String) throws -> [UInt8] {
        let fd = try sysCall("open \(path)") { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        return try readAll(fd: fd, what: path)
    }

    /// Reads up to `limit` bytes from the start of a file (device files like /dev/urandom too).
    public static func read(_ path: String, limit: Int) throws -> [UInt8] {
        let fd = try sysCall("open \(path)") { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        var out = [UInt8](repeating: 0, count: limit)
        var filled = 0
        while filled < limit {
            let n = out.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + filled, limit - filled) }
            if n < 0 { if errno == EINTR { continue }; throw BerthError.sys("read \(path)") }
            if n == 0 { break }
            filled += n
        }
        return Array(out[0..<filled])
    }

    /// Reads a whole file as UTF-8 text (invalid bytes repaired).
    public static func readString(_ path: String) throws -> String {
        String(decoding: try read(path), as: UTF8.self)
    }

    /// Reads everything from a file descriptor until EOF.
    public static func readAll(fd: Int32, what: String) throws -> [UInt8] {
        var out: [UInt8] = []
        var chunk = 16384
        while true {
            let old = out.count
            out.reserveCapacity(old + chunk)
            var n = 0
            out.append(contentsOf: repeatElement(0, count: chunk))
            n = try out.withUnsafeMutableBytes { buf in
                try sysCall("read \(what)") { Glibc.read(fd, buf.baseAddress! + old, chunk) }
            }
            out.removeLast(chunk - n)
            if n == 0 { return out }
            if chunk < 1 << 20 { chunk *= 2 }
        }
    }

    /// Writes `bytes` to an existing file (no create, no truncate): the way cgroup, procfs and
    /// sysfs files are written, one `write` call so the kernel sees the value whole.
    public static func writeExisting(_ path: String, _ bytes: some Collection<UInt8>) throws {
        let fd = try sysCall("open \(path)") { open(path, O_WRONLY | O_CLOEXEC) }
        defer { close(fd) }
        let array = Array(bytes)
        let n = try array.withUnsafeBytes { buf in
            try sysCall("write \(path)") { write(fd, buf.baseAddress, buf.count) }
        }
        if n != array.count { throw BerthError(.system, "write \(path): short write") }
    }

    /// Writes a string to an existing file (cgroup/procfs style).
    public static func writeExisting(_ path: String, _ text: String) throws {
        try writeExisting(path, Array(text.utf8))
    }

    /// Writes a file atomically: temp file in the same directory, fsync, rename, fsync the
    /// directory. Readers see the old content or the new, never a torn file. With
    /// `durable: false` the fsyncs are skipped: still atomic for readers and across a crash of
    /// the writing process, but a power loss may lose the update (for state that can be
    /// rebuilt, on hot paths).
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644, durable: Bool = true) throws {
        let dir = parentDirectory(of: path)
        let tmp = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = try sysCall("create \(tmp)") { open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode) }
        do {
            var off = 0
            while off < bytes.count {
                let n = try bytes.withUnsafeBytes { buf in
                    try sysCall("write \(tmp)") { write(fd, buf.baseAddress! + off, buf.count - off) }
                }
                off += n
            }
            if durable { try sysCall("fsync \(tmp)") { fsync(fd) } }
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
        // Closed once, before the rename (a failed rename must not close the number again:
        // another thread may own it by then).
        close(fd)
        do {
            try sysCall("rename \(tmp) to \(path)") { rename(tmp, path) }
        } catch {
            unlink(tmp)
            throw error
        }
        guard durable else { return }
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }

    /// fsync of a directory (its entries: names renamed or created in it).
    public static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw BerthError.sys("open \(path)") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw BerthError.sys("fsync \(path)") }
    }

    /// `syncfs`: everything written to the filesystem holding `path` reaches the disk — one
    /// call instead of an fsync per file when many files were written together.
    public static func syncFilesystem(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw BerthError.sys("open \(path)") }
        defer { close(fd) }
        guard berth_syncfs(fd) == 0 else { throw BerthError.sys("syncfs \(path)") }
    }

    /// The directory part of a path (`/a/b` → `/a`, `b` → `.`).
    public static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// Whether something exists at `path` (without following a final symlink).
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// Whether `path` is a directory (following symlinks).
    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Creates a directory and its parents; succeeds if it exists.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws {
        if mkdir(path, mode) == 0 { return }
        let e = errno
        if e == EEXIST { return }
        if e == ENOENT {
            let parent = parentDirectory(of: path)
            if parent != path && parent != "." {
                try makeDirectories(parent, mode: mode)
                if mkdir(path, mode) == 0 || errno == EEXIST { return }
            }
        }
        throw BerthError.sys("mkdir \(path)", errno == 0 ? e : errno)
    }

    /// Lists the names in a directory (no `.` and `..`).
    public static func list(_ path: String) throws -> [String] {
        guard let d = opendir(path) else { throw BerthError.sys("open directory \(path)") }
        defer { closedir(d) }
        var names: [String] = []
        while let ent = readdir(d) {
            let name = withUnsafePointer(to: ent.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Removes a file, or a directory tree, if present. Does not cross into mount points' content
    /// any differently from `rm -rf` — callers unmount first.
    public static func removeTree(_ path: String) throws {
        var st = stat()
        if lstat(path, &st) != 0 {
            if errno == ENOENT { return }
            throw BerthError.sys("stat \(path)")
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for name in try list(path) { try removeTree("\(path)/\(name)") }
            if rmdir(path) != 0 && errno != ENOENT { throw BerthError.sys("remove \(path)") }
        } else if unlink(path) != 0 && errno != ENOENT {
            throw BerthError.sys("remove \(path)")
        }
    }
}
