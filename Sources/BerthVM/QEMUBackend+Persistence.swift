#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthSystem

/// Which QEMU runs a VM: its pid and the process's start time (field 22 of /proc/PID/stat),
/// so that a recycled pid is never taken for the VM's QEMU.
struct ProcessRecord: Codable, Sendable {
    var pid: Int32
    var startTime: UInt64
}

/// VMs outlive the process owning the backend (berthd): each state directory keeps
/// `config.json` (written at create), `process.json` while QEMU runs and `exit.json` once it
/// has stopped, all written atomically. A new backend on the same root loads the configs and
/// exits in `init`; `restore()` re-adopts the QEMUs still running: it checks the pid's start
/// time, opens a pidfd, reconnects QMP (QEMU serves one QMP client at a time, so the previous
/// owner must be gone or have called `releaseAll()`) and watches the pidfd for the exit.
/// An adopted QEMU is not our child: its exit code is unknown (recorded as 0 after a guest
/// or ACPI shutdown, 255 otherwise).
extension QEMUBackend {
    static func configPath(_ dir: String) -> String { dir + "/config.json" }
    static func processPath(_ dir: String) -> String { dir + "/process.json" }
    static func exitPath(_ dir: String) -> String { dir + "/exit.json" }

    static func write<T: Encodable>(_ value: T, to path: String) throws {
        try FileSystem.writeAtomically(path, try BerthJSONEncoder(options: [.prettyPrinted]).encode(value), mode: 0o600)
    }

    static func read<T: Decodable>(_ type: T.Type, from path: String) -> T? {
        guard let bytes = try? FileSystem.read(path) else { return nil }
        return try? BerthJSONDecoder().decode(type, from: bytes)
    }

    /// The start time of a process in clock ticks since boot, nil when it does not exist.
    static func processStartTime(_ pid: Int32) -> UInt64? {
        guard let fields = try? VMProcessUsage.statFields(pid: pid) else { return nil }
        // Field 22 (starttime) is index 19.
        return fields.count > 19 ? UInt64(fields[19]) : nil
    }

    /// Loads every VM record under `root` (used by `init`).
    static func loadRecords(root: String) -> [String: VM] {
        var out: [String: VM] = [:]
        for name in (try? FileSystem.list(root)) ?? [] where VMConfig.isValidName(name) {
            let dir = root + "/" + name
            guard let config = read(VMConfig.self, from: configPath(dir)), config.name == name else { continue }
            let vm = VM(config: config, directory: dir)
            vm.lastExit = read(VMExit.self, from: exitPath(dir))
            out[name] = vm
        }
        return out
    }

    /// Re-adopts the QEMUs of VMs recorded as running; a VM whose QEMU is gone is recorded
    /// as stopped (crashed). Returns the names adopted.
    @discardableResult
    public func restore() async -> [String] {
        var adopted: [String] = []
        for name in names {
            guard let vm = try? lookup(name), vm.process == nil,
                  let record = QEMUBackend.read(ProcessRecord.self, from: QEMUBackend.processPath(vm.directory)) else { continue }
            do {
                try await adopt(vm, record)
                adopted.append(name)
            } catch {
                recordExit(vm, VMExit(reason: .crashed, processExitCode: 255))
            }
        }
        return adopted
    }

    private func adopt(_ vm: VM, _ record: ProcessRecord) async throws {
        guard QEMUBackend.processStartTime(record.pid) == record.startTime else {
            throw BerthError.notFound("vm \(vm.config.name): its qemu (pid \(record.pid)) is gone")
        }
        let pidfd = try ProcessControl.openPidFD(record.pid)
        let path = vm.qmpSocket, what = "vm \(vm.config.name)"
        let qmp: QMPClient
        do {
            qmp = try await BlockingWork.run { try QMPClient.connect(path: path, what: what, timeout: 5) }
        } catch {
            FD.close(pidfd)
            throw error
        }
        let exited = Latch<ExitStatus>()
        let pid = record.pid
        // The watcher polls a descriptor of its own: the VM's pidfd is closed when the exit is
        // recorded or the backend lets go (`releaseAll`), and the number may be reused.
        let watched: Int32
        do { watched = try FD.duplicate(pidfd) } catch {
            FD.close(pidfd)
            await qmp.close()
            throw error
        }
        Task.detached {
            _ = try? await BlockingWork.run {
                var pfd = pollfd(fd: watched, events: Int16(POLLIN), revents: 0)
                while poll(&pfd, 1, -1) < 0 && errno == EINTR {}
                FD.close(watched)
            }
            // Our child after all (same process)? Then its status is known.
            if let status = (try? ProcessControl.wait(pid, noHang: true)) ?? nil {
                exited.set(status.status)
                return
            }
            let shutdown = qmp.receivedEvents.contains { $0.name == "SHUTDOWN" }
            exited.set(.exited(shutdown ? 0 : 255))
        }
        vm.process = Process(pid: pid, pidfd: SharedDescriptor(pidfd), qmp: qmp, exited: exited)
    }

    /// Stops managing every VM without stopping any: closes the QMP connections and forgets
    /// the processes, leaving `process.json` for the next backend's `restore()`.
    public func releaseAll() async {
        for name in names {
            guard let vm = try? lookup(name), let p = vm.process else { continue }
            vm.process = nil
            p.pidfd.close()
            await p.qmp.close()
        }
        vms = [:]
    }

    /// Persists a start: process.json written, exit.json removed.
    func recordStart(_ vm: VM, pid: Int32) {
        try? FileSystem.removeTree(QEMUBackend.exitPath(vm.directory))
        if let t = QEMUBackend.processStartTime(pid) {
            try? QEMUBackend.write(ProcessRecord(pid: pid, startTime: t), to: QEMUBackend.processPath(vm.directory))
        }
    }

    /// Persists an exit: exit.json written, process.json removed.
    func recordExit(_ vm: VM, _ exit: VMExit) {
        vm.lastExit = exit
        try? QEMUBackend.write(exit, to: QEMUBackend.exitPath(vm.directory))
        try? FileSystem.removeTree(QEMUBackend.processPath(vm.directory))
    }
}
