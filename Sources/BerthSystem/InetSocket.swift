#if canImport(Glibc)
import Glibc
#endif
import BerthCore

/// IPv4 and IPv6 sockets bound to an address and port. BerthNetwork's `PortReservation` holds
/// one per published host port, so the port stays ours (and a port in use fails the publish).
public enum InetSocket {
    /// The socket type: TCP or UDP.
    public enum Kind: Sendable, Equatable {
        /// `SOCK_STREAM` (TCP).
        case stream
        /// `SOCK_DGRAM` (UDP).
        case datagram
    }

    /// `EADDRINUSE`: the errno `bind` fails with when the address and port are taken.
    public static let addressInUse: Int32 = EADDRINUSE

    /// `socket(2)` + `bind(2)`: a close-on-exec socket bound to `address`:`port` (port 0: the
    /// kernel picks a free one). No `SO_REUSEADDR`, so nobody else can bind the same port while
    /// it is held, listening or not. IPv6 sockets are v6-only: `[::]` does not also claim the
    /// IPv4 port (`0.0.0.0` is bound separately, as Docker does).
    /// - Returns: the descriptor (the caller closes it) and the port actually bound.
    /// - Throws: `BerthError.sys` naming the address, with errno `EADDRINUSE` when it is taken.
    public static func bind(_ kind: Kind, address: IPAddress, port: UInt16) throws -> (fd: Int32, port: UInt16) {
        let type = Int32(kind == .stream ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let proto = kind == .stream ? "tcp" : "udp"
        let shown = address.ipv6 != nil ? "[\(address)]:\(port)" : "\(address):\(port)"
        switch address {
        case .v4(let v4):
            let fd = try sysCall("\(proto) socket for \(shown)") { socket(AF_INET, type, 0) }
            var sa = sockaddr_in()
            sa.sin_family = sa_family_t(AF_INET)
            sa.sin_port = port.bigEndian
            sa.sin_addr.s_addr = v4.value.bigEndian
            do {
                try withUnsafePointer(to: &sa) { p in
                    // SAFETY: sockaddr_in is a valid prefix-compatible sockaddr of the given length.
                    try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sp in
                        _ = try sysCall("bind \(proto) \(shown)") {
                            Glibc.bind(fd, sp, socklen_t(MemoryLayout<sockaddr_in>.size))
                        }
                    }
                }
                return (fd, try boundPort(fd, what: shown))
            } catch {
                Glibc.close(fd)
                throw error
            }
        case .v6(let v6):
            let fd = try sysCall("\(proto) socket for \(shown)") { socket(AF_INET6, type, 0) }
            var sa = sockaddr_in6()
            sa.sin6_family = sa_family_t(AF_INET6)
            sa.sin6_port = port.bigEndian
            let bytes = v6.bytes
            withUnsafeMutableBytes(of: &sa.sin6_addr) { raw in
                for i in 0..<16 { raw[i] = bytes[i] }
            }
            do {
                var one: Int32 = 1
                _ = try sysCall("set IPV6_V6ONLY on \(shown)") {
                    setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
                }
                try withUnsafePointer(to: &sa) { p in
                    // SAFETY: sockaddr_in6 is a valid prefix-compatible sockaddr of the given length.
                    try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sp in
                        _ = try sysCall("bind \(proto) \(shown)") {
                            Glibc.bind(fd, sp, socklen_t(MemoryLayout<sockaddr_in6>.size))
                        }
                    }
                }
                return (fd, try boundPort(fd, what: shown))
            } catch {
                Glibc.close(fd)
                throw error
            }
        }
    }

    /// `listen(2)` on a bound stream socket.
    public static func listen(_ fd: Int32, backlog: Int32 = 128) throws {
        try sysCall("listen on socket \(fd)") { Glibc.listen(fd, backlog) }
    }

    /// The local port of a bound socket (`getsockname`).
    static func boundPort(_ fd: Int32, what: String) throws -> UInt16 {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        try withUnsafeMutablePointer(to: &storage) { p in
            // SAFETY: sockaddr_storage is large enough for any socket address; len says how much.
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sp in
                _ = try sysCall("getsockname of \(what)") { getsockname(fd, sp, &len) }
            }
        }
        return withUnsafeBytes(of: &storage) { raw in
            // sin_port and sin6_port are both at offset 2, in network order.
            UInt16(raw[2]) << 8 | UInt16(raw[3])
        }
    }
}
