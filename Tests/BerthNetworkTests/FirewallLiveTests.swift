import BerthCore
import Glibc
import Logging
import Testing
@testable import BerthNetwork

/// True when this process can run nft inside network namespaces of its own.
let canRunNFT = getuid() == 0 && installed("nft") != nil && installed("ip") != nil && installed("timeout") != nil

/// A fresh network namespace `bntXXXXXXXX` for the duration of `body`, deleted afterwards (with
/// every table and rule in it), so the host's firewall is never touched.
func withNamespace(_ body: (String) throws -> Void) throws {
    let name = "bnt" + String(UInt32.random(in: 0x1000_0000...UInt32.max), radix: 16)
    try mustRun(["ip", "netns", "add", name])
    defer { _ = try? runProgram(["ip", "netns", "del", name]) }
    try body(name)
}

/// Runs `args` inside the namespace and returns stdout; throws unless it exits 0.
@discardableResult
func inNamespace(_ namespace: String, _ args: [String]) throws -> String {
    try mustRun(["ip", "netns", "exec", namespace] + args)
}

/// The rule lines (trimmed, `# handle N` dropped) of an nft listing in the namespace, nil when
/// listing fails (the table or chain does not exist).
func nftLines(_ namespace: String, _ args: [String]) throws -> [String]? {
    let r = try runProgram(["ip", "netns", "exec", namespace, "nft"] + args)
    guard r.ok else { return nil }
    return r.stdout.split(separator: "\n").map { line in
        var l = line.trimmedLine
        if let r = l.firstRange(of: " # handle ") { l = l[..<r.lowerBound] }
        return String(l)
    }.filter { !$0.isEmpty }
}

/// Whether the kernel runs bridge-family rules matching `meta ibrname` (the `nft_meta_bridge`
/// module), which the bridge table of a network without inter-container communication needs.
func bridgeMetaSupported(_ ns: String) throws -> Bool {
    try inNamespace(ns, ["nft", "add", "table", "bridge", "bntprobe"])
    defer { _ = try? inNamespace(ns, ["nft", "delete", "table", "bridge", "bntprobe"]) }
    try inNamespace(ns, ["nft", "add", "chain", "bridge", "bntprobe", "f", "{ type filter hook forward priority 0; }"])
    return try runProgram(["ip", "netns", "exec", ns, "nft", "add", "rule", "bridge", "bntprobe", "f",
                           "meta", "ibrname", "\"x\"", "drop"]).ok
}

@Suite("Firewall in a network namespace", .serialized,
       .enabled(if: canRunNFT, "needs root, nft, ip and timeout"))
struct FirewallLiveTests {
    let stateA = sampleFirewallState()
    let stateB = FirewallState(
        networks: [FirewallNetwork(bridge: "br-ccc", subnet: "172.29.0.0/16")],
        mappings: [PortMapping(proto: .udp, hostPort: 5353, containerIP: "172.29.0.3", containerPort: 53, bridge: "br-ccc")])

    /// `stateA`, with inter-container communication on when the kernel cannot run the bridge
    /// table's rules.
    func portableStateA(_ ns: String) throws -> FirewallState {
        var state = stateA
        if try !bridgeMetaSupported(ns) { state.networks[0].icc = true }
        return state
    }

