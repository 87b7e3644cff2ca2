// Berth's own VM API under `/berth/vms` (Docker has none). Field names follow Docker's
// style (capitalized) so the JSON reads like the rest of the API.

/// `POST /berth/vms/create?name=` body.
public struct VMCreateRequest: Codable, Sendable, Equatable {
    /// The image whose root filesystem becomes the root disk (`busybox:test`).
    public var Image: String
    /// Virtual CPUs (default 1).
    public var Cpus: Int?
    /// Guest memory in MiB (default 256).
    public var MemoryMiB: Int?
    /// The root disk's virtual size in bytes (thin; default 1 GiB).
    public var DiskSize: Int64?
    /// Blank extra disks, virtual sizes in bytes.
    public var ExtraDisks: [Int64]?
    /// A command the guest runs instead of the image's /sbin/init.
    public var Cmd: [String]?
    public var Hostname: String?
    /// Networks by name or id (nil: the default bridge network).
    public var Networks: [String]?

    public init(Image: String, Cpus: Int? = nil, MemoryMiB: Int? = nil, DiskSize: Int64? = nil, ExtraDisks: [Int64]? = nil,
                Cmd: [String]? = nil, Hostname: String? = nil, Networks: [String]? = nil) {
        self.Image = Image; self.Cpus = Cpus; self.MemoryMiB = MemoryMiB; self.DiskSize = DiskSize
        self.ExtraDisks = ExtraDisks; self.Cmd = Cmd; self.Hostname = Hostname; self.Networks = Networks
    }
}

/// `POST /berth/vms/create` and `/berth/vms/import` answer.
public struct VMCreateResponse: Codable, Sendable, Equatable {
    public var Id: String
    public var Name: String
    public init(Id: String, Name: String) { self.Id = Id; self.Name = Name }
}

/// A VM's endpoint on a network.
public struct VMNetworkEndpoint: Codable, Sendable, Equatable {
    public var NetworkID: String
    public var NetworkName: String
    public var IPAddress: String
    public var IPPrefixLen: Int
    public var Gateway: String
    public var MacAddress: String
    /// The host's tap device (present while the VM runs).
    public var Tap: String

    public init(NetworkID: String, NetworkName: String, IPAddress: String, IPPrefixLen: Int, Gateway: String,
                MacAddress: String, Tap: String) {
        self.NetworkID = NetworkID; self.NetworkName = NetworkName; self.IPAddress = IPAddress
        self.IPPrefixLen = IPPrefixLen; self.Gateway = Gateway; self.MacAddress = MacAddress; self.Tap = Tap
    }
}

/// A VM's disk.
public struct VMDiskInfo: Codable, Sendable, Equatable {
    public var Path: String
    public var Format: String
    public var ReadOnly: Bool
    public init(Path: String, Format: String, ReadOnly: Bool) { self.Path = Path; self.Format = Format; self.ReadOnly = ReadOnly }
}

/// `GET /berth/vms/json` item and `GET /berth/vms/{name}/json`.
public struct VMInspectResponse: Codable, Sendable, Equatable {
    public var Id: String
    public var Name: String
    public var Image: String
    public var ImageID: String
    public var Created: String
    /// `created`, `running`, `paused`, `stopped`.
    public var State: String
    /// How it last stopped (`guestShutdown`, `powerdown`, `killed`, `crashed`, `migrated`).
    public var ExitReason: String?
    public var ExitCode: Int?
    public var Cpus: Int
    public var MemoryMiB: Int
    public var DiskSize: Int64
    public var Cmd: [String]?
    public var Hostname: String?
    public var Kernel: String
    public var Initrd: String?
    public var Disks: [VMDiskInfo]
    public var Networks: [VMNetworkEndpoint]
    public var Nameservers: [String]
    /// The backend's state directory (console log, QEMU's log).
    public var StateDir: String

    public init(Id: String, Name: String, Image: String, ImageID: String, Created: String, State: String, ExitReason: String?,
                ExitCode: Int?, Cpus: Int, MemoryMiB: Int, DiskSize: Int64, Cmd: [String]?, Hostname: String?, Kernel: String,
                Initrd: String?, Disks: [VMDiskInfo], Networks: [VMNetworkEndpoint], Nameservers: [String], StateDir: String) {
        self.Id = Id; self.Name = Name; self.Image = Image; self.ImageID = ImageID; self.Created = Created; self.State = State
        self.ExitReason = ExitReason; self.ExitCode = ExitCode; self.Cpus = Cpus; self.MemoryMiB = MemoryMiB
        self.DiskSize = DiskSize; self.Cmd = Cmd; self.Hostname = Hostname; self.Kernel = Kernel; self.Initrd = Initrd
        self.Disks = Disks; self.Networks = Networks; self.Nameservers = Nameservers; self.StateDir = StateDir
    }
}

