import BerthCore
import BerthImage
import BerthOCI
import BerthRegistry
import BerthSystem

/// A pull's progress, as Docker's JSON messages carry it.
public enum PullEvent: Sendable, Equatable {
    /// A line: `Pulling from library/busybox` (with the tag as id), `Digest: …`, `Status: …`.
    case status(String, id: String?)
    /// One layer's state (`Pulling fs layer`, `Already exists`, `Downloading`, `Download
    /// complete`, `Extracting`, `Pull complete`), with bytes for the bars.
    case layer(id: String, status: String, current: Int64?, total: Int64?)
}

/// A content-store ingest as the registry client's download target: the digest is checked when
/// the blob is committed.
final class IngestWriter: BlobWriter, @unchecked Sendable {
    // @unchecked: one download at a time drives a writer (fetchBlob awaits each chunk), and the
    // ingest is replaced only by that same download (`restart`).
    let content: ContentStore
    var ingest: Ingest

    init(content: ContentStore) throws {
        self.content = content
        ingest = try content.ingest()
    }

    var written: Int64 { ingest.size }
    func append(_ bytes: UnsafeRawBufferPointer) throws { try ingest.write(bytes) }
    func restart() throws {
        ingest.discard()
        ingest = try content.ingest()
    }

    /// Verifies and commits the blob as `digest`.
    func commit(_ digest: Digest) throws {
        let got = ingest.finalize()
        try ingest.commit(digest: got, expected: digest)
    }
}

extension ImageService {
    /// `POST /images/create?fromImage=`: resolves the reference on its registry (through an
    /// index to linux/amd64), downloads the config and the layers the store lacks (three at a
    /// time, digests verified, truncated downloads resumed), extracts them, records and tags
    /// the image with its repo digest. Returns the image ID.
    public func pull(_ ref: Reference, auth: RegistryCredentials?, progress: @escaping @Sendable (PullEvent) async -> Void) async throws -> Digest {
        let ref = ref.digest == nil ? ref.withDefaultTag : ref
        return try await pull(ref, resolved: try await resolve(ref, auth: auth), auth: auth, progress: progress)
    }

    /// The first half of a pull: the manifest for linux/amd64 (errors here are the request's
    /// errors, before any progress is streamed).
    public func resolve(_ ref: Reference, auth: RegistryCredentials?) async throws -> ResolvedImage {
        // Docker Hub images: the mirrors first, in order; any failure there falls through.
        if ref.domain == Reference.defaultDomain {
            for mirror in mirrors {
                var m = ref
                m.domain = mirror
                if let r = try? await registry.resolve(m, auth: auth) { return r }
            }
        }
        do { return try await registry.resolve(ref, auth: auth) } catch let e as RegistryClientError {
            throw Self.pullError(e, ref)
        } catch let e as BerthError {
            throw e
        } catch {
            // Connection-level failures (no route, refused, DNS): name the registry.
            throw BerthError.invalid("Get \"\(registry.isInsecure(ref.domain) ? "http" : "https")://\(RegistryClient.endpointHost(ref.domain))/v2/\": \(RegistryClient.describe(connectionError: error))")
        }
    }

    /// The second half: downloads, extraction, the record and the tag.
    public func pull(_ ref: Reference, resolved: ResolvedImage, auth: RegistryCredentials?,
                     progress: @escaping @Sendable (PullEvent) async -> Void) async throws -> Digest {
        await progress(.status("Pulling from \(ref.familiarRepository)", id: ref.tag ?? ref.digest?.description))
        let manifest = resolved.manifest
        let store = self.store
        // Lease everything this pull will need so a concurrent prune leaves it alone.
        let digests = [manifest.config.digest] + manifest.layers.map(\.digest)
        store.lease(digests)
        defer {
            store.release(digests)
            store.dropUnused(Set(digests))
        }
        if !store.content.exists(manifest.config.digest) {
            try await download(resolved.source, manifest.config, auth: auth, progress: nil)
        }
        // Layers: the ones present are reported, the rest downloaded three at a time.
        var missing: [Descriptor] = []
        for l in manifest.layers {
            if store.content.exists(l.digest) {
                await progress(.layer(id: Self.shortID(l.digest), status: "Already exists", current: nil, total: nil))
            } else if !missing.contains(where: { $0.digest == l.digest }) {
                missing.append(l)
                await progress(.layer(id: Self.shortID(l.digest), status: "Pulling fs layer", current: nil, total: nil))
            }
        }
        // Each layer is extracted as soon as it is downloaded, while the others still download
        // (its snapshot is leased; the image record, written last, is what makes it reachable).
        let early = Self.extractionPlan(manifest, config: try? store.content.read(manifest.config.digest))
        store.lease(early.chainIDs)
        defer { store.release(early.chainIDs) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            func add() {
                guard next < missing.count else { return }
                let d = missing[next]
                next += 1
                group.addTask { [self] in
                    try await download(resolved.source, d, auth: auth, progress: progress)
                    guard let step = early.steps[d.digest], !store.snapshots.exists(step.chainID) else { return }
                    await progress(.layer(id: Self.shortID(d.digest), status: "Extracting", current: nil, total: nil))
                    _ = try await BlockingWork.run {
                        try store.snapshots.apply(blobPath: store.content.path(d.digest), diffID: step.diffID,
                                                  parent: step.parent, chainID: step.chainID, blobDigest: d.digest)
                    }
                }
            }
            for _ in 0..<3 { add() }
            while try await group.next() != nil { add() }
        }
        let mediaTypes = manifest.layers.map { ($0.digest, Self.layerMediaType($0.mediaType)) }
        for d in missing where early.steps[d.digest] == nil {
            await progress(.layer(id: Self.shortID(d.digest), status: "Extracting", current: nil, total: nil))
        }
        let repoDigest = "\(ref.familiarRepository)@\(resolved.repoDigest)"
        let id = try await BlockingWork.run {
            // The repo digest goes in with the record: one durable write, not two.
            try ImageLoader(store: store).commitImage(config: manifest.config.digest, layers: mediaTypes,
                                                      repoDigests: [repoDigest]) { _ in }
        }
        for d in missing { await progress(.layer(id: Self.shortID(d.digest), status: "Pull complete", current: nil, total: nil)) }
        // The repo digest, then the tag.
        if var r = store.record(id) {
            if !r.repoDigests.contains(repoDigest) {
                r.repoDigests.append(repoDigest)
                try store.add(r)
            }
        }
        let previous = ref.tag != nil ? store.allReferences()[ref.description] : nil
        if ref.tag != nil { try store.tag(id, as: ref) }
        await progress(.status("Digest: \(resolved.repoDigest)", id: nil))
        let upToDate = previous == id && missing.isEmpty
        await progress(.status("Status: \(upToDate ? "Image is up to date" : "Downloaded newer image") for \(ref.familiar)", id: nil))
        events.publish(type: "image", action: "pull", actorID: ref.familiar, attributes: ["name": ref.familiar])
        return id
    }

