import ArgumentParser
import BerthClient

/// `berth image rm` / `berth rmi`: removes each image in turn; errors are collected and
/// printed at the end (exit 1), as docker does.
struct ImageRemoveOptions: ParsableArguments {
    @Flag(name: [.short, .long], help: "Force removal of the image.")
    var force = false

    @Flag(name: .long, help: "Do not delete untagged parents.")
    var noPrune = false

    @Argument(help: "Images to remove.")
    var images: [String]

    func validate() throws {
        if images.isEmpty { throw ValidationError("requires at least 1 argument") }
    }

    func run() async throws {
        let client = try GlobalOptions.client()
        var errors: [String] = []
        for name in images {
            do {
                for item in try await client.removeImage(name, force: force, noPrune: noPrune) {
                    if let d = item.Deleted, !d.isEmpty { Output.out("Deleted: \(d)") } else if let u = item.Untagged { Output.out("Untagged: \(u)") }
                }
            } catch let e as BerthClientError {
                if case .cannotConnect = e { throw e }
                errors.append(e.description)
            }
        }
        if !errors.isEmpty { throw CLIError.message(errors.joined(separator: "\n")) }
    }
}

/// `berth image rm`.
struct ImageRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove one or more images.", aliases: ["rmi", "remove"])
    @OptionGroup var options: ImageRemoveOptions
    func run() async throws { try await options.run() }
}

/// `berth rmi`.
struct RmiCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rmi", abstract: "Remove one or more images.")
    @OptionGroup var options: ImageRemoveOptions
    func run() async throws { try await options.run() }
}
