#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthRuntime
import BerthSystem
import BerthVM
import Synchronization

/// The host half of a VM container's stdio (`--isolation vm`): QEMU writes what the guest's
/// command prints into two files (virtio-serial ports with `file` chardevs); the pump, on a
/// thread of its own, reads them as they grow, writes the container's json-file log (the
/// same format berth-init's monitor writes, so `logs` works unchanged) and sends the bytes to
/// attached clients as `AttachProtocol` frames over socketpairs (so `attach` and `docker run`
/// use the same `AttachConnection` as for containers).
///
/// How far each file has been logged is kept in `offsets` (two little-endian u64, rewritten in
/// place after every logged chunk): a berthd restarted while the VM runs continues from there
/// (at most the chunk in flight at a crash is logged twice).
final class VMOutputPump: Sendable {
    struct Client {
        let fd: Int32
        let stdout: Bool
        let stderr: Bool
    }
    struct State {
        var clients: [Client] = []
        var finishing = false
        var exitCode: Int32 = 0
        /// The connection to the VM's stdin port (QEMU's socket), once made; closed for good
        /// when stdin ends (the guest then reads EOF). Shared: the stdin forwarders write to
        /// it while the pump may close it.
        var stdinFD: SharedDescriptor?
        /// Close stdin when the first stdin client ends (`StdinOnce`, `docker run -i`).
        var stdinOnce = false
        /// The connection to the VM's control port (`-t`: resizes), once made; closed when
        /// the VM ends.
        var controlFD: SharedDescriptor?
        /// The last size asked for before the control port was connected.
        var pendingSize: (rows: UInt16, columns: UInt16)?
    }

    let stdoutPath: String
    let stderrPath: String
    let logPath: String
    let offsetsPath: String
    let state = Mutex(State())
    /// Fulfilled when the pump has drained everything after `finish`.
    let done = ExitPromise()

    init(stdoutPath: String, stderrPath: String, logPath: String, offsetsPath: String) {
        self.stdoutPath = stdoutPath
        self.stderrPath = stderrPath
        self.logPath = logPath
        self.offsetsPath = offsetsPath
    }

    /// A connected stream socket that receives frames of the streams asked for; the caller
    /// owns the returned end. With `stdin`, the client's stdin frames go to the VM's stdin
    /// port (a thread of its own reads them).
    func attach(stdout: Bool, stderr: Bool, stdin: Bool = false) throws -> Int32 {
        let (mine, theirs) = try FD.socketPair(seqpacket: false)
        state.withLock { $0.clients.append(Client(fd: mine, stdout: stdout, stderr: stderr)) }
        if stdin {
            if let reader = try? FD.duplicate(mine) {
                let me = self
                Task.detached { _ = try? await BlockingWork.run { me.forwardStdin(from: reader) } }
            }
        }
        return theirs
    }

    /// The VM's stdin port is connected: `fd` (owned from now on).
    func setStdin(_ fd: Int32, once: Bool) {
        state.withLock { $0.stdinFD = SharedDescriptor(fd); $0.stdinOnce = once }
    }

    /// Stdin is closed for good (a `StdinOnce` container re-adopted after its first attach
    /// ended): stdin frames are dropped at once.
    func markStdinClosed() {
        state.withLock { if $0.stdinFD == nil { $0.stdinFD = SharedDescriptor(-1) } }
    }

    /// The VM's control port is connected: `fd` (owned from now on). A size asked for
    /// before is sent now.
    func setControl(_ fd: Int32) {
        let size = state.withLock { s -> (rows: UInt16, columns: UInt16)? in
            s.controlFD = SharedDescriptor(fd)
            defer { s.pendingSize = nil }
            return s.pendingSize
        }
        if let size { resize(rows: size.rows, columns: size.columns) }
    }

    /// Sets the guest terminal's size (a `resize` line on the control port; remembered until
    /// the port is connected). False when the control connection is gone.
    @discardableResult
    func resize(rows: UInt16, columns: UInt16) -> Bool {
        let control = state.withLock { s -> SharedDescriptor? in
            guard let control = s.controlFD else { s.pendingSize = (rows, columns); return nil }
            return control
        }
        guard let control else { return true }
        let line = Array(GuestRunSpec.resizeLine(rows: rows, columns: columns).utf8)
        return control.use { Self.sendAll($0, line[...]) } ?? false
    }

    /// Ends stdin: the guest reads EOF after what was sent. A half-close, not a close: QEMU
    /// reads the socket only while the guest takes input, and a hang-up (both directions
    /// closed) would make it drop what it has not read yet. `final`: close the descriptor (the
    /// VM is gone).
    func closeStdin(final: Bool = false) {
        guard let stdin = state.withLock({ $0.stdinFD }) else { return }
        if final { stdin.close() } else { stdin.shutdown(Int32(SHUT_WR)) }
    }

