#if canImport(Glibc)
import Glibc
#endif
import BerthArchive
import BerthCore
import BerthOCI
import BerthSystem

/// Writes images as `docker save` (Docker ≥ 25) does: an OCI image layout (`oci-layout`,
/// `index.json`, `blobs/sha256/…` with uncompressed layers) that also carries the legacy
/// `manifest.json` and `repositories`, so Docker of any version (and skopeo's
/// `docker-archive:`/`oci-archive:`) loads it with the same image IDs.
///
/// Every layer is re-hashed as it streams out and must match its diff ID, so a blob damaged on
/// disk fails the save instead of spreading.
public struct ImageSaver {
    let store: ImageStore

    public init(store: ImageStore) { self.store = store }

    /// An image to save and the tags to record for it.
    public struct Selection: Sendable {
        public var id: Digest
        public var tags: [Reference]
    }

    /// Resolves the names a user asked for, as Docker does: a repository without tag saves
    /// every tag of that repository; a reference saves that tag; an ID saves the image untagged.
    public func select(_ names: [String]) throws -> [Selection] {
        var order: [Digest] = []
        var tags: [Digest: [Reference]] = [:]
        func add(_ id: Digest, _ ref: Reference?) {
            if tags[id] == nil { order.append(id); tags[id] = [] }
            if let ref, !(tags[id]?.contains(ref) ?? false) { tags[id]?.append(ref) }
        }
        for name in names {
            if let ref = try? Reference(parsing: name), ref.tag == nil, ref.digest == nil,
               !name.contains(":") {
                let prefix = ref.repository + ":"
                let matching = store.allReferences().filter { $0.key.hasPrefix(prefix) }.sorted { $0.key < $1.key }
                if !matching.isEmpty {
                    for (k, id) in matching { add(id, try? Reference(parsing: k)) }
                    continue
                }
            }
            let record = try store.resolve(name)
            var ref: Reference?
            if let r = try? Reference(parsing: name), r.digest == nil, !record.id.encoded.hasPrefix(name),
               !name.hasPrefix("sha256:") {
                ref = r.withDefaultTag
            }
            add(record.id, ref)
        }
        return order.map { Selection(id: $0, tags: tags[$0] ?? []) }
    }

    /// Streams the archive of `images` into `sink`.
    public func save(_ images: [Selection], sink: @escaping (UnsafeRawBufferPointer) throws -> Void) throws {
        var tar = TarWriter(sink: sink)
        let enc = BerthJSONEncoder()
        try directory(&tar, "blobs/")
        try directory(&tar, "blobs/sha256/")
        var written = Set<Digest>()
        var indexEntries: [Descriptor] = []
        var manifestEntries: [JSONValue] = []
        var repositories: [String: [String: String]] = [:]
        for image in images {
            guard let record = store.record(image.id) else { throw BerthError.notFound("No such image: \(image.id)") }
            let configBytes = try store.configBytes(record.id)
            if written.insert(record.id).inserted { try file(&tar, blobPath(record.id), configBytes) }
            var layerDescriptors: [Descriptor] = []
            for layer in record.layers {
                layerDescriptors.append(Descriptor(mediaType: MediaType.ociLayer, digest: layer.diffID, size: layer.size))
                if written.insert(layer.diffID).inserted { try writeLayer(&tar, layer) }
            }
            let manifest = ImageManifest(config: Descriptor(mediaType: MediaType.ociConfig, digest: record.id, size: Int64(configBytes.count)),
                                         layers: layerDescriptors)
            let manifestBytes = try enc.encode(manifest)
            let manifestDigest = Digester.sha256(manifestBytes)
            if written.insert(manifestDigest).inserted { try file(&tar, blobPath(manifestDigest), manifestBytes) }
            let base = Descriptor(mediaType: MediaType.ociManifest, digest: manifestDigest, size: Int64(manifestBytes.count))
            if image.tags.isEmpty {
                indexEntries.append(base)
            }
            for t in image.tags {
                var d = base
                d.annotations = ["io.containerd.image.name": t.description, "org.opencontainers.image.ref.name": t.tag ?? "latest"]
                indexEntries.append(d)
                if let last = record.layers.last {
                    repositories[t.familiarRepository, default: [:]][t.tag ?? "latest"] = last.diffID.encoded
                }
            }
            let repoTags: JSONValue = image.tags.isEmpty ? .null : .array(image.tags.map { JSONValue.string($0.familiar) })
            let entry: [(String, JSONValue)] = [
                ("Config", .string(blobPath(record.id))),
                ("RepoTags", repoTags),
                ("Layers", .array(record.layers.map { JSONValue.string(blobPath($0.diffID)) })),
            ]
            manifestEntries.append(.object(JSONObject(entry)))
        }
        let index = ImageIndex(manifests: indexEntries)
        try file(&tar, "index.json", try enc.encode(index))
        try file(&tar, "manifest.json", JSON.serialize(.array(manifestEntries)))
        try file(&tar, "oci-layout", Array(#"{"imageLayoutVersion": "1.0.0"}"#.utf8))
        if !repositories.isEmpty {
            var sorted = BerthJSONEncoder()
            sorted.options = [.sortedKeys]
            try file(&tar, "repositories", try sorted.encode(repositories))
        }
        try tar.finish()
    }

    func blobPath(_ d: Digest) -> String { "blobs/\(d.algorithm)/\(d.encoded)" }

    func directory(_ tar: inout TarWriter, _ name: String) throws {
        var h = TarHeader(name: name, kind: .directory, mode: 0o755)
        h.mtime = 0
        try tar.write(header: h)
    }

    func file(_ tar: inout TarWriter, _ name: String, _ bytes: [UInt8]) throws {
        var h = TarHeader(name: name, kind: .file, mode: 0o644, size: Int64(bytes.count))
        h.mtime = 0
        try tar.write(header: h)
        try bytes.withUnsafeBytes { try tar.write(data: $0) }
    }

    /// Streams one layer uncompressed, verifying its diff ID.
    func writeLayer(_ tar: inout TarWriter, _ layer: LayerRecord) throws {
        var h = TarHeader(name: blobPath(layer.diffID), kind: .file, mode: 0o644, size: layer.size)
        h.mtime = 0
        try tar.write(header: h)
        let fd = try FD.open(store.content.path(layer.blob), O_RDONLY)
        defer { FD.close(fd) }
        let raw: TarReader.Source = { buf in try FD.readSome(fd, into: buf, what: "layer \(layer.blob)") }
        let source: TarReader.Source
        if layer.blob == layer.diffID {
            source = raw
        } else {
            let compression = try ImageLoader.sniff(store.content.path(layer.blob))
            let d = try DecompressingSource(compression: compression, source: raw)
            source = { try d.read(into: $0) }
        }
        var digester = Digester()
        var total: Int64 = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        while true {
            let n = try source(buffer)
            if n == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            total += Int64(n)
            guard total <= layer.size else { throw BerthError(.corrupt, "layer \(layer.diffID) is larger on disk than recorded") }
            digester.update(chunk)
            try tar.write(data: chunk)
        }
        guard total == layer.size, digester.finalize() == layer.diffID else {
            throw BerthError(.corrupt, "layer \(layer.diffID) is corrupt on disk: content does not match its digest")
        }
    }
}
