#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthImage
import BerthOCI
import BerthRuntime
import BerthSystem

extension ContainerService {
    /// `POST /containers/create`: validates everything (a bad request leaves nothing behind),
    /// merges the image's config into the container's as Docker does, and writes the record
    /// and the container's files. Returns the id and warnings.
    public func create(name requested: String?, config given: ContainerConfig, hostConfig given2: HostConfig,
                       networking: NetworkingConfig? = nil) throws -> (id: String, warnings: [String]) {
        var config = given
        var host = given2
        var warnings: [String] = []

        guard let imageName = config.Image, !imageName.isEmpty else { throw BerthError.invalid("no image specified") }
        let image = try images.get(imageName)
        let imageConfig = try images.config(image.record.id).config ?? ImageConfig.Config()
        Self.merge(image: imageConfig, into: &config)
        guard !(config.Entrypoint ?? []).isEmpty || !(config.Cmd ?? []).isEmpty else {
            throw BerthError.invalid("no command specified")
        }
        if let w = config.WorkingDir, !w.isEmpty, !w.hasPrefix("/") {
            throw BerthError.invalid("the working directory '\(w)' is invalid, it needs to be an absolute path")
        }
        if let s = config.StopSignal, !s.isEmpty, Signals.number(s) == nil {
            throw BerthError.invalid("Invalid signal: \(s)")
        }
        if let t = config.StopTimeout, t < -1 { throw BerthError.invalid("invalid stop timeout \(t)") }

        try Self.validate(host: &host, warnings: &warnings)
        let endpoints = try resolveEndpoints(&host, networking)
        var (mounts, volumeRequests) = try Self.parseMounts(host)
        try resolveVolumeMounts(&mounts, requests: &volumeRequests, volumesFrom: host.VolumesFrom ?? [],
                                configVolumes: (config.Volumes ?? [:]).keys.sorted())
        _ = try ContainerSpecBuilder.capabilities(host)

        var name = requested ?? ""
        if name.hasPrefix("/") { name.removeFirst() }
        if !name.isEmpty { try Self.validate(name: name) }

        let (path, args) = Self.command(config)
        let id: String = table.withLock { t in
            var id = Self.randomID()
            while t.entries[id] != nil || t.entries.keys.contains(where: { $0.hasPrefix(String(id.prefix(12))) }) {
                id = Self.randomID()
            }
            return id
        }
        // The name is reserved with the entry, atomically.
        var c = Container(id: id, name: name, created: WallClock.now().rfc3339Nano, path: path, args: args,
                          config: config, hostConfig: host, image: image.record.id, imageName: imageName,
                          mounts: mounts, state: ContainerRunState())
        c.endpoints = endpoints.isEmpty ? nil : endpoints
        if (c.config.Hostname ?? "").isEmpty {
            // Docker records the hostname it gives: the short id, or the host's.
            c.config.Hostname = ContainerSpecBuilder.hostname(c)
        }
        try table.withLock { t in
            if c.name.isEmpty {
                var n = NameGenerator.random()
                var retries = 0
                while t.names[n] != nil { retries += 1; n = NameGenerator.random(retry: retries) }
                c.name = n
            } else if let other = t.names[c.name] {
                throw BerthError.conflict("Conflict. The container name \"/\(c.name)\" is already in use by container \"\(other)\". You have to remove (or rename) that container to be able to reuse that name.")
            }
            var e = Entry(container: c)
            e.busy = "creating"
            t.entries[id] = e
            t.names[c.name] = id
        }
        // The entry names its volumes before they exist, so a concurrent prune sees them used.
        var createdVolumes: [String] = []
        do {
            createdVolumes = try createVolumes(mounts, requests: volumeRequests)
            try makeFiles(c)
        } catch {
            table.withLock { t in
                t.entries[id] = nil
                t.names[c.name] = nil
            }
            try? removeFiles(id)
            for v in createdVolumes { try? volumes.remove(v, force: true) }
            throw error
        }
        update(id) { $0.busy = nil }
        publish(c, "create")
        return (id, warnings)
    }

