#if canImport(Glibc)
import Glibc
#endif
import BerthArchive
import BerthCore
import BerthOCI
import BerthSystem

/// Makes new images from old ones: a container's changes (an overlay upper directory) become a
/// layer, and a config with the parent's layers plus that one becomes an image (`docker
/// commit`, build steps). Metadata-only steps record a config over the parent's layers.
///
/// A layer is written once as an uncompressed tar into the content store (its digest is the
/// diff ID) and then extracted from that blob into a snapshot, so the snapshot is exactly what
/// the tar says. Leases keep a concurrent garbage collection off the new blob and snapshot
/// until the image record names them.
public struct ImageCommitter {
    let store: ImageStore

    public init(store: ImageStore) { self.store = store }

    /// The runtime's mount points, which appear in a container's upper directory when the image
    /// lacks them; left out of committed layers when they are empty.
    public static let runtimePlaceholders: Set<String> = [
        "etc/hosts", "etc/hostname", "etc/resolv.conf", "proc", "sys", "dev", ".dockerenv", "sbin/docker-init",
    ]

    /// An image to record.
    public struct Commit: Sendable {
        /// The new image's config. Its `rootfs` and `history` are completed here: the new
        /// layer's diff ID is appended, and `history` gets `historyEntry`.
        public var config: ImageConfig
        /// The image below, nil for none (`FROM scratch`).
        public var parent: ImageRecord?
        /// The history entry of this step (`empty_layer` is set here).
        public var history: ImageConfig.History
        /// A build step's cache key.
        public var buildKey: String?
        /// False: no fsync per file and the record stays in memory until `ImageStore.persist`
        /// (a build syncs the filesystem once at its end).
        public var durable = true

        public init(config: ImageConfig, parent: ImageRecord?, history: ImageConfig.History, buildKey: String? = nil) {
            self.config = config
            self.parent = parent
            self.history = history
            self.buildKey = buildKey
        }
    }

    /// Records an image without a new layer (its layers are the parent's).
    public func commit(_ c: Commit) throws -> ImageRecord {
        try record(c, layer: nil)
    }

    /// Writes `upperDirectory` as a new layer over the parent's and records the image.
    public func commit(_ c: Commit, upperDirectory: String) throws -> ImageRecord {
        let leases = LeaseTracker(store: store)
        defer { leases.finish() }
        let layer = try writeLayer(upperDirectory: upperDirectory, parentChain: c.parent?.layers.last?.chainID,
                                   durable: c.durable, leases: leases)
        return try record(c, layer: layer)
    }

    /// The tar of the upper directory into the content store, then into a snapshot.
    func writeLayer(upperDirectory: String, parentChain: Digest?, durable: Bool, leases: LeaseTracker) throws -> LayerRecord {
        let ingest = try store.content.ingest()
        var pending: [UInt8] = []
        pending.reserveCapacity(1 << 20)
        var tar = TarWriter { chunk in
            pending.append(contentsOf: chunk)
            if pending.count >= 1 << 20 {
                try pending.withUnsafeBytes { try ingest.write($0) }
                pending.removeAll(keepingCapacity: true)
            }
        }
        try LayerDiff.write(upperDirectory: upperDirectory, to: &tar, placeholders: Self.runtimePlaceholders)
        try tar.finish()
        try pending.withUnsafeBytes { try ingest.write($0) }
        let diffID = ingest.finalize()
        let size = ingest.size
        leases.add([diffID])
        try ingest.commit(digest: diffID)
        let chainID = parentChain.map { Digester.sha256(Array("\($0) \(diffID)".utf8)) } ?? diffID
        leases.add([chainID])
        let info = try store.snapshots.apply(blobPath: store.content.path(diffID), diffID: diffID, parent: parentChain, chainID: chainID,
                                                durable: durable)
        var layer = LayerRecord(diffID: diffID, chainID: chainID, blob: diffID, mediaType: MediaType.ociLayer, blobSize: size, size: size)
        layer.contentSize = info.contentSize
        return layer
    }

    func record(_ c: Commit, layer: LayerRecord?) throws -> ImageRecord {
        var config = c.config
        let parentLayers = c.parent?.layers ?? []
        config.rootfs = ImageConfig.RootFS(diffIDs: parentLayers.map(\.diffID) + (layer.map { [$0.diffID] } ?? []))
        var h = c.history
        h.empty_layer = layer == nil ? true : nil
        config.history = (config.history ?? []) + [h]
        if config.created == nil { config.created = h.created }
        let bytes = try BerthJSONEncoder().encode(config)
        let id = try store.content.write(bytes, durable: c.durable)
        store.lease([id])
        defer { store.release([id]) }
        let layers = parentLayers + (layer.map { [$0] } ?? [])
        var r = ImageRecord(id: id, layers: layers, created: config.created, labels: config.config?.Labels,
                            size: layers.reduce(0) { $0 + ($1.contentSize ?? $1.size) }, parent: c.parent?.id)
        r.buildKey = c.buildKey
        try store.add(r, persist: c.durable)
        return store.record(id) ?? r
    }
}
