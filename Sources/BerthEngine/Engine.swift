#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthImage
import BerthSystem
import Logging

/// The daemon's configuration (flags and the config file).
public struct EngineConfig: Sendable {
    /// State root (`/var/lib/berth`).
    public var root: String
    /// Where berth-init is (for containers, [run]).
    public var initBinary: String
    public init(root: String, initBinary: String) {
        self.root = root
        self.initBinary = initBinary
    }
}

/// The engine: every service, over one state root. Knows nothing of HTTP.
public final class Engine: Sendable {
    public let config: EngineConfig
    public let events: EventService
    public let images: ImageService
    public let system: SystemService
    public let logger: Logger

    /// Opens the state root (creating it), clearing interrupted work and collecting garbage
    /// left by a crash.
    public init(config: EngineConfig, logger: Logger) throws {
        self.config = config
        self.logger = logger
        try FileSystem.makeDirectories(config.root, mode: 0o711)
        let store = try ImageStore(root: config.root + "/image")
        let collected = try store.collect()
        if !collected.blobs.isEmpty || !collected.snapshots.isEmpty {
            logger.info("collected garbage from an interrupted run", metadata: [
                "blobs": "\(collected.blobs.count)", "layers": "\(collected.snapshots.count)", "bytes": "\(collected.bytes)"])
        }
        events = EventService()
        images = ImageService(store: store, events: events)
        system = SystemService(root: config.root, engineID: try SystemService.loadOrCreateID(root: config.root))
    }
}
