import ArgumentParser
import BerthAPI
import BerthClient
import BerthCore

/// `berth image history` / `berth history`.
struct ImageHistoryOptions: ParsableArguments {
    @Option(name: .long, help: "Print sizes and dates in human readable format.")
    var human: Bool = true

    @Flag(name: [.short, .long], help: "Only show image IDs.")
    var quiet = false

    @Flag(name: .long, help: "Don't truncate output.")
    var noTrunc = false

    @Option(name: .long, help: "Format output using a custom template ('table', 'json' or a Go template).")
    var format: String?

    @Argument(help: "The image.")
    var image: String

    static let headers = ["ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"]

    func run() async throws {
        let client = try GlobalOptions.client()
        let items = try await client.imageHistory(image)
        let now = Format.nowNanos()
        let rows: [JSONValue] = items.map { h in
            let id = h.Id == "<missing>" || noTrunc ? h.Id : Format.shortID(h.Id)
            var createdBy = h.CreatedBy.replacingOccurrences("\t", " ")
            if !noTrunc && createdBy.count > 45 { createdBy = String(createdBy.prefix(44)) + "…" }
            return .object([
                "Comment": .string(h.Comment),
                "CreatedAt": .string(Format.rfc3339(h.Created)),
                "CreatedBy": .string(createdBy),
                "CreatedSince": .string(human ? Format.since(h.Created, now: now) : Format.rfc3339(h.Created)),
                "ID": .string(id),
                "Size": .string(human ? Format.size3(h.Size) : String(h.Size)),
            ])
        }
        if quiet {
            for r in rows { Output.out(r["ID"]?.stringValue ?? "") }
            return
        }
        if Template.isJSON(format) {
            Output.out(rows.map { Format.compactJSON($0, sorted: true) + "\n" }.joined(), terminator: "")
            return
        }
        var f = format ?? "table"
        if f == "table" { f = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}" }
        Output.out(try Template(f).renderAll(rows, headers: Self.headers), terminator: "")
    }
}

/// `berth image history`.
struct ImageHistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "history", abstract: "Show the history of an image.")
    @OptionGroup var options: ImageHistoryOptions
    func run() async throws { try await options.run() }
}

/// `berth history`.
struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "history", abstract: "Show the history of an image.")
    @OptionGroup var options: ImageHistoryOptions
    func run() async throws { try await options.run() }
}
