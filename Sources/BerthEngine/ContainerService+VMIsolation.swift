#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthOCI
import BerthSystem
import BerthVM

/// `--isolation vm` (Docker's `HostConfig.Isolation = "vm"`, or the runtime `berth-vm`): the
/// container runs in a VM of its own instead of namespaces. The branches into this file are
/// in `start` (→ `launchVM`), `signal` (→ `signalVM`: stop, kill and rm -f go through it),
/// `attach` (→ `attachVM`) and `load` (→ `restoreVMs`). See docs/vm.md.
extension ContainerService {
    /// Whether a container runs in a VM of its own.
    static func isVMIsolated(_ h: HostConfig) -> Bool {
        (h.Isolation ?? "").lowercased() == "vm" || h.Runtime == "berth-vm"
    }

    func vmDirectory(_ id: String) -> String { directory(id) + "/vm" }

    /// What a VM container cannot do yet (its processes are in the guest, not in a cgroup or
    /// namespaces of the host): a clear error instead of a confusing one.
    static func rejectVM(_ c: Container, _ operation: String) throws {
        guard isVMIsolated(c.hostConfig) else { return }
        throw BerthError.unsupported("\(operation) is not supported for container \(c.name): it runs in its own vm (--isolation vm)")
    }

    /// Start, step by step: mount the overlay and resolve the command, Env, WorkingDir and
    /// User in it; make the root disk from the merged tree on the first start (kept for later
    /// starts: it is the container's writable layer from then on) and unmount; write the
    /// initramfs (the shared one + `/berth/spec.json`); create and boot the VM; hand the early
    /// attaches their streams and start the output pump; watch for the VM's end.
    func launchVM(_ c: Container) async throws {
        let id = c.id
        let dir = vmDirectory(id)
        let rootfs = rootfsPath(id)
        var marks: [(String, WallClock)] = [("begin", WallClock.now())]
        let (kernel, initramfs) = try await vmIsolation.bootFiles()
        marks.append(("boot files", WallClock.now()))
        try FileSystem.makeDirectories(dir, mode: 0o700)
        let disk = dir + "/root.qcow2"
        try mountRootfs(c)
        // Volumes and binds: staged for virtiofsd while the rootfs is mounted; undone unless
        // the VM started (then when it ends: vmExited). On this failure path the brief block
        // (stopping a virtiofsd that has no client yet: milliseconds) is accepted.
        var launched = false
        defer { if !launched { releaseVMMounts(c) } }
        var spec: GuestRunSpec
        do {
            defer { try? Mounts.unmount(rootfs, detach: true) }
            let builder = ContainerSpecBuilder(container: c, rootfs: rootfs, directory: directory(id), defaultSeccomp: nil, tiniPath: nil)
            let hostname = ContainerSpecBuilder.hostname(c)
            let user = try UserLookup.resolve(c.config.User ?? "", groupAdd: c.hostConfig.GroupAdd ?? [], rootfs: rootfs)
            spec = GuestRunSpec(args: [c.path] + c.args, env: builder.environment(hostname: hostname),
                                cwd: (c.config.WorkingDir ?? "").isEmpty ? "/" : c.config.WorkingDir!,
                                uid: user.uid, gid: user.gid, additionalGids: user.additionalGids, hostname: hostname)
            spec.stdin = c.config.OpenStdin ?? false
            spec.mounts = try prepareVMMounts(c, rootfs: rootfs)
            applyTerminal(c, to: &spec)
            if !FileSystem.exists(disk) {
                let size = UInt64(1) << 30
                try await BlockingWork.run { try DiskImage().makeRootDisk(at: disk, from: rootfs, virtualSize: size) }
            }
        }
        marks.append(("root disk", WallClock.now()))
        // Networks: the addresses (and published ports) the IPAM gives a container; each
        // endpoint becomes a tap on the network's bridge, configured by the guest's init.
        if let mode = c.hostConfig.NetworkMode, mode.hasPrefix("container:") {
            throw BerthError.unsupported("network mode \(mode) is not supported for container \(c.name): it runs in its own vm")
        }
        let c = try prepareNetwork(c)
        var wired = false
        defer { if !wired { unwireNetwork(c.id) } }
        _ = update(id) { $0.container.endpoints = c.endpoints; $0.container.ports = c.ports }
        var interfaces: [VMNetworkInterface] = []
        var routed = false
        for (_, e) in orderedEndpoints(c) {
            let net = try networks.get(e.networkID)
            guard let bridge = net.bridge, !e.ipv4.isEmpty else { continue }
            interfaces.append(VMNetworkInterface(tap: e.hostVeth, mac: e.mac, bridge: bridge, address: "\(e.ipv4)/\(e.prefixLength)",
                                                 gateway: routed || net.internal ? nil : e.gateway))
            if !net.internal { routed = true }
        }
        let resolv = (try? FileSystem.readString(directory(id) + "/resolv.conf")) ?? ""
        let nameservers = resolv.split(separator: "\n").compactMap { line -> String? in
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            return f.count >= 2 && f[0] == "nameserver" && IPAddress(String(f[1])) != nil && !f[1].contains(":") ? String(f[1]) : nil
        }
        marks.append(("network", WallClock.now()))
        // The initramfs goes last: the /etc files it carries are final once the network is.
        spec.etcFiles = etcFiles(id)
        let initrd = dir + "/initrd.cpio"
        let appendix = try spec.initramfsAppendix()
        try await BlockingWork.run { try VMIsolation.writeInitrd(base: initramfs, appendix: appendix, to: initrd) }
        marks.append(("initrd", WallClock.now()))
        let nano = c.hostConfig.NanoCpus ?? 0
        let vcpus = nano > 0 ? Int((nano + 999_999_999) / 1_000_000_000) : 1
        let name = VMIsolation.vmName(id)
        var config = VMConfig(name: name, vcpus: vcpus, memoryMiB: Self.vmMemoryMiB(c.hostConfig),
                              kernel: kernel.image, initrd: initrd, disks: [VMDisk(path: disk)], networks: interfaces,
                              kernelArguments: [GuestRunSpec.agentWord])
        config.nameservers = nameservers
        let stdinSocket = VMIsolation.stdinSocket(backendRoot: vmIsolation.backendRoot, name: name)
        let shareSocket = vmIsolation.backendRoot + "/" + name + "/virtiofs.sock"
        if spec.mounts.contains(where: { $0.type == "share" }) {
            config.shares = [VMShare(tag: GuestRunSpec.shareTag, socket: shareSocket)]
        }
        if spec.stdin { config.inputPorts = [VMInputPort(name: GuestRunSpec.stdinPort, socket: stdinSocket)] }
        if spec.tty { config.inputPorts.append(VMInputPort(name: GuestRunSpec.controlPort, socket: VMIsolation.controlSocket(backendRoot: vmIsolation.backendRoot, name: name))) }
        config.outputPorts = [VMOutputPort(name: GuestRunSpec.stdoutPort, path: dir + "/stdout"),
                              VMOutputPort(name: GuestRunSpec.stderrPort, path: dir + "/stderr")]
        let backend = try await vmIsolation.backend()
        if (await backend.names).contains(name) { try? await backend.delete(name) }
        do {
            try await backend.create(config)
        } catch let e as BerthError {
            throw BerthError(e.code, "container \(c.name): \(e.message)")
        }
        marks.append(("create", WallClock.now()))
        let pump = VMOutputPump(stdoutPath: dir + "/stdout", stderrPath: dir + "/stderr", logPath: logPath(id),
                                offsetsPath: dir + "/offsets")
        // Attaches that came before start get every byte: they are registered before the pump runs.
        let pending = table.withLock { t -> [PendingAttach] in
            let p = t.entries[id]?.pendingAttaches ?? []
            t.entries[id]?.pendingAttaches = []
            return p
        }
        var channels: [(PendingAttach, Int32)] = []
        for p in pending {
            if let fd = try? pump.attach(stdout: p.stdout, stderr: p.stderr, stdin: p.stdin && spec.stdin) {
                channels.append((p, fd))
            } else {
                p.continuation.resume(returning: nil)
            }
        }
        do {
            // virtiofsd listens before QEMU starts (QEMU connects at startup).
            if !config.shares.isEmpty { try await startVMShare(id, socket: shareSocket) }
            try await backend.start(name)
        } catch {
            try? await backend.delete(name)
            for (p, fd) in channels { FD.close(fd); p.continuation.resume(returning: nil) }
            throw error
        }
        marks.append(("boot", WallClock.now()))
        wired = true
        launched = true
        if c.ports?.isEmpty == false {
            do { try networks.applyFirewall() } catch {
                logger.error("cannot publish the ports of a vm container", metadata: ["id": "\(id)", "error": "\(error)"])
            }
        }
        vmIsolation.state.withLock { $0.pumps[id] = pump; $0.exits[id] = nil }
        if spec.stdin || spec.tty {
            // Connect once the agent has opened the port (its console line): QEMU tells the
            // guest about a connection only when the guest's driver is ready.
            let once = c.config.StdinOnce ?? false
            let (stdin, tty) = (spec.stdin, spec.tty)
            Task { [self] in
                var rounds = 0
                while rounds < 3000 {
                    let console = (try? await backend.consoleOutput(name)) ?? []
                    if String(decoding: console, as: UTF8.self).contains(GuestRunSpec.stdinReadyMarker) { break }
                    if vmIsolation.state.withLock({ $0.pumps[id] == nil }) { return }
                    try? await Task.sleep(nanoseconds: 20_000_000)
                    rounds += 1
                }
                connectInputPorts(id, name: name, pump: pump, stdin: stdin, tty: tty, stdinOnce: once)
            }
        }
        try? pump.start(fresh: true)
        for (p, fd) in channels {
            do { p.continuation.resume(returning: try await MonitorConnection.adopt(fd: fd)) } catch { p.continuation.resume(throwing: error) }
        }
        watchVM(id, backend: backend)
        let pid = (try? await backend.stats(name).pid) ?? 0
        let (updated, exitPending) = markRunning(id, pid: pid, healthChecks: false)
        if let updated { publish(updated, "start") }
        if logger.logLevel <= .debug {
            marks.append(("attach+watch", WallClock.now()))
            logger.debug("start vm \(id.prefix(12)): \(Self.describe(marks))")
        }
        if exitPending { Task { await self.vmExited(id) } }
    }

