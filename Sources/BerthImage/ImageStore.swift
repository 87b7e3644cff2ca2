#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthOCI
import BerthSystem
import Synchronization

/// The image store: image records (`images/<hex>.json`) and references (`repositories.json`)
/// over a content store and a snapshotter. Everything written is written atomically; an image
/// exists once its record is written, which happens only after its blobs and snapshots are
/// committed, so a crash leaves an image fully present or absent (plus garbage that `collect`
/// removes). In-flight work leases the blobs and snapshots it is producing so a concurrent
/// collection does not take them.
public final class ImageStore: Sendable {
    public let root: String
    public let content: ContentStore
    public let snapshots: OverlaySnapshotter
    let recordDirectory: String
    let referencesPath: String
    /// Scratch space for loads and imports (cleared on open).
    public let tmpDirectory: String

    struct State {
        var records: [Digest: ImageRecord] = [:]
        /// Full normalized reference (`docker.io/library/busybox:latest`) → image ID.
        var references: [String: Digest] = [:]
        /// Leased blob and snapshot digests → lease count.
        var leases: [Digest: Int] = [:]
        /// Images recorded in memory only, until `persist` (a build's steps).
        var unpersisted = Set<Digest>()
    }
    let state = Mutex(State())

    /// Opens (creating) the store under `root`, clearing interrupted work.
    public init(root: String) throws {
        self.root = root
        content = try ContentStore(root: root + "/content")
        snapshots = try OverlaySnapshotter(root: root + "/snapshots")
        recordDirectory = root + "/images"
        referencesPath = root + "/repositories.json"
        tmpDirectory = root + "/tmp"
        try FileSystem.removeTree(tmpDirectory)
        try FileSystem.makeDirectories(tmpDirectory, mode: 0o700)
        try FileSystem.makeDirectories(recordDirectory, mode: 0o700)
        var loaded = State()
        let decoder = BerthJSONDecoder()
        for name in try FileSystem.list(recordDirectory) where name.hasSuffix(".json") {
            let path = "\(recordDirectory)/\(name)"
            guard let bytes = try? FileSystem.read(path), let r = try? decoder.decode(ImageRecord.self, from: bytes) else {
                // A torn temp file cannot exist (atomic writes); anything unreadable is dropped.
                unlink(path)
                continue
            }
            loaded.records[r.id] = r
        }
        // Interrupted atomic writes leave `*.tmp-PID` files.
        for name in try FileSystem.list(recordDirectory) where name.contains(".tmp-") { unlink("\(recordDirectory)/\(name)") }
        if FileSystem.exists(referencesPath) {
            let refs = try decoder.decode(ReferencesFile.self, from: try FileSystem.read(referencesPath))
            for (k, v) in refs.references where loaded.records[v] != nil { loaded.references[k] = v }
        }
        let final = loaded
        state.withLock { $0 = final }
    }

    struct ReferencesFile: Codable { var references: [String: Digest] }

    // MARK: reading

    /// Every image.
    public func images() -> [ImageRecord] { state.withLock { Array($0.records.values) } }

    public func record(_ id: Digest) -> ImageRecord? { state.withLock { $0.records[id] } }

    /// The references pointing at an image, sorted.
    public func references(of id: Digest) -> [Reference] {
        let names = state.withLock { s in s.references.filter { $0.value == id }.map(\.key) }
        return names.sorted().compactMap { try? Reference(parsing: $0) }
    }

    /// All references → image IDs.
    public func allReferences() -> [String: Digest] { state.withLock { $0.references } }

    /// The image named by an ID (`sha256:…`, full or unique prefix, with or without
    /// `sha256:`) or a reference (`busybox`, `busybox:1`, `busybox@sha256:…`), as Docker resolves.
    public func resolve(_ name: String) throws -> ImageRecord {
        var shown = name
        if let r = try? Reference(parsing: name), !(name.allSatisfy(\.isHexDigit) && name.count >= 12) { shown = r.withDefaultTag.familiar }
        let notFound = BerthError.notFound("No such image: \(shown)")
        if name.isEmpty { throw notFound }
        return try state.withLock { s -> ImageRecord in
            if let d = try? Digest(name), let r = s.records[d] { return r }
            if let ref = try? Reference(parsing: name) {
                let full = ref.withDefaultTag
                if let id = s.references[full.description], let r = s.records[id] { return r }
                if let digest = ref.digest {
                    let wanted = "\(ref.familiarRepository)@\(digest)"
                    if let r = s.records.values.first(where: { $0.repoDigests.contains(wanted) }) { return r }
                }
            }
            var prefix = Substring(name)
            if prefix.hasPrefix("sha256:") { prefix = prefix.dropFirst(7) }
            guard !prefix.isEmpty, prefix.count <= 64,
                  prefix.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else { throw notFound }
            let matches = s.records.values.filter { $0.id.encoded.hasPrefix(prefix) }
            if matches.count == 1 { return matches[0] }
            if matches.count > 1 { throw BerthError.invalid("ambiguous image ID prefix \(name): \(matches.count) images match") }
            throw notFound
        }
    }