    /// Docker's merge: the image supplies what the request leaves out.
    static func merge(image: ImageConfig.Config, into c: inout ContainerConfig) {
        if c.User == nil || c.User == "" { c.User = image.User ?? "" }
        // Entrypoint: an explicit [""] clears the image's; a new entrypoint drops the image's Cmd.
        if let ep = c.Entrypoint {
            if ep == [""] { c.Entrypoint = nil }
        } else {
            c.Entrypoint = image.Entrypoint
            if c.Cmd == nil || c.Cmd!.isEmpty { c.Cmd = image.Cmd }
        }
        var env = image.Env ?? []
        for kv in c.Env ?? [] {
            let key = kv.split(separator: "=", maxSplits: 1).first.map(String.init) ?? kv
            env.removeAll { ($0.split(separator: "=", maxSplits: 1).first.map(String.init) ?? $0) == key }
            env.append(kv)
        }
        c.Env = env
        if c.WorkingDir == nil || c.WorkingDir == "" { c.WorkingDir = image.WorkingDir ?? "" }
        if let labels = image.Labels {
            var merged = labels
            for (k, v) in c.Labels ?? [:] { merged[k] = v }
            c.Labels = merged
        }
        if c.Labels == nil { c.Labels = [:] }
        if c.StopSignal == nil || c.StopSignal == "" { c.StopSignal = image.StopSignal }
        if c.ExposedPorts == nil { c.ExposedPorts = image.ExposedPorts }
        else if let ip = image.ExposedPorts { for (k, v) in ip where c.ExposedPorts![k] == nil { c.ExposedPorts![k] = v } }
        if c.Volumes == nil { c.Volumes = image.Volumes }
        else if let iv = image.Volumes { for (k, v) in iv where c.Volumes![k] == nil { c.Volumes![k] = v } }
        if c.Healthcheck == nil, let hc = image.Healthcheck,
           let h = try? BerthJSONDecoder().decode(HealthConfig.self, from: JSON.serialize(hc)) {
            c.Healthcheck = h
        }
        if c.OnBuild == nil { c.OnBuild = image.OnBuild }
        if c.Shell == nil { c.Shell = image.Shell }
        if c.Hostname == nil { c.Hostname = "" }
        if c.Domainname == nil { c.Domainname = "" }
        for k in [\ContainerConfig.AttachStdin, \.AttachStdout, \.AttachStderr, \.Tty, \.OpenStdin, \.StdinOnce] where c[keyPath: k] == nil {
            c[keyPath: k] = false
        }
    }

    /// The program and its arguments: Entrypoint + Cmd.
    static func command(_ c: ContainerConfig) -> (String, [String]) {
        let all = (c.Entrypoint ?? []) + (c.Cmd ?? [])
        return (all.first ?? "", Array(all.dropFirst()))
    }

