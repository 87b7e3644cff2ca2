#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthOCI
import BerthSystem

/// What berth-init records about a container it created: `<root>/<id>/state.json`.
public struct ContainerRecord: Codable, Sendable, Equatable {
    public var id: String
    /// The container's init pid (host pid namespace).
    public var pid: Int32
    /// The init's start time (field 22 of /proc/PID/stat), so a recycled pid is never mistaken
    /// for the container.
    public var pidStartTime: UInt64
    /// The monitor's pid.
    public var monitorPid: Int32
    public var bundle: String
    public var rootfs: String
    /// RFC3339Nano.
    public var created: String
    /// The cgroup path relative to each hierarchy root (e.g. `/berth/web`).
    public var cgroupPath: String
    public var annotations: [String: String]?
    public var terminal: Bool
    /// The json-file log, if the monitor writes one.
    public var logPath: String?
}

/// How a container's init ended: `<root>/<id>/exit.json`, written atomically by the monitor.
public struct ExitRecord: Codable, Sendable, Equatable {
    /// Exit code, or 128 + signal.
    public var exitCode: Int32
    /// The signal that killed the init, if any.
    public var signal: Int32?
    /// Whether the kernel's OOM killer killed a process of the container.
    public var oomKilled: Bool
    /// RFC3339Nano of when the process was exec'd (nil if it never started).
    public var startedAt: String?
    /// RFC3339Nano.
    public var finishedAt: String
    /// Why the container failed to start, if it did.
    public var error: String?
}

/// OCI `state` output.
public struct OCIState: Codable, Sendable, Equatable {
    public var ociVersion: String
    public var id: String
    /// creating, created, running, stopped.
    public var status: String
    public var pid: Int32?
    public var bundle: String
    public var annotations: [String: String]?
}

/// The runtime's state directory: one sub-directory per container.
public struct StateStore: Sendable {
    public var root: String

    public init(root: String) { self.root = root }

    /// The directory of one container.
    public func directory(_ id: String) -> String { "\(root)/\(id)" }

    /// Container ids are limited to what is safe as a directory and cgroup name.
    public static func validate(id: String) throws {
        let ok = !id.isEmpty && id.utf8.count <= 1024 && id.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || c == 0x2D || c == 0x5F || c == 0x2E || c == 0x2B
        } && id != "." && id != ".." && !id.hasPrefix(".")
        if !ok { throw BerthError.invalid("invalid container id \"\(id)\": use letters, digits, '_', '-', '.', '+'") }
    }

    /// Creates the container's directory; a duplicate id is a conflict.
    public func reserve(_ id: String) throws {
        try StateStore.validate(id: id)
        try FileSystem.makeDirectories(root, mode: 0o711)
        if mkdir(directory(id), 0o711) != 0 {
            if errno == EEXIST { throw BerthError.conflict("container with id \(id) already exists") }
            throw BerthError.sys("create state directory \(directory(id))")
        }
    }

    public func writeRecord(_ r: ContainerRecord) throws {
        try FileSystem.writeAtomically("\(directory(r.id))/state.json", try BerthJSONEncoder().encode(r))
    }

    public func record(_ id: String) throws -> ContainerRecord {
        try StateStore.validate(id: id)
        let path = "\(directory(id))/state.json"
        guard FileSystem.exists(path) else { throw BerthError.notFound("container \(id) does not exist") }
        return try BerthJSONDecoder().decode(ContainerRecord.self, from: FileSystem.read(path))
    }

    public func writeExit(_ id: String, _ e: ExitRecord) throws {
        try FileSystem.writeAtomically("\(directory(id))/exit.json", try BerthJSONEncoder().encode(e))
    }

    public func exit(_ id: String) -> ExitRecord? {
        guard let bytes = try? FileSystem.read("\(directory(id))/exit.json") else { return nil }
        return try? BerthJSONDecoder().decode(ExitRecord.self, from: bytes)
    }

    public func execFifo(_ id: String) -> String { "\(directory(id))/exec.fifo" }

    /// All container ids with a state record.
    public func ids() -> [String] {
        ((try? FileSystem.list(root)) ?? []).filter { FileSystem.exists("\(directory($0))/state.json") }.sorted()
    }

    /// Whether the recorded init is still the same live process.
    public static func isAlive(pid: Int32, startTime: UInt64) -> Bool {
        guard pid > 0, let st = processStartTime(pid) else { return false }
        return st == startTime && !isZombie(pid)
    }

    /// Field 22 (starttime) of /proc/PID/stat.
    public static func processStartTime(_ pid: Int32) -> UInt64? {
        guard let text = try? FileSystem.readString("/proc/\(pid)/stat"),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is state (field 3); starttime is field 22.
        guard fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }

    /// Whether the container's monitor still runs (and so may yet record the exit): the pid is
    /// alive, not a zombie, and still runs berth-init (not a recycled pid).
    public static func monitorAlive(_ r: ContainerRecord) -> Bool {
        guard r.monitorPid > 0, processStartTime(r.monitorPid) != nil, !isZombie(r.monitorPid),
              let cmd = try? FileSystem.read("/proc/\(r.monitorPid)/cmdline") else { return false }
        return String(decoding: cmd, as: UTF8.self).contains("berth-init")
    }

    static func isZombie(_ pid: Int32) -> Bool {
        guard let text = try? FileSystem.readString("/proc/\(pid)/stat"),
              let close = text.lastIndex(of: ")") else { return true }
        let rest = text[text.index(after: close)...].drop(while: { $0 == " " })
        return rest.first == "Z" || rest.first == "X"
    }

    /// The OCI state of a container.
    public func state(_ id: String) throws -> OCIState {
        let r = try record(id)
        var status: String
        if exit(id) != nil {
            status = "stopped"
        } else if StateStore.isAlive(pid: r.pid, startTime: r.pidStartTime) {
            status = FileSystem.exists(execFifo(id)) ? "created" : "running"
        } else {
            status = "stopped"
        }
        return OCIState(ociVersion: "1.2.0", id: id, status: status, pid: status == "stopped" ? 0 : r.pid,
                        bundle: r.bundle, annotations: r.annotations)
    }
}
