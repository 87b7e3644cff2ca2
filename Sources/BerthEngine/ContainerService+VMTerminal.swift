#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthNetwork
import BerthOCI
import BerthSystem
import BerthVM

/// `--isolation vm`: the terminal (`-t`, resize through the control port), the container's
/// /etc files in the guest, `stats` from the host's view of QEMU, and the input ports after a
/// berthd restart. See docs/vm.md.
extension VMIsolation {
    /// The QEMU socket of a VM container's stdin port.
    static func stdinSocket(backendRoot: String, name: String) -> String { backendRoot + "/" + name + "/stdin.sock" }
    /// The QEMU socket of a VM container's control port (`-t`).
    static func controlSocket(backendRoot: String, name: String) -> String { backendRoot + "/" + name + "/control.sock" }
}

extension ContainerService {
    /// `-t`: the guest allocates a pty; its first size is `HostConfig.ConsoleSize` (rows,
    /// columns), as for a namespace container.
    func applyTerminal(_ c: Container, to spec: inout GuestRunSpec) {
        spec.tty = c.tty
        if c.tty, let size = c.hostConfig.ConsoleSize, size.count == 2, size[0] > 0, size[1] > 0,
           let rows = UInt16(exactly: size[0]), let cols = UInt16(exactly: size[1]) {
            spec.consoleRows = rows
            spec.consoleColumns = cols
        }
    }

    /// The container's hosts, hostname and resolv.conf as the engine wrote them in its
    /// directory (`makeFiles`, `prepareNetwork`), for the guest's /etc.
    func etcFiles(_ id: String) -> [String: String] {
        var files: [String: String] = [:]
        for name in GuestRunSpec.etcFileNames.sorted() {
            if let text = try? FileSystem.readString(directory(id) + "/" + name) { files[name] = text }
        }
        return files
    }

    /// Connects berthd to the VM's input ports once the agent has opened them: stdin (`-i`)
    /// and control (`-t`). The caller has seen the agent's console line (or the guest has
    /// been up for long: a re-adoption).
    func connectInputPorts(_ id: String, name: String, pump: VMOutputPump, stdin: Bool, tty: Bool, stdinOnce: Bool) {
        let root = vmIsolation.backendRoot
        if stdin {
            if let fd = try? UnixSocket.connect(VMIsolation.stdinSocket(backendRoot: root, name: name)) {
                pump.setStdin(fd, once: stdinOnce)
            } else {
                logger.error("cannot connect to the stdin of a vm container", metadata: ["id": "\(id)"])
            }
        }
        if tty {
            if let fd = try? UnixSocket.connect(VMIsolation.controlSocket(backendRoot: root, name: name)) {
                pump.setControl(fd)
            } else {
                logger.error("cannot connect to the control port of a vm container", metadata: ["id": "\(id)"])
            }
        }
    }

    /// After a berthd restart: the input ports of a re-adopted VM container. The old
    /// connections died with the old berthd. A `StdinOnce` stdin whose first attach has ended
    /// (the pump's `stdin-closed` marker: a restart ends that attach too) stays closed, as
    /// Docker keeps it; any other `-i` stdin is connected again (with `-t` the agent reads the
    /// port again as soon as the host is back; without, a command that read stdin while
    /// berthd was down has seen end-of-file).
    func reconnectInputPorts(_ c: Container, pump: VMOutputPump) {
        let name = VMIsolation.vmName(c.id)
        let stdin = c.config.OpenStdin ?? false
        let once = c.config.StdinOnce ?? false
        let closed = FileSystem.exists(pump.stdinClosedPath)
        connectInputPorts(c.id, name: name, pump: pump, stdin: stdin && !closed, tty: c.tty, stdinOnce: once)
        if stdin && closed { pump.markStdinClosed() }
    }

    /// `POST /containers/{id}/resize` of a VM container with `-t`.
    func resizeVM(_ id: String, rows: UInt16, columns: UInt16) throws {
        guard let pump = vmIsolation.state.withLock({ $0.pumps[id] }) else {
            throw BerthError.conflict("Container \(id) is not running")
        }
        guard pump.resize(rows: rows, columns: columns) else {
            throw BerthError.conflict("cannot resize container \(id): its vm's control port is closed")
        }
    }

    /// `stats` of a VM container, from the host's view of its QEMU: CPU = QEMU's user +
    /// system time, memory = QEMU's resident set with the VM's memory size as the limit,
    /// networks = the counters of its taps (named as the guest's interfaces). No cgroup, so
    /// no memory.stat, pids or block I/O.
    func statsVM(_ c: Container) throws -> ContainerStatsSample {
        var s = ContainerStatsSample()
        let pid = c.state.pid
        guard pid > 0 else { return s }
        let usage = try VMProcessUsage.read(pid: Int32(pid))
        s.read = WallClock.now().rfc3339Nano
        s.cpu.user = usage.userNanoseconds
        s.cpu.system = usage.systemNanoseconds
        s.cpu.total = usage.userNanoseconds + usage.systemNanoseconds
        (s.systemCPU, s.onlineCPUs) = Self.hostCPU()
        s.memoryUsage = usage.residentBytes
        s.memoryLimit = UInt64(Self.vmMemoryMiB(c.hostConfig)) << 20
        var names: [String: String] = [:]
        for (i, (_, e)) in orderedEndpoints(c).enumerated() where !e.hostVeth.isEmpty {
            names[e.hostVeth] = e.interface.isEmpty ? "eth\(i)" : e.interface
        }
        for (tap, counters) in Links.counters(ofNetworkNamespaceOf: Int32(pid), names: Set(names.keys)) {
            if let n = names[tap] { s.networks[n] = counters }
        }
        return s
    }

    /// The VM's memory: `-m`, else 256 MiB.
    static func vmMemoryMiB(_ h: HostConfig) -> Int {
        let memory = h.Memory ?? 0
        return memory > 0 ? Int(memory >> 20) : 256
    }
}
