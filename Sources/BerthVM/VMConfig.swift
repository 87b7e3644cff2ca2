import BerthCore

/// Everything needed to boot one VM: what a `VMBackend` is given at `create`.
///
/// Plain values; the backend validates them (`VMConfig.validate`) before it makes anything.
public struct VMConfig: Sendable, Codable, Equatable {
    /// The VM's name: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, at most 64 bytes (it names the state
    /// directory and QEMU's sockets).
    public var name: String
    /// Virtual CPUs: 1 ... the host's online CPUs.
    public var vcpus: Int
    /// Guest memory in MiB: at least `VMConfig.minimumMemoryMiB`, at most the host's memory.
    public var memoryMiB: Int
    /// The guest kernel (bzImage or PVH ELF), e.g. Debian's `/boot/vmlinuz-*-cloud-amd64`.
    public var kernel: String
    /// The initramfs (Berth's, from `Initramfs.write`), or nil to boot the kernel alone.
    public var initrd: String?
    /// Disks in order: the first is `/dev/vda` in the guest (the root disk Berth's init mounts).
    public var disks: [VMDisk]
    /// Network interfaces, each a tap device on a Berth network's bridge.
    public var networks: [VMNetworkInterface]
    /// Extra words for the kernel command line, after Berth's own.
    public var kernelArguments: [String]
    /// Name servers the guest's /etc/resolv.conf lists (`berth.dns=`), e.g. the network's
    /// embedded DNS server.
    public var nameservers: [String] = []
    /// First-boot data: the guest's hostname (`berth.hostname=`), if any.
    public var hostname: String?
    /// First-boot data: a command Berth's init runs in the root disk instead of /sbin/init
    /// (`berth.cmd=`, base64); its exit status is printed on the console
    /// (`GuestInit.exitPrefix`), then the guest powers off.
    public var command: [String]?
    /// virtio-serial ports whose guest output QEMU writes to files (`--isolation vm`: the
    /// command's stdout and stderr, see `GuestAgent`).
    public var outputPorts: [VMOutputPort] = []
    /// virtio-serial ports fed from a unix socket QEMU listens on (`--isolation vm -i`: the
    /// command's stdin; the guest reads EOF when the host's connection closes).
    public var inputPorts: [VMInputPort] = []
    /// Host directories shared with the guest over virtio-fs, each served by a `virtiofsd`
    /// listening on `socket` (`--isolation vm` volumes and binds, see `VirtioFSDaemon`). Any
    /// share makes guest memory a shared memfd (vhost-user needs it).
    public var shares: [VMShare] = []

    public init(name: String, vcpus: Int = 1, memoryMiB: Int = 256, kernel: String, initrd: String? = nil,
                disks: [VMDisk] = [], networks: [VMNetworkInterface] = [], kernelArguments: [String] = [],
                hostname: String? = nil, command: [String]? = nil) {
        self.name = name
        self.vcpus = vcpus
        self.memoryMiB = memoryMiB
        self.kernel = kernel
        self.initrd = initrd
        self.disks = disks
        self.networks = networks
        self.kernelArguments = kernelArguments
        self.hostname = hostname
        self.command = command
    }

    /// The least memory a VM may have, in MiB. Measured with Debian's cloud kernel 6.1 and
    /// Berth's initramfs under TCG: 96 MiB boots, 64 MiB hangs while the kernel unpacks itself
    /// (after "Probing EDD"), so 128 leaves room for a bigger initramfs.
    public static let minimumMemoryMiB = 128

    /// The longest kernel command line x86 accepts (COMMAND_LINE_SIZE, including the NUL).
    public static let maximumCommandLine = 2047
}

/// A virtio-serial port (`/sys/class/virtio-ports/*/name` = `name` in the guest) whose
/// output QEMU writes to `path` on the host (truncated when QEMU starts). Guest writes block
/// until QEMU has taken the bytes, so nothing written before the guest powers off is lost.
public struct VMOutputPort: Sendable, Codable, Equatable {
    public var name: String
    public var path: String
    public init(name: String, path: String) {
        self.name = name
        self.path = path
    }
}

/// A virtio-serial port whose guest input comes from whoever connects to the unix socket
/// `socket` (QEMU serves it: server, no wait; one client at a time).
public struct VMInputPort: Sendable, Codable, Equatable {
    public var name: String
    public var socket: String
    public init(name: String, socket: String) {
        self.name = name
        self.socket = socket
    }
}

