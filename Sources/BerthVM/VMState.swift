#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthSystem

/// Where a VM is in its lifecycle (see `VMBackend`).
public enum VMState: Sendable, Equatable, CustomStringConvertible {
    /// Created (validated, state directory made), never started or stopped since.
    case created
    /// The VMM process runs and the guest's vCPUs run.
    case running
    /// The VMM process runs, the vCPUs are stopped (`pause`).
    case paused
    /// The VMM process has exited; `VMExit` says how.
    case stopped(VMExit)

    public var description: String {
        switch self {
        case .created: return "created"
        case .running: return "running"
        case .paused: return "paused"
        case .stopped: return "stopped"
        }
    }
}

/// How a VM's VMM process ended.
public struct VMExit: Sendable, Equatable, Codable {
    /// How the stop came about.
    public enum Reason: String, Sendable, Equatable, Codable {
        /// The guest powered itself off (or rebooted: Berth's VMs exit on reboot).
        case guestShutdown
        /// `stop` asked by ACPI power button and the guest obeyed within the timeout.
        case powerdown
        /// Killed: by `kill`, or by `stop` after the guest ignored the power button.
        case killed
        /// The VMM process died on its own (crash, error).
        case crashed
        /// The VM moved to another VMM by live migration; this one was quit.
        case migrated
    }

    public var reason: Reason
    /// The VMM process's exit code (128 + signal when it was killed).
    public var processExitCode: Int32

    public init(reason: Reason, processExitCode: Int32) {
        self.reason = reason
        self.processExitCode = processExitCode
    }
}

/// Resource use of a running VM, as the host sees its VMM process.
public struct VMStats: Sendable, Equatable {
    /// CPU time of the VMM process (all vCPU and I/O threads), user + system, in nanoseconds.
    public var cpuTimeNanoseconds: UInt64
    /// Resident memory of the VMM process in bytes (guest RAM it has touched plus QEMU itself).
    public var residentBytes: UInt64
    /// The guest memory configured, in bytes.
    public var memoryLimitBytes: UInt64
    /// The VMM's pid on the host.
    public var pid: Int32

    public init(cpuTimeNanoseconds: UInt64, residentBytes: UInt64, memoryLimitBytes: UInt64, pid: Int32) {
        self.cpuTimeNanoseconds = cpuTimeNanoseconds
        self.residentBytes = residentBytes
        self.memoryLimitBytes = memoryLimitBytes
        self.pid = pid
    }
}

/// The host's view of a VMM process's resource use, from /proc (what `stats` reports for a
/// VM and for an `--isolation vm` container).
public struct VMProcessUsage: Sendable, Equatable {
    /// User and system CPU time of all its threads, in nanoseconds.
    public var userNanoseconds: UInt64
    public var systemNanoseconds: UInt64
    /// Resident set size in bytes.
    public var residentBytes: UInt64

    /// The fields of `/proc/<pid>/stat` after "pid (comm)" (comm may hold spaces and
    /// parentheses, so the split starts after the last ")"): index 0 is field 3, the state.
    static func statFields(pid: Int32) throws -> [Substring] {
        let stat = try FileSystem.readString("/proc/\(pid)/stat")
        guard let close = stat.lastIndex(of: ")") else { throw BerthError(.corrupt, "unreadable /proc/\(pid)/stat") }
        return stat[stat.index(after: close)...].split(separator: " ")
    }

    /// Reads `/proc/<pid>/stat` (utime, stime) and `/proc/<pid>/statm` (resident pages).
    public static func read(pid: Int32) throws -> VMProcessUsage {
        let fields = try statFields(pid: pid)
        // Field 3 (state) is index 0, so utime (14) is 11 and stime (15) is 12.
        guard fields.count > 12, let utime = UInt64(fields[11]), let stime = UInt64(fields[12]) else {
            throw BerthError(.corrupt, "unreadable /proc/\(pid)/stat")
        }
        let ticks = UInt64(max(1, sysconf(Int32(_SC_CLK_TCK))))
        let statm = try FileSystem.readString("/proc/\(pid)/statm").split(separator: " ")
        let pages = statm.count > 1 ? UInt64(statm[1]) ?? 0 : 0
        return VMProcessUsage(userNanoseconds: utime * 1_000_000_000 / ticks, systemNanoseconds: stime * 1_000_000_000 / ticks,
                              residentBytes: pages * UInt64(sysconf(Int32(_SC_PAGESIZE))))
    }
}
