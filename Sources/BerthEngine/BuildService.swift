#if canImport(Glibc)
import Glibc
#endif
import BerthArchive
import BerthBuild
import BerthCore
import BerthImage
import BerthOCI
import BerthSystem
import Synchronization

/// `POST /build`'s parameters (Docker's classic builder).
public struct BuildRequest: Sendable {
    /// The Dockerfile's path in the context.
    public var dockerfile = "Dockerfile"
    /// `-t`: names for the result.
    public var tags: [String] = []
    public var options = BuildOptions()
    /// `--network` for RUN steps (`default`: the default bridge).
    public var networkMode: String?
    /// Remove intermediate containers after a successful step (`rm`, default true).
    public var remove = true
    /// Remove them after a failed step too (`forcerm`).
    public var forceRemove = false
    /// `--add-host` for RUN steps.
    public var extraHosts: [String] = []
    /// Resources for RUN steps.
    public var memory: Int64?
    public var memorySwap: Int64?
    public var cpuShares: Int64?
    public var cpuPeriod: Int64?
    public var cpuQuota: Int64?
    public var cpusetCpus: String?
    public var shmSize: Int64?
    /// A remote context (git URL or tarball URL): not supported.
    public var remote: String?

    public init() {}
}

/// A build whose context is unpacked and whose Dockerfile parsed: what can go wrong before
/// any output is streamed has gone wrong already (HTTP errors, as Docker answers them).
public final class PreparedBuild: Sendable {
    let request: BuildRequest
    let dockerfile: Dockerfile
    let contextDirectory: String
    let ignore: DockerIgnore?
    let tags: [Reference]

    init(request: BuildRequest, dockerfile: Dockerfile, contextDirectory: String, ignore: DockerIgnore?, tags: [Reference]) {
        self.request = request
        self.dockerfile = dockerfile
        self.contextDirectory = contextDirectory
        self.ignore = ignore
        self.tags = tags
    }

    /// Removes the unpacked context.
    public func cleanup() { try? FileSystem.removeTree(contextDirectory) }
}

/// Dockerfile builds: unpacks the context, runs the builder with berthd as its backend
/// (containers for RUN, overlay mounts for COPY, the image store's cache), tags the result;
/// `docker commit`; the build cache's prune. Knows nothing of HTTP.
public final class BuildService: Sendable {
    let images: ImageService
    let containers: ContainerService
    let events: EventService

    init(images: ImageService, containers: ContainerService, events: EventService) {
        self.images = images
        self.containers = containers
        self.events = events
    }

    var store: ImageStore { images.store }

    /// Marks RUN steps' containers: one still here when berthd starts belongs to a build that
    /// died with the previous berthd (its image was never persisted) and is removed.
    public static let stepLabel = "com.berth.build.step"

    /// Removes RUN containers of builds an earlier berthd did not finish.
    func removeLeftoverSteps() async {
        for (c, _) in containers.list() where c.config.Labels?[Self.stepLabel] != nil {
            try? await containers.remove(c.id, force: true, volumes: true)
        }
    }

