#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthSystem
import BerthVM
import Synchronization

/// What `--isolation vm` containers share: the QEMU backend (state under the exec root, so
/// socket paths stay short; made on first use), the initramfs with the guest agent (built once
/// per berthd from the host's cloud kernel, busybox-static and `berth-vm-agent`), and each
/// running container's output pump and last VM exit.
final class VMIsolation: Sendable {
    /// The backend's root: `<exec root>/vm`.
    let backendRoot: String
    /// Where the shared initramfs is written: `<root>/vm`.
    let cacheDirectory: String
    /// The static guest agent: `berth-vm-agent` beside berth-init.
    let agentBinary: String

    struct State {
        var backend: QEMUBackend?
        var initramfs: String?
        var kernel: GuestKernel?
        var pumps: [String: VMOutputPump] = [:]
        var exits: [String: VMExit] = [:]
    }
    let state = Mutex(State())

    init(root: String, execRoot: String, initBinary: String) {
        backendRoot = execRoot + "/vm"
        cacheDirectory = root + "/vm"
        agentBinary = FileSystem.parentDirectory(of: initBinary) + "/berth-vm-agent"
    }

    /// The backend, made (and its VMs re-adopted) on first use.
    func backend() async throws -> QEMUBackend {
        if let b = state.withLock({ $0.backend }) { return b }
        let b = try QEMUBackend(options: .init(root: backendRoot))
        let (chosen, isNew) = state.withLock { s -> (QEMUBackend, Bool) in
            if let existing = s.backend { return (existing, false) }
            s.backend = b
            return (b, true)
        }
        if isNew { _ = await chosen.restore() }
        return chosen
    }

    /// The guest kernel and the initramfs carrying the agent (built on first use).
    func bootFiles() async throws -> (kernel: GuestKernel, initramfs: String) {
        if let k = state.withLock({ $0.kernel }), let i = state.withLock({ $0.initramfs }) { return (k, i) }
        guard FileSystem.exists(agentBinary) else {
            throw BerthError.notFound("isolation vm needs the guest agent at \(agentBinary) (build the berth-vm-agent product)")
        }
        let kernel = try GuestKernel.findCloudKernel()
        let path = cacheDirectory + "/initramfs-\(kernel.version).cpio"
        let agent = agentBinary, dir = cacheDirectory
        // Reused across berthd starts while it is newer than the agent it carries.
        if !(Self.modificationTime(path).map { $0 >= (Self.modificationTime(agent) ?? .max) } ?? false) {
            try await BlockingWork.run {
                try FileSystem.makeDirectories(dir, mode: 0o700)
                try Initramfs.write(to: path, kernel: kernel, agent: agent)
            }
        }
        state.withLock { $0.kernel = kernel; $0.initramfs = path }
        return (kernel, path)
    }

    static func modificationTime(_ path: String) -> Int? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Int(st.st_mtim.tv_sec)
    }

    /// Writes `base` followed by `appendix` to `path` (a container's initramfs: the shared
    /// one plus its spec), in 1 MiB chunks.
    static func writeInitrd(base: String, appendix: [UInt8], to path: String) throws {
        let src = try FD.open(base, O_RDONLY | O_CLOEXEC)
        defer { FD.close(src) }
        let dst = try FD.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode: 0o600)
        defer { FD.close(dst) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try FD.readSome(src, into: buffer, what: "read \(base)")
            if n == 0 { break }
            try FD.writeAll(dst, UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
        try FD.writeAll(dst, appendix)
    }

    /// The VM's name for a container.
    static func vmName(_ id: String) -> String { "c" + String(id.prefix(15)) }
}
