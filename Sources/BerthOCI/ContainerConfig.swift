import BerthCore

/// Docker's container configuration (`Config` of `POST /containers/create` and of container
/// inspect): the portable part, which an image's config provides defaults for. Field names are
/// Docker's, so the engine persists and the API speaks the same JSON.
public struct ContainerConfig: Codable, Sendable, Equatable {
    public var Hostname: String?
    public var Domainname: String?
    public var User: String?
    public var AttachStdin: Bool?
    public var AttachStdout: Bool?
    public var AttachStderr: Bool?
    public var ExposedPorts: [String: JSONValue]?
    public var Tty: Bool?
    public var OpenStdin: Bool?
    public var StdinOnce: Bool?
    public var Env: [String]?
    /// Docker accepts a string or an array here (a string is one argument).
    public var Cmd: [String]?
    public var Healthcheck: HealthConfig?
    public var ArgsEscaped: Bool?
    public var Image: String?
    public var Volumes: [String: JSONValue]?
    public var WorkingDir: String?
    /// Docker accepts a string or an array here; `[""]` clears the image's entrypoint.
    public var Entrypoint: [String]?
    public var NetworkDisabled: Bool?
    public var MacAddress: String?
    public var OnBuild: [String]?
    public var Labels: [String: String]?
    public var StopSignal: String?
    /// Seconds.
    public var StopTimeout: Int?
    public var Shell: [String]?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case Hostname, Domainname, User, AttachStdin, AttachStdout, AttachStderr, ExposedPorts, Tty, OpenStdin
        case StdinOnce, Env, Cmd, Healthcheck, ArgsEscaped, Image, Volumes, WorkingDir, Entrypoint
        case NetworkDisabled, MacAddress, OnBuild, Labels, StopSignal, StopTimeout, Shell
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        Hostname = try c.decodeIfPresent(String.self, forKey: .Hostname)
        Domainname = try c.decodeIfPresent(String.self, forKey: .Domainname)
        User = try c.decodeIfPresent(String.self, forKey: .User)
        AttachStdin = try c.decodeIfPresent(Bool.self, forKey: .AttachStdin)
        AttachStdout = try c.decodeIfPresent(Bool.self, forKey: .AttachStdout)
        AttachStderr = try c.decodeIfPresent(Bool.self, forKey: .AttachStderr)
        ExposedPorts = try c.decodeIfPresent([String: JSONValue].self, forKey: .ExposedPorts)
        Tty = try c.decodeIfPresent(Bool.self, forKey: .Tty)
        OpenStdin = try c.decodeIfPresent(Bool.self, forKey: .OpenStdin)
        StdinOnce = try c.decodeIfPresent(Bool.self, forKey: .StdinOnce)
        Env = try c.decodeIfPresent([String].self, forKey: .Env)
        Cmd = try Self.stringList(c, .Cmd)
        Healthcheck = try c.decodeIfPresent(HealthConfig.self, forKey: .Healthcheck)
        ArgsEscaped = try c.decodeIfPresent(Bool.self, forKey: .ArgsEscaped)
        Image = try c.decodeIfPresent(String.self, forKey: .Image)
        Volumes = try c.decodeIfPresent([String: JSONValue].self, forKey: .Volumes)
        WorkingDir = try c.decodeIfPresent(String.self, forKey: .WorkingDir)
        Entrypoint = try Self.stringList(c, .Entrypoint)
        NetworkDisabled = try c.decodeIfPresent(Bool.self, forKey: .NetworkDisabled)
        MacAddress = try c.decodeIfPresent(String.self, forKey: .MacAddress)
        OnBuild = try c.decodeIfPresent([String].self, forKey: .OnBuild)
        Labels = try c.decodeIfPresent([String: String].self, forKey: .Labels)
        StopSignal = try c.decodeIfPresent(String.self, forKey: .StopSignal)
        StopTimeout = try c.decodeIfPresent(Int.self, forKey: .StopTimeout)
        Shell = try Self.stringList(c, .Shell)
    }

    /// Docker's `StrSlice`: null, a string, or an array of strings.
    static func stringList(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> [String]? {
        if let s = try? c.decodeIfPresent(String.self, forKey: key) { return [s] }
        return try c.decodeIfPresent([String].self, forKey: key)
    }
}

/// A healthcheck (`Config.Healthcheck`): durations in nanoseconds, 0 = inherit/default.
public struct HealthConfig: Codable, Sendable, Equatable {
    /// `[]` inherit, `["NONE"]` disable, `["CMD", args...]`, `["CMD-SHELL", command]`.
    public var Test: [String]?
    public var Interval: Int64?
    public var Timeout: Int64?
    public var Retries: Int?
    public var StartPeriod: Int64?
    public var StartInterval: Int64?
    public init() {}
}

