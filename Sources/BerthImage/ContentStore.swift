#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthOCI
import BerthSystem
import struct Crypto.SHA256

/// Content-addressed blobs: `blobs/sha256/<hex>`, each verified against its digest before it is
/// committed, and committed by rename from `ingest/`, so a blob file either is complete and
/// correct or does not exist. A crash leaves at most files in `ingest/`, which `open` clears.
///
/// Durability: small blobs (configs, manifests) are fsynced; large layer blobs are not (the
/// digest is re-verified whenever a blob is streamed out, so a torn blob after power loss is
/// detected, never served).
public final class ContentStore: Sendable {
    /// The store's directory.
    public let root: String
    let blobDirectory: String
    let ingestDirectory: String

    /// Opens (creating) a store under `root`, removing interrupted ingests.
    public init(root: String) throws {
        self.root = root
        blobDirectory = root + "/blobs/sha256"
        ingestDirectory = root + "/ingest"
        try FileSystem.makeDirectories(blobDirectory, mode: 0o700)
        try FileSystem.removeTree(ingestDirectory)
        try FileSystem.makeDirectories(ingestDirectory, mode: 0o700)
    }

    /// The path of a blob (it may not exist).
    public func path(_ digest: Digest) -> String { "\(blobDirectory)/\(digest.encoded)" }

    public func exists(_ digest: Digest) -> Bool { FileSystem.exists(path(digest)) }

    /// The size of a blob, or nil if absent.
    public func size(_ digest: Digest) -> Int64? {
        var st = stat()
        guard stat(path(digest), &st) == 0 else { return nil }
        return Int64(st.st_size)
    }

    /// A whole blob in memory (configs, manifests), verified.
    public func read(_ digest: Digest, limit: Int64 = 64 << 20) throws -> [UInt8] {
        guard let size = size(digest) else { throw BerthError.notFound("blob \(digest) not found") }
        guard size <= limit else { throw BerthError.invalid("blob \(digest) is too large (\(size) bytes)") }
        let bytes = try FileSystem.read(path(digest))
        guard Digester.sha256(bytes) == digest else {
            throw BerthError(.corrupt, "blob \(digest) is corrupt: content does not match its digest")
        }
        return bytes
    }

    /// Writes a small blob in one go; returns its digest. Idempotent. `durable: false` skips
    /// the fsyncs (the caller syncs the filesystem before anything durable names the blob).
    @discardableResult
    public func write(_ bytes: [UInt8], expected: Digest? = nil, durable: Bool = true) throws -> Digest {
        let d = Digester.sha256(bytes)
        if let expected, expected != d {
            throw BerthError.invalid("wrong digest: expected \(expected), content has \(d)")
        }
        if !exists(d) { try FileSystem.writeAtomically(path(d), bytes, mode: 0o600, durable: durable) }
        return d
    }

    /// Starts streaming a blob in.
    public func ingest() throws -> Ingest { try Ingest(store: self) }

    /// Removes a blob (absent is fine).
    public func delete(_ digest: Digest) throws {
        if unlink(path(digest)) != 0 && errno != ENOENT { throw BerthError.sys("remove blob \(digest)") }
    }

    /// Every blob's digest.
    public func list() throws -> [Digest] {
        try FileSystem.list(blobDirectory).compactMap { try? Digest("sha256:" + $0) }
    }

    /// Re-hashes a blob from disk; true if it matches its name.
    public func verify(_ digest: Digest) throws -> Bool {
        let fd = try FD.open(path(digest), O_RDONLY)
        defer { FD.close(fd) }
        var h = Digester()
        try h.consume(fd: fd)
        return h.finalize() == digest
    }

    /// Names of files left in the ingest area (a test checks it is empty after failures).
    public func pendingIngests() throws -> [String] { try FileSystem.list(ingestDirectory) }
}

/// A blob being written: bytes go to a temp file in `ingest/` while being hashed; `commit`
/// verifies and renames it into place; `discard` (or deinit without commit) removes it.
public final class Ingest {
    let store: ContentStore
    /// The temp file (readable until commit or discard).
    public let path: String
    let fd: Int32
    var digester = Digester()
    /// Bytes written so far.
    public private(set) var size: Int64 = 0
    var done = false

    init(store: ContentStore) throws {
        self.store = store
        var template = Array("\(store.ingestDirectory)/ingest-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw BerthError.sys("create a file in \(store.ingestDirectory)") }
        try? FD.setCloseOnExec(fd, true)
        self.fd = fd
        self.path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    deinit {
        if !done { discard() }
    }

    /// Appends bytes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        digester.update(bytes)
        try FD.writeAll(fd, bytes)
        size += Int64(bytes.count)
    }

    /// The digest of what was written so far (call once, at the end).
    public func finalize() -> Digest { digester.finalize() }

    /// Verifies and commits: the blob is then at `store.path(digest)`. `digest` is what
    /// `finalize()` returned; `expected` (if any) must match it.
    public func commit(digest: Digest, expected: Digest? = nil, sync: Bool = false) throws {
        if let expected, expected != digest {
            discard()
            throw BerthError.invalid("wrong digest: expected \(expected), content has \(digest)")
        }
        if sync { fsync(fd) }
        fchmod(fd, 0o600)
        FD.close(fd)
        done = true
        let target = store.path(digest)
        if FileSystem.exists(target) {
            unlink(path)
            return
        }
        guard rename(path, target) == 0 else {
            let e = BerthError.sys("commit blob \(digest)")
            unlink(path)
            throw e
        }
    }

    /// Drops the temp file.
    public func discard() {
        guard !done else { return }
        done = true
        FD.close(fd)
        unlink(path)
    }
}

/// SHA-256 over streamed bytes, producing a `Digest`.
public struct Digester {
    var hasher = SHA256()
    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) { hasher.update(bufferPointer: bytes) }

    /// Hashes the rest of a file descriptor.
    public mutating func consume(fd: Int32) throws {
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buf.deallocate() }
        while true {
            let n = read(fd, buf.baseAddress, buf.count)
            if n < 0 { if errno == EINTR { continue }; throw BerthError.sys("read") }
            if n == 0 { break }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buf[0..<n]))
        }
    }

    public func finalize() -> Digest {
        let d = hasher.finalize()
        var hex = ""
        hex.reserveCapacity(64)
        let digits = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        for b in d {
            bytes.append(digits[Int(b >> 4)])
            bytes.append(digits[Int(b & 15)])
        }
        hex = String(decoding: bytes, as: UTF8.self)
        // SAFETY of the force-try-free path: 64 lower-case hex digits always form a valid digest.
        return Digest(unchecked: "sha256", hex)
    }

    /// The digest of bytes in memory.
    public static func sha256(_ bytes: [UInt8]) -> Digest {
        var d = Digester()
        bytes.withUnsafeBytes { d.update($0) }
        return d.finalize()
    }
}
