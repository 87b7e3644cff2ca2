import ArgumentParser
import BerthAPI
import BerthClient
import BerthCore

/// `berth system …`.
struct SystemCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "system", abstract: "Manage Berth.",
        subcommands: [SystemDFCommand.self, SystemInfoCommand.self, SystemEventsCommand.self])
}

/// `berth version`.
struct VersionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Show the Berth version information.")

    @Option(name: [.short, .long], help: "Format output using a custom template ('json' or a Go template).")
    var format: String?

    func run() async throws {
        let client = try GlobalOptions.client()
        var clientInfo: JSONObject = [
            "Version": .string(BerthCommand.clientVersion),
            "ApiVersion": .string(APIVersion.current.description),
            "DefaultAPIVersion": .string(APIVersion.current.description),
            "GoVersion": "swift6",
            "Os": "linux",
            "Arch": .string(Self.arch),
            "Context": "default",
        ]
        var server: JSONValue?
        var failure: (any Error)?
        do {
            server = try await client.version()
            clientInfo.updateValue(.string(try await client.apiVersion().description), forKey: "ApiVersion")
        } catch {
            failure = error
        }
        if let format {
            let all: JSONValue = ["Client": .object(clientInfo), "Server": server ?? .null]
            let template = try Template(Template.isJSON(format) ? "{{json .}}" : format)
            Output.out(template.render(all))
        } else {
            var lines = [
                "Client:",
                " Version:           \(clientInfo["Version"]?.stringValue ?? "")",
                " API version:       \(clientInfo["ApiVersion"]?.stringValue ?? "")",
                " Go version:        swift6",
                " OS/Arch:           linux/\(Self.arch)",
                " Context:           default",
            ]
            if let server {
                lines.append("")
                lines.append("Server: \(server["Platform"]?["Name"]?.stringValue ?? "")")
                for c in server["Components"]?.arrayValue ?? [] {
                    let d = c["Details"]
                    lines.append(" \(c["Name"]?.stringValue ?? ""):")
                    lines.append("  Version:          \(c["Version"]?.stringValue ?? "")")
                    if c["Name"]?.stringValue == "Engine" {
                        let api = d?["ApiVersion"]?.stringValue ?? server["ApiVersion"]?.stringValue ?? ""
                        let minAPI = d?["MinAPIVersion"]?.stringValue ?? server["MinAPIVersion"]?.stringValue ?? ""
                        lines.append("  API version:      \(api) (minimum version \(minAPI))")
                        lines.append("  Go version:       \(d?["GoVersion"]?.stringValue ?? "")")
                        lines.append("  Git commit:       \(d?["GitCommit"]?.stringValue ?? "")")
                        lines.append("  Built:            \(d?["BuildTime"]?.stringValue ?? "")")
                        lines.append("  OS/Arch:          \(d?["Os"]?.stringValue ?? "")/\(d?["Arch"]?.stringValue ?? "")")
                        lines.append("  Experimental:     \(d?["Experimental"]?.stringValue ?? "false")")
                    } else if let d = d?.objectValue {
                        for (k, v) in d { lines.append("  \(k):\(String(repeating: " ", count: max(1, 17 - k.count)))\(Template.goString(v))") }
                    }
                }
            }
            Output.out(lines.joined(separator: "\n"))
        }
        if let failure { throw failure }
    }

    static var arch: String {
        #if arch(x86_64)
        return "amd64"
        #elseif arch(arm64)
        return "arm64"
        #else
        return "unknown"
        #endif
    }
}

