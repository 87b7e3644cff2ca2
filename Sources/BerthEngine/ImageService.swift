import BerthArchive
import BerthCore
import BerthImage
import BerthOCI
import BerthRegistry
import BerthSystem

/// An image with its references, as the service reports it.
public struct ImageEntry: Sendable {
    public var record: ImageRecord
    /// Tags in familiar form (`busybox:latest`), sorted.
    public var tags: [String]
    public var digests: [String]
}

/// What `remove` did, in Docker's order.
public enum ImageDeletion: Sendable, Equatable {
    case untagged(String)
    case deleted(Digest)
}

/// Image operations: listing, inspection, tagging, removal, prune, load, save, import.
/// Knows nothing of HTTP; long work runs on its own threads.
public final class ImageService: Sendable {
    public let store: ImageStore
    let events: EventService
    /// IDs of containers using an image, with whether each is running. Containers arrive with
    /// [run]; until then nothing uses images.
    let usage: @Sendable (Digest) -> [(id: String, running: Bool)]
    /// Pulls (one client: connections and tokens are shared).
    let registry: RegistryClient
    /// Docker Hub mirrors as registry hosts (`127.0.0.1:5001`), in order.
    public let mirrors: [String]
    /// The registries whose certificates are not verified (HTTPS first, then plain HTTP),
    /// besides loopback ones.
    public let insecureRegistries: [String]

    /// `mirrors` are URLs (`http://host:port`, `https://host`); an `http://` mirror is spoken
    /// to over plain HTTP.
    public init(store: ImageStore, events: EventService, insecureRegistries: [String] = [], mirrors: [String] = [],
                certsDirectory: String? = nil, usage: @escaping @Sendable (Digest) -> [(id: String, running: Bool)] = { _ in [] }) {
        self.store = store
        self.events = events
        self.usage = usage
        var insecure = Set(insecureRegistries)
        var hosts: [String] = []
        for m in mirrors {
            let host = Self.registryDomain(m)
            if m.hasPrefix("http://") { insecure.insert(host) }
            hosts.append(host)
        }
        self.mirrors = hosts
        self.insecureRegistries = insecureRegistries
        registry = RegistryClient(insecureRegistries: insecure, certsDirectory: certsDirectory)
    }

    func entry(_ r: ImageRecord) -> ImageEntry {
        let refs = store.references(of: r.id)
        return ImageEntry(record: r, tags: refs.filter { $0.tag != nil }.map(\.familiar).sorted(), digests: r.repoDigests)
    }

    /// Every image (filters are applied by the caller's predicate on entries).
    public func list() -> [ImageEntry] {
        let refs = store.allReferences()
        var byImage: [Digest: [String]] = [:]
        for (k, id) in refs {
            if let r = try? Reference(parsing: k), r.tag != nil { byImage[id, default: []].append(r.familiar) }
        }
        return store.images().map { r in
            ImageEntry(record: r, tags: (byImage[r.id] ?? []).sorted(), digests: r.repoDigests)
        }
    }

    /// An image by ID or reference.
    public func get(_ name: String) throws -> ImageEntry { entry(try store.resolve(name)) }

    public func config(_ id: Digest) throws -> ImageConfig { try store.config(id) }

    /// Number of containers using an image.
    public func containerCount(_ id: Digest) -> Int { usage(id).count }

    /// Tags an image (`docker tag`).
    public func tag(_ name: String, repo: String, tag: String?) throws {
        let record = try store.resolve(name)
        guard !repo.isEmpty else { throw BerthError.invalid("repository name must have at least one component") }
        var text = repo
        if let tag, !tag.isEmpty {
            guard Reference.isValidTag(tag) else { throw BerthError.invalid("invalid tag format") }
            text += ":" + tag
        }
        let ref = try Reference(parsing: text)
        guard ref.digest == nil else { throw BerthError.invalid("refusing to create a tag with a digest reference") }
        if repo.hasPrefix("sha256:") || (repo.count == 64 && repo.allSatisfy(\.isHexDigit)) {
            throw BerthError.invalid("refusing to create an ambiguous tag using digest algorithm as name")
        }
        try store.tag(record.id, as: ref)
        events.publish(type: "image", action: "tag", actorID: record.id.description, attributes: ["name": ref.withDefaultTag.familiar])
    }

