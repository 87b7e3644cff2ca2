import BerthCore
import Logging
import Testing
@testable import BerthNetwork

/// Two networks (one internal, one without inter-container communication) and published ports
/// on every address, on 127.0.0.1, on an IPv6 address and on the internal network.
func sampleFirewallState() -> FirewallState {
    FirewallState(
        networks: [
            FirewallNetwork(bridge: "br-noicc", subnet: "172.31.0.5/16", subnet6: "fd00:31::/64", icc: false),
            FirewallNetwork(bridge: "br-int", subnet: "172.30.0.0/16", internal: true),
        ],
        mappings: [
            PortMapping(proto: .tcp, hostIP: nil, hostPort: 8080, containerIP: "172.31.0.2", containerPort: 80, bridge: "br-noicc"),
            PortMapping(proto: .tcp, hostIP: "127.0.0.1", hostPort: 8080, containerIP: "172.31.0.3", containerPort: 80, bridge: "br-noicc"),
            PortMapping(proto: .udp, hostIP: "0.0.0.0", hostPort: 5353, containerIP: "172.31.0.2", containerPort: 53, bridge: "br-noicc"),
            PortMapping(proto: .tcp, hostIP: "::1", hostPort: 9090, containerIP: "172.31.0.2", containerPort: 90, bridge: "br-noicc"),
            PortMapping(proto: .tcp, hostIP: "", hostPort: 7070, containerIP: "172.30.0.2", containerPort: 70, bridge: "br-int"),
        ])
}

/// The rule lines of `text`, trimmed.
func lines(_ text: String) -> [String] {
    text.split(separator: "\n").map { String($0.trimmedLine) }.filter { !$0.isEmpty }
}

@Suite("Firewall rendering")
struct FirewallRenderTests {
    let firewall = Firewall(table: "berth_test", logger: Logger(label: "t"))

