#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import CBerth

/// Pseudo-terminals.
public enum Terminal {
    /// Opens a new pty master at `ptmx` (e.g. the container's `/dev/pts/ptmx`, so the pty lives in
    /// the container's devpts instance) and returns (master, slave number).
    public static func openMaster(_ ptmx: String = "/dev/ptmx") throws -> (master: Int32, number: Int32) {
        let m = Glibc.open(ptmx, O_RDWR | O_NOCTTY | O_CLOEXEC)
        if m < 0 { throw BerthError.sys("open \(ptmx)") }
        let n = berth_pty_unlock(m)
        if n < 0 { let e = errno; Glibc.close(m); throw BerthError.sys("unlock pty", e) }
        return (m, n)
    }

    /// Opens the slave side of a master (TIOCGPTPEER: no path lookup, works across mount namespaces).
    public static func openSlave(master: Int32) throws -> Int32 {
        let s = berth_pty_peer(master, O_RDWR | O_NOCTTY)
        if s < 0 { throw BerthError.sys("open pty slave") }
        return s
    }

    /// Makes `fd` the controlling terminal of a new session.
    public static func becomeControllingTerminal(_ fd: Int32) throws {
        if setsid() < 0 { throw BerthError.sys("setsid") }
        if berth_set_ctty(fd) != 0 { throw BerthError.sys("set controlling terminal") }
    }

    /// Sets the window size.
    public static func setSize(_ fd: Int32, rows: UInt16, cols: UInt16) throws {
        if berth_set_winsize(fd, rows, cols) != 0 { throw BerthError.sys("set window size") }
    }

    /// The window size of a terminal, if it is one.
    public static func size(_ fd: Int32) -> (rows: UInt16, cols: UInt16)? {
        var r: UInt16 = 0, c: UInt16 = 0
        return berth_get_winsize(fd, &r, &c) == 0 ? (r, c) : nil
    }

    /// Whether `fd` is a terminal.
    public static func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }

    /// Raw mode with restore: the saved settings, to hand back to `restore`.
    public static func makeRaw(_ fd: Int32) -> [UInt8]? {
        var saved = [UInt8](repeating: 0, count: Int(berth_termios_size()))
        let ok = saved.withUnsafeMutableBytes { berth_tty_make_raw(fd, $0.baseAddress) == 0 }
        return ok ? saved : nil
    }

    /// Restores settings saved by `makeRaw`.
    public static func restore(_ fd: Int32, _ saved: [UInt8]) {
        _ = saved.withUnsafeBytes { berth_tty_restore(fd, $0.baseAddress) }
    }
}

/// Unix socket helpers (fd passing).
public enum UnixSocket {
    /// Sends bytes and a descriptor.
    public static func send(_ sock: Int32, _ bytes: [UInt8], fd: Int32 = -1) throws {
        let n = bytes.withUnsafeBytes { berth_send_fd(sock, fd, $0.baseAddress, $0.count) }
        if n < 0 { throw BerthError.sys("send on socket") }
    }

    /// Receives one message (up to `max` bytes) and a descriptor if one came with it.
    /// An empty array means the peer closed.
    public static func receive(_ sock: Int32, max: Int = 65536) throws -> (bytes: [UInt8], fd: Int32) {
        var buf = [UInt8](repeating: 0, count: max)
        var fd: Int32 = -1
        let n = buf.withUnsafeMutableBytes { berth_recv_fd(sock, $0.baseAddress, max, &fd) }
        if n < 0 { throw BerthError.sys("receive on socket") }
        buf.removeLast(max - n)
        return (buf, fd)
    }

    /// Connects to a unix socket path.
    public static func connect(_ path: String) throws -> Int32 {
        let s = berth_unix_connect(path)
        if s < 0 { throw BerthError.sys("connect to \(path)") }
        return s
    }

    /// Listens on a unix socket path.
    public static func listen(_ path: String, backlog: Int32 = 16) throws -> Int32 {
        let s = berth_unix_listen(path, backlog)
        if s < 0 { throw BerthError.sys("listen on \(path)") }
        return s
    }

    /// Accepts one pending connection as a non-blocking, close-on-exec descriptor; nil when
    /// none is pending (EAGAIN on a non-blocking listener).
    public static func accept(_ listener: Int32) throws -> Int32? {
        let c = berth_accept_nonblocking(listener)
        if c >= 0 { return c }
        if errno == EAGAIN || errno == EWOULDBLOCK { return nil }
        throw BerthError.sys("accept on socket")
    }
}
