import BerthCore
import BerthSystem

/// A snapshot of a VM: disk state of every qcow2 disk, plus memory and device state when
/// taken from a running or paused VM.
public struct VMSnapshot: Sendable, Equatable {
    /// Its name.
    public var tag: String
    /// Bytes of saved memory and device state (0 for a disk-only snapshot).
    public var vmStateSize: UInt64
    /// When it was taken (seconds since the epoch).
    public var date: Int64
}

/// Live snapshots with QEMU's internal qcow2 snapshots (`savevm`/`loadvm`/`delvm`): the
/// memory and device state goes into the first qcow2 disk, every writable disk gets a disk
/// snapshot of the same tag. So every writable disk must be qcow2; raw and read-only disks
/// are left as they are.
///
/// The guest is stopped while the snapshot is written (a few hundred ms for a 256 MiB guest
/// under TCG) and continues afterwards if it was running. `restoreSnapshot` rolls disks,
/// memory and devices back; the guest continues from the instant of the snapshot.
extension QEMUBackend {
    /// Takes snapshot `tag` of a running or paused VM. A tag that exists is `.conflict`.
    public func snapshot(_ name: String, tag: String) async throws {
        try QEMUBackend.checkTag(tag)
        let qmp = try qmp(name)
        if try await snapshots(name).contains(where: { $0.tag == tag }) {
            throw BerthError.conflict("vm \(name): snapshot \(tag) exists already")
        }
        try await humanMonitor(qmp, "savevm \(tag)", what: "vm \(name): snapshot \(tag)")
    }

    /// Rolls a running or paused VM back to snapshot `tag` (disks, memory, devices).
    public func restoreSnapshot(_ name: String, tag: String) async throws {
        try QEMUBackend.checkTag(tag)
        let qmp = try qmp(name)
        guard try await snapshots(name).contains(where: { $0.tag == tag }) else {
            throw BerthError.notFound("vm \(name): no such snapshot: \(tag)")
        }
        try await humanMonitor(qmp, "loadvm \(tag)", what: "vm \(name): restore snapshot \(tag)")
    }

    /// The snapshots of the VM's first qcow2 disk (where memory state lives), oldest first.
    /// Works whether the VM runs or not.
    public func snapshots(_ name: String) async throws -> [VMSnapshot] {
        let config = try config(name)
        guard let disk = config.disks.first(where: { $0.format == "qcow2" && !$0.readOnly }) else { return [] }
        let disks = options.disks
        let info = try await BlockingWork.run { try disks.snapshotList(disk.path) }
        return info
    }

    /// Deletes snapshot `tag` from every disk.
    public func deleteSnapshot(_ name: String, tag: String) async throws {
        try QEMUBackend.checkTag(tag)
        guard try await snapshots(name).contains(where: { $0.tag == tag }) else {
            throw BerthError.notFound("vm \(name): no such snapshot: \(tag)")
        }
        if let qmp = try? qmp(name) {
            try await humanMonitor(qmp, "delvm \(tag)", what: "vm \(name): delete snapshot \(tag)")
            return
        }
        let disks = options.disks
        for d in try config(name).disks where d.format == "qcow2" && !d.readOnly {
            try await BlockingWork.run {
                try Subprocess.check(disks.qemuImg, ["snapshot", "-d", tag, d.path], tool: "qemu-utils",
                                     what: "vm \(name): delete snapshot \(tag) of \(d.path)")
            }
        }
    }

    /// Snapshot tags name things on QEMU's human monitor line: keep them to one word.
    static func checkTag(_ tag: String) throws {
        guard VMConfig.isValidName(tag) else {
            throw BerthError.invalid("invalid snapshot name \"\(tag)\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at most 64 characters")
        }
    }

    /// Runs an HMP command through QMP; HMP reports errors as text, which becomes an error.
    func humanMonitor(_ qmp: QMPClient, _ line: String, what: String) async throws {
        let out = try await qmp.execute("human-monitor-command", ["command-line": .string(line)])
        let text = (out.stringValue ?? "").trimmingSpaces
        if text.isEmpty { return }
        let lines = text.split(whereSeparator: { $0.isNewline }).map { $0.trimmingSpaces }
        if let e = lines.first(where: { $0.hasPrefix("Error") }) {
            let detail = e.hasPrefix("Error: ") ? String(e.dropFirst(7)) : e
            let code: BerthError.Code = ["does not support snapshots", "can store vmstate", "No block device"].contains(where: { detail.contains($0) }) ? .unsupported : .system
            throw BerthError(code, "\(what): \(detail)")
        }
    }
}

extension DiskImage {
    /// The internal snapshots of a qcow2 image (`qemu-img info`, sharing the image with a
    /// QEMU that has it open).
    public func snapshotList(_ path: String) throws -> [VMSnapshot] {
        let r = try Subprocess.run(qemuImg, ["info", "--output=json", "-U", "-f", "qcow2", path], tool: "qemu-utils")
        guard r.status == .exited(0) else { throw BerthError(.corrupt, "disk \(path): \(r.lastLine)") }
        let json = try JSON.parse(r.output)
        return (json["snapshots"]?.arrayValue ?? []).map { s in
            VMSnapshot(tag: s["name"]?.stringValue ?? "",
                       vmStateSize: s["vm-state-size"]?.uint64Value ?? 0,
                       date: s["date-sec"]?.int64Value ?? 0)
        }
    }
}
