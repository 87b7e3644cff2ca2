#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthSystem
import Logging
import Synchronization

/// A volume as the engine knows it (the server turns it into Docker's `Volume`).
public struct VolumeInfo: Sendable, Equatable {
    public var name: String
    public var driver: String
    /// `<root>/volumes/<name>/_data`.
    public var mountpoint: String
    /// RFC 3339 in UTC, seconds precision.
    public var createdAt: String
    public var labels: [String: String]
    /// Driver options (`type`, `device`, `o`); empty when none were given.
    public var options: [String: String]
    /// Created for a container (`-v /path`, an image's VOLUME) rather than by name.
    public var anonymous: Bool { labels[VolumeService.anonymousLabel] != nil }
}

/// Named and anonymous volumes with Docker's `local` driver semantics.
///
/// Each volume is a directory `<root>/volumes/<name>/` holding `_data` (what containers mount)
/// and `volume.json` (name, labels, options, creation time), written last and atomically: a
/// directory without it is an interrupted create, removed at the next start. A volume with a
/// `device` option (`type=tmpfs device=tmpfs o=size=64m`, `type=none o=bind device=/srv`) is
/// mounted on `_data` when the first container using it starts and unmounted when the last one
/// stops, as Docker's local driver does. References are the containers whose mounts name the
/// volume (asked of the container service), so they survive berthd restarts with the
/// container records.
public final class VolumeService: Sendable {
    /// Docker ≥ 23's label on anonymous volumes; `volume prune` without `all` removes only these.
    public static let anonymousLabel = "com.docker.volume.anonymous"
    /// `<root>/volumes`.
    public let root: String
    let events: EventService
    let logger: Logger
    /// Containers referencing a volume (set once the container service exists).
    let users = Mutex<(@Sendable (String) -> [String])?>(nil)

    struct Record: Codable {
        var name: String
        var driver: String
        var createdAt: String
        var labels: [String: String]
        var options: [String: String]
    }

    struct State {
        var volumes: [String: Record] = [:]
        /// Containers that have a device-backed volume mounted: name → container ids.
        var active: [String: Set<String>] = [:]
        /// Volumes being removed (a concurrent reference must fail).
        var removing: Set<String> = []
    }
    let state = Mutex(State())

    /// Opens `<root>/volumes`, dropping directories left by an interrupted create.
    public init(root: String, events: EventService, logger: Logger) throws {
        self.root = root + "/volumes"
        self.events = events
        self.logger = logger
        try FileSystem.makeDirectories(self.root, mode: 0o701)
        var loaded: [String: Record] = [:]
        for name in try FileSystem.list(self.root) {
            let dir = "\(self.root)/\(name)"
            guard FileSystem.isDirectory(dir) else { continue }
            guard let bytes = try? FileSystem.read("\(dir)/volume.json"),
                  let r = try? BerthJSONDecoder().decode(Record.self, from: bytes), r.name == name else {
                if !FileSystem.exists("\(dir)/volume.json") {
                    logger.info("removing an interrupted volume create", metadata: ["volume": "\(name)"])
                    try? Mounts.unmount("\(dir)/_data", detach: true)
                    try? FileSystem.removeTree(dir)
                } else {
                    logger.warning("volume record unreadable; skipped", metadata: ["volume": "\(name)"])
                }
                continue
            }
            loaded[name] = r
        }
        state.withLock { $0.volumes = loaded }
    }

    func setUsers(_ f: @escaping @Sendable (String) -> [String]) { users.withLock { $0 = f } }

    /// The ids of containers whose mounts name the volume.
    public func references(_ name: String) -> [String] {
        users.withLock { $0 }?(name) ?? []
    }

    func directory(_ name: String) -> String { "\(root)/\(name)" }
    /// Where a volume's data lives on the host (what containers bind-mount).
    public func mountpoint(_ name: String) -> String { "\(root)/\(name)/_data" }

    // MARK: validation

