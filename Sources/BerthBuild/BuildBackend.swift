import BerthCore
import BerthOCI

/// An image as a build sees it: its ID (nil for `scratch`, which is no image) and its config.
public struct BuildImage: Sendable, Equatable {
    public var id: Digest?
    public var config: ImageConfig

    public init(id: Digest?, config: ImageConfig) {
        self.id = id
        self.config = config
    }

    /// `FROM scratch`: no layers, an empty config.
    public static var scratch: BuildImage {
        BuildImage(id: nil, config: ImageConfig(config: ImageConfig.Config(), rootfs: ImageConfig.RootFS(diffIDs: [])))
    }

    /// The 12-digit ID Docker prints.
    public var shortID: String { id.map { String($0.encoded.prefix(12)) } ?? "scratch" }
}

/// What a step leaves behind: the new image's config (the parent's with the step's change,
/// `rootfs` and `history` completed by the backend), its history entry and its cache key.
public struct StepCommit: Sendable {
    public var config: ImageConfig
    public var history: ImageConfig.History
    public var key: String
    public init(config: ImageConfig, history: ImageConfig.History, key: String) {
        self.config = config
        self.history = history
        self.key = key
    }
}

/// A `RUN` step's process.
public struct RunStep: Sendable {
    /// The program and its arguments.
    public var command: [String]
    /// The image's environment plus the build arguments in scope.
    public var env: [String]
    public var user: String
    public var workingDir: String
}

/// The step did not succeed: `message` as Docker words it, `code` the exit code the CLI
/// ends with (a failing `RUN`'s own code, else 1).
public struct BuildError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var code: Int
    public init(_ message: String, code: Int = 1) {
        self.message = message
        self.code = code
    }
    public var description: String { message }
}

/// What the builder needs from the engine: images, the cache, containers for `RUN`, writable
/// roots for `COPY`. berthd's implementation lives in BerthEngine (`BuildService`).
public protocol BuildBackend: Sendable {
    /// The image a `FROM` names (a reference or an ID).
    func baseImage(_ name: String) async throws -> BuildImage
    /// The image an earlier build made with step `key` on top of `parent`, if kept.
    func cached(parent: Digest?, key: String) -> BuildImage?
    /// Records an image with the parent's layers and `commit`'s config (metadata steps).
    func commit(_ commit: StepCommit, parent: BuildImage) async throws -> BuildImage
    /// Runs `step` in a container from `image` (recorded first if it is `scratch`); `started`
    /// gets the container's ID, `output` its stdout and stderr as they come. Exit 0: the
    /// container's changes become the new image's layer. Otherwise throws a ``BuildError``
    /// carrying the exit code.
    func run(_ step: RunStep, on image: BuildImage, commit: StepCommit,
             started: @escaping @Sendable (String) async -> Void,
             output: @escaping @Sendable ([UInt8]) async -> Void) async throws -> BuildImage
    /// Mounts a writable root filesystem over `image`, runs `body` with its path, and records
    /// what `body` changed as a new layer.
    func modify(_ image: BuildImage, commit: StepCommit,
                _ body: @escaping @Sendable (_ root: String) async throws -> Void) async throws -> BuildImage
    /// Runs `body` with `image`'s root filesystem mounted (changes are discarded): the source
    /// of `COPY --from`.
    func withRoot(of image: BuildImage, _ body: @escaping @Sendable (_ root: String) async throws -> Void) async throws
    /// Resolves `--chown` (`user[:group]`, names or numbers) against the root's /etc/passwd
    /// and /etc/group.
    func owner(_ spec: String, root: String) throws -> (uid: UInt32, gid: UInt32)
}
