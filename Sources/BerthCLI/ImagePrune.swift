import ArgumentParser
import BerthAPI
import BerthClient

/// `berth image prune`.
struct ImagePruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove unused images.")

    @Flag(name: [.short, .long], help: "Remove all unused images, not just dangling ones.")
    var all = false

    @Flag(name: [.short, .long], help: "Do not prompt for confirmation.")
    var force = false

    @Option(name: .long, help: "Provide filter values (e.g. \"until=<timestamp>\").")
    var filter: [String] = []

    func run() async throws {
        var filters = try parseFilters(filter)
        filters.values["dangling"] = [all ? "false" : "true"]
        let warning = all
            ? "WARNING! This will remove all images without at least one container associated to them."
            : "WARNING! This will remove all dangling images."
        if !force && !confirm(warning + "\nAre you sure you want to continue?") {
            return
        }
        let client = try GlobalOptions.client()
        let report = try await client.pruneImages(filters: filters)
        var out = ""
        if let deleted = report.ImagesDeleted, !deleted.isEmpty {
            out += "Deleted Images:\n"
            for d in deleted {
                if let u = d.Untagged, !u.isEmpty { out += "untagged: \(u)\n" } else if let del = d.Deleted { out += "deleted: \(del)\n" }
            }
            out += "\n"
        }
        out += "Total reclaimed space: \(HumanSize.decimal(report.SpaceReclaimed))"
        Output.out(out)
    }
}