    @Test func applyReplacesTheTableWhole() throws {
        try withNamespace { ns in
            let fw = Firewall(table: "berth_test", logger: Logger(label: "t"), namespace: ns)
            let bridgeRules = try bridgeMetaSupported(ns)
            let stateA = try portableStateA(ns)
            try fw.apply(stateA)
            #expect(fw.appliedState == stateA.normalized)

            let inet = try #require(try nftLines(ns, ["list", "table", "inet", "berth_test"]))
            let joined = inet.joined(separator: "\n")
            // nft may break a set's elements over several lines.
            #expect(inet.joined(separator: " ").contains(#"elements = { "br-int", "br-noicc" }"#), "\(joined)")
            for expected in [
                #"iifname "br-int" oifname != "br-int" drop"#,
                #"oifname "br-int" iifname != "br-int" drop"#,
                #"iifname "br-noicc" oifname != "br-noicc" oifname @bridges drop"#,
                #"ip saddr 172.31.0.0/16 oifname != "br-noicc" masquerade"#,
                #"ip6 saddr fd00:31::/64 oifname != "br-noicc" masquerade"#,
                "ip daddr 127.0.0.1 tcp dport 8080 dnat ip to 172.31.0.3:80",
                "tcp dport 8080 dnat ip to 172.31.0.2:80",
                "udp dport 5353 dnat ip to 172.31.0.2:53",
            ] {
                #expect(inet.contains(expected), "missing \(expected) in\n\(joined)")
            }
            if let specific = inet.firstIndex(of: "ip daddr 127.0.0.1 tcp dport 8080 dnat ip to 172.31.0.3:80"),
               let every = inet.firstIndex(of: "tcp dport 8080 dnat ip to 172.31.0.2:80") {
                #expect(specific < every)
            }
            if bridgeRules {
                let bridge = try #require(try nftLines(ns, ["list", "table", "bridge", "berth_test"]))
                #expect(bridge.contains { $0.hasPrefix(#"meta ibrname "br-noicc" ether type { ip, ip6 } drop"#) },
                        "\(bridge.joined(separator: "\n"))")
                #expect(try fw.bridgeTableExists())
            } else {
                // This kernel cannot run the bridge table: a state needing it fails as a whole
                // (one transaction), naming the operation, and the table applied before stays.
                #expect(try nftLines(ns, ["list", "table", "bridge", "berth_test"]) == nil)
                let e = expectBerthError(.system) { try fw.apply(self.stateA) }
                #expect(e?.message.hasPrefix("apply firewall table inet berth_test: nft failed") == true)
                #expect(fw.appliedState == nil)
                #expect(try nftLines(ns, ["list", "table", "inet", "berth_test"]) == inet)
                #expect(try !fw.bridgeTableExists())
            }

            // A changed state replaces the old one: nothing of A is left, and the bridge table
            // goes away with the last network without icc.
            try fw.apply(stateB)
            #expect(fw.appliedState == stateB.normalized)
            let replaced = try #require(try nftLines(ns, ["list", "table", "inet", "berth_test"]))
            let text = replaced.joined(separator: "\n")
            #expect(replaced.joined(separator: " ").contains(#"elements = { "br-ccc" }"#), "\(text)")
            #expect(replaced.contains("udp dport 5353 dnat ip to 172.29.0.3:53"), "\(text)")
            #expect(!text.contains("br-noicc") && !text.contains("br-int") && !text.contains("8080"))
            #expect(try nftLines(ns, ["list", "table", "bridge", "berth_test"]) == nil)
            #expect(try !fw.bridgeTableExists())
            let tables = try inNamespace(ns, ["nft", "list", "tables"])
            #expect(tables.split(separator: "\n").filter { $0.contains("berth_test") } == ["table inet berth_test"])

            // An unchanged state is not applied again (nothing is run): a table deleted behind
            // our back stays deleted until the state changes.
            try inNamespace(ns, ["nft", "delete", "table", "inet", "berth_test"])
            try fw.apply(stateB)
            #expect(try nftLines(ns, ["list", "table", "inet", "berth_test"]) == nil)
            // A new Firewall (berthd restarting) applies it again.
            let restarted = Firewall(table: "berth_test", logger: Logger(label: "t"), namespace: ns)
            try restarted.apply(stateB)
            #expect(try nftLines(ns, ["list", "table", "inet", "berth_test"]) != nil)

            try restarted.teardown()
            #expect(try nftLines(ns, ["list", "table", "inet", "berth_test"]) == nil)
            #expect(restarted.appliedState == nil)
            // Teardown with nothing there is fine.
            try restarted.teardown()
        }
    }

    @Test func dropPolicyForwardChainsGetAcceptRulesAndTeardownRemovesExactlyOurs() throws {
        try withNamespace { ns in
            // The host's iptables (nf_tables backend) FORWARD chains with policy DROP, and rules
            // of someone else's in them.
            try inNamespace(ns, ["iptables", "-P", "FORWARD", "DROP"])
            try inNamespace(ns, ["iptables", "-A", "FORWARD", "-i", "eth9", "-j", "ACCEPT"])
            try inNamespace(ns, ["ip6tables", "-P", "FORWARD", "DROP"])

            let other = Firewall(table: "berth_other", logger: Logger(label: "t"), namespace: ns)
            try other.apply(FirewallState(networks: [FirewallNetwork(bridge: "br-other", subnet: "172.28.0.0/16")]))

            let fw = Firewall(table: "berth_test", logger: Logger(label: "t"), namespace: ns)
            let stateA = try portableStateA(ns)
            try fw.apply(stateA)

            func forward(_ family: String) throws -> [String] {
                try #require(try nftLines(ns, ["-a", "list", "chain", family, "filter", "FORWARD"]))
            }
            func ours(_ family: String, _ table: String = "berth_test") throws -> Set<String> {
                Set(try forward(family).filter { $0.hasSuffix("accept comment \"\(table)\"") }.map {
                    // Drop the counter values, which traffic could change.
                    $0.replacing(#/counter packets \d+ bytes \d+ /#, with: "")
                })
            }
            func expected(_ bridges: [String]) -> Set<String> {
                Set(bridges.flatMap { [#"iifname "\#($0)" accept comment "berth_test""#, #"oifname "\#($0)" accept comment "berth_test""#] })
            }
            for family in ["ip", "ip6"] {
                let listing = try forward(family)
                #expect(try ours(family) == expected(["br-int", "br-noicc"]), "\(listing)")
                #expect(try ours(family, "berth_other").count == 2)
                #expect(try forward(family).contains("type filter hook forward priority filter; policy drop;"))
            }
            // Our rules come before the host's own.
            let ip = try forward("ip")
            if let eth9 = ip.firstIndex(where: { $0.contains(#"iifname "eth9""#) }),
               let first = ip.firstIndex(where: { $0.hasSuffix(#"accept comment "berth_test""#) }) {
                #expect(first < eth9)
            } else {
                Issue.record("rules missing:\n\(ip.joined(separator: "\n"))")
            }
            // iptables sees them too.
            let rules = try inNamespace(ns, ["iptables", "-S", "FORWARD"])
            #expect(rules.contains("-A FORWARD -o br-noicc -m comment --comment berth_test -j ACCEPT"), "\(rules)")

            // A changed state: the rules follow the bridges (exactly one per bridge and direction).
            try fw.apply(stateB)
            for family in ["ip", "ip6"] {
                let listing = try forward(family)
                #expect(try ours(family) == expected(["br-ccc"]), "\(listing)")
                #expect(try forward(family).filter { $0.hasSuffix(#"accept comment "berth_test""#) }.count == 2)
            }

            // Back to policy ACCEPT: the next apply removes our rules (nothing to rescue).
            try inNamespace(ns, ["iptables", "-P", "FORWARD", "ACCEPT"])
            try fw.apply(stateA)
            #expect(try ours("ip").isEmpty)
            #expect(try ours("ip6") == expected(["br-int", "br-noicc"]))

            // Teardown removes our table and exactly our rules.
            try fw.teardown()
            #expect(try nftLines(ns, ["list", "table", "inet", "berth_test"]) == nil)
            #expect(try nftLines(ns, ["list", "table", "bridge", "berth_test"]) == nil)
            for family in ["ip", "ip6"] {
                #expect(try ours(family).isEmpty)
                let listing = try forward(family)
                #expect(try ours(family, "berth_other").count == 2, "\(listing)")
            }
            #expect(try forward("ip").contains { $0.contains(#"iifname "eth9""#) && $0.hasSuffix("accept") })
            #expect(try forward("ip6").contains("type filter hook forward priority filter; policy drop;"))
            #expect(try nftLines(ns, ["list", "table", "inet", "berth_other"]) != nil)
            try other.teardown()
            #expect(try ours("ip6", "berth_other").isEmpty)
        }
    }

    @Test func applyInAMissingNamespaceFailsWithTheOperation() throws {
        let fw = Firewall(table: "berth_test", logger: Logger(label: "t"), namespace: "bntmissing\(UInt16.random(in: 0...UInt16.max))")
        let e = expectBerthError(.system) { try fw.apply(FirewallState()) }
        #expect(e?.message.contains("apply firewall table inet berth_test") == true, "\(String(describing: e))")
        #expect(fw.appliedState == nil)
    }
}
