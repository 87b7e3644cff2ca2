#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A descriptor that several threads use and any of them may close, closed exactly once.
///
/// A raw `Int32` closed by one thread while another still holds the number is a hazard: the
/// kernel hands the number to the next `open`/`socket`/`accept` in the process, and the late
/// `write`, `shutdown` or `close` hits that unrelated descriptor (a QMP client that shut down
/// a number its reader had already closed once made SwiftNIO's UDP DNS socket spin on a
/// readable-but-empty socket). Here every use goes through `use`, which pins the descriptor:
/// `close()` while a body runs only marks it, and the last body out closes it. After `close()`
/// no new body runs.
public final class SharedDescriptor: Sendable {
    private struct State {
        var fd: Int32
        var users = 0
        var closing = false
    }
    private let state: Mutex<State>

    /// Takes ownership of `fd` (a negative `fd` makes an already closed descriptor).
    public init(_ fd: Int32) {
        state = Mutex(State(fd: fd, closing: fd < 0))
    }

    /// Runs `body` with the descriptor, which stays open until `body` returns; nil (and
    /// `body` not run) once `close()` was called.
    public func use<T>(_ body: (Int32) throws -> T) rethrows -> T? {
        guard let fd = state.withLock({ s -> Int32? in
            guard !s.closing else { return nil }
            s.users += 1
            return s.fd
        }) else { return nil }
        defer { release() }
        return try body(fd)
    }

    /// `shutdown(2)` while open (wakes a thread blocked reading or writing in `use`); false
    /// once closed.
    @discardableResult
    public func shutdown(_ how: Int32) -> Bool {
        use { Glibc.shutdown($0, how) == 0 } ?? false
    }

    /// Closes the descriptor now, or when the last running `use` returns. Idempotent.
    public func close() {
        let fd = state.withLock { s -> Int32? in
            guard !s.closing else { return nil }
            s.closing = true
            return s.users == 0 ? s.fd : nil
        }
        if let fd { FD.close(fd) }
    }

    /// Whether `close()` was called.
    public var isClosed: Bool { state.withLock { $0.closing } }

    private func release() {
        let fd = state.withLock { s -> Int32? in
            s.users -= 1
            return s.closing && s.users == 0 ? s.fd : nil
        }
        if let fd { FD.close(fd) }
    }
}