    /// Docker's HostConfig checks, in its words.
    static func validate(host h: inout HostConfig, warnings: inout [String]) throws {
        let mode = h.NetworkMode ?? ""
        switch mode {
        case "", "default", "none", "host": break
        default:
            if mode.hasPrefix("container:") {
                if mode.count == "container:".count { throw BerthError.invalid("invalid network mode: \(mode)") }
                if !(h.PortBindings ?? [:]).isEmpty || h.PublishAllPorts == true {
                    throw BerthError.invalid("conflicting options: port publishing and the container type network mode")
                }
                if !(h.ExtraHosts ?? []).isEmpty {
                    throw BerthError.invalid("conflicting options: custom host-to-IP mapping and the network mode")
                }
            }
        }
        if mode == "host" && !(h.PortBindings ?? [:]).isEmpty {
            warnings.append("Published ports are discarded when using host network mode")
        }
        if let m = h.Memory, m < 0 { throw BerthError.invalid("invalid memory limit \(m): it must not be negative") }
        if let m = h.Memory, m > 0, m < 6 * 1024 * 1024 { throw BerthError.invalid("Minimum memory limit allowed is 6MB") }
        if let s = h.MemorySwap, s > 0 {
            guard let m = h.Memory, m > 0 else {
                throw BerthError.invalid("You should always set the Memory limit when using Memoryswap limit, see usage")
            }
            if s < m { throw BerthError.invalid("Minimum memoryswap limit should be larger than memory limit, see usage") }
        }
        if let r = h.MemoryReservation, r < 0 { throw BerthError.invalid("invalid memory reservation \(r)") }
        if let m = h.Memory, let r = h.MemoryReservation, m > 0, r > m {
            throw BerthError.invalid("Minimum memory limit can not be less than memory reservation limit, see usage")
        }
        if let s = h.MemorySwappiness, s != -1, !(0...100).contains(s) {
            throw BerthError.invalid("Invalid value: \(s), valid memory swappiness range is 0-100")
        }
        let cpus = Int64(max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        if let n = h.NanoCpus, n != 0 {
            if (h.CpuQuota ?? 0) > 0 || (h.CpuPeriod ?? 0) > 0 {
                throw BerthError.invalid("Conflicting options: Nano CPUs and CPU Period cannot both be set")
            }
            if n < 0 || n > cpus * 1_000_000_000 {
                throw BerthError.invalid("Range of CPUs is from 0.01 to \(cpus).00, as there are only \(cpus) CPUs available")
            }
        }
        if let p = h.CpuPeriod, p != 0, !(1000...1_000_000).contains(p) {
            throw BerthError.invalid("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
        }
        if let q = h.CpuQuota, q > 0, q < 1000 { throw BerthError.invalid("CPU cfs quota can not be less than 1ms (i.e. 1000)") }
        if let s = h.CpuShares, s < 0 { throw BerthError.invalid("invalid CPU shares \(s)") }
        if let set = h.CpusetCpus, !set.isEmpty {
            guard let wanted = CPUSet.parse(set) else { throw BerthError.invalid("Invalid value \(set) for cpuset cpus") }
            let online = (try? FileSystem.readString("/sys/devices/system/cpu/online")).flatMap { CPUSet.parse($0) } ?? Set(0..<Int(cpus))
            if !wanted.isSubset(of: online) {
                let available = (try? FileSystem.readString("/sys/devices/system/cpu/online"))?.berthTrimmed() ?? "0-\(cpus - 1)"
                throw BerthError.invalid("Requested CPUs are not available - requested \(set), available: \(available)")
            }
        }
        if let o = h.OomScoreAdj, !(-1000...1000).contains(o) {
            throw BerthError.invalid("Invalid value \(o), range for oom score adj is [-1000, 1000]")
        }
        if let s = h.ShmSize, s < 0 { throw BerthError.invalid("SHM size can not be less than 0") }
        for u in h.Ulimits ?? [] {
            guard ContainerSpecBuilder.rlimitNames[u.Name.lowercased()] != nil else {
                throw BerthError.invalid("invalid ulimit type: \(u.Name)")
            }
            if u.Soft > u.Hard { throw BerthError.invalid("ulimit soft limit must be less than or equal to hard limit: \(u.Soft) > \(u.Hard)") }
        }
        for (key, _) in h.Sysctls ?? [:] {
            try ContainerSpecBuilder.validateSysctl(key, hostNetwork: mode == "host", hostIPC: h.IpcMode == "host",
                                                    hostUTS: h.UTSMode == "host")
        }
        let restart = h.RestartPolicy?.Name ?? ""
        switch restart {
        case "", "no", "always", "unless-stopped", "on-failure": break
        default: throw BerthError.invalid("invalid restart policy '\(restart)'")
        }
        if (h.AutoRemove ?? false) && !(restart == "" || restart == "no") {
            throw BerthError.invalid("can't create 'AutoRemove' container with restart policy")
        }
        if let c = h.RestartPolicy?.MaximumRetryCount, c != 0, restart != "on-failure" {
            throw BerthError.invalid("invalid restart policy: maximum retry count can only be used with 'on-failure'")
        }
        for opt in h.SecurityOpt ?? [] {
            let kv = opt.split(separator: opt.contains("=") ? "=" : ":", maxSplits: 1).map(String.init)
            switch kv[0] {
            case "no-new-privileges":
                if kv.count > 1 && !["true", "false"].contains(kv[1]) {
                    throw BerthError.invalid("invalid --security-opt 2: \"\(opt)\"")
                }
            case "seccomp":
                guard kv.count == 2 else { throw BerthError.invalid("invalid --security-opt: \"\(opt)\"") }
                if kv[1] != "unconfined" && kv[1] != "builtin" {
                    do { _ = try DockerSeccompProfile.parse(Array(kv[1].utf8)) } catch {
                        throw BerthError.invalid("invalid seccomp profile: \((error as? BerthError)?.message ?? "\(error)")")
                    }
                }
            case "apparmor", "label", "systempaths", "writable-cgroups": break
            default: throw BerthError.invalid("invalid --security-opt 1: \"\(opt)\"")
            }
        }
        for pm in [h.PidMode, h.IpcMode, h.UTSMode] {
            if let m = pm, !m.isEmpty, !["host", "private", "shareable", "none"].contains(m) {
                throw BerthError.unsupported("namespace mode \"\(m)\" is not supported")
            }
        }
        if let u = h.UsernsMode, !u.isEmpty, u != "host" {
            throw BerthError.unsupported("user namespace mode \"\(u)\" is not supported")
        }
        if let i = h.Isolation, !i.isEmpty, i != "default", i.lowercased() != "vm" {
            throw BerthError.unsupported("isolation \"\(i)\" is not supported (default or vm)")
        }
        if let r = h.Runtime, !r.isEmpty, r != "berth", r != "runc", r != "berth-vm" {
            throw BerthError.invalid("unknown or invalid runtime name: \(r)")
        }
        if let lc = h.LogConfig, !lc.Type.isEmpty, lc.Type != "json-file", lc.Type != "none", lc.Type != "local" {
            throw BerthError.invalid("logging driver \"\(lc.Type)\" is not supported: use json-file")
        }
        if !(h.Links ?? []).isEmpty { throw BerthError.unsupported("links need networking, which is not available yet") }
        if h.NetworkMode == nil || h.NetworkMode == "" { h.NetworkMode = "default" }
        if h.LogConfig == nil { h.LogConfig = .init(type: "json-file", config: [:]) }
        if h.RestartPolicy == nil { h.RestartPolicy = .init(name: "no", maximumRetryCount: 0) }
    }

    /// Binds (`-v`), Mounts (`--mount`) and Tmpfs (`--tmpfs`), validated, as the container will
    /// get them. Volume mounts carry their name ("" for an anonymous one, named at create);
    /// what a `--mount` asks of a volume that does not exist yet is returned by destination.
    static func parseMounts(_ h: HostConfig) throws -> (mounts: [ContainerMount], requests: [String: VolumeRequest]) {
        var out: [ContainerMount] = []
        var requests: [String: VolumeRequest] = [:]
        func add(_ m: ContainerMount) throws {
            if m.destination == "/" { throw BerthError.invalid("invalid specification: destination can't be '/'") }
            if out.contains(where: { $0.destination == m.destination }) {
                throw BerthError.invalid("Duplicate mount point: \(m.destination)")
            }
            out.append(m)
        }
        for spec in h.Binds ?? [] {
            try add(try parseBind(spec))
        }
        for m in h.Mounts ?? [] {
            let type = m.Type ?? ""
            guard let target = m.Target, !target.isEmpty else {
                throw BerthError.invalid("invalid mount config for type \"\(type)\": field Target must not be empty")
            }
            guard target.hasPrefix("/") else {
                throw BerthError.invalid("invalid mount config for type \"\(type)\": invalid mount path: '\(target)' mount path must be absolute")
            }
            func refuse(_ field: String, _ present: Bool) throws {
                if present { throw BerthError.invalid("invalid mount config for type \"\(type)\": field \(field) must not be specified") }
            }
            switch type {
            case "bind":
                try refuse("VolumeOptions", m.VolumeOptions != nil)
                try refuse("TmpfsOptions", m.TmpfsOptions != nil)
                guard let source = m.Source, !source.isEmpty else {
                    throw BerthError.invalid("invalid mount config for type \"bind\": field Source must not be empty")
                }
                guard source.hasPrefix("/") else {
                    throw BerthError.invalid("invalid mount config for type \"bind\": invalid mount path: '\(source)' mount path must be absolute")
                }
                let create = m.BindOptions?.CreateMountpoint ?? false
                if !create && !FileSystem.exists(source) {
                    throw BerthError.invalid("invalid mount config for type \"bind\": bind source path does not exist: \(source)")
                }
                let prop = m.BindOptions?.Propagation ?? ""
                if !prop.isEmpty && !Self.propagations.contains(prop) {
                    throw BerthError.invalid("invalid mount config for type \"bind\": invalid propagation mode: \(prop)")
                }
                try add(ContainerMount(type: "bind", source: source, destination: clean(target), readOnly: m.ReadOnly ?? false,
                                       propagation: prop.isEmpty ? "rprivate" : prop, mode: "",
                                       options: (m.BindOptions?.NonRecursive ?? false) ? ["bind"] : ["rbind"], createSource: create))
            case "volume":
                try refuse("BindOptions", m.BindOptions != nil)
                try refuse("TmpfsOptions", m.TmpfsOptions != nil)
                let name = m.Source ?? ""
                if !name.isEmpty { try VolumeService.validate(name: name) }
                if let sub = m.VolumeOptions?.Subpath, !sub.isEmpty {
                    throw BerthError.unsupported("invalid mount config for type \"volume\": volume subpaths are not supported")
                }
                var request = VolumeRequest()
                if let dc = m.VolumeOptions?.DriverConfig {
                    request.driver = dc["Name"]?.stringValue
                    for (k, v) in dc["Options"]?.objectValue ?? [:] { request.options[k] = v.stringValue ?? "" }
                    // Invalid rather than not found: a 404 would make the docker CLI pull the image.
                    do { try VolumeService.checkDriver(request.driver) } catch let e as BerthError {
                        throw BerthError.invalid(e.message)
                    }
                }
                request.labels = m.VolumeOptions?.Labels ?? [:]
                let dest = clean(target)
                requests[dest] = request
                try add(ContainerMount(type: "volume", source: "", destination: dest, readOnly: m.ReadOnly ?? false,
                                       propagation: "", mode: "", options: ["rbind"], createSource: false,
                                       name: name, copyData: !(m.VolumeOptions?.NoCopy ?? false)))
            case "tmpfs":
                try refuse("BindOptions", m.BindOptions != nil)
                try refuse("VolumeOptions", m.VolumeOptions != nil)
                if let s = m.Source, !s.isEmpty {
                    throw BerthError.invalid("invalid mount config for type \"tmpfs\": field Source must not be specified")
                }
                var opts: [String] = []
                if let size = m.TmpfsOptions?.SizeBytes {
                    guard size >= 0 else { throw BerthError.invalid("invalid mount config for type \"tmpfs\": invalid tmpfs size \(size)") }
                    if size > 0 { opts.append("size=\(size)") }
                }
                if let mode = m.TmpfsOptions?.Mode { opts.append("mode=" + String(mode, radix: 8)) }
                for o in m.TmpfsOptions?.Options ?? [] { opts.append(o.joined(separator: "=")) }
                try add(ContainerMount(type: "tmpfs", source: "", destination: clean(target), readOnly: m.ReadOnly ?? false,
                                       propagation: "", mode: "", options: opts, createSource: false))
            case "":
                throw BerthError.invalid("invalid mount config: mount type must be specified")
            default:
                throw BerthError.invalid("invalid mount config for type \"\(type)\": mount type unknown")
            }
        }
        for (dest, optString) in (h.Tmpfs ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard dest.hasPrefix("/") else { throw BerthError.invalid("invalid mount path: '\(dest)' mount path must be absolute") }
            var opts = optString.split(separator: ",").map(String.init)
            var ro = false
            opts.removeAll { o in
                if o == "ro" { ro = true; return true }
                return o == "rw"
            }
            try add(ContainerMount(type: "tmpfs", source: "", destination: clean(dest), readOnly: ro, propagation: "",
                                   mode: optString, options: opts, createSource: false))
        }
        return (out, requests)
    }

    static let propagations: Set<String> = ["private", "rprivate", "shared", "rshared", "slave", "rslave"]

    /// `-v SRC:DST[:OPTS]` (a bind when SRC is absolute, else a named volume) or `-v DST`
    /// (an anonymous volume).
    static func parseBind(_ spec: String) throws -> ContainerMount {
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        if parts.count == 1 && spec.hasPrefix("/") {
            return ContainerMount(type: "volume", source: "", destination: clean(spec), readOnly: false, propagation: "",
                                  mode: "", options: ["rbind"], createSource: false, name: "", copyData: true)
        }
        guard parts.count == 2 || parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw BerthError.invalid("invalid volume specification: '\(spec)'")
        }
        let source = parts[0], dest = parts[1]
        let volume = !source.hasPrefix("/")
        if volume { try VolumeService.validate(name: source) }
        guard dest.hasPrefix("/") else {
            throw BerthError.invalid("invalid volume specification: '\(spec)': invalid mount config for type \"\(volume ? "volume" : "bind")\": invalid mount path: '\(dest)' mount path must be absolute")
        }
        var ro = false
        var prop = "rprivate"
        var copy = true
        let mode = parts.count == 3 ? parts[2] : ""
        for o in mode.split(separator: ",").map(String.init) {
            switch o {
            case "ro": ro = true
            case "rw": ro = false
            case "nocopy" where volume: copy = false
            case "z", "Z", "consistent", "cached", "delegated": break
            case "nocopy": break
            default:
                if propagations.contains(o) && !volume { prop = o } else {
                    throw BerthError.invalid("invalid mode: \(o)")
                }
            }
        }
        if volume {
            return ContainerMount(type: "volume", source: "", destination: clean(dest), readOnly: ro, propagation: "",
                                  mode: mode.isEmpty ? "z" : mode, options: ["rbind"], createSource: false,
                                  name: source, copyData: copy)
        }
        return ContainerMount(type: "bind", source: clean(source), destination: clean(dest), readOnly: ro, propagation: prop,
                              mode: mode, options: ["rbind"], createSource: true)
    }

    /// A path without trailing slashes or `.` components.
    static func clean(_ p: String) -> String {
        var parts: [Substring] = []
        for c in p.split(separator: "/") where c != "." {
            if c == ".." { if !parts.isEmpty { parts.removeLast() } } else { parts.append(c) }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// A container's /etc/hosts: the host's with `--network host`, else localhost and the IPv6
    /// names; then `entries` (its own address and legacy links) and `--add-host`.
    func hostsFile(_ c: Container, entries: [(String, String)]) throws -> String {
        let hostNetwork = c.hostConfig.NetworkMode == "host"
        var hosts: String
        if hostNetwork {
            hosts = (try? FileSystem.readString("/etc/hosts")) ?? "127.0.0.1\tlocalhost\n"
            if !hosts.hasSuffix("\n") { hosts += "\n" }
        } else {
            hosts = """
            127.0.0.1\tlocalhost
            ::1\tlocalhost ip6-localhost ip6-loopback
            fe00::0\tip6-localnet
            ff00::0\tip6-mcastprefix
            ff02::1\tip6-allnodes
            ff02::2\tip6-allrouters

            """
        }
        for (ip, names) in entries { hosts += "\(ip)\t\(names)\n" }
        for entry in c.hostConfig.ExtraHosts ?? [] {
            let sep: Character = entry.contains("=") ? "=" : ":"
            guard let i = entry.firstIndex(of: sep) else { throw BerthError.invalid("invalid extra host: \(entry)") }
            let name = entry[..<i]
            var ip = String(entry[entry.index(after: i)...])
            if ip == "host-gateway" {
                // Docker's host-gateway: the default bridge's address on the host.
                guard let gw = networks.list().first(where: { $0.builtin && $0.driver == "bridge" })?.subnets.first?.gateway else {
                    throw BerthError.invalid("unable to derive the IP value for host-gateway: the default bridge is disabled")
                }
                ip = gw
            }
            guard !name.isEmpty, !ip.isEmpty else { throw BerthError.invalid("invalid extra host: \(entry)") }
            hosts += "\(ip)\t\(name)\n"
        }
        return hosts
    }

    /// The container's own files: directories for the overlay, hostname, hosts, resolv.conf.
    func makeFiles(_ c: Container) throws {
        let dir = directory(c.id)
        try FileSystem.makeDirectories(dir, mode: 0o710)
        for sub in ["diff", "work", "rootfs"] { try FileSystem.makeDirectories("\(dir)/\(sub)", mode: 0o755) }
        let hostname = ContainerSpecBuilder.hostname(c)
        try FileSystem.writeAtomically("\(dir)/hostname", Array((hostname + "\n").utf8), durable: false)
        let hosts = try hostsFile(c, entries: [])
        try FileSystem.writeAtomically("\(dir)/hosts", Array(hosts.utf8), durable: false)
        try FileSystem.writeAtomically("\(dir)/resolv.conf", Array(ResolvConf.make(for: c.hostConfig).utf8), durable: false)
        save(c)
    }

    /// Removes the container's directory (unmounting its rootfs first).
    func removeFiles(_ id: String) throws {
        try? Mounts.unmount(rootfsPath(id), detach: true)
        unstageVMMounts(id)
        try? FileSystem.removeTree(StateStore(root: runtimeRoot).directory(id))
        try FileSystem.removeTree(directory(id))
    }
}

/// A cpuset list (`0-3,5`).
enum CPUSet {
    static func parse(_ s: String) -> Set<Int>? {
        var out = Set<Int>()
        for part in s.berthTrimmed().split(separator: ",") {
            let r = part.split(separator: "-", omittingEmptySubsequences: false)
            if r.count == 1, let n = Int(r[0]), n >= 0 { out.insert(n) }
            else if r.count == 2, let a = Int(r[0]), let b = Int(r[1]), a >= 0, a <= b, b < 4096 { out.formUnion(a...b) }
            else { return nil }
        }
        return out.isEmpty ? nil : out
    }
}

extension String {
    func berthTrimmed() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\n" || f == "\t" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\n" || l == "\t" || l == "\r" { s.removeLast() }
        return String(s)
    }
}