    /// Removes an image or a reference, with Docker's rules (`docker rmi`).
    public func remove(_ name: String, force: Bool, prune: Bool) throws -> [ImageDeletion] {
        let record = try store.resolve(name)
        let refs = store.references(of: record.id)
        let byID = isIDReference(name, record.id)
        var out: [ImageDeletion] = []
        let users = usage(record.id)

        if !byID, let ref = try? Reference(parsing: name) {
            let key = ref.withDefaultTag
            if ref.digest == nil || refs.contains(key) {
                // Removing a reference: untag, and delete the image only if it was the last one.
                if refs.count > 1 || (!users.isEmpty && refs.count == 1) {
                    if refs.count == 1, let u = users.first, !force {
                        throw BerthError.conflict("conflict: unable to remove repository reference \"\(name)\" (must force) - container \(u.id.prefix(12)) is using its referenced image \(record.shortID)")
                    }
                    try store.untag(key)
                    events.publish(type: "image", action: "untag", actorID: record.id.description, attributes: ["name": key.familiar])
                    return [.untagged(key.familiar)]
                }
            }
        } else {
            if let running = users.first(where: { $0.running }) {
                throw BerthError.conflict("conflict: unable to delete \(record.shortID) (cannot be forced) - image is being used by running container \(running.id.prefix(12))")
            }
            if let stopped = users.first, !force {
                throw BerthError.conflict("conflict: unable to delete \(record.shortID) (must be forced) - image is being used by stopped container \(stopped.id.prefix(12))")
            }
            let repos = Set(refs.map(\.repository))
            if repos.count > 1 && !force {
                throw BerthError.conflict("conflict: unable to delete \(record.shortID) (must be forced) - image is referenced in multiple repositories")
            }
        }
        if hasChildren(record.id) {
            // An image others are built on: only its references go (Docker keeps the image).
            for r in refs {
                try store.untag(r)
                out.append(.untagged(r.familiar))
                events.publish(type: "image", action: "untag", actorID: record.id.description, attributes: ["name": r.familiar])
            }
            if out.isEmpty {
                throw BerthError.conflict("conflict: unable to delete \(record.shortID) (cannot be forced) - image has dependent child images")
            }
            return out
        }
        try deleteImage(record, refs: refs, into: &out)
        if prune { try pruneParents(of: record, into: &out) }
        return out
    }

    /// Deletes an image; returns the bytes of the layers that went with it.
    @discardableResult
    func deleteImage(_ record: ImageRecord, refs: [Reference], into out: inout [ImageDeletion]) throws -> Int64 {
        for r in refs {
            out.append(.untagged(r.familiar))
            events.publish(type: "image", action: "untag", actorID: record.id.description, attributes: ["name": r.familiar])
        }
        for d in record.repoDigests { out.append(.untagged(d)) }
        let layers = try store.delete(record.id)
        out.append(.deleted(record.id))
        for l in layers { out.append(.deleted(l)) }
        events.publish(type: "image", action: "delete", actorID: record.id.description, attributes: ["name": record.id.description])
        let removed = Set(layers)
        return record.layers.filter { removed.contains($0.chainID) }.reduce(0) { $0 + ($1.contentSize ?? $1.size) }
    }

    /// Untagged parents left without children go too (what `noprune` turns off).
    func pruneParents(of record: ImageRecord, into out: inout [ImageDeletion]) throws {
        var parent = record.parent
        while let p = parent, let r = store.record(p), store.references(of: p).isEmpty, !hasChildren(p), usage(p).isEmpty {
            try deleteImage(r, refs: [], into: &out)
            parent = r.parent
        }
    }

    func hasChildren(_ id: Digest) -> Bool { store.images().contains { $0.parent == id } }