    /// Reads the context tar (plain, gzip or zstd) from `queue`, finds and parses the
    /// Dockerfile and `.dockerignore`, validates the tags.
    public func prepare(_ request: BuildRequest, context queue: ByteQueue) async throws -> PreparedBuild {
        defer { queue.abandon() }
        if let remote = request.remote, !remote.isEmpty {
            throw BerthError.invalid("remote build contexts (\(remote)) are not supported: send the context as a tar")
        }
        var tags: [Reference] = []
        for t in request.tags {
            guard let r = try? Reference(parsing: t), r.digest == nil else {
                throw BerthError.invalid("invalid reference format: \(t)")
            }
            tags.append(r)
        }
        let dir = try store.makeScratchDirectory("build")
        do {
            try await BlockingWork.run { try Self.unpack(queue, into: dir) }
            let (clean, escapes) = ContextCopier.cleanRelative(request.dockerfile.isEmpty ? "Dockerfile" : request.dockerfile)
            if escapes || clean.isEmpty {
                throw BerthError.invalid("the Dockerfile (\(request.dockerfile)) must be within the build context")
            }
            let rootFD = try FileAt.openDirectory(dir)
            defer { close(rootFD) }
            guard let fd = try FileAt.openInRoot(rootFD, clean) else {
                throw BerthError.invalid("Cannot locate specified Dockerfile: \(request.dockerfile)")
            }
            let text = try String(decoding: FileSystem.readAll(fd: fd, what: "Dockerfile"), as: UTF8.self)
            close(fd)
            let dockerfile = try Self.parse(text)
            var ignore: DockerIgnore?
            if let ifd = try FileAt.openInRoot(rootFD, ".dockerignore") {
                let bytes = try FileSystem.readAll(fd: ifd, what: ".dockerignore")
                close(ifd)
                ignore = try DockerIgnore(patterns: DockerIgnore.parse(String(decoding: bytes, as: UTF8.self)))
            }
            return PreparedBuild(request: request, dockerfile: dockerfile, contextDirectory: dir, ignore: ignore, tags: tags)
        } catch {
            try? FileSystem.removeTree(dir)
            throw error
        }
    }

    /// Runs a prepared build; messages go to `output`. Returns the image ID after tagging.
    public func run(_ build: PreparedBuild, output: @escaping @Sendable (BuildMessage) async -> Void) async throws -> Digest {
        let backend = EngineBuildBackend(service: self, request: build.request)
        let builder = Builder(dockerfile: build.dockerfile, options: build.request.options,
                              context: BuildContext(root: build.contextDirectory, ignore: build.ignore),
                              backend: backend, output: output)
        let id: Digest
        do { id = try await builder.build() } catch {
            try? await persist(backend.created.withLock { $0 })
            throw error
        }
        // The steps' files reach the disk with one sync, then their records are written.
        try await persist(backend.created.withLock { $0 })
        for t in build.tags {
            try store.tag(id, as: t)
            events.publish(type: "image", action: "tag", actorID: id.description, attributes: ["name": t.withDefaultTag.familiar])
        }
        await output(.imageID(id))
        if build.request.options.quiet {
            await output(.stream(id.description + "\n"))
        } else {
            await output(.stream("Successfully built \(id.encoded.prefix(12))\n"))
            for t in build.tags { await output(.stream("Successfully tagged \(t.withDefaultTag.familiar)\n")) }
        }
        return id
    }

    /// Makes a build's step images durable: one filesystem sync, then their records.
    func persist(_ ids: [Digest]) async throws {
        guard !ids.isEmpty else { return }
        let store = self.store
        try await BlockingWork.run {
            try FileSystem.syncFilesystem(store.root)
            try store.persist(ids)
        }
    }

    /// `POST /build/prune`: images only builds made (intermediate steps) that nothing tagged
    /// uses — no tag, no container, no tagged descendant. Returns their IDs and the bytes freed.
    public func prune() throws -> (ids: [String], reclaimed: Int64) {
        var ids: [String] = []
        var reclaimed: Int64 = 0
        var progress = true
        while progress {
            progress = false
            for e in images.list() where e.record.buildKey != nil && e.tags.isEmpty {
                if images.hasChildren(e.record.id) || images.containerCount(e.record.id) > 0 { continue }
                var out: [ImageDeletion] = []
                reclaimed += try images.deleteImage(e.record, refs: [], into: &out)
                ids.append(e.record.id.description)
                progress = true
            }
        }
        return (ids, reclaimed)
    }

    // MARK: context

    static func parse(_ text: String) throws -> Dockerfile {
        do { return try DockerfileParser.parse(text) } catch {
            throw BerthError.invalid(error.description)
        }
    }

