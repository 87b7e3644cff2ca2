#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthSystem

/// The container's monitor: the parent of its init, which it reaps. It forwards signals to the
/// init, copies output (pipes or the pty master) to the log, to its own stdout and to attach
/// clients, writes attach clients' stdin to the container, notes when the init exec'd, and when
/// the init exits its caller records the exit on disk and cleans up the cgroup, then
/// ``closeAttach(exitCode:)`` tells the clients.
///
/// Single-threaded: one poll loop. Attach clients speak ``AttachProtocol``; every write to them
/// and to the container's stdin is non-blocking, with a pending buffer each, so no client and no
/// container can stall the loop. Memory is paid per container: nothing here grows unless a
/// client is connected (and then only what it has not taken yet).
final class Monitor {
    struct Output {
        var fd: Int32
        var stream: String
        /// Where to copy it when there is no log (our stdout/stderr), or -1.
        var copyTo: Int32
    }

    /// One connection on the attach socket (or the connected socket `exec --attach-fd` got).
    final class Client {
        let fd: Int32
        var flags: AttachProtocol.HelloFlags = []
        var saidHello = false
        /// Frames not yet sent; `sent` bytes of it are gone already.
        var pending: [UInt8] = []
        var sent = 0
        var decoder = AttachFrameDecoder()
        /// Read EOF (the client shut its side down): no more input, output still goes out.
        var inputClosed = false
        /// Its stdin counted as ended (stdin-closed frame, EOF or drop).
        var stdinEnded = false
        /// The peer hung up while we were not reading clients: read what is left, then drop.
        var hungUp = false
        var dead = false

        init(fd: Int32, hello: AttachProtocol.HelloFlags? = nil) {
            self.fd = fd
            if let hello { flags = hello; saidHello = true }
        }

        var pendingCount: Int { pending.count - sent }

        func enqueue(_ bytes: [UInt8]) {
            if pendingCount == 0 { pending = []; sent = 0 }
            pending.append(contentsOf: bytes)
        }

        /// Writes what it can without blocking. False if the connection failed.
        func flush() -> Bool {
            while pendingCount > 0 {
                let n = pending.withUnsafeBytes { b in
                    send(fd, b.baseAddress! + sent, b.count - sent, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
                }
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno == EAGAIN || errno == EWOULDBLOCK
                }
                sent += n
            }
            pending = []
            sent = 0
            return true
        }

        /// Drops what was sent from the front of the buffer once it is large.
        func compact() {
            if sent > 65536 && sent * 2 > pending.count {
                pending.removeFirst(sent)
                sent = 0
            }
        }
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

    /// The attach socket (listening, non-blocking) and its path, unlinked at the end.
    var listener: Int32 = -1
    var listenerPath: String?
    var clients: [Client] = []
    /// Where clients' stdin goes: the write end of the container's stdin pipe, or the pty
    /// master; -1 when there is none (stdin frames are then discarded).
    var stdinTarget: Int32 = -1
    /// Close the stdin pipe once a client that sends stdin ends it (`--stdin-once`).
    var stdinOnce = false
    private var stdinPending: [UInt8] = []
    private var stdinSent = 0
    private var closeStdinWhenFlushed = false

    init(initPid: pid_t, pidfd: Int32, syncFD: Int32, outputs: [Output], usesPidNamespace: Bool) {
        self.initPid = initPid
        self.pidfd = pidfd
        self.syncFD = syncFD
        self.outputs = outputs
        self.usesPidNamespace = usesPidNamespace
    }

    static let forwarded: [Int32] = [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGALRM]

    /// How long the clients get to take their last output and the exit frame.
    static let finalFlushMilliseconds = 1000

    private enum Source {
        case signal, sync, output(Int), stdinForward, listener, client(Client), stdinTarget
    }

