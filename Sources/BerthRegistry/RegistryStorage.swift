#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthOCI
import BerthSystem
import struct Crypto.SHA256
import Synchronization

/// The registry's files under one root directory, crash-safe:
///
/// ```
/// blobs/sha256/<hex>                                  content, committed by rename once verified
/// uploads/<uuid>/data, uploads/<uuid>/state           resumable uploads (offset, start time)
/// repositories/<name>/_layers/sha256/<hex>            "this repo may see that blob"
/// repositories/<name>/_manifests/revisions/sha256/<hex>   the manifest's media type
/// repositories/<name>/_manifests/tags/<tag>           the digest the tag points to
/// repositories/<name>/_referrers/sha256/<subject hex>/sha256/<hex>   a referrer's descriptor
/// ```
///
/// Every small file is written atomically (temp file + rename); a blob appears under
/// `blobs/` only after its SHA-256 matched the digest the client gave, so a crash or a bad
/// upload never leaves a visible partial blob. Blob data is not reference counted: deleting
/// a blob or manifest removes the repository's link, never the shared content (no GC yet).
public final class RegistryStorage: Sendable {
    /// The state of a resumable upload, as kept in `uploads/<uuid>/state`.
    public struct Upload: Sendable, Equatable {
        /// The upload id (a UUID we issued).
        public var id: String
        /// The repository the upload belongs to.
        public var repository: String
        /// Bytes received and kept so far; the next chunk must start here.
        public var offset: Int64
        /// When the upload started (seconds since the epoch).
        public var startedAt: Int64
    }

    /// What a repository stores for a manifest revision.
    public struct ManifestRecord: Sendable {
        /// The manifest's digest.
        public var digest: Digest
        /// The media type it was stored with (served as `Content-Type`).
        public var mediaType: String
        /// The manifest bytes exactly as pushed.
        public var bytes: [UInt8]
    }

    /// The storage root.
    public let root: String
    /// Uploads older than this (seconds since they started) are removed by ``purgeUploads(olderThan:now:)``
    /// and when the storage is opened.
    public let uploadExpiry: Int64
    let blobDirectory: String
    let uploadDirectory: String
    let repositoryDirectory: String
    /// Uploads a request is writing right now (one writer per upload).
    let busyUploads = Mutex<Set<String>>([])

    /// Opens (creating) storage under `root`. Committed content is never touched; upload
    /// directories that never finished being created, and uploads older than `uploadExpiry`
    /// seconds, are removed; stray temp files in `blobs/` are removed.
    public init(root: String, uploadExpiry: Int64 = 24 * 3600) throws {
        self.root = root
        self.uploadExpiry = uploadExpiry
        blobDirectory = root + "/blobs/sha256"
        uploadDirectory = root + "/uploads"
        repositoryDirectory = root + "/repositories"
        for dir in [blobDirectory, uploadDirectory, repositoryDirectory] {
            try FileSystem.makeDirectories(dir, mode: 0o755)
        }
        for name in try FileSystem.list(blobDirectory) where name.hasPrefix(".") {
            try FileSystem.removeTree("\(blobDirectory)/\(name)")
        }
        try purgeUploads(olderThan: uploadExpiry)
    }

    // MARK: files

