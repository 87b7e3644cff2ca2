#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthSystem

/// One asynchronous event QEMU sent (`SHUTDOWN`, `STOP`, `RESUME`, `POWERDOWN`, …).
public struct QMPEvent: Sendable, Equatable {
    /// The event's name, e.g. `SHUTDOWN`.
    public var name: String
    /// Its `data` member, if any (`{"guest": true, "reason": "guest-shutdown"}`).
    public var data: JSONValue?
    /// Order of arrival on this connection, from 1.
    public var sequence: Int
}

/// The error classes QMP answers with (`{"error": {"class": …, "desc": …}}`).
public enum QMPErrorClass: String, Sendable {
    case genericError = "GenericError"
    case commandNotFound = "CommandNotFound"
    case deviceNotActive = "DeviceNotActive"
    case deviceNotFound = "DeviceNotFound"
    case kvmMissingCap = "KVMMissingCap"

    /// The BerthError code an error of this class becomes.
    var code: BerthError.Code {
        switch self {
        case .commandNotFound, .kvmMissingCap: return .unsupported
        case .deviceNotFound: return .notFound
        case .deviceNotActive: return .conflict
        case .genericError: return .internal
        }
    }
}

extension BerthError {
    /// The QMP error class, for errors made from a QMP `error` reply (kept in `cause`).
    public var qmpErrorClass: QMPErrorClass? { cause.flatMap(QMPErrorClass.init(rawValue:)) }
}

/// A client of QEMU's QMP: JSON objects, one per line, on a unix stream socket.
///
/// `connect` reads the greeting and negotiates `qmp_capabilities` (blocking, bounded by a
/// timeout); then a reader thread of its own parses every line: replies are matched to their
/// command by `id`, events are recorded (the last 256) and handed to waiters. Commands may be
/// sent from any task concurrently. When the connection ends (QEMU exited, `close`), pending
/// commands fail with `.system` "qmp connection … closed".
///
/// Writes are one small line each on a unix socket QEMU keeps reading, so `execute` writes
/// from the calling task; all reading happens on the reader thread.
public final class QMPClient: @unchecked Sendable {
    // SAFETY: the mutable state below is only touched with `mutex` held. The socket is a
    // `SharedDescriptor`: the reader thread closes it after its loop ends, and a write or a
    // `close()` (a shutdown) that comes later finds it closed instead of touching whatever
    // descriptor reused the number.
    private var mutex = pthread_mutex_t()
    private var writeMutex = pthread_mutex_t()
    private let socket: SharedDescriptor
    /// The socket's descriptor number (tests check that nothing touches it after the close).
    let descriptorNumber: Int32
    private let what: String
    private var nextID = 1
    private var pending: [Int: (command: String, c: CheckedContinuation<JSONValue, Error>)] = [:]
    private var events: [QMPEvent] = []
    private var eventSequence = 0
    private var eventWaiters: [Int: (names: Set<String>, after: Int, c: CheckedContinuation<QMPEvent?, Error>)] = [:]
    private var nextWaiter = 0
    private var closedError: BerthError?
    private let closedLatch = Latch<Bool>()

    /// QEMU's greeting (`{"QMP": {"version": …, "capabilities": …}}`).
    public let greeting: JSONValue

    /// Connects to the QMP socket at `path`, reads the greeting and negotiates capabilities.
    /// Blocking (at most `timeout` seconds per read): call it through `BlockingWork.run`.
    /// `what` names the VM in errors (`vm web`).
    public static func connect(path: String, what: String, timeout: Double = 10) throws -> QMPClient {
        let fd = try UnixSocket.connect(path)
        do {
            try setReceiveTimeout(fd, timeout)
            var buffer: [UInt8] = []
            let greetingLine = try readLine(fd, &buffer, what: what)
            let greeting = try JSON.parse(greetingLine)
            guard greeting["QMP"] != nil else {
                throw BerthError(.corrupt, "\(what): qmp: unexpected greeting: \(String(decoding: greetingLine, as: UTF8.self))")
            }
            try FD.writeAll(fd, JSON.serialize(["execute": "qmp_capabilities"]) + [10])
            while true {
                let line = try JSON.parse(try readLine(fd, &buffer, what: what))
                if line["return"] != nil { break }
                if let e = line["error"] { throw error(from: e, command: "qmp_capabilities", what: what) }
            }
            try setReceiveTimeout(fd, 0)
            let client = QMPClient(fd: fd, what: what, greeting: greeting, leftover: buffer)
            return client
        } catch {
            FD.close(fd)
            throw error
        }
    }

