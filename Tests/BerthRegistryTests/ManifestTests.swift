import Foundation
import Testing

/// Manifests, tags, catalog, referrers and deletes over real HTTP (curl).
struct ManifestTests {
    static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    static let ociIndex = "application/vnd.oci.image.index.v1+json"
    static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"

    @Test func manifestsByTagAndDigest() async throws {
        try await RegistryFixture.with { r in
            let (manifest, digest) = try await r.pushImage("team/app", tag: "v1")
            for reference in ["v1", digest] {
                let get = try await r.curl("GET", "/v2/team/app/manifests/\(reference)",
                                           headers: ["Accept: \(Self.dockerManifest)"])  // Accept does not convert
                #expect(get.status == 200)
                #expect(get.text == manifest)
                #expect(get["Content-Type"] == Self.ociManifest)
                #expect(get["Docker-Content-Digest"] == digest)
                let head = try await r.curl("HEAD", "/v2/team/app/manifests/\(reference)")
                #expect(head.status == 200)
                #expect(head["Content-Length"] == String(manifest.utf8.count))
                #expect(head["Docker-Content-Digest"] == digest)
            }
            // Pushing by digest: it must match the content.
            let byDigest = try await r.putManifest("team/app", digest, manifest, mediaType: Self.ociManifest)
            #expect(byDigest.status == 201)
            #expect(byDigest["Location"] == "/v2/team/app/manifests/\(digest)")
            let otherDigest = sha256(Array("x".utf8))
            let mismatch = try await r.putManifest("team/app", otherDigest, manifest, mediaType: Self.ociManifest)
            #expect(mismatch.status == 400)
            #expect(mismatch.errorCode == "DIGEST_INVALID")

            let unknownTag = try await r.curl("GET", "/v2/team/app/manifests/nope")
            #expect(unknownTag.status == 404)
            #expect(unknownTag.errorCode == "MANIFEST_UNKNOWN")
            let unknownRepo = try await r.curl("GET", "/v2/nothing/manifests/v1")
            #expect(unknownRepo.status == 404)
            #expect(unknownRepo.errorCode == "NAME_UNKNOWN")
        }
    }

    @Test func dockerSchema2IsServedWithItsMediaType() async throws {
        try await RegistryFixture.with { r in
            let config = Array("{}".utf8)
            let c = try await r.pushBlob("app", config)
            let manifest = """
            {"schemaVersion":2,"mediaType":"\(Self.dockerManifest)","config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"\(c)","size":2},"layers":[]}
            """
            #expect(try await r.putManifest("app", "d", manifest, mediaType: Self.dockerManifest).status == 201)
            let get = try await r.curl("GET", "/v2/app/manifests/d", headers: ["Accept: \(Self.ociManifest)"])
            #expect(get["Content-Type"] == Self.dockerManifest)
        }
    }

