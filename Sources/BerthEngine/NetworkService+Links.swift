#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthNetwork
import BerthSystem

extension NetworkService {
    /// Whether containers can be wired to bridge networks at start (veth pairs over netlink).
    var wiringAvailable: Bool { true }

    /// Makes a network's bridge (MTU, the gateway address, up, route_localnet), applies the
    /// firewall and, for a user-defined network, starts its DNS server on the gateway.
    /// Idempotent: what exists already is kept (berthd restarts find their bridges).
    func setUp(_ r: NetworkRecord) throws {
        guard r.driver == "bridge", let bridge = r.bridge, let sub = r.subnets.first,
              let cidr = CIDR(sub.subnet), let gateway = IPAddress(sub.gateway) else { return }
        try Links.ensureBridge(bridge, mtu: r.mtu, gateway: CIDR(address: gateway, prefixLength: cidr.prefixLength)!,
                               gateway6: r.subnet6.flatMap { s in
                                   CIDR(s.subnet).flatMap { c in IPAddress(s.gateway).flatMap { CIDR(address: $0, prefixLength: c.prefixLength) } }
                               })
        try Firewall.enableRouteLocalnet(bridge: bridge)
        try Firewall.ensureForwarding(ipv6: r.subnet6 != nil)
        try applyFirewall()
        if r.userDefined { startDNS(r) }
    }

    /// Removes a network's DNS server, bridge and rules.
    func tearDown(_ r: NetworkRecord) throws {
        stopDNS(r.id)
        if let bridge = r.bridge { try Links.delete([bridge]) }
        try applyFirewall()
    }

    /// What the firewall should hold now: every bridge network, every published port.
    func firewallState() -> FirewallState {
        state.withLock { s in
            let nets = s.records.values.compactMap { r -> FirewallNetwork? in
                guard r.driver == "bridge", let b = r.bridge, let sub = r.subnets.first else { return nil }
                return FirewallNetwork(bridge: b, subnet: sub.subnet, subnet6: r.subnet6?.subnet, internal: r.internal,
                                       masquerade: r.options["com.docker.network.bridge.enable_ip_masquerade"] != "false",
                                       icc: r.options["com.docker.network.bridge.enable_icc"] != "false")
            }
            return FirewallState(networks: nets, mappings: s.mappings.values.flatMap { $0 })
        }
    }

    /// Renders and applies Berth's table (a no-op when nothing changed).
    func applyFirewall() throws {
        try firewall.apply(firewallState())
    }

    /// At berthd start: re-reserves the addresses and ports of running containers, brings every
    /// bridge network up (the default bridge first; a host reboot loses them), then applies
    /// the firewall once. Failures are logged: a network that cannot be set up refuses its
    /// containers at start with the reason.
    func restore(running: [(id: String, endpoints: [ContainerEndpoint], ports: [PublishedPort])]) {
        for c in running {
            var mappings: [PortMapping] = []
            for e in c.endpoints where !e.ipv4.isEmpty { reserve(e.networkID, e.ipv4) }
            for e in c.endpoints { if let v6 = e.ipv6 { reserve6(e.networkID, v6) } }
            if let primary = c.endpoints.first(where: { !$0.ipv4.isEmpty }), let bridge = try? get(primary.networkID).bridge {
                for p in c.ports {
                    let (port, proto) = Self.splitPort(p.containerPort)
                    guard let port else { continue }
                    let m = PortMapping(proto: proto, hostIP: p.hostIP, hostPort: UInt16(p.hostPort), containerIP: primary.ipv4,
                                        containerPort: port, bridge: bridge)
                    do { _ = try ports.reserve(proto: proto, hostIP: p.hostIP, hostPort: UInt16(p.hostPort)) } catch {
                        logger.warning("published port taken while berthd was down", metadata: ["container": "\(c.id)", "error": "\(error)"])
                    }
                    mappings.append(m)
                }
            }
            if !mappings.isEmpty { state.withLock { $0.mappings[c.id] = mappings } }
        }
        for r in list().sorted(by: { a, _ in a.builtin }) where r.driver == "bridge" {
            do { try setUp(r) } catch {
                logger.error("cannot set up network", metadata: ["network": "\(r.name)", "error": "\(error)"])
            }
        }
    }

