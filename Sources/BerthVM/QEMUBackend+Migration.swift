#if canImport(Glibc)
import Glibc
#endif
import BerthCore
import BerthSystem

/// Live migration between two QEMUBackends (two berthds), with QEMU's own migration stream.
///
/// 1. Destination: `prepareIncoming(config)` creates the VM (same config) and starts a QEMU
///    with `-incoming defer`, listening with `migrate-incoming` on a unix socket in the VM's
///    state directory; it returns that URI (`unix:/…/migrate.sock`).
/// 2. Source: `migrate(name, to: uri)` runs QMP `migrate`, polls `query-migrate` until
///    `completed` (or fails with QEMU's `error-desc`, after `migrate_cancel` on timeout), then
///    quits its QEMU: the VM there is `stopped(.migrated)`. The destination's vCPUs start by
///    themselves where the source's stopped, and its console carries on.
///
/// Disks are shared, not copied: both sides must see the same disk paths (one host, or shared
/// storage); QEMU hands the image locks over at the switch. Copying disks during migration
/// (NBD + drive-mirror) and the berthd-to-berthd transport are not implemented yet.
extension QEMUBackend {
    /// The destination side: a VM waiting for the migration stream. Returns the URI to give the
    /// source's `migrate`.
    public func prepareIncoming(_ config: VMConfig) async throws -> String {
        try await create(config, incoming: true)
        let vm = try lookup(config.name)
        let uri = "unix:" + vm.directory + "/migrate.sock"
        do {
            try await launch(config.name, incoming: uri)
        } catch {
            try? await delete(config.name)
            throw error
        }
        return uri
    }

    /// Moves a running (or paused) VM to the QEMU waiting at `uri`; returns once the
    /// destination has the VM and the local QEMU has exited.
    @discardableResult
    public func migrate(_ name: String, to uri: String, timeout: Double = 600) async throws -> VMExit {
        let p = try running(name)
        let vm = try lookup(name)
        let what = "vm \(name): migrate to \(uri)"
        try await p.qmp.execute("migrate", ["uri": .string(uri)])
        let deadline = monotonicSeconds() + timeout
        while true {
            let info = try await p.qmp.execute("query-migrate")
            switch info["status"]?.stringValue ?? "" {
            case "completed":
                vm.requested = .migrated
                _ = try? await p.qmp.execute("quit")
                _ = await p.exited.wait(timeout: 10)
                if p.exited.current == nil {
                    p.pidfd.use { _ = try? ProcessControl.signal(pidfd: $0, SIGKILL) }
                    _ = await p.exited.wait(timeout: nil)
                }
                return try await finishMigrated(vm)
            case "failed", "cancelled":
                let desc = info["error-desc"]?.stringValue ?? "migration \(info["status"]?.stringValue ?? "failed")"
                throw BerthError(.system, "\(what): \(desc)")
            default:
                if monotonicSeconds() > deadline {
                    _ = try? await p.qmp.execute("migrate_cancel")
                    throw BerthError(.system, "\(what): not done after \(Int(timeout)) s, cancelled")
                }
                try await Task.sleep(nanoseconds: 50_000_000)
            }
        }
    }

    private func finishMigrated(_ vm: VM) async throws -> VMExit {
        _ = try await state(vm.config.name)
        return vm.lastExit ?? VMExit(reason: .migrated, processExitCode: 0)
    }
}