    @Test func invalidManifestsAreRefused() async throws {
        try await RegistryFixture.with { r in
            let config = try await r.pushBlob("app", Array("{}".utf8))
            let missing = sha256(Array("not uploaded".utf8))
            func manifest(layer: String) -> String {
                """
                {"schemaVersion":2,"mediaType":"\(Self.ociManifest)","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\(config)","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"\(layer)","size":5}]}
                """
            }
            let blobUnknown = try await r.putManifest("app", "t", manifest(layer: missing), mediaType: Self.ociManifest)
            #expect(blobUnknown.status == 400)
            #expect(blobUnknown.errorCode == "MANIFEST_BLOB_UNKNOWN")
            // A blob of another repository does not count.
            let elsewhere = try await r.pushBlob("other", Array("hello".utf8))
            #expect(try await r.putManifest("app", "t", manifest(layer: elsewhere), mediaType: Self.ociManifest).errorCode
                    == "MANIFEST_BLOB_UNKNOWN")
            let notJSON = try await r.putManifest("app", "t", "{nope", mediaType: Self.ociManifest)
            #expect(notJSON.status == 400)
            #expect(notJSON.errorCode == "MANIFEST_INVALID")
            let badType = try await r.putManifest("app", "t", "{\"schemaVersion\":2,\"mediaType\":\"text/plain\"}", mediaType: "text/plain")
            #expect(badType.errorCode == "MANIFEST_INVALID")
            let schema1 = try await r.putManifest("app", "t", "{\"schemaVersion\":1}", mediaType: Self.ociManifest)
            #expect(schema1.errorCode == "MANIFEST_INVALID")
            let disagree = try await r.putManifest("app", "t", manifest(layer: elsewhere), mediaType: Self.dockerManifest)
            #expect(disagree.errorCode == "MANIFEST_INVALID")
            let badTag = try await r.putManifest("app", "-bad", manifest(layer: elsewhere), mediaType: Self.ociManifest)
            #expect(badTag.errorCode == "TAG_INVALID")
            #expect(try await r.curl("GET", "/v2/app/tags/list").text == "{\"name\":\"app\",\"tags\":[]}")
        }
    }

    @Test func indexMustReferenceExistingManifests() async throws {
        try await RegistryFixture.with { r in
            let (manifest, digest) = try await r.pushImage("app", tag: "amd64")
            let missing = sha256(Array("no such manifest".utf8))
            func index(_ d: String, size: Int) -> String {
                """
                {"schemaVersion":2,"mediaType":"\(Self.ociIndex)","manifests":[{"mediaType":"\(Self.ociManifest)","digest":"\(d)","size":\(size),"platform":{"architecture":"amd64","os":"linux"}}]}
                """
            }
            let refused = try await r.putManifest("app", "multi", index(missing, size: 10), mediaType: Self.ociIndex)
            #expect(refused.status == 400)
            #expect(refused.errorCode == "MANIFEST_BLOB_UNKNOWN")
            #expect(try await r.curl("GET", "/v2/app/manifests/multi").status == 404)
            let ok = try await r.putManifest("app", "multi", index(digest, size: manifest.utf8.count), mediaType: Self.ociIndex)
            #expect(ok.status == 201)
            #expect(try await r.curl("GET", "/v2/app/manifests/multi")["Content-Type"] == Self.ociIndex)
        }
    }

    @Test func tagsAndCatalogPaginateWithLink() async throws {
        try await RegistryFixture.with { r in
            let (manifest, _) = try await r.pushImage("app", tag: "a")
            for tag in ["b", "c", "d", "e"] {
                #expect(try await r.putManifest("app", tag, manifest, mediaType: Self.ociManifest).status == 201)
            }
            let all = try await r.curl("GET", "/v2/app/tags/list")
            #expect(all.text == "{\"name\":\"app\",\"tags\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}")
            #expect(all["Link"] == nil)

            var seen: [String] = []
            var next: String? = "/v2/app/tags/list?n=2"
            var pages = 0
            while let path = next, pages < 10 {
                let page = try await r.curl("GET", path)
                #expect(page.status == 200)
                let tags = ((page.json as? [String: Any])?["tags"] as? [String]) ?? []
                #expect(tags.count <= 2)
                seen += tags
                next = page["Link"].flatMap { link in
                    link.firstIndex(of: "<").flatMap { lt in link.firstIndex(of: ">").map { String(link[link.index(after: lt)..<$0]) } }
                }
                if let link = page["Link"] { #expect(link.hasSuffix("; rel=\"next\"")) }
                pages += 1
            }
            #expect(seen == ["a", "b", "c", "d", "e"])
            #expect(pages == 3)
            let last = try await r.curl("GET", "/v2/app/tags/list?n=10&last=c")
            #expect((last.json as? [String: Any])?["tags"] as? [String] == ["d", "e"])
            let zero = try await r.curl("GET", "/v2/app/tags/list?n=0")
            #expect((zero.json as? [String: Any])?["tags"] as? [String] == [])
            #expect(zero["Link"] == nil)
            #expect(try await r.curl("GET", "/v2/app/tags/list?n=-1").errorCode == "PAGINATION_NUMBER_INVALID")

            _ = try await r.pushImage("x/y/z", tag: "1")
            _ = try await r.pushImage("b", tag: "1")
            let catalog = try await r.curl("GET", "/v2/_catalog")
            #expect(catalog.text == "{\"repositories\":[\"app\",\"b\",\"x/y/z\"]}")
            let first = try await r.curl("GET", "/v2/_catalog?n=2")
            #expect((first.json as? [String: Any])?["repositories"] as? [String] == ["app", "b"])
            #expect(first["Link"] == "</v2/_catalog?last=b&n=2>; rel=\"next\"")
            let second = try await r.curl("GET", "/v2/_catalog?last=b&n=2")
            #expect((second.json as? [String: Any])?["repositories"] as? [String] == ["x/y/z"])
            #expect(second["Link"] == nil)
        }
    }

    /// Temp files are dot-named, so no valid tag is ever mistaken for one.
    @Test func tagsThatLookLikeTempNames() async throws {
        try await RegistryFixture.with { r in
            let (manifest, _) = try await r.pushImage("app", tag: "v1.tmp-2")
            #expect(try await r.putManifest("app", "x.tmp-y", manifest, mediaType: Self.ociManifest).status == 201)
            #expect(try await r.curl("GET", "/v2/app/tags/list").text == "{\"name\":\"app\",\"tags\":[\"v1.tmp-2\",\"x.tmp-y\"]}")
        }
    }

    @Test func deleteManifest() async throws {
        try await RegistryFixture.with { r in
            let (manifest, digest) = try await r.pushImage("app", tag: "v1")
            #expect(try await r.putManifest("app", "v2", manifest, mediaType: Self.ociManifest).status == 201)
            let byTag = try await r.curl("DELETE", "/v2/app/manifests/v2")  // untag only
            #expect(byTag.status == 202)
            #expect(try await r.curl("GET", "/v2/app/manifests/v1").status == 200)
            let del = try await r.curl("DELETE", "/v2/app/manifests/\(digest)")
            #expect(del.status == 202)
            #expect(try await r.curl("GET", "/v2/app/manifests/\(digest)").errorCode == "MANIFEST_UNKNOWN")
            #expect(try await r.curl("GET", "/v2/app/manifests/v1").errorCode == "MANIFEST_UNKNOWN")  // its tags went too
            #expect(try await r.curl("GET", "/v2/app/tags/list").text == "{\"name\":\"app\",\"tags\":[]}")
            #expect(try await r.curl("DELETE", "/v2/app/manifests/\(digest)").status == 404)
        }
    }

    @Test func referrers() async throws {
        try await RegistryFixture.with { r in
            let (subjectManifest, subject) = try await r.pushImage("app", tag: "v1")
            let empty = try await r.pushBlob("app", Array("{}".utf8))
            func artifact(_ type: String, _ note: String) -> String {
                """
                {"schemaVersion":2,"mediaType":"\(Self.ociManifest)","artifactType":"\(type)","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"\(empty)","size":2},"layers":[],"subject":{"mediaType":"\(Self.ociManifest)","digest":"\(subject)","size":\(subjectManifest.utf8.count)},"annotations":{"note":"\(note)"}}
                """
            }
            let sbom = artifact("application/vnd.example.sbom", "s")
            let sig = artifact("application/vnd.example.sig", "g")
            for a in [sbom, sig] {
                let d = sha256(Array(a.utf8))
                let put = try await r.putManifest("app", d, a, mediaType: Self.ociManifest)
                #expect(put.status == 201)
                #expect(put["OCI-Subject"] == subject)
            }
            let list = try await r.curl("GET", "/v2/app/referrers/\(subject)")
            #expect(list.status == 200)
            #expect(list["Content-Type"] == Self.ociIndex)
            let index = try #require(list.json as? [String: Any])
            #expect(index["mediaType"] as? String == Self.ociIndex)
            let manifests = try #require(index["manifests"] as? [[String: Any]])
            #expect(Set(manifests.compactMap { $0["digest"] as? String }) == [sha256(Array(sbom.utf8)), sha256(Array(sig.utf8))])
            #expect(Set(manifests.compactMap { $0["artifactType"] as? String }) == ["application/vnd.example.sbom", "application/vnd.example.sig"])
            #expect(manifests.allSatisfy { ($0["annotations"] as? [String: String])?["note"] != nil })

            let filtered = try await r.curl("GET", "/v2/app/referrers/\(subject)?artifactType=application/vnd.example.sig")
            #expect(filtered["OCI-Filters-Applied"] == "artifactType")
            let only = ((filtered.json as? [String: Any])?["manifests"] as? [[String: Any]]) ?? []
            #expect(only.count == 1)
            #expect(only.first?["digest"] as? String == sha256(Array(sig.utf8)))

            // Deleting a referrer drops it from the list; unknown subjects list nothing (never 404).
            #expect(try await r.curl("DELETE", "/v2/app/manifests/\(sha256(Array(sig.utf8)))").status == 202)
            let after = try await r.curl("GET", "/v2/app/referrers/\(subject)")
            #expect((((after.json as? [String: Any])?["manifests"]) as? [Any])?.count == 1)
            let none = try await r.curl("GET", "/v2/app/referrers/\(sha256([1, 2, 3]))")
            #expect(none.status == 200)
            #expect((((none.json as? [String: Any])?["manifests"]) as? [Any])?.count == 0)
        }
    }
}
