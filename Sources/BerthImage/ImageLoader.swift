#if canImport(Glibc)
import Glibc
#endif
import BerthArchive
import BerthCore
import BerthOCI
import BerthSystem
import Dispatch

/// One image a load brought in.
public struct LoadedImage: Sendable, Equatable {
    public var id: Digest
    /// Tags set by the load (familiar form).
    public var tags: [String]
}

/// Progress of a load or import, for the API's JSON progress stream.
public enum ImageProgress: Sendable {
    /// A layer is being extracted or was: `id` is the short layer ID.
    case layer(id: String, current: Int64, total: Int64, done: Bool)
    /// A free-form line ("Loaded image: busybox:test").
    case message(String)
}

/// Loads image archives, streaming: `docker save` output (Docker ≥ 25 OCI+manifest.json, and
/// the legacy `<id>/layer.tar` layout with symlinked layers), and OCI archives as skopeo
/// writes them (`index.json`, nested indexes: linux/amd64 picked).
///
/// Every file of the archive is hashed as it streams in; blobs named by digest are verified
/// against their names, layers against the config's diff IDs, and the image is recorded only
/// after all of its blobs and snapshots are committed. On any error nothing is recorded and
/// the partial blobs are collected.
public struct ImageLoader: Sendable {
    let store: ImageStore
    /// Files under this size that are not `blobs/…` stay in memory (manifests, configs).
    static let inMemoryLimit: Int64 = 1 << 20
    static let maxJSON: Int64 = 64 << 20

    public init(store: ImageStore) { self.store = store }

    enum Entry {
        case memory([UInt8])
        case blob(Digest)
        case link(String)
    }

    /// Reads an archive from `source` and records its images.
    public func load(source: @escaping TarReader.Source, progress: (ImageProgress) -> Void = { _ in }) throws -> [LoadedImage] {
        var entries: [String: Entry] = [:]
        let leases = LeaseTracker(store: store)
        defer { leases.finish() }
        var reader = TarReader(source: source)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        while let h = try reader.next() {
            let name = ImageLoader.clean(h.name)
            if name.isEmpty { continue }
            switch h.kind {
            case .file:
                let expected = ImageLoader.digestFromBlobPath(name)
                if h.size < ImageLoader.inMemoryLimit && expected == nil {
                    entries[name] = .memory(try reader.readAll(limit: ImageLoader.inMemoryLimit))
                    continue
                }
                let ingest = try store.content.ingest()
                while true {
                    let n = try reader.read(into: buffer)
                    if n == 0 { break }
                    try ingest.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                }
                let digest = ingest.finalize()
                if let expected, expected != digest {
                    ingest.discard()
                    throw BerthError.invalid("invalid archive: \(name) has digest \(digest), not the one its name says")
                }
                leases.add([digest])
                try ingest.commit(digest: digest)
                entries[name] = .blob(digest)
            case .symlink, .hardLink:
                let base = h.kind == .symlink ? FileSystem.parentDirectory(of: name) : ""
                let target = h.linkName.hasPrefix("/") || base == "." || base.isEmpty ? h.linkName : base + "/" + h.linkName
                entries[name] = .link(ImageLoader.clean(target))
            default:
                continue
            }
        }
        if entries.isEmpty { throw BerthError.invalid("invalid archive: no files (is it a tar archive?)") }

        var specs: [ImageSpecInArchive] = []
        if let manifest = try ImageLoader.lookup(entries, "manifest.json", json: true) {
            specs = try dockerManifest(manifest, entries, leases)
        } else if let index = try ImageLoader.lookup(entries, "index.json", json: true) {
            specs = try ociIndex(index, entries, leases)
        } else {
            throw BerthError.invalid("invalid archive: neither manifest.json nor index.json found (not a docker save or OCI archive)")
        }
        if specs.isEmpty { throw BerthError.invalid("invalid archive: it lists no images") }

        var loaded: [LoadedImage] = []
        for spec in specs {
            let id = try importImage(spec, leases, progress)
            var tags: [String] = []
            for ref in spec.tags {
                try store.tag(id, as: ref)
                tags.append(ref.withDefaultTag.familiar)
                progress(.message("Loaded image: \(ref.withDefaultTag.familiar)"))
            }
            if spec.tags.isEmpty { progress(.message("Loaded image ID: \(id)")) }
            loaded.append(LoadedImage(id: id, tags: tags))
        }
        return loaded
    }

