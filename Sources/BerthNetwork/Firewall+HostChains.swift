import BerthCore
import BerthSystem

/// The one place Berth adds rules outside its own table.
///
/// With nftables every base chain on a hook sees each packet, and a packet survives only if
/// none of them drops it: an `accept` in our `inet` forward chain ends our chain, not the hook.
/// dockerd (and many host firewalls) set the iptables `FORWARD` policy to DROP, in the
/// nf_tables `ip filter` table of iptables-nft or in legacy iptables; forwarded container
/// traffic would then die there whatever our table says. So when — and only when — such a
/// chain has policy DROP, we insert at its top one accept rule per bridge and direction
/// (`iifname BR accept`, `oifname BR accept`), commented with our table name (`berth`). Our
/// own chain has already dropped what must not pass (isolation, internal networks) before
/// these rules are reached. The rules are reconciled on every apply: missing ones inserted,
/// ones for bridges that are gone (or all of them, when the policy is no longer DROP or the
/// last network is removed) deleted — exactly ours, matched by the comment.
extension Firewall {
    /// One of our accept rules in a host `FORWARD` chain.
    struct HostRule: Hashable, Sendable, Comparable {
        /// True for traffic coming from the bridge (`iifname`/`-i`), false for going to it.
        var incoming: Bool
        var bridge: String

        static func < (a: HostRule, b: HostRule) -> Bool {
            a.bridge != b.bridge ? a.bridge < b.bridge : (a.incoming && !b.incoming)
        }
    }

    /// What a listing of a host `FORWARD` chain says: its policy and our rules in it.
    struct HostChain: Equatable {
        var policyDrop: Bool
        /// Our rules, with the nft rule handle (nil for legacy iptables, which deletes by spec).
        var ours: [(rule: HostRule, handle: Int?)]

        static func == (a: HostChain, b: HostChain) -> Bool {
            a.policyDrop == b.policyDrop && a.ours.map(\.rule) == b.ours.map(\.rule)
                && a.ours.map(\.handle) == b.ours.map(\.handle)
        }
    }

    /// The rules wanted in a chain: one per bridge and direction if its policy drops, else none.
    static func wantedHostRules(policyDrop: Bool, bridges: [String]) -> Set<HostRule> {
        guard policyDrop else { return [] }
        return Set(bridges.flatMap { [HostRule(incoming: true, bridge: $0), HostRule(incoming: false, bridge: $0)] })
    }

    /// Brings our accept rules in the host's `FORWARD` chains (nf_tables `ip`/`ip6 filter`, legacy
    /// iptables and ip6tables) in line with `bridges`.
    func reconcileHostChains(bridges: [String]) throws {
        for family in ["ip", "ip6"] {
            try reconcileNFTChain(family: family, bridges: bridges)
        }
        for (tool, names) in [("iptables-legacy", "/proc/net/ip_tables_names"), ("ip6tables-legacy", "/proc/net/ip6_tables_names")] {
            try reconcileLegacyChain(tool: tool, tableNames: names, bridges: bridges)
        }
    }

    // MARK: nf_tables (iptables-nft)

    func reconcileNFTChain(family: String, bridges: [String]) throws {
        // Listing never creates the table; a missing table or chain fails: nothing to do then.
        let r = try commands.run("nft", ["-a", "list", "chain", family, "filter", "FORWARD"])
        guard r.succeeded else { return }
        let chain = Self.parseNFTChain(r.stdout, comment: table)
        let wanted = Self.wantedHostRules(policyDrop: chain.policyDrop, bridges: bridges)
        var present = Set<HostRule>()
        var text = ""
        for (rule, handle) in chain.ours {
            guard let handle else { continue }
            if wanted.contains(rule), present.insert(rule).inserted { continue }
            text += "delete rule \(family) filter FORWARD handle \(handle)\n"
        }
        for rule in wanted.subtracting(present).sorted() {
            text += "insert rule \(family) filter FORWARD \(rule.incoming ? "iifname" : "oifname") \(Self.quote(rule.bridge)) counter accept comment \(Self.quote(table))\n"
        }
        guard !text.isEmpty else { return }
        try nft(["-f", "-"], input: text, operation: "update accept rules for Berth bridges in host chain \(family) filter FORWARD")
        logger.info("host forward chain has policy drop: accept rules for Berth bridges updated",
                    metadata: ["chain": "\(family) filter FORWARD", "bridges": "\(chain.policyDrop ? bridges.count : 0)"])
    }

