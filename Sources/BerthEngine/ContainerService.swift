#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthImage
import BerthOCI
import BerthRuntime
import BerthSystem
import Logging
import NIOCore
import Synchronization

/// Containers: create, start, stop, kill, wait, attach, logs, exec, remove.
///
/// State lives in `<root>/containers/<id>/` (`container.json`, the json-file log, hostname,
/// hosts, resolv.conf, the overlay dirs and the OCI bundle); the runtime's state (berth-init's
/// records, the monitor's attach socket) under the exec root on tmpfs. berthd never forks: it
/// spawns `berth-init create`, whose monitor outlives berthd, and watches the monitor's socket
/// to learn of the exit — after a restart it reconnects (live restore).
///
/// One lock guards the table; blocking work (spawn and reap, the exec fifo, file copies) runs
/// on threads of its own, and continuations are resumed outside the lock.
public final class ContainerService: Sendable {
    /// `<root>/containers`.
    public let root: String
    /// berth-init's state root (the exec root).
    public let runtimeRoot: String
    let initBinary: String
    /// A static init for `--init` (Docker's docker-init is tini), bind-mounted at
    /// /sbin/docker-init.
    let tiniPath: String?
    let images: ImageService
    let volumes: VolumeService
    let networks: NetworkService
    let events: EventService
    let logger: Logger
    let table = Mutex(Table())
    /// Open exec connections, for resize.
    let execConnections = Mutex<[String: AttachConnection]>([:])
    /// Docker's default seccomp profile converted for the default capabilities, made once.
    let defaultSeccomp: RuntimeSpec.Seccomp?
    /// `--isolation vm` containers: the QEMU backend, boot files and output pumps.
    let vmIsolation: VMIsolation

    struct PendingAttach {
        var token: Int
        var stdin, stdout, stderr: Bool
        var continuation: CheckedContinuation<MonitorConnection.Channel?, any Error>
    }

    struct Waiter {
        var condition: WaitCondition
        var promise: ExitPromise
    }

    struct Entry {
        var container: Container
        var waiters: [Waiter] = []
        var pendingAttaches: [PendingAttach] = []
        /// starting, stopping, removing: an operation is in flight.
        var busy: String?
        /// The monitor's exit arrived while `start` was still running.
        var exitPending = false
        var execIDs: [String] = []
        /// The restart policy's current backoff (0 = not restarting yet).
        var restartDelayMs = 0
    }

    struct Table {
        var entries: [String: Entry] = [:]
        /// name → id
        var names: [String: String] = [:]
        var execs: [String: ExecInstance] = [:]
        var nextToken = 0
    }

    /// Opens the container store and re-adopts running containers (their monitors kept them
    /// running while berthd was away).
    public init(root: String, execRoot: String, initBinary: String, tiniPath: String?, images: ImageService,
                volumes: VolumeService, networks: NetworkService, events: EventService, logger: Logger) throws {
        self.root = root + "/containers"
        runtimeRoot = execRoot
        self.initBinary = initBinary
        self.tiniPath = tiniPath
        self.images = images
        self.volumes = volumes
        self.networks = networks
        self.events = events
        self.logger = logger
        vmIsolation = VMIsolation(root: root, execRoot: execRoot, initBinary: initBinary)
        defaultSeccomp = try? DockerSeccompProfile.default.ociConfig(capabilities: SecurityDefaults.capabilities)
        try FileSystem.makeDirectories(self.root, mode: 0o710)
        try FileSystem.makeDirectories(runtimeRoot, mode: 0o711)
        try load()
        restartAfterDaemonStart()
    }

    // MARK: paths

    func directory(_ id: String) -> String { "\(root)/\(id)" }
    func recordPath(_ id: String) -> String { "\(root)/\(id)/container.json" }
    func rootfsPath(_ id: String) -> String { "\(root)/\(id)/rootfs" }
    /// The json-file log.
    public func logPath(_ id: String) -> String { "\(root)/\(id)/\(id)-json.log" }
    func attachSocket(_ id: String) -> String { "\(runtimeRoot)/\(id)/attach.sock" }

    // MARK: lookup

    /// The id of a container by full id, name (with or without `/`) or unique id prefix.
    public func resolve(_ ref: String) throws -> String {
        try table.withLock { try Self.resolve(ref, in: $0) }
    }

    static func resolve(_ ref: String, in t: Table) throws -> String {
        if ref.isEmpty { throw BerthError.notFound("No such container: \(ref)") }
        if t.entries[ref] != nil { return ref }
        let name = ref.hasPrefix("/") ? String(ref.dropFirst()) : ref
        if let id = t.names[name] { return id }
        let matches = t.entries.keys.filter { $0.hasPrefix(ref) }
        if matches.count == 1 { return matches[0] }
        if matches.count > 1 { throw BerthError.invalid("multiple IDs found with provided prefix: \(ref)") }
        throw BerthError.notFound("No such container: \(ref)")
    }

    /// A container's current record.
    public func get(_ ref: String) throws -> Container {
        try table.withLock { t in
            let id = try Self.resolve(ref, in: t)
            return t.entries[id]!.container
        }
    }

    /// Every container, newest first, with its exec ids.
    public func list() -> [(container: Container, execIDs: [String])] {
        table.withLock { t in t.entries.values.map { ($0.container, $0.execIDs) } }
            .sorted { $0.container.created > $1.container.created }
    }

