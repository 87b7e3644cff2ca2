#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthImage
import BerthSystem
import BerthVM
import Logging
import Synchronization

/// What `berth vm create` asks for.
public struct VMCreateOptions: Sendable {
    /// The VM's name (a generated one when nil or empty).
    public var name: String?
    /// The image whose root filesystem becomes the VM's root disk.
    public var image: String
    public var cpus: Int = 1
    public var memoryMiB: Int = 256
    /// The root disk's virtual size in bytes (thin: a ceiling, not an allocation).
    public var diskSize: UInt64 = VMService.defaultDiskSize
    /// Blank extra disks (`/dev/vdb`, …), virtual sizes in bytes.
    public var extraDisks: [UInt64] = []
    /// A command Berth's guest init runs in the root disk instead of its /sbin/init.
    public var command: [String]?
    public var hostname: String?
    /// Networks by name or id; nil → the default bridge network (none with `--bridge none`).
    public var networks: [String]?

    public init(name: String? = nil, image: String) {
        self.name = name
        self.image = image
    }
}

/// A VM's endpoint on a Berth network: an address from the network's IPAM, held from create
/// to rm (a VM keeps its address across reboots), and the tap device QEMU makes at each
/// start on the network's bridge (it vanishes when QEMU exits).
public struct VMEndpoint: Codable, Sendable, Equatable {
    public var networkID: String
    public var networkName: String
    public var address: String
    public var prefixLength: Int
    public var gateway: String
    public var mac: String
    public var tap: String
}

/// The engine's record of a VM (`<root>/vms/records/<name>.json`): what the backend's
/// config does not say.
public struct VMRecord: Codable, Sendable, Equatable {
    /// 64 hex digits, as container IDs (the DNS server resolves its 12-digit prefix too).
    public var id: String
    public var name: String
    /// The image as asked (`busybox:test`) and its ID (empty for an imported VM).
    public var image: String
    public var imageID: String
    /// RFC 3339.
    public var created: String
    public var diskSize: UInt64
    public var endpoints: [VMEndpoint]
}

/// A VM as the API shows it.
public struct VMInfo: Sendable {
    public var record: VMRecord
    public var config: VMConfig
    public var state: VMState
    public var directory: String
}