/// Docker's `HostConfig`: the non-portable part of a container's configuration (mounts,
/// resources, security, namespaces). Only the fields Berth acts on or reports are kept.
public struct HostConfig: Codable, Sendable, Equatable {
    // Resources
    public var CpuShares: Int64?
    public var Memory: Int64?
    public var CgroupParent: String?
    public var BlkioWeight: Int?
    public var CpuPeriod: Int64?
    public var CpuQuota: Int64?
    public var CpuRealtimePeriod: Int64?
    public var CpuRealtimeRuntime: Int64?
    public var CpusetCpus: String?
    public var CpusetMems: String?
    public var Devices: [DeviceMapping]?
    public var DeviceCgroupRules: [String]?
    public var MemoryReservation: Int64?
    /// Memory + swap; -1 unlimited swap.
    public var MemorySwap: Int64?
    public var MemorySwappiness: Int64?
    public var NanoCpus: Int64?
    public var OomKillDisable: Bool?
    public var Init: Bool?
    public var PidsLimit: Int64?
    public var Ulimits: [Ulimit]?

    // Everything else
    public var Binds: [String]?
    public var ContainerIDFile: String?
    public var LogConfig: LogConfig?
    public var NetworkMode: String?
    /// `80/tcp` → host bindings.
    public var PortBindings: [String: [PortBinding]?]?
    public var RestartPolicy: RestartPolicy?
    public var AutoRemove: Bool?
    public var VolumeDriver: String?
    public var VolumesFrom: [String]?
    public var Mounts: [Mount]?
    public var ConsoleSize: [Int]?
    public var Annotations: [String: String]?
    public var CapAdd: [String]?
    public var CapDrop: [String]?
    public var CgroupnsMode: String?
    public var Dns: [String]?
    public var DnsOptions: [String]?
    public var DnsSearch: [String]?
    public var ExtraHosts: [String]?
    public var GroupAdd: [String]?
    public var IpcMode: String?
    public var Cgroup: String?
    public var Links: [String]?
    public var OomScoreAdj: Int?
    public var PidMode: String?
    public var Privileged: Bool?
    public var PublishAllPorts: Bool?
    public var ReadonlyRootfs: Bool?
    public var SecurityOpt: [String]?
    public var StorageOpt: [String: String]?
    /// Mount point → tmpfs options (`size=64m,mode=1777`).
    public var Tmpfs: [String: String]?
    public var UTSMode: String?
    public var UsernsMode: String?
    public var ShmSize: Int64?
    public var Sysctls: [String: String]?
    public var Runtime: String?
    public var Isolation: String?
    public var MaskedPaths: [String]?
    public var ReadonlyPaths: [String]?

    public init() {}

    public struct LogConfig: Codable, Sendable, Equatable {
        public var `Type`: String
        public var Config: [String: String]?
        public init(type: String, config: [String: String]? = nil) { self.Type = type; self.Config = config }
    }

    public struct RestartPolicy: Codable, Sendable, Equatable {
        /// "", "no", "always", "unless-stopped", "on-failure".
        public var Name: String?
        public var MaximumRetryCount: Int?
        public init(name: String? = nil, maximumRetryCount: Int? = nil) { Name = name; MaximumRetryCount = maximumRetryCount }
    }

    public struct DeviceMapping: Codable, Sendable, Equatable {
        public var PathOnHost: String?
        public var PathInContainer: String?
        public var CgroupPermissions: String?
    }

    public struct Ulimit: Codable, Sendable, Equatable {
        public var Name: String
        public var Soft: Int64
        public var Hard: Int64
        public init(name: String, soft: Int64, hard: Int64) { Name = name; Soft = soft; Hard = hard }
    }
}

/// A mount of `HostConfig.Mounts` (`--mount`).
public struct Mount: Codable, Sendable, Equatable {
    public var Target: String?
    public var Source: String?
    /// bind, volume, tmpfs, image, npipe, cluster.
    public var `Type`: String?
    public var ReadOnly: Bool?
    public var Consistency: String?
    public var BindOptions: BindOptions?
    public var VolumeOptions: VolumeOptions?
    public var TmpfsOptions: TmpfsOptions?

    public init(type: String, source: String?, target: String, readOnly: Bool? = nil) {
        self.Type = type
        Source = source
        Target = target
        ReadOnly = readOnly
    }

    public struct BindOptions: Codable, Sendable, Equatable {
        public var Propagation: String?
        public var NonRecursive: Bool?
        public var CreateMountpoint: Bool?
        public var ReadOnlyNonRecursive: Bool?
        public var ReadOnlyForceRecursive: Bool?
        public init() {}
    }

    public struct VolumeOptions: Codable, Sendable, Equatable {
        public var NoCopy: Bool?
        public var Labels: [String: String]?
        public var DriverConfig: JSONValue?
        public var Subpath: String?
        public init() {}
    }

    public struct TmpfsOptions: Codable, Sendable, Equatable {
        public var SizeBytes: Int64?
        public var Mode: UInt32?
        public var Options: [[String]]?
        public init() {}
    }
}
