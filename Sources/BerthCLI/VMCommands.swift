import ArgumentParser
import BerthAPI
import BerthClient
import BerthCore
#if canImport(Glibc)
import Glibc
#endif

/// `berth vm …`: VMs managed by berthd (`/berth/vms`).
struct VMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vm", abstract: "Manage virtual machines.",
        subcommands: [
            VMCreateCommand.self, VMListCommand.self, VMInspectCommand.self, VMStartCommand.self, VMStopCommand.self,
            VMKillCommand.self, VMPauseCommand.self, VMResumeCommand.self, VMRemoveCommand.self, VMConsoleCommand.self,
            VMLogsCommand.self, VMStatsCommand.self, VMSnapshotCommand.self, VMRestoreCommand.self, VMExportCommand.self,
            VMImportCommand.self, VMMigrateCommand.self,
        ])
}

/// Runs `body` for each name, printing the name on success; errors at the end (exit 1).
func forEachVM(_ names: [String], _ body: (BerthClient, String) async throws -> Void) async throws {
    let client = try GlobalOptions.client()
    var errors: [String] = []
    for name in names {
        do {
            try await body(client, name)
            Output.out(name)
        } catch let e as BerthClientError {
            if case .cannotConnect = e { throw e }
            errors.append(e.description)
        }
    }
    if !errors.isEmpty { throw CLIError.message(errors.joined(separator: "\n")) }
}

/// `berth vm create [OPTIONS] --image IMAGE [NAME]`: prints the new VM's name.
struct VMCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a VM from an image's root filesystem.")

    @Option(name: .long, help: "The image whose root filesystem becomes the root disk.")
    var image: String

    @Option(name: .long, help: "Name of the VM.")
    var name: String?

    @Option(name: .long, help: "Number of virtual CPUs.")
    var cpus = 1

    @Option(name: [.short, .long], help: "Memory (e.g. 256m, 1g).")
    var memory = "256m"

    @Option(name: .long, help: "Virtual size of the root disk (thin: a ceiling, e.g. 10g).")
    var diskSize = "1g"

    @Option(name: .long, help: "Add a blank disk of this virtual size (repeatable).")
    var disk: [String] = []

    @Option(name: .long, help: "Connect the VM to a network (repeatable; default: the default bridge).")
    var network: [String] = []

    @Option(name: .long, help: "Guest hostname (default: the VM's name).")
    var hostname: String?

    @Argument(parsing: .captureForPassthrough, help: "Command the guest runs instead of the image's /sbin/init (after --).")
    var command: [String] = []

    func request() throws -> VMCreateRequest {
        // `--` separates the command from the options; passthrough parsing keeps it.
        let command = self.command.first == "--" ? Array(self.command.dropFirst()) : self.command
        let mem = try Units.ramInBytes(memory)
        guard mem > 0 else { throw CLIError.message("invalid memory: \(memory)") }
        return VMCreateRequest(Image: image, Cpus: cpus, MemoryMiB: Int(mem >> 20), DiskSize: try Units.ramInBytes(diskSize),
                               ExtraDisks: disk.isEmpty ? nil : try disk.map { try Units.ramInBytes($0) },
                               Cmd: command.isEmpty ? nil : command, Hostname: hostname,
                               Networks: network.isEmpty ? nil : network)
    }

    func run() async throws {
        let r = try await GlobalOptions.client().createVM(name: name, try request())
        Output.out(r.Name)
    }
}

/// Rows for `vm ls` templates.
enum VMFormat {
    static let headers = [
        "ID": "VM ID", "Name": "NAME", "Image": "IMAGE", "State": "STATE", "Cpus": "CPUS", "Memory": "MEMORY",
        "DiskSize": "DISK", "Networks": "NETWORKS", "IPAddress": "IP ADDRESS", "Created": "CREATED",
    ]
    static let defaultTable = "table {{.ID}}\t{{.Name}}\t{{.Image}}\t{{.State}}\t{{.Cpus}}\t{{.Memory}}\t{{.DiskSize}}\t{{.IPAddress}}"

