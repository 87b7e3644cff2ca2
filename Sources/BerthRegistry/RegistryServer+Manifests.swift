import BerthCore
import BerthHTTP
import BerthOCI

extension RegistryServer {
    /// The media types a manifest may be stored as.
    static let manifestTypes: Set<String> = [
        MediaType.ociManifest, MediaType.ociIndex, MediaType.dockerManifest, MediaType.dockerManifestList,
    ]

    static func invalidManifest(_ why: String) -> RegistryError {
        RegistryError(.manifestInvalid, "manifest invalid", detail: .string(why))
    }

    /// Reads a descriptor from JSON, or explains why it is not one.
    static func descriptor(_ value: JSONValue?, _ what: String) throws -> (mediaType: String, digest: Digest, size: Int64, value: JSONValue) {
        guard let value, case .object = value else { throw invalidManifest("\(what): not a descriptor") }
        guard let mediaType = value["mediaType"]?.stringValue, !mediaType.isEmpty else {
            throw invalidManifest("\(what): missing mediaType")
        }
        guard let d = value["digest"]?.stringValue, let digest = try? Digest(d) else {
            throw invalidManifest("\(what): invalid digest")
        }
        guard let size = value["size"]?.int64Value, size >= 0 else { throw invalidManifest("\(what): invalid size") }
        return (mediaType, digest, size, value)
    }

    func putManifest(_ request: HTTPRequest, name: String, reference: String) async throws -> HTTPResponse {
        let byDigest = reference.contains(":")
        let expected: Digest? = byDigest ? try Self.parseDigest(reference) : nil
        if !byDigest && !RepositoryName.isValidTag(reference) {
            throw RegistryError(.tagInvalid, "manifest tag did not match URI", detail: .string(reference))
        }
        let bytes: [UInt8]
        do {
            bytes = try await request.body.collect(upTo: Self.maxManifestSize)
        } catch {
            throw RegistryError(.sizeInvalid, "manifest too large", detail: .string("limit is \(Self.maxManifestSize) bytes"))
        }
        let digest = Encoding.sha256(bytes)
        if let expected, expected != digest {
            throw RegistryError(.digestInvalid, "provided digest did not match uploaded content",
                                detail: .string("expected \(expected), got \(digest)"))
        }
        guard let json = try? JSON.parse(bytes), case .object = json else {
            throw Self.invalidManifest("manifest is not a JSON object")
        }
        guard json["schemaVersion"]?.intValue == 2 else { throw Self.invalidManifest("schemaVersion must be 2") }
        let contentType = request.headers["Content-Type"].map { String($0.split(separator: ";")[0]).trimmingCharacters() }
        let declared = json["mediaType"]?.stringValue
        if let declared, let contentType, !contentType.isEmpty, declared != contentType {
            throw Self.invalidManifest("mediaType \(declared) does not match Content-Type \(contentType)")
        }
        var mediaType = declared ?? contentType ?? ""
        if mediaType.isEmpty || mediaType == "application/json" {
            // An OCI document without mediaType: tell manifest from index by shape.
            mediaType = json["manifests"] != nil ? MediaType.ociIndex : MediaType.ociManifest
        }
        guard Self.manifestTypes.contains(mediaType) else {
            throw Self.invalidManifest("unsupported manifest media type \(mediaType)")
        }

        var artifactType = json["artifactType"]?.stringValue
        if MediaType.isManifest(mediaType) {
            let config = try Self.descriptor(json["config"], "config")
            guard let layers = json["layers"]?.arrayValue else { throw Self.invalidManifest("missing layers") }
            var missing: [Digest] = []
            if storage.blob(config.digest, in: name) == nil { missing.append(config.digest) }
            for (i, layer) in layers.enumerated() {
                let d = try Self.descriptor(layer, "layers[\(i)]")
                // Foreign layers (with urls) need not be in the registry, as in docker/distribution.
                if let urls = layer["urls"]?.arrayValue, !urls.isEmpty { continue }
                if storage.blob(d.digest, in: name) == nil { missing.append(d.digest) }
            }
            if let first = missing.first {
                throw RegistryError(.manifestBlobUnknown, "blob unknown to registry", detail: .string(first.description))
            }
            if artifactType == nil && mediaType == MediaType.ociManifest { artifactType = config.mediaType }
        } else {
            guard let manifests = json["manifests"]?.arrayValue else { throw Self.invalidManifest("missing manifests") }
            for (i, entry) in manifests.enumerated() {
                let d = try Self.descriptor(entry, "manifests[\(i)]")
                if !storage.hasManifest(d.digest, in: name) {
                    throw RegistryError(.manifestBlobUnknown, "blob unknown to registry", detail: .string(d.digest.description))
                }
            }
        }
        var subject: Digest?
        var referrer: JSONValue?
        if json["subject"] != nil {
            subject = try Self.descriptor(json["subject"], "subject").digest
            var entry: JSONObject = [
                "mediaType": .string(mediaType),
                "digest": .string(digest.description),
                "size": JSONValue(bytes.count),
            ]
            if let artifactType { entry["artifactType"] = .string(artifactType) }
            if let annotations = json["annotations"], case .object = annotations { entry["annotations"] = annotations }
            referrer = .object(entry)
        }
        _ = try storage.putManifest(bytes, mediaType: mediaType, repository: name,
                                    tag: byDigest ? nil : reference, subject: subject, referrer: referrer)
        var headers: HTTPHeaderFields = [
            ("Location", "/v2/\(name)/manifests/\(digest)"),
            ("Docker-Content-Digest", digest.description),
            Self.apiVersionHeader,
        ]
        if let subject { headers.add("OCI-Subject", subject.description) }
        return .bytes(status: 201, headers: headers)
    }