    /// Waits (off the caller) for the VM to end, then records the container's exit.
    func watchVM(_ id: String, backend: QEMUBackend) {
        let name = VMIsolation.vmName(id)
        Task { [self] in
            let exit = (try? await backend.wait(name, timeout: nil)) ?? VMExit(reason: .crashed, processExitCode: 255)
            vmIsolation.state.withLock { $0.exits[id] = exit }
            await vmExited(id)
        }
    }

    /// Signals for a VM container: SIGKILL kills QEMU; any other signal presses the ACPI power
    /// button, which the guest turns into SIGTERM for the command (pressed again every 3 s
    /// while the container runs: a guest still booting misses a press).
    func signalVM(_ id: String, _ sig: Int32) throws {
        let running = table.withLock { $0.entries[id]?.container.state.isRunning ?? false }
        guard running, vmIsolation.state.withLock({ $0.pumps[id] != nil }) else {
            throw BerthError.conflict("Container \(id) is not running")
        }
        let name = VMIsolation.vmName(id)
        Task { [self] in
            guard let backend = try? await vmIsolation.backend() else { return }
            if sig == SIGKILL {
                _ = try? await backend.kill(name)
                return
            }
            // Only this run of the container: a restart (by policy) is a new boot.
            let startedAt = table.withLock { $0.entries[id]?.container.state.startedAt }
            while table.withLock({ t in t.entries[id].map { $0.container.state.isRunning && $0.container.state.startedAt == startedAt } ?? false }),
                  let qmp = try? await backend.qmp(name) {
                _ = try? await qmp.execute("system_powerdown")
                try? await Task.sleep(nanoseconds: UInt64(QEMUBackend.repressInterval * 1e9))
            }
        }
    }

