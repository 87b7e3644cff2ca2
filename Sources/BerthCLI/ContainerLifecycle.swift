import ArgumentParser
import BerthAPI
import BerthClient
import BerthCore

/// `berth pause` / `berth container pause`.
struct ContainerPauseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Pause all processes within one or more containers.")
    @Argument(help: "Containers to pause.")
    var containers: [String] = []
    func validate() throws {
        if containers.isEmpty { throw ValidationError("\"berth pause\" requires at least 1 argument.") }
    }
    func run() async throws {
        try await forEachContainer(containers) { client, name in try await client.pauseContainer(name) }
    }
}

/// `berth unpause` / `berth container unpause`.
struct ContainerUnpauseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unpause", abstract: "Unpause all processes within one or more containers.")
    @Argument(help: "Containers to unpause.")
    var containers: [String] = []
    func validate() throws {
        if containers.isEmpty { throw ValidationError("\"berth unpause\" requires at least 1 argument.") }
    }
    func run() async throws {
        try await forEachContainer(containers) { client, name in try await client.unpauseContainer(name) }
    }
}

/// `berth rename CONTAINER NEW_NAME`.
struct ContainerRenameCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rename", abstract: "Rename a container.")
    @Argument(help: "The container.")
    var container: String
    @Argument(help: "Its new name.")
    var newName: String
    func run() async throws {
        let name = newName.hasPrefix("/") ? String(newName.dropFirst()) : newName
        if name.isEmpty { throw CLIError.message("Error: Neither old nor new names may be empty") }
        try await GlobalOptions.client().renameContainer(container, to: name)
    }
}

/// `berth top CONTAINER [ps OPTIONS]`: the daemon's `ps` table, columns aligned as docker's
/// tabwriter does (three spaces of padding).
struct ContainerTopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "top", abstract: "Display the running processes of a container.")
    @Argument(help: "The container.")
    var container: String
    @Argument(parsing: .captureForPassthrough, help: "ps options.")
    var psArgs: [String] = []

    static func table(_ value: JSONValue) -> String {
        let o = value.objectValue ?? [:]
        let titles = o["Titles"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let rows = (o["Processes"]?.arrayValue ?? []).map { $0.arrayValue?.compactMap(\.stringValue) ?? [] }
        return Self.align([titles] + rows)
    }

    /// Columns separated by at least three spaces; the last one unpadded.
    static func align(_ rows: [[String]]) -> String {
        let columns = rows.map(\.count).max() ?? 0
        var widths = [Int](repeating: 0, count: columns)
        for r in rows { for (i, cell) in r.enumerated() where i < columns - 1 { widths[i] = max(widths[i], cell.count) } }
        return rows.map { r in
            r.enumerated().map { i, cell in i == r.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count + 3) }
                .joined()
        }.joined(separator: "\n") + "\n"
    }

    func run() async throws {
        let client = try GlobalOptions.client()
        let value = try await client.topContainer(container, psArgs: psArgs.isEmpty ? nil : psArgs.joined(separator: " "))
        Output.out(Self.table(value), terminator: "")
    }
}

/// `berth port CONTAINER [PRIVATE_PORT[/PROTO]]`: from the container's NetworkSettings.Ports.
struct ContainerPortCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "port", abstract: "List port mappings or a specific mapping for the container.")
    @Argument(help: "The container.")
    var container: String
    @Argument(help: "A private port, with /tcp or /udp.")
    var port: String?

    /// `80/tcp -> 0.0.0.0:8080` lines (or `0.0.0.0:8080` for one port), sorted as docker does.
    static func lines(_ inspect: JSONValue, port: String?) throws -> [String] {
        let ports = inspect.objectValue?["NetworkSettings"]?.objectValue?["Ports"]?.objectValue ?? [:]
        func bindings(_ key: String) -> [String] {
            (ports[key]?.arrayValue ?? []).compactMap { b in
                guard let o = b.objectValue, let ip = o["HostIp"]?.stringValue, let p = o["HostPort"]?.stringValue else { return nil }
                return (ip.contains(":") ? "[\(ip)]" : ip) + ":" + p
            }
        }
        if let port {
            let key = port.contains("/") ? port : port + "/tcp"
            let found = bindings(key)
            if found.isEmpty { throw CLIError.message("Error: No public port '\(key)' published for \(inspect.objectValue?["Name"]?.stringValue.map { String($0.dropFirst()) } ?? "")") }
            return found
        }
        return ports.map(\.key).sorted { a, b in
            let pa = Int(a.split(separator: "/")[0]) ?? 0, pb = Int(b.split(separator: "/")[0]) ?? 0
            return pa != pb ? pa < pb : a < b
        }.flatMap { key in bindings(key).map { "\(key) -> \($0)" } }
    }

    func run() async throws {
        let inspect = try await GlobalOptions.client().inspectContainerValue(container)
        for line in try Self.lines(inspect, port: port) { Output.out(line) }
    }
}

