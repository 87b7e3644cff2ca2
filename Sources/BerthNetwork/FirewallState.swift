import BerthCore

/// One bridge network as the firewall sees it: its bridge interface, subnets and policy.
public struct FirewallNetwork: Sendable, Hashable, Codable {
    /// The bridge interface (`br-0123456789ab`, `berth0`).
    public var bridge: String
    /// The IPv4 subnet in CIDR notation (`172.18.0.0/16`; host bits are ignored).
    public var subnet: String
    /// The IPv6 subnet in CIDR notation, if the network has IPv6.
    public var subnet6: String?
    /// An internal network: no traffic leaves or enters its bridge (Docker's `--internal`).
    public var `internal`: Bool
    /// Masquerade traffic from the subnets leaving through another interface
    /// (`com.docker.network.bridge.enable_ip_masquerade`).
    public var masquerade: Bool
    /// Inter-container communication within the network
    /// (`com.docker.network.bridge.enable_icc`). When false, containers on the bridge cannot
    /// reach each other (they still reach the gateway and, unless internal, the outside).
    public var icc: Bool

    /// A network; by default not internal, masqueraded, with inter-container communication.
    public init(bridge: String, subnet: String, subnet6: String? = nil, internal: Bool = false,
                masquerade: Bool = true, icc: Bool = true) {
        self.bridge = bridge
        self.subnet = subnet
        self.subnet6 = subnet6
        self.internal = `internal`
        self.masquerade = masquerade
        self.icc = icc
    }
}

/// One published port: traffic for `hostIP`:`hostPort` is sent to `containerIP`:`containerPort`.
public struct PortMapping: Sendable, Hashable, Codable {
    /// The transport protocol.
    public enum Proto: String, Sendable, Hashable, Codable, CaseIterable {
        case tcp, udp
    }

    public var proto: Proto
    /// The host address to publish on; nil, `""`, `0.0.0.0` and `::` mean every address.
    public var hostIP: String?
    public var hostPort: UInt16
    /// The container's IPv4 address on `bridge`.
    public var containerIP: String
    public var containerPort: UInt16
    /// The bridge of the network the container is reached on.
    public var bridge: String

    /// A mapping; `hostIP` nil means every host address.
    public init(proto: Proto = .tcp, hostIP: String? = nil, hostPort: UInt16, containerIP: String,
                containerPort: UInt16, bridge: String) {
        self.proto = proto
        self.hostIP = hostIP
        self.hostPort = hostPort
        self.containerIP = containerIP
        self.containerPort = containerPort
        self.bridge = bridge
    }

    /// True when the mapping is published on every host address (nil, `""`, `0.0.0.0`, `::`).
    public var isAllAddresses: Bool {
        guard let ip = hostIP, !ip.isEmpty else { return true }
        return IPAddress(ip)?.isUnspecified ?? false
    }

    /// The specific host address the mapping is published on, nil for every address.
    public var specificHostAddress: IPAddress? {
        isAllAddresses ? nil : hostIP.flatMap { IPAddress($0) }
    }
}

/// Everything the firewall renders: the bridge networks and the published ports. berthd
/// rebuilds it from its records; `Firewall.apply` turns it into the `inet berth` table.
public struct FirewallState: Sendable, Hashable, Codable {
    public var networks: [FirewallNetwork]
    public var mappings: [PortMapping]

    /// A state; empty by default (no networks: the table is still created, with empty chains).
    public init(networks: [FirewallNetwork] = [], mappings: [PortMapping] = []) {
        self.networks = networks
        self.mappings = mappings
    }

    /// The same state in a canonical order (networks by bridge, mappings by bridge, protocol,
    /// port), duplicate mappings removed and every-address host IPs written as nil, so two
    /// states built from the same records in a different order compare equal.
    public var normalized: FirewallState {
        var seen = Set<String>()
        let nets = networks.sorted { $0.bridge < $1.bridge }.filter { seen.insert($0.bridge).inserted }
        var maps = Set<PortMapping>()
        for var m in mappings {
            if m.isAllAddresses { m.hostIP = nil }
            maps.insert(m)
        }
        let sorted = maps.sorted {
            ($0.bridge, $0.proto.rawValue, $0.hostPort, $0.hostIP ?? "", $0.containerIP, $0.containerPort)
                < ($1.bridge, $1.proto.rawValue, $1.hostPort, $1.hostIP ?? "", $1.containerIP, $1.containerPort)
        }
        return FirewallState(networks: nets, mappings: sorted)
    }

    /// The bridge interfaces of all networks.
    public var bridges: [String] { networks.map(\.bridge) }

    /// Checks every name and address, so nothing but well-formed values reaches nft's input.
    /// - Throws: `BerthError.invalid` naming the bad value.
    public func validate() throws {
        var bridges = Set<String>()
        for n in networks {
            try Firewall.validateInterface(n.bridge)
            if !bridges.insert(n.bridge).inserted {
                throw BerthError.invalid("firewall: bridge \(n.bridge) appears in two networks")
            }
            guard CIDR(n.subnet)?.family == .v4 else {
                throw BerthError.invalid("firewall: network on \(n.bridge): invalid IPv4 subnet \(n.subnet)")
            }
            if let s6 = n.subnet6 {
                guard CIDR(s6)?.family == .v6 else {
                    throw BerthError.invalid("firewall: network on \(n.bridge): invalid IPv6 subnet \(s6)")
                }
            }
        }
        for m in mappings {
            try Firewall.validateInterface(m.bridge)
            if m.hostPort == 0 || m.containerPort == 0 {
                throw BerthError.invalid("firewall: published port \(m.hostPort)->\(m.containerPort)/\(m.proto.rawValue): ports must be 1-65535")
            }
            guard IPv4Address(m.containerIP) != nil else {
                throw BerthError.invalid("firewall: published port \(m.hostPort)/\(m.proto.rawValue): container address \(m.containerIP) is not an IPv4 address")
            }
            if let h = m.hostIP, !h.isEmpty, IPAddress(h) == nil {
                throw BerthError.invalid("firewall: published port \(m.hostPort)/\(m.proto.rawValue): invalid host address \(h)")
            }
        }
    }
}