    static func row(_ v: VMInspectResponse) -> JSONValue {
        .object([
            "ID": .string(String(v.Id.prefix(12))),
            "Name": .string(v.Name),
            "Image": .string(v.Image.isEmpty ? "-" : v.Image),
            "State": .string(v.State),
            "Cpus": .string(String(v.Cpus)),
            "Memory": .string(HumanSize.bytes(Int64(v.MemoryMiB) << 20)),
            "DiskSize": .string(HumanSize.bytes(v.DiskSize)),
            "Networks": .string(v.Networks.map(\.NetworkName).joined(separator: ",")),
            "IPAddress": .string(v.Networks.map(\.IPAddress).joined(separator: ",")),
            "Created": .string(v.Created),
        ])
    }

    static func renderList(_ vms: [VMInspectResponse], format: String?, quiet: Bool) throws -> String {
        let rows = vms.map(row)
        if Template.isJSON(format) { return rows.map { Format.compactJSON($0, sorted: true) + "\n" }.joined() }
        var f = format ?? ""
        if f.isEmpty || f == "table" { f = quiet ? "{{.Name}}" : defaultTable }
        return try Template(f).renderAll(rows, headers: headers)
    }
}

/// `berth vm ls`.
struct VMListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List VMs.", aliases: ["list", "ps"])

    @Flag(name: [.short, .long], help: "Only display VM names.")
    var quiet = false

    @Option(name: .long, help: "Format output using a custom template ('table', 'json' or a Go template).")
    var format: String?

    func run() async throws {
        let list = try await GlobalOptions.client().listVMs()
        Output.out(try VMFormat.renderList(list, format: format, quiet: quiet), terminator: "")
    }
}

/// `berth vm inspect`.
struct VMInspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Display detailed information on one or more VMs.")

    @Option(name: [.short, .long], help: "Format output using a custom template ('json' or a Go template).")
    var format: String?

    @Argument(help: "VMs to inspect.")
    var vms: [String] = []

    func validate() throws {
        if vms.isEmpty { throw ValidationError("\"berth vm inspect\" requires at least 1 argument.") }
    }

    func run() async throws {
        let client = try GlobalOptions.client()
        var found: [JSONValue] = []
        var errors: [String] = []
        for name in vms {
            do { found.append(try await client.inspectVMValue(name)) } catch let e as BerthClientError {
                if case .cannotConnect = e { throw e }
                errors.append(e.description)
            }
        }
        try printInspected(found, format: format)
        if !errors.isEmpty { throw CLIError.message(errors.joined(separator: "\n")) }
    }
}

struct VMStartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "Boot one or more VMs.")
    @Argument(help: "VMs.") var vms: [String] = []
    func validate() throws { if vms.isEmpty { throw ValidationError("\"berth vm start\" requires at least 1 argument.") } }
    func run() async throws { try await forEachVM(vms) { try await $0.startVM($1) } }
}

struct VMStopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stop", abstract: "Power off one or more VMs (ACPI, then kill after the timeout).")
    @Option(name: [.short, .customLong("time"), .customLong("timeout")], help: "Seconds to wait before killing the VM.")
    var time: Double?
    @Argument(help: "VMs.") var vms: [String] = []
    func validate() throws { if vms.isEmpty { throw ValidationError("\"berth vm stop\" requires at least 1 argument.") } }
    func run() async throws { let t = time; try await forEachVM(vms) { try await $0.stopVM($1, timeout: t) } }
}

struct VMKillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kill", abstract: "Kill one or more running VMs.")
    @Argument(help: "VMs.") var vms: [String] = []
    func validate() throws { if vms.isEmpty { throw ValidationError("\"berth vm kill\" requires at least 1 argument.") } }
    func run() async throws { try await forEachVM(vms) { try await $0.killVM($1) } }
}

struct VMPauseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Stop the vCPUs of one or more VMs.")
    @Argument(help: "VMs.") var vms: [String] = []
    func validate() throws { if vms.isEmpty { throw ValidationError("\"berth vm pause\" requires at least 1 argument.") } }
    func run() async throws { try await forEachVM(vms) { try await $0.pauseVM($1) } }
}

struct VMResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Continue one or more paused VMs.", aliases: ["unpause"])
    @Argument(help: "VMs.") var vms: [String] = []
    func validate() throws { if vms.isEmpty { throw ValidationError("\"berth vm resume\" requires at least 1 argument.") } }
    func run() async throws { try await forEachVM(vms) { try await $0.resumeVM($1) } }
}