    /// An attach to a running VM container: a stream of its output from now on.
    func attachVM(_ id: String, stdin: Bool, stdout: Bool, stderr: Bool) async throws -> MonitorConnection.Channel {
        guard let pump = vmIsolation.state.withLock({ $0.pumps[id] }) else {
            throw BerthError.conflict("Container \(id) is not running")
        }
        let openStdin = (try? get(id))?.config.OpenStdin ?? false
        return try await MonitorConnection.adopt(fd: try pump.attach(stdout: stdout, stderr: stderr, stdin: stdin && openStdin))
    }

    /// After a berthd restart: VM containers recorded as running are re-adopted when their
    /// QEMU still runs (the pump continues from its saved offsets), else recorded as exited.
    func restoreVMs(_ ids: [String]) {
        guard !ids.isEmpty else { return }
        Task { [self] in
            let backend: QEMUBackend
            do { backend = try await vmIsolation.backend() } catch {
                logger.error("cannot restore vm containers", metadata: ["error": "\(error)"])
                for id in ids { await vmExited(id) }
                return
            }
            for id in ids {
                let name = VMIsolation.vmName(id)
                let dir = vmDirectory(id)
                if case .running? = try? await backend.state(name) {
                    let pump = VMOutputPump(stdoutPath: dir + "/stdout", stderrPath: dir + "/stderr", logPath: logPath(id),
                                            offsetsPath: dir + "/offsets")
                    vmIsolation.state.withLock { $0.pumps[id] = pump }
                    try? pump.start(fresh: false)
                    if let c = try? get(id) { reconnectInputPorts(c, pump: pump) }
                    watchVM(id, backend: backend)
                } else if case .paused? = try? await backend.state(name) {
                    _ = try? await backend.kill(name)
                    await vmExited(id)
                } else {
                    await vmExited(id)
                }
            }
        }
    }

