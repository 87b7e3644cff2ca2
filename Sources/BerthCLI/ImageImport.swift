import ArgumentParser
import BerthClient

/// `berth image import FILE|- [REPOSITORY[:TAG]]` / `berth import`: makes an image from a root
/// filesystem tarball and prints its ID.
struct ImageImportOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "Apply Dockerfile instruction to the created image.")
    var change: [String] = []

    @Option(name: [.short, .long], help: "Set commit message for imported image.")
    var message: String?

    @Option(name: .long, help: "Set platform if server is multi-platform capable.")
    var platform: String?

    @Argument(help: "file|- (a URL is not supported).")
    var file: String

    @Argument(help: "REPOSITORY[:TAG]")
    var reference: String?

    func run() async throws {
        if file.hasPrefix("http://") || file.hasPrefix("https://") {
            throw CLIError.message("importing from a URL is not supported: download the file and import it")
        }
        let source = try FileSource(path: file)
        var options = BerthClient.ImportOptions(changes: change, message: message, platform: platform)
        if let reference {
            let (repo, tag) = splitReference(reference)
            options.repository = repo
            options.tag = tag
        }
        let client = try GlobalOptions.client()
        let stream = try await client.importImage(from: source.byteSource, options: options)
        var display = ProgressDisplay(isTerminal: Output.isTerminal(1))
        try await display.run(stream)
    }
}

/// `berth image import`.
struct ImageImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "import", abstract: "Import the contents from a tarball to create a filesystem image.")
    @OptionGroup var options: ImageImportOptions
    func run() async throws { try await options.run() }
}

/// `berth import`.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "import", abstract: "Import the contents from a tarball to create a filesystem image.")
    @OptionGroup var options: ImageImportOptions
    func run() async throws { try await options.run() }
}