struct VMRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove one or more VMs and their disks.", aliases: ["remove"])
    @Flag(name: [.short, .long], help: "Kill a running VM first.") var force = false
    @Argument(help: "VMs.") var vms: [String] = []
    func validate() throws { if vms.isEmpty { throw ValidationError("\"berth vm rm\" requires at least 1 argument.") } }
    func run() async throws { let f = force; try await forEachVM(vms) { try await $0.removeVM($1, force: f) } }
}

/// `berth vm console NAME`: the serial console, raw both ways; Ctrl-] (or `--detach-keys`)
/// detaches. With stdin not a terminal, the input is sent and the command ends at its end.
struct VMConsoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "console", abstract: "Attach to a VM's serial console (detach with Ctrl-]).")

    @Option(name: .long, help: "Override the key sequence for detaching (default ctrl-]).")
    var detachKeys: String?

    @Flag(name: .long, help: "Print the console output so far first.")
    var logs = false

    @Argument(help: "The VM.")
    var vm: String

    func run() async throws {
        let client = try GlobalOptions.client()
        let keys = detachKeys ?? "ctrl-]"
        let stream = try await client.attachVMConsole(vm, detachKeys: keys, logs: logs)
        var session = StreamSession(stream: stream, tty: true, stdin: true)
        session.detachKeys = try Units.detachKeys(keys)
        // Not a terminal: the input is sent, and the server ends the stream at its end.
        if isatty(0) == 1 { Output.err("connected to the console of \(vm); detach with \(keys)") }
        _ = try await session.run()
        await stream.close()
    }
}

/// `berth vm logs NAME`: everything the guest printed on its console.
struct VMLogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logs", abstract: "Print a VM's console output so far.")
    @Argument(help: "The VM.") var vm: String
    func run() async throws {
        let bytes = try await GlobalOptions.client().vmConsoleLog(vm)
        try Output.write(bytes, to: 1)
    }
}

/// `berth vm stats NAME…`: one snapshot of CPU time, memory and disk use.
struct VMStatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Display resource use of running VMs.")

    @Option(name: .long, help: "Format output using a custom template ('table', 'json' or a Go template).")
    var format: String?

    @Argument(help: "VMs (default: every running one).")
    var vms: [String] = []

    func run() async throws {
        let client = try GlobalOptions.client()
        var names = vms
        if names.isEmpty { names = try await client.listVMs().filter { $0.State == "running" || $0.State == "paused" }.map(\.Name) }
        var rows: [JSONValue] = []
        for n in names {
            let s = try await client.vmStats(n)
            rows.append(.object([
                "Name": .string(s.Name),
                "CPUTime": .string(Self.format2(Double(s.CPUTimeNs) / 1e9) + "s"),
                "MemUsage": .string("\(HumanSize.bytes(Int64(s.MemoryUsage))) / \(HumanSize.bytes(Int64(s.MemoryLimit)))"),
                "DiskUsage": .string(HumanSize.bytes(Int64(s.DiskUsage))),
                "PID": .string(String(s.Pid)),
            ]))
        }
        if Template.isJSON(format) {
            Output.out(rows.map { Format.compactJSON($0, sorted: true) + "\n" }.joined(), terminator: "")
            return
        }
        var f = format ?? ""
        if f.isEmpty || f == "table" { f = "table {{.Name}}\t{{.CPUTime}}\t{{.MemUsage}}\t{{.DiskUsage}}\t{{.PID}}" }
        let headers = ["Name": "NAME", "CPUTime": "CPU TIME", "MemUsage": "MEM USAGE / LIMIT", "DiskUsage": "DISK USAGE", "PID": "PID"]
        Output.out(try Template(f).renderAll(rows, headers: headers), terminator: "")
    }

    static func format2(_ v: Double) -> String {
        let hundredths = Int((v * 100).rounded())
        let frac = hundredths % 100
        return "\(hundredths / 100).\(frac < 10 ? "0" : "")\(frac)"
    }
}

/// `berth vm snapshot create|ls|rm`.
struct VMSnapshotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot", abstract: "Manage live snapshots of a VM (memory and disks).",
        subcommands: [VMSnapshotCreateCommand.self, VMSnapshotListCommand.self, VMSnapshotRemoveCommand.self])
}

