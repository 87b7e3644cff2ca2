#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthNetwork
import BerthOCI
import BerthSystem

/// Wiring a starting container to its bridge networks: addresses and host ports are taken
/// before `berth-init create` (so /etc/hosts and resolv.conf carry them), veth pairs are made
/// once the container's network namespace exists (peer created straight inside it, named
/// `eth0`, `eth1`, … in endpoint order), and everything is given back when it exits.
extension ContainerService {
    /// The container's endpoints, the primary network (its NetworkMode) first, then by name.
    public func orderedEndpoints(_ c: Container) -> [(name: String, endpoint: ContainerEndpoint)] {
        let primary = c.networkMode
        return (c.endpoints ?? [:]).sorted { a, b in
            a.key == primary ? b.key != primary : (b.key == primary ? false : a.key < b.key)
        }.map { ($0.key, $0.value) }
    }

    /// Before `berth-init create`: allocates an address on every network, reserves published
    /// host ports, writes /etc/hosts and /etc/resolv.conf, and records what it took. On
    /// failure everything taken is given back.
    func prepareNetwork(_ c: Container) throws -> Container {
        let ordered = orderedEndpoints(c)
        guard !ordered.isEmpty else { return c }
        var endpoints: [String: ContainerEndpoint] = [:]
        var published: [PublishedPort] = []
        var mappings: [PortMapping] = []
        var primaryNetwork: NetworkRecord?
        do {
            for (i, (name, var e)) in ordered.enumerated() {
                let net = try networks.get(e.networkID)
                let got = try networks.allocate(net.id, requested: e.requestedIPv4)
                e.ipv4 = got.address
                e.prefixLength = got.prefix
                e.gateway = got.gateway
                e.mac = e.requestedMAC ?? macAddress(for: got.address)
                e.interface = "eth\(i)"
                e.hostVeth = "veth" + String(NetworkService.randomID().prefix(7))
                e.endpointID = NetworkService.randomID()
                endpoints[name] = e
                if let v6 = try networks.allocate6(net.id, requested: e.requestedIPv6) {
                    (e.ipv6, e.prefixLength6, e.gateway6) = (v6.address, v6.prefix, v6.gateway)
                    endpoints[name] = e
                }
                if i == 0 { primaryNetwork = net }
            }
            if let net = primaryNetwork, let bridge = net.bridge, let primary = endpoints[ordered[0].name] {
                for (key, binding) in publishedBindings(c) {
                    let (port, proto) = NetworkService.splitPort(key)
                    guard let port else { throw BerthError.invalid("invalid port specification: \(key)") }
                    let hostIP = binding.HostIp ?? ""
                    let hostPort = try reservePort(proto: proto, hostIP: hostIP, spec: binding.HostPort ?? "")
                    published.append(PublishedPort(containerPort: "\(port)/\(proto.rawValue)",
                                                   hostIP: hostIP.isEmpty ? "0.0.0.0" : hostIP, hostPort: Int(hostPort)))
                    mappings.append(PortMapping(proto: proto, hostIP: hostIP, hostPort: hostPort, containerIP: primary.ipv4,
                                                containerPort: port, bridge: bridge))
                }
            }
        } catch {
            for e in endpoints.values {
                networks.release(e.networkID, e.ipv4)
                if let v6 = e.ipv6 { networks.release6(e.networkID, v6) }
            }
            networks.ports.release(mappings)
            throw error
        }
        var updated = c
        updated.endpoints = endpoints
        updated.ports = published
        networks.state.withLock { $0.mappings[c.id] = mappings.isEmpty ? nil : mappings }

        // /etc/hosts: its own address with the hostname, and legacy links on the default bridge.
        var entries: [(String, String)] = []
        if let primary = endpoints[ordered[0].name] {
            entries.append((primary.ipv4, ContainerSpecBuilder.hostname(c)))
            if let v6 = primary.ipv6 { entries.append((v6, ContainerSpecBuilder.hostname(c))) }
            if primaryNetwork?.builtin == true {
                for link in primary.links {
                    let parts = link.split(separator: ":", maxSplits: 1).map(String.init)
                    let target = parts[0].hasPrefix("/") ? String(parts[0].dropFirst()) : parts[0]
                    guard let t = try? get(target), let ip = t.endpoints?.values.first(where: { $0.networkID == primary.networkID })?.ipv4,
                          !ip.isEmpty else { continue }
                    let alias = parts.count > 1 ? parts[1] : target
                    entries.append((ip, alias == target ? "\(alias) \(t.shortID)" : "\(alias) \(t.shortID) \(target)"))
                }
            }
        }
        let dir = directory(c.id)
        try FileSystem.writeAtomically("\(dir)/hosts", Array(try hostsFile(c, entries: entries).utf8), durable: false)
        let dns = primaryNetwork.flatMap { $0.userDefined ? endpoints[ordered[0].name]?.gateway : nil }
        try FileSystem.writeAtomically("\(dir)/resolv.conf", Array(ResolvConf.make(for: c.hostConfig, embeddedDNS: dns).utf8),
                                       durable: false)
        return updated
    }

