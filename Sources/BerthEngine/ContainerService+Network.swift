#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthNetwork
import BerthOCI
import BerthSystem

extension ContainerService {
    // MARK: create

    /// The networks a new container joins: `NetworkMode` (default → the default bridge) and
    /// every network in `EndpointsConfig`, with their `--ip`, `--alias` and `--link` settings.
    /// `none`, `host` and `container:…` join none.
    func resolveEndpoints(_ host: inout HostConfig, _ networking: NetworkingConfig?) throws -> [String: ContainerEndpoint] {
        let mode = host.NetworkMode ?? "default"
        if mode == "none" || mode == "host" || mode.hasPrefix("container:") {
            if let extra = networking?.EndpointsConfig?.keys.first(where: { $0 != mode }) {
                throw BerthError.invalid("container cannot be connected to network \"\(extra)\" in network mode \(mode)")
            }
            if !(host.Links ?? []).isEmpty { throw BerthError.invalid("conflicting options: host type networking can't be used with links. This would result in undefined behavior") }
            return [:]
        }
        if (mode == "default" || mode == "bridge") && networks.defaultBridge == nil {
            // berthd --bridge none: the default mode is a private namespace with only lo.
            if mode == "bridge" { throw BerthError.invalid("network bridge not found") }
            return [:]
        }
        let primary = mode == "default" ? "bridge" : mode
        var asked = networking?.EndpointsConfig ?? [:]
        // The docker CLI sends an empty endpoint keyed "default" for the default network.
        if let d = asked.removeValue(forKey: "default"), asked[primary] == nil { asked[primary] = d }
        if asked[primary] == nil {
            // The docker CLI keys the endpoint by the name as typed; match an id or prefix too.
            if let key = asked.keys.first(where: { (try? networks.get($0).name) == (try? networks.get(primary).name) }) {
                asked[primary] = asked.removeValue(forKey: key)
            } else {
                asked[primary] = EndpointSettings()
            }
        }
        var out: [String: ContainerEndpoint] = [:]
        for (ref, settings) in asked {
            let net: NetworkRecord
            do { net = try networks.get(ref) } catch let e as BerthError where e.code == .notFound {
                // 404 would make the docker CLI try to pull the image.
                throw BerthError.invalid(e.message)
            }
            guard net.driver == "bridge" else {
                throw BerthError.invalid("container cannot be connected to network \(net.name) together with other networks")
            }
            if out[net.name] != nil { continue }
            out[net.name] = try endpoint(on: net, settings, links: net.name == primary ? host.Links ?? [] : [])
        }
        if primary != "bridge" || networks.defaultBridge == nil {
            // A user network as NetworkMode is kept by name (Docker shows the name).
            host.NetworkMode = (try? networks.get(primary).name) ?? primary
        }
        return out
    }

    /// An endpoint request without addresses, aliases, links or MAC (the docker CLI sends one
    /// with empty strings and zeros for the default network).
    static func asksNothing(_ s: EndpointSettings) -> Bool {
        (s.IPAMConfig?.IPv4Address ?? "").isEmpty && (s.IPAMConfig?.IPv6Address ?? "").isEmpty
            && (s.Aliases ?? []).isEmpty && (s.Links ?? []).isEmpty && (s.MacAddress ?? "").isEmpty
    }

    /// Validates one endpoint request.
    func endpoint(on net: NetworkRecord, _ s: EndpointSettings, links: [String]) throws -> ContainerEndpoint {
        var e = ContainerEndpoint(networkID: net.id)
        if let v4 = s.IPAMConfig?.IPv4Address, !v4.isEmpty {
            guard IPv4.parse(v4) != nil else { throw BerthError.invalid("invalid IPv4 address: \(v4)") }
            if net.builtin { throw BerthError.invalid("user specified IP address is supported on user defined networks only") }
            guard let sub = net.subnets.first.flatMap({ IPv4.parseCIDR($0.subnet) }), IPv4.contains(sub, IPv4.parse(v4)!) else {
                throw BerthError.invalid("no configured subnet or ip-range contain the IP address \(v4)")
            }
            e.requestedIPv4 = v4
        }
        if let v6 = s.IPAMConfig?.IPv6Address, !v6.isEmpty {
            guard let a = IPAddress(v6), a.family == .v6 else { throw BerthError.invalid("invalid IPv6 address: \(v6)") }
            if net.builtin { throw BerthError.invalid("user specified IP address is supported on user defined networks only") }
            guard let sub = net.subnet6, let cidr = CIDR(sub.subnet), cidr.contains(a) else {
                throw BerthError.invalid("no configured subnet or ip-range contain the IP address \(v6)")
            }
            e.requestedIPv6 = v6
        }
        if let mac = s.MacAddress, !mac.isEmpty {
            let parts = mac.split(separator: ":")
            guard parts.count == 6, parts.allSatisfy({ $0.count == 2 && UInt8($0, radix: 16) != nil }) else {
                throw BerthError.invalid("invalid MAC address: \(mac)")
            }
            e.requestedMAC = mac.lowercased()
        }
        let aliases = s.Aliases ?? []
        if !aliases.isEmpty && net.builtin {
            throw BerthError.invalid("network-scoped alias is supported only for containers in user defined networks")
        }
        e.aliases = aliases
        var ls = s.Links ?? []
        for l in links where !ls.contains(l) { ls.append(l) }
        for l in ls {
            let parts = l.split(separator: ":", maxSplits: 1).map(String.init)
            guard !parts[0].isEmpty else { throw BerthError.invalid("invalid link: \(l)") }
            do { _ = try get(parts[0]) } catch let err as BerthError where err.code == .notFound {
                throw BerthError.invalid("could not get container for \(parts[0])")
            }
        }
        e.links = ls
        return e
    }

