#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthSystem

/// `VMBackend` on QEMU: one `qemu-system-x86_64` process per VM, driven over QMP.
///
/// Each VM has a state directory `<root>/<name>/` (mode 0700) holding `qmp.sock`,
/// `console.sock` (the serial port; one attached client at a time), `console.log`
/// (everything the guest printed, attached or not) and `qemu.log` (QEMU's own stdout and
/// stderr, quoted in errors when it fails to start). Disks, kernel and initrd are the
/// caller's and are never removed.
///
/// QEMU is spawned with posix_spawn (clean signal mask, new session, no inherited
/// descriptors) and reaped by a thread of its own; it is signalled through a pidfd only, so a
/// recycled pid is never hit. It is always stopped with SIGKILL when it must be killed (a
/// SIGTERM can be lost when the spawner's signal mask leaks into children).
///
/// VMs are persisted in their state directories and re-adopted by a later backend on the same
/// root (`restore()`, see QEMUBackend+Persistence.swift). Migration and hot-plug are not
/// implemented yet.
public actor QEMUBackend: VMBackend {
    /// Where the backend keeps state and which programs it runs.
    public struct Options: Sendable {
        /// The directory holding one state directory per VM.
        public var root: String
        /// The emulator.
        public var qemu: String
        /// Firmware for `-bios`: Debian's qboot when present (it boots `-kernel` directly and
        /// prints nothing), else QEMU's default SeaBIOS.
        public var firmware: String?
        /// Forced accelerator; nil picks KVM only where it can run guests (`HostInfo`).
        public var accelerator: Accelerator?
        /// Disk tools.
        public var disks: DiskImage
        /// How long QEMU may take to open its QMP socket before `start` gives up, in seconds.
        public var startTimeout: Double

        public init(root: String, qemu: String = "/usr/bin/qemu-system-x86_64",
                    firmware: String? = FileSystem.exists("/usr/share/qemu/qboot.rom") ? "/usr/share/qemu/qboot.rom" : nil,
                    accelerator: Accelerator? = nil, disks: DiskImage = DiskImage(), startTimeout: Double = 60) {
            self.root = root
            self.qemu = qemu
            self.firmware = firmware
            self.accelerator = accelerator
            self.disks = disks
            self.startTimeout = startTimeout
        }
    }

    /// A running QEMU.
    struct Process {
        let pid: pid_t
        /// Closed once the exit is recorded (by whichever path notices it first).
        let pidfd: SharedDescriptor
        let qmp: QMPClient
        let exited: Latch<ExitStatus>
    }

    /// One VM's record (actor-isolated).
    final class VM {
        let config: VMConfig
        let directory: String
        var process: Process?
        var lastExit: VMExit?
        /// Set by stop/kill before they act, to tell the exit's reason.
        var requested: VMExit.Reason?
        init(config: VMConfig, directory: String) {
            self.config = config
            self.directory = directory
        }
        var qmpSocket: String { directory + "/qmp.sock" }
        var consoleSocket: String { directory + "/console.sock" }
        var consoleLog: String { directory + "/console.log" }
        var qemuLog: String { directory + "/qemu.log" }
    }

    public let options: Options
    /// The accelerator VMs run with.
    public let accelerator: Accelerator
    var vms: [String: VM] = [:]

    /// A backend keeping VM state under `options.root` (created if missing).
    public init(options: Options) throws {
        self.options = options
        self.accelerator = options.accelerator ?? HostInfo.preferredAccelerator()
        try FileSystem.makeDirectories(options.root, mode: 0o700)
        self.vms = QEMUBackend.loadRecords(root: options.root)
    }

    var commandLine: QEMUCommandLine {
        QEMUCommandLine(binary: options.qemu, accelerator: accelerator, firmware: options.firmware)
    }

    // MARK: create / delete

    public func create(_ config: VMConfig) async throws {
        try await create(config, incoming: false)
    }

    /// `incoming`: the disks may be in use by the source of a migration.
    func create(_ config: VMConfig, incoming: Bool) async throws {
        try config.validate(hostCPUs: HostInfo.onlineCPUs(), hostMemoryMiB: HostInfo.memoryMiB())
        guard vms[config.name] == nil else { throw BerthError.conflict("vm \(config.name) exists already") }
        let directory = options.root + "/" + config.name
        // sun_path holds 107 bytes and a NUL.
        guard (directory + "/console.sock").utf8.count <= 107 else {
            throw BerthError.invalid("vm \(config.name): state directory \(directory) is too long for its unix sockets (at most 94 bytes)")
        }
        guard !FileSystem.exists(directory) else { throw BerthError.conflict("vm \(config.name): \(directory) exists already") }
        try await preflight(config, incoming: incoming)
        do {
            try sysCall("create \(directory)") { mkdir(directory, 0o700) }
        } catch let e as BerthError where e.errno == EEXIST {
            throw BerthError.conflict("vm \(config.name): \(directory) exists already")
        }
        do {
            try QEMUBackend.write(config, to: QEMUBackend.configPath(directory))
        } catch {
            try? FileSystem.removeTree(directory)
            throw error
        }
        vms[config.name] = VM(config: config, directory: directory)
    }

    public func delete(_ name: String) async throws {
        let vm = try lookup(name)
        refresh(vm)
        guard vm.process == nil else { throw BerthError.conflict("vm \(name) is running: stop it first") }
        try FileSystem.removeTree(vm.directory)
        vms[name] = nil
    }

    /// The names of the VMs this backend knows.
    public var names: [String] { vms.keys.sorted() }

    /// The VM's config.
    public func config(_ name: String) throws -> VMConfig { try lookup(name).config }

    /// The VM's state directory.
    public func directory(_ name: String) throws -> String { try lookup(name).directory }

    // MARK: start

    public func start(_ name: String) async throws {
        try await launch(name, incoming: nil)
    }

    /// Spawns QEMU and connects; then `cont` (a boot) or, with `incoming` (a migration URI),
    /// `migrate-incoming`.
    func launch(_ name: String, incoming: String?) async throws {
        let vm = try lookup(name)
        refresh(vm)
        guard vm.process == nil else { throw BerthError.conflict("vm \(name) is already running") }
        try await preflight(vm.config, incoming: incoming != nil)
        for s in [vm.qmpSocket, vm.consoleSocket] { try? FileSystem.removeTree(s) }

        let logFD = try FD.open(vm.qemuLog, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, mode: 0o600)
        let argv = commandLine.arguments(for: vm.config, paths: .init(qmpSocket: vm.qmpSocket, consoleSocket: vm.consoleSocket, consoleLog: vm.consoleLog),
                                         incoming: incoming != nil)
        let pid: pid_t
        do {
            pid = try ProcessControl.spawn(path: options.qemu, args: argv, env: Subprocess.environment, stdio: [1: logFD, 2: logFD])
        } catch {
            FD.close(logFD)
            throw (error as? BerthError)?.context("start vm \(name)") ?? error
        }
        FD.close(logFD)
        // The pidfd first, while QEMU is surely unreaped (its pid cannot have been reused).
        let pidfd: SharedDescriptor
        var pidfdError: (any Error)?
        do {
            pidfd = SharedDescriptor(try ProcessControl.openPidFD(pid))
        } catch {
            pidfd = SharedDescriptor(-1)
            pidfdError = error
            _ = Glibc.kill(pid, SIGKILL)
        }
        let exited = Latch<ExitStatus>()
        Task.detached {
            let status = try? await BlockingWork.run { try ProcessControl.wait(pid)?.status }
            exited.set((status ?? nil) ?? .exited(255))
        }
        if let pidfdError {
            _ = await exited.wait(timeout: nil)
            throw startFailure(vm, exited: true, detail: "\(pidfdError)")
        }

        var qmp: QMPClient?
        do {
            let client = try await connectQMP(vm, exited: exited)
            qmp = client
            vm.process = Process(pid: pid, pidfd: pidfd, qmp: client, exited: exited)
            vm.requested = nil
            vm.lastExit = nil
            try await attachTaps(vm.config)
            if let incoming {
                try await client.execute("migrate-incoming", ["uri": .string(incoming)])
            } else {
                try await client.execute("cont")
            }
            recordStart(vm, pid: pid)
        } catch {
            // QEMU gone by itself (give a dying one a moment to be reaped): its log says why.
            // Still running: our step failed. (While this awaits, `refresh` may notice the
            // exit and close the pidfd: it is closed once, through the shared descriptor.)
            let qemuDied = await exited.wait(timeout: 0.5) != nil
            pidfd.use { _ = try? ProcessControl.signal(pidfd: $0, SIGKILL) }
            _ = await exited.wait(timeout: nil)
            if let current = vm.process, current.pidfd === pidfd { vm.process = nil }
            pidfd.close()
            if let qmp { await qmp.close() }
            for s in [vm.qmpSocket, vm.consoleSocket] { try? FileSystem.removeTree(s) }
            if !qemuDied, let e = error as? BerthError { throw e.context("start vm \(name)") }
            throw startFailure(vm, exited: true, detail: "\(error)")
        }
    }

    /// Waits for QEMU's QMP socket and connects; fails early when QEMU exits.
    private func connectQMP(_ vm: VM, exited: Latch<ExitStatus>) async throws -> QMPClient {
        let deadline = monotonicSeconds() + options.startTimeout
        let path = vm.qmpSocket, what = "vm \(vm.config.name)"
        var lastError: Error = BerthError(.system, "\(what): qemu did not open its qmp socket within \(Int(options.startTimeout)) s")
        // Checked after every sleep, the last one included: on a loaded host one 10 ms sleep of
        // the cooperative pool can outlast the whole deadline.
        while true {
            if exited.current != nil { throw BerthError(.system, "\(what): qemu exited") }
            if FileSystem.exists(path) {
                do {
                    return try await BlockingWork.run { try QMPClient.connect(path: path, what: what, timeout: 10) }
                } catch {
                    lastError = error
                }
            }
            if monotonicSeconds() >= deadline { throw lastError }
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
    }

    /// Puts each tap QEMU opened on its bridge and brings it up (before the vCPUs run).
    private func attachTaps(_ config: VMConfig) async throws {
        let ports = config.networks.compactMap { n in n.bridge.map { (tap: n.tap, bridge: $0) } }
        if ports.isEmpty { return }
        let name = config.name
        try await BlockingWork.run {
            let nl = try Netlink.open()
            defer { nl.close() }
            for p in ports {
                do {
                    try nl.setMaster(link: p.tap, master: p.bridge)
                    try nl.setUp(link: p.tap)
                } catch let e as BerthError {
                    throw e.context("vm \(name): attach tap \(p.tap) to bridge \(p.bridge)")
                }
            }
        }
    }

    /// The error for a failed start: QEMU's own last words when it wrote any.
    private func startFailure(_ vm: VM, exited: Bool, detail: String) -> BerthError {
        let log = ((try? FileSystem.readString(vm.qemuLog)) ?? "").split(separator: "\n")
            .map { $0.trimmingSpaces }.filter { !$0.isEmpty }
        if let last = log.last {
            // "qemu-system-x86_64: -drive …: Could not open …" → keep what follows the binary name.
            let text = last.hasPrefix(options.qemu + ": ") ? String(last.dropFirst(options.qemu.count + 2)) : last
            return BerthError(.system, "start vm \(vm.config.name): qemu failed: \(text)")
        }
        return BerthError(.system, "start vm \(vm.config.name): \(detail)")
    }

    /// File checks before anything is spawned: qemu, kernel, initrd, disks, taps.
    private func preflight(_ config: VMConfig, incoming: Bool) async throws {
        let name = config.name
        guard access(options.qemu, X_OK) == 0 else {
            throw BerthError.notFound("vm \(name): \(options.qemu) not found (install qemu-system-x86)")
        }
        for (what, path) in [("kernel", config.kernel), ("initrd", config.initrd)] {
            guard let path else { continue }
            var st = stat()
            guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
                throw BerthError.notFound("vm \(name): \(what) not found: \(path)")
            }
            guard access(path, R_OK) == 0 else { throw BerthError.permissionDenied("vm \(name): cannot read \(what) \(path)") }
        }
        for n in config.networks {
            if let b = n.bridge, !FileSystem.exists("/sys/class/net/\(b)/bridge") {
                throw BerthError.notFound("vm \(name): no such bridge: \(b)")
            }
        }
        let disks = options.disks
        for d in config.disks {
            do {
                try await BlockingWork.run { try disks.check(d.path, format: d.format, shared: incoming) }
            } catch let e as BerthError {
                throw e.context("vm \(name)")
            }
        }
    }

    // MARK: pause / resume

    public func pause(_ name: String) async throws {
        let p = try running(name)
        try await p.qmp.execute("stop")
    }

    public func resume(_ name: String) async throws {
        let p = try running(name)
        try await p.qmp.execute("cont")
    }

    // MARK: stop / kill / wait

    @discardableResult
    public func stop(_ name: String, timeout: Double) async throws -> VMExit {
        let vm = try lookup(name)
        refresh(vm)
        guard let p = vm.process else {
            if let e = vm.lastExit { return e }
            throw BerthError.conflict("vm \(name) is not running")
        }
        vm.requested = .powerdown
        // A paused guest cannot see the button: let it run first.
        if let status = try? await p.qmp.execute("query-status"), status["running"]?.boolValue == false {
            _ = try? await p.qmp.execute("cont")
        }
        // A guest still booting misses a press (nobody listens to the button yet): press it
        // again every `repressInterval` seconds until the timeout.
        let deadline = monotonicSeconds() + timeout
        var exited = false
        while !exited {
            _ = try? await p.qmp.execute("system_powerdown")
            let left = deadline - monotonicSeconds()
            if left <= 0 { break }
            exited = await p.exited.wait(timeout: min(left, QEMUBackend.repressInterval)) != nil
        }
        if !exited {
            vm.requested = .killed
            signalKill(vm, p)
            _ = await p.exited.wait(timeout: nil)
        }
        return await finish(vm)
    }

    /// Seconds between power-button presses while `stop` waits.
    public static let repressInterval = 3.0

    /// SIGKILL through the pidfd, only while `p` is still the VM's live process (its pidfd
    /// is closed once the exit is recorded, and the number may be reused).
    private func signalKill(_ vm: VM, _ p: Process) {
        guard let current = vm.process, current.pid == p.pid, current.pidfd === p.pidfd else { return }
        p.pidfd.use { _ = try? ProcessControl.signal(pidfd: $0, SIGKILL) }
    }

    @discardableResult
    public func kill(_ name: String) async throws -> VMExit {
        let vm = try lookup(name)
        refresh(vm)
        guard let p = vm.process else {
            if let e = vm.lastExit { return e }
            throw BerthError.conflict("vm \(name) is not running")
        }
        vm.requested = .killed
        signalKill(vm, p)
        _ = await p.exited.wait(timeout: nil)
        return await finish(vm)
    }

    public func wait(_ name: String, timeout: Double?) async throws -> VMExit? {
        let vm = try lookup(name)
        guard let p = vm.process else {
            if let e = vm.lastExit { return e }
            throw BerthError.conflict("vm \(name) is not running")
        }
        guard await p.exited.wait(timeout: timeout) != nil else { return nil }
        return await finish(vm)
    }

    /// Kills every running VM and waits for them (tests; a daemon shutting down for good).
    public func killAll() async {
        for name in vms.keys.sorted() {
            _ = try? await kill(name)
        }
    }

    // MARK: state / stats / console

    public func state(_ name: String) async throws -> VMState {
        let vm = try lookup(name)
        refresh(vm)
        guard let p = vm.process else {
            if let e = vm.lastExit { return .stopped(e) }
            return .created
        }
        do {
            let s = try await p.qmp.execute("query-status")
            return s["status"]?.stringValue == "running" ? .running : .paused
        } catch {
            // QEMU may have exited in between.
            if p.exited.current != nil { return .stopped(await finish(vm)) }
            throw error
        }
    }

    public func stats(_ name: String) async throws -> VMStats {
        let p = try running(name)
        let vm = try lookup(name)
        let usage: VMProcessUsage
        do { usage = try VMProcessUsage.read(pid: p.pid) } catch let e as BerthError {
            throw BerthError(e.code, "vm \(name): \(e.message)")
        }
        return VMStats(cpuTimeNanoseconds: usage.userNanoseconds + usage.systemNanoseconds,
                       residentBytes: usage.residentBytes,
                       memoryLimitBytes: UInt64(vm.config.memoryMiB) << 20,
                       pid: p.pid)
    }

    public func consoleOutput(_ name: String) async throws -> [UInt8] {
        let vm = try lookup(name)
        guard FileSystem.exists(vm.consoleLog) else { return [] }
        return try FileSystem.read(vm.consoleLog)
    }

    public func attachConsole(_ name: String) async throws -> Int32 {
        let vm = try lookup(name)
        _ = try running(name)
        return try UnixSocket.connect(vm.consoleSocket)
    }

    /// The QMP connection of a running VM, for commands the protocol does not cover yet.
    public func qmp(_ name: String) throws -> QMPClient { try running(name).qmp }

    // MARK: internals

    func lookup(_ name: String) throws -> VM {
        guard let vm = vms[name] else { throw BerthError.notFound("no such vm: \(name)") }
        return vm
    }

    func running(_ name: String) throws -> Process {
        let vm = try lookup(name)
        refresh(vm)
        guard let p = vm.process else { throw BerthError.conflict("vm \(name) is not running") }
        return p
    }

    /// Notices a QEMU that exited on its own since the last call.
    private func refresh(_ vm: VM) {
        guard let p = vm.process, let status = p.exited.current else { return }
        recordExit(vm, exitRecord(vm, p, status))
        vm.process = nil
        p.pidfd.close()
        for s in [vm.qmpSocket, vm.consoleSocket] { try? FileSystem.removeTree(s) }
        let qmp = p.qmp
        Task.detached { await qmp.close() }
    }

    /// Records the exit of a QEMU known to have exited (idempotent).
    private func finish(_ vm: VM) async -> VMExit {
        if let p = vm.process, p.exited.current != nil {
            refresh(vm)
        }
        return vm.lastExit ?? VMExit(reason: .crashed, processExitCode: 255)
    }

    private func exitRecord(_ vm: VM, _ p: Process, _ status: ExitStatus) -> VMExit {
        let guestShutdown = p.qmp.receivedEvents.contains { $0.name == "SHUTDOWN" && $0.data?["guest"]?.boolValue == true }
        let reason: VMExit.Reason
        switch vm.requested {
        case .killed?: reason = .killed
        case .migrated?: reason = .migrated
        case .powerdown?: reason = status == .exited(0) ? .powerdown : .killed
        default:
            if guestShutdown || status == .exited(0) { reason = .guestShutdown } else { reason = .crashed }
        }
        return VMExit(reason: reason, processExitCode: status.code)
    }
}