    /// Runs until the init has exited and its output is drained. Returns its exit status and the
    /// time it exited.
    func run(signalFD: Int32) -> (ExitStatus, WallClock) {
        var status: ExitStatus?
        var exitedAt = WallClock.now()
        var drainDeadline: WallClock?
        // Small on purpose: this buffer is resident for the container's whole life.
        var buf = [UInt8](repeating: 0, count: 16384)
        var fds: [pollfd] = []
        var sources: [Source] = []
        while true {
            if status != nil && (outputs.isEmpty || (drainDeadline.map { WallClock.now() > $0 } ?? false)) { break }
            fds.removeAll(keepingCapacity: true)
            sources.removeAll(keepingCapacity: true)
            func add(_ fd: Int32, _ events: Int32, _ s: Source) {
                fds.append(pollfd(fd: fd, events: Int16(events), revents: 0))
                sources.append(s)
            }
            add(signalFD, POLLIN, .signal)
            if syncFD >= 0 { add(syncFD, POLLIN, .sync) }
            // Backpressure: while a client holds too much unsent output, leave the container's
            // output in its pipes. After the init exited, what is left in them (a pipe's worth
            // with a pid namespace) may exceed the limit a little, so the drain can finish.
            let limit = AttachProtocol.maxPendingOutput * (status == nil ? 1 : 2)
            if !clients.contains(where: { $0.pendingCount > limit }) {
                for (i, o) in outputs.enumerated() { add(o.fd, POLLIN, .output(i)) }
            }
            if let s = stdinForward { add(s.from, POLLIN, .stdinForward) }
            if listener >= 0 { add(listener, POLLIN, .listener) }
            let stdinBlocked = stdinPending.count > stdinSent
            if stdinBlocked && stdinTarget >= 0 { add(stdinTarget, POLLOUT, .stdinTarget) }
            for c in clients {
                let reading = !c.inputClosed && !stdinBlocked
                if c.hungUp && !reading { continue }
                var events: Int32 = reading ? POLLIN : 0
                if c.pendingCount > 0 { events |= POLLOUT }
                add(c.fd, events, .client(c))
            }
            let timeout: Int32 = status == nil ? -1 : 50
            let n = poll(&fds, nfds_t(fds.count), timeout)
            if n < 0 { if errno == EINTR { continue }; break }
            var removeOutputs: [Int] = []
            for (i, p) in fds.enumerated() where p.revents != 0 {
                let revents = Int32(p.revents)
                switch sources[i] {
                case .signal:
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
                case .sync:
                    // EOF (close-on-exec) after ready means the program is running; an error
                    // message means exec failed (the init exits and is reaped as usual).
                    if let msg = try? SyncMessage.receive(syncFD), case .error(let text) = msg {
                        let line = Array("berth-init: \(text)\n".utf8)
                        if let log { log.append(line[...], stream: "stderr") } else if clients.isEmpty { try? FD.writeAll(2, line) }
                        deliver(AttachProtocol.Kind.stderr, line[...])
                    } else if startedAt == nil {
                        startedAt = WallClock.now().rfc3339Nano
                    }
                    FD.close(syncFD)
                    syncFD = -1
                case .stdinForward:
                    guard let s = stdinForward else { break }
                    let r = read(s.from, &buf, buf.count)
                    if r > 0 {
                        _ = try? buf.withUnsafeBytes { try FD.writeAll(s.to, UnsafeRawBufferPointer(rebasing: $0[0..<r])) }
                    } else if r == 0 || (errno != EINTR && errno != EAGAIN) {
                        // stdin closed: close the container's stdin (not a pty master: that is output too).
                        if s.to != terminalMaster { FD.close(s.to) }
                        stdinForward = nil
                    }
                case .output(let idx):
                    let o = outputs[idx]
                    let r = read(o.fd, &buf, buf.count)
                    if r > 0 {
                        let chunk = buf[0..<r]
                        if let log { log.append(chunk, stream: o.stream) }
                        if o.copyTo >= 0 {
                            _ = try? buf.withUnsafeBytes { try FD.writeAll(o.copyTo, UnsafeRawBufferPointer(rebasing: $0[0..<r])) }
                        }
                        deliver(o.stream == "stderr" ? AttachProtocol.Kind.stderr : AttachProtocol.Kind.stdout, chunk)
                    } else if r == 0 || (errno != EINTR && errno != EAGAIN) {
                        // EOF, or EIO on a pty master once every slave is closed.
                        removeOutputs.append(idx)
                    }
                case .listener:
                    // A few per round, so a flood of connections cannot starve the container.
                    for _ in 0..<16 {
                        guard let c = try? UnixSocket.accept(listener) else { break }
                        clients.append(Client(fd: c))
                    }
                case .stdinTarget:
                    flushStdin()
                case .client(let c):
                    if c.dead { break }
                    let reading = Int32(p.events) & POLLIN != 0
                    if revents & POLLERR != 0 {
                        drop(c)
                        break
                    }
                    if reading && revents & (POLLIN | POLLHUP) != 0 {
                        readClient(c, hangup: revents & POLLHUP != 0, buf: &buf)
                    } else if revents & POLLHUP != 0 {
                        // Gone while its input waits behind the container's stdin: read the
                        // rest once stdin has room (it may hold stdin frames), then drop it.
                        if c.inputClosed { drop(c) } else { c.hungUp = true; c.pending = []; c.sent = 0 }
                    }
                    if !c.dead && revents & POLLOUT != 0 {
                        if c.flush() { c.compact() } else { drop(c) }
                    }
                }
            }
            for idx in removeOutputs.sorted(by: >) { closeOutput(outputs.remove(at: idx).fd) }
            if clients.contains(where: { $0.dead }) { clients.removeAll { $0.dead } }
        }
        log?.flush()
        for o in outputs { closeOutput(o.fd) }
        outputs = []
        return (status ?? .signaled(SIGKILL), exitedAt)
    }