/// `GET /berth/vms/{name}/stats`.
public struct VMStatsResponse: Codable, Sendable, Equatable {
    public var Name: String
    /// CPU time of the VMM (all vCPU and I/O threads), nanoseconds.
    public var CPUTimeNs: UInt64
    /// Resident memory of the VMM, bytes.
    public var MemoryUsage: UInt64
    /// Guest memory configured, bytes.
    public var MemoryLimit: UInt64
    public var Pid: Int
    /// Host bytes used by the VM's disks (thin images: far less than their virtual size).
    public var DiskUsage: UInt64

    public init(Name: String, CPUTimeNs: UInt64, MemoryUsage: UInt64, MemoryLimit: UInt64, Pid: Int, DiskUsage: UInt64) {
        self.Name = Name; self.CPUTimeNs = CPUTimeNs; self.MemoryUsage = MemoryUsage; self.MemoryLimit = MemoryLimit
        self.Pid = Pid; self.DiskUsage = DiskUsage
    }
}

/// `GET /berth/vms/{name}/snapshots` item.
public struct VMSnapshotResponse: Codable, Sendable, Equatable {
    public var Name: String
    /// Bytes of saved memory and device state.
    public var VMStateSize: UInt64
    /// Seconds since the epoch.
    public var Date: Int64

    public init(Name: String, VMStateSize: UInt64, Date: Int64) { self.Name = Name; self.VMStateSize = VMStateSize; self.Date = Date }
}

/// `POST /berth/vms/incoming` body: one berthd asks another to take a VM by live migration.
/// The destination copies `DiskSources` (paths on this host, read while the source VM is
/// paused) into its own disk directory, joins the networks of the same names, starts a QEMU
/// waiting for the migration stream and answers its URI.
public struct VMIncomingRequest: Codable, Sendable, Equatable {
    public var Name: String
    public var Image: String
    public var ImageID: String
    public var Cpus: Int
    public var MemoryMiB: Int
    public var DiskSize: Int64
    public var Kernel: String
    public var Cmd: [String]?
    public var Hostname: String?
    /// Network names, in interface order.
    public var Networks: [String]
    /// The source's disk images, in order (qcow2 or raw, as `DiskFormats`).
    public var DiskSources: [String]
    public var DiskFormats: [String]
    /// The initramfs the guest booted from (copied too: the destination must not depend on
    /// the source's files, and need not build its own while the guest is paused).
    public var Initrd: String?

    public init(Name: String, Image: String, ImageID: String, Cpus: Int, MemoryMiB: Int, DiskSize: Int64, Kernel: String,
                Cmd: [String]?, Hostname: String?, Networks: [String], DiskSources: [String], DiskFormats: [String],
                Initrd: String? = nil) {
        self.Initrd = Initrd
        self.Name = Name; self.Image = Image; self.ImageID = ImageID; self.Cpus = Cpus; self.MemoryMiB = MemoryMiB
        self.DiskSize = DiskSize; self.Kernel = Kernel; self.Cmd = Cmd; self.Hostname = Hostname; self.Networks = Networks
        self.DiskSources = DiskSources; self.DiskFormats = DiskFormats
    }
}

/// `POST /berth/vms/incoming` answer: where the source's QEMU sends the migration stream.
public struct VMIncomingResponse: Codable, Sendable, Equatable {
    public var Uri: String
    public init(Uri: String) { self.Uri = Uri }
}

/// `POST /berth/vms/{name}/migrate?to=` answer.
public struct VMMigrateResponse: Codable, Sendable, Equatable {
    /// Seconds from the request to the VM running on the destination.
    public var Seconds: Double
    /// Seconds the guest was paused (disk copy + switch-over).
    public var PausedSeconds: Double
    public init(Seconds: Double, PausedSeconds: Double) { self.Seconds = Seconds; self.PausedSeconds = PausedSeconds }
}
