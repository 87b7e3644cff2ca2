#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthImage
import BerthSystem
import BerthVM

extension VMService {
    /// Creates a VM from an image: validates everything first (name, vCPUs, memory, image,
    /// networks), then makes the root disk from the image's root filesystem (ext4 by
    /// `mke2fs -d`, a thin qcow2 of `diskSize`), the blank extra disks, allocates an address on
    /// each network, and registers the VM with the backend. Any failure removes what was made
    /// and gives the addresses back.
    public func create(_ o: VMCreateOptions) async throws -> VMRecord {
        var name = o.name ?? ""
        var retry = 0
        while name.isEmpty || (o.name ?? "").isEmpty && records[name] != nil {
            name = NameGenerator.random(retry: retry)
            retry += 1
        }
        guard VMConfig.isValidName(name) else {
            throw BerthError.invalid("invalid vm name \"\(name)\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at most 64 characters")
        }
        guard records[name] == nil, !creating.contains(name) else { throw BerthError.conflict("vm \(name) exists already") }
        guard o.diskSize >= 16 << 20 else { throw BerthError.invalid("vm \(name): disk size \(o.diskSize) bytes is below the minimum of 16 MiB") }
        for s in o.extraDisks where s < 1 << 20 { throw BerthError.invalid("vm \(name): extra disk size \(s) bytes is below the minimum of 1 MiB") }
        // What the backend would refuse, refused before anything is made.
        var probe = VMConfig(name: name, vcpus: o.cpus, memoryMiB: o.memoryMiB, kernel: "/dev/null", hostname: o.hostname, command: o.command)
        probe.nameservers = []
        try probe.validate(hostCPUs: HostInfo.onlineCPUs(), hostMemoryMiB: HostInfo.memoryMiB())
        let image: ImageRecord
        do { image = try images.store.resolve(o.image) } catch let e as BerthError where e.code == .notFound {
            throw BerthError.notFound("vm \(name): no such image: \(o.image)")
        }
        let nets = try resolveNetworks(o.networks, vm: name)

        creating.insert(name)
        defer { creating.remove(name) }
        let id = NetworkService.randomID()
        let disks = diskDirectory(id)
        var endpoints: [VMEndpoint] = []
        var registered = false
        do {
            let (kernel, initrd) = try await guestKernel()
            try FileSystem.makeDirectories(disks, mode: 0o700)
            try await makeRootDisk(image, at: disks + "/root.qcow2", size: o.diskSize, vm: name, id: id)
            var vmDisks = [VMDisk(path: disks + "/root.qcow2")]
            let tools = DiskImage()
            for (i, size) in o.extraDisks.enumerated() {
                let path = disks + "/disk\(i + 1).qcow2"
                try await BlockingWork.run { try tools.createThin(at: path, virtualSize: size) }
                vmDisks.append(VMDisk(path: path))
            }
            for (i, net) in nets.enumerated() {
                let got = try networks.allocate(net.id, requested: nil)
                endpoints.append(VMEndpoint(networkID: net.id, networkName: net.name, address: got.address, prefixLength: got.prefix,
                                            gateway: got.gateway, mac: macAddress(for: got.address), tap: "bvm\(id.prefix(8))\(i)"))
            }
            var config = VMConfig(name: name, vcpus: o.cpus, memoryMiB: o.memoryMiB, kernel: kernel, initrd: initrd,
                                  disks: vmDisks, hostname: o.hostname ?? name, command: o.command)
            (config.networks, config.nameservers) = interfaces(endpoints)
            try await backend.create(config)
            registered = true
            let record = VMRecord(id: id, name: name, image: o.image, imageID: image.id.description,
                                  created: VMService.now(), diskSize: o.diskSize, endpoints: endpoints)
            try save(record)
            emit("create", record)
            return record
        } catch {
            if registered { try? await backend.delete(name) }
            for e in endpoints { networks.release(e.networkID, e.address) }
            try? FileSystem.removeTree(disks)
            throw error
        }
    }

    /// The networks a VM joins: as asked, or the default bridge network.
    func resolveNetworks(_ asked: [String]?, vm: String) throws -> [NetworkRecord] {
        var refs = asked ?? []
        if asked == nil {
            guard networks.defaultBridge != nil else { return [] }
            refs = ["bridge"]
        }
        var out: [NetworkRecord] = []
        for ref in refs where !ref.isEmpty && ref != "none" {
            let net: NetworkRecord
            do { net = try networks.get(ref) } catch let e as BerthError where e.code == .notFound {
                throw BerthError.notFound("vm \(vm): network \(ref) not found")
            }
            guard net.driver == "bridge", net.bridge != nil else {
                throw BerthError.invalid("vm \(vm): network \(net.name) is not a bridge network")
            }
            if !out.contains(where: { $0.id == net.id }) { out.append(net) }
        }
        return out
    }