/// VMs managed by berthd: a `QEMUBackend` under the state root, root disks made from images,
/// addresses from the networks' IPAM, names in the networks' DNS, events of type `vm`.
///
/// Layout: `<root>/vms/state/<name>/` is the backend's state directory per VM (config,
/// process record, console log, QMP and console sockets) — reached through the symlink
/// `<exec root>/vms`, so socket paths stay short whatever the state root; `<root>/vms/disks/<id>/`
/// holds the VM's disks (root.qcow2, disk1.qcow2 …); `<root>/vms/records/<name>.json` the
/// engine's record; `<root>/vms/kernel/` the cached initramfs.
public actor VMService {
    /// 1 GiB.
    public static let defaultDiskSize: UInt64 = 1 << 30

    let root: String
    let backend: QEMUBackend
    let images: ImageService
    let networks: NetworkService
    let events: EventService
    let logger: Logger
    var records: [String: VMRecord]
    /// The records, readable without the actor (the network service's DNS and member lists).
    let published = Mutex<[String: VMRecord]>([:])
    /// Names being created (a second create of the same name is a conflict at once).
    var creating: Set<String> = []

    public init(root stateRoot: String, execRoot: String, images: ImageService, networks: NetworkService,
                events: EventService, logger: Logger) throws {
        let vmRoot = stateRoot + "/vms"
        for d in [vmRoot, vmRoot + "/state", vmRoot + "/disks", vmRoot + "/records", vmRoot + "/kernel", vmRoot + "/tmp"] {
            try FileSystem.makeDirectories(d, mode: 0o700)
        }
        try FileSystem.makeDirectories(execRoot, mode: 0o700)
        let link = execRoot + "/vms"
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink(link, &buf, buf.count - 1)
        let current = n > 0 ? String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
        if current != vmRoot + "/state" {
            unlink(link)
            try sysCall("symlink \(link)") { symlink(vmRoot + "/state", link) }
        }
        var loaded: [String: VMRecord] = [:]
        for file in (try? FileSystem.list(vmRoot + "/records")) ?? [] where file.hasSuffix(".json") {
            guard let bytes = try? FileSystem.read(vmRoot + "/records/" + file),
                  let r = try? BerthJSONDecoder().decode(VMRecord.self, from: bytes) else {
                logger.warning("skipping unreadable vm record", metadata: ["file": "\(file)"])
                continue
            }
            loaded[r.name] = r
        }
        for r in loaded.values {
            for e in r.endpoints { networks.reserve(e.networkID, e.address) }
        }
        records = loaded
        published.withLock { $0 = loaded }
        root = vmRoot
        self.images = images
        self.networks = networks
        self.events = events
        self.logger = logger
        backend = try QEMUBackend(options: .init(root: link))
    }

    /// At berthd start: re-adopts the QEMUs that kept running (their taps stay on the bridges)
    /// and drops records whose backend state is gone.
    public func restore() async {
        let adopted = await backend.restore()
        if !adopted.isEmpty { logger.info("re-adopted running vms", metadata: ["vms": "\(adopted.joined(separator: ","))"]) }
        let known = Set(await backend.names)
        for (name, r) in records where !known.contains(name) {
            logger.warning("vm record without backend state: removing", metadata: ["vm": "\(name)"])
            release(r)
            try? FileSystem.removeTree(root + "/disks/" + r.id)
            unlink(recordPath(name))
            records[name] = nil
        }
        publish()
    }

    /// Leaves running QEMUs running (berthd shutting down).
    public func shutdown() async { await backend.releaseAll() }

    func recordPath(_ name: String) -> String { root + "/records/" + name + ".json" }
    func diskDirectory(_ id: String) -> String { root + "/disks/" + id }

    func save(_ r: VMRecord) throws {
        try FileSystem.writeAtomically(recordPath(r.name), try BerthJSONEncoder().encode(r), mode: 0o600)
        records[r.name] = r
        publish()
    }

    func publish() { let r = records; published.withLock { $0 = r } }

    /// Gives back a record's addresses.
    func release(_ r: VMRecord) {
        for e in r.endpoints { networks.release(e.networkID, e.address) }
    }

    func lookup(_ name: String) throws -> VMRecord {
        if let r = records[name] { return r }
        if name.count >= 3, let r = records.values.first(where: { $0.id.hasPrefix(name) }) { return r }
        throw BerthError.notFound("no such vm: \(name)")
    }

    func emit(_ action: String, _ r: VMRecord) {
        events.publish(type: "vm", action: action, actorID: r.id, attributes: ["name": r.name, "image": r.image])
    }

    // MARK: queries

    /// Every VM, by name.
    public func list() async -> [VMInfo] {
        var out: [VMInfo] = []
        for name in records.keys.sorted() {
            if let i = try? await inspect(name) { out.append(i) }
        }
        return out
    }

    /// One VM by name or unique id prefix.
    public func inspect(_ ref: String) async throws -> VMInfo {
        let r = try lookup(ref)
        let config = try await backend.config(r.name)
        let state = try await backend.state(r.name)
        return VMInfo(record: r, config: config, state: state, directory: try await backend.directory(r.name))
    }

    /// Names and endpoints of the VMs on a network (for its DNS and member list).
    public nonisolated func members(of networkID: String) -> [(id: String, name: String, endpoint: VMEndpoint)] {
        published.withLock { recs in
            recs.values.flatMap { r in r.endpoints.filter { $0.networkID == networkID }.map { (r.id, r.name, $0) } }
        }
    }

    // MARK: lifecycle

    public func start(_ ref: String) async throws {
        let r = try lookup(ref)
        try await backend.start(r.name)
        emit("start", r)
    }

    @discardableResult
    public func stop(_ ref: String, timeout: Double) async throws -> VMExit {
        let r = try lookup(ref)
        let exit = try await backend.stop(r.name, timeout: timeout)
        emit("stop", r)
        return exit
    }

    @discardableResult
    public func kill(_ ref: String) async throws -> VMExit {
        let r = try lookup(ref)
        let exit = try await backend.kill(r.name)
        emit("kill", r)
        return exit
    }

    public func pause(_ ref: String) async throws {
        let r = try lookup(ref)
        try await backend.pause(r.name)
        emit("pause", r)
    }

    public func resume(_ ref: String) async throws {
        let r = try lookup(ref)
        try await backend.resume(r.name)
        emit("resume", r)
    }

    /// Removes a VM that is not running (`force`: kills it first), its disks, its record, and
    /// gives its addresses back.
    public func remove(_ ref: String, force: Bool) async throws {
        let r = try lookup(ref)
        switch try await backend.state(r.name) {
        case .running, .paused:
            guard force else { throw BerthError.conflict("vm \(r.name) is running: stop it first or use --force") }
            try await backend.kill(r.name)
        default: break
        }
        try await backend.delete(r.name)
        try? FileSystem.removeTree(diskDirectory(r.id))
        unlink(recordPath(r.name))
        records[r.name] = nil
        publish()
        release(r)
        emit("destroy", r)
    }

    public func stats(_ ref: String) async throws -> VMStats {
        try await backend.stats(try lookup(ref).name)
    }

    /// The console log so far.
    public func consoleOutput(_ ref: String) async throws -> [UInt8] {
        try await backend.consoleOutput(try lookup(ref).name)
    }

    /// A connected socket on the VM's serial console (the caller closes it).
    public func attachConsole(_ ref: String) async throws -> Int32 {
        let r = try lookup(ref)
        switch try await backend.state(r.name) {
        case .running, .paused: break
        default: throw BerthError.conflict("vm \(r.name) is not running")
        }
        return try await backend.attachConsole(r.name)
    }

    // MARK: snapshots

    public func snapshot(_ ref: String, tag: String) async throws {
        let r = try lookup(ref)
        try await backend.snapshot(r.name, tag: tag)
        emit("snapshot", r)
    }

    public func restoreSnapshot(_ ref: String, tag: String) async throws {
        let r = try lookup(ref)
        try await backend.restoreSnapshot(r.name, tag: tag)
        emit("restore", r)
    }

    public func snapshots(_ ref: String) async throws -> [VMSnapshot] {
        try await backend.snapshots(try lookup(ref).name)
    }

    public func deleteSnapshot(_ ref: String, tag: String) async throws {
        try await backend.deleteSnapshot(try lookup(ref).name, tag: tag)
    }
}
