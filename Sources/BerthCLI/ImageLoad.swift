import ArgumentParser
import BerthClient

/// `berth image load` / `berth load`: streams an archive (file or stdin) to the daemon and
/// renders the progress stream.
struct ImageLoadOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "Read from tar archive file, instead of STDIN.")
    var input: String?

    @Flag(name: [.short, .long], help: "Suppress the load output.")
    var quiet = false

    func run() async throws {
        if input == nil && Output.isTerminal(0) {
            throw CLIError.message("requested load from stdin, but stdin is empty")
        }
        let source = try FileSource(path: input)
        let client = try GlobalOptions.client()
        let tty = Output.isTerminal(1)
        // Docker asks the daemon for a quiet stream off a terminal: bars would be dropped anyway.
        let stream = try await client.loadImage(from: source.byteSource, quiet: quiet || !tty)
        var display = ProgressDisplay(isTerminal: tty && !quiet)
        try await display.run(stream)
    }
}

/// `berth image load`.
struct ImageLoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "load", abstract: "Load an image from a tar archive or STDIN.")
    @OptionGroup var options: ImageLoadOptions
    func run() async throws { try await options.run() }
}

/// `berth load`.
struct LoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "load", abstract: "Load an image from a tar archive or STDIN.")
    @OptionGroup var options: ImageLoadOptions
    func run() async throws { try await options.run() }
}