/// `berth diff CONTAINER`: `C /etc`, `A /new`, `D /gone`.
struct ContainerDiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "diff", abstract: "Inspect changes to files or directories on a container's filesystem.")
    @Argument(help: "The container.")
    var container: String
    func run() async throws {
        let changes = try await GlobalOptions.client().containerChanges(container)
        for c in changes.arrayValue ?? [] {
            let o = c.objectValue ?? [:]
            let kind: String
            switch o["Kind"] { case .number("1")?: kind = "A"; case .number("2")?: kind = "D"; default: kind = "C" }
            Output.out("\(kind) \(o["Path"]?.stringValue ?? "")")
        }
    }
}

/// `berth export [-o FILE] CONTAINER`: the filesystem as a tar archive.
struct ContainerExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export", abstract: "Export a container's filesystem as a tar archive.")
    @Option(name: [.short, .long], help: "Write to a file, instead of STDOUT.")
    var output: String?
    @Argument(help: "The container.")
    var container: String
    func run() async throws {
        try await saveArchive(to: output, failure: "failed to export container") { try await $0.exportContainer(container) }
    }
}

/// `berth update [OPTIONS] CONTAINER...`: resources and restart policy of running or stopped
/// containers; prints each name.
struct ContainerUpdateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "update", abstract: "Update configuration of one or more containers.")
    @Option(name: [.short, .long], help: "Memory limit.")
    var memory: String?
    @Option(name: .customLong("memory-swap"), help: "Swap limit equal to memory plus swap: -1 to enable unlimited swap.")
    var memorySwap: String?
    @Option(name: .long, help: "Number of CPUs.")
    var cpus: String?
    @Option(name: [.customShort("c"), .customLong("cpu-shares")], help: "CPU shares (relative weight).")
    var cpuShares: Int64?
    @Option(name: .customLong("cpu-quota"), help: "Limit CPU CFS quota.")
    var cpuQuota: Int64?
    @Option(name: .customLong("cpu-period"), help: "Limit CPU CFS period.")
    var cpuPeriod: Int64?
    @Option(name: .customLong("cpuset-cpus"), help: "CPUs in which to allow execution (0-3, 0,1).")
    var cpusetCpus: String?
    @Option(name: .customLong("pids-limit"), help: "Tune container pids limit (set -1 for unlimited).")
    var pidsLimit: Int64?
    @Option(name: .long, help: "Restart policy to apply when a container exits.")
    var restart: String?
    @Argument(help: "Containers to update.")
    var containers: [String] = []

    func validate() throws {
        if containers.isEmpty { throw ValidationError("\"berth update\" requires at least 1 argument.") }
    }

    /// The request body, with only the fields given (zero means unchanged to the daemon).
    func body() throws -> [UInt8] {
        var o = JSONObject()
        func num(_ v: Int64) -> JSONValue { .number(String(v)) }
        func parse(_ v: String, _ flag: String, _ f: (String) throws -> Int64) throws -> Int64 {
            do { return try f(v) } catch { throw CLIError.message("invalid argument \"\(v)\" for \"\(flag)\" flag: \(error)") }
        }
        if let memory { o["Memory"] = num(try parse(memory, "-m, --memory", Units.ramInBytes)) }
        if let memorySwap { o["MemorySwap"] = num(try parse(memorySwap, "--memory-swap", Units.swapBytes)) }
        if let cpus { o["NanoCpus"] = num(try parse(cpus, "--cpus", Units.nanoCPUs)) }
        if let cpuShares { o["CpuShares"] = num(cpuShares) }
        if let cpuQuota { o["CpuQuota"] = num(cpuQuota) }
        if let cpuPeriod { o["CpuPeriod"] = num(cpuPeriod) }
        if let cpusetCpus { o["CpusetCpus"] = .string(cpusetCpus) }
        if let pidsLimit { o["PidsLimit"] = num(pidsLimit) }
        if let restart {
            let parts = restart.split(separator: ":", maxSplits: 1).map(String.init)
            var policy: JSONObject = ["Name": .string(parts.first ?? "")]
            if parts.count > 1 {
                guard let n = Int(parts[1]) else { throw CLIError.message("invalid restart policy format: maximum retry count must be an integer") }
                policy["MaximumRetryCount"] = .number(String(n))
            }
            o["RestartPolicy"] = .object(policy)
        }
        if o.isEmpty { throw CLIError.message("you must provide one or more flags when using this command") }
        return Array(Format.compactJSON(.object(o), sorted: true).utf8)
    }

    func run() async throws {
        let body = try body()
        try await forEachContainer(containers) { client, name in
            for w in try await client.updateContainer(name, json: body) { Output.err(w) }
        }
    }
}