    /// The backend's interfaces for endpoints: a tap on each network's bridge, the address,
    /// the first network's gateway as the default route; the first user network's embedded
    /// DNS server (its gateway) as the resolver.
    func interfaces(_ endpoints: [VMEndpoint]) -> ([VMNetworkInterface], [String]) {
        var dns: [String] = []
        let ifs = endpoints.enumerated().map { i, e -> VMNetworkInterface in
            let net = try? networks.get(e.networkID)
            if let net, net.userDefined, dns.isEmpty { dns = [e.gateway] }
            return VMNetworkInterface(tap: e.tap, mac: e.mac, bridge: net?.bridge, address: "\(e.address)/\(e.prefixLength)",
                                      gateway: i == 0 ? e.gateway : nil)
        }
        return (ifs, dns)
    }

    /// Makes the root disk: the image's layers as one tree (the single layer's directory, or a
    /// read-only overlay of them in a temp dir), then ext4 + thin qcow2.
    func makeRootDisk(_ image: ImageRecord, at path: String, size: UInt64, vm: String, id: String) async throws {
        var lower: [String] = []
        if let top = image.layers.last?.chainID { lower = try images.store.snapshots.lowerDirs(top) }
        let tmp = root + "/tmp/" + id
        try FileSystem.makeDirectories(tmp, mode: 0o700)
        defer { try? FileSystem.removeTree(tmp) }
        var tree = tmp
        var mounted = false
        if lower.count == 1 {
            tree = lower[0]
        } else if lower.count > 1 {
            let data = "lowerdir=\(lower.joined(separator: ":"))"
            guard data.utf8.count < 4000 else { throw BerthError.unsupported("vm \(vm): the image has too many layers (\(lower.count))") }
            tree = tmp + "/rootfs"
            try FileSystem.makeDirectories(tree, mode: 0o755)
            try Mounts.mount(source: "overlay", target: tree, type: "overlay", flags: [.readOnly], data: data)
            mounted = true
        }
        defer { if mounted { try? Mounts.unmount(tree, detach: true) } }
        let tools = DiskImage()
        let source = tree
        do {
            try await BlockingWork.run { try tools.makeRootDisk(at: path, from: source, virtualSize: size) }
        } catch let e as BerthError {
            throw e.context("vm \(vm): root disk")
        }
    }

    /// The guest kernel (Debian's cloud kernel) and Berth's initramfs for it, built once and
    /// cached under `<root>/vms/kernel/` (rebuilt when the kernel's modules.dep changes).
    func guestKernel() async throws -> (kernel: String, initrd: String) {
        let kernel = try GuestKernel.findCloudKernel()
        let initrd = root + "/kernel/initrd-\(kernel.version).cpio"
        let stampPath = initrd + ".stamp"
        var st = stat()
        let stamp = stat(kernel.modulesDirectory + "/modules.dep", &st) == 0 ? "\(st.st_size) \(st.st_mtim.tv_sec)" : "?"
        if FileSystem.exists(initrd), (try? FileSystem.readString(stampPath)) == stamp {
            return (kernel.image, initrd)
        }
        try await BlockingWork.run { _ = try Initramfs.write(to: initrd, kernel: kernel) }
        try FileSystem.writeAtomically(stampPath, Array(stamp.utf8), mode: 0o600)
        return (kernel.image, initrd)
    }

    static func now() -> String {
        WallClock.now().rfc3339Nano
    }
}

extension VMService {
    // MARK: export / import

    /// Writes a stopped VM as one tar to `path` (the backend's export: config, kernel,
    /// initramfs, disks with their snapshots).
    public func export(_ ref: String, to path: String) async throws {
        let r = try lookup(ref)
        try await backend.export(r.name, to: path)
    }

    /// Creates a VM from an export at `path`, named `name` (or as recorded), joined to
    /// `networks` (nil: the default network) with addresses from this host's IPAM.
    public func importVM(from path: String, name: String?, networks asked: [String]?) async throws -> VMRecord {
        if let name, records[name] != nil || creating.contains(name) { throw BerthError.conflict("vm \(name) exists already") }
        let id = NetworkService.randomID()
        let nets = try resolveNetworks(asked, vm: name ?? "import")
        var endpoints: [VMEndpoint] = []
        for (i, net) in nets.enumerated() {
            let got = try networks.allocate(net.id, requested: nil)
            endpoints.append(VMEndpoint(networkID: net.id, networkName: net.name, address: got.address, prefixLength: got.prefix,
                                        gateway: got.gateway, mac: macAddress(for: got.address), tap: "bvm\(id.prefix(8))\(i)"))
        }
        let (ifs, dns) = interfaces(endpoints)
        do {
            let taken = Set(records.keys).union(creating)
            let config = try await backend.importVM(from: path, name: name, into: diskDirectory(id)) { c in
                guard !taken.contains(c.name) else { throw BerthError.conflict("vm \(c.name) exists already") }
                c.networks = ifs
                c.nameservers = dns
            }
            var size: UInt64 = 0
            if let root = config.disks.first { size = (try? DiskImage().info(root.path, format: root.format).virtualSize) ?? 0 }
            let record = VMRecord(id: id, name: config.name, image: "", imageID: "", created: VMService.now(), diskSize: size,
                                  endpoints: endpoints)
            try save(record)
            emit("import", record)
            return record
        } catch {
            for e in endpoints { networks.release(e.networkID, e.address) }
            throw error
        }
    }
}