    /// The image a build step with cache key `buildKey` made on top of `parent` (nil: on
    /// nothing, `FROM scratch`), if it is still here.
    public func buildChild(of parent: Digest?, buildKey: String) -> ImageRecord? {
        state.withLock { s in
            s.records.values.filter { $0.parent == parent && $0.buildKey == buildKey }.max { ($0.created ?? "") < ($1.created ?? "") }
        }
    }

    /// The raw config blob of an image.
    public func configBytes(_ id: Digest) throws -> [UInt8] { try content.read(id) }

    /// The parsed config of an image.
    public func config(_ id: Digest) throws -> ImageConfig {
        try BerthJSONDecoder().decode(ImageConfig.self, from: try configBytes(id))
    }

    // MARK: writing

    /// Records a new image whose config blob, layer blobs and snapshots are committed.
    /// Re-adding an existing image keeps its references and merges repo digests.
    /// `persist: false` keeps the record in memory only until `persist` writes it: a build
    /// records its steps that way and persists them together after one filesystem sync, so a
    /// crash or power loss mid-build leaves garbage to collect, never a record whose files
    /// were not on disk.
    public func add(_ record: ImageRecord, persist: Bool = true) throws {
        guard content.exists(record.id) else { throw BerthError(.internal, "image \(record.id): config blob missing") }
        for l in record.layers {
            guard content.exists(l.blob), snapshots.exists(l.chainID) else {
                throw BerthError(.internal, "image \(record.id): layer \(l.diffID) not committed")
            }
        }
        try state.withLock { s in
            var r = record
            if let old = s.records[r.id] {
                r.repoDigests = Array(Set(old.repoDigests + r.repoDigests)).sorted()
                r.lastTagTime = old.lastTagTime
                if r.parent == nil { r.parent = old.parent }
                if r.buildKey == nil { r.buildKey = old.buildKey }
            }
            if persist || (old(s, r.id) && !s.unpersisted.contains(r.id)) {
                try writeRecord(r)
            } else {
                s.unpersisted.insert(r.id)
            }
            s.records[r.id] = r
        }
    }

    private func old(_ s: State, _ id: Digest) -> Bool { s.records[id] != nil }

    /// Writes the records `add(persist: false)` kept in memory (those still present), then
    /// syncs the record directory. Call after the filesystem holding their files was synced.
    public func persist(_ ids: [Digest]) throws {
        try state.withLock { s in
            for id in ids where s.unpersisted.contains(id) {
                guard let r = s.records[id] else { s.unpersisted.remove(id); continue }
                try writeRecord(r, durable: false)
                s.unpersisted.remove(id)
            }
        }
        try FileSystem.syncDirectory(recordDirectory)
    }

    /// Points a reference at an image. Returns the image it pointed at before, if another.
    @discardableResult
    public func tag(_ id: Digest, as ref: Reference) throws -> Digest? {
        let key = ref.withDefaultTag.description
        return try state.withLock { s -> Digest? in
            guard var r = s.records[id] else { throw BerthError.notFound("No such image: \(id)") }
            let previous = s.references[key]
            if previous == id {
                // Already so (a rebuild from cache): only the tag time moves, which need not
                // be durable.
                r.lastTagTime = WallClock.now().rfc3339Nano
                if !s.unpersisted.contains(id) { try? writeRecord(r, durable: false) }
                s.records[id] = r
                return nil
            }
            s.references[key] = id
            do { try writeReferences(s.references) } catch {
                s.references[key] = previous
                throw error
            }
            // The reference is durable (above); the tag time need not be.
            r.lastTagTime = WallClock.now().rfc3339Nano
            if !s.unpersisted.contains(id) { try? writeRecord(r, durable: false) }
            s.records[id] = r
            return previous == id ? nil : previous
        }
    }

    /// Removes a reference; returns the image it pointed at.
    @discardableResult
    public func untag(_ ref: Reference) throws -> Digest {
        let key = ref.withDefaultTag.description
        return try state.withLock { s -> Digest in
            guard let id = s.references.removeValue(forKey: key) else {
                throw BerthError.notFound("No such image: \(ref.withDefaultTag.familiar)")
            }
            do { try writeReferences(s.references) } catch {
                s.references[key] = id
                throw error
            }
            return id
        }
    }