    /// Port bindings to publish: `PortBindings`, plus every `ExposedPorts` entry on an
    /// ephemeral port with `-P`.
    func publishedBindings(_ c: Container) -> [(String, PortBinding)] {
        var out: [(String, PortBinding)] = []
        var seen = Set<String>()
        for (key, list) in (c.hostConfig.PortBindings ?? [:]).sorted(by: { $0.key < $1.key }) {
            let k = key.contains("/") ? key : key + "/tcp"
            seen.insert(k)
            let bindings = (list ?? []).isEmpty ? [PortBinding()] : list!
            for b in bindings { out.append((k, b)) }
        }
        if c.hostConfig.PublishAllPorts == true {
            for key in (c.config.ExposedPorts ?? [:]).keys.sorted() {
                let k = key.contains("/") ? key : key + "/tcp"
                if seen.insert(k).inserted { out.append((k, PortBinding())) }
            }
        }
        return out
    }

    /// Reserves a host port: `8080`, a range `8000-8010` (the first free one), or empty for an
    /// ephemeral port.
    func reservePort(proto: PortMapping.Proto, hostIP: String, spec: String) throws -> UInt16 {
        if spec.isEmpty { return try networks.ports.reserve(proto: proto, hostIP: hostIP, hostPort: 0) }
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard let lo = UInt16(parts[0]), lo > 0 else { throw BerthError.invalid("invalid host port: \(spec)") }
        let hi = parts.count > 1 ? UInt16(parts[1]) : lo
        guard let hi, hi >= lo else { throw BerthError.invalid("invalid host port range: \(spec)") }
        var last: Error?
        for p in lo...hi {
            do { return try networks.ports.reserve(proto: proto, hostIP: hostIP, hostPort: p) } catch { last = error }
        }
        throw last!
    }

    /// After `berth-init create`: a veth pair per endpoint, the host end in the network's
    /// bridge, the container end configured from inside its namespace (MAC, address, MTU, up,
    /// the default route through the first network that is not internal). Then the firewall
    /// learns its published ports.
    func wireNetwork(_ c: Container, pid: Int32) throws {
        var routed = false
        var plans: [VethPlan] = []
        for (_, e) in orderedEndpoints(c) {
            let net = try networks.get(e.networkID)
            plans.append(try plan(e, on: net, defaultRoute: !routed && !net.internal))
            if !net.internal { routed = true }
        }
        try Links.plug(plans, intoNetworkNamespaceOf: pid)
        try networks.applyFirewall()
    }

    /// What BerthNetwork makes for one endpoint.
    func plan(_ e: ContainerEndpoint, on net: NetworkRecord, defaultRoute: Bool) throws -> VethPlan {
        guard let bridge = net.bridge, let gateway = IPAddress(e.gateway), let address = IPAddress(e.ipv4) else {
            throw BerthError.invalid("network \(net.name) has no bridge")
        }
        return VethPlan(hostVeth: e.hostVeth, name: e.interface, bridge: bridge, mtu: net.mtu, mac: e.mac, ipv4: address,
                        prefixLength: e.prefixLength, gateway: gateway, ipv6: e.ipv6.flatMap { IPAddress($0) },
                        prefixLength6: e.prefixLength6, gateway6: e.gateway6.flatMap { IPAddress($0) }, defaultRoute: defaultRoute)
    }

    /// Gives back what `prepareNetwork` took (the container exited or failed to start): host
    /// ports, firewall mappings, addresses; host veth ends that outlived the namespace are
    /// deleted. The record keeps the endpoints' settings without the runtime values.
    func unwireNetwork(_ id: String) {
        guard let c = try? get(id), let endpoints = c.endpoints, !endpoints.isEmpty else { return }
        let mappings = networks.state.withLock { $0.mappings.removeValue(forKey: id) } ?? []
        networks.ports.release(mappings)
        try? Links.delete(endpoints.values.map(\.hostVeth).filter { !$0.isEmpty })
        for e in endpoints.values where !e.ipv4.isEmpty { networks.release(e.networkID, e.ipv4) }
        for e in endpoints.values { if let v6 = e.ipv6 { networks.release6(e.networkID, v6) } }
        _ = update(id) { entry in
            for (name, var e) in entry.container.endpoints ?? [:] {
                e.ipv4 = ""; e.prefixLength = 0; e.gateway = ""; e.hostVeth = ""; e.interface = ""; e.endpointID = ""
                e.ipv6 = nil; e.prefixLength6 = nil; e.gateway6 = nil
                if e.requestedMAC == nil { e.mac = "" }
                entry.container.endpoints?[name] = e
            }
            entry.container.ports = nil
        }
        if !mappings.isEmpty {
            do { try networks.applyFirewall() } catch {
                logger.error("cannot remove published ports from the firewall", metadata: ["id": "\(id)", "error": "\(error)"])
            }
        }
    }

    /// Running containers' endpoints and ports, for berthd's start (`NetworkService.restore`).
    func runningEndpoints() -> [(id: String, endpoints: [ContainerEndpoint], ports: [PublishedPort])] {
        let running = table.withLock { t in t.entries.values.map(\.container).filter { $0.state.isRunning } }
        return running.map { c in (c.id, orderedEndpoints(c).map(\.endpoint), c.ports ?? []) }
    }
}
