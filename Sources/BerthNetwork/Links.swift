import BerthCore
import BerthSystem

/// One container interface to make: a veth pair whose host end joins `bridge` and whose other
/// end is created inside the container's network namespace as `name`.
public struct VethPlan: Sendable {
    public var hostVeth: String
    /// The name inside the container (`eth0`, `eth1`, …).
    public var name: String
    public var bridge: String
    public var mtu: Int
    public var mac: String
    public var ipv4: IPAddress
    public var prefixLength: Int
    public var gateway: IPAddress
    public var ipv6: IPAddress?
    public var prefixLength6: Int?
    public var gateway6: IPAddress?
    /// Route the container's default traffic (IPv4, and IPv6 when it has an address) through
    /// this interface's gateways.
    public var defaultRoute: Bool

    public init(hostVeth: String, name: String, bridge: String, mtu: Int, mac: String, ipv4: IPAddress, prefixLength: Int,
                gateway: IPAddress, ipv6: IPAddress? = nil, prefixLength6: Int? = nil, gateway6: IPAddress? = nil,
                defaultRoute: Bool) {
        self.hostVeth = hostVeth; self.name = name; self.bridge = bridge; self.mtu = mtu; self.mac = mac
        self.ipv4 = ipv4; self.prefixLength = prefixLength; self.gateway = gateway
        self.ipv6 = ipv6; self.prefixLength6 = prefixLength6; self.gateway6 = gateway6; self.defaultRoute = defaultRoute
    }
}

/// Bridges and veth pairs over rtnetlink (BerthSystem's `Netlink`): what berthd's network
/// service asks of the kernel. Nothing here shells out.
public enum Links {
    /// Makes `name` a bridge with `mtu` (kept when it exists), with the gateway addresses
    /// (IPv6 without duplicate address detection), up.
    public static func ensureBridge(_ name: String, mtu: Int, gateway: CIDR, gateway6: CIDR?) throws {
        let nl = try Netlink.open()
        defer { nl.close() }
        if try nl.linkIndex(name) == nil { try nl.createBridge(name: name, mtu: UInt32(mtu)) }
        if !(try nl.addresses(link: name, family: .v4)).contains(where: { $0.cidr == gateway }) {
            try nl.addAddress(link: name, gateway)
        }
        if let gateway6, !(try nl.addresses(link: name, family: .v6)).contains(where: { $0.address == gateway6.address }) {
            try nl.addAddress(link: name, gateway6, noDAD: true)
        }
        try nl.setUp(link: name)
    }

    /// True when an interface of that name exists in berthd's namespace.
    public static func exists(_ name: String) -> Bool {
        guard let nl = try? Netlink.open() else { return false }
        defer { nl.close() }
        return ((try? nl.linkIndex(name)) ?? nil) != nil
    }

    /// Deletes interfaces (bridges, host veth ends) that exist; missing ones are fine.
    public static func delete(_ names: [String]) throws {
        guard !names.isEmpty else { return }
        let nl = try Netlink.open()
        defer { nl.close() }
        for n in names { try nl.deleteLink(n, ignoreMissing: true) }
    }

    /// Makes each planned interface in the network namespace of `pid`: the pair, the host end
    /// in its bridge and up, the container end with its MAC and addresses, up, and the default
    /// routes where planned. On failure the pairs made so far are deleted.
    public static func plug(_ plans: [VethPlan], intoNetworkNamespaceOf pid: Int32) throws {
        guard !plans.isEmpty else { return }
        let nsFD = try Namespaces.open(pid: pid, .network)
        defer { FD.close(nsFD) }
        let host = try Netlink.open()
        defer { host.close() }
        let inside = try Netlink.open(inNamespaceOf: nsFD)
        defer { inside.close() }
        var made: [String] = []
        do {
            for p in plans {
                try host.createVeth(name: p.hostVeth, peer: p.name, mtu: UInt32(p.mtu), peerNamespace: nsFD)
                made.append(p.hostVeth)
                try host.setMaster(link: p.hostVeth, master: p.bridge)
                try host.setUp(link: p.hostVeth)
                if let mac = Netlink.parseMAC(p.mac) { try inside.setMAC(link: p.name, mac: mac) }
                try inside.addAddress(link: p.name, address: p.ipv4, prefixLength: p.prefixLength)
                try inside.setUp(link: p.name)
                if p.defaultRoute { try inside.addRoute(destination: nil, gateway: p.gateway, link: p.name) }
                if let v6 = p.ipv6, let prefix = p.prefixLength6 {
                    // The address is ours by allocation: usable at once, no DAD.
                    try inside.addAddress(link: p.name, address: v6, prefixLength: prefix, noDAD: true)
                    if p.defaultRoute, let gw6 = p.gateway6 { try inside.addRoute(destination: nil, gateway: gw6, link: p.name) }
                }
            }
        } catch {
            for v in made { try? host.deleteLink(v, ignoreMissing: true) }
            throw error
        }
    }

    /// Counters of the named interfaces inside the network namespace of `pid`, in Docker's
    /// keys (`rx_bytes`, `rx_packets`, `rx_errors`, `rx_dropped`, `tx_…`); empty when the
    /// namespace is gone.
    public static func counters(ofNetworkNamespaceOf pid: Int32, names: Set<String>) -> [String: [String: UInt64]] {
        guard !names.isEmpty, pid > 0, let fd = try? Namespaces.open(pid: pid, .network) else { return [:] }
        defer { FD.close(fd) }
        guard let nl = try? Netlink.open(inNamespaceOf: fd) else { return [:] }
        defer { nl.close() }
        var out: [String: [String: UInt64]] = [:]
        for link in (try? nl.links()) ?? [] where names.contains(link.name) {
            guard let st = link.statistics else { continue }
            out[link.name] = ["rx_bytes": st.rxBytes, "rx_packets": st.rxPackets, "rx_errors": st.rxErrors, "rx_dropped": st.rxDropped,
                              "tx_bytes": st.txBytes, "tx_packets": st.txPackets, "tx_errors": st.txErrors, "tx_dropped": st.txDropped]
        }
        return out
    }
}