    /// Removes an image record and its references, then the blobs and snapshots no other image
    /// uses. Returns the chain IDs of the removed snapshots (Docker reports them as deleted).
    @discardableResult
    public func delete(_ id: Digest) throws -> [Digest] {
        let (record, orphanSnapshots, orphanBlobs) = try state.withLock { s -> (ImageRecord, [Digest], [Digest]) in
            guard let r = s.records[id] else { throw BerthError.notFound("No such image: \(id)") }
            let refs = s.references.filter { $0.value == id }.map(\.key)
            for k in refs { s.references.removeValue(forKey: k) }
            if !refs.isEmpty { try writeReferences(s.references) }
            if unlink(recordPath(id)) != 0 && errno != ENOENT { throw BerthError.sys("remove image \(id)") }
            s.records.removeValue(forKey: id)
            s.unpersisted.remove(id)
            var usedSnapshots = Set<Digest>(), usedBlobs = Set<Digest>()
            for other in s.records.values {
                usedBlobs.insert(other.id)
                for l in other.layers { usedSnapshots.insert(l.chainID); usedBlobs.insert(l.blob) }
            }
            let snaps = r.layers.map(\.chainID).filter { !usedSnapshots.contains($0) && s.leases[$0] == nil }
            let blobs = ([r.id] + r.layers.map(\.blob)).filter { !usedBlobs.contains($0) && s.leases[$0] == nil }
            return (r, snaps, blobs)
        }
        _ = record
        for c in orphanSnapshots.reversed() { try snapshots.remove(c) }
        for b in orphanBlobs { try content.delete(b) }
        return orphanSnapshots.reversed()
    }

    // MARK: leases and garbage collection

    /// Protects digests (blobs or snapshots) from collection while work produces them.
    public func lease(_ digests: [Digest]) {
        state.withLock { s in for d in digests { s.leases[d, default: 0] += 1 } }
    }

    public func release(_ digests: [Digest]) {
        state.withLock { s in
            for d in digests {
                if let n = s.leases[d] { if n <= 1 { s.leases.removeValue(forKey: d) } else { s.leases[d] = n - 1 } }
            }
        }
    }

    /// Removes those of `digests` (blobs or snapshots) that no image uses and no lease holds.
    /// The check and the removal happen under the store's lock, so a concurrent lease either
    /// sees the object gone or keeps it.
    public func dropUnused(_ digests: Set<Digest>) {
        var doomed: [String] = []
        state.withLock { s in
            var used = Set<Digest>(s.leases.keys)
            for r in s.records.values {
                used.insert(r.id)
                for l in r.layers { used.insert(l.blob); used.insert(l.chainID) }
            }
            for d in digests where !used.contains(d) {
                try? content.delete(d)
                if FileSystem.exists(snapshots.directory(d)), let t = try? snapshots.makeTempName(),
                   rename(snapshots.directory(d), t) == 0 {
                    doomed.append(t)
                }
            }
        }
        for t in doomed { try? FileSystem.removeTree(t) }
    }

    /// What a collection removed.
    public struct CollectResult: Sendable {
        public var blobs: [Digest] = []
        public var snapshots: [Digest] = []
        public var bytes: Int64 = 0
    }

    /// Removes every blob and snapshot no image references and no lease holds.
    @discardableResult
    public func collect() throws -> CollectResult {
        let (usedBlobs, usedSnapshots) = state.withLock { s -> (Set<Digest>, Set<Digest>) in
            var b = Set<Digest>(s.leases.keys), sn = Set<Digest>(s.leases.keys)
            for r in s.records.values {
                b.insert(r.id)
                for l in r.layers { b.insert(l.blob); sn.insert(l.chainID) }
            }
            return (b, sn)
        }
        var result = CollectResult()
        for d in try content.list() where !usedBlobs.contains(d) {
            if state.withLock({ $0.leases[d] != nil }) { continue }
            result.bytes += content.size(d) ?? 0
            try content.delete(d)
            result.blobs.append(d)
        }
        for c in try snapshots.list() where !usedSnapshots.contains(c) {
            if state.withLock({ $0.leases[c] != nil }) { continue }
            result.bytes += (try? snapshots.info(c).size) ?? 0
            try snapshots.remove(c)
            result.snapshots.append(c)
        }
        return result
    }

    /// Makes a private scratch directory under `tmp/` (removed by the caller, or on next open).
    public func makeScratchDirectory(_ prefix: String) throws -> String {
        var template = Array("\(tmpDirectory)/\(prefix)-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw BerthError.sys("create a directory in \(tmpDirectory)")
        }
        return template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    // MARK: files

    func recordPath(_ id: Digest) -> String { "\(recordDirectory)/\(id.encoded).json" }

    func writeRecord(_ r: ImageRecord, durable: Bool = true) throws {
        try FileSystem.writeAtomically(recordPath(r.id), try BerthJSONEncoder().encode(r), mode: 0o600, durable: durable)
    }

    func writeReferences(_ refs: [String: Digest]) throws {
        var enc = BerthJSONEncoder()
        enc.options = [.sortedKeys]
        try FileSystem.writeAtomically(referencesPath, try enc.encode(ReferencesFile(references: refs)), mode: 0o600)
    }
}