    /// `80/tcp` → (80, tcp).
    static func splitPort(_ text: String) -> (UInt16?, PortMapping.Proto) {
        let parts = text.split(separator: "/", maxSplits: 1)
        let proto: PortMapping.Proto = parts.count > 1 && parts[1] == "udp" ? .udp : .tcp
        return (parts.first.flatMap { UInt16($0) }, proto)
    }

    // MARK: DNS

    /// Starts the embedded DNS server of a user network on its gateway, port 53.
    func startDNS(_ r: NetworkRecord) {
        guard let gateway = r.subnets.first?.gateway, dns.withLock({ $0[r.id] == nil }) else { return }
        let upstreams = ((try? HostResolvers.load()) ?? HostResolvers()).upstreams()
        let networkID = r.id, networkName = r.name
        let resolver = ClosureDNSResolver(
            addresses: { [weak self] name, client in self?.resolve(name, network: networkID, networkName: networkName, client: client) },
            name: { [weak self] address, _ in self?.reverse(address, network: networkID, networkName: networkName) })
        let server = DNSServer(resolver: resolver, upstreams: upstreams, logger: logger)
        dns.withLock { $0[r.id] = server }
        let logger = self.logger
        Task {
            do { _ = try await server.start(address: gateway, port: 53) } catch {
                logger.error("embedded DNS server did not start", metadata: ["network": "\(networkName)", "error": "\(error)"])
            }
        }
    }

    func stopDNS(_ networkID: String) {
        guard let server = dns.withLock({ $0.removeValue(forKey: networkID) }) else { return }
        Task { await server.stop() }
    }

    /// A name on a network: a running member's name, short or full id, network alias, hostname
    /// (each also as `NAME.NETWORK`), or a link alias of the asking container. nil: not ours.
    func resolve(_ name: String, network: String, networkName: String, client: IPAddress?) -> [IPAddress]? {
        var key = name
        let suffix = "." + networkName.lowercased()
        if key.hasSuffix(suffix) { key.removeLast(suffix.count) }
        var members = endpoints(network).filter { $0.running && !$0.endpoint.ipv4.isEmpty }
        let asking = client.flatMap { c in members.first { IPAddress($0.endpoint.ipv4) == c || $0.endpoint.ipv6.flatMap { IPAddress($0) } == c } }
        if let asking {
            // As Docker's per-container resolver: the names of every user network the asking
            // container is on, whichever network the query came in on.
            for r in list() where r.userDefined && r.id != network {
                let there = endpoints(r.id).filter { $0.running && !$0.endpoint.ipv4.isEmpty }
                if there.contains(where: { $0.id == asking.id }) { members += there.filter { $0.id != asking.id } }
            }
        }
        var found: [IPAddress] = []
        for m in members {
            let names = [m.name.lowercased(), String(m.id.prefix(12))] + m.endpoint.aliases.map { $0.lowercased() }
            if names.contains(key) || (key.count >= 12 && m.id.hasPrefix(key)), let a = IPAddress(m.endpoint.ipv4) {
                found.append(a)
                if let v6 = m.endpoint.ipv6.flatMap({ IPAddress($0) }) { found.append(v6) }
            }
        }
        if let asking {
            for link in asking.endpoint.links {
                let parts = link.split(separator: ":", maxSplits: 1).map { $0.lowercased() }
                let target = parts[0].hasPrefix("/") ? String(parts[0].dropFirst()) : parts[0]
                let alias = parts.count > 1 ? parts[1] : target
                if alias == key, let t = members.first(where: { $0.name.lowercased() == target }), let a = IPAddress(t.endpoint.ipv4) {
                    found.append(a)
                }
            }
        }
        return found.isEmpty ? nil : found
    }

    /// The PTR name of a member's address: `NAME.NETWORK`.
    func reverse(_ address: IPAddress, network: String, networkName: String) -> String? {
        endpoints(network).first { $0.running && (IPAddress($0.endpoint.ipv4) == address || $0.endpoint.ipv6.flatMap { IPAddress($0) } == address) }.map { "\($0.name).\(networkName)" }
    }
}