    /// Closes an output; if it is the pty master, nothing may use its number afterwards (it can
    /// be reused by the next accepted client).
    private func closeOutput(_ fd: Int32) {
        if fd == stdinTarget { stdinTarget = -1; stdinPending = []; stdinSent = 0 }
        if fd == terminalMaster { terminalMaster = -1 }
        if let s = stdinForward, s.to == fd { stdinForward = nil }
        FD.close(fd)
    }

    /// Adds an already-connected client (`exec --attach-fd`), as if it had said hello.
    func addClient(fd: Int32, hello: AttachProtocol.HelloFlags) {
        try? FD.setNonBlocking(fd)
        try? FD.setCloseOnExec(fd, true)
        clients.append(Client(fd: fd, hello: hello))
    }

    /// After the exit is recorded: sends every client the exit frame (after its pending output,
    /// all within ``finalFlushMilliseconds``), closes them, and closes and unlinks the attach
    /// socket. Connections still waiting to be accepted get the exit frame too.
    func closeAttach(exitCode: Int32) {
        if let path = listenerPath { unlink(path) }
        if listener >= 0 {
            while let c = try? UnixSocket.accept(listener) { clients.append(Client(fd: c)) }
            FD.close(listener)
            listener = -1
        }
        if stdinTarget >= 0 && stdinTarget != terminalMaster { FD.close(stdinTarget) }
        stdinTarget = -1
        stdinPending = []
        let frame = AttachProtocol.exit(code: exitCode)
        for c in clients where !c.dead && !c.hungUp { c.enqueue(frame) }
        let start = Monitor.monotonicMilliseconds()
        var fds: [pollfd] = []
        while true {
            var waiting: [Client] = []
            for c in clients where !c.dead && !c.hungUp && c.pendingCount > 0 {
                if c.flush() { if c.pendingCount > 0 { waiting.append(c) } } else { c.dead = true; FD.close(c.fd) }
            }
            let elapsed = Monitor.monotonicMilliseconds() - start
            if waiting.isEmpty || elapsed >= Monitor.finalFlushMilliseconds { break }
            fds = waiting.map { pollfd(fd: $0.fd, events: Int16(POLLOUT), revents: 0) }
            _ = poll(&fds, nfds_t(fds.count), Int32(Monitor.finalFlushMilliseconds - elapsed))
        }
        for c in clients where !c.dead { FD.close(c.fd) }
        clients = []
    }

    static func monotonicMilliseconds() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int(ts.tv_sec) * 1000 + Int(ts.tv_nsec) / 1_000_000
    }