    /// Reads a client's frames: stdin bytes go to the stdin port (waiting for it to be
    /// connected), its end (stdin closed frame or disconnect) closes stdin with `StdinOnce`.
    private func forwardStdin(from fd: Int32) {
        defer { FD.close(fd) }
        var decoder = AttachFrameDecoder()
        var buffer = [UInt8](repeating: 0, count: 65536)
        loop: while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            decoder.append(buffer[0..<n])
            while let frame = try? decoder.next() {
                if frame.kind == AttachProtocol.Kind.stdinClosed { break loop }
                guard frame.kind == AttachProtocol.Kind.stdin, !frame.payload.isEmpty else { continue }
                var waited = 0
                while state.withLock({ $0.stdinFD == nil }) && waited < 3000 {
                    usleep(10_000)
                    waited += 1
                }
                guard let target = state.withLock({ $0.stdinFD }), !target.isClosed else { continue }
                if target.use({ Self.sendAll($0, frame.payload[...]) }) != true { break loop }
            }
        }
        if state.withLock({ $0.stdinOnce }) {
            closeStdin()
            // A restarted berthd keeps it closed (`ContainerService.reconnectInputPorts`).
            try? FileSystem.writeAtomically(stdinClosedPath, [], mode: 0o600, durable: false)
        }
    }

    /// Exists once a `StdinOnce` stdin was closed in this boot of the VM.
    var stdinClosedPath: String { FileSystem.parentDirectory(of: offsetsPath) + "/stdin-closed" }

    /// Starts the pump thread, continuing from the saved offsets (`fresh`: from 0, a new boot
    /// truncated the files).
    func start(fresh: Bool) throws {
        if fresh {
            try FileSystem.writeAtomically(offsetsPath, [UInt8](repeating: 0, count: 16), mode: 0o600, durable: false)
            try? FileSystem.removeTree(stdinClosedPath)
        }
        let me = self
        Task.detached { _ = try? await BlockingWork.run { me.loop() } }
    }

    /// The VM has exited: drain what is left, send `exitCode` to the clients, close them.
    func finish(exitCode: Int32) async {
        state.withLock { $0.finishing = true; $0.exitCode = exitCode }
        _ = await done.value
    }

    private func loop() {
        var offsets = readOffsets()
        let log = try? JSONFileLog(path: logPath)
        let offsetsFD = try? FD.open(offsetsPath, O_WRONLY | O_CREAT, mode: 0o600)
        defer { if let offsetsFD { FD.close(offsetsFD) } }
        var buffer = [UInt8](repeating: 0, count: 65536)
        var lastRound = false
        while true {
            var progressed = false
            for (i, path) in [stdoutPath, stderrPath].enumerated() {
                guard let fd = try? FD.open(path, O_RDONLY) else { continue }
                defer { FD.close(fd) }
                while true {
                    let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offsets[i])) }
                    if n <= 0 { break }
                    progressed = true
                    offsets[i] += UInt64(n)
                    let chunk = buffer[0..<n]
                    log?.append(chunk, stream: i == 0 ? "stdout" : "stderr")
                    send(kind: UInt8(i + 1), chunk)
                    if let offsetsFD { saveOffsets(offsetsFD, offsets) }
                }
            }
            if progressed { continue }
            if lastRound { break }
            if state.withLock({ $0.finishing }) { lastRound = true; continue }
            usleep(20_000)
        }
        log?.flush()
        let (clients, code) = state.withLock { s -> ([Client], Int32) in
            defer { s.clients = [] }
            return (s.clients, s.exitCode)
        }
        let c = UInt32(bitPattern: code)
        let frame = AttachProtocol.header(kind: AttachProtocol.Kind.exit, length: 4) + [UInt8(c >> 24), UInt8(c >> 16 & 0xff), UInt8(c >> 8 & 0xff), UInt8(c & 0xff)]
        for client in clients {
            _ = Self.sendAll(client.fd, frame[...])
            FD.close(client.fd)
        }
        closeStdin(final: true)
        state.withLock { s -> SharedDescriptor in
            if s.controlFD == nil { s.controlFD = SharedDescriptor(-1) }
            return s.controlFD!
        }.close()
        done.fulfill(Int(code))
    }

    /// Frames `chunk` to every client that asked for the stream; drops clients that went away.
    private func send(kind: UInt8, _ chunk: ArraySlice<UInt8>) {
        let clients = state.withLock { $0.clients }
        guard !clients.isEmpty else { return }
        var gone: [Int32] = []
        var start = chunk.startIndex
        while start < chunk.endIndex {
            let end = min(chunk.endIndex, start + AttachProtocol.maxPayload)
            let frame = AttachProtocol.header(kind: kind, length: end - start) + Array(chunk[start..<end])
            for c in clients where (kind == 1 ? c.stdout : c.stderr) && !gone.contains(c.fd) {
                if !Self.sendAll(c.fd, frame[...]) { gone.append(c.fd) }
            }
            start = end
        }
        if !gone.isEmpty {
            state.withLock { $0.clients.removeAll { gone.contains($0.fd) } }
            for fd in gone { FD.close(fd) }
        }
    }

    /// Blocking send without SIGPIPE; false when the peer is gone.
    static func sendAll(_ fd: Int32, _ bytes: ArraySlice<UInt8>) -> Bool {
        var sent = 0
        let total = bytes.count
        return bytes.withUnsafeBytes { raw -> Bool in
            while sent < total {
                let n = Glibc.send(fd, raw.baseAddress! + sent, total - sent, Int32(MSG_NOSIGNAL))
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                sent += n
            }
            return true
        }
    }

    private func readOffsets() -> [UInt64] {
        guard let b = try? FileSystem.read(offsetsPath), b.count >= 16 else { return [0, 0] }
        func u64(_ o: Int) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[o + $1]) << (8 * UInt64($1)) } }
        return [u64(0), u64(8)]
    }

    private func saveOffsets(_ fd: Int32, _ offsets: [UInt64]) {
        var b: [UInt8] = []
        for v in offsets { for i in 0..<8 { b.append(UInt8(v >> (8 * UInt64(i)) & 0xff)) } }
        _ = b.withUnsafeBytes { pwrite(fd, $0.baseAddress, 16, 0) }
    }
}
