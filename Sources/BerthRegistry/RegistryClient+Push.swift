#if canImport(Glibc)
import Glibc
#endif
import AsyncHTTPClient
import BerthCore
import BerthOCI
import BerthSystem
import Foundation
import NIOCore
import NIOHTTP1

/// How a blob reached the registry.
public enum BlobPushOutcome: Sendable, Equatable {
    /// The registry had it already (HEAD answered 200).
    case exists
    /// Mounted from another repository of the same registry, without sending its bytes.
    case mounted(from: String)
    /// Uploaded.
    case pushed
}

/// The push side of the distribution client.
///
/// A blob is pushed as Docker does it, with fewer round trips: `HEAD` first (a blob the
/// registry has is not sent again), then a cross-repository mount when a repository of the same
/// registry is known to hold it, then an upload session (`POST`) finished by one `PUT` with the
/// whole blob, or, above `chunkSize`, by `PATCH`es of `chunkSize` bytes with `Content-Range`
/// and a closing `PUT`. A broken connection is resumed: the session's status (`GET`, its
/// `Range`) says what the registry kept, and the upload goes on from there; a session the
/// registry lost is started again. The registry verifies the digest at the final `PUT`, so a
/// partial blob is never visible.
extension RegistryClient {
    /// Whether the repository already has the blob (`HEAD /v2/<name>/blobs/<digest>`).
    public func blobExists(_ ref: Reference, _ digest: Digest, auth: RegistryCredentials? = nil) async throws -> Bool {
        let url = "\(await baseURL(ref.domain))/v2/\(ref.path)/blobs/\(digest)"
        let r = try await send(.HEAD, url, headers: [], ref: ref, actions: "pull,push", auth: auth)
        _ = try? await r.body.collect(upTo: 1 << 20)
        switch r.status {
        case .ok: return true
        case .notFound: return false
        default: throw try await Self.error(r, what: "blob \(digest) of \(ref.familiar)")
        }
    }