/// `berth stats --no-stream [CONTAINER...]`: one reading per container in docker's table.
struct ContainerStatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Display a snapshot of containers' resource usage statistics.")
    @Flag(name: [.short, .long], help: "Show all containers (default shows just running).")
    var all = false
    @Flag(name: .customLong("no-stream"), help: "Disable streaming stats and only pull the first result (the only mode).")
    var noStream = false
    @Flag(name: .customLong("no-trunc"), help: "Do not truncate output.")
    var noTrunc = false
    @Argument(help: "Containers (default: all running).")
    var containers: [String] = []

    static func number(_ v: JSONValue?) -> Double {
        if case .number(let n)? = v { return Double(n) ?? 0 }
        return 0
    }

    /// One table row from a stats reading, computed as docker's CLI does (memory usage minus
    /// the inactive page cache; CPU from the delta against `precpu_stats`).
    static func row(_ s: JSONValue, truncate: Bool) -> [String] {
        let o = s.objectValue ?? [:]
        let cpu = o["cpu_stats"]?.objectValue ?? [:], pre = o["precpu_stats"]?.objectValue ?? [:]
        let total = number(cpu["cpu_usage"]?.objectValue?["total_usage"]) - number(pre["cpu_usage"]?.objectValue?["total_usage"])
        let system = number(cpu["system_cpu_usage"]) - number(pre["system_cpu_usage"])
        let online = max(1, number(cpu["online_cpus"]))
        let cpuPercent = system > 0 && total > 0 ? total / system * online * 100 : 0
        let mem = o["memory_stats"]?.objectValue ?? [:]
        let cache = number(mem["stats"]?.objectValue?["total_inactive_file"] ?? mem["stats"]?.objectValue?["inactive_file"])
        let used = max(0, number(mem["usage"]) - cache), limit = number(mem["limit"])
        var rx = 0.0, tx = 0.0
        for (_, n) in o["networks"]?.objectValue ?? [:] {
            rx += number(n.objectValue?["rx_bytes"]); tx += number(n.objectValue?["tx_bytes"])
        }
        var read = 0.0, written = 0.0
        for e in o["blkio_stats"]?.objectValue?["io_service_bytes_recursive"]?.arrayValue ?? [] {
            switch e.objectValue?["op"]?.stringValue?.lowercased() {
            case "read"?: read += number(e.objectValue?["value"])
            case "write"?: written += number(e.objectValue?["value"])
            default: break
            }
        }
        let id = o["id"]?.stringValue ?? ""
        let name = (o["name"]?.stringValue ?? "").drop { $0 == "/" }
        func pct(_ v: Double) -> String {
            let hundredths = Int((v * 100).rounded())
            let frac = hundredths % 100
            return "\(hundredths / 100).\(frac < 10 ? "0" : "")\(frac)%"
        }
        return [truncate ? String(id.prefix(12)) : id, String(name), pct(cpuPercent),
                "\(HumanSize.bytes(Int64(used))) / \(HumanSize.bytes(Int64(limit)))", pct(limit > 0 ? used / limit * 100 : 0),
                "\(HumanSize.decimal(Int64(rx))) / \(HumanSize.decimal(Int64(tx)))",
                "\(HumanSize.decimal(Int64(read))) / \(HumanSize.decimal(Int64(written)))",
                String(Int(number(o["pids_stats"]?.objectValue?["current"])))]
    }

    func run() async throws {
        let client = try GlobalOptions.client()
        var names = containers
        if names.isEmpty { names = try await client.containers(all: all).map(\.Id) }
        var rows = [["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"]]
        var errors: [String] = []
        for n in names {
            do { rows.append(Self.row(try await client.containerStats(n), truncate: !noTrunc)) } catch let e as BerthClientError {
                if case .cannotConnect = e { throw e }
                errors.append(e.description)
            }
        }
        Output.out(ContainerTopCommand.align(rows), terminator: "")
        if !errors.isEmpty { throw CLIError.message(errors.joined(separator: "\n")) }
    }
}

/// `berth container prune`: removes every stopped container.
struct ContainerPruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove all stopped containers.")
    @Option(name: .long, help: "Provide filter values (e.g. \"until=<timestamp>\").")
    var filter: [String] = []
    @Flag(name: [.short, .long], help: "Do not prompt for confirmation.")
    var force = false
    func run() async throws {
        let filters = try parseFilters(filter)
        if !force && !confirm("WARNING! This will remove all stopped containers.\nAre you sure you want to continue?") { return }
        let (ids, bytes) = try await GlobalOptions.client().pruneContainers(filters: filters)
        var out = ""
        if !ids.isEmpty { out += "Deleted Containers:\n" + ids.map { $0 + "\n" }.joined() + "\n" }
        Output.out(out + "Total reclaimed space: \(HumanSize.decimal(bytes))")
    }
}