    // MARK: output to clients

    /// Sends a chunk of output to every client that asked for its stream.
    private func deliver(_ kind: UInt8, _ chunk: ArraySlice<UInt8>) {
        let want: AttachProtocol.HelloFlags = kind == AttachProtocol.Kind.stderr ? .stderr : .stdout
        var frame: [UInt8]?
        for c in clients where c.saidHello && !c.dead && !c.hungUp && c.flags.contains(want) {
            if frame == nil { frame = AttachProtocol.frame(kind: kind, payload: chunk) }
            c.enqueue(frame!)
            if c.pendingCount == frame!.count {
                // Nothing was queued before: try to send it right away.
                if c.flush() { c.compact() } else { drop(c) }
            }
        }
    }

    // MARK: input from clients

    private func readClient(_ c: Client, hangup: Bool, buf: inout [UInt8]) {
        let r = read(c.fd, &buf, buf.count)
        if r > 0 {
            c.decoder.append(buf[0..<r])
            do {
                while !c.dead, let f = try c.decoder.next() { handle(f, from: c) }
            } catch {
                drop(c)
            }
        } else if r == 0 {
            if hangup { drop(c) } else { c.inputClosed = true; stdinEnded(c) }
        } else if errno != EINTR && errno != EAGAIN {
            drop(c)
        }
    }

    private func handle(_ f: (kind: UInt8, payload: [UInt8]), from c: Client) {
        switch f.kind {
        case AttachProtocol.Kind.hello:
            c.flags = AttachProtocol.helloFlags(f.payload)
            c.saidHello = true
        case AttachProtocol.Kind.stdin:
            if c.flags.contains(.stdin) && !c.stdinEnded && stdinTarget >= 0 && !f.payload.isEmpty {
                writeStdin(f.payload)
            }
        case AttachProtocol.Kind.stdinClosed:
            stdinEnded(c)
        case AttachProtocol.Kind.resize:
            if terminalMaster >= 0, let size = AttachProtocol.resizeSize(f.payload) {
                try? Terminal.setSize(terminalMaster, rows: size.rows, cols: size.cols)
            }
        default:
            break
        }
    }

    private func drop(_ c: Client) {
        if c.dead { return }
        c.dead = true
        FD.close(c.fd)
        c.pending = []
        c.sent = 0
        stdinEnded(c)
    }

    /// A client that sends stdin is done with it: with `stdinOnce`, the container's stdin pipe is
    /// closed once what is pending has been written.
    private func stdinEnded(_ c: Client) {
        guard c.flags.contains(.stdin), !c.stdinEnded else { return }
        c.stdinEnded = true
        guard stdinOnce, stdinTarget >= 0, stdinTarget != terminalMaster else { return }
        closeStdinWhenFlushed = true
        if stdinPending.count == stdinSent { closeStdin() }
    }

    // MARK: the container's stdin

    private func writeStdin(_ bytes: [UInt8]) {
        if stdinPending.count == stdinSent {
            stdinPending = bytes
            stdinSent = 0
        } else {
            stdinPending.append(contentsOf: bytes)
        }
        flushStdin()
    }

    private func flushStdin() {
        while stdinSent < stdinPending.count && stdinTarget >= 0 {
            let n = stdinPending.withUnsafeBytes { b in write(stdinTarget, b.baseAddress! + stdinSent, b.count - stdinSent) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN { break }
                // The container closed its stdin (EPIPE) or the terminal is gone (EIO).
                closeStdin()
                return
            }
            stdinSent += n
        }
        if stdinSent == stdinPending.count {
            stdinPending = []
            stdinSent = 0
            if closeStdinWhenFlushed { closeStdin() }
        } else if stdinSent > 65536 && stdinSent * 2 > stdinPending.count {
            stdinPending.removeFirst(stdinSent)
            stdinSent = 0
        }
    }

    private func closeStdin() {
        if stdinTarget >= 0 && stdinTarget != terminalMaster { FD.close(stdinTarget) }
        stdinTarget = -1
        stdinPending = []
        stdinSent = 0
        closeStdinWhenFlushed = false
    }
}
