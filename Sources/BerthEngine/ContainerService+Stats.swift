#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthNetwork
import BerthRuntime
import BerthSystem

/// One reading of a container's resource use (`docker stats`).
public struct ContainerStatsSample: Sendable {
    /// RFC 3339 nanoseconds; Go's zero time for a container that is not running.
    public var read = ContainerRunState.zeroTime
    public var cpu = CgroupCPUStats()
    /// The host's CPU time in nanoseconds (all CPUs, from /proc/stat), for the percentage.
    public var systemCPU: UInt64 = 0
    public var onlineCPUs = 0
    public var memoryUsage: UInt64 = 0
    /// The cgroup's limit, or the host's memory when unlimited (as Docker reports it).
    public var memoryLimit: UInt64 = 0
    public var memoryStat: [String: UInt64] = [:]
    public var pids: UInt64 = 0
    public var pidsLimit: UInt64? = nil
    /// Interface (`eth0`) → Docker's counters (`rx_bytes`, `rx_packets`, `rx_errors`,
    /// `rx_dropped`, `tx_…`), read in the container's network namespace.
    public var networks: [String: [String: UInt64]] = [:]
    /// Block I/O bytes per device and operation (Docker's `io_service_bytes_recursive`).
    public var ioServiceBytes: [(major: UInt64, minor: UInt64, op: String, value: UInt64)] = []
    public init() {}
}

extension ContainerService {
    /// A reading of a running container's cgroup; an empty sample for one that is not running.
    public func stats(_ ref: String) throws -> ContainerStatsSample {
        let c = try get(ref)
        var s = ContainerStatsSample()
        guard c.state.isRunning, c.state.status != .restarting else { return s }
        if Self.isVMIsolated(c.hostConfig) { return try statsVM(c) }
        let cg = try cgroup(c)
        s.read = WallClock.now().rfc3339Nano
        s.cpu = (try? cg.cpuStats()) ?? CgroupCPUStats()
        (s.systemCPU, s.onlineCPUs) = Self.hostCPU()
        s.memoryUsage = (try? cg.memoryUsage()) ?? 0
        s.memoryLimit = ((try? cg.memoryLimit()) ?? nil) ?? Self.hostMemory()
        s.memoryStat = (try? cg.memoryStat()) ?? [:]
        s.pids = (try? cg.pidsCurrent()) ?? 0
        s.pidsLimit = (try? cg.pidsLimit()) ?? nil
        s.networks = Self.interfaceCounters(c)
        s.ioServiceBytes = (try? cg.ioServiceBytes()) ?? []
        return s
    }

    /// The counters of the container's interfaces (its endpoints'), read in its netns.
    static func interfaceCounters(_ c: Container) -> [String: [String: UInt64]] {
        Links.counters(ofNetworkNamespaceOf: c.state.pid, names: Set((c.endpoints ?? [:]).values.map(\.interface).filter { !$0.isEmpty }))
    }

    /// The host's total CPU time in nanoseconds (the `cpu` line of /proc/stat, in USER_HZ
    /// ticks) and the number of online CPUs.
    static func hostCPU() -> (UInt64, Int) {
        guard let text = try? FileSystem.readString("/proc/stat") else { return (0, 1) }
        var total: UInt64 = 0, cpus = 0
        for line in text.split(separator: "\n") {
            if line.hasPrefix("cpu ") {
                total = line.split(separator: " ").dropFirst().prefix(8).compactMap { UInt64($0) }.reduce(0, +) * 10_000_000
            } else if line.hasPrefix("cpu") {
                cpus += 1
            }
        }
        return (total, max(cpus, 1))
    }

    /// MemTotal from /proc/meminfo, in bytes.
    static func hostMemory() -> UInt64 {
        guard let text = try? FileSystem.readString("/proc/meminfo"),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal:") }),
              let kb = line.split(separator: " ").dropFirst().first.flatMap({ UInt64($0) }) else { return 0 }
        return kb * 1024
    }
}
