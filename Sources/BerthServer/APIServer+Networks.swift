import BerthAPI
import BerthCore
import BerthEngine
import BerthHTTP
import BerthOCI
import BerthSystem

extension APIServer {
    /// `/networks/…` routes.
    func networks(_ ctx: RequestContext, segments: [String]) async throws -> HTTPResponse? {
        let m = ctx.request.method
        switch (m, segments.count) {
        case ("GET", 0): return try listNetworks(ctx)
        case ("POST", 1) where segments[0] == "create": return try await createNetwork(ctx)
        case ("POST", 1) where segments[0] == "prune": return try pruneNetworks(ctx)
        case ("GET", 1): return APIServer.json(resource(try engine.networks.get(segments[0]), containers: true))
        case ("DELETE", 1):
            try engine.networks.remove(segments[0])
            return .bytes(status: 204, headers: [], body: [])
        case ("POST", 2) where segments[1] == "connect":
            let req: NetworkConnectRequest = try await decodeBody(ctx)
            let net = try engine.networks.get(segments[0])
            try await engine.containers.connect(req.Container, network: net.id, endpoint: req.EndpointConfig ?? EndpointSettings())
            return .bytes(status: 200, headers: [], body: [])
        case ("POST", 2) where segments[1] == "disconnect":
            let req: NetworkDisconnectRequest = try await decodeBody(ctx)
            let net = try engine.networks.get(segments[0])
            try await engine.containers.disconnect(req.Container, network: net.id, force: req.Force ?? false)
            return .bytes(status: 200, headers: [], body: [])
        default: return nil
        }
    }

    func decodeBody<T: Decodable>(_ ctx: RequestContext) async throws -> T {
        let body = try await ctx.request.body.collect(upTo: 1 << 20)
        guard !body.isEmpty else { throw BerthError.invalid("invalid JSON: request body is empty") }
        do { return try BerthJSONDecoder().decode(T.self, from: body) } catch let e as BerthError {
            throw BerthError.invalid("invalid JSON: \(e.message)")
        } catch {
            throw BerthError.invalid("invalid JSON: \(error)")
        }
    }

    func resource(_ r: NetworkRecord, containers: Bool) -> NetworkResource {
        var members: [String: NetworkContainer] = [:]
        if containers {
            for m in engine.networks.endpoints(r.id) where m.running && !m.endpoint.ipv4.isEmpty {
                members[m.id] = NetworkContainer(Name: m.name, EndpointID: m.endpoint.endpointID, MacAddress: m.endpoint.mac,
                                                 IPv4Address: "\(m.endpoint.ipv4)/\(m.endpoint.prefixLength)",
                                                 IPv6Address: m.endpoint.ipv6.map { "\($0)/\(m.endpoint.prefixLength6 ?? 64)" } ?? "")
            }
        }
        let ipam = NetworkIPAM(Driver: "default", Config: r.subnets.map {
            NetworkIPAM.Config(Subnet: $0.subnet, IPRange: $0.ipRange, Gateway: $0.gateway)
        }, Options: nil)
        return NetworkResource(Name: r.name, Id: r.id, Created: r.created, Driver: r.driver, EnableIPv6: r.enableIPv6,
                               IPAM: ipam, Internal: r.internal, Attachable: r.attachable, Containers: members,
                               Options: r.options, Labels: r.labels)
    }

    /// `GET /networks`: filters driver, id, label, name, scope, type (custom/builtin), dangling.
    func listNetworks(_ ctx: RequestContext) throws -> HTTPResponse {
        let f = try ctx.filters()
        try f.validate(["driver", "id", "label", "name", "scope", "type", "dangling"])
        for t in f["type"] where t != "custom" && t != "builtin" {
            throw BerthError.invalid("invalid filter: 'type'='\(t)'")
        }
        let dangling = try f.bool("dangling")
        let nets = engine.networks.list().filter { r in
            if f.contains("driver"), !f["driver"].contains(r.driver) { return false }
            if f.contains("id"), !f["id"].contains(where: { r.id.hasPrefix($0) }) { return false }
            if f.contains("name"), !f["name"].contains(where: { r.name.contains($0) }) { return false }
            if f.contains("scope"), !f["scope"].contains("local") { return false }
            if f.contains("type"), !f["type"].contains(r.builtin ? "builtin" : "custom") { return false }
            if let d = dangling, (engine.networks.endpoints(r.id).isEmpty && !r.builtin) != d { return false }
            return f.matchLabels(r.labels)
        }
        return APIServer.json(nets.map { resource($0, containers: false) })
    }

    /// `POST /networks/create`.
    func createNetwork(_ ctx: RequestContext) async throws -> HTTPResponse {
        let req: NetworkCreateRequest = try await decodeBody(ctx)
        var o = NetworkCreateOptions(name: req.Name)
        o.driver = req.Driver ?? "bridge"
        o.internal = req.Internal ?? false
        o.attachable = req.Attachable ?? false
        o.enableIPv6 = req.EnableIPv6 ?? false
        o.options = req.Options ?? [:]
        o.labels = req.Labels ?? [:]
        o.ipamDriver = req.IPAM?.Driver ?? "default"
        o.ipam = (req.IPAM?.Config ?? []).map { ($0.Subnet, $0.IPRange, $0.Gateway) }
        if req.ConfigOnly ?? false { throw BerthError.unsupported("config-only networks are not supported") }
        if let s = req.Scope, !s.isEmpty, s != "local" { throw BerthError.invalid("scope \(s) is not supported: only local") }
        let r = try engine.networks.create(o)
        return APIServer.json(NetworkCreateResponse(Id: r.id), status: 201)
    }

    /// `POST /networks/prune`: filters until, label, label!.
    func pruneNetworks(_ ctx: RequestContext) throws -> HTTPResponse {
        let f = try ctx.filters()
        try f.validate(["until", "label", "label!"])
        let now = WallClock.now().seconds * 1_000_000_000
        let until = try f["until"].first.map { try APIServer.timestamp($0, now: now, what: "until") }
        let removed = engine.networks.prune { r in
            if let until, let created = WallClock(rfc3339: r.created),
               created.seconds * 1_000_000_000 + Int64(created.nanoseconds) > until { return false }
            guard f.matchLabels(r.labels) else { return false }
            for l in f["label!"] {
                let parts = l.split(separator: "=", maxSplits: 1).map(String.init)
                if let v = r.labels[parts[0]], parts.count == 1 || v == parts[1] { return false }
            }
            return true
        }
        return APIServer.json(NetworkPruneResponse(NetworksDeleted: removed))
    }
}