    /// Writes a small file atomically: a temp file named `.tmp-…` in the same directory (a
    /// leading dot cannot begin a tag, a name component or a hex digest, so listings skip temp
    /// files by that alone), optionally fsynced, renamed over `path`, directory fsynced.
    func writeFile(_ path: String, _ bytes: [UInt8], durable: Bool = true) throws {
        let dir = FileSystem.parentDirectory(of: path)
        let tmp = "\(dir)/.tmp-\(Encoding.uuid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw BerthError.sys("create \(tmp)") }
        do {
            try FD.writeAll(fd, bytes)
            if durable && fsync(fd) != 0 { throw BerthError.sys("fsync \(tmp)") }
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
        // Closed once, before the rename: a failed rename must not close the number again.
        close(fd)
        guard rename(tmp, path) == 0 else {
            let e = BerthError.sys("rename \(tmp) to \(path)")
            unlink(tmp)
            throw e
        }
        if durable { try FileSystem.syncDirectory(dir) }
    }

    /// Names in a directory without temp files, or none if it does not exist.
    func listNames(_ dir: String) throws -> [String] {
        guard FileSystem.isDirectory(dir) else { return [] }
        return try FileSystem.list(dir).filter { !$0.hasPrefix(".") }
    }

    // MARK: paths

    func blobPath(_ digest: Digest) -> String { "\(blobDirectory)/\(digest.encoded)" }
    func repositoryPath(_ name: String) -> String { "\(repositoryDirectory)/\(name)" }
    func layerLink(_ name: String, _ digest: Digest) -> String {
        "\(repositoryPath(name))/_layers/\(digest.algorithm)/\(digest.encoded)"
    }
    func revisionPath(_ name: String, _ digest: Digest) -> String {
        "\(repositoryPath(name))/_manifests/revisions/\(digest.algorithm)/\(digest.encoded)"
    }
    func tagPath(_ name: String, _ tag: String) -> String { "\(repositoryPath(name))/_manifests/tags/\(tag)" }
    func referrersDirectory(_ name: String, _ subject: Digest) -> String {
        "\(repositoryPath(name))/_referrers/\(subject.algorithm)/\(subject.encoded)"
    }
    func uploadPath(_ id: String) -> String { "\(uploadDirectory)/\(id)" }

    // MARK: repositories

    /// Whether the repository has ever received a blob or manifest.
    public func repositoryExists(_ name: String) -> Bool {
        FileSystem.exists(repositoryPath(name) + "/_layers") || FileSystem.exists(repositoryPath(name) + "/_manifests")
    }

    /// All repository names, sorted (a directory is a repository if it has `_layers` or
    /// `_manifests`; name components never start with `_`, so the two cannot collide).
    public func repositories() throws -> [String] {
        var found: [String] = []
        func walk(_ dir: String, _ prefix: String) throws {
            let names = (try? listNames(dir)) ?? []
            if names.contains("_layers") || names.contains("_manifests") { found.append(prefix) }
            for n in names where !n.hasPrefix("_") {
                let path = "\(dir)/\(n)"
                if FileSystem.isDirectory(path) { try walk(path, prefix.isEmpty ? n : "\(prefix)/\(n)") }
            }
        }
        try walk(repositoryDirectory, "")
        return found.filter { !$0.isEmpty }.sorted()
    }

    // MARK: blobs

    /// The size of a committed blob, or nil.
    public func blobSize(_ digest: Digest) -> Int64? {
        var st = stat()
        guard stat(blobPath(digest), &st) == 0 else { return nil }
        return Int64(st.st_size)
    }

    /// The file and size of `digest` if the repository may see it (it uploaded or mounted it).
    public func blob(_ digest: Digest, in repository: String) -> (path: String, size: Int64)? {
        guard FileSystem.exists(layerLink(repository, digest)), let size = blobSize(digest) else { return nil }
        return (blobPath(digest), size)
    }

    /// Makes a committed blob visible in `repository`.
    public func link(_ digest: Digest, into repository: String) throws {
        let path = layerLink(repository, digest)
        if FileSystem.exists(path) { return }
        try FileSystem.makeDirectories(FileSystem.parentDirectory(of: path))
        try writeFile(path, Array(digest.description.utf8))
    }

    /// Cross-repository mount: links `digest` into `repository` if `source` may see it.
    /// Returns the blob's size, or nil when `source` does not have it.
    public func mount(_ digest: Digest, from source: String, into repository: String) throws -> Int64? {
        guard let (_, size) = blob(digest, in: source) else { return nil }
        try link(digest, into: repository)
        return size
    }

    /// Removes the repository's link to a blob (the content stays for other repositories).
    public func deleteBlob(_ digest: Digest, in repository: String) throws {
        let path = layerLink(repository, digest)
        guard FileSystem.exists(path) else {
            throw RegistryError(.blobUnknown, "blob unknown to registry", detail: .string(digest.description))
        }
        try FileSystem.removeTree(path)
    }

    /// Stores small content (a manifest) as a blob, durably, if absent. Returns its digest.
    @discardableResult
    func writeBlob(_ bytes: [UInt8]) throws -> Digest {
        let digest = Encoding.sha256(bytes)
        if blobSize(digest) != Int64(bytes.count) {
            try writeFile(blobPath(digest), bytes)
        }
        return digest
    }

    // MARK: uploads

    /// Starts an upload for `repository`: `uploads/<uuid>/` appears (by rename) only with its
    /// data and state files complete.
    public func startUpload(repository: String, now: Int64 = WallClock.now().seconds) throws -> Upload {
        let id = Encoding.uuid()
        let temp = "\(uploadDirectory)/.tmp-\(id)"
        try FileSystem.makeDirectories(temp)
        let fd = open(temp + "/data", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw BerthError.sys("create \(temp)/data") }
        close(fd)
        let upload = Upload(id: id, repository: repository, offset: 0, startedAt: now)
        try writeState(upload, directory: temp)
        guard rename(temp, uploadPath(id)) == 0 else { throw BerthError.sys("rename \(temp)") }
        return upload
    }

    func writeState(_ upload: Upload, directory: String) throws {
        let value: JSONValue = [
            "repository": .string(upload.repository),
            "offset": JSONValue(upload.offset),
            "startedAt": JSONValue(upload.startedAt),
        ]
        // Not fsynced: after a power loss the offset may be ahead of the data, and the digest
        // check at commit then refuses the blob; nothing wrong is ever made visible.
        try writeFile(directory + "/state", JSON.serialize(value), durable: false)
    }

    /// The state of upload `id`, which must belong to `repository`.
    public func upload(_ id: String, repository: String) throws -> Upload {
        let unknown = RegistryError(.blobUploadUnknown, "blob upload unknown to registry", detail: .string(id))
        guard Encoding.isUUID(id), let bytes = try? FileSystem.read(uploadPath(id) + "/state"),
              let value = try? JSON.parse(bytes),
              let repo = value["repository"]?.stringValue, let offset = value["offset"]?.int64Value,
              let started = value["startedAt"]?.int64Value, repo == repository
        else { throw unknown }
        return Upload(id: id, repository: repo, offset: offset, startedAt: started)
    }

    /// Appends a body to upload `id`. `expectedOffset` (the start of the client's
    /// `Content-Range`) must equal the current offset, else `416 RANGE_INVALID`. Bytes are
    /// written as they arrive; if the body stops early (client gone), what arrived is kept and
    /// the offset says so, so the client can ask `GET <location>` and resume from there.
    /// Returns the new state.
    public func append<Body: AsyncSequence>(
        to id: String, repository: String, expectedOffset: Int64? = nil, body: Body
    ) async throws -> Upload where Body.Element == [UInt8] {
        var upload = try self.upload(id, repository: repository)
        if let expectedOffset, expectedOffset != upload.offset {
            throw RegistryError(.rangeInvalid, "invalid content range", detail: .string(
                "expected a chunk starting at \(upload.offset), got \(expectedOffset)"),
                status: 416)
        }
        let claimed = busyUploads.withLock { $0.insert(id).inserted }
        guard claimed else {
            throw RegistryError(.blobUploadInvalid, "blob upload is being written by another request", status: 409)
        }
        defer { _ = busyUploads.withLock { $0.remove(id) } }

        let path = uploadPath(id) + "/data"
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BerthError.sys("open \(path)") }
        defer { close(fd) }
        // Bytes past the recorded offset are a torn write of a crashed server: drop them.
        guard ftruncate(fd, off_t(upload.offset)) == 0 else { throw BerthError.sys("truncate \(path)") }
        var offset = upload.offset
        var failure: (any Error)?
        do {
            for try await chunk in body {
                try chunk.withUnsafeBytes { buf in
                    var done = 0
                    while done < buf.count {
                        let n = pwrite(fd, buf.baseAddress! + done, buf.count - done, off_t(offset) + off_t(done))
                        if n < 0 { if errno == EINTR { continue }; throw BerthError.sys("write \(path)") }
                        done += n
                    }
                }
                offset += Int64(chunk.count)
            }
        } catch {
            failure = error
        }
        upload.offset = offset
        try writeState(upload, directory: uploadPath(id))
        if let failure { throw failure }
        return upload
    }