    struct ImageSpecInArchive {
        var config: Digest
        /// Layer blobs with media types (nil: detect).
        var layers: [(Digest, String?)]
        var tags: [Reference]
        /// `name@digest` references the record starts with (a pull's repo digest), so the
        /// record is written once.
        var repoDigests: [String] = []
    }

    /// Records an image whose config and layer blobs are in the content store already (a
    /// pull): extracts the layers that have no snapshot, writes the record and returns the ID.
    /// The blobs are leased meanwhile; on failure the unused ones are dropped.
    public func commitImage(config: Digest, layers: [(Digest, String)], repoDigests: [String] = [],
                            progress: (ImageProgress) -> Void) throws -> Digest {
        let leases = LeaseTracker(store: store)
        defer { leases.finish() }
        leases.add([config] + layers.map(\.0))
        return try importImage(ImageSpecInArchive(config: config, layers: layers.map { ($0.0, Optional($0.1)) }, tags: [],
                                               repoDigests: repoDigests), leases, progress)
    }

    /// Commits one image: its config, its layers' snapshots, its record.
    func importImage(_ spec: ImageSpecInArchive, _ leases: LeaseTracker, _ progress: (ImageProgress) -> Void) throws -> Digest {
        let configBytes = try store.content.read(spec.config)
        let config: ImageConfig
        do { config = try BerthJSONDecoder().decode(ImageConfig.self, from: configBytes) } catch {
            throw BerthError.invalid("invalid image config \(spec.config): \(error)")
        }
        try config.validate()
        let diffIDs = config.rootfs.diff_ids
        guard diffIDs.count == spec.layers.count else {
            throw BerthError.invalid("invalid archive: image \(spec.config) has \(spec.layers.count) layers but its config lists \(diffIDs.count) diff IDs")
        }
        let chainIDs = OverlaySnapshotter.chainIDs(diffIDs)
        leases.add(chainIDs)

        // Work out each layer's compression, then extract the missing ones in parallel.
        var layers: [LayerRecord] = []
        var work: [Int] = []
        for (i, (blob, mediaType)) in spec.layers.enumerated() {
            let path = store.content.path(blob)
            let compression = try ImageLoader.sniff(path)
            if compression == .none && blob != diffIDs[i] {
                throw BerthError.invalid("layer \(i + 1) of image \(spec.config): diff ID mismatch: config says \(diffIDs[i]), content has \(blob)")
            }
            let mt = mediaType ?? (compression == .gzip ? MediaType.ociLayerGzip : compression == .zstd ? MediaType.ociLayerZstd : MediaType.ociLayer)
            layers.append(LayerRecord(diffID: diffIDs[i], chainID: chainIDs[i], blob: blob, mediaType: mt,
                                      blobSize: store.content.size(blob) ?? 0, size: 0))
            if !store.snapshots.exists(chainIDs[i]) { work.append(i) }
        }
        let results = ResultBox(count: layers.count)
        let snapshots = store.snapshots
        let layerList = layers
        for i in work { progress(.layer(id: String(chainIDs[i].encoded.prefix(12)), current: 0, total: layerList[i].blobSize, done: false)) }
        let todo = work
        DispatchQueue.concurrentPerform(iterations: todo.count) { k in
            let i = todo[k]
            let l = layerList[i]
            do {
                let info = try snapshots.apply(blobPath: store.content.path(l.blob), diffID: l.diffID,
                                               parent: i == 0 ? nil : chainIDs[i - 1], chainID: l.chainID, blobDigest: l.blob)
                results.set(i, .success(info.size))
            } catch {
                results.set(i, .failure(error))
            }
        }
        for i in work {
            switch results.get(i) {
            case .failure(let e)?:
                throw (e as? BerthError).map { $0.context("layer \(i + 1) of image \(spec.config)") } ?? e
            default: break
            }
            progress(.layer(id: String(chainIDs[i].encoded.prefix(12)), current: layers[i].blobSize, total: layers[i].blobSize, done: true))
        }
        for i in layers.indices {
            let info = try store.snapshots.info(chainIDs[i])
            layers[i].size = info.size
            layers[i].contentSize = info.contentSize
        }
        var record = ImageRecord(id: spec.config, layers: layers, created: config.created,
                                 labels: config.config?.Labels, size: layers.reduce(0) { $0 + ($1.contentSize ?? $1.size) })
        record.repoDigests = spec.repoDigests
        try store.add(record)
        return spec.config
    }