    /// One blob into the content store, its digest verified.
    func download(_ ref: Reference, _ d: Descriptor, auth: RegistryCredentials?,
                  progress: (@Sendable (PullEvent) async -> Void)?) async throws {
        let writer = try IngestWriter(content: store.content)
        let id = Self.shortID(d.digest)
        let ticker = ByteProgress(total: d.size) { n in
            await progress?(.layer(id: id, status: "Downloading", current: n, total: d.size))
        }
        do {
            try await registry.fetchBlob(ref, d, into: writer, auth: auth, progress: ticker.update)
            await ticker.finish()
            try writer.commit(d.digest)
        } catch let e as RegistryClientError {
            writer.ingest.discard()
            throw Self.pullError(e, ref)
        } catch {
            writer.ingest.discard()
            throw error
        }
        await progress?(.layer(id: id, status: "Download complete", current: nil, total: nil))
    }

    static func shortID(_ d: Digest) -> String { String(d.encoded.prefix(12)) }

    /// Which snapshot each layer blob becomes (its first use in the manifest), from the config's
    /// diff IDs; empty when the config cannot say (then everything is extracted at commit,
    /// which reports the problem).
    static func extractionPlan(_ manifest: ImageManifest, config bytes: [UInt8]?)
        -> (steps: [Digest: (diffID: Digest, parent: Digest?, chainID: Digest)], chainIDs: [Digest]) {
        guard let bytes, let config = try? BerthJSONDecoder().decode(ImageConfig.self, from: bytes),
              config.rootfs.diff_ids.count == manifest.layers.count else { return ([:], []) }
        let diffIDs = config.rootfs.diff_ids
        let chainIDs = OverlaySnapshotter.chainIDs(diffIDs)
        var steps: [Digest: (diffID: Digest, parent: Digest?, chainID: Digest)] = [:]
        for (i, l) in manifest.layers.enumerated() where steps[l.digest] == nil {
            steps[l.digest] = (diffIDs[i], i == 0 ? nil : chainIDs[i - 1], chainIDs[i])
        }
        return (steps, chainIDs)
    }

    /// Docker's layer media types kept as given; unknown ones left for detection by content.
    static func layerMediaType(_ m: String) -> String {
        m == MediaType.dockerLayerGzip ? MediaType.ociLayerGzip : m
    }

    /// Docker's words for a failed pull.
    static func pullError(_ e: RegistryClientError, _ ref: Reference) -> BerthError {
        if e.isNotFound {
            if e.code == "MANIFEST_UNKNOWN" || e.code == "NAME_UNKNOWN" {
                return BerthError.notFound("manifest for \(ref.familiar) not found: manifest unknown: \(e.registryMessage ?? "manifest unknown")")
            }
            return BerthError.notFound(e.message)
        }
        if e.isUnauthorized {
            return BerthError(.permissionDenied, "pull access denied for \(ref.familiarRepository), repository does not exist or may require 'docker login': \(e.registryMessage ?? e.message)")
        }
        return BerthError.invalid(e.message)
    }
}

extension ImageService {
    /// `POST /auth` (`docker login`): the registry host a server address names
    /// (`https://index.docker.io/v1/` is Docker Hub) and a check of the credentials there.
    public func login(serverAddress: String, credentials: RegistryCredentials) async throws -> String {
        let domain = Self.registryDomain(serverAddress)
        do { try await registry.login(domain, credentials) } catch let e as RegistryClientError {
            throw BerthError(e.isUnauthorized ? .permissionDenied : .invalidArgument, e.message)
        }
        return domain
    }

    /// `https://index.docker.io/v1/` → `docker.io`; `http://127.0.0.1:5000/` → `127.0.0.1:5000`.
    static func registryDomain(_ address: String) -> String {
        var a = Substring(address)
        for scheme in ["https://", "http://"] where a.hasPrefix(scheme) { a = a.dropFirst(scheme.count) }
        let host = String(a.prefix { $0 != "/" })
        if host.isEmpty || host == "index.docker.io" || host == "registry-1.docker.io" || host == "docker.io" { return Reference.defaultDomain }
        return host
    }
}
