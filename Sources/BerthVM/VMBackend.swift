/// A way of running VMs (QEMU over QMP today; Berth's own KVM monitor later).
///
/// Lifecycle of one VM, by name:
///
/// ```
/// create ──▶ created ──start──▶ running ◀──pause/resume──▶ paused
///                                  │                          │
///                         stop / kill / guest powers off      │ stop / kill
///                                  ▼                          ▼
///                               stopped ──start──▶ running (a fresh boot: same config, disks kept)
///                                  │
///                               delete (also from created)
/// ```
///
/// - `create` validates the config (names, vCPUs against the host, memory against the
///   minimum, kernel present, disks readable and not corrupt) and makes the VM's state
///   directory. It starts nothing. A failed `create` leaves nothing behind.
/// - `start` boots: spawns the VMM, connects its control channel and lets the vCPUs run.
///   A failed `start` kills what it spawned and returns the VM to its previous state.
/// - `pause`/`resume` stop and continue the vCPUs; memory stays allocated.
/// - `stop` asks the guest to power off (ACPI power button) and kills the VMM when the guest
///   has not done so within the timeout; `kill` kills it at once. Both return once the VMM
///   has exited. A guest powering off (or rebooting) by itself also ends in `stopped`.
/// - `delete` removes a VM that is not running, and its state directory (its disks belong to
///   the caller and are kept).
/// - Snapshots: taken and restored live (running or paused), listed and deleted in any state.
///
/// Every error is a `BerthError` naming the VM: `.notFound` for unknown names, `.conflict`
/// for a call in the wrong state, `.invalidArgument` for bad configs.
public protocol VMBackend: Sendable {
    /// Validates `config` and registers the VM in state `created`.
    func create(_ config: VMConfig) async throws
    /// Boots a created or stopped VM; returns when its vCPUs run.
    func start(_ name: String) async throws
    /// Stops the vCPUs of a running VM.
    func pause(_ name: String) async throws
    /// Continues a paused VM.
    func resume(_ name: String) async throws
    /// Powers the guest off by ACPI; kills the VMM after `timeout` seconds. Returns how it ended.
    @discardableResult
    func stop(_ name: String, timeout: Double) async throws -> VMExit
    /// Kills the VMM at once and waits for it to exit.
    @discardableResult
    func kill(_ name: String) async throws -> VMExit
    /// Waits until the VM stops by itself (or `timeout` seconds pass: nil).
    func wait(_ name: String, timeout: Double?) async throws -> VMExit?
    /// The VM's current state (asks the VMM when it runs).
    func state(_ name: String) async throws -> VMState
    /// CPU time and memory of a running or paused VM.
    func stats(_ name: String) async throws -> VMStats
    /// Everything the guest printed on its serial console so far (the console log).
    func consoleOutput(_ name: String) async throws -> [UInt8]
    /// A new connection to the VM's serial console (a connected stream socket the caller owns
    /// and closes): reads are guest output from now on, writes are guest input.
    func attachConsole(_ name: String) async throws -> Int32
    /// Removes a VM that is not running, and its state directory.
    func delete(_ name: String) async throws

    /// Takes a live snapshot (disks, memory, devices) of a running or paused VM.
    func snapshot(_ name: String, tag: String) async throws
    /// Rolls a running or paused VM back to a snapshot; the guest continues from it.
    func restoreSnapshot(_ name: String, tag: String) async throws
    /// The VM's snapshots, oldest first (running or not).
    func snapshots(_ name: String) async throws -> [VMSnapshot]
    /// Deletes a snapshot (running or not).
    func deleteSnapshot(_ name: String, tag: String) async throws
}
