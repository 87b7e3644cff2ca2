import BerthCore
import BerthOCI

/// A container's lifecycle status, as Docker names them.
public enum ContainerStatus: String, Codable, Sendable {
    case created, running, paused, restarting, removing, exited, dead
}

/// The runtime state of a container (Docker's `State`).
public struct ContainerRunState: Codable, Sendable, Equatable {
    public var status: ContainerStatus = .created
    /// Host pid of the init while running, else 0.
    public var pid: Int32 = 0
    public var exitCode: Int = 0
    public var error: String = ""
    public var oomKilled = false
    /// RFC 3339 with nanoseconds; Go's zero time when never.
    public var startedAt: String = ContainerRunState.zeroTime
    public var finishedAt: String = ContainerRunState.zeroTime
    /// Stopped by the user (stop/kill): restart policies other than `always` do not restart it.
    public var stoppedByUser = false
    /// The healthcheck's state while the container has one (Docker's `State.Health`).
    public var health: HealthState? = nil

    public static let zeroTime = "0001-01-01T00:00:00Z"

    public var isRunning: Bool { status == .running || status == .paused || status == .restarting }
}

/// Docker's `Health`: `starting`, `healthy` or `unhealthy`, the failures in a row, and the
/// last five probes.
public struct HealthState: Codable, Sendable, Equatable {
    public struct Probe: Codable, Sendable, Equatable {
        public var start: String
        public var end: String
        public var exitCode: Int
        public var output: String
    }
    public var status = "starting"
    public var failingStreak = 0
    public var log: [Probe] = []
}

/// A mount as resolved at create (bind, tmpfs or volume), for inspect and the spec.
public struct ContainerMount: Codable, Sendable, Equatable {
    /// bind, tmpfs, volume.
    public var type: String
    public var source: String
    public var destination: String
    public var readOnly: Bool
    /// Bind propagation (`rprivate` by default) or "" for tmpfs.
    public var propagation: String
    /// The mode string as given (`ro,z`), for inspect.
    public var mode: String
    /// tmpfs options (`size=65536k`, `mode=1777`).
    public var options: [String]
    /// Whether a missing bind source is made as a directory (`-v`), or is an error (`--mount`).
    public var createSource: Bool
    /// A volume mount: the volume's name (`source` is its mountpoint on the host).
    public var name: String? = nil
    /// A volume mount: whether the image's content at the destination is copied into the
    /// volume when the volume is empty at start (false with `nocopy`).
    public var copyData: Bool? = nil
}

/// Everything berthd keeps about a container: `containers/<id>/container.json`.
public struct Container: Codable, Sendable {
    /// 64 hex characters.
    public var id: String
    /// Without the leading slash.
    public var name: String
    /// RFC 3339 nanoseconds.
    public var created: String
    /// The program and its arguments, after the image's Entrypoint/Cmd are merged in.
    public var path: String
    public var args: [String]
    public var config: ContainerConfig
    public var hostConfig: HostConfig
    /// The image ID, and the name it was created from.
    public var image: Digest
    public var imageName: String
    public var mounts: [ContainerMount]
    public var state: ContainerRunState
    public var restartCount: Int = 0
    /// Network name → the container's endpoint on it (bridge networks only).
    public var endpoints: [String: ContainerEndpoint]? = nil
    /// Published ports as bound at the last start.
    public var ports: [PublishedPort]? = nil

    public var shortID: String { String(id.prefix(12)) }
    public var tty: Bool { config.Tty ?? false }
    /// Docker's default network mode when none is given.
    public var networkMode: String {
        let m = hostConfig.NetworkMode ?? ""
        return m.isEmpty || m == "default" ? "bridge" : m
    }
}

/// An exec instance (`docker exec`): in memory only, as in Docker.
public struct ExecInstance: Sendable {
    public var id: String
    public var containerID: String
    public var config: ExecSettings
    public var running = false
    public var exitCode: Int?
    public var pid: Int32 = 0
    public var started = false
}

/// What an exec runs (from the exec create request).
public struct ExecSettings: Sendable {
    public var cmd: [String]
    public var env: [String]
    public var user: String
    public var workingDir: String
    public var tty: Bool
    public var privileged: Bool
    public var attachStdin: Bool
    public var attachStdout: Bool
    public var attachStderr: Bool
    public var detachKeys: String
    public var consoleSize: (rows: UInt16, cols: UInt16)?
    public init(cmd: [String], env: [String] = [], user: String = "", workingDir: String = "", tty: Bool = false,
                privileged: Bool = false, attachStdin: Bool = false, attachStdout: Bool = true, attachStderr: Bool = true,
                detachKeys: String = "", consoleSize: (rows: UInt16, cols: UInt16)? = nil) {
        self.cmd = cmd; self.env = env; self.user = user; self.workingDir = workingDir; self.tty = tty
        self.privileged = privileged; self.attachStdin = attachStdin; self.attachStdout = attachStdout
        self.attachStderr = attachStderr; self.detachKeys = detachKeys; self.consoleSize = consoleSize
    }
}

/// `wait` conditions.
public enum WaitCondition: String, Sendable {
    case notRunning = "not-running"
    case nextExit = "next-exit"
    case removed
}

/// A log entry of the json-file log.
public struct LogEntry: Sendable {
    /// 1 stdout, 2 stderr.
    public var stream: UInt8
    public var bytes: [UInt8]
    /// RFC 3339 nanoseconds as written.
    public var time: String
}

/// What `logs` reads.
public struct LogOptions: Sendable {
    public var stdout = true
    public var stderr = true
    public var follow = false
    /// Only entries at or after / before these times (seconds since the epoch, fractional).
    public var since: Double?
    public var until: Double?
    /// The last N entries (nil = all).
    public var tail: Int?
    public init() {}
}
