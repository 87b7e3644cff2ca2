import ArgumentParser
import BerthAPI
import BerthClient
import BerthCore
import BerthOCI

/// `berth network …`.
struct NetworkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "network", abstract: "Manage networks.",
        subcommands: [
            NetworkConnectCommand.self, NetworkCreateCommand.self, NetworkDisconnectCommand.self, NetworkInspectCommand.self,
            NetworkListCommand.self, NetworkPruneCommand.self, NetworkRemoveCommand.self,
        ])
}

/// `berth network create [OPTIONS] NETWORK`: prints the new network's id.
struct NetworkCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a network.")

    @Option(name: [.short, .long], help: "Driver to manage the Network.")
    var driver = "bridge"
    @Option(name: .long, help: "Subnet in CIDR format that represents a network segment.")
    var subnet: [String] = []
    @Option(name: .long, help: "IPv4 or IPv6 Gateway for the master subnet.")
    var gateway: [String] = []
    @Option(name: .customLong("ip-range"), help: "Allocate container ip from a sub-range.")
    var ipRange: [String] = []
    @Flag(name: .long, help: "Restrict external access to the network.")
    var `internal` = false
    @Flag(name: .long, help: "Enable manual container attachment.")
    var attachable = false
    @Flag(name: .long, help: "Enable or disable IPv6 networking.")
    var ipv6 = false
    @Option(name: .long, help: "Set metadata on a network.")
    var label: [String] = []
    @Option(name: [.short, .long], help: "Set driver specific options.")
    var opt: [String] = []
    @Argument(help: "The network's name.")
    var name: String

    /// The `POST /networks/create` body: one IPAM config per subnet, with the gateway and range
    /// given after it (docker's pairing by order).
    func request() throws -> NetworkCreateRequest {
        if gateway.count > subnet.count || ipRange.count > subnet.count {
            throw CLIError.message("every ip-range or gateway must have a corresponding subnet")
        }
        let configs = subnet.enumerated().map { i, s in
            NetworkIPAM.Config(Subnet: s, IPRange: i < ipRange.count ? ipRange[i] : nil, Gateway: i < gateway.count ? gateway[i] : nil)
        }
        var labels: [String: String] = [:]
        for l in label {
            let (k, v) = VolumeCreateCommand.keyValue(l)
            labels[k] = v
        }
        var options: [String: String] = [:]
        for o in opt {
            let (k, v) = VolumeCreateCommand.keyValue(o)
            options[k] = v
        }
        return NetworkCreateRequest(Name: name, Driver: driver, Internal: `internal`, Attachable: attachable,
                                    IPAM: NetworkIPAM(Driver: "default", Config: configs, Options: [:]), EnableIPv6: ipv6,
                                    Options: options, Labels: labels)
    }

    func run() async throws {
        let client = try GlobalOptions.client()
        let created = try await client.createNetwork(try request())
        if !created.Warning.isEmpty { Output.err("WARNING: " + created.Warning) }
        Output.out(created.Id)
    }
}

/// `berth network ls`.
struct NetworkListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List networks.", aliases: ["list"])

    @Flag(name: [.short, .long], help: "Only display network IDs.")
    var quiet = false
    @Flag(name: .customLong("no-trunc"), help: "Do not truncate the output.")
    var noTrunc = false
    @Option(name: [.short, .long], help: "Provide filter values (e.g. \"driver=bridge\").")
    var filter: [String] = []
    @Option(name: .long, help: "Format output using a custom template ('table', 'json' or a Go template).")
    var format: String?

    static let headers = [
        "ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv6": "IPV6", "IPv4": "IPV4",
        "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT",
    ]

    /// One row as docker's network formatter shows it.
    static func row(_ n: JSONValue, truncate: Bool) -> JSONValue {
        let o = n.objectValue ?? [:]
        let id = o["Id"]?.stringValue ?? ""
        let labels = (o["Labels"]?.objectValue ?? [:]).map { "\($0.key)=\($0.value.stringValue ?? "")" }.sorted()
        return .object([
            "ID": .string(truncate ? String(id.prefix(12)) : id),
            "Name": o["Name"] ?? "",
            "Driver": o["Driver"] ?? "",
            "Scope": o["Scope"] ?? "",
            "IPv6": .string(String(o["EnableIPv6"]?.boolValue ?? false)),
            "IPv4": .string(String(o["EnableIPv4"]?.boolValue ?? true)),
            "Internal": .string(String(o["Internal"]?.boolValue ?? false)),
            "Labels": .string(labels.joined(separator: ",")),
            "CreatedAt": o["Created"] ?? "",
        ])
    }

    func run() async throws {
        let client = try GlobalOptions.client()
        let list = try await client.listNetworks(filters: try parseFilters(filter))
        let rows = list.sorted { ($0.objectValue?["Name"]?.stringValue ?? "") < ($1.objectValue?["Name"]?.stringValue ?? "") }
            .map { Self.row($0, truncate: !noTrunc) }
        if Template.isJSON(format) {
            Output.out(rows.map { Format.compactJSON($0, sorted: true) + "\n" }.joined(), terminator: "")
            return
        }
        var f = format ?? ""
        if f.isEmpty || f == "table" { f = quiet ? "{{.ID}}" : "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}" }
        Output.out(try Template(f).renderAll(rows, headers: Self.headers), terminator: "")
    }
}