/// `berth info` and `berth system info`.
struct InfoOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "Format output using a custom template ('json' or a Go template).")
    var format: String?

    func run() async throws {
        let client = try GlobalOptions.client()
        if let format {
            let info = try await client.info()
            let template = try Template(Template.isJSON(format) ? "{{json .}}" : format)
            Output.out(template.render(info))
            return
        }
        var lines = [
            "Client:",
            " Version:    \(BerthCommand.clientVersion)",
            " Context:    default",
            " Debug Mode: false",
            "",
            "Server:",
        ]
        let info: JSONValue
        do { info = try await client.info() } catch {
            Output.out(lines.joined(separator: "\n"))
            throw error
        }
        func s(_ k: String) -> String { Template.goString(info[k]) }
        lines += [
            " Containers: \(s("Containers"))",
            "  Running: \(s("ContainersRunning"))",
            "  Paused: \(s("ContainersPaused"))",
            "  Stopped: \(s("ContainersStopped"))",
            " Images: \(s("Images"))",
            " Server Version: \(s("ServerVersion"))",
            " Storage Driver: \(s("Driver"))",
        ]
        for pair in info["DriverStatus"]?.arrayValue ?? [] {
            if let k = pair[0]?.stringValue, let v = pair[1]?.stringValue { lines.append("  \(k): \(v)") }
        }
        lines += [
            " Logging Driver: \(s("LoggingDriver"))",
            " Cgroup Driver: \(s("CgroupDriver"))",
            " Cgroup Version: \(s("CgroupVersion"))",
        ]
        if let runtimes = info["Runtimes"]?.objectValue {
            lines.append(" Runtimes: \(runtimes.keys.sorted().joined(separator: " "))")
        }
        lines += [
            " Default Runtime: \(s("DefaultRuntime"))",
            " Init Binary: \(s("InitBinary"))",
            " Security Options:",
        ]
        for o in info["SecurityOptions"]?.arrayValue ?? [] {
            for part in (o.stringValue ?? "").split(separator: ",") {
                if part.hasPrefix("name=") { lines.append("  \(part.dropFirst(5))") } else { lines.append("   \(String(part).replacingOccurrences("=", ": "))") }
            }
        }
        lines += [
            " Kernel Version: \(s("KernelVersion"))",
            " Operating System: \(s("OperatingSystem"))",
            " OSType: \(s("OSType"))",
            " Architecture: \(s("Architecture"))",
            " CPUs: \(s("NCPU"))",
            " Total Memory: \(HumanSize.bytes(info["MemTotal"]?.int64Value ?? 0))",
            " Name: \(s("Name"))",
            " ID: \(s("ID"))",
            " Docker Root Dir: \(s("DockerRootDir"))",
            " Debug Mode: \(s("Debug"))",
            " Experimental: \(s("ExperimentalBuild"))",
        ]
        if let insecure = info["RegistryConfig"]?["InsecureRegistryCIDRs"]?.arrayValue, !insecure.isEmpty {
            lines.append(" Insecure Registries:")
            for i in insecure { lines.append("  \(Template.goString(i))") }
        }
        lines.append(" Live Restore Enabled: \(s("LiveRestoreEnabled"))")
        Output.out(lines.joined(separator: "\n"))
        for w in info["Warnings"]?.arrayValue ?? [] { Output.err(Template.goString(w)) }
    }
}

/// `berth info`.
struct InfoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", abstract: "Display system-wide information.")
    @OptionGroup var options: InfoOptions
    func run() async throws { try await options.run() }
}

/// `berth system info`.
struct SystemInfoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", abstract: "Display system-wide information.")
    @OptionGroup var options: InfoOptions
    func run() async throws { try await options.run() }
}

