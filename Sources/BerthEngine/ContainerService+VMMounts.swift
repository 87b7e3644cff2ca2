#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthRuntime
import BerthSystem
import BerthVM

/// Volumes, binds and tmpfs of `--isolation vm` containers (docs/vm.md).
///
/// Host side: every bind source and volume directory (`-v`, `--mount`, `--volumes-from`,
/// anonymous volumes, resolved at create exactly as for a container) is bind-mounted at
/// `containers/<id>/vm/share/<n>` (a file onto a file), read-only ones remounted read-only,
/// and one `virtiofsd` serves that directory to the VM (tag `berth`); its pid and start time
/// are kept in `vm/virtiofsd.json`, so cleanup still finds it after a berthd restart. Guest
/// side: `GuestRunSpec.mounts`, made by the agent (`GuestAgent.setUpMounts`). tmpfs mounts
/// need nothing on the host. Everything is undone when the VM ends, when the start fails and
/// before the container's directory is removed.
extension ContainerService {
    func vmShareDirectory(_ id: String) -> String { vmDirectory(id) + "/share" }
    func vmShareRecord(_ id: String) -> String { vmDirectory(id) + "/virtiofsd.json" }

    /// With the rootfs mounted at `rootfs`: fills empty volumes from the image and mounts
    /// device-backed ones (as for a container), stages the shared sources and returns the
    /// guest's mounts, parents first. Undoes what it did when it throws.
    func prepareVMMounts(_ c: Container, rootfs: String) throws -> [GuestMount] {
        guard !c.mounts.isEmpty else { return [] }
        try mountVolumes(c, rootfs: rootfs)
        do {
            // Leftovers of a start interrupted by a berthd crash.
            stopVMShareDaemon(c.id)
            unstageVMMounts(c.id)
            let staging = vmShareDirectory(c.id)
            // Parents first, stable for equal depths (as Docker sorts them).
            let ordered = c.mounts.enumerated().sorted { a, b in
                let da = a.element.destination.split(separator: "/").count, db = b.element.destination.split(separator: "/").count
                return da != db ? da < db : a.offset < b.offset
            }.map(\.element)
            var out: [GuestMount] = []
            var index = 0
            for m in ordered {
                switch m.type {
                case "bind", "volume":
                    if m.type == "bind" && !FileSystem.exists(m.source) {
                        guard m.createSource else {
                            throw BerthError.invalid("invalid mount config for type \"bind\": bind source path does not exist: \(m.source)")
                        }
                        try FileSystem.makeDirectories(m.source)
                    }
                    var st = stat()
                    guard stat(m.source, &st) == 0 else { throw BerthError.sys("stat \(m.type) source \(m.source)") }
                    let isDirectory = (st.st_mode & S_IFMT) == S_IFDIR
                    if index == 0 { try FileSystem.makeDirectories(staging, mode: 0o700) }
                    let entry = staging + "/\(index)"
                    if isDirectory {
                        try FileSystem.makeDirectories(entry, mode: 0o700)
                    } else {
                        let fd = try FD.open(entry, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode: 0o600)
                        FD.close(fd)
                    }
                    let recursive = m.type == "volume" || m.options.contains("rbind")
                    try Mounts.mount(source: m.source, target: entry, type: nil, flags: recursive ? [.bind, .recursive] : [.bind])
                    // The guest's writes go through virtiofsd on the host: read-only here too.
                    if m.readOnly { try Mounts.remountBind(entry, adding: .readOnly) }
                    out.append(GuestMount(type: "share", source: "\(index)", target: m.destination, readOnly: m.readOnly,
                                          isFile: !isDirectory))
                    index += 1
                case "tmpfs":
                    // Docker's defaults for a tmpfs, then the container's options.
                    let opts = MountOptions(["nosuid", "nodev", "noexec"] + m.options)
                    out.append(GuestMount(type: "tmpfs", target: m.destination, readOnly: m.readOnly || opts.flags.contains(.readOnly),
                                          flags: opts.flags.subtracting(.propagation).rawValue, data: opts.data.joined(separator: ",")))
                default:
                    throw BerthError.unsupported("\(m.type) mounts are not supported for container \(c.name): it runs in its own vm")
                }
            }
            return out
        } catch {
            unstageVMMounts(c.id)
            releaseVolumes(c)
            throw error
        }
    }

    /// Starts the container's virtiofsd on `socket` (its record in the vm directory).
    func startVMShare(_ id: String, socket: String) async throws {
        let source = vmShareDirectory(id), log = vmDirectory(id) + "/virtiofsd.log", record = vmShareRecord(id)
        try await BlockingWork.run {
            let daemon = try VirtioFSDaemon.start(source: source, socket: socket, log: log)
            do {
                var enc = BerthJSONEncoder()
                enc.options = []
                try FileSystem.writeAtomically(record, try enc.encode(daemon), mode: 0o600, durable: false)
            } catch {
                daemon.stop()
                throw error
            }
        }
    }

    /// Ends the container's virtiofsd (if any), unmounts and removes the staging directory and
    /// releases device-backed volumes. Idempotent. Blocking (virtiofsd is given up to 3 s):
    /// off the cooperative pool (`BlockingWork.run`).
    func releaseVMMounts(_ c: Container) {
        stopVMShareDaemon(c.id)
        unstageVMMounts(c.id)
        if c.mounts.contains(where: { $0.type == "volume" }) { releaseVolumes(c) }
    }

    /// Stops the virtiofsd recorded for the container, if any, and forgets it. Blocking.
    func stopVMShareDaemon(_ id: String) {
        let record = vmShareRecord(id)
        if let bytes = try? FileSystem.read(record), let daemon = try? BerthJSONDecoder().decode(VirtioFSDaemon.self, from: bytes) {
            daemon.stop()
        }
        try? FileSystem.removeTree(record)
    }

    /// Unmounts and removes every staging entry: never a recursive delete (an entry still
    /// mounted is the host's data), only unmount + rmdir/unlink.
    func unstageVMMounts(_ id: String) {
        let staging = vmShareDirectory(id)
        guard let entries = try? FileSystem.list(staging) else { return }
        for e in entries {
            let path = staging + "/" + e
            while (try? Mounts.unmount(path, detach: true)) != nil {}
            if rmdir(path) != 0 && errno == ENOTDIR { _ = unlink(path) }
        }
        _ = rmdir(staging)
    }
}
