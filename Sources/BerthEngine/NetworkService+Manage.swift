import BerthCore
import BerthNetwork
import BerthSystem

/// What `POST /networks/create` asks for.
public struct NetworkCreateOptions: Sendable {
    public var name: String
    public var driver: String = "bridge"
    /// (subnet, ip range, gateway) per IPAM config.
    public var ipam: [(subnet: String?, ipRange: String?, gateway: String?)] = []
    public var ipamDriver: String = "default"
    public var `internal` = false
    public var attachable = false
    public var enableIPv6 = false
    public var options: [String: String] = [:]
    public var labels: [String: String] = [:]
    public init(name: String) { self.name = name }
}

extension NetworkService {
    /// `POST /networks/create`: validates everything first (a bad request makes nothing), then
    /// writes the record, creates the bridge and applies the firewall.
    public func create(_ o: NetworkCreateOptions) throws -> NetworkRecord {
        guard !o.name.isEmpty else { throw BerthError.invalid("network name must not be empty") }
        try Self.validate(name: o.name)
        switch o.driver {
        case "", "bridge": break
        case "host", "null":
            throw BerthError.permissionDenied("only one instance of \"\(o.driver == "null" ? "none" : "host")\" network is allowed")
        default:
            throw BerthError.notFound("could not find plugin \(o.driver) in v1 plugin registry: plugin not found")
        }
        if o.ipamDriver != "default" && !o.ipamDriver.isEmpty {
            throw BerthError.notFound("could not find plugin \(o.ipamDriver) in v1 plugin registry: plugin not found")
        }
        for key in o.options.keys.sorted() where !Self.knownOptions.contains(key) {
            throw BerthError.invalid("unknown network option \(key)")
        }
        if let icc = o.options["com.docker.network.bridge.enable_icc"], icc == "false" || icc == "0" {
            // Isolating ports of one bridge needs nftables' bridge family with `meta ibrname`,
            // which the kernels we run on lack; refuse rather than fail every firewall apply.
            throw BerthError.unsupported("com.docker.network.bridge.enable_icc=false is not supported yet")
        }
        var mtu = 1500
        if let m = o.options["com.docker.network.driver.mtu"] {
            guard let v = Int(m), (68...65535).contains(v) else { throw BerthError.invalid("invalid MTU \(m): it must be between 68 and 65535") }
            mtu = v
        }
        let taken = takenSubnets()
        var subnets: [NetworkSubnet] = []
        var subnets6: [NetworkSubnet] = []
        for c in o.ipam where (c.subnet ?? "").contains(":") {
            subnets6.append(try subnet6(c, enabled: o.enableIPv6, others: subnets6))
        }
        if o.enableIPv6 && subnets6.isEmpty { subnets6 = [Self.uniqueLocalSubnet()] }
        if subnets6.count > 1 { throw BerthError.unsupported("networks with more than one IPv6 subnet are not supported") }
        for c in o.ipam where !(c.subnet ?? "").contains(":") {
            guard let text = c.subnet, !text.isEmpty else {
                if c.ipRange != nil || c.gateway != nil {
                    throw BerthError.invalid("invalid pool request: an IP range or gateway needs a subnet")
                }
                continue
            }
            guard let net = IPv4.parseCIDR(text) else { throw BerthError.invalid("invalid CIDR address: \(text)") }
            guard net.prefix <= 30 else { throw BerthError.invalid("invalid subnet \(text): the prefix must be at most /30") }
            if taken.contains(where: { IPv4.overlaps($0, net) })
                || subnets.contains(where: { IPv4.overlaps(IPv4.parseCIDR($0.subnet)!, net) }) {
                throw BerthError.permissionDenied("invalid pool request: Pool overlaps with other one on this address space")
            }
            var gateway = net.base + 1
            if let g = c.gateway, !g.isEmpty {
                guard let gv = IPv4.parse(g) else { throw BerthError.invalid("invalid gateway address \(g)") }
                guard IPv4.contains(net, gv), gv != net.base, gv != net.base | ~IPv4.mask(net.prefix) else {
                    throw BerthError.invalid("no matching subnet for gateway \(g)")
                }
                gateway = gv
            }
            var range: String? = nil
            if let r = c.ipRange, !r.isEmpty {
                guard let rv = IPv4.parseCIDR(r) else { throw BerthError.invalid("invalid CIDR address: \(r)") }
                guard rv.prefix >= net.prefix, IPv4.contains(net, rv.base) else {
                    throw BerthError.invalid("no matching subnet for range \(r)")
                }
                range = IPv4.cidr(rv.base, rv.prefix)
            }
            subnets.append(NetworkSubnet(subnet: IPv4.cidr(net.base, net.prefix), gateway: IPv4.format(gateway), ipRange: range))
        }
        if subnets.count > 1 { throw BerthError.unsupported("networks with more than one IPv4 subnet are not supported") }
        if subnets.isEmpty {
            let p = try pickSubnet(taken: [])
            subnets = [NetworkSubnet(subnet: IPv4.cidr(p.base, p.prefix), gateway: IPv4.format(p.base + 1), ipRange: nil)]
        }
        let id = Self.randomID()
        let bridge = o.options["com.docker.network.bridge.name"] ?? "br-" + id.prefix(12)
        guard bridge.utf8.count <= 15, !bridge.isEmpty, !bridge.contains("/"), !bridge.contains(" ") else {
            throw BerthError.invalid("invalid bridge name \(bridge): at most 15 characters, no '/' or spaces")
        }
        if Links.exists(bridge) {
            throw BerthError.conflict("bridge name \(bridge) is in use by another interface on this host")
        }
        let record = NetworkRecord(id: id, name: o.name, driver: "bridge", created: WallClock.now().rfc3339Nano,
                                   subnets: subnets + subnets6, internal: o.internal, attachable: o.attachable,
                                   enableIPv6: !subnets6.isEmpty,
                                   options: o.options, labels: o.labels, bridge: bridge, mtu: mtu, builtin: false)
        try state.withLock { s in
            if s.records.values.contains(where: { $0.name == o.name }) {
                throw BerthError.conflict("network with name \(o.name) already exists")
            }
            if s.records.values.contains(where: { $0.bridge == bridge }) {
                throw BerthError.conflict("bridge name \(bridge) is already used by another network")
            }
            s.records[id] = record
        }
        do {
            try setUp(record)
            try save(record)
        } catch {
            try? tearDown(record)
            _ = state.withLock { $0.records.removeValue(forKey: id) }
            throw error
        }
        events.publish(type: "network", action: "create", actorID: id, attributes: ["name": o.name, "type": "bridge"])
        return record
    }

