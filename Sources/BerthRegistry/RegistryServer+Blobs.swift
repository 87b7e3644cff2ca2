#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthHTTP
import BerthOCI
import BerthSystem

extension RegistryServer {
    /// Parses `Range: bytes=a-b`, `bytes=a-` or `bytes=-n` against `size`. Nil when there is no
    /// Range header; throws `416` (with `Content-Range: bytes */size`) when it cannot be met.
    static func byteRange(_ header: String?, size: Int64) throws -> ClosedRange<Int64>? {
        guard let header else { return nil }
        let unsatisfiable = RegistryUnsatisfiable(size: size)
        guard header.hasPrefix("bytes="), !header.contains(",") else { throw unsatisfiable }
        let spec = header.dropFirst(6)
        guard let dash = spec.firstIndex(of: "-") else { throw unsatisfiable }
        let first = spec[..<dash].trimmingSpaces()
        let last = spec[spec.index(after: dash)...].trimmingSpaces()
        if first.isEmpty {
            guard let n = Int64(last), n > 0, size > 0 else { throw unsatisfiable }
            return max(0, size - n)...(size - 1)
        }
        guard let a = Int64(first), a >= 0, a < size else { throw unsatisfiable }
        if last.isEmpty { return a...(size - 1) }
        guard let b = Int64(last), b >= a else { throw unsatisfiable }
        return a...min(b, size - 1)
    }

