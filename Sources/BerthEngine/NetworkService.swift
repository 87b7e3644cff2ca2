#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthNetwork
import BerthOCI
import BerthSystem
import Logging
import Synchronization

/// One subnet of a network: the subnet, its gateway (the bridge's address) and the range
/// containers get addresses from.
public struct NetworkSubnet: Codable, Sendable, Equatable {
    public var subnet: String
    public var gateway: String
    public var ipRange: String?
}

/// A network as berthd keeps it: `<root>/networks/<id>.json`.
public struct NetworkRecord: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    /// `bridge`, `host`, `null`.
    public var driver: String
    public var created: String
    public var subnets: [NetworkSubnet]
    public var `internal`: Bool
    public var attachable: Bool
    public var enableIPv6: Bool
    public var options: [String: String]
    public var labels: [String: String]
    /// The bridge interface (bridge networks).
    public var bridge: String?
    public var mtu: Int
    /// bridge (the default one), host, none: listed always, never removed.
    public var builtin: Bool

    /// User-defined networks have the embedded DNS server and name resolution.
    public var userDefined: Bool { !builtin }
}

/// A container's endpoint on one network: what it asked for at create or connect, and what
/// it got at start (address, MAC); the address is released at stop, as Docker does.
public struct ContainerEndpoint: Codable, Sendable, Equatable {
    public var networkID: String
    public var endpointID: String = ""
    public var aliases: [String] = []
    public var links: [String] = []
    /// `--ip`, `--ip6`, `--mac-address` as asked.
    public var requestedIPv4: String?
    public var requestedIPv6: String?
    public var requestedMAC: String?
    /// While running: the address (no prefix), prefix length, gateway, MAC, host-side veth.
    public var ipv4: String = ""
    public var prefixLength: Int = 0
    public var gateway: String = ""
    public var mac: String = ""
    public var hostVeth: String = ""
    /// The interface name inside the container (`eth0`, `eth1`, …).
    public var interface: String = ""
}

/// A published port as bound at start (`HostPort` resolved when it was ephemeral).
public struct PublishedPort: Codable, Sendable, Equatable {
    /// `80/tcp`.
    public var containerPort: String
    public var hostIP: String
    public var hostPort: Int
}
