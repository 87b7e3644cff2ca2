import BerthCore
import BerthSystem
import Synchronization

/// Holds published host ports: one bound socket per (protocol, host address, port), so a port
/// another process uses — or another container published — fails the publish with Docker's
/// error, and nobody else can take a port while a container publishes it.
///
/// Sockets are bound but never accept: TCP ones do not listen (traffic to the port is sent on
/// to the container by the firewall's DNAT before it could reach them), UDP ones never read.
/// Every-address mappings (nil, `""`, `0.0.0.0`) bind `0.0.0.0`; `::` binds `[::]` v6-only.
/// Lifecycle: `reserve` when a container starts with published ports (before `Firewall.apply`),
/// `release` when it stops; sockets close when the reservation is released or deallocated.
public final class PortReservation: Sendable {
    /// What one held socket reserves.
    public struct Key: Hashable, Sendable, CustomStringConvertible {
        public var proto: PortMapping.Proto
        /// The bound address: `0.0.0.0` for every address.
        public var hostIP: IPAddress
        public var hostPort: UInt16

        public var description: String { "\(hostIP):\(hostPort)/\(proto.rawValue)" }
    }

    private let held = Mutex<[Key: Int32]>([:])

    /// An empty reservation.
    public init() {}

    deinit {
        held.withLock { sockets in
            for fd in sockets.values { FD.close(fd) }
            sockets.removeAll()
        }
    }

    /// Reserves `hostIP`:`hostPort` for `proto`. Port 0 picks a free port (the kernel's
    /// ephemeral range, as Docker's random host ports).
    /// - Returns: the port reserved (`hostPort`, or the one picked).
    /// - Throws: `BerthError` `Bind for 0.0.0.0:8080 failed: port is already allocated` (code
    ///   `.system`, errno `EADDRINUSE`, as dockerd answers with status 500) when the port is
    ///   taken by anyone, Berth included; `.invalid` for a bad address; `.system` otherwise
    ///   (an address that is not the host's, for example).
    @discardableResult
    public func reserve(proto: PortMapping.Proto, hostIP: String?, hostPort: UInt16) throws -> UInt16 {
        let address = try Self.bindAddress(hostIP)
        return try held.withLock { sockets in
            if hostPort != 0, sockets[Key(proto: proto, hostIP: address, hostPort: hostPort)] != nil {
                throw Self.allocated(address, hostPort)
            }
            let bound: (fd: Int32, port: UInt16)
            do {
                bound = try InetSocket.bind(proto == .tcp ? .stream : .datagram, address: address, port: hostPort)
            } catch let e as BerthError where e.errno == InetSocket.addressInUse {
                throw Self.allocated(address, hostPort)
            } catch let e as BerthError {
                throw BerthError(e.code, "Bind for \(Self.shown(address)):\(hostPort) failed: \(e.message)", errno: e.errno)
            }
            sockets[Key(proto: proto, hostIP: address, hostPort: bound.port)] = bound.fd
            return bound.port
        }
    }

    /// Reserves the host ports of `mappings`, all or none (on failure the ones reserved by this
    /// call are released again).
    /// - Returns: the mappings with port 0 replaced by the port picked.
    public func reserve(_ mappings: [PortMapping]) throws -> [PortMapping] {
        var done: [PortMapping] = []
        do {
            for var m in mappings {
                m.hostPort = try reserve(proto: m.proto, hostIP: m.hostIP, hostPort: m.hostPort)
                done.append(m)
            }
        } catch {
            release(done)
            throw error
        }
        return done
    }

    /// Releases one reserved port (nothing if it is not held).
    public func release(proto: PortMapping.Proto, hostIP: String?, hostPort: UInt16) {
        guard let address = try? Self.bindAddress(hostIP) else { return }
        held.withLock { sockets in
            if let fd = sockets.removeValue(forKey: Key(proto: proto, hostIP: address, hostPort: hostPort)) {
                FD.close(fd)
            }
        }
    }

    /// Releases the host ports of `mappings`.
    public func release(_ mappings: [PortMapping]) {
        for m in mappings { release(proto: m.proto, hostIP: m.hostIP, hostPort: m.hostPort) }
    }

    /// Releases every port.
    public func releaseAll() {
        held.withLock { sockets in
            for fd in sockets.values { FD.close(fd) }
            sockets.removeAll()
        }
    }

    /// The ports held now.
    public var reserved: [Key] {
        held.withLock { Array($0.keys) }
    }

    /// The address a host IP binds: `0.0.0.0` for nil, `""` and `0.0.0.0`; the address else.
    static func bindAddress(_ hostIP: String?) throws -> IPAddress {
        guard let text = hostIP, !text.isEmpty else { return .v4(.any) }
        guard let a = IPAddress(text) else { throw BerthError.invalid("invalid host IP address: \(text)") }
        return a
    }

    static func shown(_ a: IPAddress) -> String { a.ipv6 != nil ? "[\(a)]" : "\(a)" }

    /// Docker's error for a taken port.
    static func allocated(_ address: IPAddress, _ port: UInt16) -> BerthError {
        BerthError(.system, "Bind for \(shown(address)):\(port) failed: port is already allocated",
                   errno: InetSocket.addressInUse)
    }
}