    func getBlob(_ request: HTTPRequest, name: String, digest text: String) throws -> HTTPResponse {
        let digest = try Self.parseDigest(text)
        guard let (path, size) = storage.blob(digest, in: name) else {
            throw RegistryError(.blobUnknown, "blob unknown to registry", detail: .string(digest.description))
        }
        var headers: HTTPHeaderFields = [
            ("Content-Type", "application/octet-stream"),
            ("Docker-Content-Digest", digest.description),
            ("ETag", "\"\(digest)\""),
            ("Accept-Ranges", "bytes"),
            ("Cache-Control", "max-age=31536000"),
            Self.apiVersionHeader,
        ]
        let range = try Self.byteRange(request.method == "GET" ? request.headers["Range"] : nil, size: size)
        let status = range == nil ? 200 : 206
        let span = range ?? 0...(size - 1)
        let length = size == 0 ? 0 : span.upperBound - span.lowerBound + 1
        if let range { headers.add("Content-Range", "bytes \(range.lowerBound)-\(range.upperBound)/\(size)") }
        if request.method == "HEAD" {
            return .bytes(status: 200, headers: headers, body: Self.headBody(length: size))
        }
        if length <= fixedBodyLimit {
            let bytes = try Self.readRange(path, offset: span.lowerBound, length: Int(length))
            return .bytes(status: status, headers: headers, body: bytes)
        }
        let start = span.lowerBound
        return .stream(status: status, headers: headers) { writer in
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw BerthError.sys("open \(path)") }
            defer { close(fd) }
            var offset = start
            var left = length
            while left > 0 {
                let chunk = try Self.pread(fd, offset: offset, length: Int(min(left, 256 << 10)))
                guard !chunk.isEmpty else { throw BerthError(.corrupt, "blob \(digest) is shorter than its size") }
                try await writer.write(chunk)
                offset += Int64(chunk.count)
                left -= Int64(chunk.count)
            }
        }
    }

    /// The "body" of a HEAD answer: BerthHTTP sets `Content-Length` from a fixed body's count
    /// and never sends the body of a HEAD response, so the array only has to have the right
    /// count. Its memory is left uninitialized: large allocations come from fresh anonymous
    /// mappings, so no page of it is ever touched. Beyond 1 GiB we give up and answer a
    /// zero length (see README, limits).
    static func headBody(length: Int64) -> [UInt8] {
        guard length > 0, length <= 1 << 30 else { return [] }
        // SAFETY: UInt8 is a trivial type, so an uninitialized element is not a broken invariant;
        // the bytes are never read (the HTTP layer does not write bodies of HEAD responses).
        return [UInt8](unsafeUninitializedCapacity: Int(length)) { _, count in count = Int(length) }
    }

    static func pread(_ fd: Int32, offset: Int64, length: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: length)
        var filled = 0
        while filled < length {
            let n = out.withUnsafeMutableBytes { buf in
                Glibc.pread(fd, buf.baseAddress! + filled, length - filled, off_t(offset) + off_t(filled))
            }
            if n < 0 { if errno == EINTR { continue }; throw BerthError.sys("read blob") }
            if n == 0 { break }
            filled += n
        }
        if filled < length { out.removeLast(length - filled) }
        return out
    }

    static func readRange(_ path: String, offset: Int64, length: Int) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BerthError.sys("open \(path)") }
        defer { close(fd) }
        return try pread(fd, offset: offset, length: length)
    }

    func deleteBlob(name: String, digest text: String) throws -> HTTPResponse {
        guard deleteEnabled else { throw Self.methodNotAllowed }
        let digest = try Self.parseDigest(text)
        try storage.deleteBlob(digest, in: name)
        return .bytes(status: 202, headers: [Self.apiVersionHeader, ("Docker-Content-Digest", digest.description)])
    }

    // MARK: uploads

    func uploadHeaders(name: String, upload: RegistryStorage.Upload) -> HTTPHeaderFields {
        [
            ("Location", "/v2/\(name)/blobs/uploads/\(upload.id)"),
            ("Range", "0-\(max(upload.offset - 1, 0))"),
            ("Docker-Upload-UUID", upload.id),
            Self.apiVersionHeader,
        ]
    }

    func blobCreated(name: String, digest: Digest) -> HTTPResponse {
        .bytes(status: 201, headers: [
            ("Location", "/v2/\(name)/blobs/\(digest)"),
            ("Docker-Content-Digest", digest.description),
            Self.apiVersionHeader,
        ])
    }

    func startUpload(_ request: HTTPRequest, name: String) async throws -> HTTPResponse {
        if let mount = request.queryValue("mount"), let from = request.queryValue("from"),
           let digest = try? Digest(mount), RepositoryName.isValid(from),
           denial(request, need: RegistryAuth.Access(type: "repository", name: from, actions: ["pull"])) == nil,
           try storage.mount(digest, from: from, into: name) != nil {
            return blobCreated(name: name, digest: digest)
        }
        if let text = request.queryValue("digest") {
            // Monolithic upload: the body is the whole blob.
            let digest = try Self.parseDigest(text)
            let upload = try storage.startUpload(repository: name)
            do {
                _ = try await storage.append(to: upload.id, repository: name, body: request.body)
                _ = try await storage.commitUpload(upload.id, repository: name, digest: digest)
            } catch {
                try? storage.cancelUpload(upload.id, repository: name)
                throw error
            }
            return blobCreated(name: name, digest: digest)
        }
        let upload = try storage.startUpload(repository: name)
        return .bytes(status: 202, headers: uploadHeaders(name: name, upload: upload))
    }

    func uploadStatus(name: String, id: String) throws -> HTTPResponse {
        let upload = try storage.upload(id, repository: name)
        return .bytes(status: 204, headers: uploadHeaders(name: name, upload: upload))
    }

    /// Parses `Content-Range: a-b` (docker/distribution's form; `bytes a-b/*` too) → a.
    static func contentRangeStart(_ header: String?) throws -> (start: Int64, end: Int64)? {
        guard var text = header?.trimmingCharacters() else { return nil }
        if text.hasPrefix("bytes ") || text.hasPrefix("bytes=") { text = String(text.dropFirst(6)) }
        if let slash = text.firstIndex(of: "/") { text = String(text[..<slash]) }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let a = Int64(parts[0]), let b = Int64(parts[1]), a >= 0, b >= a else {
            throw RegistryError(.rangeInvalid, "invalid content range", detail: .string(header ?? ""), status: 416)
        }
        return (a, b)
    }

    func patchUpload(_ request: HTTPRequest, name: String, id: String) async throws -> HTTPResponse {
        let range = try Self.contentRangeStart(request.headers["Content-Range"])
        if let range, let length = request.headers["Content-Length"].flatMap({ Int64($0) }),
           length != range.end - range.start + 1 {
            throw RegistryError(.rangeInvalid, "invalid content range", detail: .string("content-length does not match content-range"), status: 416)
        }
        let upload = try await storage.append(to: id, repository: name, expectedOffset: range?.start, body: request.body)
        return .bytes(status: 202, headers: uploadHeaders(name: name, upload: upload))
    }

    func finishUpload(_ request: HTTPRequest, name: String, id: String) async throws -> HTTPResponse {
        guard let text = request.queryValue("digest") else {
            throw RegistryError(.digestInvalid, "provided digest did not match uploaded content", detail: .string("digest missing"))
        }
        let digest = try Self.parseDigest(text)
        let range = try Self.contentRangeStart(request.headers["Content-Range"])
        let hasBody = request.headers["Content-Length"].map { $0 != "0" } ?? (request.headers["Transfer-Encoding"] != nil)
        if hasBody || range != nil {
            _ = try await storage.append(to: id, repository: name, expectedOffset: range?.start, body: request.body)
        }
        _ = try await storage.commitUpload(id, repository: name, digest: digest)
        return blobCreated(name: name, digest: digest)
    }

    func cancelUpload(name: String, id: String) throws -> HTTPResponse {
        try storage.cancelUpload(id, repository: name)
        return .bytes(status: 204, headers: [Self.apiVersionHeader])
    }
}

/// `416` for a `Range` that cannot be met.
struct RegistryUnsatisfiable: Error {
    var size: Int64
}

extension String {
    func trimmingCharacters() -> String {
        Substring(self).trimmingSpaces()
    }
}
