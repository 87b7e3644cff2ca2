import ArgumentParser
import BerthClient

/// `berth image save` / `berth save`: the daemon's tar stream to a file (atomically, through
/// `FILE.tmp`) or to stdout (never to a terminal).
struct ImageSaveOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "Write to a file, instead of STDOUT.")
    var output: String?

    @Argument(help: "Images to save.")
    var images: [String]

    func validate() throws {
        if images.isEmpty { throw ValidationError("requires at least 1 argument") }
    }

    func run() async throws {
        try await saveArchive(to: output, failure: "failed to save image") { try await $0.saveImages(images) }
    }
}

/// `berth image save`.
struct ImageSaveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "save", abstract: "Save one or more images to a tar archive (streamed to STDOUT by default).")
    @OptionGroup var options: ImageSaveOptions
    func run() async throws { try await options.run() }
}

/// `berth save`.
struct SaveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "save", abstract: "Save one or more images to a tar archive (streamed to STDOUT by default).")
    @OptionGroup var options: ImageSaveOptions
    func run() async throws { try await options.run() }
}

/// Streams the tar archive `open` asks the daemon for into `output` (atomically, through
/// `FILE.tmp`) or stdout for nil or `-`, never to a terminal; a failure midway leaves no file.
func saveArchive(to output: String?, failure: String, _ open: (BerthClient) async throws -> ByteStream) async throws {
    if (output == nil || output == "-") && Output.isTerminal(1) {
        throw CLIError.message("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    }
    let stream = try await open(try GlobalOptions.client())
    let file = try OutputFile(path: output)
    do {
        for try await chunk in stream { try await file.write(chunk) }
        try file.commit()
    } catch {
        file.abort()
        if let e = error as? BerthClientError { throw e }
        if let e = error as? CLIError { throw e }
        throw CLIError.message("\(failure): \(error)")
    }
}