    /// Finishes upload `id`: the data must hash to `digest` (else `DIGEST_INVALID`, and the
    /// upload is removed), then it is fsynced, renamed to `blobs/sha256/<hex>` (or dropped if
    /// that blob exists already) and linked into the repository. Returns the blob's size.
    public func commitUpload(_ id: String, repository: String, digest: Digest) async throws -> Int64 {
        _ = try upload(id, repository: repository)
        let claimed = busyUploads.withLock { $0.insert(id).inserted }
        guard claimed else {
            throw RegistryError(.blobUploadInvalid, "blob upload is being written by another request", status: 409)
        }
        defer { _ = busyUploads.withLock { $0.remove(id) } }
        let dir = uploadPath(id)
        let state = try upload(id, repository: repository)
        return try await BlockingWork.run { [self] in
            let path = dir + "/data"
            let fd = open(path, O_RDWR | O_CLOEXEC)
            guard fd >= 0 else {
                // A crash between committing the data and removing the upload: the client
                // starts over (and finds the blob there, or mounts it).
                if errno == ENOENT {
                    try? FileSystem.removeTree(dir)
                    throw RegistryError(.blobUploadUnknown, "blob upload unknown to registry", detail: .string(id))
                }
                throw BerthError.sys("open \(path)")
            }
            defer { close(fd) }
            _ = ftruncate(fd, off_t(state.offset))
            guard digest.algorithm == "sha256" else {
                try? FileSystem.removeTree(dir)
                throw RegistryError(.digestInvalid, "provided digest did not match uploaded content",
                                    detail: .string("unsupported digest algorithm \(digest.algorithm)"))
            }
            let actual = try Self.sha256(fd: fd)
            guard actual == digest else {
                try? FileSystem.removeTree(dir)
                throw RegistryError(.digestInvalid, "provided digest did not match uploaded content",
                                    detail: .string("expected \(digest), got \(actual)"))
            }
            if blobSize(digest) != state.offset {
                guard fsync(fd) == 0 else { throw BerthError.sys("fsync \(path)") }
                guard rename(path, blobPath(digest)) == 0 else { throw BerthError.sys("commit blob \(digest)") }
                try FileSystem.syncDirectory(blobDirectory)
            }
            try link(digest, into: repository)
            try FileSystem.removeTree(dir)
            return state.offset
        }
    }

