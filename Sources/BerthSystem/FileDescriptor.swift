#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import CBerth

/// Thin wrappers over file-descriptor system calls. Raw `Int32` descriptors are used on purpose:
/// the start path passes them across clone and exec, where ownership is explicit in the flow.
public enum FD {
    /// `pipe2(O_CLOEXEC)`: (read end, write end).
    public static func pipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        try sysCall("pipe") { berth_pipe2(&fds, O_CLOEXEC) }
        return (fds[0], fds[1])
    }

    /// `socketpair(AF_UNIX, type | SOCK_CLOEXEC)`.
    public static func socketPair(seqpacket: Bool = true) throws -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        let type = Int32(seqpacket ? SOCK_SEQPACKET.rawValue : SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        try sysCall("socketpair") { socketpair(AF_UNIX, type, 0, &fds) }
        return (fds[0], fds[1])
    }

    /// `dup2` (retrying EINTR). A descriptor dup'ed onto itself gets CLOEXEC cleared instead.
    public static func dup2(_ from: Int32, _ to: Int32) throws {
        if from == to {
            try setCloseOnExec(from, false)
            return
        }
        try sysCall("dup2 \(from) to \(to)") { Glibc.dup2(from, to) }
    }

    /// `fcntl(F_DUPFD_CLOEXEC)`: a second descriptor for the same open file, close-on-exec.
    public static func duplicate(_ fd: Int32) throws -> Int32 {
        let copy = berth_fcntl_int(fd, F_DUPFD_CLOEXEC, 0)
        if copy < 0 { throw BerthError.sys("dup \(fd)") }
        return copy
    }

    /// Closes a descriptor, ignoring errors (close errors are not actionable here).
    public static func close(_ fd: Int32) { if fd >= 0 { _ = Glibc.close(fd) } }

    /// Sets or clears FD_CLOEXEC.
    public static func setCloseOnExec(_ fd: Int32, _ on: Bool) throws {
        let flags = berth_fcntl_int(fd, F_GETFD, 0)
        if flags < 0 { throw BerthError.sys("fcntl \(fd)") }
        let new = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC
        if berth_fcntl_int(fd, F_SETFD, new) < 0 { throw BerthError.sys("fcntl \(fd)") }
    }

    /// Sets or clears O_NONBLOCK.
    public static func setNonBlocking(_ fd: Int32, _ on: Bool = true) throws {
        let flags = berth_fcntl_int(fd, F_GETFL, 0)
        if flags < 0 { throw BerthError.sys("fcntl \(fd)") }
        let new = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK
        if berth_fcntl_int(fd, F_SETFL, new) < 0 { throw BerthError.sys("fcntl \(fd)") }
    }

    /// Writes all bytes (retrying short writes and EINTR).
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws {
        var off = 0
        while off < bytes.count {
            // SAFETY: off < count, so base + off stays inside the buffer.
            let n = Glibc.write(fd, bytes.baseAddress! + off, bytes.count - off)
            if n < 0 {
                if errno == EINTR { continue }
                throw BerthError.sys("write")
            }
            off += n
        }
    }

    /// Writes all bytes of an array.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try writeAll(fd, $0) }
    }

    /// Writes all bytes of a string.
    public static func writeAll(_ fd: Int32, _ text: String) throws {
        var t = text
        try t.withUTF8 { try writeAll(fd, UnsafeRawBufferPointer($0)) }
    }

    /// One `read` (retrying EINTR): returns the bytes read, empty at EOF. Throws on EAGAIN too.
    public static func read(_ fd: Int32, max: Int = 65536) throws -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: max)
        let n = try buf.withUnsafeMutableBytes { b in
            try sysCall("read") { Glibc.read(fd, b.baseAddress, max) }
        }
        buf.removeLast(max - n)
        return buf
    }

    /// `open` with CLOEXEC.
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0) throws -> Int32 {
        try sysCall("open \(path)") { Glibc.open(path, flags | O_CLOEXEC, mode) }
    }

    /// openat2 with RESOLVE_IN_ROOT: resolves `path` as if `root` were `/`, so symlinks and `..`
    /// in a container image cannot lead outside it.
    public static func openInRoot(_ root: Int32, _ path: String, _ flags: Int32, mode: mode_t = 0) throws -> Int32 {
        let resolveInRoot: UInt64 = 0x10, noMagicLinks: UInt64 = 0x02
        while true {
            let fd = berth_openat2(root, path, UInt64(UInt32(bitPattern: flags | O_CLOEXEC)), UInt64(mode), resolveInRoot | noMagicLinks)
            if fd >= 0 { return fd }
            if errno == EINTR || errno == EAGAIN { continue }
            throw BerthError.sys("open \(path) in container root")
        }
    }

    /// One `read(2)` into a buffer, retried on EINTR; 0 at end of file. Fits `TarReader.Source`.
    public static func readSome(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, what: @autoclosure () -> String) throws -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno != EINTR { throw BerthError.sys("read \(what())") }
        }
    }

    /// The path by which a descriptor can be named to `mount` (`/proc/self/fd/N`).
    public static func procPath(_ fd: Int32) -> String { "/proc/self/fd/\(fd)" }
}
