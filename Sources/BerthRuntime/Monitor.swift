#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthSystem

/// The container's monitor: the parent of its init, which it reaps. It forwards signals to the
/// init, copies output (pipes or the pty master) to the log or to its own stdout, notes when the
/// init exec'd, and when the init exits it records the exit on disk and cleans up the cgroup.
/// Single-threaded: one poll loop.
final class Monitor {
    struct Output {
        var fd: Int32
        var stream: String
        /// Where to copy it when there is no log (our stdout/stderr), or -1.
        var copyTo: Int32
    }

    let initPid: pid_t
    let pidfd: Int32
    var syncFD: Int32
    var outputs: [Output]
    var stdinForward: (from: Int32, to: Int32)?
    var log: JSONFileLog?
    var terminalMaster: Int32 = -1
    var startedAt: String?
    var usesPidNamespace: Bool

    init(initPid: pid_t, pidfd: Int32, syncFD: Int32, outputs: [Output], usesPidNamespace: Bool) {
        self.initPid = initPid
        self.pidfd = pidfd
        self.syncFD = syncFD
        self.outputs = outputs
        self.usesPidNamespace = usesPidNamespace
    }

    static let forwarded: [Int32] = [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGALRM]

    /// Runs until the init has exited and its output is drained. Returns its exit status and the
    /// time it exited.
    func run(signalFD: Int32) -> (ExitStatus, WallClock) {
        var status: ExitStatus?
        var exitedAt = WallClock.now()
        var drainDeadline: WallClock?
        // Small on purpose: this buffer is resident for the container's whole life.
        var buf = [UInt8](repeating: 0, count: 16384)
        while true {
            if status != nil && (outputs.isEmpty || (drainDeadline.map { WallClock.now() > $0 } ?? false)) { break }
            var fds: [pollfd] = [pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0)]
            if syncFD >= 0 { fds.append(pollfd(fd: syncFD, events: Int16(POLLIN), revents: 0)) }
            for o in outputs { fds.append(pollfd(fd: o.fd, events: Int16(POLLIN), revents: 0)) }
            if let s = stdinForward { fds.append(pollfd(fd: s.from, events: Int16(POLLIN), revents: 0)) }
            let timeout: Int32 = status == nil ? -1 : 50
            let n = poll(&fds, nfds_t(fds.count), timeout)
            if n < 0 { if errno == EINTR { continue }; break }
            for p in fds where p.revents != 0 {
                if p.fd == signalFD {
                    while let sig = ProcessControl.readSignal(signalFD) {
                        if sig == SIGCHLD {
                            while let (pid, st) = (try? ProcessControl.wait(-1, noHang: true)) ?? nil {
                                if pid == initPid {
                                    status = st
                                    exitedAt = WallClock.now()
                                    // With a pid namespace the kernel has killed the rest; without
                                    // one, stragglers may hold the pipes: drain for a moment only.
                                    drainDeadline = WallClock(seconds: exitedAt.seconds + (usesPidNamespace ? 2 : 1), nanoseconds: exitedAt.nanoseconds)
                                }
                            }
                        } else if sig == SIGWINCH {
                            if terminalMaster >= 0, let size = Terminal.size(0) {
                                try? Terminal.setSize(terminalMaster, rows: size.rows, cols: size.cols)
                            }
                        } else if status == nil {
                            try? ProcessControl.signal(pidfd: pidfd, sig)
                        }
                    }
                } else if p.fd == syncFD {
                    // EOF (close-on-exec) after ready means the program is running; an error
                    // message means exec failed (the init exits and is reaped as usual).
                    if let msg = try? SyncMessage.receive(syncFD), case .error(let text) = msg {
                        let line = "berth-init: \(text)\n"
                        if let log { log.append(ArraySlice(line.utf8), stream: "stderr") } else { try? FD.writeAll(2, line) }
                    } else if startedAt == nil {
                        startedAt = WallClock.now().rfc3339Nano
                    }
                    FD.close(syncFD)
                    syncFD = -1
                } else if let s = stdinForward, p.fd == s.from {
                    let r = read(s.from, &buf, buf.count)
                    if r > 0 {
                        _ = try? buf.withUnsafeBytes { try FD.writeAll(s.to, UnsafeRawBufferPointer(rebasing: $0[0..<r])) }
                    } else if r == 0 || (errno != EINTR && errno != EAGAIN) {
                        // stdin closed: close the container's stdin (not a pty master: that is output too).
                        if s.to != terminalMaster { FD.close(s.to) }
                        stdinForward = nil
                    }
                } else if let idx = outputs.firstIndex(where: { $0.fd == p.fd }) {
                    let o = outputs[idx]
                    let r = read(o.fd, &buf, buf.count)
                    if r > 0 {
                        if let log { log.append(buf[0..<r], stream: o.stream) }
                        if o.copyTo >= 0 {
                            _ = try? buf.withUnsafeBytes { try FD.writeAll(o.copyTo, UnsafeRawBufferPointer(rebasing: $0[0..<r])) }
                        }
                    } else if r == 0 || (errno != EINTR && errno != EAGAIN) {
                        // EOF, or EIO on a pty master once every slave is closed.
                        FD.close(o.fd)
                        outputs.remove(at: idx)
                    }
                }
            }
        }
        log?.flush()
        for o in outputs { FD.close(o.fd) }
        outputs = []
        return (status ?? .signaled(SIGKILL), exitedAt)
    }
}