struct VMSnapshotCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Take a live snapshot of a running VM.")
    @Argument(help: "The VM.") var vm: String
    @Argument(help: "The snapshot's name.") var snapshot: String
    func run() async throws {
        try await GlobalOptions.client().createVMSnapshot(vm, snapshot: snapshot)
        Output.out(snapshot)
    }
}

struct VMSnapshotListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List a VM's snapshots.", aliases: ["list"])
    @Flag(name: [.short, .long], help: "Only display snapshot names.") var quiet = false
    @Option(name: .long, help: "Format output ('table', 'json' or a Go template).") var format: String?
    @Argument(help: "The VM.") var vm: String
    func run() async throws {
        let list = try await GlobalOptions.client().vmSnapshots(vm)
        let rows: [JSONValue] = list.map {
            .object(["Name": .string($0.Name), "VMStateSize": .string(HumanSize.bytes(Int64($0.VMStateSize))),
                     "Date": .string(Format.rfc3339($0.Date))])
        }
        if Template.isJSON(format) {
            Output.out(rows.map { Format.compactJSON($0, sorted: true) + "\n" }.joined(), terminator: "")
            return
        }
        var f = format ?? ""
        if f.isEmpty || f == "table" { f = quiet ? "{{.Name}}" : "table {{.Name}}\t{{.VMStateSize}}\t{{.Date}}" }
        Output.out(try Template(f).renderAll(rows, headers: ["Name": "NAME", "VMStateSize": "VM STATE", "Date": "DATE"]), terminator: "")
    }
}

struct VMSnapshotRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete snapshots of a VM.", aliases: ["remove"])
    @Argument(help: "The VM.") var vm: String
    @Argument(help: "Snapshots.") var snapshots: [String] = []
    func run() async throws {
        let vm = self.vm
        try await forEachVM(snapshots) { try await $0.removeVMSnapshot(vm, snapshot: $1) }
    }
}

/// `berth vm restore VM SNAPSHOT`: rolls a running VM back to a snapshot.
struct VMRestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restore", abstract: "Roll a running VM back to a snapshot.")
    @Argument(help: "The VM.") var vm: String
    @Argument(help: "The snapshot.") var snapshot: String
    func run() async throws {
        try await GlobalOptions.client().restoreVMSnapshot(vm, snapshot: snapshot)
    }
}

/// `berth vm export [-o FILE] VM`: the stopped VM as one tar.
struct VMExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export", abstract: "Write a stopped VM (config, disks, snapshots) as one tar.")
    @Option(name: [.short, .long], help: "Write to a file, instead of STDOUT.") var output: String?
    @Argument(help: "The VM.") var vm: String
    func run() async throws {
        let vm = self.vm
        try await saveArchive(to: output, failure: "failed to export vm") { try await $0.exportVM(vm) }
    }
}

/// `berth vm import [-i FILE] [--name NAME] [--network NET]`: prints the new VM's name.
struct VMImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "import", abstract: "Create a VM from an export.")
    @Option(name: [.short, .long], help: "Read from a file, instead of STDIN.") var input: String?
    @Option(name: .long, help: "Name of the new VM (default: as exported).") var name: String?
    @Option(name: .long, help: "Connect the VM to a network (repeatable; default: the default bridge).") var network: [String] = []
    func run() async throws {
        let source = try FileSource(path: input)
        let r = try await GlobalOptions.client().importVM(from: source.byteSource, name: name, networks: network)
        Output.out(r.Name)
    }
}

/// `berth vm migrate NAME --to unix:///other/berth.sock`: live migration to another berthd
/// on this host; the guest keeps running there.
struct VMMigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "Move a running VM to another berthd (live migration).")
    @Option(name: .long, help: "The destination daemon (unix:///path/berth.sock).") var to: String
    @Argument(help: "The VM.") var vm: String
    func run() async throws {
        let r = try await GlobalOptions.client().migrateVM(vm, to: to)
        Output.out(vm)
        Output.err("migrated in \(VMStatsCommand.format2(r.Seconds)) s (guest paused \(VMStatsCommand.format2(r.PausedSeconds)) s)")
    }
}
