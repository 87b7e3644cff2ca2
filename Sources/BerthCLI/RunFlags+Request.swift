import BerthAPI
import BerthCore
import BerthOCI

/// What the flag conversion may read: the environment (`-e NAME`), files (`--env-file`,
/// `--label-file`, seccomp profiles) and the working directory (`-v ./dir:/x`). Tests pass
/// fakes.
struct RunContext {
    var lookupEnv: (String) -> String?
    var readFile: (String) throws -> String
    var cwd: String

    static func live() -> RunContext {
        RunContext(lookupEnv: EnvFile.environment, readFile: EnvFile.readFile, cwd: EnvFile.currentDirectory())
    }
}

/// A bad flag value, worded as docker words it; `run`/`create` print it as
/// `berth: <message>.\nSee 'berth run --help'.` and exit 125.
struct FlagError: Error, Equatable, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }

    /// `invalid argument "12x" for "-m, --memory" flag: invalid suffix: 'x'`.
    static func invalid(_ value: String, _ flag: String, _ error: any Error) -> FlagError {
        FlagError("invalid argument \"\(value)\" for \"\(flag)\" flag: \(error)")
    }
}

/// Parses one flag value, wrapping a failure as docker's `invalid argument` error.
func parseFlag<T>(_ value: String, _ flag: String, _ parse: (String) throws -> T) throws(FlagError) -> T {
    do { return try parse(value) } catch { throw FlagError.invalid(value, flag, error) }
}

extension RunFlags {
    func parsed<T>(_ value: String, _ flag: String, _ parse: (String) throws -> T) throws(FlagError) -> T {
        try parseFlag(value, flag, parse)
    }