    static func unpack(_ queue: ByteQueue, into dir: String) throws {
        let (_, sniffed, source) = try DecompressingSource.detecting { try queue.read(into: $0) }
        if sniffed == 0 { throw BerthError.invalid("the build context is empty: send a tar") }
        var reader = TarReader(source: source)
        var options = LayerApplyOptions()
        options.whiteouts = false
        do { _ = try LayerApplier.apply(&reader, to: dir, options: options) } catch let e as BerthError {
            throw BerthError.invalid("the build context: \(e.message)")
        }
    }

    // MARK: for the backend

    func buildImage(_ id: Digest) throws -> BuildImage {
        BuildImage(id: id, config: try store.config(id))
    }

    /// Mounts an overlay over `image`'s layers with a fresh upper directory in the store's
    /// scratch space and runs `body` with the merged root; once unmounted, `then` gets the
    /// upper directory (the changes). All is removed after.
    func withScratchRoot<T: Sendable>(_ image: BuildImage, _ body: @escaping @Sendable (_ root: String) async throws -> Void,
                                      then: @escaping @Sendable (_ upper: String) async throws -> T) async throws -> T {
        let dir = try store.makeScratchDirectory("step")
        defer { try? FileSystem.removeTree(dir) }
        for sub in ["upper", "work", "root", "empty"] { try FileSystem.makeDirectories("\(dir)/\(sub)", mode: 0o755) }
        var lower: [String] = []
        if let id = image.id, let top = store.record(id)?.layers.last?.chainID {
            lower = try store.snapshots.lowerDirs(top)
        }
        if lower.isEmpty { lower = ["\(dir)/empty"] }
        let data = "lowerdir=\(lower.joined(separator: ":")),upperdir=\(dir)/upper,workdir=\(dir)/work"
        guard data.utf8.count < 4000 else {
            throw BerthError.unsupported("the image has too many layers (\(lower.count)) for one overlay mount")
        }
        try Mounts.mount(source: "overlay", target: "\(dir)/root", type: "overlay", data: data)
        var mounted = true
        defer { if mounted { try? Mounts.unmount("\(dir)/root", detach: true) } }
        try await body("\(dir)/root")
        try Mounts.unmount("\(dir)/root", detach: true)
        mounted = false
        return try await then("\(dir)/upper")
    }
}

/// berthd as the builder's backend, for one build.
final class EngineBuildBackend: BuildBackend {
    let service: BuildService
    let request: BuildRequest
    /// The images this build recorded (persisted together at its end).
    let created = Mutex<[Digest]>([])

    init(service: BuildService, request: BuildRequest) {
        self.service = service
        self.request = request
    }

    var store: ImageStore { service.store }

    /// A local image, else pulled (anonymously, as the classic builder does without
    /// credentials).
    func baseImage(_ name: String) async throws -> BuildImage {
        do {
            return try service.buildImage(try service.images.get(name).record.id)
        } catch let e as BerthError where e.code == .notFound {
            guard var ref = try? Reference(parsing: name) else { throw e }
            if ref.digest == nil { ref = ref.withDefaultTag }
            let id = try await service.images.pull(ref, auth: nil) { _ in }
            return try service.buildImage(id)
        }
    }

    func cached(parent: Digest?, key: String) -> BuildImage? {
        guard let r = store.buildChild(of: parent, buildKey: key) else { return nil }
        return try? service.buildImage(r.id)
    }

    func commit(_ commit: StepCommit, parent: BuildImage) async throws -> BuildImage {
        let store = self.store
        let request = commitRequest(commit, parent: parent)
        let record = try await BlockingWork.run { try ImageCommitter(store: store).commit(request) }
        return try made(record)
    }

    func commitRequest(_ c: StepCommit, parent: BuildImage) -> ImageCommitter.Commit {
        var commit = ImageCommitter.Commit(config: c.config, parent: parent.id.flatMap { store.record($0) }, history: c.history, buildKey: c.key)
        commit.durable = false
        return commit
    }