    @Test func rendersIsolationInternalDropsMasqueradeAndDNAT() throws {
        let text = firewall.render(sampleFirewallState())
        let l = lines(text)
        func index(_ line: String, sourceLocation: SourceLocation = #_sourceLocation) -> Int? {
            let i = l.firstIndex(of: line)
            #expect(i != nil, "missing line: \(line)\n\(text)", sourceLocation: sourceLocation)
            return i
        }
        #expect(l.first == "table inet berth_test {")
        _ = index(#"elements = { "br-int", "br-noicc" }"#)

        // Internal network: nothing in or out.
        _ = index(#"iifname "br-int" oifname != "br-int" drop"#)
        _ = index(#"oifname "br-int" iifname != "br-int" drop"#)
        #expect(!l.contains(#"iifname "br-noicc" oifname != "br-noicc" drop"#))
        // Isolation between the networks, after the established/DNAT accepts and before the
        // blanket bridge accepts.
        let established = index("oifname @bridges ct state established,related accept")
        let isolation1 = index(#"iifname "br-int" oifname != "br-int" oifname @bridges drop"#)
        let isolation2 = index(#"iifname "br-noicc" oifname != "br-noicc" oifname @bridges drop"#)
        let accept = index("iifname @bridges accept")
        if let established, let isolation1, let isolation2, let accept {
            #expect(established < isolation1 && isolation1 < accept && isolation2 < accept)
        }
        #expect(l.contains("type filter hook forward priority -1; policy accept;"))

        // Masquerade for the non-internal network only (host bits of the subnet dropped).
        _ = index(#"ip saddr 172.31.0.0/16 oifname != "br-noicc" masquerade"#)
        _ = index(#"ip6 saddr fd00:31::/64 oifname != "br-noicc" masquerade"#)
        _ = index(#"oifname "br-noicc" ip saddr 172.31.0.0/16 ct status dnat masquerade"#)
        #expect(!text.contains("172.30.0.0/16"))
        _ = index("oifname @bridges ip saddr 127.0.0.0/8 masquerade")
        #expect(l.filter { $0 == "meta nfproto ipv4 fib daddr type local jump published" }.count == 2)

        // DNAT: the specific address before the every-address rule for the same port; nothing
        // for the IPv6 host address or the internal network.
        let specific = index("ip daddr 127.0.0.1 tcp dport 8080 dnat ip to 172.31.0.3:80")
        let every = index("tcp dport 8080 dnat ip to 172.31.0.2:80")
        let udp = index("udp dport 5353 dnat ip to 172.31.0.2:53")
        if let specific, let every, let udp {
            #expect(specific < every && specific < udp)
        }
        #expect(!text.contains("9090") && !text.contains("7070"))
        #expect(l.filter { $0.contains("dnat ip to") }.count == 3)

        // The bridge table, for the network without icc only.
        #expect(l.contains("table bridge berth_test {"))
        _ = index(#"meta ibrname "br-noicc" ether type { ip, ip6 } drop"#)
        #expect(!l.contains(#"meta ibrname "br-int" ether type { ip, ip6 } drop"#))
        // Braces balance.
        #expect(text.filter { $0 == "{" }.count == text.filter { $0 == "}" }.count)
    }

    @Test func noBridgeTableWhenEveryNetworkAllowsICC() {
        var state = sampleFirewallState()
        state.networks[0].icc = true
        let text = firewall.render(state)
        #expect(!text.contains("table bridge"))
        #expect(!text.contains("ibrname"))
        #expect(Firewall.render(state, table: "berth_test") == text)
        #expect(Firewall.transaction(state.normalized, table: "berth_test", bridgeTableMayExist: false)
            == "table inet berth_test {}\ndelete table inet berth_test\n" + text)
        #expect(Firewall.transaction(state.normalized, table: "berth_test", bridgeTableMayExist: true).contains(
            "table bridge berth_test {}\ndelete table bridge berth_test\n"))
    }

    @Test func oneNetworkHasNoIsolationRulesAndAnEmptyStateRendersEmptyChains() {
        let one = FirewallState(networks: [FirewallNetwork(bridge: "berth0", subnet: "172.17.0.0/16", masquerade: false)])
        let text = firewall.render(one)
        #expect(!text.contains("oifname @bridges drop"))
        #expect(!text.contains(#"ip saddr 172.17.0.0/16 oifname != "berth0" masquerade"#))
        #expect(text.contains(#"oifname "berth0" ip saddr 172.17.0.0/16 ct status dnat masquerade"#))

        let empty = firewall.render(FirewallState())
        #expect(!empty.contains("elements"))
        for chain in ["chain forward {", "chain postrouting {", "chain prerouting {", "chain output {", "chain published {"] {
            #expect(empty.contains(chain))
        }
    }

    @Test func renderingIsCanonical() {
        let state = sampleFirewallState()
        var shuffled = state
        shuffled.networks.reverse()
        shuffled.mappings.reverse()
        shuffled.mappings.append(shuffled.mappings[0])  // a duplicate
        #expect(firewall.render(shuffled) == firewall.render(state))
        #expect(shuffled.normalized == state.normalized)
        // Every-address spellings normalize to nil.
        let n = state.normalized
        #expect(n.mappings.filter { $0.hostIP == nil }.count == 3)
        #expect(n.networks.map(\.bridge) == ["br-int", "br-noicc"])
        #expect(state.bridges == ["br-noicc", "br-int"])
    }

    @Test func portMappingAddresses() {
        func m(_ ip: String?) -> PortMapping {
            PortMapping(hostIP: ip, hostPort: 1, containerIP: "10.0.0.2", containerPort: 1, bridge: "b")
        }
        for every in [nil, "", "0.0.0.0", "::"] {
            #expect(m(every).isAllAddresses && m(every).specificHostAddress == nil)
        }
        #expect(!m("127.0.0.1").isAllAddresses)
        #expect(m("127.0.0.1").specificHostAddress == .t("127.0.0.1"))
        #expect(m("::1").specificHostAddress == .t("::1"))
    }

    // MARK: - Validation

    @Test func validStatePasses() throws {
        try sampleFirewallState().validate()
        try FirewallState().validate()
    }

    @Test(arguments: ["", "bad name", "br-0123456789abc", ".", "..", "br/x", "br\"x", "br;x", "é"])
    func badInterfaceNamesAreRejected(name: String) {
        let network = FirewallState(networks: [FirewallNetwork(bridge: name, subnet: "10.1.0.0/16")])
        expectBerthError(.invalidArgument) { try network.validate() }
        let mapping = FirewallState(mappings: [PortMapping(hostPort: 80, containerIP: "10.1.0.2", containerPort: 80, bridge: name)])
        expectBerthError(.invalidArgument) { try mapping.validate() }
        #expect(!Firewall.validInterface(name))
        // Rendering leaves such entries out instead of writing them into nft's input.
        #expect(!Firewall.render(network, table: "t").contains("10.1.0.0"))
    }

    @Test func goodInterfaceNames() {
        for name in ["berth0", "br-0123456789ab", "a", "x_y.z@1", "..."] {
            #expect(Firewall.validInterface(name), "\(name)")
        }
    }

    @Test func badSubnetsAreRejected() {
        for subnet in ["", "172.18.0.0", "172.18.0.0/33", "172.18.0.0/016", "300.1.0.0/16", "fd00::/64", "web"] {
            let state = FirewallState(networks: [FirewallNetwork(bridge: "br-x", subnet: subnet)])
            let e = expectBerthError(.invalidArgument) { try state.validate() }
            #expect(e?.message.contains("invalid IPv4 subnet") == true, "\(subnet)")
        }
        for subnet6 in ["10.0.0.0/8", "fd00::/129", "fd00::"] {
            let state = FirewallState(networks: [FirewallNetwork(bridge: "br-x", subnet: "10.0.0.0/8", subnet6: subnet6)])
            expectBerthError(.invalidArgument) { try state.validate() }
        }
        let twice = FirewallState(networks: [FirewallNetwork(bridge: "br-x", subnet: "10.0.0.0/8"),
                                             FirewallNetwork(bridge: "br-x", subnet: "10.1.0.0/16")])
        expectBerthError(.invalidArgument) { try twice.validate() }
    }

    @Test func badMappingsAreRejected() {
        func state(_ m: PortMapping) -> FirewallState {
            FirewallState(networks: [FirewallNetwork(bridge: "br-x", subnet: "10.0.0.0/8")], mappings: [m])
        }
        let zeroHost = PortMapping(hostPort: 0, containerIP: "10.0.0.2", containerPort: 80, bridge: "br-x")
        let e = expectBerthError(.invalidArgument) { try state(zeroHost).validate() }
        #expect(e?.message.contains("ports must be 1-65535") == true)
        let zeroContainer = PortMapping(hostPort: 80, containerIP: "10.0.0.2", containerPort: 0, bridge: "br-x")
        expectBerthError(.invalidArgument) { try state(zeroContainer).validate() }
        let v6Container = PortMapping(hostPort: 80, containerIP: "fd00::2", containerPort: 80, bridge: "br-x")
        let v6 = expectBerthError(.invalidArgument) { try state(v6Container).validate() }
        #expect(v6?.message.contains("is not an IPv4 address") == true)
        let badHost = PortMapping(hostIP: "localhost", hostPort: 80, containerIP: "10.0.0.2", containerPort: 80, bridge: "br-x")
        expectBerthError(.invalidArgument) { try state(badHost).validate() }
        let badContainer = PortMapping(hostPort: 80, containerIP: "10.0.0.2; drop", containerPort: 80, bridge: "br-x")
        expectBerthError(.invalidArgument) { try state(badContainer).validate() }
    }

    @Test func applyValidatesBeforeTouchingTheSystem() {
        // A namespace that does not exist: were anything run, it would fail with `.system`.
        let fw = Firewall(table: "berth_test", logger: Logger(label: "t"), namespace: "bnt-does-not-exist")
        let bad = FirewallState(mappings: [PortMapping(hostPort: 0, containerIP: "10.0.0.2", containerPort: 80, bridge: "br-x")])
        expectBerthError(.invalidArgument) { try fw.apply(bad) }
        let badTable = Firewall(table: "berth-test", logger: Logger(label: "t"))
        expectBerthError(.invalidArgument) { try badTable.apply(FirewallState()) }
        expectBerthError(.invalidArgument) { try badTable.teardown() }
        #expect(fw.appliedState == nil)
    }

    @Test func tableNames() throws {
        for good in ["berth", "berth_test", "b1", "B", String(repeating: "a", count: 64)] {
            try Firewall.validateTable(good)
        }
        for bad in ["", "1berth", "_b", "berth-test", "berth test", "bérth", String(repeating: "a", count: 65)] {
            expectBerthError(.invalidArgument) { try Firewall.validateTable(bad) }
        }
        #expect(BerthNetworking.defaultTable == "berth")
    }

    // MARK: - Host chain listings

    @Test func parsesNFTForwardChainListings() {
        let listing = """
        table ip filter {
        \tchain FORWARD { # handle 2
        \t\ttype filter hook forward priority filter; policy drop;
        \t\toifname "br-a" counter packets 3 bytes 180 accept comment "berth_test" # handle 9
        \t\tiifname "br-a" counter packets 0 bytes 0 accept comment "berth_test" # handle 8
        \t\tiifname "br-b" accept comment "berth_test" # handle 7
        \t\tiifname "br-c" counter packets 0 bytes 0 accept comment "berth_other" # handle 6
        \t\tiifname "br-d" counter packets 0 bytes 0 drop comment "berth_test" # handle 5
        \t\tiifname "eth0" oifname "br-a" counter packets 0 bytes 0 accept comment "berth_test" # handle 4
        \t\tcounter packets 0 bytes 0 jump DOCKER-USER # handle 3
        \t}
        }
        """
        let chain = Firewall.parseNFTChain(listing, comment: "berth_test")
        #expect(chain.policyDrop)
        #expect(chain.ours.map(\.rule) == [
            Firewall.HostRule(incoming: false, bridge: "br-a"),
            Firewall.HostRule(incoming: true, bridge: "br-a"),
            Firewall.HostRule(incoming: true, bridge: "br-b"),
        ])
        #expect(chain.ours.map(\.handle) == [9, 8, 7])
        let accepting = Firewall.parseNFTChain(listing.replacing("policy drop;", with: "policy accept;"), comment: "berth_test")
        #expect(!accepting.policyDrop)
        #expect(Firewall.wantedHostRules(policyDrop: false, bridges: ["br-a"]).isEmpty)
        #expect(Firewall.wantedHostRules(policyDrop: true, bridges: ["br-a"]) == [
            Firewall.HostRule(incoming: true, bridge: "br-a"), Firewall.HostRule(incoming: false, bridge: "br-a"),
        ])
    }

    @Test func parsesIptablesRuleListings() {
        let listing = """
        -P FORWARD DROP
        -A FORWARD -i br-a -m comment --comment berth_test -j ACCEPT
        -A FORWARD -o br-a -m comment --comment "berth_test" -j ACCEPT
        -A FORWARD -i br-b -m comment --comment berth_other -j ACCEPT
        -A FORWARD -i br-c -j ACCEPT
        -A FORWARD -o br-d -m comment --comment berth_test -j DROP
        """
        let chain = Firewall.parseIptablesRules(listing, comment: "berth_test")
        #expect(chain.policyDrop)
        #expect(chain.ours.map(\.rule) == [
            Firewall.HostRule(incoming: true, bridge: "br-a"), Firewall.HostRule(incoming: false, bridge: "br-a"),
        ])
        #expect(!Firewall.parseIptablesRules("-P FORWARD ACCEPT\n", comment: "berth_test").policyDrop)
        #expect(Firewall.iptablesRuleSpec(Firewall.HostRule(incoming: false, bridge: "br-a"), comment: "berth")
            == ["-o", "br-a", "-m", "comment", "--comment", "berth", "-j", "ACCEPT"])
    }
}