/// A virtio-fs share: `vhost-user-fs-pci` with mount tag `tag` in the guest
/// (`mount -t virtiofs TAG DIR`), served by the vhost-user daemon listening on `socket`
/// (which must listen before QEMU starts: QEMU connects at startup).
public struct VMShare: Sendable, Codable, Equatable {
    /// The guest's mount tag: 1 to 36 bytes, no comma.
    public var tag: String
    /// The daemon's vhost-user unix socket.
    public var socket: String
    public init(tag: String, socket: String) {
        self.tag = tag
        self.socket = socket
    }
}

/// One virtio-blk disk.
public struct VMDisk: Sendable, Codable, Equatable {
    /// The image file.
    public var path: String
    /// Its format: `qcow2` (thin, checked with `qemu-img check` before boot) or `raw`.
    /// Never probed: a raw image could otherwise claim to be qcow2 with a backing file.
    public var format: String
    /// Attached read-only.
    public var readOnly: Bool

    public init(path: String, format: String = "qcow2", readOnly: Bool = false) {
        self.path = path
        self.format = format
        self.readOnly = readOnly
    }
}

/// One virtio-net interface backed by a tap device on the host. `eth<i>` in the guest, in
/// the order of `VMConfig.networks`.
///
/// QEMU creates the tap when none of that name exists (it then vanishes when QEMU exits);
/// with `bridge`, the backend makes it a port of that bridge and brings it up before the
/// guest runs. With `address`, Berth's init configures the guest side (`berth.ip=`).
public struct VMNetworkInterface: Sendable, Codable, Equatable {
    /// The tap device's name on the host (at most 15 bytes).
    public var tap: String
    /// The guest's MAC address (`52:54:00:…`), or nil for QEMU's default.
    public var mac: String?
    /// The bridge the tap joins (a Berth network's), or nil to leave it alone.
    public var bridge: String?
    /// The guest's address with prefix (`10.88.0.5/16`), from the network's IPAM.
    public var address: String?
    /// The default gateway through this interface, if any.
    public var gateway: String?

    public init(tap: String, mac: String? = nil, bridge: String? = nil, address: String? = nil, gateway: String? = nil) {
        self.tap = tap
        self.mac = mac
        self.bridge = bridge
        self.address = address
        self.gateway = gateway
    }
}

extension VMConfig {
    enum CodingKeys: String, CodingKey {
        case name, vcpus, memoryMiB, kernel, initrd, disks, networks, kernelArguments, nameservers, hostname, command, outputPorts, inputPorts, shares
    }