/// `berth network inspect`: the server's JSON as a pretty array, or through `--format`.
struct NetworkInspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Display detailed information on one or more networks.")

    @Option(name: [.short, .long], help: "Format output using a custom template ('json' or a Go template).")
    var format: String?
    @Argument(help: "Networks to inspect.")
    var networks: [String] = []

    func validate() throws {
        if networks.isEmpty { throw ValidationError("\"berth network inspect\" requires at least 1 argument.") }
    }

    func run() async throws {
        let client = try GlobalOptions.client()
        var found: [JSONValue] = []
        var errors: [String] = []
        for name in networks {
            do { found.append(try await client.inspectNetworkValue(name)) } catch let e as BerthClientError {
                if case .cannotConnect = e { throw e }
                errors.append(e.description)
            }
        }
        try printInspected(found, format: format)
        if !errors.isEmpty { throw CLIError.message(errors.joined(separator: "\n")) }
    }
}

/// `berth network rm`: removes each network, printing its name; errors at the end (exit 1).
struct NetworkRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove one or more networks.", aliases: ["remove"])

    @Flag(name: [.short, .long], help: "Do not error if the network does not exist.")
    var force = false
    @Argument(help: "Networks to remove.")
    var networks: [String] = []

    func validate() throws {
        if networks.isEmpty { throw ValidationError("\"berth network rm\" requires at least 1 argument.") }
    }

    func run() async throws {
        let client = try GlobalOptions.client()
        var errors: [String] = []
        for name in networks {
            do {
                try await client.removeNetwork(name)
                Output.out(name)
            } catch let e as BerthClientError {
                if case .cannotConnect = e { throw e }
                if force && e.description.contains("not found") { continue }
                errors.append(e.description)
            }
        }
        if !errors.isEmpty { throw CLIError.message(errors.joined(separator: "\n")) }
    }
}

/// `berth network connect [--ip --alias --link] NETWORK CONTAINER`.
struct NetworkConnectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "connect", abstract: "Connect a container to a network.")

    @Option(name: .long, help: "IPv4 address (e.g., \"172.30.100.104\").")
    var ip: String?
    @Option(name: .long, help: "IPv6 address (e.g., \"2001:db8::33\").")
    var ip6: String?
    @Option(name: .long, help: "Add network-scoped alias for the container.")
    var alias: [String] = []
    @Option(name: .long, help: "Add link to another container.")
    var link: [String] = []
    @Argument(help: "The network.")
    var network: String
    @Argument(help: "The container.")
    var container: String

    func run() async throws {
        var settings = EndpointSettings()
        if ip != nil || ip6 != nil { settings.IPAMConfig = EndpointIPAMConfig(IPv4Address: ip, IPv6Address: ip6) }
        if !alias.isEmpty { settings.Aliases = alias }
        if !link.isEmpty { settings.Links = link }
        let client = try GlobalOptions.client()
        try await client.connectNetwork(network, NetworkConnectRequest(Container: container, EndpointConfig: settings))
    }
}

/// `berth network disconnect [-f] NETWORK CONTAINER`.
struct NetworkDisconnectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "disconnect", abstract: "Disconnect a container from a network.")

    @Flag(name: [.short, .long], help: "Force the container to disconnect from a network.")
    var force = false
    @Argument(help: "The network.")
    var network: String
    @Argument(help: "The container.")
    var container: String

    func run() async throws {
        let client = try GlobalOptions.client()
        try await client.disconnectNetwork(network, NetworkDisconnectRequest(Container: container, Force: force))
    }
}

/// `berth network prune`: removes the user-defined networks no container uses.
struct NetworkPruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove all unused networks.")

    @Option(name: .long, help: "Provide filter values (e.g. \"until=<timestamp>\").")
    var filter: [String] = []
    @Flag(name: [.short, .long], help: "Do not prompt for confirmation.")
    var force = false

    static func report(_ r: NetworkPruneResponse) -> String {
        guard let deleted = r.NetworksDeleted, !deleted.isEmpty else { return "" }
        return "Deleted Networks:\n" + deleted.map { $0 + "\n" }.joined()
    }

    func run() async throws {
        let filters = try parseFilters(filter)
        if !force && !confirm("WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?") {
            return
        }
        let client = try GlobalOptions.client()
        Output.out(Self.report(try await client.pruneNetworks(filters: filters)), terminator: "")
    }
}
