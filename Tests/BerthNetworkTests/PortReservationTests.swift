import BerthCore
import BerthSystem
import Glibc
import Testing
@testable import BerthNetwork

/// Whether the test itself can bind `port` on 127.0.0.1 right now (the socket is closed again).
func canBind(_ kind: InetSocket.Kind, _ address: String = "127.0.0.1", port: UInt16) -> Bool {
    guard let bound = try? InetSocket.bind(kind, address: .t(address), port: port) else { return false }
    FD.close(bound.fd)
    return true
}

/// The errno of a failed bind by the test, nil when it succeeded.
func bindErrno(_ kind: InetSocket.Kind, _ address: String = "127.0.0.1", port: UInt16) -> Int32? {
    do {
        let bound = try InetSocket.bind(kind, address: .t(address), port: port)
        FD.close(bound.fd)
        return nil
    } catch let e as BerthError {
        return e.errno ?? -1
    } catch {
        return -1
    }
}

@Suite("Port reservations")
struct PortReservationTests {
    @Test func portZeroPicksAFreePortThatIsReallyHeld() throws {
        let reservation = PortReservation()
        defer { reservation.releaseAll() }
        for proto in PortMapping.Proto.allCases {
            let port = try reservation.reserve(proto: proto, hostIP: "127.0.0.1", hostPort: 0)
            #expect(port != 0)
            #expect(bindErrno(proto == .tcp ? .stream : .datagram, port: port) == EADDRINUSE)
            #expect(reservation.reserved.contains(PortReservation.Key(proto: proto, hostIP: .t("127.0.0.1"), hostPort: port)))
        }
        #expect(reservation.reserved.count == 2)
    }

    @Test func aFreePortIsReservedAndHeldAgainstEveryone() throws {
        // Find a port that is free, then reserve it by number.
        let probe = PortReservation()
        let port = try probe.reserve(proto: .tcp, hostIP: "127.0.0.1", hostPort: 0)
        probe.release(proto: .tcp, hostIP: "127.0.0.1", hostPort: port)
        #expect(probe.reserved.isEmpty)

        let reservation = PortReservation()
        defer { reservation.releaseAll() }
        #expect(try reservation.reserve(proto: .tcp, hostIP: "127.0.0.1", hostPort: port) == port)
        // The test's own bind fails: the socket really is bound (even though it never listens).
        #expect(bindErrno(.stream, port: port) == EADDRINUSE)
        // Reserving it twice: Docker's error.
        let twice = expectBerthError(.system) { try reservation.reserve(proto: .tcp, hostIP: "127.0.0.1", hostPort: port) }
        #expect(twice?.message == "Bind for 127.0.0.1:\(port) failed: port is already allocated")
        #expect(twice?.errno == EADDRINUSE)
        // Another reservation (another daemon, another process) meets the kernel's refusal,
        // reported the same way.
        let other = PortReservation()
        let taken = expectBerthError(.system) { try other.reserve(proto: .tcp, hostIP: "127.0.0.1", hostPort: port) }
        #expect(taken?.message == "Bind for 127.0.0.1:\(port) failed: port is already allocated")
        #expect(other.reserved.isEmpty)
        // UDP on the same number is a different port.
        #expect(try reservation.reserve(proto: .udp, hostIP: "127.0.0.1", hostPort: port) == port)

        // Released: the test can bind it.
        reservation.release(proto: .tcp, hostIP: "127.0.0.1", hostPort: port)
        #expect(canBind(.stream, port: port))
        #expect(bindErrno(.datagram, port: port) == EADDRINUSE)
        reservation.release(proto: .udp, hostIP: "127.0.0.1", hostPort: port)
        #expect(canBind(.datagram, port: port))
        #expect(reservation.reserved.isEmpty)
        // Releasing what is not held is harmless.
        reservation.release(proto: .udp, hostIP: "127.0.0.1", hostPort: port)
        reservation.release(proto: .udp, hostIP: "not an address", hostPort: port)
    }

    @Test func aPortTakenByAnotherProgramIsAlreadyAllocated() throws {
        let held = try InetSocket.bind(.datagram, address: .t("127.0.0.1"), port: 0)
        defer { FD.close(held.fd) }
        let reservation = PortReservation()
        let e = expectBerthError(.system) { try reservation.reserve(proto: .udp, hostIP: "127.0.0.1", hostPort: held.port) }
        #expect(e?.message.hasSuffix("port is already allocated") == true)
        #expect(reservation.reserved.isEmpty)
    }