    /// Cancels upload `id` (its files are removed).
    public func cancelUpload(_ id: String, repository: String) throws {
        _ = try upload(id, repository: repository)
        try FileSystem.removeTree(uploadPath(id))
    }

    /// Removes half-created upload directories and uploads started more than `seconds` ago.
    /// Returns how many were removed.
    @discardableResult
    public func purgeUploads(olderThan seconds: Int64, now: Int64 = WallClock.now().seconds) throws -> Int {
        var removed = 0
        for name in try FileSystem.list(uploadDirectory) {
            let path = "\(uploadDirectory)/\(name)"
            var stale = !Encoding.isUUID(name)
            if !stale {
                if let bytes = try? FileSystem.read(path + "/state"), let value = try? JSON.parse(bytes),
                   let started = value["startedAt"]?.int64Value {
                    stale = now - started > seconds
                } else {
                    stale = true
                }
            }
            if stale && !busyUploads.withLock({ $0.contains(name) }) {
                try FileSystem.removeTree(path)
                removed += 1
            }
        }
        return removed
    }

    /// The SHA-256 of a whole file, read from the start.
    static func sha256(fd: Int32) throws -> Digest {
        var hasher = SHA256()
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buf.deallocate() }
        var offset: off_t = 0
        while true {
            let n = pread(fd, buf.baseAddress, buf.count, offset)
            if n < 0 { if errno == EINTR { continue }; throw BerthError.sys("read upload") }
            if n == 0 { break }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buf[0..<n]))
            offset += off_t(n)
        }
        return Digest(unchecked: "sha256", Encoding.hex(hasher.finalize()))
    }

    // MARK: manifests

    /// Stores a manifest (already validated by the caller): the bytes as a blob, a revision
    /// record with its media type, a referrer record under its subject, then the tag if
    /// `tag` is given. Each step is atomic; a crash between steps leaves an untagged (or
    /// unreferenced) manifest, never a tag pointing at nothing.
    public func putManifest(
        _ bytes: [UInt8], mediaType: String, repository: String, tag: String?, subject: Digest?,
        referrer: JSONValue?
    ) throws -> Digest {
        let digest = try writeBlob(bytes)
        let revision = revisionPath(repository, digest)
        try FileSystem.makeDirectories(FileSystem.parentDirectory(of: revision))
        try writeFile(revision, Array(mediaType.utf8))
        if let subject, let referrer {
            let dir = referrersDirectory(repository, subject) + "/\(digest.algorithm)"
            try FileSystem.makeDirectories(dir)
            try writeFile("\(dir)/\(digest.encoded)", JSON.serialize(referrer))
        }
        if let tag {
            let path = tagPath(repository, tag)
            try FileSystem.makeDirectories(FileSystem.parentDirectory(of: path))
            try writeFile(path, Array(digest.description.utf8))
        }
        return digest
    }

    /// Whether the repository has manifest `digest`.
    public func hasManifest(_ digest: Digest, in repository: String) -> Bool {
        FileSystem.exists(revisionPath(repository, digest)) && blobSize(digest) != nil
    }

    /// The digest a tag points to, or nil.
    public func resolveTag(_ tag: String, in repository: String) -> Digest? {
        guard let text = try? FileSystem.readString(tagPath(repository, tag)) else { return nil }
        return try? Digest(text)
    }

    /// A manifest by digest, or nil when the repository does not have it.
    public func manifest(_ digest: Digest, in repository: String) throws -> ManifestRecord? {
        guard let mediaType = try? FileSystem.readString(revisionPath(repository, digest)),
              let bytes = try? FileSystem.read(blobPath(digest), limit: 4 << 20 + 1)
        else { return nil }
        guard Encoding.sha256(bytes) == digest else {
            throw BerthError(.corrupt, "manifest \(digest) is corrupt: content does not match its digest")
        }
        return ManifestRecord(digest: digest, mediaType: mediaType, bytes: bytes)
    }

    /// Deletes manifest `digest` from the repository: its revision record, every tag that
    /// points to it, and its referrer record. Returns false if it was not there.
    public func deleteManifest(_ digest: Digest, in repository: String) throws -> Bool {
        guard let record = try manifest(digest, in: repository) else { return false }
        for tag in try tags(repository) where resolveTag(tag, in: repository) == digest {
            try FileSystem.removeTree(tagPath(repository, tag))
        }
        if let value = try? JSON.parse(record.bytes), let s = value["subject"]?["digest"]?.stringValue,
           let subject = try? Digest(s) {
            try FileSystem.removeTree(referrersDirectory(repository, subject) + "/\(digest.algorithm)/\(digest.encoded)")
        }
        try FileSystem.removeTree(revisionPath(repository, digest))
        return true
    }

    /// The repository's tags, sorted.
    public func tags(_ repository: String) throws -> [String] {
        try listNames(repositoryPath(repository) + "/_manifests/tags").sorted()
    }

    /// The descriptors of manifests whose `subject` is `digest`, ordered by digest.
    public func referrers(of subject: Digest, in repository: String) throws -> [JSONValue] {
        let dir = referrersDirectory(repository, subject) + "/sha256"
        var out: [JSONValue] = []
        for name in try listNames(dir).sorted() {
            guard let bytes = try? FileSystem.read("\(dir)/\(name)"), let value = try? JSON.parse(bytes) else { continue }
            // A referrer whose manifest was deleted some other way is skipped.
            if let d = value["digest"]?.stringValue, let digest = try? Digest(d), hasManifest(digest, in: repository) {
                out.append(value)
            }
        }
        return out
    }
}

extension RegistryStorage {
    /// Removes a tag (the manifest stays). Returns false if there was no such tag.
    public func deleteTag(_ tag: String, in repository: String) throws -> Bool {
        let path = tagPath(repository, tag)
        guard FileSystem.exists(path) else { return false }
        try FileSystem.removeTree(path)
        return true
    }
}
