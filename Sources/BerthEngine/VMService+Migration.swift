#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthSystem
import BerthVM

/// What a destination berthd needs to take a VM (the server layer carries it over the API).
public struct VMIncomingSpec: Sendable {
    public var name: String
    public var image: String
    public var imageID: String
    public var cpus: Int
    public var memoryMiB: Int
    public var diskSize: UInt64
    public var kernel: String
    public var command: [String]?
    public var hostname: String?
    public var networks: [String]
    /// The initramfs the guest booted from (copied by the destination).
    public var initrd: String?
    public var disks: [VMDisk]

    public init(name: String, image: String, imageID: String, cpus: Int, memoryMiB: Int, diskSize: UInt64, kernel: String,
                command: [String]?, hostname: String?, networks: [String], initrd: String? = nil, disks: [VMDisk]) {
        self.initrd = initrd
        self.name = name; self.image = image; self.imageID = imageID; self.cpus = cpus; self.memoryMiB = memoryMiB
        self.diskSize = diskSize; self.kernel = kernel; self.command = command; self.hostname = hostname
        self.networks = networks; self.disks = disks
    }
}

/// Live migration between two berthds on one host (the server layer drives it; the engine
/// knows nothing of the other daemon):
///
/// 1. source: `incomingSpec` describes the VM; the VM is paused (QMP `stop` drains and
///    flushes its disks);
/// 2. destination: `prepareIncoming` copies the disks (thin qcow2: only allocated clusters,
///    internal snapshots included) into its own disk directory, allocates addresses on the
///    networks of the same names, and starts a QEMU waiting on a unix socket;
/// 3. source: `migrateOut` streams memory and device state there (QEMU migration), then
///    removes its own VM, disks and addresses;
/// 4. destination: `resume` — the guest continues where it was paused (no reboot).
extension VMService {
    /// The source side's description of a running VM.
    public func incomingSpec(_ ref: String) async throws -> VMIncomingSpec {
        let r = try lookup(ref)
        let c = try await backend.config(r.name)
        switch try await backend.state(r.name) {
        case .running, .paused: break
        default: throw BerthError.conflict("vm \(r.name) is not running: export and import a stopped vm instead")
        }
        return VMIncomingSpec(name: r.name, image: r.image, imageID: r.imageID, cpus: c.vcpus, memoryMiB: c.memoryMiB,
                              diskSize: r.diskSize, kernel: c.kernel, command: c.command, hostname: c.hostname,
                              networks: r.endpoints.map(\.networkName), initrd: c.initrd, disks: c.disks)
    }

    /// The destination side: copies the disks, creates the VM and starts a QEMU waiting for the
    /// migration stream; returns its URI. Any failure removes what was made.
    public func prepareIncoming(_ spec: VMIncomingSpec) async throws -> String {
        let name = spec.name
        guard records[name] == nil, !creating.contains(name) else { throw BerthError.conflict("vm \(name) exists already") }
        let nets = try resolveNetworks(spec.networks, vm: name)
        creating.insert(name)
        defer { creating.remove(name) }
        let id = NetworkService.randomID()
        let dir = diskDirectory(id)
        var endpoints: [VMEndpoint] = []
        var registered = false
        do {
            try FileSystem.makeDirectories(dir, mode: 0o700)
            var initrd: String?
            if let source = spec.initrd {
                let target = dir + "/initrd"
                try await BlockingWork.run { try VMService.copySparse(from: source, to: target) }
                initrd = target
            }
            var disks: [VMDisk] = []
            for (i, d) in spec.disks.enumerated() {
                let target = dir + (i == 0 ? "/root." : "/disk\(i).") + d.format
                let source = d.path
                try await BlockingWork.run { try VMService.copySparse(from: source, to: target) }
                disks.append(VMDisk(path: target, format: d.format, readOnly: d.readOnly))
            }
            for (i, net) in nets.enumerated() {
                let got = try networks.allocate(net.id, requested: nil)
                endpoints.append(VMEndpoint(networkID: net.id, networkName: net.name, address: got.address, prefixLength: got.prefix,
                                            gateway: got.gateway, mac: macAddress(for: got.address), tap: "bvm\(id.prefix(8))\(i)"))
            }
            var config = VMConfig(name: name, vcpus: spec.cpus, memoryMiB: spec.memoryMiB, kernel: spec.kernel, initrd: initrd,
                                  disks: disks, hostname: spec.hostname, command: spec.command)
            (config.networks, config.nameservers) = interfaces(endpoints)
            let uri = try await backend.prepareIncoming(config)
            registered = true
            let record = VMRecord(id: id, name: name, image: spec.image, imageID: spec.imageID, created: VMService.now(),
                                  diskSize: spec.diskSize, endpoints: endpoints)
            try save(record)
            emit("incoming", record)
            return uri
        } catch {
            if registered {
                _ = try? await backend.kill(name)
                try? await backend.delete(name)
            }
            for e in endpoints { networks.release(e.networkID, e.address) }
            try? FileSystem.removeTree(dir)
            throw error
        }
    }

    /// The source side, after the destination is prepared: migrates, then removes the VM here
    /// (its QEMU has quit; disks, record and addresses go).
    public func migrateOut(_ ref: String, to uri: String) async throws {
        let r = try lookup(ref)
        try await backend.migrate(r.name, to: uri)
        emit("migrate", r)
        try await remove(r.name, force: true)
    }

    /// Copies a file keeping holes (a thin qcow2 or a sparse raw image): data ranges only,
    /// found with SEEK_DATA/SEEK_HOLE.
    static func copySparse(from source: String, to target: String) throws {
        let src = try FD.open(source, O_RDONLY | O_CLOEXEC)
        defer { FD.close(src) }
        let dst = try FD.open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode: 0o600)
        defer { FD.close(dst) }
        var st = stat()
        guard fstat(src, &st) == 0 else { throw BerthError.sys("stat \(source)") }
        let size = Int64(st.st_size)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: Int64 = 0
        while offset < size {
            let data = lseek(src, off_t(offset), 3 /* SEEK_DATA */)
            if data < 0 { break }  // ENXIO: only a hole is left
            var end = Int64(lseek(src, data, 4 /* SEEK_HOLE */))
            if end < 0 { end = size }
            var pos = Int64(data)
            while pos < end {
                let want = Int(min(Int64(buffer.count), end - pos))
                let n = buffer.withUnsafeMutableBytes { pread(src, $0.baseAddress, want, off_t(pos)) }
                guard n > 0 else { throw BerthError.sys("read \(source)") }
                let w = buffer.withUnsafeBytes { pwrite(dst, $0.baseAddress, n, off_t(pos)) }
                guard w == n else { throw BerthError.sys("write \(target)") }
                pos += Int64(n)
            }
            offset = end
        }
        guard ftruncate(dst, off_t(size)) == 0 else { throw BerthError.sys("truncate \(target)") }
        guard fsync(dst) == 0 else { throw BerthError.sys("sync \(target)") }
    }
}