    /// One IPv6 IPAM config: the subnet (no overlap with another network's), its gateway
    /// (the first address unless given) and range.
    func subnet6(_ c: (subnet: String?, ipRange: String?, gateway: String?), enabled: Bool, others: [NetworkSubnet]) throws -> NetworkSubnet {
        let text = c.subnet ?? ""
        guard enabled else { throw BerthError.invalid("IPv6 subnet \(text) given without --ipv6 (EnableIPv6)") }
        guard let net = CIDR(text), net.family == .v6 else { throw BerthError.invalid("invalid CIDR address: \(text)") }
        guard net.prefixLength <= 124 else { throw BerthError.invalid("invalid subnet \(text): the prefix must be at most /124") }
        let existing = state.withLock { s in s.records.values.flatMap { $0.subnets.compactMap { CIDR($0.subnet) } } } + others.compactMap { CIDR($0.subnet) }
        if existing.contains(where: { $0.family == .v6 && $0.overlaps(net.masked) }) {
            throw BerthError.permissionDenied("invalid pool request: Pool overlaps with other one on this address space")
        }
        var gateway = net.masked.address(at: 1)!
        if let g = c.gateway, !g.isEmpty {
            guard let gv = IPAddress(g), gv.family == .v6, net.contains(gv) else { throw BerthError.invalid("no matching subnet for gateway \(g)") }
            gateway = gv
        }
        var range: String?
        if let r = c.ipRange, !r.isEmpty {
            guard let rv = CIDR(r), rv.family == .v6, net.contains(rv) else { throw BerthError.invalid("no matching subnet for range \(r)") }
            range = rv.masked.description
        }
        return NetworkSubnet(subnet: net.masked.description, gateway: gateway.description, ipRange: range)
    }

    /// A random unique-local /64 (fd00::/8 with 40 random bits and a zero subnet id), as
    /// Docker picks one when IPv6 is enabled without a subnet.
    static func uniqueLocalSubnet() -> NetworkSubnet {
        var g = SystemRandomNumberGenerator()
        let random: UInt64 = g.next()
        let global = UInt128(random & 0xFF_FFFF_FFFF)
        let base = (UInt128(0xFD) << 120) | (global << 80)
        let net = CIDR(address: .v6(IPv6Address(base)), prefixLength: 64)!
        return NetworkSubnet(subnet: net.description, gateway: net.address(at: 1)!.description, ipRange: nil)
    }

    static let knownOptions: Set<String> = [
        "com.docker.network.bridge.name", "com.docker.network.driver.mtu", "com.docker.network.bridge.enable_icc",
        "com.docker.network.bridge.enable_ip_masquerade", "com.docker.network.bridge.host_binding_ipv4",
        "com.docker.network.container_iface_prefix", "com.docker.network.bridge.default_bridge",
    ]

    /// Docker's rule for network names: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
    static func validate(name: String) throws {
        let ok = name.utf8.enumerated().allSatisfy { i, b in
            let alnum = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)
            return alnum || (i > 0 && (b == 0x5f || b == 0x2e || b == 0x2d))
        }
        guard ok else {
            throw BerthError.invalid("invalid network name \"\(name)\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        }
    }

    /// `DELETE /networks/{id}`: built-in networks and networks with containers stay.
    public func remove(_ ref: String) throws {
        let r = try get(ref)
        if r.builtin {
            throw BerthError.permissionDenied("\(r.name) is a pre-defined network and cannot be removed")
        }
        let users = endpoints(r.id)
        if !users.isEmpty {
            throw BerthError.permissionDenied("error while removing network: network \(r.name) id \(r.id) has active endpoints")
        }
        try FileSystem.removeTree("\(root)/\(r.id).json")
        state.withLock { s in
            s.records[r.id] = nil
            s.allocations[r.id] = nil
        }
        do { try tearDown(r) } catch {
            logger.warning("network teardown incomplete", metadata: ["network": "\(r.name)", "error": "\(error)"])
        }
        events.publish(type: "network", action: "destroy", actorID: r.id, attributes: ["name": r.name, "type": r.driver])
    }

    /// `POST /networks/prune`: user networks without containers that `keep` accepts.
    public func prune(matching keep: (NetworkRecord) -> Bool) -> [String] {
        var removed: [String] = []
        for r in list() where !r.builtin && keep(r) && endpoints(r.id).isEmpty {
            if (try? remove(r.id)) != nil { removed.append(r.name) }
        }
        return removed
    }
}