    /// Parses `nft -a list chain FAMILY filter FORWARD`: the policy, and our rules (exactly
    /// `iifname|oifname "BR" [counter packets N bytes N] accept comment "TABLE" # handle H`).
    static func parseNFTChain(_ text: String, comment: String) -> HostChain {
        var chain = HostChain(policyDrop: false, ours: [])
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmedLine
            if line.hasPrefix("type filter hook forward") {
                chain.policyDrop = line.contains("policy drop;")
                continue
            }
            // Split off "# handle N".
            guard let hashRange = line.firstRange(of: " # handle ") else { continue }
            let handle = Int(line[hashRange.upperBound...].trimmedLine)
            let words = line[..<hashRange.lowerBound].split(separator: " ").map(String.init)
            // iifname "BR" [counter packets N bytes N] accept comment "TABLE"
            guard words.count >= 5, words[0] == "iifname" || words[0] == "oifname",
                  words.suffix(3) == ["accept", "comment", quote(comment)] else { continue }
            let middle = words.dropFirst(2).dropLast(3)
            guard middle.isEmpty || (middle.count == 5 && middle.first == "counter") else { continue }
            let name = words[1]
            guard name.count >= 3, name.hasPrefix("\""), name.hasSuffix("\"") else { continue }
            chain.ours.append((HostRule(incoming: words[0] == "iifname", bridge: String(name.dropFirst().dropLast())), handle))
        }
        return chain
    }

    // MARK: legacy iptables

    func reconcileLegacyChain(tool: String, tableNames: String, bridges: [String]) throws {
        // Only when the legacy filter table is in use: asking the tool otherwise would load
        // the x_tables modules (and create the table) on a host that does not use them.
        guard commands.exists(tool),
              let names = commands.readFile(tableNames),
              names.split(whereSeparator: \.isNewline).contains(where: { $0.trimmedLine == "filter" }) else { return }
        let r = try commands.run(tool, ["-w", "-S", "FORWARD"])
        guard r.succeeded else { return }
        let chain = Self.parseIptablesRules(r.stdout, comment: table)
        let wanted = Self.wantedHostRules(policyDrop: chain.policyDrop, bridges: bridges)
        var present = Set<HostRule>()
        var changed = false
        for (rule, _) in chain.ours {
            if wanted.contains(rule), present.insert(rule).inserted { continue }
            try iptables(tool, ["-w", "-D", "FORWARD"] + Self.iptablesRuleSpec(rule, comment: table))
            changed = true
        }
        for rule in wanted.subtracting(present).sorted() {
            try iptables(tool, ["-w", "-I", "FORWARD", "1"] + Self.iptablesRuleSpec(rule, comment: table))
            changed = true
        }
        if changed {
            logger.info("host forward chain has policy drop: accept rules for Berth bridges updated",
                        metadata: ["chain": "\(tool) FORWARD", "bridges": "\(chain.policyDrop ? bridges.count : 0)"])
        }
    }

    /// `-i BR -m comment --comment TABLE -j ACCEPT` (or `-o`).
    static func iptablesRuleSpec(_ rule: HostRule, comment: String) -> [String] {
        [rule.incoming ? "-i" : "-o", rule.bridge, "-m", "comment", "--comment", comment, "-j", "ACCEPT"]
    }

    func iptables(_ tool: String, _ args: [String]) throws {
        let operation = "\(tool) \(args.joined(separator: " "))"
        let r: CommandOutput
        do {
            r = try commands.run(tool, args)
        } catch let e as BerthError {
            throw e.context(operation)
        }
        guard r.succeeded else {
            throw BerthError(.system, "\(operation): failed (exit status \(r.status.code)): \(r.message)")
        }
    }

    /// Parses `iptables -S FORWARD`: `-P FORWARD DROP`, and our rules, exactly
    /// `-A FORWARD -i|-o BR -m comment --comment TABLE -j ACCEPT`.
    static func parseIptablesRules(_ text: String, comment: String) -> HostChain {
        var chain = HostChain(policyDrop: false, ours: [])
        for raw in text.split(whereSeparator: \.isNewline) {
            let words = raw.trimmedLine.split(separator: " ").map(String.init)
            if words == ["-P", "FORWARD", "DROP"] { chain.policyDrop = true; continue }
            guard words.count == 10, words[0] == "-A", words[1] == "FORWARD",
                  words[2] == "-i" || words[2] == "-o" else { continue }
            let spec = Array(words[2...])
            let rule = HostRule(incoming: words[2] == "-i", bridge: words[3])
            let quoted = [rule.incoming ? "-i" : "-o", rule.bridge, "-m", "comment", "--comment", "\"\(comment)\"", "-j", "ACCEPT"]
            guard spec == iptablesRuleSpec(rule, comment: comment) || spec == quoted else { continue }
            chain.ours.append((rule, nil))
        }
        return chain
    }
}
