import BerthAPI
import BerthCore
import BerthEngine
import BerthHTTP
import BerthImage
import BerthOCI
import BerthSystem

extension APIServer {
    /// `/images/…` routes. Image names may contain `/`, so the name is everything between
    /// `images/` and the action suffix, as Docker's router does.
    func images(_ ctx: RequestContext, segments: [String]) async throws -> HTTPResponse? {
        let m = ctx.request.method
        guard let first = segments.first else { return nil }
        if segments.count == 1 {
            switch (m, first) {
            case ("GET", "json"): return try listImages(ctx)
            case ("POST", "load"): return try await loadImages(ctx)
            case ("GET", "get"): return try saveImages(ctx, names: ctx.queryAll("names"))
            case ("POST", "create"): return try await createImage(ctx)
            case ("POST", "prune"): return try pruneImages(ctx)
            case ("GET", "search"): throw BerthError.unsupported("image search needs a registry: not available offline")
            default: break
            }
        }
        if m == "DELETE" {
            let name = segments.joined(separator: "/")
            guard !name.isEmpty else { return nil }
            return try removeImage(ctx, name: name)
        }
        guard segments.count >= 2, let action = segments.last else { return nil }
        let name = segments.dropLast().joined(separator: "/")
        switch (m, action) {
        case ("GET", "json"): return try inspectImage(ctx, name: name)
        case ("GET", "history"): return try history(ctx, name: name)
        case ("POST", "tag"): return try tagImage(ctx, name: name)
        case ("GET", "get"): return try saveImages(ctx, names: [name])
        case ("POST", "push"): return try await pushImage(ctx, name: name)
        default: return nil
        }
    }

    static func createdSeconds(_ r: ImageRecord) -> Int64 {
        r.created.flatMap { WallClock(rfc3339: $0)?.seconds } ?? 0
    }

    func summary(_ e: ImageEntry, _ ctx: RequestContext, containers: Int) -> ImageSummary {
        var s = ImageSummary(Id: e.record.id.description, ParentId: e.record.parent?.description ?? "", RepoTags: e.tags,
                             RepoDigests: e.digests, Created: APIServer.createdSeconds(e.record), Size: e.record.size,
                             Labels: e.record.labels ?? [:], Containers: containers)
        if ctx.version < APIVersion(major: 1, minor: 44) { s.VirtualSize = e.record.size }
        return s
    }

    static let imageListFilters: Set<String> = ["dangling", "label", "label!", "before", "since", "reference", "until"]

    func listImages(_ ctx: RequestContext) throws -> HTTPResponse {
        let f = try ctx.filters()
        try f.validate(APIServer.imageListFilters)
        let dangling = try f.bool("dangling")
        let all = ctx.bool("all")
        var entries = engine.images.list()
        let parents = Set(entries.compactMap(\.record.parent))
        func created(_ name: String) throws -> Int64 {
            APIServer.createdSeconds(try engine.images.get(name).record)
        }
        let before = try f["before"].first.map(created)
        let since = try f["since"].first.map(created)
        let now = WallClock.now()
        let until = try f["until"].first.map { try APIServer.timestamp($0, now: now.seconds * 1_000_000_000, what: "until") / 1_000_000_000 }
        entries = entries.filter { e in
            let dang = e.tags.isEmpty && e.digests.isEmpty
            if let dangling, dangling != e.tags.isEmpty { return false }
            if !all && dangling == nil && dang && parents.contains(e.record.id) { return false }
            if !f.matchLabels(e.record.labels) { return false }
            for l in f["label!"] {
                let parts = l.split(separator: "=", maxSplits: 1).map(String.init)
                if let v = e.record.labels?[parts[0]], parts.count == 1 || v == parts[1] { return false }
            }
            let c = APIServer.createdSeconds(e.record)
            if let before, c >= before { return false }
            if let since, c <= since { return false }
            if let until, c > until { return false }
            if f.contains("reference") {
                let ok = f["reference"].contains { pattern in
                    e.tags.contains { tag in APIServer.matchReference(pattern, tag) }
                }
                if !ok { return false }
            }
            return true
        }
        // Newest first, as dockerd lists them.
        entries.sort { (APIServer.createdSeconds($0.record), $0.record.id.encoded) > (APIServer.createdSeconds($1.record), $1.record.id.encoded) }
        let withContainers = ctx.bool("shared-size") || ctx.bool("containers")
        if f.contains("reference") {
            // As dockerd: only the matching references are listed.
            for i in entries.indices {
                entries[i].tags = entries[i].tags.filter { tag in f["reference"].contains { APIServer.matchReference($0, tag) } }
            }
        }
        var result = entries.map { summary($0, ctx, containers: withContainers ? engine.images.containerCount($0.record.id) : -1) }
        if ctx.bool("digests") == false, ctx.version < APIVersion(major: 1, minor: 25) {
            for i in result.indices { result[i].RepoDigests = [] }
        }
        return APIServer.json(result)
    }

