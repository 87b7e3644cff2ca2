#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthOCI
import BerthRuntime
import BerthSystem

/// Turns a container (its merged Config and HostConfig) into the OCI runtime spec berth-init
/// runs, with Docker's defaults: capabilities, seccomp, masked paths, devices, mounts,
/// rlimits, resources. Runs at start, once the rootfs is mounted (users are looked up in it).
struct ContainerSpecBuilder {
    var container: Container
    /// The mounted rootfs (overlay).
    var rootfs: String
    /// The container's directory (hostname, hosts, resolv.conf).
    var directory: String
    var defaultSeccomp: RuntimeSpec.Seccomp?
    var tiniPath: String?
    /// `--network container:NAME`: the other container's network namespace to join.
    var networkNamespace: String? = nil

    var host: HostConfig { container.hostConfig }
    var config: ContainerConfig { container.config }

    static func hostname(_ c: Container) -> String {
        if c.hostConfig.NetworkMode == "host" || c.hostConfig.UTSMode == "host" {
            var buf = [CChar](repeating: 0, count: 256)
            gethostname(&buf, 255)
            return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        if let h = c.config.Hostname, !h.isEmpty { return h }
        return c.shortID
    }

    func build() throws -> RuntimeSpec {
        let privileged = host.Privileged ?? false
        var args = [container.path] + container.args
        if host.Init ?? false {
            guard tiniPath != nil else { throw BerthError.unsupported("--init needs tini-static on the host (apt-get install tini)") }
            args = ["/sbin/docker-init", "--"] + args
        }
        var spec = SecurityDefaults.spec(args: args, rootfs: rootfs, terminal: container.tty)
        spec.root = .init(path: rootfs, readonly: host.ReadonlyRootfs ?? false)
        spec.hostname = Self.hostname(container)
        if let d = config.Domainname, !d.isEmpty { spec.domainname = d }
        spec.annotations = nil

        // Process.
        var p = spec.process!
        p.env = environment(hostname: spec.hostname ?? "")
        p.cwd = (config.WorkingDir ?? "").isEmpty ? "/" : config.WorkingDir!
        let user = try UserLookup.resolve(config.User ?? "", groupAdd: host.GroupAdd ?? [], rootfs: rootfs)
        p.user = .init(uid: user.uid, gid: user.gid)
        p.user.additionalGids = user.additionalGids.isEmpty ? nil : user.additionalGids
        let caps = try Self.capabilities(host)
        p.capabilities = .init(bounding: caps, effective: caps, inheritable: nil, permitted: caps, ambient: nil)
        p.noNewPrivileges = noNewPrivileges
        p.rlimits = rlimits()
        if let o = host.OomScoreAdj, o != 0 { p.oomScoreAdj = o }
        if container.tty, let size = host.ConsoleSize, size.count == 2, size[0] > 0, size[1] > 0 {
            p.consoleSize = .init(height: UInt32(size[0]), width: UInt32(size[1]))
        }
        spec.process = p

        // Namespaces.
        var ns = ["pid", "ipc", "uts", "mount", "network"]
        if host.PidMode == "host" { ns.removeAll { $0 == "pid" } }
        if host.IpcMode == "host" { ns.removeAll { $0 == "ipc" } }
        if host.UTSMode == "host" || host.NetworkMode == "host" { ns.removeAll { $0 == "uts" } }
        if host.NetworkMode == "host" { ns.removeAll { $0 == "network" } }
        if host.CgroupnsMode != "host" { ns.append("cgroup") }
        spec.linux?.namespaces = ns.map { RuntimeSpec.Namespace(type: $0, path: $0 == "network" ? networkNamespace : nil) }
        if host.UTSMode == "host" || host.NetworkMode == "host" { spec.hostname = nil; spec.domainname = nil }

        // Mounts.
        spec.mounts = try mounts(privileged: privileged)

        // Linux.
        var linux = spec.linux!
        linux.cgroupsPath = "\(cgroupParent)/\(container.id)"
        linux.resources = resources(privileged: privileged)
        linux.sysctl = (host.Sysctls ?? [:]).isEmpty ? nil : host.Sysctls
        if privileged {
            linux.maskedPaths = nil
            linux.readonlyPaths = nil
        } else {
            if let m = host.MaskedPaths { linux.maskedPaths = m }
            if let r = host.ReadonlyPaths { linux.readonlyPaths = r }
            linux.seccomp = try seccomp()
        }
        spec.linux = linux
        return spec
    }

    var cgroupParent: String {
        var p = host.CgroupParent ?? ""
        if p.isEmpty { return "/berth" }
        if !p.hasPrefix("/") { p = "/" + p }
        return p
    }

    var noNewPrivileges: Bool {
        for opt in host.SecurityOpt ?? [] {
            if opt == "no-new-privileges" || opt == "no-new-privileges:true" || opt == "no-new-privileges=true" { return true }
        }
        return false
    }

    func environment(hostname: String) -> [String] {
        var env = config.Env ?? []
        func has(_ k: String) -> Bool { env.contains { $0.hasPrefix(k + "=") } }
        if !has("PATH") { env.insert("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", at: 0) }
        if !has("HOSTNAME") { env.insert("HOSTNAME=\(hostname)", at: 1) }
        if container.tty && !has("TERM") { env.append("TERM=xterm") }
        return env
    }

    /// Docker's default set, or all with --privileged, then CapAdd and CapDrop ("ALL" allowed).
    static func capabilities(_ h: HostConfig) throws -> [String] {
        func normalize(_ c: String) throws -> String {
            let u = c.uppercased()
            if u == "ALL" { return u }
            let name = u.hasPrefix("CAP_") ? u : "CAP_" + u
            guard Capabilities.names.contains(name) else { throw BerthError.invalid("unknown capability: \"\(name)\"") }
            return name
        }
        let add = try (h.CapAdd ?? []).map(normalize)
        let drop = try (h.CapDrop ?? []).map(normalize)
        var caps: [String]
        // "All" is every capability berthd itself still holds: a host may have dropped some
        // from its bounding set, and asking for those fails capset.
        let all = Capabilities.names(in: Capabilities.boundingSet())
        if h.Privileged ?? false { return all }
        if add.contains("ALL") { caps = all } else { caps = SecurityDefaults.capabilities }
        if drop.contains("ALL") { caps = add.filter { $0 != "ALL" } } else {
            for a in add where a != "ALL" && !caps.contains(a) { caps.append(a) }
            caps.removeAll { drop.contains($0) }
        }
        return caps
    }

    static let rlimitNames: [String: String] = [
        "core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA", "fsize": "RLIMIT_FSIZE", "locks": "RLIMIT_LOCKS",
        "memlock": "RLIMIT_MEMLOCK", "msgqueue": "RLIMIT_MSGQUEUE", "nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE",
        "nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS", "rtprio": "RLIMIT_RTPRIO", "rttime": "RLIMIT_RTTIME",
        "sigpending": "RLIMIT_SIGPENDING", "stack": "RLIMIT_STACK", "as": "RLIMIT_AS",
    ]

    /// Docker's containers get containerd's default (nofile 1048576) unless `--ulimit` says
    /// otherwise; capped at berthd's own hard limit, since raising it needs CAP_SYS_RESOURCE,
    /// which a daemon in a restricted host may lack.
    func rlimits() -> [RuntimeSpec.Rlimit] {
        var current = rlimit()
        var nofile: UInt64 = 1_048_576
        if getrlimit(RLIMIT_NOFILE_VALUE, &current) == 0, current.rlim_max != rlim_t.max {
            nofile = min(nofile, UInt64(current.rlim_max))
        }
        var out: [String: RuntimeSpec.Rlimit] = ["RLIMIT_NOFILE": .init(type: "RLIMIT_NOFILE", hard: nofile, soft: nofile)]
        for u in host.Ulimits ?? [] {
            guard let t = Self.rlimitNames[u.Name.lowercased()] else { continue }
            func v(_ x: Int64) -> UInt64 { x < 0 ? UInt64.max : UInt64(x) }
            out[t] = .init(type: t, hard: v(u.Hard), soft: v(u.Soft))
        }
        return out.values.sorted { $0.type < $1.type }
    }

    /// Namespaced sysctls only, as Docker allows them.
    static func validateSysctl(_ key: String, hostNetwork: Bool, hostIPC: Bool, hostUTS: Bool) throws {
        let ipc = ["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
                   "kernel.shmmni", "kernel.shm_rmid_forced"]
        if ipc.contains(key) || key.hasPrefix("fs.mqueue.") {
            if hostIPC { throw BerthError.invalid("sysctl '\(key)' not allowed in host IPC namespace") }
            return
        }
        if key.hasPrefix("net.") {
            if hostNetwork { throw BerthError.invalid("sysctl '\(key)' not allowed in host network namespace") }
            return
        }
        if key == "kernel.domainname" || key == "kernel.hostname" {
            if hostUTS { throw BerthError.invalid("sysctl '\(key)' not allowed in host UTS namespace") }
            return
        }
        throw BerthError.invalid("sysctl '\(key)' is not allowed")
    }

    func resources(privileged: Bool) -> RuntimeSpec.Resources {
        var r = RuntimeSpec.Resources()
        if privileged {
            r.devices = [.init(allow: true, access: "rwm")]
        } else {
            var devices: [RuntimeSpec.DeviceCgroup] = [.init(allow: false, access: "rwm")]
            // Docker's default allow list.
            devices.append(.init(allow: true, type: "c", access: "m"))
            devices.append(.init(allow: true, type: "b", access: "m"))
            for (maj, min) in [(1, 3), (1, 8), (1, 7), (5, 0), (1, 5), (1, 9), (5, 1), (136, -1), (5, 2), (10, 200)] {
                devices.append(.init(allow: true, type: "c", major: Int64(maj), minor: min < 0 ? nil : Int64(min), access: "rwm"))
            }
            r.devices = devices
        }
        var mem = RuntimeSpec.Memory()
        if let m = host.Memory, m > 0 { mem.limit = m }
        if let s = host.MemorySwap, s != 0 { mem.swap = s } else if let m = host.Memory, m > 0 { mem.swap = m * 2 }
        if let rsv = host.MemoryReservation, rsv > 0 { mem.reservation = rsv }
        if let sw = host.MemorySwappiness, sw >= 0 { mem.swappiness = UInt64(sw) }
        if host.OomKillDisable ?? false { mem.disableOOMKiller = true }
        if mem != RuntimeSpec.Memory() { r.memory = mem }
        var cpu = RuntimeSpec.CPU()
        if let s = host.CpuShares, s > 0 { cpu.shares = UInt64(s) }
        if let n = host.NanoCpus, n > 0 {
            cpu.period = 100_000
            cpu.quota = n * 100_000 / 1_000_000_000
        }
        if let q = host.CpuQuota, q != 0 { cpu.quota = q }
        if let p = host.CpuPeriod, p != 0 { cpu.period = UInt64(p) }
        if let c = host.CpusetCpus, !c.isEmpty { cpu.cpus = c }
        if let m = host.CpusetMems, !m.isEmpty { cpu.mems = m }
        if cpu != RuntimeSpec.CPU() { r.cpu = cpu }
        if let p = host.PidsLimit, p > 0 { r.pids = .init(limit: p) }
        return r
    }

    func seccomp() throws -> RuntimeSpec.Seccomp? {
        var custom: String?
        for opt in host.SecurityOpt ?? [] {
            let kv = opt.split(separator: opt.contains("=") ? "=" : ":", maxSplits: 1).map(String.init)
            if kv.count == 2 && kv[0] == "seccomp" { custom = kv[1] }
        }
        let caps = try Self.capabilities(host)
        switch custom {
        case "unconfined": return nil
        case nil, "builtin":
            if caps == SecurityDefaults.capabilities, let d = defaultSeccomp { return d }
            return try DockerSeccompProfile.default.ociConfig(capabilities: caps)
        case let json?:
            return try DockerSeccompProfile.parse(Array(json.utf8)).ociConfig(capabilities: caps)
        }
    }

    func mounts(privileged: Bool) throws -> [RuntimeSpec.Mount] {
        var out = SecurityDefaults.mounts
        let user = container.mounts.map(\.destination)
        // /dev/shm with its size.
        let shm = host.ShmSize.flatMap { $0 > 0 ? $0 : nil } ?? 64 * 1024 * 1024
        if let i = out.firstIndex(where: { $0.destination == "/dev/shm" }) {
            out[i].options = ["nosuid", "noexec", "nodev", "mode=1777", "size=\(shm)"]
        }
        if privileged, let i = out.firstIndex(where: { $0.destination == "/sys" }) {
            out[i].options = ["nosuid", "noexec", "nodev", "rw"]
        }
        if privileged, let i = out.firstIndex(where: { $0.destination == "/sys/fs/cgroup" }) {
            out[i].options = ["nosuid", "noexec", "nodev", "relatime", "rw"]
        }
        // A user mount at a default mount point replaces it.
        out.removeAll { user.contains($0.destination) }
        let defaults = out.count
        for (file, dest) in [("hostname", "/etc/hostname"), ("hosts", "/etc/hosts"), ("resolv.conf", "/etc/resolv.conf")]
        where !user.contains(dest) {
            out.append(.init(destination: dest, type: "bind", source: "\(directory)/\(file)", options: ["rbind", "rprivate"]))
        }
        if host.Init ?? false, let tini = tiniPath {
            out.append(.init(destination: "/sbin/docker-init", type: "bind", source: tini, options: ["bind", "ro"]))
        }
        for m in container.mounts {
            switch m.type {
            case "bind":
                if !FileSystem.exists(m.source) {
                    guard m.createSource else {
                        throw BerthError.invalid("invalid mount config for type \"bind\": bind source path does not exist: \(m.source)")
                    }
                    try FileSystem.makeDirectories(m.source)
                }
                var opts = m.options + [m.propagation]
                if m.readOnly { opts.append("ro") }
                out.append(.init(destination: m.destination, type: "bind", source: m.source, options: opts))
            case "volume":
                var opts = ["rbind", "rprivate"]
                if m.readOnly { opts.append("ro") }
                out.append(.init(destination: m.destination, type: "bind", source: m.source, options: opts))
            case "tmpfs":
                var opts = ["nosuid", "nodev", "noexec"]
                opts += m.options.filter { !opts.contains($0) }
                if m.readOnly { opts.append("ro") }
                out.append(.init(destination: m.destination, type: "tmpfs", source: "tmpfs", options: opts))
            default:
                throw BerthError.unsupported("\(m.type) mounts are not supported yet")
            }
        }
        // The container's own mounts parents first (as Docker sorts them), so a volume on /etc
        // does not hide /etc/hosts; the sort is stable for equal depths.
        let own = out[defaults...].enumerated().sorted { a, b in
            let da = a.element.destination.split(separator: "/").count, db = b.element.destination.split(separator: "/").count
            return da != db ? da < db : a.offset < b.offset
        }.map(\.element)
        return Array(out[..<defaults]) + own
    }
}

private let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
