#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthOCI
import BerthSystem

/// What a volume mount asks for when its volume does not exist yet (`--mount
/// volume-opt=…,volume-label=…`); named volumes that exist are used as they are.
struct VolumeRequest: Sendable {
    var driver: String?
    var options: [String: String] = [:]
    var labels: [String: String] = [:]
}

extension ContainerService {
    // MARK: create

    /// The volume side of create, in Docker's order: mounts from `--volumes-from` (their mode
    /// overridden by `:ro`/`:rw`) where the request has none at that destination, then an
    /// anonymous volume for every `Config.Volumes` path (the image's VOLUMEs and `-v /path`)
    /// still unmounted. Anonymous volumes get their random names here; every volume mount's
    /// source is set to the volume's mountpoint.
    func resolveVolumeMounts(_ mounts: inout [ContainerMount], requests: inout [String: VolumeRequest],
                             volumesFrom: [String], configVolumes: [String]) throws {
        for spec in volumesFrom {
            let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count <= 2, !parts[0].isEmpty else { throw BerthError.invalid("invalid volumes-from spec: \(spec)") }
            // `:ro` makes every mount read-only; `:rw` (the default) keeps each one's mode.
            var readOnly = false
            if parts.count == 2 {
                switch parts[1] {
                case "ro": readOnly = true
                case "rw", "": break
                default: throw BerthError.invalid("invalid mode for volumes-from: \(parts[1])")
                }
            }
            // A 404 here would make the docker CLI try to pull the image: a bad request instead.
            let other: Container
            do { other = try get(parts[0]) } catch let e as BerthError where e.code == .notFound {
                throw BerthError.invalid(e.message)
            }
            for var m in other.mounts where m.type != "tmpfs" && !mounts.contains(where: { $0.destination == m.destination }) {
                if readOnly { m.readOnly = true }
                m.copyData = false
                m.createSource = false
                mounts.append(m)
            }
        }
        for path in configVolumes {
            guard path.hasPrefix("/") else {
                throw BerthError.invalid("invalid volume specification: '\(path)': invalid mount config for type \"volume\": invalid mount path: '\(path)' mount path must be absolute")
            }
            let dest = Self.clean(path)
            if dest == "/" { throw BerthError.invalid("invalid specification: destination can't be '/'") }
            if mounts.contains(where: { $0.destination == dest }) { continue }
            mounts.append(ContainerMount(type: "volume", source: "", destination: dest, readOnly: false, propagation: "",
                                         mode: "", options: ["rbind"], createSource: false, name: "", copyData: true))
        }
        for i in mounts.indices where mounts[i].type == "volume" {
            if (mounts[i].name ?? "").isEmpty {
                let name = VolumeService.randomName()
                requests[name] = requests.removeValue(forKey: mounts[i].destination) ?? VolumeRequest()
                requests[name]!.labels[VolumeService.anonymousLabel] = ""
                mounts[i].name = name
            } else if let r = requests.removeValue(forKey: mounts[i].destination) {
                requests[mounts[i].name!] = r
            }
            mounts[i].source = volumes.mountpoint(mounts[i].name!)
        }
    }

    /// Creates the volumes a new container names that do not exist yet. Returns the names it
    /// created, for undoing a failed create.
    func createVolumes(_ mounts: [ContainerMount], requests: [String: VolumeRequest]) throws -> [String] {
        var created: [String] = []
        do {
            for m in mounts where m.type == "volume" {
                guard let name = m.name, !volumes.exists(name) else { continue }
                let r = requests[name] ?? VolumeRequest()
                try volumes.create(name: name, driver: r.driver, options: r.options, labels: r.labels)
                created.append(name)
            }
        } catch {
            for name in created { try? volumes.remove(name, force: true) }
            throw error
        }
        return created
    }

    /// The containers whose mounts name a volume.
    public func volumeUsers(_ name: String) -> [String] {
        table.withLock { t in
            t.entries.values.filter { e in e.container.mounts.contains { $0.type == "volume" && $0.name == name } }
                .map(\.container.id).sorted()
        }
    }

    // MARK: start and stop

    /// At start, once the rootfs is mounted: mounts device-backed volumes and, for a volume
    /// that is empty, copies in what the image has at the mount point (unless `nocopy`), with
    /// owners and modes, as Docker does. The image side is opened inside the rootfs
    /// (`RESOLVE_IN_ROOT`), so a symlink in the image cannot point the copy at host files.
    func mountVolumes(_ c: Container, rootfs: String) throws {
        let vols = c.mounts.filter { $0.type == "volume" }
        guard !vols.isEmpty else { return }
        do {
            for m in vols {
                guard let name = m.name else { continue }
                let path = try volumes.mount(name, for: c.id)
                guard m.copyData ?? true else { continue }
                let target = try FileAt.openDirectory(path)
                defer { close(target) }
                guard try FileAt.isEmptyDirectory(fd: target) else { continue }
                let root = try FileAt.openDirectory(rootfs, flags: FileAt.pathOnly)
                defer { close(root) }
                guard let source = try FileAt.openDirectoryInRoot(root, String(m.destination.dropFirst()), flags: O_RDONLY) else {
                    continue
                }
                defer { close(source) }
                do { try FileAt.copyContents(from: source, to: target) } catch let e as BerthError {
                    throw BerthError(e.code, "copy image content at \(m.destination) into volume \(name): \(e.message)", errno: e.errno)
                }
            }
        } catch {
            releaseVolumes(c)
            throw error
        }
    }

    /// The container stopped (or failed to start): device-backed volumes it was the last user
    /// of are unmounted.
    func releaseVolumes(_ c: Container) {
        for m in c.mounts where m.type == "volume" {
            if let name = m.name { volumes.unmount(name, for: c.id) }
        }
    }

    /// `rm -v` (and AutoRemove): the container's anonymous volumes go with it unless another
    /// container still uses them; named volumes stay.
    func removeAnonymousVolumes(_ c: Container) {
        for m in c.mounts where m.type == "volume" {
            guard let name = m.name, let v = try? volumes.get(name), v.anonymous else { continue }
            do { try volumes.remove(name) } catch {
                logger.debug("anonymous volume kept", metadata: ["volume": "\(name)", "error": "\(error)"])
            }
        }
    }
}
