import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The CLI's own terminal: raw mode for `-it` (restored at exit, when the stream ends, and
/// before dying of a signal), its size, and SIGWINCH.
enum Terminal {
    private static let saved = Mutex<termios?>(nil)
    private static let atexitInstalled = Mutex(false)

    /// Puts stdin in raw mode (moby/term `MakeRaw`, i.e. `cfmakeraw`) if it is a terminal.
    /// Idempotent; ``restore()`` undoes it, and so does process exit.
    static func makeRawInput() {
        guard isatty(0) == 1 else { return }
        var state = termios()
        guard tcgetattr(0, &state) == 0 else { return }
        let isFirst = saved.withLock { s -> Bool in
            guard s == nil else { return false }
            s = state
            return true
        }
        guard isFirst else { return }
        var raw = state
        cfmakeraw(&raw)
        // Output post-processing goes too (as moby/term's): the container's pty already turns
        // LF into CRLF, so the local terminal shows exactly what arrives.
        _ = tcsetattr(0, TCSANOW, &raw)
        let install = atexitInstalled.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        if install { atexit { Terminal.restore() } }
        Signals.onFatal { _ in Terminal.restore() }
    }

    /// Restores the terminal mode saved by ``makeRawInput()`` (no-op otherwise).
    static func restore() {
        guard var state = saved.withLock({ s -> termios? in
            defer { s = nil }
            return s
        }) else { return }
        _ = tcsetattr(0, TCSANOW, &state)
    }

    /// Rows and columns of the terminal on `fd` (docker measures stdout); nil if not a
    /// terminal or unknown.
    static func size(fd: Int32 = 1) -> (height: Int, width: Int)? {
        var ws = winsize()
        guard ioctl(fd, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_row > 0 || ws.ws_col > 0 else { return nil }
        return (Int(ws.ws_row), Int(ws.ws_col))
    }

    /// Sends the terminal size now (retrying briefly: the process may not have its TTY yet)
    /// and again on every SIGWINCH (docker's `MonitorTtySize`).
    static func monitorSize(_ resize: @escaping @Sendable (Int, Int) async throws -> Void) async {
        guard isatty(1) == 1 else { return }
        if let (h, w) = size() {
            for attempt in 0..<10 {
                do {
                    try await resize(h, w)
                    break
                } catch {
                    if attempt == 9 { Output.err("failed to resize tty, using default size") }
                    try? await Task.sleep(nanoseconds: UInt64(attempt + 1) * 10_000_000)
                }
            }
        }
        Signals.handle([SIGWINCH]) { _ in
            guard let (h, w) = Terminal.size() else { return }
            Task { try? await resize(h, w) }
        }
    }
}

/// Signal handling without Dispatch signal sources: a `sigaction` handler writes the signal
/// number into a pipe; one thread reads it and calls the registered Swift handlers.
enum Signals {
    typealias Handler = @Sendable (Int32) -> Void

    private static let handlers = Mutex<[Int32: Handler]>([:])
    private static let fatalHooks = Mutex<[Handler]>([])
    private static let fatalInstalled = Mutex(false)
    nonisolated(unsafe) private static var writeFD: Int32 = -1
    private static let started = Mutex(false)

    /// Calls `handler` for each of `signals` (replacing an earlier handler of the same signal).
    static func handle(_ signals: [Int32], _ handler: @escaping Handler) {
        start()
        handlers.withLock { h in for s in signals { h[s] = handler } }
        for s in signals { install(s) }
    }

    /// Stops handling `signals`: the default action applies again.
    static func reset(_ signals: [Int32]) {
        handlers.withLock { h in for s in signals { h[s] = nil } }
        for s in signals { signal(s, SIG_DFL) }
    }

    /// Runs `hook` before the process dies of SIGINT, SIGTERM, SIGHUP or SIGQUIT (unless those
    /// are handled otherwise, e.g. proxied to the container).
    static func onFatal(_ hook: @escaping Handler) {
        fatalHooks.withLock { $0.append(hook) }
        let first = fatalInstalled.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        guard first else { return }
        for s in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] where handlers.withLock({ $0[s] == nil }) {
            handle([s]) { sig in
                for hook in Signals.fatalHooks.withLock({ $0 }) { hook(sig) }
                signal(sig, SIG_DFL)
                kill(getpid(), sig)
            }
        }
    }

    private static func install(_ sig: Int32) {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { sig in
            var byte = UInt8(truncatingIfNeeded: sig)
            _ = Glibc.write(Signals.writeFD, &byte, 1)
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART
        sigaction(sig, &action, nil)
    }

    private static func start() {
        let first = started.withLock { s -> Bool in
            defer { s = true }
            return !s
        }
        guard first else { return }
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        writeFD = fds[1]
        let readFD = fds[0]
        DispatchQueue(label: "berth.signals").async {
            var byte: UInt8 = 0
            while true {
                let n = Glibc.read(readFD, &byte, 1)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                let sig = Int32(byte)
                if let h = Signals.handlers.withLock({ $0[sig] }) { h(sig) }
            }
        }
    }
}
