import BerthAPI
import BerthCore
import BerthEngine
import BerthHTTP

extension APIServer {
    /// `/volumes/…` routes.
    func volumes(_ ctx: RequestContext, segments: [String]) async throws -> HTTPResponse? {
        let m = ctx.request.method
        switch (m, segments.count, segments.first ?? "") {
        case ("GET", 0, _): return try listVolumes(ctx)
        case ("POST", 1, "create"): return try await createVolume(ctx)
        case ("POST", 1, "prune"): return try pruneVolumes(ctx)
        case ("GET", 1, let name): return APIServer.json(wire(try engine.volumes.get(name)))
        case ("DELETE", 1, let name):
            try engine.volumes.remove(name, force: ctx.bool("force"))
            return .bytes(status: 204, headers: [], body: [])
        case ("PUT", 1, _):
            throw BerthError.unsupported("volume update is only supported for cluster volumes, and this node is not part of a swarm")
        default: return nil
        }
    }

    func wire(_ v: VolumeInfo, usage: Volume.UsageData? = nil) -> Volume {
        Volume(Name: v.name, Driver: v.driver, Mountpoint: v.mountpoint, CreatedAt: v.createdAt, Labels: v.labels,
               Options: v.options.isEmpty ? nil : v.options, UsageData: usage)
    }

    /// `GET /volumes`: filters `dangling`, `name` (substring), `label`, `driver`.
    func listVolumes(_ ctx: RequestContext) throws -> HTTPResponse {
        let f = try ctx.filters()
        try f.validate(["dangling", "name", "label", "driver"])
        let dangling = try f.bool("dangling")
        let vols = engine.volumes.list().filter { v in
            if let d = dangling, engine.volumes.references(v.name).isEmpty != d { return false }
            if f.contains("name"), !f["name"].contains(where: { v.name.contains($0) }) { return false }
            if f.contains("driver"), !f["driver"].contains(v.driver) { return false }
            return f.matchLabels(v.labels)
        }
        return APIServer.json(VolumeListResponse(Volumes: vols.map { wire($0) }, Warnings: []))
    }

    /// `POST /volumes/create`.
    func createVolume(_ ctx: RequestContext) async throws -> HTTPResponse {
        let body = try await ctx.request.body.collect(upTo: 1 << 20)
        let req: VolumeCreateRequest
        if body.isEmpty { req = VolumeCreateRequest() } else {
            do { req = try BerthJSONDecoder().decode(VolumeCreateRequest.self, from: body) } catch let e as BerthError {
                throw BerthError.invalid("invalid JSON: \(e.message)")
            } catch {
                throw BerthError.invalid("invalid JSON: \(error)")
            }
        }
        let v = try engine.volumes.create(name: req.Name, driver: req.Driver, options: req.DriverOpts ?? [:],
                                          labels: req.Labels ?? [:])
        return APIServer.json(wire(v), status: 201)
    }

    /// `POST /volumes/prune`: unused anonymous volumes, or every unused one with `all=true`;
    /// `label` and `label!` filters.
    func pruneVolumes(_ ctx: RequestContext) throws -> HTTPResponse {
        let f = try ctx.filters()
        try f.validate(["label", "label!", "all"])
        let all = try f.bool("all") ?? false
        let (names, bytes) = engine.volumes.prune(all: all) { v in
            guard f.matchLabels(v.labels) else { return false }
            for l in f["label!"] {
                let parts = l.split(separator: "=", maxSplits: 1).map(String.init)
                if let value = v.labels[parts[0]], parts.count == 1 || value == parts[1] { return false }
            }
            return true
        }
        return APIServer.json(VolumePruneResponse(VolumesDeleted: names, SpaceReclaimed: bytes))
    }

    /// The volumes part of `/system/df`: every volume with its size and reference count.
    func volumeUsage() -> [Volume] {
        engine.volumes.list().map { v in
            wire(v, usage: .init(Size: engine.volumes.size(v.name), RefCount: Int64(engine.volumes.references(v.name).count)))
        }
    }
}
