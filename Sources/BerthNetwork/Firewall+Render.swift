import BerthCore

extension Firewall {
    /// Renders the nftables text for `state`: the `inet` table (and, only when a network turns
    /// inter-container communication off, a `bridge` table of the same name). Pure: no system
    /// access; the state is normalized first, invalid entries are left out (`apply` validates
    /// and refuses them before rendering).
    public func render(_ state: FirewallState) -> String {
        Self.render(state, table: table)
    }

    /// `render` for a given table name.
    public static func render(_ state: FirewallState, table: String) -> String {
        let s = state.normalized
        var out = renderInet(s, table: table)
        if needsBridgeTable(s) {
            out += "\n" + renderBridge(s, table: table)
        }
        return out
    }

    /// True when some network disables inter-container communication: traffic between ports
    /// of one bridge never reaches the `inet` hooks, only the `bridge` family's.
    static func needsBridgeTable(_ state: FirewallState) -> Bool {
        state.networks.contains { !$0.icc && validInterface($0.bridge) }
    }

    /// The whole `nft -f` input for one atomic apply: create-then-delete our table (so the
    /// delete works whether it exists or not), then the table again with its full content.
    /// `bridgeTableMayExist` adds the same for the `bridge` table (only then: a kernel without
    /// bridge-family nftables would fail the whole transaction).
    static func transaction(_ state: FirewallState, table: String, bridgeTableMayExist: Bool) -> String {
        var out = "table inet \(table) {}\ndelete table inet \(table)\n"
        if bridgeTableMayExist {
            out += "table bridge \(table) {}\ndelete table bridge \(table)\n"
        }
        return out + render(state, table: table)
    }

    static func renderInet(_ s: FirewallState, table: String) -> String {
        let networks = s.networks.filter { validInterface($0.bridge) }
        let bridges = networks.map { quote($0.bridge) }
        var out = "table inet \(table) {\n"

        out += "\t# every Berth bridge\n"
        out += "\tset bridges {\n\t\ttype ifname\n"
        if !bridges.isEmpty { out += "\t\telements = { \(bridges.joined(separator: ", ")) }\n" }
        out += "\t}\n\n"

        // forward: isolation and internal networks. Runs just before iptables' filter chains;
        // our accepts do not override their drops (see Firewall+HostChains.swift).
        out += "\tchain forward {\n"
        out += "\t\ttype filter hook forward priority -1; policy accept;\n"
        for n in networks where n.internal {
            let b = quote(n.bridge)
            out += "\t\t# internal network: nothing leaves or enters \(n.bridge)\n"
            out += "\t\tiifname \(b) oifname != \(b) drop\n"
            out += "\t\toifname \(b) iifname != \(b) drop\n"
        }
        out += "\t\toifname @bridges ct state established,related accept\n"
        out += "\t\t# published ports are reachable from every network, as through the host\n"
        out += "\t\toifname @bridges ct status dnat accept\n"
        if networks.count > 1 {
            out += "\t\t# networks cannot reach each other\n"
            for n in networks {
                let b = quote(n.bridge)
                out += "\t\tiifname \(b) oifname != \(b) oifname @bridges drop\n"
            }
        }
        out += "\t\tiifname @bridges accept\n"
        out += "\t\toifname @bridges accept\n"
        out += "\t}\n\n"

        // postrouting: masquerade.
        out += "\tchain postrouting {\n"
        out += "\t\ttype nat hook postrouting priority 100; policy accept;\n"
        for n in networks where !n.internal {
            let b = quote(n.bridge)
            guard let v4 = CIDR(n.subnet), v4.family == .v4 else { continue }
            if n.masquerade {
                out += "\t\tip saddr \(v4.masked) oifname != \(b) masquerade\n"
                if let s6 = n.subnet6, let v6 = CIDR(s6), v6.family == .v6 {
                    out += "\t\tip6 saddr \(v6.masked) oifname != \(b) masquerade\n"
                }
            }
            out += "\t\t# hairpin: a container reaching a published port of its own network\n"
            out += "\t\toifname \(b) ip saddr \(v4.masked) ct status dnat masquerade\n"
        }
        out += "\t\t# the host's loopback sent to a container (after DNAT of 127.0.0.1)\n"
        out += "\t\toifname @bridges ip saddr 127.0.0.0/8 masquerade\n"
        out += "\t}\n\n"

        // prerouting and output: published ports, for traffic from outside and from the host.
        out += "\tchain prerouting {\n"
        out += "\t\ttype nat hook prerouting priority -100; policy accept;\n"
        out += "\t\tmeta nfproto ipv4 fib daddr type local jump published\n"
        out += "\t}\n\n"
        out += "\tchain output {\n"
        out += "\t\ttype nat hook output priority -100; policy accept;\n"
        out += "\t\tmeta nfproto ipv4 fib daddr type local jump published\n"
        out += "\t}\n\n"

        let internalBridges = Set(networks.filter(\.internal).map(\.bridge))
        out += "\tchain published {\n"
        // Specific addresses first, so they win over an every-address mapping of the port.
        let usable = s.mappings.filter { m in
            validInterface(m.bridge) && !internalBridges.contains(m.bridge) && m.hostPort != 0 && m.containerPort != 0
                && IPv4Address(m.containerIP) != nil
        }
        for m in usable where !m.isAllAddresses {
            guard let host = m.hostIP.flatMap({ IPv4Address($0) }) else { continue }  // IPv6 host addresses: not forwarded
            out += "\t\tip daddr \(host) \(m.proto.rawValue) dport \(m.hostPort) dnat ip to \(m.containerIP):\(m.containerPort)\n"
        }
        for m in usable where m.isAllAddresses {
            out += "\t\t\(m.proto.rawValue) dport \(m.hostPort) dnat ip to \(m.containerIP):\(m.containerPort)\n"
        }
        out += "\t}\n"
        out += "}\n"
        return out
    }

    static func renderBridge(_ s: FirewallState, table: String) -> String {
        var out = "table bridge \(table) {\n"
        out += "\tchain forward {\n"
        out += "\t\ttype filter hook forward priority 0; policy accept;\n"
        for n in s.networks where !n.icc && validInterface(n.bridge) {
            out += "\t\t# no inter-container communication on \(n.bridge) (ARP still passes)\n"
            out += "\t\tmeta ibrname \(quote(n.bridge)) ether type { ip, ip6 } drop\n"
        }
        out += "\t}\n"
        out += "}\n"
        return out
    }

    static func quote(_ name: String) -> String { "\"\(name)\"" }
}