    /// The VM ended: drain the output, take the exit code the agent printed on the console
    /// (137 when QEMU was killed before it could, 255 when it vanished), delete the VM (its
    /// sockets and state directory; the disk stays with the container), update the state, wake
    /// waiters, publish `die`, remove an AutoRemove container.
    func vmExited(_ id: String) async {
        guard claimExit(id) else { return }
        let name = VMIsolation.vmName(id)
        let backend = try? await vmIsolation.backend()
        let console = (try? await backend?.consoleOutput(name)) ?? []
        let vmExit = vmIsolation.state.withLock { $0.exits[id] }
        var code = GuestInit.exitStatus(inConsole: console).map(Int.init)
        var error = ""
        if code == nil {
            if vmExit?.reason == .killed { code = 137 } else {
                code = 255
                error = "the vm ended without reporting the command's exit"
            }
        }
        if !console.isEmpty { try? FileSystem.writeAtomically(vmDirectory(id) + "/console.log", console, mode: 0o600, durable: false) }
        if let pump = vmIsolation.state.withLock({ $0.pumps.removeValue(forKey: id) }) {
            await pump.finish(exitCode: Int32(code ?? 255))
        }
        if let backend { try? await backend.delete(name) }
        if let c = try? get(id) { _ = try? await BlockingWork.run { self.releaseVMMounts(c) } }
        unwireNetwork(id)
        await recordExit(id, code: code ?? 255, error: error)
    }
}
