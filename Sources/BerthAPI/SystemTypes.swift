import BerthCore

/// `{"message": "..."}` — every error body.
public struct ErrorResponse: Codable, Sendable {
    public var message: String
    public init(message: String) { self.message = message }
}

/// `GET /version`.
public struct SystemVersion: Codable, Sendable {
    public struct PlatformInfo: Codable, Sendable { public var Name: String }
    public struct Component: Codable, Sendable {
        public var Name: String
        public var Version: String
        public var Details: [String: String]?
    }
    public var Platform: PlatformInfo
    public var Components: [Component]
    public var Version: String
    public var ApiVersion: String
    public var MinAPIVersion: String
    public var GitCommit: String
    public var GoVersion: String
    public var Os: String
    public var Arch: String
    public var KernelVersion: String
    public var BuildTime: String

    public init(version: String, gitCommit: String, kernel: String, buildTime: String) {
        Platform = PlatformInfo(Name: "Berth Engine")
        Version = version
        ApiVersion = APIVersion.current.description
        MinAPIVersion = APIVersion.minimum.description
        GitCommit = gitCommit
        GoVersion = "swift6"
        Os = "linux"
        Arch = "amd64"
        KernelVersion = kernel
        BuildTime = buildTime
        Components = [Component(Name: "Engine", Version: version, Details: [
            "ApiVersion": ApiVersion, "MinAPIVersion": MinAPIVersion, "GitCommit": gitCommit,
            "GoVersion": GoVersion, "Os": Os, "Arch": Arch, "KernelVersion": kernel, "BuildTime": buildTime,
        ])]
    }
}

/// `GET /info` (the fields clients read; Docker's full set where cheap).
public struct SystemInfo: Codable, Sendable {
    public var ID: String
    public var Containers: Int
    public var ContainersRunning: Int
    public var ContainersPaused: Int
    public var ContainersStopped: Int
    public var Images: Int
    public var Driver: String
    public var DriverStatus: [[String]]
    public var Plugins: PluginsInfo
    public var MemoryLimit: Bool
    public var SwapLimit: Bool
    public var KernelMemoryTCP: Bool
    public var CpuCfsPeriod: Bool
    public var CpuCfsQuota: Bool
    public var CPUShares: Bool
    public var CPUSet: Bool
    public var PidsLimit: Bool
    public var IPv4Forwarding: Bool
    public var Debug: Bool
    public var NFd: Int
    public var OomKillDisable: Bool
    public var NGoroutines: Int
    public var SystemTime: String
    public var LoggingDriver: String
    public var CgroupDriver: String
    public var CgroupVersion: String
    public var NEventsListener: Int
    public var KernelVersion: String
    public var OperatingSystem: String
    public var OSVersion: String
    public var OSType: String
    public var Architecture: String
    public var IndexServerAddress: String
    public var RegistryConfig: JSONValue?
    public var NCPU: Int
    public var MemTotal: Int64
    public var GenericResources: JSONValue?
    public var DockerRootDir: String
    public var HttpProxy: String
    public var HttpsProxy: String
    public var NoProxy: String
    public var Name: String
    public var Labels: [String]
    public var ExperimentalBuild: Bool
    public var ServerVersion: String
    public var Runtimes: [String: RuntimeInfo]
    public var DefaultRuntime: String
    public var Swarm: SwarmInfo
    public var LiveRestoreEnabled: Bool
    public var Isolation: String
    public var InitBinary: String
    public var ContainerdCommit: CommitInfo
    public var RuncCommit: CommitInfo
    public var InitCommit: CommitInfo
    public var SecurityOptions: [String]
    public var Warnings: [String]?

    public struct PluginsInfo: Codable, Sendable {
        public var Volume: [String]
        public var Network: [String]
        public var Authorization: [String]?
        public var Log: [String]
        public init() { Volume = ["local"]; Network = ["bridge", "host", "null"]; Authorization = nil; Log = ["json-file"] }
    }
    public struct RuntimeInfo: Codable, Sendable { public var path: String; public init(path: String) { self.path = path } }
    public struct SwarmInfo: Codable, Sendable {
        public var NodeID: String = ""
        public var NodeAddr: String = ""
        public var LocalNodeState: String = "inactive"
        public var ControlAvailable: Bool = false
        public var Error: String = ""
        public var RemoteManagers: JSONValue? = nil
        public init() {}
    }
    public struct CommitInfo: Codable, Sendable { public var ID: String; public init(_ id: String) { ID = id } }