/// `berth system df`.
struct SystemDFCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "df", abstract: "Show Berth disk usage.")

    @Option(name: .long, help: "Format output using a custom template ('json' or a Go template).")
    var format: String?

    @Flag(name: [.short, .long], help: "Show detailed information on space usage.")
    var verbose = false

    func run() async throws {
        let client = try GlobalOptions.client()
        let du = try await client.diskUsage()
        Output.out(try Self.render(du, format: format, verbose: verbose), terminator: "")
    }

    /// The summary table (or its rows through `--format`), or with `verbose` docker's
    /// per-object sections.
    static func render(_ du: SystemDataUsage, format: String?, verbose: Bool) throws -> String {
        if verbose { return try renderVerbose(du, format: format) }
        let total = du.LayersSize
        var used: Int64 = 0
        for i in du.Images where i.Containers > 0 && i.SharedSize != -1 { used += i.Size - i.SharedSize }
        let reclaimable = total - used
        let imageReclaim = total > 0 ? "\(HumanSize.decimal(reclaimable)) (\(reclaimable * 100 / total)%)" : HumanSize.decimal(reclaimable)
        let rows: [JSONValue] = [
            ["Type": "Images", "TotalCount": .string(String(du.Images.count)),
             "Active": .string(String(du.Images.filter { $0.Containers > 0 }.count)),
             "Size": .string(HumanSize.decimal(total)), "Reclaimable": .string(imageReclaim)],
            ["Type": "Containers", "TotalCount": .string(String(du.Containers.count)), "Active": "0", "Size": "0B", "Reclaimable": "0B"],
            VolumeFormat.diskUsageRow(du.Volumes),
            ["Type": "Build Cache", "TotalCount": .string(String(du.BuildCache.count)), "Active": "0", "Size": "0B", "Reclaimable": "0B"],
        ]
        let format = Template.isJSON(format) ? "{{json .}}" : (format ?? "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}")
        let template = try Template(format)
        let sortedRows = template.isTable ? rows : rows.map { v in v.objectValue.map { JSONValue.object(JSONObject($0.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })) } ?? v }
        return template.renderAll(sortedRows, headers: ["Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"])
    }

    /// `system df -v`: images, containers, volumes and build cache, each as docker's table
    /// under its title; with `--format json` one object holding the four lists.
    static func renderVerbose(_ du: SystemDataUsage, format: String?) throws -> String {
        let table = format == nil || format == "table"
        // Images: one row per image, with its first tag (docker's disk-usage image context).
        let images: [JSONValue] = du.Images.compactMap { image in
            var one = image
            one.RepoTags = Array(image.RepoTags.prefix(1))
            guard var row = ImageListOptions.rows([one], noTrunc: !table).first?.objectValue else { return nil }
            row.updateValue(.string(image.SharedSize < 0 ? "N/A" : HumanSize.decimal(image.SharedSize)), forKey: "SharedSize")
            row.updateValue(.string(image.SharedSize < 0 ? "N/A" : HumanSize.decimal(image.Size - image.SharedSize)), forKey: "UniqueSize")
            row.updateValue(.string(HumanSize.decimal(image.Size)), forKey: "VirtualSize")
            row.updateValue(.string(""), forKey: "Digest")
            return .object(row)
        }
        // Containers without their virtual size, as docker shows them here.
        let summaries = du.Containers.compactMap { c -> ContainerSummary? in
            var s = try? BerthJSONDecoder().decode(ContainerSummary.self, from: c)
            s?.SizeRootFs = nil
            return s
        }
        let containers = ContainerFormat.rows(summaries, trunc: table)
        let volumes = du.Volumes.map(VolumeFormat.row)
        var cacheSize: Int64 = 0
        for c in du.BuildCache { cacheSize += c["Size"]?.int64Value ?? 0 }
        if !table {
            let all: JSONValue = [
                "Images": .array(images), "Containers": .array(containers.map(ContainerFormat.visible)),
                "Volumes": .array(volumes.map(ContainerFormat.visible)), "BuildCache": .array(du.BuildCache),
            ]
            let template = try Template(Template.isJSON(format) ? "{{json .}}" : format ?? "")
            return template.render(all) + "\n"
        }
        let imageTable = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}"
        let containerTable = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}"
        let cacheTable = "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}"
        let imageHeaders = ImageListOptions.headers.merging(["Containers": "CONTAINERS"]) { $1 }
        let cacheHeaders = ["ID": "CACHE ID", "CacheType": "CACHE TYPE", "Size": "SIZE", "CreatedSince": "CREATED",
                            "LastUsedSince": "LAST USED", "UsageCount": "USAGE", "Shared": "SHARED"]
        var out = "Images space usage:\n\n" + (try Template(imageTable).renderAll(images, headers: imageHeaders))
        out += "\nContainers space usage:\n\n" + (try Template(containerTable).renderAll(containers, headers: ContainerFormat.headers))
        out += "\n" + VolumeFormat.diskUsageSection(du.Volumes)
        out += "\nBuild cache usage: \(HumanSize.decimal(cacheSize))\n\n" + (try Template(cacheTable).renderAll([], headers: cacheHeaders))
        return out
    }
}

/// `berth events` options.
struct EventsOptions: ParsableArguments {
    @Option(name: .long, help: "Show all events created since timestamp.")
    var since: String?

    @Option(name: .long, help: "Stream events until this timestamp.")
    var until: String?

    @Option(name: [.short, .long], help: "Filter output based on conditions provided.")
    var filter: [String] = []

    @Option(name: .long, help: "Format output using a custom template ('json' or a Go template).")
    var format: String?

    func run() async throws {
        let client = try GlobalOptions.client()
        let template = try format.map { try Template(Template.isJSON($0) ? "{{json .}}" : $0) }
        let stream = try await client.events(since: since, until: until, filters: try parseFilters(filter))
        for try await e in stream {
            if let template {
                Output.out(template.render(e))
            } else {
                Output.out(Self.line(e))
            }
        }
    }

    /// docker's `prettyPrintEvent`.
    static func line(_ e: JSONValue) -> String {
        var out = ""
        if let n = e["timeNano"]?.int64Value, n != 0 {
            out += Format.rfc3339NanoFixed(n) + " "
        } else if let t = e["time"]?.int64Value, t != 0 {
            out += Format.rfc3339NanoFixed(t * 1_000_000_000) + " "
        }
        out += "\(e["Type"]?.stringValue ?? "") \(e["Action"]?.stringValue ?? "") \(e["Actor"]?["ID"]?.stringValue ?? "")"
        if let attrs = e["Actor"]?["Attributes"]?.objectValue, !attrs.isEmpty {
            let parts = attrs.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.stringValue ?? Template.goString($0.value))" }
            out += " (" + parts.joined(separator: ", ") + ")"
        }
        return out
    }
}

/// `berth events`.
struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "events", abstract: "Get real time events from the server.")
    @OptionGroup var options: EventsOptions
    func run() async throws { try await options.run() }
}

/// `berth system events`.
struct SystemEventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "events", abstract: "Get real time events from the server.")
    @OptionGroup var options: EventsOptions
    func run() async throws { try await options.run() }
}
