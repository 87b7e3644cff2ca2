import Foundation
import Testing

/// Blobs and uploads over real HTTP (curl) against an in-process server on 127.0.0.1:0.
struct BlobTests {
    @Test func ping() async throws {
        try await RegistryFixture.with { r in
            let res = try await r.curl("GET", "/v2/")
            #expect(res.status == 200)
            #expect(res.text == "{}")
            #expect(res["Docker-Distribution-API-Version"] == "registry/2.0")
        }
    }

    @Test func monolithicUpload() async throws {
        try await RegistryFixture.with { r in
            let blob = randomBytes(5000)
            let digest = sha256(blob)
            let res = try await r.curl("POST", "/v2/app/blobs/uploads/?digest=\(digest)", body: blob)
            #expect(res.status == 201)
            #expect(res["Location"] == "/v2/app/blobs/\(digest)")
            #expect(res["Docker-Content-Digest"] == digest)
            let head = try await r.curl("HEAD", "/v2/app/blobs/\(digest)")
            #expect(head.status == 200)
            #expect(head["Content-Length"] == "5000")
            #expect(head["Docker-Content-Digest"] == digest)
            let get = try await r.curl("GET", "/v2/app/blobs/\(digest)")
            #expect(get.status == 200)
            #expect(get.body == blob)
            #expect(try r.uploadDirectories().isEmpty)
        }
    }

    /// POST → PATCH (Content-Range) → out-of-order PATCH (416) → status → PUT with the last
    /// chunk; the blob is larger than the fixed-body limit, so the GET streams.
    @Test func chunkedUploadAndStreamedGet() async throws {
        try await RegistryFixture.with(fixedBodyLimit: 4096) { r in
            let blob = randomBytes(300_000)
            let digest = sha256(blob)
            let start = try await r.curl("POST", "/v2/team/app/blobs/uploads/")
            #expect(start.status == 202)
            #expect(start["Range"] == "0-0")
            let uuid = try #require(start["Docker-Upload-UUID"])
            let location = try #require(start["Location"])
            #expect(location == "/v2/team/app/blobs/uploads/\(uuid)")

            let first = try await r.curl("PATCH", location, headers: ["Content-Range: 0-99999"], body: Array(blob[0..<100_000]))
            #expect(first.status == 202)
            #expect(first["Range"] == "0-99999")
            // A chunk that does not continue where the upload is → 416, nothing changes.
            let gap = try await r.curl("PATCH", location, headers: ["Content-Range: 150000-199999"], body: Array(blob[150_000..<200_000]))
            #expect(gap.status == 416)
            #expect(gap.errorCode == "RANGE_INVALID")
            let again = try await r.curl("PATCH", location, headers: ["Content-Range: 0-99999"], body: Array(blob[0..<100_000]))
            #expect(again.status == 416)
            let second = try await r.curl("PATCH", location, headers: ["Content-Range: 100000-199999"], body: Array(blob[100_000..<200_000]))
            #expect(second.status == 202)
            let status = try await r.curl("GET", location)
            #expect(status.status == 204)
            #expect(status["Range"] == "0-199999")
            #expect(status["Docker-Upload-UUID"] == uuid)
            // Not visible before the PUT.
            #expect(try await r.curl("HEAD", "/v2/team/app/blobs/\(digest)").status == 404)

            let done = try await r.curl("PUT", "\(location)?digest=\(digest)", body: Array(blob[200_000...]))
            #expect(done.status == 201)
            #expect(done["Location"] == "/v2/team/app/blobs/\(digest)")
            #expect(done["Docker-Content-Digest"] == digest)
            let get = try await r.curl("GET", "/v2/team/app/blobs/\(digest)")
            #expect(get.status == 200)
            #expect(get["Transfer-Encoding"] == "chunked")
            #expect(get.body == blob)
            #expect(try await r.curl("GET", location).status == 404)  // the upload is gone
        }
    }