    /// The `POST /containers/create` body for `image` running `command` (docker's
    /// `parse()` in cli/command/container/opts.go).
    func request(image: String, command: [String], context: RunContext) throws(FlagError) -> ContainerCreateRequest {
        var config = ContainerConfig()
        var host = HostConfig()
        config.Image = image
        if !command.isEmpty { config.Cmd = command }
        if let entrypoint { config.Entrypoint = [entrypoint] }

        // Streams: -a picks them; without -a, stdout and stderr; -i adds stdin.
        var attachStdin = false, attachStdout = false, attachStderr = false
        for a in attach {
            switch a.lowercased() {
            case "stdin": attachStdin = true
            case "stdout": attachStdout = true
            case "stderr": attachStderr = true
            default: throw FlagError.invalid(a, "-a, --attach", Units.ParseError("valid streams are STDIN, STDOUT and STDERR"))
            }
        }
        if interactive { attachStdin = true }
        if attach.isEmpty { attachStdout = true; attachStderr = true }
        config.AttachStdin = attachStdin
        config.AttachStdout = attachStdout
        config.AttachStderr = attachStderr
        config.OpenStdin = interactive
        // Docker closes the container's stdin when the (one) attached client's stdin ends.
        config.StdinOnce = interactive && attachStdin
        config.Tty = tty

        config.Hostname = hostname
        config.Domainname = domainname
        config.User = user
        config.WorkingDir = workdir
        config.MacAddress = macAddress
        config.StopSignal = stopSignal
        config.StopTimeout = stopTimeout

        // Environment: files first, then -e (later entries win in the daemon).
        var environment: [String] = []
        for file in envFile {
            let text = try parsed(file, "--env-file") { try context.readFile($0) }
            environment += try parsed(file, "--env-file") { try EnvFile.parse(text, file: $0, lookup: context.lookupEnv) }
        }
        for e in env { environment.append(try parsed(e, "-e, --env") { try EnvFile.validate($0, lookup: context.lookupEnv) }) }
        if !environment.isEmpty { config.Env = environment }

        // Labels: files, then -l; `k` alone is an empty value.
        var labelLines: [String] = []
        for file in labelFile {
            let text = try parsed(file, "--label-file") { try context.readFile($0) }
            labelLines += try parsed(file, "--label-file") { try EnvFile.parse(text, file: $0, lookup: { _ in nil }) }
        }
        labelLines += label
        if !labelLines.isEmpty {
            var labels: [String: String] = [:]
            for l in labelLines {
                let (k, v) = MountSpec.keyValue(l)
                labels[k] = v
            }
            config.Labels = labels
        }

        // Filesystem.
        var binds: [String] = []
        var volumes: [String: JSONValue] = [:]
        for v in volume {
            switch try parsed(v, "-v, --volume", { try MountSpec.volume($0, cwd: context.cwd) }) {
            case .anonymous(let path): volumes[path] = .object([:])
            case .bind(let spec): binds.append(spec)
            }
        }
        if !binds.isEmpty { host.Binds = binds }
        if !volumes.isEmpty { config.Volumes = volumes }
        if !mount.isEmpty { host.Mounts = try mount.map { m throws(FlagError) in try parsed(m, "--mount") { try MountSpec.mount($0, cwd: context.cwd) } } }
        if !tmpfs.isEmpty {
            var t: [String: String] = [:]
            for spec in tmpfs {
                let (path, options) = try parsed(spec, "--tmpfs", MountSpec.tmpfs)
                t[path] = options
            }
            host.Tmpfs = t
        }
        if !volumesFrom.isEmpty { host.VolumesFrom = volumesFrom }
        host.VolumeDriver = volumeDriver
        if readOnly { host.ReadonlyRootfs = true }
        if !storageOpt.isEmpty { host.StorageOpt = try keyValueMap(storageOpt, "--storage-opt", requireValue: true) }

        // Network.
        host.NetworkMode = network
        if !addHost.isEmpty { host.ExtraHosts = try addHost.map { h throws(FlagError) in try parsed(h, "--add-host", Self.extraHost) } }
        if !dns.isEmpty {
            host.Dns = try dns.map { d throws(FlagError) in
                try parsed(d, "--dns") { d in
                    guard PortSpec.isIP(d) else { throw Units.ParseError("ip address is not correctly formatted: \(d)") }
                    return d
                }
            }
        }
        if !dnsSearch.isEmpty { host.DnsSearch = dnsSearch }
        if !dnsOption.isEmpty { host.DnsOptions = dnsOption }
        var exposed: [String: JSONValue] = [:]
        var bindings: [String: [PortBinding]?] = [:]
        for p in publish { PortSpec.apply(try parsed(p, "-p, --publish", PortSpec.publish), exposed: &exposed, bindings: &bindings) }
        for e in expose {
            for port in try parsed(e, "--expose", PortSpec.expose) { exposed[port] = .object([:]) }
        }
        if !exposed.isEmpty { config.ExposedPorts = exposed }
        if !bindings.isEmpty { host.PortBindings = bindings }
        if publishAll { host.PublishAllPorts = true }
        if !link.isEmpty { host.Links = link }

        // Security.
        if privileged { host.Privileged = true }
        let (add, drop) = Self.effectiveCapabilities(add: capAdd, drop: capDrop)
        if !add.isEmpty { host.CapAdd = add }
        if !drop.isEmpty { host.CapDrop = drop }
        var security = try securityOptions(context: context)
        if let i = security.firstIndex(of: "systempaths=unconfined") {
            security.remove(at: i)
            host.MaskedPaths = []
            host.ReadonlyPaths = []
        }
        if !security.isEmpty { host.SecurityOpt = security }
        if !groupAdd.isEmpty { host.GroupAdd = groupAdd }
        if !device.isEmpty { host.Devices = try device.map { d throws(FlagError) in try parsed(d, "--device", MountSpec.device) } }
        if !deviceCgroupRule.isEmpty { host.DeviceCgroupRules = deviceCgroupRule }
        if !sysctl.isEmpty { host.Sysctls = try keyValueMap(sysctl, "--sysctl", requireValue: true) }

        // Namespaces, runtime, process.
        host.PidMode = pid
        host.IpcMode = ipc
        host.UTSMode = uts
        host.UsernsMode = userns
        host.CgroupnsMode = cgroupns
        host.CgroupParent = cgroupParent
        host.Isolation = isolation
        host.Runtime = runtime
        if !annotation.isEmpty { host.Annotations = try keyValueMap(annotation, "--annotation", requireValue: false) }
        if initProcess { host.Init = true }
        if rm { host.AutoRemove = true }
        host.ContainerIDFile = cidfile
        let policy = try restartPolicy()
        if rm, let name = policy.Name, name != "no", !name.isEmpty {
            throw FlagError("conflicting options: cannot specify both --restart and --rm")
        }
        host.RestartPolicy = policy

        // Resources.
        if let memory { host.Memory = try parsed(memory, "-m, --memory", Units.ramInBytes) }
        if let memorySwap { host.MemorySwap = try parsed(memorySwap, "--memory-swap", Units.swapBytes) }
        if let memoryReservation { host.MemoryReservation = try parsed(memoryReservation, "--memory-reservation", Units.ramInBytes) }
        if let kernelMemory { _ = try parsed(kernelMemory, "--kernel-memory", Units.ramInBytes) }
        if let memorySwappiness {
            guard memorySwappiness == -1 || (0...100).contains(memorySwappiness) else {
                throw FlagError("invalid value: \(memorySwappiness). Valid memory swappiness range is 0-100")
            }
            host.MemorySwappiness = memorySwappiness
        }
        if let shmSize { host.ShmSize = try parsed(shmSize, "--shm-size", Units.ramInBytes) }
        if let cpus { host.NanoCpus = try parsed(cpus, "--cpus", Units.nanoCPUs) }
        host.CpuShares = cpuShares
        host.CpuQuota = cpuQuota
        host.CpuPeriod = cpuPeriod
        host.CpuRealtimePeriod = cpuRtPeriod
        host.CpuRealtimeRuntime = cpuRtRuntime
        host.CpusetCpus = cpusetCpus
        host.CpusetMems = cpusetMems
        host.BlkioWeight = blkioWeight
        host.PidsLimit = pidsLimit
        if !ulimit.isEmpty {
            host.Ulimits = try ulimit.map { u throws(FlagError) in
                let l = try parsed(u, "--ulimit", Units.ulimit)
                return HostConfig.Ulimit(name: l.name, soft: l.soft, hard: l.hard)
            }
        }
        if oomKillDisable { host.OomKillDisable = true }
        if let oomScoreAdj {
            guard (-1000...1000).contains(oomScoreAdj) else {
                throw FlagError("invalid value \(oomScoreAdj), range for oom score adj is [-1000, 1000]")
            }
            host.OomScoreAdj = oomScoreAdj
        }

        // Logging and health.
        if logDriver != nil || !logOpt.isEmpty {
            let opts = try keyValueMap(logOpt, "--log-opt", requireValue: true)
            if logDriver == "none" && !opts.isEmpty { throw FlagError("invalid logging opts for driver none") }
            host.LogConfig = HostConfig.LogConfig(type: logDriver ?? "", config: opts.isEmpty ? nil : opts)
        }
        config.Healthcheck = try healthConfig()

        return ContainerCreateRequest(config: config, hostConfig: host)
    }
}
