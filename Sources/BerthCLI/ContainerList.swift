import ArgumentParser
import BerthAPI
import BerthClient
import BerthCore

/// `berth ps` / `berth container ls`.
struct ContainerListOptions: ParsableArguments {
    @Flag(name: [.short, .long], help: "Show all containers (default shows just running).")
    var all = false

    @Option(name: [.short, .long], help: "Filter output based on conditions provided.")
    var filter: [String] = []

    @Option(name: .long, help: "Format output using a custom template ('table', 'table TEMPLATE', 'json' or a Go template).")
    var format: String?

    @Option(name: [.customShort("n"), .long], help: "Show n last created containers (includes all states).")
    var last: Int = -1

    @Flag(name: [.short, .long], help: "Show the latest created container (includes all states).")
    var latest = false

    @Flag(name: .long, help: "Don't truncate output.")
    var noTrunc = false

    @Flag(name: [.short, .long], help: "Only display container IDs.")
    var quiet = false

    @Flag(name: [.short, .long], help: "Display total file sizes.")
    var size = false

    func run() async throws {
        let filters = try parseFilters(filter)
        var limit = last
        if latest && limit == -1 { limit = 1 }
        var template: Template?
        // `{{json .}}` renders every field, Size included (the `json` shorthand does not).
        if let format, !quiet, format.trimmingSpacesString() != "json", format != "table" {
            template = try Template(format)
        }
        let wantSize = size || (!quiet && (template?.uses("Size") ?? false))
        let client = try GlobalOptions.client()
        let containers = try await client.containers(all: all, limit: limit > 0 ? limit : nil, size: wantSize, filters: filters)
        Output.out(Self.render(containers, format: format, quiet: quiet, size: size, trunc: !noTrunc), terminator: "")
    }

    /// The text `ps` prints.
    static func render(_ containers: [ContainerSummary], format: String?, quiet: Bool, size: Bool, trunc: Bool,
                       now: Int64 = Format.nowNanos()) -> String {
        let rows = ContainerFormat.rows(containers, trunc: trunc, now: now)
        if quiet { return rows.map { ($0["ID"]?.stringValue ?? "") + "\n" }.joined() }
        if Template.isJSON(format) {
            return rows.map { Format.compactJSON(ContainerFormat.visible($0), sorted: true) + "\n" }.joined()
        }
        var f = format ?? "table"
        if f == "table" { f = ContainerFormat.defaultFormat(size: size) }
        guard let template = try? Template(f) else { return "" }
        return template.renderAll(rows, headers: ContainerFormat.headers)
    }
}

/// `berth ps`.
struct PsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ps", abstract: "List containers.")
    @OptionGroup var options: ContainerListOptions
    func run() async throws { try await options.run() }
}

/// `berth container ls`.
struct ContainerListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List containers.", aliases: ["list", "ps"])
    @OptionGroup var options: ContainerListOptions
    func run() async throws { try await options.run() }
}
