import BerthCore
import BerthOCI

/// `POST /containers/create` body: the container `Config` fields at the top level, plus
/// `HostConfig` and `NetworkingConfig`.
public struct ContainerCreateRequest: Codable, Sendable {
    public var config: ContainerConfig
    public var hostConfig: HostConfig?
    /// `EndpointsConfig`: the networks to join at create, with addresses and aliases.
    public var networkingConfig: NetworkingConfig?

    enum CodingKeys: String, CodingKey { case HostConfig, NetworkingConfig }

    public init(config: ContainerConfig, hostConfig: HostConfig?, networkingConfig: NetworkingConfig? = nil) {
        self.config = config
        self.hostConfig = hostConfig
        self.networkingConfig = networkingConfig
    }

    public init(from decoder: any Decoder) throws {
        config = try ContainerConfig(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hostConfig = try c.decodeIfPresent(HostConfig.self, forKey: .HostConfig)
        networkingConfig = try c.decodeIfPresent(NetworkingConfig.self, forKey: .NetworkingConfig)
    }

    public func encode(to encoder: any Encoder) throws {
        try config.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(hostConfig, forKey: .HostConfig)
        try c.encodeIfPresent(networkingConfig, forKey: .NetworkingConfig)
    }
}

/// `POST /containers/create` response.
public struct ContainerCreateResponse: Codable, Sendable {
    public var Id: String
    public var Warnings: [String]
    public init(Id: String, Warnings: [String] = []) { self.Id = Id; self.Warnings = Warnings }
}

/// `{"Id": …}` responses (exec create).
public struct IDResponse: Codable, Sendable {
    public var Id: String
    public init(Id: String) { self.Id = Id }
}

/// `POST /containers/{id}/wait` response.
public struct ContainerWaitResponse: Codable, Sendable {
    public struct WaitError: Codable, Sendable {
        public var Message: String
        public init(Message: String) { self.Message = Message }
    }
    public var StatusCode: Int
    public var Error: WaitError?
    public init(StatusCode: Int, Error: WaitError? = nil) { self.StatusCode = StatusCode; self.Error = Error }
}

/// `State` of container inspect.
public struct ContainerState: Codable, Sendable {
    /// created, running, paused, restarting, removing, exited, dead.
    public var Status: String
    public var Running: Bool
    public var Paused: Bool
    public var Restarting: Bool
    public var OOMKilled: Bool
    public var Dead: Bool
    public var Pid: Int
    public var ExitCode: Int
    public var Error: String
    public var StartedAt: String
    public var FinishedAt: String
    /// Only for containers with a healthcheck.
    public var Health: ContainerHealth?
    public init(Status: String, Running: Bool, Paused: Bool = false, Restarting: Bool = false, OOMKilled: Bool, Dead: Bool = false,
                Pid: Int, ExitCode: Int, Error: String, StartedAt: String, FinishedAt: String) {
        self.Status = Status; self.Running = Running; self.Paused = Paused; self.Restarting = Restarting
        self.OOMKilled = OOMKilled; self.Dead = Dead; self.Pid = Pid; self.ExitCode = ExitCode; self.Error = Error
        self.StartedAt = StartedAt; self.FinishedAt = FinishedAt
    }
}

/// A mount as inspect and list report it (`MountPoint`).
public struct MountPoint: Codable, Sendable {
    public var `Type`: String
    public var Name: String?
    public var Source: String
    public var Destination: String
    public var Driver: String?
    public var Mode: String
    public var RW: Bool
    public var Propagation: String
    public init(Type: String, Name: String? = nil, Source: String, Destination: String, Driver: String? = nil, Mode: String,
                RW: Bool, Propagation: String) {
        self.Type = Type; self.Name = Name; self.Source = Source; self.Destination = Destination; self.Driver = Driver
        self.Mode = Mode; self.RW = RW; self.Propagation = Propagation
    }
}

/// `GET /containers/{id}/json`.
public struct ContainerInspect: Codable, Sendable {
    public var Id: String
    public var Created: String
    public var Path: String
    public var Args: [String]
    public var State: ContainerState
    public var Image: String
    public var ResolvConfPath: String
    public var HostnamePath: String
    public var HostsPath: String
    public var LogPath: String
    public var Name: String
    public var RestartCount: Int
    public var Driver: String
    public var Platform: String
    public var MountLabel: String
    public var ProcessLabel: String
    public var AppArmorProfile: String
    public var ExecIDs: [String]?
    public var HostConfig: HostConfig
    public var GraphDriver: ImageInspect.GraphDriverData
    public var SizeRw: Int64?
    public var SizeRootFs: Int64?
    public var Mounts: [MountPoint]
    public var Config: ContainerConfig
    public var NetworkSettings: JSONValue
    public init(Id: String, Created: String, Path: String, Args: [String], State: ContainerState, Image: String,
                ResolvConfPath: String, HostnamePath: String, HostsPath: String, LogPath: String, Name: String,
                RestartCount: Int, ExecIDs: [String]?, HostConfig: HostConfig, GraphDriver: ImageInspect.GraphDriverData,
                Mounts: [MountPoint], Config: ContainerConfig, NetworkSettings: JSONValue) {
        self.Id = Id; self.Created = Created; self.Path = Path; self.Args = Args; self.State = State; self.Image = Image
        self.ResolvConfPath = ResolvConfPath; self.HostnamePath = HostnamePath; self.HostsPath = HostsPath
        self.LogPath = LogPath; self.Name = Name; self.RestartCount = RestartCount; Driver = "overlay2"; Platform = "linux"
        MountLabel = ""; ProcessLabel = ""; AppArmorProfile = ""; self.ExecIDs = ExecIDs; self.HostConfig = HostConfig
        self.GraphDriver = GraphDriver; self.Mounts = Mounts; self.Config = Config; self.NetworkSettings = NetworkSettings
    }
}

/// `GET /containers/json` item.
public struct ContainerSummary: Codable, Sendable {
    public struct HostConfigSummary: Codable, Sendable {
        public var NetworkMode: String
        public init(NetworkMode: String) { self.NetworkMode = NetworkMode }
    }
    public struct Port: Codable, Sendable {
        public var IP: String?
        public var PrivatePort: Int
        public var PublicPort: Int?
        public var `Type`: String
        public init(IP: String?, PrivatePort: Int, PublicPort: Int?, Type: String) {
            self.IP = IP; self.PrivatePort = PrivatePort; self.PublicPort = PublicPort; self.Type = Type
        }
    }
    public var Id: String
    public var Names: [String]
    public var Image: String
    public var ImageID: String
    public var Command: String
    public var Created: Int64
    public var Ports: [Port]
    public var SizeRw: Int64?
    public var SizeRootFs: Int64?
    public var Labels: [String: String]
    public var State: String
    public var Status: String
    public var HostConfig: HostConfigSummary
    public var NetworkSettings: JSONValue
    public var Mounts: [MountPoint]
    public init(Id: String, Names: [String], Image: String, ImageID: String, Command: String, Created: Int64,
                Labels: [String: String], State: String, Status: String, NetworkMode: String, Mounts: [MountPoint]) {
        self.Id = Id; self.Names = Names; self.Image = Image; self.ImageID = ImageID; self.Command = Command
        self.Created = Created; Ports = []; self.Labels = Labels; self.State = State; self.Status = Status
        HostConfig = HostConfigSummary(NetworkMode: NetworkMode)
        NetworkSettings = .object(["Networks": .object([:])])
        self.Mounts = Mounts
    }
}

/// `POST /containers/{id}/exec` body.
public struct ExecCreateRequest: Codable, Sendable {
    public var AttachStdin: Bool?
    public var AttachStdout: Bool?
    public var AttachStderr: Bool?
    public var ConsoleSize: [Int]?
    public var DetachKeys: String?
    public var Tty: Bool?
    public var Env: [String]?
    public var Cmd: [String]?
    public var Privileged: Bool?
    public var User: String?
    public var WorkingDir: String?
    public init() {}
}

/// `POST /exec/{id}/start` body.
public struct ExecStartRequest: Codable, Sendable {
    public var Detach: Bool?
    public var Tty: Bool?
    public var ConsoleSize: [Int]?
    public init(Detach: Bool? = nil, Tty: Bool? = nil) { self.Detach = Detach; self.Tty = Tty }
}

/// `GET /exec/{id}/json`.
public struct ExecInspect: Codable, Sendable {
    public struct ProcessConfig: Codable, Sendable {
        public var privileged: Bool
        public var user: String
        public var tty: Bool
        public var entrypoint: String
        public var arguments: [String]
        public init(privileged: Bool, user: String, tty: Bool, entrypoint: String, arguments: [String]) {
            self.privileged = privileged; self.user = user; self.tty = tty; self.entrypoint = entrypoint
            self.arguments = arguments
        }
    }
    public var CanRemove: Bool
    public var DetachKeys: String
    public var ID: String
    public var Running: Bool
    public var ExitCode: Int?
    public var ProcessConfig: ProcessConfig
    public var OpenStdin: Bool
    public var OpenStderr: Bool
    public var OpenStdout: Bool
    public var ContainerID: String
    public var Pid: Int
    public init(ID: String, Running: Bool, ExitCode: Int?, ProcessConfig: ProcessConfig, OpenStdin: Bool, OpenStderr: Bool,
                OpenStdout: Bool, ContainerID: String, Pid: Int, DetachKeys: String) {
        CanRemove = false; self.DetachKeys = DetachKeys; self.ID = ID; self.Running = Running; self.ExitCode = ExitCode
        self.ProcessConfig = ProcessConfig; self.OpenStdin = OpenStdin; self.OpenStderr = OpenStderr
        self.OpenStdout = OpenStdout; self.ContainerID = ContainerID; self.Pid = Pid
    }
}

/// Docker's multiplexed stream framing (stdcopy) for attach, logs and exec without a TTY:
/// an 8-byte header `[stream, 0, 0, 0, size u32 BE]` then the payload.
public enum StdStream {
    public static let stdin: UInt8 = 0
    public static let stdout: UInt8 = 1
    public static let stderr: UInt8 = 2
    /// Frames `payload` for `stream`.
    public static func frame(_ stream: UInt8, _ payload: some Collection<UInt8>) -> [UInt8] {
        let n = UInt32(payload.count)
        var out: [UInt8] = [stream, 0, 0, 0, UInt8(n >> 24), UInt8((n >> 16) & 0xff), UInt8((n >> 8) & 0xff), UInt8(n & 0xff)]
        out.append(contentsOf: payload)
        return out
    }
}

/// go-units `HumanDuration`: "Less than a second", "3 seconds", "About a minute", "5 hours"…
public enum HumanDuration {
    public static func describe(seconds d: Double) -> String {
        let seconds = Int(d)
        if seconds < 1 { return "Less than a second" }
        if seconds == 1 { return "1 second" }
        if seconds < 60 { return "\(seconds) seconds" }
        let minutes = Int(d / 60)
        if minutes == 1 { return "About a minute" }
        if minutes < 60 { return "\(minutes) minutes" }
        let hours = Int(d / 3600 + 0.5)
        if hours == 1 { return "About an hour" }
        if hours < 48 { return "\(hours) hours" }
        if hours < 24 * 7 * 2 { return "\(hours / 24) days" }
        if hours < 24 * 30 * 2 { return "\(hours / 24 / 7) weeks" }
        if hours < 24 * 365 * 2 { return "\(hours / 24 / 30) months" }
        return "\(Int(d / 3600) / 24 / 365) years"
    }
}

/// `State.Health` of a container with a healthcheck.
public struct ContainerHealth: Codable, Sendable {
    public struct Log: Codable, Sendable {
        public var Start: String
        public var End: String
        public var ExitCode: Int
        public var Output: String
        public init(Start: String, End: String, ExitCode: Int, Output: String) {
            self.Start = Start; self.End = End; self.ExitCode = ExitCode; self.Output = Output
        }
    }
    public var Status: String
    public var FailingStreak: Int
    public var Log: [Log]
    public init(Status: String, FailingStreak: Int, Log: [Log]) { self.Status = Status; self.FailingStreak = FailingStreak; self.Log = Log }
}

/// `GET /containers/{id}/top`.
public struct ContainerTopResponse: Codable, Sendable {
    public var Titles: [String]
    public var Processes: [[String]]
    public init(Titles: [String], Processes: [[String]]) { self.Titles = Titles; self.Processes = Processes }
}