    // MARK: archive formats

    struct DockerManifestEntry: Decodable {
        var Config: String
        var RepoTags: [String]?
        var Layers: [String]
    }

    func dockerManifest(_ bytes: [UInt8], _ entries: [String: Entry], _ leases: LeaseTracker) throws -> [ImageSpecInArchive] {
        let list: [DockerManifestEntry]
        do { list = try BerthJSONDecoder().decode([DockerManifestEntry].self, from: bytes) } catch {
            throw BerthError.invalid("invalid archive: manifest.json: \(error)")
        }
        return try list.map { m in
            let config = try blob(m.Config, entries, leases)
            let layers = try m.Layers.map { (try blob($0, entries, leases), Optional<String>.none) }
            let tags = try (m.RepoTags ?? []).map { t -> Reference in
                do { return try Reference(parsing: t) } catch {
                    throw BerthError.invalid("invalid archive: manifest.json: invalid tag \"\(t)\"")
                }
            }
            return ImageSpecInArchive(config: config, layers: layers, tags: tags)
        }
    }

    func ociIndex(_ bytes: [UInt8], _ entries: [String: Entry], _ leases: LeaseTracker) throws -> [ImageSpecInArchive] {
        let index: ImageIndex
        do { index = try BerthJSONDecoder().decode(ImageIndex.self, from: bytes) } catch {
            throw BerthError.invalid("invalid archive: index.json: \(error)")
        }
        var out: [ImageSpecInArchive] = []
        for d in index.manifests {
            var tags: [Reference] = []
            if let n = d.annotations?["io.containerd.image.name"], let r = try? Reference(parsing: n) {
                tags.append(r)
            } else if let n = d.annotations?["org.opencontainers.image.ref.name"], n.contains(":") || n.contains("/"),
                      let r = try? Reference(parsing: n) {
                tags.append(r)
            }
            guard let manifest = try resolveManifest(d, entries, leases, depth: 0) else { continue }
            let layers = try manifest.layers.map { l -> (Digest, String?) in
                guard MediaType.layerCompression(l.mediaType) != nil else {
                    throw BerthError.invalid("invalid archive: unsupported layer media type \(l.mediaType)")
                }
                return (try blobByDigest(l.digest, entries, leases), l.mediaType)
            }
            let config = try blobByDigest(manifest.config.digest, entries, leases)
            out.append(ImageSpecInArchive(config: config, layers: layers, tags: tags))
        }
        return out
    }

    /// A descriptor's image manifest, descending into indexes (linux/amd64, else the only entry).
    func resolveManifest(_ d: Descriptor, _ entries: [String: Entry], _ leases: LeaseTracker, depth: Int) throws -> ImageManifest? {
        guard depth < 4 else { throw BerthError.invalid("invalid archive: indexes nested too deeply") }
        let bytes = try store.content.read(try blobByDigest(d.digest, entries, leases))
        if MediaType.isIndex(d.mediaType) {
            let idx = try BerthJSONDecoder().decode(ImageIndex.self, from: bytes)
            let pick = idx.manifest(for: Platform(architecture: "amd64", os: "linux"))
                ?? (idx.manifests.count == 1 ? idx.manifests[0] : nil)
            guard let pick else { throw BerthError.notFound("no image for linux/amd64 in the archive's index") }
            return try resolveManifest(pick, entries, leases, depth: depth + 1)
        }
        guard MediaType.isManifest(d.mediaType) else { return nil } // attestations and other artifacts
        let m: ImageManifest
        do { m = try BerthJSONDecoder().decode(ImageManifest.self, from: bytes) } catch {
            throw BerthError.invalid("invalid archive: manifest \(d.digest): \(error)")
        }
        try m.validate()
        return m
    }