    public init(id: String, name: String, rootDir: String, serverVersion: String, kernel: String, os: String,
                osVersion: String, ncpu: Int, memTotal: Int64, cgroupVersion: String, images: Int,
                containers: (total: Int, running: Int, paused: Int, stopped: Int), systemTime: String,
                eventsListeners: Int, initBinary: String) {
        ID = id
        Containers = containers.total
        ContainersRunning = containers.running
        ContainersPaused = containers.paused
        ContainersStopped = containers.stopped
        Images = images
        Driver = "overlay2"
        DriverStatus = [["Backing Filesystem", "extfs"], ["Supports d_type", "true"], ["Using metacopy", "false"], ["Native Overlay Diff", "true"]]
        Plugins = PluginsInfo()
        MemoryLimit = true; SwapLimit = true; KernelMemoryTCP = false
        CpuCfsPeriod = true; CpuCfsQuota = true; CPUShares = true; CPUSet = true; PidsLimit = true
        IPv4Forwarding = true; Debug = false; NFd = 0; OomKillDisable = false; NGoroutines = 0
        SystemTime = systemTime
        LoggingDriver = "json-file"
        CgroupDriver = "cgroupfs"
        CgroupVersion = cgroupVersion
        NEventsListener = eventsListeners
        KernelVersion = kernel
        OperatingSystem = os
        OSVersion = osVersion
        OSType = "linux"
        Architecture = "x86_64"
        IndexServerAddress = "https://index.docker.io/v1/"
        RegistryConfig = .object(["IndexConfigs": .object([:]), "InsecureRegistryCIDRs": .array([.string("127.0.0.0/8")]), "Mirrors": .array([])])
        NCPU = ncpu
        MemTotal = memTotal
        DockerRootDir = rootDir
        HttpProxy = ""; HttpsProxy = ""; NoProxy = ""
        Name = name
        Labels = []
        ExperimentalBuild = false
        ServerVersion = serverVersion
        Runtimes = ["berth": RuntimeInfo(path: initBinary)]
        DefaultRuntime = "berth"
        Swarm = SwarmInfo()
        LiveRestoreEnabled = true
        Isolation = ""
        InitBinary = "berth-init"
        ContainerdCommit = CommitInfo("")
        RuncCommit = CommitInfo("")
        InitCommit = CommitInfo("")
        SecurityOptions = ["name=seccomp,profile=builtin"]
        Warnings = nil
    }
}

/// One event (`GET /events`), with the legacy top-level fields old clients read.
public struct EventMessage: Codable, Sendable, Equatable {
    public struct EventActor: Codable, Sendable, Equatable {
        public var ID: String
        public var Attributes: [String: String]
        public init(ID: String, Attributes: [String: String]) { self.ID = ID; self.Attributes = Attributes }
    }
    public var status: String?
    public var id: String?
    public var from: String?
    public var `Type`: String
    public var Action: String
    public var Actor: EventActor
    public var scope: String
    public var time: Int64
    public var timeNano: Int64

    public init(type: String, action: String, actor: EventActor, timeNano: Int64) {
        self.Type = type
        Action = action
        Actor = actor
        scope = "local"
        time = timeNano / 1_000_000_000
        self.timeNano = timeNano
        if type == "container" || type == "image" {
            status = action
            id = actor.ID
            from = actor.Attributes["image"]
        }
    }
}

/// One line of a JSON progress stream (load, import, pull, build).
public struct JSONMessage: Codable, Sendable, Equatable {
    public struct ProgressDetail: Codable, Sendable, Equatable {
        public var current: Int64?
        public var total: Int64?
        public init(current: Int64?, total: Int64?) { self.current = current; self.total = total }
    }
    public struct ErrorDetail: Codable, Sendable, Equatable {
        public var code: Int?
        public var message: String
        public init(message: String) { self.message = message }
    }
    public var stream: String?
    public var status: String?
    public var progressDetail: ProgressDetail?
    public var progress: String?
    public var id: String?
    public var error: String?
    public var errorDetail: ErrorDetail?
    public var aux: JSONValue?

