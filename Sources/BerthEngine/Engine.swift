#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthImage
import BerthSystem
import Logging
import BerthOCI
import Synchronization

/// The daemon's configuration (flags and the config file).
public struct EngineConfig: Sendable {
    /// State root (`/var/lib/berth`).
    public var root: String
    /// Where berth-init is.
    public var initBinary: String
    /// Runtime state on tmpfs (berth-init's records, monitor sockets); short, since unix socket
    /// paths are limited to 107 bytes. Defaults to `/run/berth/<hash of root>`.
    public var execRoot: String
    /// The static init bind-mounted for `--init` (Docker's docker-init is tini).
    public var initPath: String?
    /// The default bridge's interface (`berth0`), or nil for none (`--bridge none`).
    public var defaultBridge: String?
    /// Berth's nftables table (`inet berth`; another state root gets `berth_<hash>`).
    public var firewallTable: String
    /// Registries whose certificates are not verified (HTTPS first, then plain HTTP), besides
    /// loopback ones (`host:port`).
    public var insecureRegistries: [String] = []
    /// Docker Hub mirrors (`http://host:port` or `https://host`), tried in order before Hub.
    public var registryMirrors: [String] = []
    /// Per-registry CAs and client certificates (Docker's `certs.d` layout), or nil.
    public var registryCertsDirectory: String?
    public init(root: String, initBinary: String, execRoot: String? = nil, initPath: String? = nil,
                defaultBridge: String? = "berth0", firewallTable: String? = nil) {
        self.root = root
        self.defaultBridge = defaultBridge
        self.firewallTable = firewallTable ?? (root == "/var/lib/berth" ? "berth" : "berth_" + EngineConfig.hash(root))
        self.initBinary = initBinary
        self.execRoot = execRoot ?? EngineConfig.defaultExecRoot(for: root)
        self.initPath = initPath ?? ["/usr/bin/tini-static", "/usr/sbin/docker-init", "/usr/libexec/docker/docker-init"]
            .first { FileSystem.exists($0) }
    }

    /// `/run/berth/<8 hex digits of a hash of root>`.
    public static func defaultExecRoot(for root: String) -> String { "/run/berth/" + hash(root) }

    /// 8 hex digits of an FNV-1a hash of `text`.
    static func hash(_ text: String) -> String {
        var h: UInt32 = 2166136261
        for b in text.utf8 { h = (h ^ UInt32(b)) &* 16777619 }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }
}

/// The engine: every service, over one state root. Knows nothing of HTTP.
public final class Engine: Sendable {
    public let config: EngineConfig
    public let events: EventService
    public let images: ImageService
    public let containers: ContainerService
    public let volumes: VolumeService
    public let networks: NetworkService
    public let system: SystemService
    public let builds: BuildService
    /// VMs (QEMU), beside the containers.
    public let vms: VMService
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
        let users = UsageBox()
        images = ImageService(store: store, events: events, insecureRegistries: config.insecureRegistries,
                              mirrors: config.registryMirrors, certsDirectory: config.registryCertsDirectory, usage: { users.usage(of: $0) })
        volumes = try VolumeService(root: config.root, events: events, logger: logger)
        networks = try NetworkService(root: config.root, defaultBridge: config.defaultBridge, firewallTable: config.firewallTable,
                                      events: events, logger: logger)
        containers = try ContainerService(root: config.root, execRoot: config.execRoot, initBinary: config.initBinary,
                                          tiniPath: config.initPath, images: images, volumes: volumes, networks: networks, events: events,
                                          logger: logger)
        users.set(containers)
        let containers = self.containers
        volumes.setUsers { containers.volumeUsers($0) }
        let vms = try VMService(root: config.root, execRoot: config.execRoot, images: images, networks: networks,
                                events: events, logger: logger)
        self.vms = vms
        // A network's members are its containers and its VMs (DNS, inspect, removal checks).
        networks.setMembers { id in
            containers.networkMembers(id) + vms.members(of: id).map { m in
                var e = ContainerEndpoint(networkID: id)
                e.endpointID = m.id
                e.ipv4 = m.endpoint.address
                e.prefixLength = m.endpoint.prefixLength
                e.gateway = m.endpoint.gateway
                e.mac = m.endpoint.mac
                e.hostVeth = m.endpoint.tap
                e.interface = "eth0"
                return (m.id, m.name, e, true)
            }
        }
        Task { await vms.restore() }
        networks.restore(running: containers.runningEndpoints())
        builds = BuildService(images: images, containers: containers, events: events)
        let builds = self.builds
        Task { await builds.removeLeftoverSteps() }
        system = SystemService(root: config.root, engineID: try SystemService.loadOrCreateID(root: config.root))
    }
}

/// Lets the image service ask the container service (made after it) which containers use an image.
final class UsageBox: Sendable {
    private let service = Mutex<ContainerService?>(nil)
    func set(_ s: ContainerService) { service.withLock { $0 = s } }
    func usage(of image: Digest) -> [(id: String, running: Bool)] {
        service.withLock { $0 }?.usage(of: image) ?? []
    }
}