    /// A blob the archive holds under `blobs/<alg>/<hex>`, committed to the content store.
    func blobByDigest(_ d: Digest, _ entries: [String: Entry], _ leases: LeaseTracker) throws -> Digest {
        let got = try blob("blobs/\(d.algorithm)/\(d.encoded)", entries, leases)
        guard got == d else { throw BerthError.invalid("invalid archive: blob \(d) has digest \(got)") }
        return d
    }

    /// The content-store digest of an archive file (committing small in-memory files).
    func blob(_ path: String, _ entries: [String: Entry], _ leases: LeaseTracker, depth: Int = 0) throws -> Digest {
        let name = ImageLoader.clean(path)
        guard depth < 16, let e = entries[name] else { throw BerthError.invalid("invalid archive: \(path) is missing") }
        switch e {
        case .blob(let d): return d
        case .link(let target): return try blob(target, entries, leases, depth: depth + 1)
        case .memory(let bytes):
            let d = try store.content.write(bytes)
            leases.add([d])
            return d
        }
    }

    static func lookup(_ entries: [String: Entry], _ name: String, json: Bool) throws -> [UInt8]? {
        var e = entries[name]
        var hops = 0
        while case .link(let t)? = e, hops < 16 { e = entries[t]; hops += 1 }
        switch e {
        case .memory(let b)?: return b
        case .blob?: throw BerthError.invalid("invalid archive: \(name) is too large")
        default: return nil
        }
    }

    /// Archive names as paths relative to the archive root: `./a//b/` → `a/b`, `..` dropped at the root.
    static func clean(_ name: String) -> String {
        var parts: [Substring] = []
        for p in name.split(separator: "/") {
            if p == "." || p.isEmpty { continue }
            if p == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(p)
        }
        return parts.joined(separator: "/")
    }

    static func digestFromBlobPath(_ name: String) -> Digest? {
        let p = name.split(separator: "/")
        guard p.count == 3, p[0] == "blobs" else { return nil }
        return try? Digest("\(p[1]):\(p[2])")
    }

    /// The compression of a file, from its magic bytes.
    static func sniff(_ path: String) throws -> BerthArchive.Compression {
        let fd = try FD.open(path, O_RDONLY)
        defer { FD.close(fd) }
        var head = [UInt8](repeating: 0, count: 8)
        let n = head.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 8) }
        return BerthArchive.Compression.detect(prefix: Array(head[0..<max(0, n)]))
    }
}

/// The blobs and snapshots a load leased; `finish` releases them and removes the blobs no
/// image ended up using (legacy `json` files, everything of a failed load).
final class LeaseTracker {
    let store: ImageStore
    var digests: [Digest] = []
    init(store: ImageStore) { self.store = store }
    func add(_ d: [Digest]) {
        store.lease(d)
        digests.append(contentsOf: d)
    }
    func finish() {
        store.release(digests)
        store.dropUnused(Set(digests))
    }
}

/// Per-layer results written by parallel workers.
final class ResultBox: @unchecked Sendable {
    // SAFETY: guarded by `lock`.
    private var values: [Result<Int64, Error>?]
    private let lock = NSLockLite()
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ r: Result<Int64, Error>) { lock.locked { values[i] = r } }
    func get(_ i: Int) -> Result<Int64, Error>? { lock.locked { values[i] } }
}

/// A pthread mutex (BerthImage avoids Foundation's NSLock).
final class NSLockLite: @unchecked Sendable {
    // SAFETY: initialised in init, destroyed in deinit; only used through `locked`.
    private var m = pthread_mutex_t()
    init() { pthread_mutex_init(&m, nil) }
    deinit { pthread_mutex_destroy(&m) }
    func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&m)
        defer { pthread_mutex_unlock(&m) }
        return try body()
    }
}