    // MARK: queries for the network service

    /// Containers with an endpoint on a network (for inspect, removal checks and DNS).
    public func networkMembers(_ networkID: String) -> [(id: String, name: String, endpoint: ContainerEndpoint, running: Bool)] {
        table.withLock { t in
            t.entries.values.compactMap { e in
                guard let ep = e.container.endpoints?.values.first(where: { $0.networkID == networkID }) else { return nil }
                return (e.container.id, e.container.name, ep, e.container.state.isRunning)
            }
        }
    }
}

extension ContainerService {
    /// `POST /networks/{id}/connect`: a created or stopped container gets the endpoint for its
    /// next start; a running one is wired at once.
    public func connect(_ ref: String, network networkID: String, endpoint settings: EndpointSettings) async throws {
        let c = try get(ref)
        let net = try networks.get(networkID)
        let mode = c.hostConfig.NetworkMode ?? "default"
        if mode == "none" || mode == "host" || mode.hasPrefix("container:") {
            throw BerthError.permissionDenied("container sharing network namespace with another container or host cannot be connected to any other network")
        }
        if c.endpoints?[net.name] != nil {
            throw BerthError.permissionDenied("endpoint with name \(c.name) already exists in network \(net.name)")
        }
        var e = try endpoint(on: net, settings, links: [])
        if c.state.isRunning {
            e = try connectRunning(c, net, e)
        }
        _ = update(c.id) { entry in
            var eps = entry.container.endpoints ?? [:]
            eps[net.name] = e
            entry.container.endpoints = eps
        }
        networks.events.publish(type: "network", action: "connect", actorID: net.id, attributes: ["container": c.id, "name": net.name, "type": net.driver])
    }

    /// `POST /networks/{id}/disconnect`.
    public func disconnect(_ ref: String, network networkID: String, force: Bool) async throws {
        let c = try get(ref)
        let net = try networks.get(networkID)
        guard c.endpoints?[net.name] != nil else {
            throw BerthError.permissionDenied("container \(c.id) is not connected to network \(net.name)")
        }
        if c.state.isRunning, let e = c.endpoints?[net.name] {
            if !e.hostVeth.isEmpty { try? Links.delete([e.hostVeth]) }
            if !e.ipv4.isEmpty { networks.release(e.networkID, e.ipv4) }
            if let v6 = e.ipv6 { networks.release6(e.networkID, v6) }
        }
        _ = update(c.id) { entry in entry.container.endpoints?[net.name] = nil }
        networks.events.publish(type: "network", action: "disconnect", actorID: net.id, attributes: ["container": c.id, "name": net.name, "type": net.driver])
    }
}

extension ContainerService {
    /// Wires a running container to one more network: an address, a veth pair whose container
    /// end is the next free `ethN`, no default route (the first network keeps it).
    func connectRunning(_ c: Container, _ net: NetworkRecord, _ asked: ContainerEndpoint) throws -> ContainerEndpoint {
        var e = asked
        let got = try networks.allocate(net.id, requested: e.requestedIPv4)
        let used = Set((c.endpoints ?? [:]).values.map(\.interface))
        e.ipv4 = got.address
        e.prefixLength = got.prefix
        e.gateway = got.gateway
        e.mac = e.requestedMAC ?? macAddress(for: got.address)
        e.interface = (0...).lazy.map { "eth\($0)" }.first { !used.contains($0) }!
        e.hostVeth = "veth" + String(NetworkService.randomID().prefix(7))
        e.endpointID = NetworkService.randomID()
        do {
            if let v6 = try networks.allocate6(net.id, requested: e.requestedIPv6) {
                (e.ipv6, e.prefixLength6, e.gateway6) = (v6.address, v6.prefix, v6.gateway)
            }
            try Links.plug([try plan(e, on: net, defaultRoute: false)], intoNetworkNamespaceOf: c.state.pid)
        } catch {
            networks.release(net.id, got.address)
            if let v6 = e.ipv6 { networks.release6(net.id, v6) }
            throw error
        }
        return e
    }
}
