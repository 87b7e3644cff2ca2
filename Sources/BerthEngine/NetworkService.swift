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
    /// The IPv6 subnet, when the network has one (after the IPv4 one in `subnets`).
    public var subnet6: NetworkSubnet? { subnets.first { $0.subnet.contains(":") } }
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
    /// While running, on an IPv6 network: the address, its prefix length, the gateway.
    public var ipv6: String? = nil
    public var prefixLength6: Int? = nil
    public var gateway6: String? = nil
}

/// A published port as bound at start (`HostPort` resolved when it was ephemeral).
public struct PublishedPort: Codable, Sendable, Equatable {
    /// `80/tcp`.
    public var containerPort: String
    public var hostIP: String
    public var hostPort: Int
}

/// Networks: the built-in `bridge` (the default bridge), `host` and `none`, and user-defined
/// bridge networks. Each bridge network is a Linux bridge with the gateway address; containers
/// join through veth pairs made at start (BerthNetwork over rtnetlink). Addresses come from the
/// network's subnet and are held only while a container runs (as Docker); allocations are
/// rebuilt at start from the running containers, so nothing can drift. Firewall rules (NAT,
/// isolation, published ports) live in Berth's own nftables table, re-rendered whole on every
/// change.
public final class NetworkService: Sendable {
    /// `<root>/networks`.
    public let root: String
    /// The default bridge's interface, or nil when disabled (`--bridge none`).
    public let defaultBridge: String?
    let logger: Logger
    let events: EventService

    struct State {
        var records: [String: NetworkRecord] = [:]
        /// network id → IPv4 addresses in use (host order).
        var allocations: [String: Set<UInt32>] = [:]
        /// network id → IPv6 addresses in use (offsets in the subnet).
        var allocations6: [String: Set<UInt128>] = [:]
        /// container id → its published ports (while it runs).
        var mappings: [String: [PortMapping]] = [:]
    }
    /// Berth's nftables table: NAT, isolation, published ports.
    let firewall: Firewall
    /// Host ports held for published ports.
    let ports = PortReservation()
    /// network id → its embedded DNS server (user-defined networks).
    let dns = Mutex<[String: DNSServer]>([:])
    let state = Mutex(State())
    /// Containers on a network: (container id, name, endpoint) — from the container service.
    let members = Mutex<(@Sendable (String) -> [(id: String, name: String, endpoint: ContainerEndpoint, running: Bool)])?>(nil)

    /// Docker's default address pools: 172.17–31.0.0/16, then 192.168.0–240.0/20.
    static let pools: [(base: UInt32, prefix: Int)] =
        (17...31).map { (UInt32(172) << 24 | UInt32($0) << 16, 16) } +
        stride(from: 0, through: 240, by: 16).map { (UInt32(192) << 24 | UInt32(168) << 16 | UInt32($0) << 8, 20) }

    public init(root: String, defaultBridge: String?, firewallTable: String, events: EventService, logger: Logger) throws {
        try Firewall.validateTable(firewallTable)
        self.firewall = Firewall(table: firewallTable, logger: logger)
        self.root = root + "/networks"
        self.defaultBridge = defaultBridge
        self.events = events
        self.logger = logger
        try FileSystem.makeDirectories(self.root, mode: 0o700)
        var records: [String: NetworkRecord] = [:]
        for file in try FileSystem.list(self.root) where file.hasSuffix(".json") {
            guard let bytes = try? FileSystem.read("\(self.root)/\(file)"),
                  let r = try? BerthJSONDecoder().decode(NetworkRecord.self, from: bytes) else {
                logger.warning("skipping unreadable network record", metadata: ["file": "\(file)"])
                continue
            }
            records[r.id] = r
        }
        state.withLock { $0.records = records }
        try ensureBuiltins()
    }

    func setMembers(_ f: @escaping @Sendable (String) -> [(id: String, name: String, endpoint: ContainerEndpoint, running: Bool)]) {
        members.withLock { $0 = f }
    }

    func save(_ r: NetworkRecord) throws {
        try FileSystem.writeAtomically("\(root)/\(r.id).json", try BerthJSONEncoder().encode(r), mode: 0o600)
    }

    /// `bridge`, `host` and `none` exist always (with ids kept across restarts).
    private func ensureBuiltins() throws {
        let existing = state.withLock { Set($0.records.values.filter(\.builtin).map(\.name)) }
        let now = WallClock.now().rfc3339Nano
        for (name, driver) in [("bridge", "bridge"), ("host", "host"), ("none", "null")] where !existing.contains(name) {
            if name == "bridge" && defaultBridge == nil { continue }
            var r = NetworkRecord(id: Self.randomID(), name: name, driver: driver, created: now, subnets: [], internal: false,
                                  attachable: false, enableIPv6: false, options: [:], labels: [:], bridge: nil, mtu: 1500,
                                  builtin: true)
            if name == "bridge" {
                r.bridge = defaultBridge
                r.options = ["com.docker.network.bridge.default_bridge": "true",
                             "com.docker.network.bridge.enable_icc": "true",
                             "com.docker.network.bridge.enable_ip_masquerade": "true",
                             "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
                             "com.docker.network.bridge.name": defaultBridge!,
                             "com.docker.network.driver.mtu": "1500"]
                let subnet = try pickSubnet(taken: [])
                r.subnets = [NetworkSubnet(subnet: IPv4.cidr(subnet.base, subnet.prefix), gateway: IPv4.format(subnet.base + 1), ipRange: nil)]
            }
            try save(r)
            state.withLock { $0.records[r.id] = r }
        }
    }

    static func randomID() -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<4).map { _ in
            let h = String(g.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - h.count) + h
        }.joined()
    }

    // MARK: lookup

    /// A network by full id, name, or unique id prefix (Docker's order).
    public func get(_ ref: String) throws -> NetworkRecord {
        try state.withLock { s in
            if let r = s.records[ref] { return r }
            if let r = s.records.values.first(where: { $0.name == ref }) { return r }
            let m = s.records.values.filter { $0.id.hasPrefix(ref) }
            if m.count == 1, !ref.isEmpty { return m[0] }
            if m.count > 1 { throw BerthError.invalid("network \(ref) is ambiguous (\(m.count) matches found on ID prefix)") }
            throw BerthError.notFound("network \(ref) not found")
        }
    }

    /// Every network, by name.
    public func list() -> [NetworkRecord] {
        state.withLock { Array($0.records.values) }.sorted { $0.name < $1.name }
    }

    /// The containers on a network.
    public func endpoints(_ id: String) -> [(id: String, name: String, endpoint: ContainerEndpoint, running: Bool)] {
        members.withLock { $0 }?(id) ?? []
    }

    // MARK: subnets

    /// The host's routes and existing networks' subnets, which a new subnet must not overlap.
    func takenSubnets() -> [(base: UInt32, prefix: Int)] {
        var taken: [(UInt32, Int)] = state.withLock { s in
            s.records.values.flatMap { $0.subnets.compactMap { IPv4.parseCIDR($0.subnet) } }
        }
        for r in (try? HostRoutes.ipv4()) ?? [] where r.prefix > 0 { taken.append((r.base, r.prefix)) }
        return taken
    }

    /// The first default pool that overlaps nothing in use.
    func pickSubnet(taken extra: [(base: UInt32, prefix: Int)]) throws -> (base: UInt32, prefix: Int) {
        let taken = takenSubnets() + extra
        for p in Self.pools where !taken.contains(where: { IPv4.overlaps($0, p) }) { return p }
        throw BerthError.unsupported("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")
    }
}