    /// Resolves a tag or digest reference to a stored manifest, or throws the spec's 404s.
    func resolveManifest(name: String, reference: String) throws -> RegistryStorage.ManifestRecord {
        let unknown = RegistryError(.manifestUnknown, "manifest unknown", detail: ["Tag": .string(reference)])
        guard storage.repositoryExists(name) else {
            throw RegistryError(.nameUnknown, "repository name not known to registry", detail: ["name": .string(name)])
        }
        let digest: Digest
        if reference.contains(":") {
            digest = try Self.parseDigest(reference)
        } else {
            guard RepositoryName.isValidTag(reference) else {
                throw RegistryError(.tagInvalid, "manifest tag did not match URI", detail: .string(reference))
            }
            guard let d = storage.resolveTag(reference, in: name) else { throw unknown }
            digest = d
        }
        guard let record = try storage.manifest(digest, in: name) else { throw unknown }
        return record
    }

    /// `GET`/`HEAD`: answers the manifest as stored (its own media type), whatever `Accept`
    /// says — docker/distribution converts only to schema 1, which we do not serve.
    func getManifest(_ request: HTTPRequest, name: String, reference: String) throws -> HTTPResponse {
        let record = try resolveManifest(name: name, reference: reference)
        let headers: HTTPHeaderFields = [
            ("Content-Type", record.mediaType),
            ("Docker-Content-Digest", record.digest.description),
            ("ETag", "\"\(record.digest)\""),
            Self.apiVersionHeader,
        ]
        return .bytes(status: 200, headers: headers, body: record.bytes)
    }

    /// `DELETE` by digest removes the manifest and the tags pointing to it; by tag, the tag only.
    func deleteManifest(name: String, reference: String) throws -> HTTPResponse {
        guard deleteEnabled else { throw Self.methodNotAllowed }
        let unknown = RegistryError(.manifestUnknown, "manifest unknown", detail: ["Tag": .string(reference)])
        guard storage.repositoryExists(name) else {
            throw RegistryError(.nameUnknown, "repository name not known to registry", detail: ["name": .string(name)])
        }
        if reference.contains(":") {
            let digest = try Self.parseDigest(reference)
            guard try storage.deleteManifest(digest, in: name) else { throw unknown }
        } else {
            guard RepositoryName.isValidTag(reference), try storage.deleteTag(reference, in: name) else { throw unknown }
        }
        return .bytes(status: 202, headers: [Self.apiVersionHeader])
    }
}