    func isIDReference(_ name: String, _ id: Digest) -> Bool {
        if name == id.description { return true }
        var n = Substring(name)
        if n.hasPrefix("sha256:") { n = n.dropFirst(7) }
        guard id.encoded.hasPrefix(n) else { return false }
        // A name that is also a tag points at the tag (Docker looks references up first).
        if let r = try? Reference(parsing: name), store.allReferences()[r.withDefaultTag.description] != nil { return false }
        return true
    }

    /// `docker image prune`: dangling images (or, with `all`, every image no container uses)
    /// that `keep` does not protect (filters), children first.
    public func prune(all: Bool, keep: @Sendable (ImageEntry) -> Bool) throws -> (deleted: [ImageDeletion], reclaimed: Int64) {
        var out: [ImageDeletion] = []
        var reclaimed: Int64 = 0
        var progress = true
        while progress {
            progress = false
            for e in list() {
                if !all && !e.tags.isEmpty { continue }
                if keep(e) || !usage(e.record.id).isEmpty || hasChildren(e.record.id) { continue }
                reclaimed += try deleteImage(e.record, refs: store.references(of: e.record.id), into: &out)
                progress = true
            }
        }
        events.publish(type: "image", action: "prune", actorID: "", attributes: ["reclaimed": String(reclaimed)])
        return (out, reclaimed)
    }

    /// Bytes of all snapshots (uncompressed layer sizes) — `LayersSize` in `system df`.
    public func layerBytes() -> Int64 {
        var seen = Set<Digest>()
        var total: Int64 = 0
        for r in store.images() {
            for l in r.layers where seen.insert(l.chainID).inserted { total += l.contentSize ?? l.size }
        }
        return total
    }

    /// `docker load`: reads an archive from `queue` on a thread of its own.
    public func load(from queue: ByteQueue, progress: @escaping @Sendable (ImageProgress) -> Void) async throws -> [LoadedImage] {
        let store = self.store
        let loaded = try await BlockingWork.run {
            defer { queue.abandon() }
            return try ImageLoader(store: store).load(source: { try queue.read(into: $0) }, progress: progress)
        }
        for l in loaded {
            events.publish(type: "image", action: "load", actorID: l.id.description,
                           attributes: ["name": l.tags.first ?? l.id.description])
        }
        return loaded
    }

    /// Resolves names for a save (errors before any byte is sent).
    public func selectForSave(_ names: [String]) throws -> [ImageSaver.Selection] {
        guard !names.isEmpty else { throw BerthError.invalid("no images specified") }
        return try ImageSaver(store: store).select(names)
    }

    /// `docker save`: writes the archive into `queue` on a thread of its own, closing it at the end.
    public func save(_ selection: [ImageSaver.Selection], into queue: ByteQueue) {
        let store = self.store
        let events = self.events
        Task {
            do {
                try await BlockingWork.run {
                    // Batch the writer's small writes (headers are 512 bytes) into 1 MiB chunks.
                    var pending: [UInt8] = []
                    pending.reserveCapacity(1 << 20)
                    try ImageSaver(store: store).save(selection) { chunk in
                        pending.append(contentsOf: chunk)
                        if pending.count >= 1 << 20 {
                            try queue.putBlocking(pending)
                            pending.removeAll(keepingCapacity: true)
                        }
                    }
                    try queue.putBlocking(pending)
                }
                queue.close()
                for s in selection {
                    events.publish(type: "image", action: "save", actorID: s.id.description,
                                   attributes: ["name": s.tags.first?.familiar ?? s.id.description])
                }
            } catch {
                queue.close(error: error)
            }
        }
    }

    /// `docker import`: a rootfs tar from `queue` becomes an image.
    public func importRootfs(from queue: ByteQueue, options: ImageImporter.Options) async throws -> Digest {
        let store = self.store
        let id = try await BlockingWork.run {
            defer { queue.abandon() }
            return try ImageImporter(store: store).importRootfs(source: { try queue.read(into: $0) }, options: options)
        }
        events.publish(type: "image", action: "import", actorID: id.description,
                       attributes: ["name": options.tag?.withDefaultTag.familiar ?? id.description])
        return id
    }
}