    /// Decodes a config written by this or an older Berth: fields added later are optional
    /// in the JSON (a VM's config.json must stay readable across upgrades).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try c.decode(String.self, forKey: .name),
                  vcpus: try c.decodeIfPresent(Int.self, forKey: .vcpus) ?? 1,
                  memoryMiB: try c.decodeIfPresent(Int.self, forKey: .memoryMiB) ?? 256,
                  kernel: try c.decode(String.self, forKey: .kernel),
                  initrd: try c.decodeIfPresent(String.self, forKey: .initrd),
                  disks: try c.decodeIfPresent([VMDisk].self, forKey: .disks) ?? [],
                  networks: try c.decodeIfPresent([VMNetworkInterface].self, forKey: .networks) ?? [],
                  kernelArguments: try c.decodeIfPresent([String].self, forKey: .kernelArguments) ?? [],
                  hostname: try c.decodeIfPresent(String.self, forKey: .hostname),
                  command: try c.decodeIfPresent([String].self, forKey: .command))
        nameservers = try c.decodeIfPresent([String].self, forKey: .nameservers) ?? []
        outputPorts = try c.decodeIfPresent([VMOutputPort].self, forKey: .outputPorts) ?? []
        inputPorts = try c.decodeIfPresent([VMInputPort].self, forKey: .inputPorts) ?? []
        shares = try c.decodeIfPresent([VMShare].self, forKey: .shares) ?? []
    }

    /// Checks what can be checked without touching files: the name, vCPUs against
    /// `hostCPUs`, memory against the minimum and `hostMemoryMiB`, formats, taps and the
    /// kernel command line's length. Errors are `.invalidArgument`, naming the VM.
    public func validate(hostCPUs: Int, hostMemoryMiB: Int) throws {
        guard VMConfig.isValidName(name) else {
            throw BerthError.invalid("invalid vm name \"\(name)\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at most 64 characters")
        }
        guard vcpus >= 1 else { throw BerthError.invalid("vm \(name): vcpus must be at least 1, not \(vcpus)") }
        guard vcpus <= hostCPUs else {
            throw BerthError.invalid("vm \(name): \(vcpus) vcpus asked for, but the host has only \(hostCPUs) cpus")
        }
        guard memoryMiB >= VMConfig.minimumMemoryMiB else {
            throw BerthError.invalid("vm \(name): memory \(memoryMiB) MiB is below the minimum of \(VMConfig.minimumMemoryMiB) MiB")
        }
        guard memoryMiB <= hostMemoryMiB else {
            throw BerthError.invalid("vm \(name): memory \(memoryMiB) MiB is more than the host's \(hostMemoryMiB) MiB")
        }
        guard !kernel.isEmpty else { throw BerthError.invalid("vm \(name): no kernel given") }
        for d in disks {
            guard d.format == "qcow2" || d.format == "raw" else {
                throw BerthError.invalid("vm \(name): disk \(d.path): unsupported format \"\(d.format)\" (qcow2 or raw)")
            }
        }
        for n in networks {
            guard !n.tap.isEmpty, n.tap.utf8.count <= 15, !n.tap.contains(","), !n.tap.contains("/") else {
                throw BerthError.invalid("vm \(name): invalid tap device name \"\(n.tap)\"")
            }
            if let mac = n.mac, !VMConfig.isValidMAC(mac) {
                throw BerthError.invalid("vm \(name): invalid mac address \"\(mac)\"")
            }
            if let b = n.bridge, b.isEmpty || b.utf8.count > 15 || b.contains("/") {
                throw BerthError.invalid("vm \(name): invalid bridge name \"\(b)\"")
            }
            if let a = n.address, CIDR(a) == nil {
                throw BerthError.invalid("vm \(name): invalid address \"\(a)\" (address/prefix)")
            }
            if let g = n.gateway, IPAddress(g) == nil {
                throw BerthError.invalid("vm \(name): invalid gateway \"\(g)\"")
            }
        }
        if let hostname, hostname.isEmpty || hostname.utf8.count > 64 || hostname.contains(where: { $0 == " " || $0 == "\n" }) {
            throw BerthError.invalid("vm \(name): invalid hostname \"\(hostname)\"")
        }
        for d in nameservers where IPAddress(d) == nil {
            throw BerthError.invalid("vm \(name): invalid name server \"\(d)\"")
        }
        if let command, command.isEmpty {
            throw BerthError.invalid("vm \(name): the command is empty")
        }
        for p in outputPorts {
            guard !p.name.isEmpty, p.name.utf8.count <= 64, !p.name.contains(","), !p.path.isEmpty else {
                throw BerthError.invalid("vm \(name): invalid output port \"\(p.name)\"")
            }
        }
        for p in inputPorts {
            guard !p.name.isEmpty, p.name.utf8.count <= 64, !p.name.contains(","), !p.socket.isEmpty, p.socket.utf8.count <= 107 else {
                throw BerthError.invalid("vm \(name): invalid input port \"\(p.name)\"")
            }
        }
        for (i, s) in shares.enumerated() {
            guard !s.tag.isEmpty, s.tag.utf8.count <= 36, !s.tag.contains(","), !s.socket.isEmpty, s.socket.utf8.count <= 107 else {
                throw BerthError.invalid("vm \(name): invalid virtio-fs share \"\(s.tag)\" (tag of 1 to 36 bytes without a comma, socket path of at most 107 bytes)")
            }
            if shares[..<i].contains(where: { $0.tag == s.tag }) {
                throw BerthError.invalid("vm \(name): duplicate virtio-fs tag \"\(s.tag)\"")
            }
        }
        let line = GuestInit.kernelCommandLine(for: self)
        guard line.utf8.count <= VMConfig.maximumCommandLine else {
            throw BerthError.invalid("vm \(name): the kernel command line is \(line.utf8.count) bytes, more than the \(VMConfig.maximumCommandLine) the kernel accepts (shorten the command)")
        }
    }

    /// Docker's name rule, bounded so that socket paths stay short.
    public static func isValidName(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard !u.isEmpty, u.count <= 64 else { return false }
        func alnum(_ c: UInt8) -> Bool { (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) }
        guard alnum(u[0]) else { return false }
        return u.allSatisfy { alnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    static func isValidMAC(_ s: String) -> Bool {
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count == 6 && parts.allSatisfy { $0.count == 2 && UInt8($0, radix: 16) != nil }
    }
}
