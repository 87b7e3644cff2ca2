import BerthCore
import BerthImage
import BerthOCI
import BerthRegistry

/// A push's progress, as Docker's JSON messages carry it.
public enum PushEvent: Sendable, Equatable {
    /// A line: `The push refers to repository […]`, `latest: digest: sha256:… size: 527`.
    case status(String)
    /// One layer's state (`Preparing`, `Waiting`, `Pushing` with bytes, `Pushed`, `Layer
    /// already exists`, `Mounted from …`).
    case layer(id: String, status: String, current: Int64?, total: Int64?)
    /// The pushed tag's digest and manifest size (the `aux` message).
    case pushed(tag: String, digest: Digest, size: Int)
}

extension ImageService {
    /// `POST /images/{name}/push`: pushes the tag `ref` names, or every tag of its repository
    /// when it has none. The layers go as they are stored (their digests do not change), each
    /// skipped when the registry has it, mounted when another repository of that registry is
    /// known to hold it, uploaded otherwise (three at a time). Then the config and an OCI
    /// manifest; the manifest's digest is recorded as a repo digest, as Docker does.
    public func push(_ ref: Reference, auth: RegistryCredentials?, progress: @escaping @Sendable (PushEvent) async -> Void) async throws {
        let tags = try pushTargets(ref)
        await progress(.status("The push refers to repository [\(ref.repository)]"))
        for (tagged, id) in tags {
            try await push(tagged, image: id, auth: auth, progress: progress)
        }
    }

    /// The (reference, image) pairs a push covers; Docker's error when there are none.
    public func pushTargets(_ ref: Reference) throws -> [(Reference, Digest)] {
        guard ref.digest == nil else { throw BerthError.invalid("cannot push a digest reference") }
        let all = store.allReferences()
        if ref.tag != nil {
            guard let id = all[ref.description], store.record(id) != nil else {
                throw BerthError.notFound("An image does not exist locally with the tag: \(ref.familiarRepository)")
            }
            return [(ref, id)]
        }
        let prefix = ref.repository + ":"
        let matches = all.filter { $0.key.hasPrefix(prefix) }.sorted { $0.key < $1.key }
            .compactMap { k, id in (try? Reference(parsing: k)).map { ($0, id) } }
        guard !matches.isEmpty else {
            throw BerthError.notFound("An image does not exist locally with the tag: \(ref.familiarRepository)")
        }
        return matches
    }