    /// Pushes one blob read from `file` (which must hold exactly `d`'s bytes). `mountFrom`
    /// names repositories (paths on the same registry) that hold the blob.
    public func pushBlob(_ ref: Reference, _ d: Descriptor, file: String, mountFrom: [String] = [],
                         auth: RegistryCredentials? = nil, chunkSize: Int64 = 64 << 20, retries: Int = 5,
                         progress: @escaping @Sendable (Int64) -> Void = { _ in }) async throws -> BlobPushOutcome {
        var failures = 0
        /// After a failure: false when it is final (the registry refused), else true after a
        /// backoff (a connection lost, a 5xx: worth another try).
        func shouldRetry(_ error: any Error) async throws -> Bool {
            if let e = error as? RegistryClientError, e.status != 0, !Self.isRetryable(e.status) { return false }
            failures += 1
            if failures > retries { return false }
            try await Task.sleep(nanoseconds: UInt64(250_000_000) << UInt64(min(failures - 1, 4)))
            return true
        }
        while true {
            do {
                if try await blobExists(ref, d.digest, auth: auth) { return .exists }
                break
            } catch {
                if try await !shouldRetry(error) { throw error }
            }
        }
        let base = "\(await baseURL(ref.domain))/v2/\(ref.path)/blobs/uploads/"
        for source in mountFrom where source != ref.path {
            let url = base + "?mount=\(d.digest)&from=\(Self.queryEscape(source))"
            guard let r = try? await send(.POST, url, headers: [("Content-Length", "0")], ref: ref, actions: "pull,push", auth: auth) else { continue }
            _ = try? await r.body.collect(upTo: 1 << 20)
            if r.status == .created { return .mounted(from: source) }
            // 202: the registry started an upload instead; it is abandoned (it expires).
            if r.status == .accepted, let loc = r.headers.first(name: "Location") {
                _ = try? await send(.DELETE, resolve(loc, ref), headers: [], ref: ref, actions: "pull,push", auth: auth)
            }
        }
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BerthError(.notFound, "open \(file): \(String(cString: strerror(errno)))", errno: errno) }
        // Shared: an abandoned request's body stream (AsyncHTTPClient may still pull it after
        // an early error reply) must not pread a number reused after this function returns.
        let file = SharedDescriptor(fd)
        defer { file.close() }
        var location: String?
        var offset: Int64 = 0
        while true {
            do {
                if location == nil {
                    location = try await startUpload(ref, base: base, auth: auth)
                    offset = 0
                }
                guard var at = location else { continue }
                while d.size - offset > chunkSize {
                    let end = offset + chunkSize
                    at = try await patch(ref, at, fd: file, from: offset, to: end, auth: auth, progress: progress)
                    location = at
                    offset = end
                }
                try await finish(ref, at, d, fd: file, from: offset, auth: auth, progress: progress)
                progress(d.size)
                return .pushed
            } catch {
                if try await !shouldRetry(error) { throw error }
                // What did the registry keep? Go on from there, or start a new session.
                if let at = location, let kept = try? await uploadStatus(ref, at, auth: auth), kept <= d.size {
                    offset = kept
                } else {
                    location = nil
                }
            }
        }
    }

    /// Puts a manifest (or index) under `reference` (a tag or its digest); returns the digest.
    @discardableResult
    public func putManifest(_ ref: Reference, reference: String, bytes: [UInt8], mediaType: String,
                            auth: RegistryCredentials? = nil) async throws -> Digest {
        let url = "\(await baseURL(ref.domain))/v2/\(ref.path)/manifests/\(reference)"
        let r = try await send(.PUT, url, headers: [("Content-Type", mediaType), ("Content-Length", "\(bytes.count)")],
                               ref: ref, actions: "pull,push", auth: auth, body: .bytes(ByteBuffer(bytes: bytes)))
        guard r.status == .created || r.status == .ok else { throw try await Self.error(r, what: "manifest \(ref.familiar)") }
        _ = try? await r.body.collect(upTo: 1 << 20)
        let digest = Encoding.sha256(bytes)
        if let sent = r.headers.first(name: "Docker-Content-Digest"), sent != digest.description {
            throw RegistryClientError(status: 0, code: "DIGEST_INVALID",
                                      message: "the registry stored the manifest as \(sent), its bytes hash to \(digest)")
        }
        return digest
    }

    // MARK: upload steps

    func startUpload(_ ref: Reference, base: String, auth: RegistryCredentials?) async throws -> String {
        let r = try await send(.POST, base, headers: [("Content-Length", "0")], ref: ref, actions: "pull,push", auth: auth)
        _ = try? await r.body.collect(upTo: 1 << 20)
        guard r.status == .accepted, let loc = r.headers.first(name: "Location") else {
            throw try await Self.error(r, what: "blob upload to \(ref.familiar)")
        }
        return resolve(loc, ref)
    }

    /// `PATCH` of bytes `from..<to`; returns the session's next location.
    func patch(_ ref: Reference, _ location: String, fd: SharedDescriptor, from: Int64, to: Int64, auth: RegistryCredentials?,
               progress: @escaping @Sendable (Int64) -> Void) async throws -> String {
        let body = HTTPClientRequest.Body.stream(FileChunks(fd: fd, from: from, to: to, progress: progress), length: .known(to - from))
        let r = try await send(.PATCH, location, headers: [("Content-Type", "application/octet-stream"),
                                                          ("Content-Range", "\(from)-\(to - 1)"),
                                                          ("Content-Length", "\(to - from)")],
                               ref: ref, actions: "pull,push", auth: auth, body: body)
        _ = try? await r.body.collect(upTo: 1 << 20)
        guard r.status == .accepted else { throw try await Self.error(r, what: "blob upload to \(ref.familiar)") }
        return r.headers.first(name: "Location").map { resolve($0, ref) } ?? location
    }

    /// The closing `PUT ?digest=` with the bytes from `from` to the end.
    func finish(_ ref: Reference, _ location: String, _ d: Descriptor, fd: SharedDescriptor, from: Int64, auth: RegistryCredentials?,
                progress: @escaping @Sendable (Int64) -> Void) async throws {
        let url = location + (location.contains("?") ? "&" : "?") + "digest=\(d.digest)"
        let length = d.size - from
        let body = HTTPClientRequest.Body.stream(FileChunks(fd: fd, from: from, to: d.size, progress: progress), length: .known(length))
        let r = try await send(.PUT, url, headers: [("Content-Type", "application/octet-stream"), ("Content-Length", "\(length)")],
                               ref: ref, actions: "pull,push", auth: auth, body: body)
        _ = try? await r.body.collect(upTo: 1 << 20)
        guard r.status == .created else { throw try await Self.error(r, what: "blob \(d.digest) upload to \(ref.familiar)") }
    }

    /// The bytes an upload session holds (`GET` its location: `Range: 0-N`), or nil when the
    /// registry no longer knows it.
    func uploadStatus(_ ref: Reference, _ location: String, auth: RegistryCredentials?) async throws -> Int64? {
        let r = try await send(.GET, location, headers: [], ref: ref, actions: "pull,push", auth: auth)
        _ = try? await r.body.collect(upTo: 1 << 20)
        guard r.status == .noContent else { return nil }
        guard let range = r.headers.first(name: "Range") else { return 0 }
        let parts = range.replacingOccurrences(of: "bytes=", with: "").split(separator: "-")
        guard parts.count == 2, let end = Int64(parts[1]) else { return 0 }
        return end + 1
    }

    /// A `Location` header made absolute.
    func resolve(_ location: String, _ ref: Reference) -> String {
        location.hasPrefix("http://") || location.hasPrefix("https://") ? location : knownBaseURL(ref.domain) + location
    }

    static func isRetryable(_ status: Int) -> Bool { status >= 500 || status == 408 || status == 429 }

    static func queryEscape(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~/"))) ?? s
    }
}

/// A file range as a stream of 1 MiB buffers (read with `pread`, so the descriptor's offset is
/// untouched and a retried request can read the same range again).
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let fd: SharedDescriptor
    let from: Int64
    let to: Int64
    let progress: @Sendable (Int64) -> Void

    struct AsyncIterator: AsyncIteratorProtocol {
        let fd: SharedDescriptor
        var offset: Int64
        let to: Int64
        let progress: @Sendable (Int64) -> Void

        mutating func next() async throws -> ByteBuffer? {
            guard offset < to else { return nil }
            let want = Int(Swift.min(to - offset, 1 << 20))
            var buffer = ByteBufferAllocator().buffer(capacity: want)
            let at = offset
            var code: Int32 = EBADF
            let n = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: want) { p -> Int in
                // SAFETY: `p` is the buffer's writable storage of at least `want` bytes; pread
                // writes at most `want` bytes into it.
                fd.use { let n = pread($0, p.baseAddress, want, off_t(at)); code = errno; return n } ?? -1
            }
            guard n > 0 else {
                throw BerthError.invalid("blob file ended at \(offset) of \(to) bytes (\(n < 0 ? String(cString: strerror(code)) : "short read"))")
            }
            offset += Int64(n)
            progress(offset)
            return buffer
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(fd: fd, offset: from, to: to, progress: progress) }
}