    /// Notes a step image for the final persist and returns it as the builder sees it.
    func made(_ record: ImageRecord) throws -> BuildImage {
        created.withLock { $0.append(record.id) }
        return try service.buildImage(record.id)
    }

    func run(_ step: RunStep, on given: BuildImage, commit: StepCommit,
             started: @escaping @Sendable (String) async -> Void,
             output: @escaping @Sendable ([UInt8]) async -> Void) async throws -> BuildImage {
        var image = given
        if image.id == nil {
            let now = WallClock.now().rfc3339Nano
            image = try await self.commit(StepCommit(config: image.config, history: .init(created: now, createdBy: ""), key: "scratch"), parent: image)
        }
        var config = ContainerConfig()
        config.Image = image.id!.description
        config.Cmd = step.command
        config.Entrypoint = [""]
        config.Env = step.env
        config.User = step.user
        config.WorkingDir = step.workingDir
        config.AttachStdout = true
        config.AttachStderr = true
        config.Labels = [BuildService.stepLabel: "true"]
        var hc = HealthConfig()
        hc.Test = ["NONE"]
        config.Healthcheck = hc
        var host = HostConfig()
        host.NetworkMode = request.networkMode.flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        host.ExtraHosts = request.extraHosts.isEmpty ? nil : request.extraHosts
        host.Memory = request.memory
        host.MemorySwap = request.memorySwap
        host.CpuShares = request.cpuShares
        host.CpuPeriod = request.cpuPeriod
        host.CpuQuota = request.cpuQuota
        host.CpusetCpus = request.cpusetCpus
        host.ShmSize = request.shmSize
        let containers = service.containers
        let (id, _) = try containers.create(name: nil, config: config, hostConfig: host)
        await started(id)
        let code: Int
        do {
            code = try await containers.startStreaming(id, output: output)
        } catch {
            if request.remove || request.forceRemove { try? await containers.remove(id, force: true, volumes: true) }
            throw BuildError((error as? BerthError)?.message ?? "\(error)", code: 1)
        }
        if code != 0 {
            if request.forceRemove { try? await containers.remove(id, force: true, volumes: true) }
            throw BuildError("", code: code)
        }
        let store = self.store
        let upper = containers.directory(id) + "/diff"
        let request = commitRequest(commit, parent: image)
        let record: ImageRecord
        do {
            record = try await BlockingWork.run { try ImageCommitter(store: store).commit(request, upperDirectory: upper) }
        } catch {
            if self.request.remove { try? await containers.remove(id, force: true, volumes: true) }
            throw error
        }
        if self.request.remove {
            await output(Array("Removing intermediate container \(id.prefix(12))\n".utf8))
            try? await containers.remove(id, force: true, volumes: true)
        }
        return try made(record)
    }

    func modify(_ image: BuildImage, commit: StepCommit, _ body: @escaping @Sendable (String) async throws -> Void) async throws -> BuildImage {
        let store = self.store
        let request = commitRequest(commit, parent: image)
        let record = try await service.withScratchRoot(image, body) { upper in
            try await BlockingWork.run {
                // Nothing changed (WORKDIR of an existing directory): no layer.
                let fd = try FileAt.openDirectory(upper)
                defer { close(fd) }
                if try FileAt.isEmptyDirectory(fd: fd) { return try ImageCommitter(store: store).commit(request) }
                return try ImageCommitter(store: store).commit(request, upperDirectory: upper)
            }
        }
        return try made(record)
    }

    func withRoot(of image: BuildImage, _ body: @escaping @Sendable (String) async throws -> Void) async throws {
        try await service.withScratchRoot(image, body) { _ in }
    }

    func owner(_ spec: String, root: String) throws -> (uid: UInt32, gid: UInt32) {
        let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let r = try UserLookup.resolve(spec, groupAdd: [], rootfs: root)
        // `--chown=1000` means 1000:1000, as Docker.
        if parts.count == 1, let n = UInt32(parts[0]) { return (n, n) }
        return (r.uid, r.gid)
    }
}
