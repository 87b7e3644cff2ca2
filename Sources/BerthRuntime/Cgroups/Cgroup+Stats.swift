import BerthCore
import BerthSystem

/// Counters of the memory controller (v2 `memory.events`; v1 has fewer, see the fields).
public struct CgroupMemoryEvents: Sendable, Equatable {
    /// Times usage went below `memory.low` protection (v2 only; 0 on v1).
    public var low: UInt64 = 0
    /// Times usage went over `memory.high` (v2 only; 0 on v1).
    public var high: UInt64 = 0
    /// Times usage hit the limit (v2 `max`; v1 `memory.failcnt`, which does not count charges
    /// that failed on the memory+swap limit first).
    public var max: UInt64 = 0
    /// Times the OOM killer was invoked (v2 only; v1 says `under_oom` instead, not a count).
    public var oom: UInt64 = 0
    /// Processes killed by the OOM killer.
    public var oomKill: UInt64 = 0

    /// All zero.
    public init() {}
}

/// Small readers for the engine (stats, OOM detection). Each reads one or two files.
extension Cgroup {
    /// How many processes the OOM killer killed here (v1 `oom_kill` of memory.oom_control,
    /// v2 `oom_kill` of memory.events).
    public func oomKillCount() throws -> UInt64 {
        switch try target("memory", for: "the OOM kill count") {
        case .v1(let dir): return try readKeyed(dir, "memory.oom_control")["oom_kill"] ?? 0
        case .v2(let dir): return try readKeyed(dir, "memory.events")["oom_kill"] ?? 0
        }
    }

    /// The memory controller's event counters.
    public func memoryEvents() throws -> CgroupMemoryEvents {
        var e = CgroupMemoryEvents()
        switch try target("memory", for: "memory events") {
        case .v1(let dir):
            e.oomKill = try readKeyed(dir, "memory.oom_control")["oom_kill"] ?? 0
            e.max = try readNumber(dir, "memory.failcnt")
        case .v2(let dir):
            let k = try readKeyed(dir, "memory.events")
            e.low = k["low"] ?? 0
            e.high = k["high"] ?? 0
            e.max = k["max"] ?? 0
            e.oom = k["oom"] ?? 0
            e.oomKill = k["oom_kill"] ?? 0
        }
        return e
    }

    /// Memory in use, in bytes (v1 memory.usage_in_bytes, v2 memory.current).
    public func memoryUsage() throws -> UInt64 {
        switch try target("memory", for: "memory usage") {
        case .v1(let dir): return try readNumber(dir, "memory.usage_in_bytes")
        case .v2(let dir): return try readNumber(dir, "memory.current")
        }
    }

    /// The memory limit in bytes, nil when unlimited (v1 memory.limit_in_bytes, v2 memory.max).
    public func memoryLimit() throws -> UInt64? {
        switch try target("memory", for: "the memory limit") {
        case .v1(let dir):
            // v1 shows "unlimited" as the largest page-aligned 63-bit value.
            let n = try readNumber(dir, "memory.limit_in_bytes")
            return n >= 0x7FFF_FFFF_FFFF_F000 ? nil : n
        case .v2(let dir):
            let text = try read(dir, "memory.max")
            if text == "max" { return nil }
            guard let n = UInt64(text) else { throw BerthError(.corrupt, "cgroup: memory.max in \(dir): \(text)") }
            return n
        }
    }

    /// CPU time used by all processes, in nanoseconds (v1 cpuacct.usage; v2 `usage_usec` of
    /// cpu.stat, which exists without the cpu controller).
    public func cpuUsage() throws -> UInt64 {
        if layout.mode != .unified, let dir = directory(for: "cpuacct") {
            return try readNumber(dir, "cpuacct.usage")
        }
        guard let dir = unifiedDirectory else {
            throw BerthError(.unsupported, "cgroup: cpu usage needs the cpuacct controller or cgroup v2")
        }
        return (try readKeyed(dir, "cpu.stat")["usage_usec"] ?? 0) * 1000
    }