    private init(fd: Int32, what: String, greeting: JSONValue, leftover: [UInt8]) {
        self.socket = SharedDescriptor(fd)
        self.descriptorNumber = fd
        self.what = what
        self.greeting = greeting
        pthread_mutex_init(&mutex, nil)
        pthread_mutex_init(&writeMutex, nil)
        Task.detached { [self] in
            _ = try? await BlockingWork.run { self.readLoop(leftover) }
        }
    }

    deinit {
        pthread_mutex_destroy(&mutex)
        pthread_mutex_destroy(&writeMutex)
    }

    /// Sends a command and returns its `return` value; a QMP `error` reply throws a
    /// `BerthError` whose `qmpErrorClass` is set (message `vm web: qmp stop: <desc>`).
    @discardableResult
    public func execute(_ command: String, _ arguments: JSONObject? = nil) async throws -> JSONValue {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<JSONValue, Error>) in
            pthread_mutex_lock(&mutex)
            if let closedError {
                pthread_mutex_unlock(&mutex)
                c.resume(throwing: closedError.context("qmp \(command)"))
                return
            }
            let id = nextID
            nextID += 1
            pending[id] = (command, c)
            pthread_mutex_unlock(&mutex)

            var message: JSONObject = ["execute": .string(command), "id": JSONValue(id)]
            if let arguments { _ = message.updateValue(.object(arguments), forKey: "arguments") }
            pthread_mutex_lock(&writeMutex)
            let line = JSON.serialize(.object(message)) + [10]
            let written = Result {
                guard try socket.use({ try FD.writeAll($0, line) }) != nil else {
                    throw BerthError(.system, "\(what): qmp connection closed")
                }
            }
            pthread_mutex_unlock(&writeMutex)
            if case .failure(let error) = written {
                pthread_mutex_lock(&mutex)
                let mine = pending.removeValue(forKey: id)
                pthread_mutex_unlock(&mutex)
                // The reader may have failed it already (connection closed).
                mine?.c.resume(throwing: error)
            }
        }
    }

    /// Waits for the first event named in `names` whose sequence is greater than `after`
    /// (events already received count). Nil when `timeout` seconds pass first; throws when
    /// the connection closes first.
    public func waitForEvent(_ names: Set<String>, after: Int = 0, timeout: Double? = nil) async throws -> QMPEvent? {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<QMPEvent?, Error>) in
            pthread_mutex_lock(&mutex)
            if let e = events.first(where: { $0.sequence > after && names.contains($0.name) }) {
                pthread_mutex_unlock(&mutex)
                c.resume(returning: e)
                return
            }
            if let closedError {
                pthread_mutex_unlock(&mutex)
                c.resume(throwing: closedError)
                return
            }
            let token = nextWaiter
            nextWaiter += 1
            eventWaiters[token] = (names, after, c)
            pthread_mutex_unlock(&mutex)
            if let timeout {
                Task.detached { [weak self] in
                    try? await Task.sleep(nanoseconds: UInt64(max(0, timeout) * 1e9))
                    guard let self else { return }
                    pthread_mutex_lock(&self.mutex)
                    let w = self.eventWaiters.removeValue(forKey: token)
                    pthread_mutex_unlock(&self.mutex)
                    w?.c.resume(returning: nil)
                }
            }
        }
    }

    /// The events received so far (the last 256), oldest first.
    public var receivedEvents: [QMPEvent] {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return events
    }

    /// The sequence number of the last event received (0 before any).
    public var lastEventSequence: Int {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return eventSequence
    }

    /// Whether the connection has ended.
    public var isClosed: Bool { closedLatch.current != nil }

    /// Ends the connection: pending commands fail; returns once the reader thread is done
    /// (or after 2 s).
    public func close() async {
        socket.shutdown(Int32(SHUT_RDWR))
        _ = await closedLatch.wait(timeout: 2)
    }

    // MARK: reading

    private func readLoop(_ leftover: [UInt8]) {
        var buffer = leftover
        var failure = BerthError(.system, "\(what): qmp connection closed")
        while true {
            // Lines already buffered first.
            while let nl = buffer.firstIndex(of: 10) {
                let line = Array(buffer[..<nl])
                buffer.removeSubrange(...nl)
                if line.allSatisfy({ $0 == 13 || $0 == 32 }) { continue }
                handle(line)
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            // errno is taken inside `use`: releasing the descriptor may make system calls.
            guard let (n, code) = socket.use({ fd -> (Int, Int32) in
                let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                return (n, errno)
            }) else { break }
            if n < 0 {
                if code == EINTR { continue }
                failure = BerthError.sys("\(what): qmp read", code)
                break
            }
            if n == 0 { break }
            buffer.append(contentsOf: chunk[0..<n])
        }
        pthread_mutex_lock(&mutex)
        closedError = failure
        let waiting = pending
        pending = [:]
        let waiters = eventWaiters
        eventWaiters = [:]
        pthread_mutex_unlock(&mutex)
        for (_, p) in waiting { p.c.resume(throwing: failure.context("qmp \(p.command)")) }
        for (_, w) in waiters { w.c.resume(throwing: failure) }
        socket.close()
        closedLatch.set(true)
    }

    private func handle(_ line: [UInt8]) {
        guard let value = try? JSON.parse(line) else { return }
        if let name = value["event"]?.stringValue {
            pthread_mutex_lock(&mutex)
            eventSequence += 1
            let event = QMPEvent(name: name, data: value["data"], sequence: eventSequence)
            events.append(event)
            if events.count > 256 { events.removeFirst(events.count - 256) }
            var ready: [CheckedContinuation<QMPEvent?, Error>] = []
            for (token, w) in eventWaiters where w.names.contains(name) && event.sequence > w.after {
                ready.append(w.c)
                eventWaiters.removeValue(forKey: token)
            }
            pthread_mutex_unlock(&mutex)
            for c in ready { c.resume(returning: event) }
            return
        }
        guard let id = value["id"]?.intValue else { return }
        pthread_mutex_lock(&mutex)
        let p = pending.removeValue(forKey: id)
        pthread_mutex_unlock(&mutex)
        guard let p else { return }
        if let e = value["error"] {
            p.c.resume(throwing: QMPClient.error(from: e, command: p.command, what: what))
        } else {
            p.c.resume(returning: value["return"] ?? .null)
        }
    }

    /// A BerthError from a QMP `error` member.
    static func error(from e: JSONValue, command: String, what: String) -> BerthError {
        let cls = e["class"]?.stringValue ?? "GenericError"
        let desc = e["desc"]?.stringValue ?? "unknown error"
        let code = QMPErrorClass(rawValue: cls)?.code ?? .internal
        return BerthError(code, "\(what): qmp \(command): \(desc)", cause: cls)
    }

    private static func setReceiveTimeout(_ fd: Int32, _ seconds: Double) throws {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1e6))
        try sysCall("set qmp socket timeout") {
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        }
    }

    /// Reads one line (without the newline) during the handshake.
    private static func readLine(_ fd: Int32, _ buffer: inout [UInt8], what: String) throws -> [UInt8] {
        while true {
            if let nl = buffer.firstIndex(of: 10) {
                let line = Array(buffer[..<nl])
                buffer.removeSubrange(...nl)
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK {
                    throw BerthError(.system, "\(what): qmp: no answer from qemu (timed out)")
                }
                throw BerthError.sys("\(what): qmp read")
            }
            if n == 0 { throw BerthError(.system, "\(what): qmp connection closed during the handshake") }
            buffer.append(contentsOf: chunk[0..<n])
        }
    }
}
