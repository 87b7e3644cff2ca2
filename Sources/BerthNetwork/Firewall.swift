import BerthCore
import BerthSystem
import Logging
import Synchronization

/// The firewall of Berth's bridge networks: one nftables table, `inet berth`, rendered whole
/// from a `FirewallState` and applied in one atomic `nft -f -` transaction.
///
/// Lifecycle: berthd creates one `Firewall` at start and calls `apply` with the state rebuilt
/// from its records (so nothing drifts across restarts), then again after every change
/// (network created or removed, ports published or unpublished); an unchanged state is not
/// re-applied. `teardown` removes everything Berth added (when the last network goes away or
/// when uninstalling). Calls are serialized internally; the type is safe to share.
///
/// Berth touches nothing of the host's rules except in one place: when the host's iptables
/// `FORWARD` chain (nf_tables `ip filter`/`ip6 filter`, or legacy iptables) has policy DROP,
/// as dockerd sets it, an accept in our chain cannot save a packet (every base chain on the
/// hook must accept it), so accept rules for our bridges, commented with the table name, are
/// inserted at the top of that chain and removed again exactly (see Firewall+HostChains.swift).
public final class Firewall: Sendable {
    /// The nftables table name (`berth`; tests use their own, e.g. `berth_t1234`).
    public let table: String
    let logger: Logger
    let commands: FirewallCommands

    struct Applied {
        /// The last state applied successfully (normalized); nil before the first apply.
        var state: FirewallState?
        /// Whether our `bridge` table exists; nil: not known yet (asked on first use).
        var bridgeTable: Bool?
    }
    let applied = Mutex(Applied())

    /// A firewall for `table`.
    /// - Parameters:
    ///   - table: the nftables table name: letters, digits and `_`, starting with a letter.
    ///   - namespace: for tests: run nft and iptables inside this named network namespace
    ///     (`ip netns exec`) instead of the host's.
    public init(table: String = BerthNetworking.defaultTable, logger: Logger, namespace: String? = nil) {
        self.table = table
        self.logger = logger
        self.commands = FirewallCommands(namespace: namespace)
    }

    /// The last state applied, nil before the first `apply` or after `teardown`.
    public var appliedState: FirewallState? { applied.withLock { $0.state } }

    /// Renders `state` and applies it atomically (our table is replaced whole), then brings the
    /// accept rules in a DROP-policy host `FORWARD` chain in line with the bridges. Does
    /// nothing when `state` equals the last state applied.
    /// - Throws: `BerthError.invalid` for a bad name or address in `state`; `.system` when nft
    ///   fails (the message names the operation and carries nft's error output).
    public func apply(_ state: FirewallState) throws {
        try Self.validateTable(table)
        try state.validate()
        let s = state.normalized
        try applied.withLock { a in
            if a.state == s { return }
            for m in s.mappings where !m.isAllAddresses && m.hostIP.flatMap({ IPv4Address($0) }) == nil {
                logger.warning("published port on an IPv6 host address is not forwarded",
                               metadata: ["hostIP": "\(m.hostIP ?? "")", "port": "\(m.hostPort)/\(m.proto.rawValue)"])
            }
            let needBridge = Self.needsBridgeTable(s)
            let bridgeMayExist: Bool
            if let known = a.bridgeTable { bridgeMayExist = known } else { bridgeMayExist = try bridgeTableExists() }
            let text = Self.transaction(s, table: table, bridgeTableMayExist: bridgeMayExist)
            // Whatever happens next, the old state is no longer known to be in place.
            a.state = nil
            a.bridgeTable = nil
            try nft(["-f", "-"], input: text, operation: "apply firewall table inet \(table)")
            a.bridgeTable = needBridge
            try reconcileHostChains(bridges: s.bridges)
            a.state = s
            logger.debug("firewall applied", metadata: [
                "table": "\(table)", "networks": "\(s.networks.count)", "mappings": "\(s.mappings.count)",
            ])
        }
    }

    /// Deletes our table(s) and the accept rules we added to host `FORWARD` chains. Safe to call
    /// when nothing exists.
    /// - Throws: `BerthError.system` with nft's error output.
    public func teardown() throws {
        try Self.validateTable(table)
        try applied.withLock { a in
            a.state = nil
            var text = "table inet \(table) {}\ndelete table inet \(table)\n"
            let bridgeMayExist: Bool
            if let known = a.bridgeTable { bridgeMayExist = known } else { bridgeMayExist = try bridgeTableExists() }
            if bridgeMayExist { text += "table bridge \(table) {}\ndelete table bridge \(table)\n" }
            a.bridgeTable = nil
            try nft(["-f", "-"], input: text, operation: "delete firewall table inet \(table)")
            a.bridgeTable = false
            try reconcileHostChains(bridges: [])
            logger.debug("firewall removed", metadata: ["table": "\(table)"])
        }
    }

    /// True when our `bridge` table exists (`nft list tables bridge`).
    func bridgeTableExists() throws -> Bool {
        let r = try commands.run("nft", ["list", "tables", "bridge"])
        // A kernel without bridge-family nftables fails the listing: then it cannot exist.
        guard r.succeeded else { return false }
        return r.stdout.split(whereSeparator: \.isNewline).contains { $0.trimmedLine == "table bridge \(table)" }
    }

    /// Runs nft; a non-zero exit throws naming `operation`, with nft's error output.
    @discardableResult
    func nft(_ args: [String], input: String? = nil, operation: String) throws -> CommandOutput {
        let r: CommandOutput
        do {
            r = try commands.run("nft", args, input: input)
        } catch let e as BerthError {
            throw e.context(operation)
        }
        guard r.succeeded else {
            throw BerthError(.system, "\(operation): nft failed (exit status \(r.status.code)): \(r.message)")
        }
        return r
    }

    /// Table names are nft identifiers: a letter, then letters, digits, `_` (at most 64).
    public static func validateTable(_ name: String) throws {
        let u = Array(name.utf8)
        let ok = !u.isEmpty && u.count <= 64 && isLetter(u[0])
            && u.allSatisfy { isLetter($0) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "_") }
        if !ok { throw BerthError.invalid("invalid firewall table name \"\(name)\": want a letter, then letters, digits or _") }
    }

    private static func isLetter(_ c: UInt8) -> Bool { (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) }

    /// True for a Linux interface name we can write into nft's input: 1–15 characters from
    /// letters, digits, `_`, `-`, `.`, `@`, and not `.` or `..`.
    static func validInterface(_ name: String) -> Bool {
        let u = Array(name.utf8)
        guard (1...15).contains(u.count), name != ".", name != ".." else { return false }
        return u.allSatisfy { c in
            isLetter(c) || (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
                || c == UInt8(ascii: ".") || c == UInt8(ascii: "@")
        }
    }

    /// Throws `BerthError.invalid` unless `validInterface(name)`.
    static func validateInterface(_ name: String) throws {
        if !validInterface(name) {
            throw BerthError.invalid("invalid interface name \"\(name)\": want 1-15 letters, digits, _ - . @")
        }
    }
}

extension Substring {
    /// The line without surrounding spaces and tabs.
    var trimmedLine: Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return s
    }
}
