#if canImport(Glibc)
import Glibc
#endif
import BerthArchive
import BerthCore
import BerthOCI
import BerthSystem

/// One committed layer snapshot: the layer's files in overlayfs lower-dir form (whiteouts as
/// 0/0 character devices, opaque directories as `trusted.overlay.opaque=y`).
public struct SnapshotInfo: Codable, Sendable, Equatable {
    /// The chain ID naming this snapshot (layer digests of the image spec, config.md).
    public var chainID: Digest
    /// The snapshot below, nil for a base layer.
    public var parent: Digest?
    /// The uncompressed layer's digest.
    public var diffID: Digest
    /// Bytes of the uncompressed layer tar.
    public var size: Int64
    /// Bytes of file content in the layer (what Docker reports as the layer's size).
    public var contentSize: Int64?
}

/// Layer snapshots by chain ID: `snapshots/<hex>/fs` + `meta.json`. A snapshot is extracted
/// into `snapshots/.tmp/` and committed by one rename, so a snapshot directory is either
/// complete or absent; `init` clears interrupted extractions. Snapshots are independent of
/// their parents on disk (overlay form), so layers of one image extract in parallel.
public final class OverlaySnapshotter: Sendable {
    public let root: String
    let tmpRoot: String

    public init(root: String) throws {
        self.root = root
        tmpRoot = root + "/.tmp"
        try FileSystem.makeDirectories(root, mode: 0o700)
        try FileSystem.removeTree(tmpRoot)
        try FileSystem.makeDirectories(tmpRoot, mode: 0o700)
    }

    /// The chain IDs of a stack of diff IDs: chain(0) = diff(0), chain(n) = sha256("chain(n-1) diff(n)").
    public static func chainIDs(_ diffIDs: [Digest]) -> [Digest] {
        var out: [Digest] = []
        for d in diffIDs {
            if let last = out.last {
                out.append(Digester.sha256(Array("\(last) \(d)".utf8)))
            } else {
                out.append(d)
            }
        }
        return out
    }

    public func directory(_ chainID: Digest) -> String { "\(root)/\(chainID.encoded)" }
    /// The layer's files.
    public func fsPath(_ chainID: Digest) -> String { directory(chainID) + "/fs" }

    public func exists(_ chainID: Digest) -> Bool { FileSystem.exists(directory(chainID) + "/meta.json") }

    public func info(_ chainID: Digest) throws -> SnapshotInfo {
        let bytes: [UInt8]
        do { bytes = try FileSystem.read(directory(chainID) + "/meta.json") } catch {
            throw BerthError.notFound("layer \(chainID) not found")
        }
        return try BerthJSONDecoder().decode(SnapshotInfo.self, from: bytes)
    }

    /// Every committed snapshot.
    public func list() throws -> [Digest] {
        try FileSystem.list(root).compactMap { name in
            guard name != ".tmp", let d = try? Digest("sha256:" + name), exists(d) else { return nil }
            return d
        }
    }

    /// The lower dirs of an overlay mount of this snapshot, top first.
    public func lowerDirs(_ chainID: Digest) throws -> [String] {
        var out: [String] = []
        var current: Digest? = chainID
        while let c = current {
            out.append(fsPath(c))
            current = try info(c).parent
        }
        return out
    }

    /// Extracts a layer blob (a file, compressed or not) into a new snapshot and commits it.
    /// The uncompressed stream is hashed on the way and must equal `diffID` — unless the blob
    /// is uncompressed and `blobDigest` (its content-store digest, verified when it was
    /// committed) already equals `diffID`: then the same bytes are not hashed twice.
    /// - Returns: the committed snapshot (an existing one is returned as is).
    @discardableResult
    public func apply(blobPath: String, diffID: Digest, parent: Digest?, chainID: Digest, blobDigest: Digest? = nil,
                      applyOptions: LayerApplyOptions = LayerApplyOptions(), durable: Bool = true) throws -> SnapshotInfo {
        if exists(chainID) { return try info(chainID) }
        let fd = try FD.open(blobPath, O_RDONLY)
        defer { FD.close(fd) }
        return try apply(source: { buf in try FD.readSome(fd, into: buf, what: "layer") }, diffID: diffID, parent: parent,
                         chainID: chainID, verifiedUncompressed: blobDigest == diffID ? diffID : nil,
                         applyOptions: applyOptions, durable: durable)
    }

