import BerthCore
import BerthSystem

/// The messages between the monitor (parent) and the container's init (child) on their
/// SOCK_SEQPACKET pair during creation. One message per packet, first byte is the tag.
///
///     parent → child  go                      (id maps written)
///     parent → child  placed                  (in the cgroup: the first cgroup.procs write can
///                                              take a few ms, so the child mounts meanwhile)
///     child  → parent pty  + master fd        (process.terminal)
///     child  → parent ready                   (set up; waiting on exec.fifo or about to exec)
///     child  → parent error + message         (set-up failed; the child exits)
///     EOF on the socket after ready           (exec succeeded: the socket is close-on-exec)
enum SyncMessage: Equatable {
    case go
    case placed
    case pty(Int32)
    case ready
    case error(String)
    case closed

    static func send(_ fd: Int32, _ m: SyncMessage) throws {
        switch m {
        case .go: try UnixSocket.send(fd, [UInt8(ascii: "G")])
        case .placed: try UnixSocket.send(fd, [UInt8(ascii: "C")])
        case .ready: try UnixSocket.send(fd, [UInt8(ascii: "R")])
        case .pty(let master): try UnixSocket.send(fd, [UInt8(ascii: "P")], fd: master)
        case .error(let text): try UnixSocket.send(fd, [UInt8(ascii: "E")] + Array(text.utf8.prefix(60000)))
        case .closed: break
        }
    }

    static func receive(_ fd: Int32) throws -> SyncMessage {
        let (bytes, passed) = try UnixSocket.receive(fd)
        guard let tag = bytes.first else { return .closed }
        switch tag {
        case UInt8(ascii: "G"): return .go
        case UInt8(ascii: "C"): return .placed
        case UInt8(ascii: "R"): return .ready
        case UInt8(ascii: "P"): return .pty(passed)
        case UInt8(ascii: "E"): return .error(String(decoding: bytes.dropFirst(), as: UTF8.self))
        default: throw BerthError(.internal, "sync: unexpected message tag \(tag)")
        }
    }
}