    /// Docker's rule for local volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
    public static func validate(name: String) throws {
        let ok = name.utf8.count >= 2 && name.utf8.enumerated().allSatisfy { i, b in
            let alnum = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)
            return alnum || (i > 0 && (b == 0x5f || b == 0x2e || b == 0x2d))
        }
        guard ok else {
            throw BerthError.invalid("create \(name): \"\(name)\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path")
        }
    }

    /// Docker's local driver options: `type`, `device`, `o` (and `size`, which needs quotas
    /// this host's filesystems do not offer); `type` and `device` go together, `o` needs `device`.
    static func validate(options: [String: String]) throws {
        for key in options.keys.sorted() where !["type", "device", "o", "size"].contains(key) {
            throw BerthError.invalid("invalid option: \"\(key)\"")
        }
        if let s = options["size"], !s.isEmpty, s != "0" {
            throw BerthError.invalid("quota size requested but no quota support")
        }
        for (opt, required) in [("device", "type"), ("type", "device"), ("o", "device")]
        where options[opt] != nil && options[required] == nil {
            throw BerthError.invalid("missing required option: \"\(required)\"")
        }
        if let o = options["o"], o.split(separator: ",").contains(where: { $0 == "bind" || $0 == "rbind" }),
           let device = options["device"], !device.hasPrefix("/") {
            throw BerthError.invalid("invalid option: bind device \"\(device)\" must be an absolute path")
        }
    }

    static func checkDriver(_ driver: String?) throws {
        let d = driver ?? ""
        if !d.isEmpty && d != "local" {
            throw BerthError.notFound("error looking up volume plugin \(d): plugin \"\(d)\" not found")
        }
    }

    // MARK: create, get, list

    /// `POST /volumes/create`: creates the volume, or returns the existing one of that name
    /// (as Docker does). An empty name makes a random one, labelled anonymous.
    @discardableResult
    public func create(name given: String?, driver: String? = nil, options: [String: String] = [:],
                       labels: [String: String] = [:]) throws -> VolumeInfo {
        try Self.checkDriver(driver)
        let unnamed = (given ?? "").isEmpty
        let name = unnamed ? Self.randomName() : given!
        var labels = labels
        // A volume made without a name is anonymous (Docker ≥ 23): `volume prune` removes it.
        if unnamed { labels[Self.anonymousLabel] = "" }
        try Self.validate(name: name)
        try Self.validate(options: options)
        if let existing = try existing(name) { return existing }
        let r = Record(name: name, driver: "local", createdAt: WallClock(seconds: WallClock.now().seconds, nanoseconds: 0).rfc3339Nano, labels: labels, options: options)
        let dir = directory(name)
        try FileSystem.makeDirectories(dir, mode: 0o701)
        do {
            _ = try FileSystem.makeDirectory(mountpoint(name), mode: 0o755)
            try FileSystem.writeAtomically("\(dir)/volume.json", try BerthJSONEncoder().encode(r), mode: 0o600)
        } catch {
            try? FileSystem.removeTree(dir)
            throw error
        }
        let raced: VolumeInfo? = state.withLock { s in
            if let other = s.volumes[name] { return info(other) }
            s.volumes[name] = r
            return nil
        }
        if let raced { return raced }
        events.publish(type: "volume", action: "create", actorID: name, attributes: ["driver": "local"])
        return info(r)
    }

    private func existing(_ name: String) throws -> VolumeInfo? {
        try state.withLock { s in
            if s.removing.contains(name) { throw BerthError.conflict("volume \(name) is being removed") }
            return s.volumes[name].map(info)
        }
    }

    /// A volume by exact name.
    public func get(_ name: String) throws -> VolumeInfo {
        guard let r = state.withLock({ $0.volumes[name] }) else {
            throw BerthError.notFound("get \(name): no such volume")
        }
        return info(r)
    }

    /// Whether a volume of that name exists.
    public func exists(_ name: String) -> Bool { state.withLock { $0.volumes[name] != nil } }

    /// Every volume, by name.
    public func list() -> [VolumeInfo] {
        state.withLock { s in s.volumes.values.map(info) }.sorted { $0.name < $1.name }
    }

    func info(_ r: Record) -> VolumeInfo {
        VolumeInfo(name: r.name, driver: r.driver, mountpoint: mountpoint(r.name), createdAt: r.createdAt,
                   labels: r.labels, options: r.options)
    }

    /// 64 random hex digits, as Docker names anonymous volumes.
    static func randomName() -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<4).map { _ in
            let h = String(g.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - h.count) + h
        }.joined()
    }

    // MARK: remove, prune

    /// `DELETE /volumes/{name}`: refused while a container references it. `force` only makes a
    /// missing volume a success, as in Docker.
    public func remove(_ name: String, force: Bool = false) throws {
        let r: Record? = try state.withLock { s in
            guard let r = s.volumes[name] else { return nil }
            if s.removing.contains(name) { throw BerthError.conflict("remove \(name): volume is being removed") }
            s.removing.insert(name)
            return r
        }
        guard r != nil else {
            if force { return }
            throw BerthError.notFound("get \(name): no such volume")
        }
        defer { _ = state.withLock { $0.removing.remove(name) } }
        let refs = references(name)
        if !refs.isEmpty {
            throw BerthError.conflict("remove \(name): volume is in use - [\(refs.joined(separator: ", "))]")
        }
        try? Mounts.unmount(mountpoint(name), detach: true)
        let dir = directory(name)
        // The record goes first: a crash midway leaves a directory without it, which the next
        // start removes.
        try FileSystem.removeTree("\(dir)/volume.json")
        state.withLock { s in
            s.volumes[name] = nil
            s.active[name] = nil
        }
        do { try FileSystem.removeTree(dir) } catch {
            logger.warning("volume data not fully removed", metadata: ["volume": "\(name)", "error": "\(error)"])
        }
        events.publish(type: "volume", action: "destroy", actorID: name, attributes: ["driver": "local"])
    }

    /// `POST /volumes/prune`: removes unreferenced volumes matching `keep` — anonymous ones
    /// only unless `all`. Returns the names and the bytes freed.
    public func prune(all: Bool, matching: (VolumeInfo) -> Bool) -> (names: [String], bytes: Int64) {
        var names: [String] = []
        var bytes: Int64 = 0
        for v in list() where (all || v.anonymous) && matching(v) && references(v.name).isEmpty {
            let size = (try? FileAt.treeSize(v.mountpoint)) ?? 0
            do {
                try remove(v.name)
                names.append(v.name)
                bytes += size
            } catch {
                logger.debug("prune skipped a volume", metadata: ["volume": "\(v.name)", "error": "\(error)"])
            }
        }
        if !names.isEmpty { events.publish(type: "volume", action: "prune", actorID: "", attributes: ["reclaimed": "\(bytes)"]) }
        return (names, bytes)
    }

    /// The bytes a volume's data takes (apparent size).
    public func size(_ name: String) -> Int64 { (try? FileAt.treeSize(mountpoint(name))) ?? -1 }

    // MARK: mount, unmount (containers starting and stopping)

    /// A container using the volume starts: mounts a device-backed volume if it is the first
    /// user. Returns the host path to bind-mount.
    func mount(_ name: String, for container: String) throws -> String {
        let (r, first): (Record, Bool) = try state.withLock { s in
            guard let r = s.volumes[name], !s.removing.contains(name) else {
                throw BerthError.notFound("get \(name): no such volume")
            }
            let first = (s.active[name] ?? []).isEmpty
            s.active[name, default: []].insert(container)
            return (r, first)
        }
        let path = mountpoint(name)
        guard let device = r.options["device"], first else { return path }
        do {
            try Self.mountDevice(device, type: r.options["type"] ?? "", options: r.options["o"] ?? "", on: path)
        } catch {
            _ = state.withLock { $0.active[name]?.remove(container) }
            throw BerthError((error as? BerthError)?.code ?? .internal,
                             "error while mounting volume '\(path)': failed to mount local volume: \((error as? BerthError)?.message ?? "\(error)")")
        }
        return path
    }

    /// A container using the volume stopped: the last user unmounts a device-backed volume.
    func unmount(_ name: String, for container: String) {
        let (r, last): (Record?, Bool) = state.withLock { s in
            guard s.active[name]?.remove(container) != nil else { return (nil, false) }
            let last = s.active[name]!.isEmpty
            if last { s.active[name] = nil }
            return (s.volumes[name], last)
        }
        guard let r, last, r.options["device"] != nil else { return }
        do { try Mounts.unmount(mountpoint(name), detach: true) } catch {
            logger.warning("volume unmount failed", metadata: ["volume": "\(name)", "error": "\(error)"])
        }
    }

    /// A running container found at startup (live restore) keeps its volumes mounted.
    func adopt(_ name: String, for container: String) {
        _ = state.withLock { $0.active[name, default: []].insert(container) }
    }

    /// `mount(device, path, type, o)` as Docker's local driver does: flag words (`bind`, `ro`,
    /// `nosuid`, …) become mount flags, the rest is the filesystem's data string.
    static func mountDevice(_ device: String, type: String, options: String, on path: String) throws {
        var flags: MountFlags = []
        var data: [String] = []
        for o in options.split(separator: ",").map(String.init) {
            switch o {
            case "bind": flags.insert(.bind)
            case "rbind": flags.formUnion([.bind, .recursive])
            case "ro": flags.insert(.readOnly)
            case "rw": break
            case "nosuid": flags.insert(.noSuid)
            case "nodev": flags.insert(.noDev)
            case "noexec": flags.insert(.noExec)
            case "sync": flags.insert(.synchronous)
            case "noatime": flags.insert(.noAtime)
            case "nodiratime": flags.insert(.noDirAtime)
            case "relatime": flags.insert(.relAtime)
            case "strictatime": flags.insert(.strictAtime)
            default: data.append(o)
            }
        }
        if flags.contains(.bind) {
            try Mounts.mount(source: device, target: path, type: nil, flags: flags.subtracting(.readOnly))
            if flags.contains(.readOnly) {
                try Mounts.mount(source: nil, target: path, type: nil, flags: [.bind, .remount, .readOnly])
            }
        } else {
            try Mounts.mount(source: device, target: path, type: type == "none" ? nil : type, flags: flags,
                             data: data.isEmpty ? nil : data.joined(separator: ","))
        }
    }
}