    /// A PATCH whose client dies halfway: what arrived is kept, the status says how much,
    /// and the client resumes from there.
    @Test func resumeAfterDroppedPatch() async throws {
        try await RegistryFixture.with { r in
            let blob = randomBytes(200_000)
            let digest = sha256(blob)
            let start = try await r.curl("POST", "/v2/app/blobs/uploads/")
            let location = try #require(start["Location"])

            let conn = try RawConnection(port: r.port)
            let head = "PATCH \(location) HTTP/1.1\r\nHost: \(r.hostPort)\r\nContent-Type: application/octet-stream\r\n" +
                "Content-Range: 0-199999\r\nContent-Length: 200000\r\n\r\n"
            try conn.send(Array(head.utf8) + Array(blob[0..<120_000]))
            // Wait until the server has written what was sent, then die.
            let received = try await eventually {
                let size = (try? FileManager.default.attributesOfItem(atPath: r.root + "/uploads/" +
                    location.split(separator: "/").last! + "/data")[.size] as? Int) ?? 0
                return size == 120_000
            }
            #expect(received)
            conn.abort()

            var offset = 0
            let settled = try await eventually {
                let s = try await r.curl("GET", location)
                guard s.status == 204, let range = s["Range"], let end = Int(range.split(separator: "-")[1]) else { return false }
                offset = end + 1
                return offset == 120_000
            }
            #expect(settled, "upload offset after the drop: \(offset)")
            let rest = try await r.curl("PATCH", location, headers: ["Content-Range: \(offset)-199999"], body: Array(blob[offset...]))
            #expect(rest.status == 202)
            let done = try await r.curl("PUT", "\(location)?digest=\(digest)")
            #expect(done.status == 201)
            #expect(try await r.curl("GET", "/v2/app/blobs/\(digest)").body == blob)
        }
    }

    @Test func cancelUpload() async throws {
        try await RegistryFixture.with { r in
            let start = try await r.curl("POST", "/v2/app/blobs/uploads/")
            let location = try #require(start["Location"])
            #expect(try await r.curl("PATCH", location, body: randomBytes(1000)).status == 202)
            let cancel = try await r.curl("DELETE", location)
            #expect(cancel.status == 204)
            let status = try await r.curl("GET", location)
            #expect(status.status == 404)
            #expect(status.errorCode == "BLOB_UPLOAD_UNKNOWN")
            #expect(try r.uploadDirectories().isEmpty)
            #expect(try await r.curl("DELETE", location).status == 404)
        }
    }

    @Test func rangeRequests() async throws {
        try await RegistryFixture.with(fixedBodyLimit: 1000) { r in
            let blob = randomBytes(10_000)
            let digest = try await r.pushBlob("app", blob)
            let path = "/v2/app/blobs/\(digest)"
            let small = try await r.curl("GET", path, headers: ["Range: bytes=10-19"])
            #expect(small.status == 206)
            #expect(small["Content-Range"] == "bytes 10-19/10000")
            #expect(small.body == Array(blob[10...19]))
            let tail = try await r.curl("GET", path, headers: ["Range: bytes=-100"])
            #expect(tail.status == 206)
            #expect(tail.body == Array(blob[9900...]))
            let open = try await r.curl("GET", path, headers: ["Range: bytes=5000-"])  // streamed (> 1000)
            #expect(open.status == 206)
            #expect(open["Content-Range"] == "bytes 5000-9999/10000")
            #expect(open.body == Array(blob[5000...]))
            let bad = try await r.curl("GET", path, headers: ["Range: bytes=10000-"])
            #expect(bad.status == 416)
            #expect(bad["Content-Range"] == "bytes */10000")
        }
    }