    public init(stream: String? = nil, status: String? = nil, id: String? = nil) {
        self.stream = stream
        self.status = status
        self.id = id
    }

    public static func failure(_ message: String) -> JSONMessage {
        var m = JSONMessage()
        m.error = message
        m.errorDetail = ErrorDetail(message: message)
        return m
    }

    /// A progress line with Docker's bar (`[=====>      ]  1.2MB/5MB`).
    public static func progress(status: String, id: String, current: Int64, total: Int64) -> JSONMessage {
        var m = JSONMessage(status: status, id: id)
        m.progressDetail = ProgressDetail(current: current, total: total)
        m.progress = ProgressBar.render(current: current, total: total)
        return m
    }
}

/// Docker's text progress bar.
public enum ProgressBar {
    public static func render(current: Int64, total: Int64, width: Int = 50) -> String {
        guard total > 0 else { return HumanSize.bytes(current) }
        let filled = Int(min(Int64(width), current * Int64(width) / total))
        var bar = "[" + String(repeating: "=", count: max(0, filled - 1))
        if filled > 0 { bar += filled >= width ? "=" : ">" }
        bar += String(repeating: " ", count: width - filled) + "]"
        return "\(bar) \(HumanSize.decimal(current))/\(HumanSize.decimal(total))"
    }
}

/// Sizes as Docker's go-units prints them.
public enum HumanSize {
    /// Decimal units with 3 significant digits: `1.23MB`, `4.1kB` (go-units HumanSize).
    public static func decimal(_ n: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB", "PB"]
        var v = Double(n)
        var i = 0
        while v >= 1000 && i < units.count - 1 { v /= 1000; i += 1 }
        return "\(significant(v))\(units[i])"
    }

    /// Binary units (go-units BytesSize): `1.5MiB`.
    public static func bytes(_ n: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var v = Double(n)
        var i = 0
        while v >= 1024 && i < units.count - 1 { v /= 1024; i += 1 }
        return "\(significant(v))\(units[i])"
    }

    /// `%.4g` for values below 1000 (no exponent form needed there).
    static func significant(_ v: Double) -> String {
        // 4 significant digits, trailing zeros trimmed, as Go's %.4g.
        let digitsBefore = v < 1 ? 1 : Int(log10Floor(v)) + 1
        let decimals = max(0, 4 - digitsBefore)
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let rounded = (v * scale).rounded() / scale
        var s = String(rounded)
        if s.contains(".") {
            while s.hasSuffix("0") { s.removeLast() }
            if s.hasSuffix(".") { s.removeLast() }
        }
        // Guard against Swift printing 1e+03 style for large values.
        if s.contains("e") { s = String(Int64(rounded)) }
        return s
    }

    static func log10Floor(_ v: Double) -> Int {
        var n = 0
        var x = v
        while x >= 10 { x /= 10; n += 1 }
        return n
    }
}

/// `POST /auth`'s answer.
public struct AuthResponse: Codable, Sendable, Equatable {
    public var Status: String
    public var IdentityToken: String?
    public init(Status: String, IdentityToken: String?) {
        self.Status = Status
        self.IdentityToken = IdentityToken
    }
}

/// `GET /distribution/{name}/json`: the registry's descriptor for a reference and the
/// platforms it serves.
public struct DistributionInspect: Codable, Sendable, Equatable {
    public struct DescriptorInfo: Codable, Sendable, Equatable {
        public var mediaType: String
        public var digest: String
        public var size: Int64
        public init(mediaType: String, digest: String, size: Int64) {
            self.mediaType = mediaType
            self.digest = digest
            self.size = size
        }
    }
    public struct PlatformInfo: Codable, Sendable, Equatable {
        public var architecture: String
        public var os: String
        public var variant: String?
        public init(architecture: String, os: String, variant: String?) {
            self.architecture = architecture
            self.os = os
            self.variant = variant
        }
    }
    public var Descriptor: DescriptorInfo
    public var Platforms: [PlatformInfo]
    public init(Descriptor: DescriptorInfo, Platforms: [PlatformInfo]) {
        self.Descriptor = Descriptor
        self.Platforms = Platforms
    }
}