    /// Docker's reference filter: a glob over `repo` or `repo:tag` (familiar form).
    static func matchReference(_ pattern: String, _ tag: String) -> Bool {
        let repo = tag.split(separator: ":").count > 1 ? String(tag[..<(tag.lastIndex(of: ":") ?? tag.endIndex)]) : tag
        if pattern.contains(":") && !pattern.hasSuffix("/") {
            if let pr = pattern.lastIndex(of: ":"), !pattern[pr...].contains("/") { return glob(pattern, tag) }
        }
        return glob(pattern, repo)
    }

    /// `path.Match`-style globbing: `*` (not across `/`), `?`, literal otherwise.
    static func glob(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern), t = Array(text)
        func m(_ i: Int, _ j: Int) -> Bool {
            if i == p.count { return j == t.count }
            if p[i] == "*" {
                var k = j
                while true {
                    if m(i + 1, k) { return true }
                    if k == t.count || t[k] == "/" { return false }
                    k += 1
                }
            }
            if j < t.count && (p[i] == "?" ? t[j] != "/" : p[i] == t[j]) { return m(i + 1, j + 1) }
            return false
        }
        return m(0, 0)
    }

    func inspectImage(_ ctx: RequestContext, name: String) throws -> HTTPResponse {
        let e = try engine.images.get(name)
        let config = try engine.images.config(e.record.id)
        let cfgJSON = try config.config.map { try BerthJSONEncoder().encodeValue($0) } ?? .null
        let dirs = e.record.layers.reversed().map { engine.images.store.snapshots.fsPath($0.chainID) }
        var graph: [String: String] = [:]
        if let top = dirs.first { graph["UpperDir"] = top }
        if dirs.count > 1 { graph["LowerDir"] = dirs.dropFirst().joined(separator: ":") }
        let comment = config.history?.last?.comment ?? ""
        var out = ImageInspect(
            Id: e.record.id.description, RepoTags: e.tags, RepoDigests: e.digests, Parent: e.record.parent?.description ?? "",
            Comment: comment, Created: config.created, DockerVersion: "", Author: config.author ?? "", Config: cfgJSON,
            Architecture: config.architecture, Variant: config.variant, Os: config.os, Size: e.record.size,
            GraphDriver: .init(Name: "overlay2", Data: graph), RootFS: .init(Layers: config.rootfs.diff_ids.map(\.description)),
            Metadata: .init(LastTagTime: e.record.lastTagTime ?? "0001-01-01T00:00:00Z"))
        out.OsVersion = config.osVersion
        if ctx.version < APIVersion(major: 1, minor: 44) { out.VirtualSize = e.record.size }
        return APIServer.json(out)
    }

    func history(_ ctx: RequestContext, name: String) throws -> HTTPResponse {
        let e = try engine.images.get(name)
        let config = try engine.images.config(e.record.id)
        var items: [ImageHistoryItem] = []
        var layerIndex = 0
        let history = config.history ?? e.record.layers.map { _ in ImageConfig.History() }
        for h in history {
            var size: Int64 = 0
            if !(h.empty_layer ?? false), layerIndex < e.record.layers.count {
                size = e.record.layers[layerIndex].contentSize ?? e.record.layers[layerIndex].size
                layerIndex += 1
            }
            items.append(ImageHistoryItem(Id: "<missing>", Created: h.created.flatMap { WallClock(rfc3339: $0)?.seconds } ?? 0,
                                          CreatedBy: h.created_by ?? "", Tags: nil, Size: size, Comment: h.comment ?? ""))
        }
        // Steps whose image is still here (builds and commits keep the parent chain) show its
        // ID and tags: the ancestor whose history ends at that step.
        var ancestor: ImageEntry? = e
        var seen = Set<Digest>()
        while let a = ancestor, seen.insert(a.record.id).inserted {
            let count = a.record.id == e.record.id ? history.count : ((try? engine.images.config(a.record.id).history?.count) ?? nil) ?? 0
            if count >= 1, count <= items.count, items[count - 1].Id == "<missing>" {
                items[count - 1].Id = a.record.id.description
                items[count - 1].Tags = a.tags.isEmpty ? nil : a.tags
            }
            ancestor = a.record.parent.flatMap { try? engine.images.get($0.description) }
        }
        if !items.isEmpty, items[items.count - 1].Tags == nil { items[items.count - 1].Tags = e.tags }
        items.reverse()
        return APIServer.json(items)
    }

    func tagImage(_ ctx: RequestContext, name: String) throws -> HTTPResponse {
        guard let repo = ctx.query("repo"), !repo.isEmpty else { throw BerthError.invalid("repository name must have at least one component") }
        try engine.images.tag(name, repo: repo, tag: ctx.query("tag"))
        return .bytes(status: 201)
    }

    func removeImage(_ ctx: RequestContext, name: String) throws -> HTTPResponse {
        let done = try engine.images.remove(name, force: ctx.bool("force"), prune: !ctx.bool("noprune"))
        return APIServer.json(done.map(APIServer.wire))
    }

    static func wire(_ d: ImageDeletion) -> ImageDeleteResponseItem {
        switch d {
        case .untagged(let s): return ImageDeleteResponseItem(Untagged: s)
        case .deleted(let id): return ImageDeleteResponseItem(Deleted: id.description)
        }
    }

    func pruneImages(_ ctx: RequestContext) throws -> HTTPResponse {
        let f = try ctx.filters()
        try f.validate(["dangling", "until", "label", "label!"])
        let all = try f.bool("dangling") == false
        let now = WallClock.now().seconds * 1_000_000_000
        let until = try f["until"].first.map { try APIServer.timestamp($0, now: now, what: "until") / 1_000_000_000 }
        let filters = f
        let (deleted, reclaimed) = try engine.images.prune(all: all) { e in
            if let until, APIServer.createdSeconds(e.record) > until { return true }
            if !filters.matchLabels(e.record.labels) { return true }
            for l in filters["label!"] {
                let parts = l.split(separator: "=", maxSplits: 1).map(String.init)
                if let v = e.record.labels?[parts[0]], parts.count == 1 || v == parts[1] { return true }
            }
            return false
        }
        return APIServer.json(ImagePruneResponse(ImagesDeleted: deleted.isEmpty ? nil : deleted.map(APIServer.wire), SpaceReclaimed: reclaimed))
    }

    /// Copies a request body into a queue a blocking reader consumes.
    static func pump(_ body: HTTPBodyStream, into queue: ByteQueue) -> Task<Void, Never> {
        Task {
            do {
                for try await chunk in body { try await queue.put(chunk) }
                queue.close()
            } catch {
                queue.close(error: BerthError.invalid("reading the request body: \(error)"))
            }
        }
    }

    /// `POST /images/load`: a JSON progress stream; `quiet` drops the progress bars.
    func loadImages(_ ctx: RequestContext) async throws -> HTTPResponse {
        let quiet = ctx.bool("quiet")
        let queue = ByteQueue()
        let pumpTask = APIServer.pump(ctx.request.body, into: queue)
        let (lines, sink) = AsyncStream<[UInt8]>.makeStream()
        let images = engine.images
        let work = Task {
            defer { sink.finish() }
            do {
                _ = try await images.load(from: queue) { p in
                    switch p {
                    case .message(let text): sink.yield(APIServer.encodeLine(JSONMessage(stream: text + "\n")))
                    case .layer(let id, let current, let total, let done):
                        if !quiet {
                            sink.yield(APIServer.encodeLine(JSONMessage.progress(status: done ? "Loading layer" : "Loading layer", id: id, current: done ? total : current, total: total)))
                        }
                    }
                }
            } catch {
                let message = (error as? BerthError)?.description ?? "\(error)"
                sink.yield(APIServer.encodeLine(JSONMessage.failure(message)))
            }
            pumpTask.cancel()
        }
        return .stream(headers: [("Content-Type", "application/json")]) { writer in
            for await line in lines { try await writer.write(line) }
            _ = await work.value
        }
    }

    /// `GET /images/get` and `/images/{name}/get`: a tar stream.
    func saveImages(_ ctx: RequestContext, names: [String]) throws -> HTTPResponse {
        let selection = try engine.images.selectForSave(names)
        let queue = ByteQueue()
        engine.images.save(selection, into: queue)
        return .stream(headers: [("Content-Type", "application/x-tar")]) { writer in
            defer { queue.abandon() }
            while let chunk = try await queue.take() { try await writer.write(chunk) }
        }
    }

    /// `POST /images/create`: `fromImage` pulls; `fromSrc=-` imports the body.
    func createImage(_ ctx: RequestContext) async throws -> HTTPResponse {
        if let from = ctx.query("fromImage"), !from.isEmpty { return try await pullImage(ctx, from: from) }
        guard let src = ctx.query("fromSrc"), !src.isEmpty else { throw BerthError.invalid("fromImage or fromSrc is required") }
        guard src == "-" else { throw BerthError.unsupported("importing from a URL (\(src)) is not supported: no network access; pipe the file instead") }
        var options = ImageImporter.Options()
        options.changes = ctx.queryAll("changes").filter { !$0.isEmpty }
        options.message = ctx.query("message").flatMap { $0.isEmpty ? nil : $0 }
        if let platform = ctx.query("platform"), !platform.isEmpty {
            let p = platform.split(separator: "/")
            guard p.count >= 2, p[0] == "linux" else { throw BerthError.invalid("unsupported platform \(platform)") }
            options.architecture = String(p[1])
        }
        if let repo = ctx.query("repo"), !repo.isEmpty {
            var text = repo
            if let tag = ctx.query("tag"), !tag.isEmpty { text += ":" + tag }
            options.tag = try Reference(parsing: text)
        }
        for c in options.changes {
            var scratch = ImageConfig.Config()
            try ImageChanges.apply(c, to: &scratch)
        }
        let queue = ByteQueue()
        let pumpTask = APIServer.pump(ctx.request.body, into: queue)
        let images = engine.images
        let opts = options
        return .stream(headers: [("Content-Type", "application/json")]) { writer in
            do {
                let id = try await images.importRootfs(from: queue, options: opts)
                try await writer.write(APIServer.encodeLine(JSONMessage(status: id.description)))
            } catch {
                let message = (error as? BerthError)?.description ?? "\(error)"
                try await writer.write(APIServer.encodeLine(JSONMessage.failure(message)))
            }
            pumpTask.cancel()
        }
    }
}