    /// A wrong digest is refused and leaves nothing behind: no blob, no upload, no link.
    @Test func digestMismatchLeavesNothingVisible() async throws {
        try await RegistryFixture.with { r in
            let blob = randomBytes(3000)
            let wrong = sha256(Array("something else".utf8))
            let mono = try await r.curl("POST", "/v2/app/blobs/uploads/?digest=\(wrong)", body: blob)
            #expect(mono.status == 400)
            #expect(mono.errorCode == "DIGEST_INVALID")

            let start = try await r.curl("POST", "/v2/app/blobs/uploads/")
            let location = try #require(start["Location"])
            #expect(try await r.curl("PATCH", location, body: blob).status == 202)
            let put = try await r.curl("PUT", "\(location)?digest=\(wrong)")
            #expect(put.status == 400)
            #expect(put.errorCode == "DIGEST_INVALID")
            #expect(try await r.curl("GET", location).status == 404)

            let malformed = try await r.curl("POST", "/v2/app/blobs/uploads/?digest=sha256:xyz", body: blob)
            #expect(malformed.status == 400)
            #expect(malformed.errorCode == "DIGEST_INVALID")

            for d in [wrong, sha256(blob)] {
                let head = try await r.curl("HEAD", "/v2/app/blobs/\(d)")
                #expect(head.status == 404)
            }
            #expect(try r.committedBlobs().isEmpty)
            #expect(try r.uploadDirectories().isEmpty)
            #expect(!FileManager.default.fileExists(atPath: r.root + "/repositories/app/_layers/sha256/" + sha256(blob).dropFirst(7)))
        }
    }

    @Test func crossRepositoryMount() async throws {
        try await RegistryFixture.with { r in
            let blob = randomBytes(2000)
            let digest = try await r.pushBlob("source/app", blob)
            // Blobs are per repository: another repository does not see it…
            let unknown = try await r.curl("GET", "/v2/other/blobs/\(digest)")
            #expect(unknown.status == 404)
            #expect(unknown.errorCode == "BLOB_UNKNOWN")
            // …until it mounts it.
            let mount = try await r.curl("POST", "/v2/other/blobs/uploads/?mount=\(digest)&from=source/app")
            #expect(mount.status == 201)
            #expect(mount["Location"] == "/v2/other/blobs/\(digest)")
            #expect(mount["Docker-Content-Digest"] == digest)
            #expect(try await r.curl("GET", "/v2/other/blobs/\(digest)").body == blob)
            // Mounting from a repository without the blob starts a normal upload.
            let fallback = try await r.curl("POST", "/v2/third/blobs/uploads/?mount=\(digest)&from=nothere")
            #expect(fallback.status == 202)
            #expect(fallback["Docker-Upload-UUID"] != nil)
            #expect(try await r.curl("HEAD", "/v2/third/blobs/\(digest)").status == 404)
        }
    }

    @Test func deleteBlob() async throws {
        try await RegistryFixture.with { r in
            let digest = try await r.pushBlob("app", randomBytes(100))
            let del = try await r.curl("DELETE", "/v2/app/blobs/\(digest)")
            #expect(del.status == 202)
            #expect(try await r.curl("HEAD", "/v2/app/blobs/\(digest)").status == 404)
            let again = try await r.curl("DELETE", "/v2/app/blobs/\(digest)")
            #expect(again.status == 404)
            #expect(again.errorCode == "BLOB_UNKNOWN")
        }
    }

    @Test func invalidNamesAndRoutes() async throws {
        try await RegistryFixture.with { r in
            for path in ["/v2/Upper/tags/list", "/v2/a__-b/blobs/uploads/", "/v2/a//b/manifests/latest"] {
                let res = try await r.curl(path.hasSuffix("uploads/") ? "POST" : "GET", path)
                #expect(res.status == 400, "\(path)")
                #expect(res.errorCode == "NAME_INVALID", "\(path)")
            }
            let notFound = try await r.curl("GET", "/v2/nosuch/tags/list")
            #expect(notFound.status == 404)
            #expect(notFound.errorCode == "NAME_UNKNOWN")
            #expect(try await r.curl("GET", "/v2/app/blobs/uploads/not-a-uuid").errorCode == "BLOB_UPLOAD_UNKNOWN")
            #expect(try await r.curl("GET", "/v2/app/blobs/md5:abc").errorCode == "DIGEST_INVALID")
            #expect(try await r.curl("PUT", "/v2/").status == 405)
            #expect(try await r.curl("GET", "/nothing").status == 404)
        }
    }
}