    @Test func everyAddressSpellingsBindTheWildcard() throws {
        let reservation = PortReservation()
        defer { reservation.releaseAll() }
        let port = try reservation.reserve(proto: .udp, hostIP: nil, hostPort: 0)
        #expect(reservation.reserved == [PortReservation.Key(proto: .udp, hostIP: .t("0.0.0.0"), hostPort: port)])
        // The wildcard holds the port on loopback too.
        #expect(bindErrno(.datagram, port: port) == EADDRINUSE)
        for spelling in ["", "0.0.0.0"] {
            let e = expectBerthError(.system) { try reservation.reserve(proto: .udp, hostIP: spelling, hostPort: port) }
            #expect(e?.message == "Bind for 0.0.0.0:\(port) failed: port is already allocated")
        }
        reservation.release(proto: .udp, hostIP: "", hostPort: port)
        #expect(reservation.reserved.isEmpty)
        #expect(canBind(.datagram, port: port))
    }

    @Test func mappingsAreReservedAllOrNone() throws {
        let held = try InetSocket.bind(.stream, address: .t("127.0.0.1"), port: 0)
        defer { FD.close(held.fd) }
        let reservation = PortReservation()
        defer { reservation.releaseAll() }
        let mappings = [
            PortMapping(proto: .tcp, hostIP: "127.0.0.1", hostPort: 0, containerIP: "172.18.0.2", containerPort: 80, bridge: "br-x"),
            PortMapping(proto: .udp, hostIP: "127.0.0.1", hostPort: 0, containerIP: "172.18.0.2", containerPort: 53, bridge: "br-x"),
            PortMapping(proto: .tcp, hostIP: "127.0.0.1", hostPort: held.port, containerIP: "172.18.0.2", containerPort: 81, bridge: "br-x"),
        ]
        expectBerthError(.system) { try reservation.reserve(mappings) }
        #expect(reservation.reserved.isEmpty)

        let done = try reservation.reserve(Array(mappings.prefix(2)))
        #expect(done.count == 2 && done.allSatisfy { $0.hostPort != 0 })
        #expect(done.map(\.containerPort) == [80, 53])
        #expect(Set(reservation.reserved.map(\.hostPort)) == Set(done.map(\.hostPort)))
        reservation.release(done)
        #expect(reservation.reserved.isEmpty)
        #expect(canBind(.stream, port: done[0].hostPort))
    }

    @Test func badAddresses() {
        let reservation = PortReservation()
        let e = expectBerthError(.invalidArgument) { try reservation.reserve(proto: .tcp, hostIP: "localhost", hostPort: 0) }
        #expect(e?.message.contains("invalid host IP address") == true)
        // An address that is not the host's: a system error naming it.
        let foreign = expectBerthError(.system) { try reservation.reserve(proto: .tcp, hostIP: "192.0.2.77", hostPort: 0) }
        #expect(foreign?.message.hasPrefix("Bind for 192.0.2.77:0 failed") == true, "\(String(describing: foreign))")
        #expect(reservation.reserved.isEmpty)
    }

    @Test func ipv6LoopbackIsV6Only() throws {
        guard canBind(.stream, "::1", port: 0) else { return }  // no IPv6 on this host
        let reservation = PortReservation()
        defer { reservation.releaseAll() }
        let port = try reservation.reserve(proto: .tcp, hostIP: "::1", hostPort: 0)
        #expect(bindErrno(.stream, "::1", port: port) == EADDRINUSE)
        let e = expectBerthError(.system) { try reservation.reserve(proto: .tcp, hostIP: "::1", hostPort: port) }
        #expect(e?.message == "Bind for [::1]:\(port) failed: port is already allocated")
    }

    @Test func droppingTheReservationClosesItsSockets() throws {
        var port: UInt16 = 0
        do {
            let reservation = PortReservation()
            port = try reservation.reserve(proto: .tcp, hostIP: "127.0.0.1", hostPort: 0)
            #expect(!canBind(.stream, port: port))
        }
        #expect(canBind(.stream, port: port))
    }
}