    func push(_ ref: Reference, image id: Digest, auth: RegistryCredentials?,
              progress: @escaping @Sendable (PushEvent) async -> Void) async throws {
        guard let record = store.record(id) else { throw BerthError.notFound("No such image: \(ref.familiar)") }
        let store = self.store
        let blobs = [id] + record.layers.map(\.blob)
        store.lease(blobs)
        defer { store.release(blobs) }
        let configSize = store.content.size(id) ?? 0
        // Docker lists layers top first, named by their diff IDs.
        let layers = record.layers.reversed().map { l in
            (id: Self.shortID(l.diffID), descriptor: Descriptor(mediaType: l.mediaType, digest: l.blob, size: l.blobSize))
        }
        var unique: [(id: String, descriptor: Descriptor)] = []
        for l in layers where !unique.contains(where: { $0.descriptor.digest == l.descriptor.digest }) { unique.append(l) }
        for l in unique { await progress(.layer(id: l.id, status: "Preparing", current: nil, total: nil)) }
        for l in unique.dropFirst(3) { await progress(.layer(id: l.id, status: "Waiting", current: nil, total: nil)) }
        let sources = mountSources(ref)
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            func add() {
                guard next < unique.count else { return }
                let l = unique[next]
                next += 1
                group.addTask { [self] in
                    let outcome = try await upload(ref, l.descriptor, id: l.id, mountFrom: sources[l.descriptor.digest] ?? [],
                                                   auth: auth, progress: progress)
                    switch outcome {
                    case .exists: await progress(.layer(id: l.id, status: "Layer already exists", current: nil, total: nil))
                    case .mounted(let from):
                        // Docker names the source by its path on the registry (`library/busybox`).
                        await progress(.layer(id: l.id, status: "Mounted from \(from)", current: nil, total: nil))
                    case .pushed: await progress(.layer(id: l.id, status: "Pushed", current: nil, total: nil))
                    }
                }
            }
            for _ in 0..<3 { add() }
            while try await group.next() != nil { add() }
        }
        let config = Descriptor(mediaType: MediaType.ociConfig, digest: id, size: configSize)
        _ = try await upload(ref, config, id: nil, mountFrom: sources[id] ?? [], auth: auth, progress: nil)
        let manifest = ImageManifest(config: config, layers: record.layers.map {
            Descriptor(mediaType: $0.mediaType, digest: $0.blob, size: $0.blobSize)
        })
        let bytes = try BerthJSONEncoder().encode(manifest)
        let digest: Digest
        do {
            digest = try await registry.putManifest(ref, reference: ref.tag ?? "latest", bytes: bytes, mediaType: MediaType.ociManifest, auth: auth)
        } catch let e as RegistryClientError {
            throw Self.pushError(e, ref)
        }
        if var r = store.record(id) {
            let repoDigest = "\(ref.familiarRepository)@\(digest)"
            if !r.repoDigests.contains(repoDigest) {
                r.repoDigests.append(repoDigest)
                try store.add(r)
            }
        }
        await progress(.status("\(ref.tag ?? "latest"): digest: \(digest) size: \(bytes.count)"))
        await progress(.pushed(tag: ref.tag ?? "latest", digest: digest, size: bytes.count))
        events.publish(type: "image", action: "push", actorID: ref.familiar, attributes: ["name": ref.familiar])
    }

    /// One blob to the registry, with `Pushing` progress when it has a layer id.
    func upload(_ ref: Reference, _ d: Descriptor, id: String?, mountFrom: [String], auth: RegistryCredentials?,
                progress: (@Sendable (PushEvent) async -> Void)?) async throws -> BlobPushOutcome {
        let ticker = ByteProgress(total: d.size) { n in
            if let id { await progress?(.layer(id: id, status: "Pushing", current: n, total: d.size)) }
        }
        do {
            let outcome = try await registry.pushBlob(ref, d, file: store.content.path(d.digest), mountFrom: mountFrom, auth: auth,
                                                      progress: ticker.update)
            await ticker.finish()
            return outcome
        } catch let e as RegistryClientError {
            throw Self.pushError(e, ref)
        } catch let e as BerthError {
            throw e
        } catch {
            // Connection-level failures, after the client's retries: name the registry.
            throw BerthError.invalid("failed to push \(ref.familiar): the registry \(ref.domain) cannot be reached: \(RegistryClient.describe(connectionError: error))")
        }
    }

    /// Repositories of the same registry known to hold each blob: those the images holding it
    /// were pulled from or pushed to (their repo digests).
    func mountSources(_ ref: Reference) -> [Digest: [String]] {
        var out: [Digest: [String]] = [:]
        for r in store.images() {
            let repos = r.repoDigests.compactMap { rd -> String? in
                guard let at = rd.firstIndex(of: "@"), let parsed = try? Reference(parsing: String(rd[..<at])),
                      parsed.domain == ref.domain, parsed.path != ref.path else { return nil }
                return parsed.path
            }
            guard !repos.isEmpty else { continue }
            for blob in [r.id] + r.layers.map(\.blob) {
                for repo in repos where !(out[blob]?.contains(repo) ?? false) { out[blob, default: []].append(repo) }
            }
        }
        return out
    }

    /// Docker's words for a failed push.
    static func pushError(_ e: RegistryClientError, _ ref: Reference) -> BerthError {
        if e.isUnauthorized || e.status == 403 || e.code == "DENIED" {
            return BerthError(.permissionDenied, "denied: requested access to the resource is denied (\(e.registryMessage ?? e.message))")
        }
        if e.isNotFound { return BerthError.notFound(e.message) }
        return BerthError.invalid(e.message)
    }
}

/// `GET /distribution/{name}/json`: what the registry holds under a reference.
public struct DistributionInfo: Sendable {
    /// The manifest or index the reference names (media type, digest, size).
    public var descriptor: Descriptor
    /// The platforms it serves: an index's entries, or the single manifest's config.
    public var platforms: [Platform]
}

extension ImageService {
    /// Resolves `ref` on its registry without pulling: the top-level descriptor and the
    /// platforms (for a single manifest, read from its config blob, as Docker does).
    public func distribution(_ ref: Reference, auth: RegistryCredentials?) async throws -> DistributionInfo {
        let ref = ref.digest == nil ? ref.withDefaultTag : ref
        do {
            let top = try await registry.manifest(ref, reference: ref.digest?.description ?? ref.tag ?? "latest", auth: auth)
            if let want = ref.digest, want != top.digest {
                throw BerthError.invalid("manifest digest mismatch: asked for \(want), the registry sent \(top.digest)")
            }
            let d = Descriptor(mediaType: top.mediaType, digest: top.digest, size: Int64(top.bytes.count))
            if top.mediaType == MediaType.ociIndex || top.mediaType == MediaType.dockerManifestList {
                let index = try BerthJSONDecoder().decode(ImageIndex.self, from: top.bytes)
                return DistributionInfo(descriptor: d, platforms: index.manifests.compactMap(\.platform))
            }
            let manifest = try BerthJSONDecoder().decode(ImageManifest.self, from: top.bytes)
            let bytes = try await registry.blob(ref, manifest.config, auth: auth, limit: 4 << 20)
            let config = try BerthJSONDecoder().decode(ImageConfig.self, from: bytes)
            var p = Platform(architecture: config.architecture, os: config.os)
            p.variant = config.variant
            return DistributionInfo(descriptor: d, platforms: [p])
        } catch let e as RegistryClientError {
            throw Self.pullError(e, ref)
        }
    }
}
