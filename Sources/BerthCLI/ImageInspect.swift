import ArgumentParser
import BerthClient
import BerthCore

/// `berth image inspect` / `berth inspect`: the server's JSON, as a pretty array, or through
/// `--format`. Unknown names are reported after the others, exit 1.
struct ImageInspectOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "Format output using a custom template ('json' or a Go template).")
    var format: String?

    @Argument(help: "Images to inspect.")
    var images: [String]

    func validate() throws {
        if images.isEmpty { throw ValidationError("requires at least 1 argument") }
    }

    func run() async throws {
        let client = try GlobalOptions.client()
        var found: [JSONValue] = []
        var errors: [String] = []
        for name in images {
            do {
                found.append(try await client.inspectImage(name))
            } catch let e as BerthClientError {
                if case .cannotConnect = e { throw e }
                errors.append(e.description)
            }
        }
        if let format, !Template.isJSON(format) {
            let template = try Template(format)
            for v in found { Output.out(template.render(v)) }
        } else {
            Output.out(Format.indentedJSON(.array(found)))
        }
        if !errors.isEmpty { throw CLIError.message(errors.joined(separator: "\n")) }
    }
}

/// `berth image inspect`.
struct ImageInspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Display detailed information on one or more images.")
    @OptionGroup var options: ImageInspectOptions
    func run() async throws { try await options.run() }
}
