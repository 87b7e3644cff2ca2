import ArgumentParser
import BerthAPI
import BerthClient
import BerthCore

/// `berth volume …`.
struct VolumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volume", abstract: "Manage volumes.",
        subcommands: [
            VolumeCreateCommand.self, VolumeInspectCommand.self, VolumeListCommand.self, VolumePruneCommand.self,
            VolumeRemoveCommand.self,
        ])
}

/// `berth volume create [OPTIONS] [VOLUME]`: creates the volume (or finds the existing one of
/// that name) and prints its name.
struct VolumeCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a volume.")

    @Option(name: [.short, .long], help: "Specify volume driver name.")
    var driver = "local"

    @Option(name: .long, help: "Set metadata for a volume.")
    var label: [String] = []

    @Option(name: [.short, .long], help: "Set driver specific options.")
    var opt: [String] = []

    @Option(name: .long, help: ArgumentHelp("Specify volume name.", visibility: .hidden))
    var name: String?

    @Argument(help: "The volume's name (generated when left out).")
    var volume: [String] = []

    func validate() throws {
        if volume.count > 1 { throw ValidationError("\"berth volume create\" requires at most 1 argument.") }
    }

    /// The `POST /volumes/create` body, as the docker CLI sends it (empty maps and name included).
    func request() throws -> VolumeCreateRequest {
        if let positional = volume.first {
            if let name, !name.isEmpty {
                throw CLIError.message("conflicting options: cannot specify a volume-name through both --name and as a positional arg")
            }
            return try request(name: positional)
        }
        return try request(name: name ?? "")
    }

    private func request(name: String) throws -> VolumeCreateRequest {
        var labels: [String: String] = [:]
        for l in label {
            do throws(FlagError) {
                try Self.validateLabel(l)
            } catch {
                throw ContainerCreation.usageError(error, command: "volume create")
            }
            let (k, v) = Self.keyValue(l)
            labels[k] = v
        }
        var options: [String: String] = [:]
        for o in opt {
            let (k, v) = Self.keyValue(o)
            options[k] = v
        }
        return VolumeCreateRequest(Name: name, Driver: driver, DriverOpts: options, Labels: labels)
    }

    /// docker's `opts.ValidateLabel`: the name before `=` must not be empty nor hold blanks.
    static func validateLabel(_ value: String) throws(FlagError) {
        let key = Self.keyValue(value).0.trimmingSpacesString()
        if key.isEmpty {
            throw FlagError("invalid argument \"\(value)\" for \"--label\" flag: invalid label '\(value)': empty name")
        }
        if key.contains(" ") || key.contains("\t") {
            throw FlagError("invalid argument \"\(value)\" for \"--label\" flag: label '\(key)' contains whitespaces")
        }
    }

    /// `k=v` → (k, v); `k` → (k, "").
    static func keyValue(_ s: String) -> (String, String) {
        guard let eq = s.firstIndex(of: "=") else { return (s, "") }
        return (String(s[..<eq]), String(s[s.index(after: eq)...]))
    }

    func run() async throws {
        let request = try request()
        let client = try GlobalOptions.client()
        let created = try await client.createVolume(request)
        Output.out(created.Name)
    }
}

/// `berth volume ls`.
struct VolumeListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List volumes.", aliases: ["list"])

    @Flag(name: [.short, .long], help: "Only display volume names.")
    var quiet = false

    @Option(name: [.short, .long], help: "Provide filter values (e.g. \"dangling=true\").")
    var filter: [String] = []

    @Option(name: .long, help: "Format output using a custom template ('table', 'json' or a Go template).")
    var format: String?

    func run() async throws {
        let filters = try parseFilters(filter)
        let client = try GlobalOptions.client()
        let list = try await client.listVolumes(filters: filters)
        Output.out(try VolumeFormat.renderList(list.Volumes, format: format, quiet: quiet), terminator: "")
    }
}

/// `berth volume inspect`: the server's JSON as a pretty array, or through `--format`;
/// unknown names are reported after the others, exit 1.
struct VolumeInspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Display detailed information on one or more volumes.")

    @Option(name: [.short, .long], help: "Format output using a custom template ('json' or a Go template).")
    var format: String?

    @Argument(help: "Volumes to inspect.")
    var volumes: [String] = []

    func validate() throws {
        if volumes.isEmpty { throw ValidationError("\"berth volume inspect\" requires at least 1 argument.") }
    }

    func run() async throws {
        let client = try GlobalOptions.client()
        var found: [JSONValue] = []
        var errors: [String] = []
        for name in volumes {
            do {
                found.append(try await client.inspectVolumeValue(name))
            } catch let e as BerthClientError {
                if case .cannotConnect = e { throw e }
                errors.append(e.description)
            }
        }
        try printInspected(found, format: format)
        if !errors.isEmpty { throw CLIError.message(errors.joined(separator: "\n")) }
    }
}

/// `berth volume rm`: removes each volume in turn and prints its name; errors are printed at
/// the end (exit 1), as docker does.
struct VolumeRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove one or more volumes.", aliases: ["remove"])

    @Flag(name: [.short, .long], help: "Force the removal of one or more volumes.")
    var force = false

    @Argument(help: "Volumes to remove.")
    var volumes: [String] = []

    func validate() throws {
        if volumes.isEmpty { throw ValidationError("\"berth volume rm\" requires at least 1 argument.") }
    }

    func run() async throws {
        let client = try GlobalOptions.client()
        var errors: [String] = []
        for name in volumes {
            do {
                try await client.removeVolume(name, force: force)
                Output.out(name)
            } catch let e as BerthClientError {
                if case .cannotConnect = e { throw e }
                errors.append(e.description)
            }
        }
        if !errors.isEmpty { throw CLIError.message(errors.joined(separator: "\n")) }
    }
}

/// `berth volume prune`: removes the unused anonymous volumes (every unused one with `-a`).
struct VolumePruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove unused local volumes.")

    @Flag(name: [.short, .long], help: "Remove all unused volumes, not just anonymous ones.")
    var all = false

    @Option(name: .long, help: "Provide filter values (e.g. \"label=<label>\").")
    var filter: [String] = []

    @Flag(name: [.short, .long], help: "Do not prompt for confirmation.")
    var force = false

    /// The prune filters: `--filter` values, plus `all=true` with `-a`.
    func filters() throws -> Filters {
        var filters = try parseFilters(filter)
        if all {
            if filters.values["all"] != nil {
                throw CLIError.message("conflicting options: cannot specify both --all and --filter all=1")
            }
            filters.values["all"] = ["true"]
        }
        return filters
    }

    /// The confirmation question's first line.
    var warning: String {
        all
            ? "WARNING! This will remove all local volumes not used by at least one container."
            : "WARNING! This will remove anonymous local volumes not used by at least one container."
    }

    /// What docker prints after a prune.
    static func report(_ r: VolumePruneResponse) -> String {
        var out = ""
        if let deleted = r.VolumesDeleted, !deleted.isEmpty {
            out += "Deleted Volumes:\n" + deleted.map { $0 + "\n" }.joined() + "\n"
        }
        return out + "Total reclaimed space: \(HumanSize.decimal(r.SpaceReclaimed))"
    }

    func run() async throws {
        let filters = try filters()
        if !force && !confirm(warning + "\nAre you sure you want to continue?") { return }
        let client = try GlobalOptions.client()
        Output.out(Self.report(try await client.pruneVolumes(filters: filters)))
    }
}
