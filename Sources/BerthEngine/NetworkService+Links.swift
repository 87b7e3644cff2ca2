import BerthCore
import BerthSystem

extension NetworkService {
    /// Whether containers can be wired to bridge networks at start (veth pairs over netlink).
    var wiringAvailable: Bool { false }

    /// Makes a network's bridge (with the gateway address, up) and firewall rules.
    func setUp(_ r: NetworkRecord) throws {
        throw BerthError.unsupported("bridge networks are being built: the bridge for \(r.name) cannot be made yet")
    }

    /// Removes a network's bridge and rules.
    func tearDown(_ r: NetworkRecord) throws {}
}