    /// Bytes read and written per block device, as Docker's `io_service_bytes_recursive`
    /// entries: v1 `blkio.throttle.io_service_bytes_recursive` (ops `Read`, `Write`, `Sync`,
    /// `Async`, `Discard`, `Total`), v2 `io.stat` (`read`, `write` from rbytes/wbytes).
    public func ioServiceBytes() throws -> [(major: UInt64, minor: UInt64, op: String, value: UInt64)] {
        let v1 = layout.mode != .unified && layout.hierarchy(for: "blkio") != nil
        var out: [(UInt64, UInt64, String, UInt64)] = []
        func device(_ text: Substring) -> (UInt64, UInt64)? {
            let mm = text.split(separator: ":")
            guard mm.count == 2, let a = UInt64(mm[0]), let b = UInt64(mm[1]) else { return nil }
            return (a, b)
        }
        switch try target(v1 ? "blkio" : "io", for: "block I/O statistics") {
        case .v1(let dir):
            for line in try read(dir, "blkio.throttle.io_service_bytes_recursive").split(separator: "\n") {
                let f = line.split(separator: " ")
                guard f.count == 3, let (a, b) = device(f[0]), let v = UInt64(f[2]) else { continue }
                out.append((a, b, String(f[1]), v))
            }
        case .v2(let dir):
            for line in try read(dir, "io.stat").split(separator: "\n") {
                let f = line.split(separator: " ")
                guard let first = f.first, let (a, b) = device(first) else { continue }
                for kv in f.dropFirst() {
                    let p = kv.split(separator: "=")
                    guard p.count == 2, let v = UInt64(p[1]) else { continue }
                    if p[0] == "rbytes" { out.append((a, b, "read", v)) }
                    if p[0] == "wbytes" { out.append((a, b, "write", v)) }
                }
            }
        }
        return out
    }

    /// The number of tasks (threads included) in the cgroup (pids.current).
    public func pidsCurrent() throws -> UInt64 {
        try readNumber(try target("pids", for: "the task count").directory, "pids.current")
    }
}

/// CPU time split and throttling, for `docker stats`.
public struct CgroupCPUStats: Sendable, Equatable {
    /// Nanoseconds.
    public var total: UInt64 = 0
    public var user: UInt64 = 0
    public var system: UInt64 = 0
    public var periods: UInt64 = 0
    public var throttledPeriods: UInt64 = 0
    /// Nanoseconds.
    public var throttledTime: UInt64 = 0
    public init() {}
}

extension Cgroup {
    /// memory.stat as keys and numbers (v1: `cache`, `rss`, `total_inactive_file`…; v2: `anon`,
    /// `file`, `inactive_file`…).
    public func memoryStat() throws -> [String: UInt64] {
        switch try target("memory", for: "memory statistics") {
        case .v1(let dir), .v2(let dir): return try readKeyed(dir, "memory.stat")
        }
    }

    /// The task limit (pids.max), nil when unlimited.
    public func pidsLimit() throws -> UInt64? {
        let text = try read(try target("pids", for: "the task limit").directory, "pids.max")
        return text == "max" ? nil : UInt64(text)
    }

    /// CPU time (total, user, system) and throttling: v1 cpuacct and cpu.stat, v2 cpu.stat.
    public func cpuStats() throws -> CgroupCPUStats {
        var s = CgroupCPUStats()
        s.total = try cpuUsage()
        if layout.mode != .unified, let dir = directory(for: "cpuacct") {
            // USER_HZ ticks (100 per second) → nanoseconds.
            let k = (try? readKeyed(dir, "cpuacct.stat")) ?? [:]
            s.user = (k["user"] ?? 0) * 10_000_000
            s.system = (k["system"] ?? 0) * 10_000_000
            if let cpu = directory(for: "cpu"), let t = try? readKeyed(cpu, "cpu.stat") {
                s.periods = t["nr_periods"] ?? 0
                s.throttledPeriods = t["nr_throttled"] ?? 0
                s.throttledTime = t["throttled_time"] ?? 0
            }
        } else if let dir = unifiedDirectory {
            let k = try readKeyed(dir, "cpu.stat")
            s.user = (k["user_usec"] ?? 0) * 1000
            s.system = (k["system_usec"] ?? 0) * 1000
            s.periods = k["nr_periods"] ?? 0
            s.throttledPeriods = k["nr_throttled"] ?? 0
            s.throttledTime = (k["throttled_usec"] ?? 0) * 1000
        }
        return s
    }
}
