#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthOCI
import BerthSystem

/// Writing the OCI resources. Each group goes to the hierarchy carrying its controller (v1) or
/// to the v2 directory, with that version's files and units. OCI zero values mean "unset"
/// (as runc), `-1` means unlimited.
extension Cgroup {
    /// v2 files `unified` may not set: they move processes or change the tree's shape.
    static let reservedUnifiedKeys: Set<String> = [
        "cgroup.procs", "cgroup.threads", "cgroup.subtree_control", "cgroup.kill", "cgroup.freeze", "cgroup.type",
    ]

    /// The checks that need no filesystem, done before anything is made.
    static func validate(_ r: RuntimeSpec.Resources?, layout: CgroupLayout) throws {
        guard let r else { return }
        _ = try CgroupDeviceRules(r.devices)
        if let m = r.memory {
            for (name, v) in [("limit", m.limit), ("reservation", m.reservation), ("swap", m.swap)] {
                if let v, v < -1 { throw BerthError.invalid("cgroup: invalid memory \(name) \(v)") }
            }
            if let s = m.swappiness, s > 100 {
                throw BerthError.invalid("cgroup: invalid memory swappiness \(s) (0-100)")
            }
            if let l = m.limit, let s = m.swap, l > 0, s > 0, s < l {
                throw BerthError.invalid("cgroup: memory+swap limit \(s) must not be below the memory limit \(l)")
            }
        }
        for h in r.hugepageLimits ?? [] {
            let size = h.pageSize
            guard size.count >= 3, size.hasSuffix("B"), size.dropLast(2).allSatisfy(\.isNumber),
                  let unit = size.dropLast().last, "KMGT".contains(unit) else {
                throw BerthError.invalid("cgroup: invalid hugepage size \"\(size)\" (like 2MB or 1GB)")
            }
        }
        if let rdma = r.rdma, !rdma.isEmpty {
            throw BerthError(.unsupported, "cgroup: rdma limits are not supported")
        }
        for key in (r.unified ?? [:]).keys {
            let parts = key.split(separator: ".", omittingEmptySubsequences: false)
            guard !key.contains("/"), !key.contains(".."), parts.count >= 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw BerthError.invalid("cgroup: invalid unified key \"\(key)\" (want a file name like memory.high)")
            }
            guard !reservedUnifiedKeys.contains(key) else {
                throw BerthError.invalid("cgroup: unified key \"\(key)\" may not be set")
            }
            if layout.mode == .legacy {
                throw BerthError(.unsupported, "cgroup: unified key \"\(key)\" needs cgroup v2, and this host has cgroup v1 only")
            }
        }
    }

    /// Writes every limit. `fresh` holds the directories made just now: their current values
    /// are the defaults, so write orders can be chosen without reading them.
    func apply(_ r: RuntimeSpec.Resources, fresh: Set<String>) throws {
        if let m = r.memory { try applyMemory(m, fresh: fresh) }
        if let c = r.cpu { try applyCPU(c) }
        if let p = r.pids {
            try write(try target("pids", for: "a pids limit").directory, "pids.max", p.limit > 0 ? String(p.limit) : "max")
        }
        if let b = r.blockIO { try applyBlockIO(b) }
        for h in r.hugepageLimits ?? [] {
            switch try target("hugetlb", for: "a hugepage limit") {
            case .v1(let dir): try write(dir, "hugetlb.\(h.pageSize).limit_in_bytes", String(h.limit))
            case .v2(let dir): try write(dir, "hugetlb.\(h.pageSize).max", String(h.limit))
            }
        }
        if let n = r.network { try applyNetwork(n) }
        if let rules = try CgroupDeviceRules(r.devices) { try applyDevices(rules) }
        if let unified = r.unified, !unified.isEmpty { try applyUnified(unified) }
    }

    // MARK: memory

    func applyMemory(_ m: RuntimeSpec.Memory, fresh: Set<String>) throws {
        let what = "a memory limit"
        let limit = m.limit.flatMap { $0 == 0 ? nil : $0 }
        let swap = m.swap.flatMap { $0 == 0 ? nil : $0 }
        let reservation = m.reservation.flatMap { $0 == 0 ? nil : $0 }
        guard limit != nil || swap != nil || reservation != nil || m.swappiness != nil || m.disableOOMKiller == true else { return }
        switch try target("memory", for: what) {
        case .v1(let dir):
            // memory.memsw.limit_in_bytes (memory + swap) exists only with swap accounting on;
            // without it a swap limit cannot be enforced and is ignored, as Docker does.
            var memsw = swap
            if limit == -1 && memsw == nil { memsw = -1 }  // unlimited memory: unlimited swap too
            if memsw != nil && !FileSystem.exists(dir + "/memory.memsw.limit_in_bytes") { memsw = nil }
            // The kernel keeps memsw >= limit at every step: raise memsw first, lower it last.
            if let limit, let memsw {
                let current: UInt64 = fresh.contains(dir) ? UInt64.max : try readNumber(dir, "memory.limit_in_bytes")
                if memsw == -1 || current < UInt64(memsw) {
                    try write(dir, "memory.memsw.limit_in_bytes", String(memsw))
                    try write(dir, "memory.limit_in_bytes", String(limit))
                } else {
                    try write(dir, "memory.limit_in_bytes", String(limit))
                    try write(dir, "memory.memsw.limit_in_bytes", String(memsw))
                }
            } else if let limit {
                try write(dir, "memory.limit_in_bytes", String(limit))
            } else if let memsw {
                try write(dir, "memory.memsw.limit_in_bytes", String(memsw))
            }
            if let reservation { try write(dir, "memory.soft_limit_in_bytes", String(reservation)) }
            if let s = m.swappiness { try write(dir, "memory.swappiness", String(s)) }
            if m.disableOOMKiller == true { try write(dir, "memory.oom_control", "1") }
        case .v2(let dir):
            // OCI swap is memory + swap; v2 limits swap alone. Swappiness and disabling the
            // OOM killer have no v2 equivalent and are ignored (as runc).
            if let swapMax = try Cgroup.unifiedSwap(swap: swap ?? 0, limit: limit ?? 0),
               FileSystem.exists(dir + "/memory.swap.max") {
                try write(dir, "memory.swap.max", swapMax < 0 ? "max" : String(swapMax))
            }
            if let limit { try write(dir, "memory.max", limit < 0 ? "max" : String(limit)) }
            if let reservation { try write(dir, "memory.low", reservation < 0 ? "max" : String(reservation)) }
        }
    }

    /// runc's conversion of OCI memory+swap to v2 `memory.swap.max` (nil: leave unset; -1: max).
    public static func unifiedSwap(swap: Int64, limit: Int64) throws -> Int64? {
        if limit == -1 && swap == 0 { return -1 }
        if swap == 0 { return nil }
        if swap == -1 { return -1 }
        guard limit > 0 else { throw BerthError.invalid("cgroup: a swap limit needs a memory limit") }
        guard swap >= limit else {
            throw BerthError.invalid("cgroup: memory+swap limit \(swap) must not be below the memory limit \(limit)")
        }
        return swap - limit
    }

    // MARK: cpu

    /// runc's conversion of cpu.shares (2…262144) to cpu.weight (1…10000).
    public static func cpuWeight(shares: UInt64) -> UInt64 {
        if shares == 0 { return 0 }
        let s = min(max(shares, 2), 262144)
        return 1 + ((s - 2) * 9999) / 262142
    }

    func applyCPU(_ c: RuntimeSpec.CPU) throws {
        let shares = c.shares ?? 0, quota = c.quota ?? 0, period = c.period ?? 0, burst = c.burst
        let rtPeriod = c.realtimePeriod ?? 0, rtRuntime = c.realtimeRuntime ?? 0
        if shares != 0 || quota != 0 || period != 0 || burst != nil || c.idle != nil || rtPeriod != 0 || rtRuntime != 0 {
            switch try target("cpu", for: "a cpu limit") {
            case .v1(let dir):
                if shares != 0 { try write(dir, "cpu.shares", String(shares)) }
                // Period first, then quota; a smaller period can be refused until the quota is
                // lowered (parent's limit), so it is then written again after the quota.
                var periodLeft = false
                if period != 0 {
                    do {
                        try write(dir, "cpu.cfs_period_us", String(period))
                    } catch let e as BerthError where e.errno == EINVAL && quota != 0 {
                        periodLeft = true
                    }
                }
                if quota != 0 {
                    try write(dir, "cpu.cfs_quota_us", quota > 0 ? String(quota) : "-1")
                    if periodLeft { try write(dir, "cpu.cfs_period_us", String(period)) }
                }
                if let burst { try write(dir, "cpu.cfs_burst_us", String(burst)) }
                if rtPeriod != 0 { try write(dir, "cpu.rt_period_us", String(rtPeriod)) }
                if rtRuntime != 0 { try write(dir, "cpu.rt_runtime_us", String(rtRuntime)) }
                if let idle = c.idle { try write(dir, "cpu.idle", String(idle)) }
            case .v2(let dir):
                if rtPeriod != 0 || rtRuntime != 0 {
                    throw BerthError(.unsupported, "cgroup: realtime cpu limits are not supported on cgroup v2")
                }
                if shares != 0 { try write(dir, "cpu.weight", String(Cgroup.cpuWeight(shares: shares))) }
                if quota != 0 || period != 0 {
                    var value = quota > 0 ? String(quota) : "max"
                    if period != 0 { value += " \(period)" }
                    try write(dir, "cpu.max", value)
                }
                if let burst { try write(dir, "cpu.max.burst", String(burst)) }
                if let idle = c.idle { try write(dir, "cpu.idle", String(idle)) }
            }
        }
        let cpus = c.cpus ?? "", mems = c.mems ?? ""
        if !cpus.isEmpty || !mems.isEmpty {
            let dir = try target("cpuset", for: "a cpuset").directory
            if !cpus.isEmpty { try write(dir, "cpuset.cpus", cpus) }
            if !mems.isEmpty { try write(dir, "cpuset.mems", mems) }
        }
    }

    // MARK: block I/O

    /// runc's conversion of blkio weight (10…1000) to io.weight (1…10000).
    public static func ioWeight(blkioWeight w: UInt16) -> UInt64 {
        1 + (UInt64(max(w, 10)) - 10) * 9999 / 990
    }

    func applyBlockIO(_ b: RuntimeSpec.BlockIO) throws {
        let devices = try (b.weightDevice ?? []).map { v -> (dev: String, weight: UInt16?) in
            guard let major = v["major"]?.int64Value, let minor = v["minor"]?.int64Value else {
                throw BerthError.invalid("cgroup: blockIO.weightDevice entries need major and minor")
            }
            return ("\(major):\(minor)", v["weight"]?.uint64Value.map { UInt16(clamping: $0) })
        }
        let throttles: [([RuntimeSpec.ThrottleDevice]?, String, String)] = [
            (b.throttleReadBpsDevice, "blkio.throttle.read_bps_device", "rbps"),
            (b.throttleWriteBpsDevice, "blkio.throttle.write_bps_device", "wbps"),
            (b.throttleReadIOPSDevice, "blkio.throttle.read_iops_device", "riops"),
            (b.throttleWriteIOPSDevice, "blkio.throttle.write_iops_device", "wiops"),
        ]
        let hasWork = (b.weight ?? 0) != 0 || (b.leafWeight ?? 0) != 0 || !devices.isEmpty
            || throttles.contains { $0.0?.isEmpty == false }
        guard hasWork else { return }
        switch try target(layout.mode == .unified || layout.hierarchy(for: "blkio") == nil ? "io" : "blkio",
                          for: "a block I/O limit") {
        case .v1(let dir):
            // CFQ's blkio.weight is gone from current kernels; BFQ offers blkio.bfq.weight.
            let weightFile = FileSystem.exists(dir + "/blkio.weight") ? "blkio.weight" : "blkio.bfq.weight"
            if let w = b.weight, w != 0 { try write(dir, weightFile, String(w)) }
            if let w = b.leafWeight, w != 0 { try write(dir, "blkio.leaf_weight", String(w)) }
            for d in devices { if let w = d.weight { try write(dir, weightFile + "_device", "\(d.dev) \(w)") } }
            for (list, file, _) in throttles {
                for t in list ?? [] { try write(dir, file, "\(t.major):\(t.minor) \(t.rate)") }
            }
        case .v2(let dir):
            let bfq = FileSystem.exists(dir + "/io.bfq.weight")
            if let w = b.weight, w != 0 {
                if bfq { try write(dir, "io.bfq.weight", String(w)) } else { try write(dir, "io.weight", String(Cgroup.ioWeight(blkioWeight: w))) }
            }
            if let w = b.leafWeight, w != 0 {
                throw BerthError(.unsupported, "cgroup: blockIO.leafWeight is not supported on cgroup v2")
            }
            for d in devices {
                guard let w = d.weight else { continue }
                if bfq { try write(dir, "io.bfq.weight", "\(d.dev) \(w)") } else { try write(dir, "io.weight", "\(d.dev) \(Cgroup.ioWeight(blkioWeight: w))") }
            }
            for (list, _, key) in throttles {
                for t in list ?? [] { try write(dir, "io.max", "\(t.major):\(t.minor) \(key)=\(t.rate)") }
            }
        }
    }

    // MARK: network (v1 net_cls / net_prio)

    func applyNetwork(_ n: RuntimeSpec.Network) throws {
        if let id = n.classID {
            try write(try target("net_cls", for: "a network class id").directory, "net_cls.classid", String(id))
        }
        for p in n.priorities ?? [] {
            guard let name = p["name"]?.stringValue, let prio = p["priority"]?.uint64Value else {
                throw BerthError.invalid("cgroup: network.priorities entries need name and priority")
            }
            try write(try target("net_prio", for: "network priorities").directory, "net_prio.ifpriomap", "\(name) \(prio)")
        }
    }

    // MARK: devices

    /// v1: the rules as `devices.deny`/`devices.allow` lines. v2 (or hybrid without a v1
    /// devices hierarchy): the rules compiled to an eBPF program attached to the v2 directory.
    func applyDevices(_ rules: CgroupDeviceRules) throws {
        if let dir = directory(for: "devices") {
            for r in rules.rules { try write(dir, r.allow ? "devices.allow" : "devices.deny", r.v1Line) }
            return
        }
        guard let dir = unifiedDirectory else {
            throw BerthError(.unsupported, "cgroup: device rules need the devices controller or cgroup v2")
        }
        let program = try CgroupDeviceBPF.load(rules.program)
        defer { FD.close(program) }
        try CgroupDeviceBPF.attach(program, to: dir)
    }

    // MARK: unified

    /// `unified` keys, written verbatim to the v2 directory (sorted, so the order is stable;
    /// multi-line values one line per write, as the kernel takes them).
    func applyUnified(_ unified: [String: String]) throws {
        guard let dir = unifiedDirectory else {
            throw BerthError(.unsupported, "cgroup: unified keys need cgroup v2")
        }
        for key in unified.keys.sorted() {
            let controller = String(key.prefix { $0 != "." })
            if controller != "cgroup" && !layout.usesUnified(for: controller) {
                throw BerthError(.unsupported, "cgroup: unified key \"\(key)\" can't be set: controller \(controller) is not available in the cgroup v2 tree (\(layout.mode.rawValue) host)")
            }
            let value = unified[key] ?? ""
            let lines = value.split(separator: "\n").map(String.init)
            for line in lines.isEmpty ? [value] : lines { try write(dir, key, line) }
        }
    }
}