    /// Extracts a layer from a stream (compression detected from its first bytes). When
    /// `diffID` is nil the computed one is accepted (imports); otherwise it must match.
    /// `durable: false` skips the fsync of `meta.json` (a build syncs the filesystem once).
    @discardableResult
    /// `verifiedUncompressed`: the digest the stream is already known to have if it turns out
    /// to be uncompressed (it is then not hashed again).
    public func apply(source: @escaping TarReader.Source, diffID expected: Digest?, parent: Digest?,
                      chainID given: Digest?, verifiedUncompressed: Digest? = nil,
                      applyOptions: LayerApplyOptions = LayerApplyOptions(),
                      durable: Bool = true) throws -> SnapshotInfo {
        let temp = try makeTemp()
        var committed = false
        defer { if !committed { try? FileSystem.removeTree(temp) } }
        let fsDir = temp + "/fs"
        try FileSystem.makeDirectories(fsDir, mode: 0o755)

        // The compression, from the first bytes.
        let detected = try DecompressingSource.detecting(source)
        let decompressed = detected.source
        let known = detected.compression == .none ? verifiedUncompressed : nil
        var digester = Digester()
        var size: Int64 = 0
        let hashing: TarReader.Source = { buf in
            let n = try decompressed(buf)
            if n > 0 {
                if known == nil { digester.update(UnsafeRawBufferPointer(rebasing: buf[0..<n])) }
                size += Int64(n)
            }
            return n
        }
        var reader = TarReader(source: hashing)
        let stats = try LayerApplier.apply(&reader, to: fsDir, options: applyOptions)
        // Hash whatever follows the end-of-archive marker too: the diff ID covers every byte.
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
        defer { scratch.deallocate() }
        while try hashing(scratch) > 0 {}
        let diffID = known ?? digester.finalize()
        if let expected, expected != diffID {
            throw BerthError.invalid("layer diff ID mismatch: expected \(expected), content has \(diffID)")
        }
        let chainID = given ?? (parent.map { Digester.sha256(Array("\($0) \(diffID)".utf8)) } ?? diffID)
        if exists(chainID) { return try info(chainID) }
        let info = SnapshotInfo(chainID: chainID, parent: parent, diffID: diffID, size: size, contentSize: stats.bytes)
        try FileSystem.writeAtomically(temp + "/meta.json", try BerthJSONEncoder().encode(info), mode: 0o600, durable: durable)
        let target = directory(chainID)
        guard rename(temp, target) == 0 else {
            if errno == EEXIST || errno == ENOTEMPTY { return try self.info(chainID) }
            throw BerthError.sys("commit layer \(chainID)")
        }
        committed = true
        return info
    }

    /// Removes a snapshot: renamed into `.tmp` first so a crash never leaves half a snapshot
    /// under its name.
    public func remove(_ chainID: Digest) throws {
        let dir = directory(chainID)
        guard FileSystem.exists(dir) else { return }
        let doomed = try makeTempName()
        guard rename(dir, doomed) == 0 else { throw BerthError.sys("remove layer \(chainID)") }
        try FileSystem.removeTree(doomed)
    }

    /// Names of interrupted extractions left behind (a test checks it is empty).
    public func pendingTemps() throws -> [String] { try FileSystem.list(tmpRoot) }

    func makeTempName() throws -> String {
        let dir = try makeTemp()
        rmdir(dir)
        return dir
    }

    func makeTemp() throws -> String {
        var template = Array("\(tmpRoot)/snap-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw BerthError.sys("create a directory in \(tmpRoot)")
        }
        return template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}