    /// Containers using an image (for image removal and `Containers` counts).
    public func usage(of image: Digest) -> [(id: String, running: Bool)] {
        table.withLock { t in
            t.entries.values.filter { $0.container.image == image }.map { ($0.container.id, $0.container.state.isRunning) }
        }
    }

    // MARK: persistence

    /// Writes the record atomically. Not fsynced: it is on every start and exit, and what it
    /// says about a running container is checked against the runtime's records at startup.
    func save(_ c: Container) {
        do {
            var e = BerthJSONEncoder()
            e.options = []
            try FileSystem.writeAtomically(recordPath(c.id), try e.encode(c), mode: 0o600, durable: false)
        } catch {
            logger.error("cannot save container record", metadata: ["id": "\(c.id)", "error": "\(error)"])
        }
    }

    /// Applies `change` to the entry and saves the record (under the lock, so saves of one
    /// container land in order); returns the new record.
    @discardableResult
    func update(_ id: String, _ change: (inout Entry) -> Void) -> Container? {
        table.withLock { t in
            guard t.entries[id] != nil else { return nil }
            change(&t.entries[id]!)
            let c = t.entries[id]!.container
            save(c)
            return c
        }
    }

    private func load() throws {
        let store = StateStore(root: runtimeRoot)
        var adopt: [String] = []
        var exitedMeanwhile: [String] = []
        var vmRunning: [String] = []
        for id in (try? FileSystem.list(root)) ?? [] {
            guard let bytes = try? FileSystem.read(recordPath(id)),
                  var c = try? BerthJSONDecoder().decode(Container.self, from: bytes) else {
                logger.warning("skipping unreadable container record", metadata: ["id": "\(id)"])
                continue
            }
            if c.state.status == .removing {
                try? removeFiles(id)
                continue
            }
            if c.state.isRunning {
                // Its volumes stay mounted for it either way; the exit path releases them.
                for m in c.mounts where m.type == "volume" { if let n = m.name { volumes.adopt(n, for: id) } }
                if Self.isVMIsolated(c.hostConfig) {
                    vmRunning.append(id)
                } else if let r = try? store.record(id), store.exit(id) == nil, StateStore.isAlive(pid: r.pid, startTime: r.pidStartTime) {
                    adopt.append(id)
                } else {
                    exitedMeanwhile.append(id)
                }
            } else if c.state.status == .created {
                // A start interrupted by a crash leaves a created container behind.
                c.state.pid = 0
            }
            table.withLock { t in
                t.entries[id] = Entry(container: c)
                t.names[c.name] = id
            }
        }
        for id in adopt {
            startHealthMonitor(id)
            let path = attachSocket(id)
            Task { [self] in
                let ok = await MonitorConnection.watch(path: path) { [self] in self.monitorClosed(id) }
                if !ok { monitorClosed(id) }
            }
        }
        for id in exitedMeanwhile { monitorClosed(id) }
        restoreVMs(vmRunning)
    }

    // MARK: names and ids

    static func validate(name: String) throws {
        let bytes = Array(name.utf8)
        func ok(_ c: UInt8, first: Bool) -> Bool {
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || (!first && (c == 0x5F || c == 0x2E || c == 0x2D))
        }
        guard bytes.count >= 2, ok(bytes[0], first: true), bytes.dropFirst().allSatisfy({ ok($0, first: false) }) else {
            throw BerthError.invalid("Invalid container name (\(name)), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        }
    }

    static func randomID() -> String {
        var g = SystemRandomNumberGenerator()
        var out = ""
        for _ in 0..<4 {
            let v = g.next() as UInt64
            let hex = String(v, radix: 16)
            out += String(repeating: "0", count: 16 - hex.count) + hex
        }
        return out
    }

    /// Docker's event attributes for a container: image, name and labels.
    func eventAttributes(_ c: Container, _ extra: [String: String] = [:]) -> [String: String] {
        var a = c.config.Labels ?? [:]
        a["image"] = c.imageName
        a["name"] = c.name
        for (k, v) in extra { a[k] = v }
        return a
    }

    func publish(_ c: Container, _ action: String, _ extra: [String: String] = [:]) {
        events.publish(type: "container", action: action, actorID: c.id, attributes: eventAttributes(c, extra))
    }
}

/// A registered `wait`: fulfilled with the exit code when its condition holds. Registering and
/// awaiting are separate so the API can answer `wait`'s head only once it is registered (the
/// docker CLI starts the container right after that head).
public final class ExitPromise: Sendable {
    private let state = Mutex<(code: Int?, waiting: [CheckedContinuation<Int, Never>])>((nil, []))

    init() {}
    init(code: Int) { state.withLock { $0.code = code } }

    func fulfill(_ code: Int) {
        let waiting = state.withLock { s -> [CheckedContinuation<Int, Never>] in
            guard s.code == nil else { return [] }
            s.code = code
            defer { s.waiting = [] }
            return s.waiting
        }
        for w in waiting { w.resume(returning: code) }
    }

    /// The exit code, once known.
    public var value: Int {
        get async {
            await withCheckedContinuation { (k: CheckedContinuation<Int, Never>) in
                let ready = state.withLock { s -> Int? in
                    if let c = s.code { return c }
                    s.waiting.append(k)
                    return nil
                }
                if let ready { k.resume(returning: ready) }
            }
        }
    }
}
