import ArgumentParser
import BerthClient
import BerthCore

/// `berth inspect`: each name is looked up as a container, then as an image (docker's
/// autodetection; `--type` picks one). The server's JSON is printed as one pretty array, or
/// through `--format`; names not found are reported after the others, exit 1.
struct InspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Return low-level information on Berth objects.")

    @Option(name: [.short, .long], help: "Format output using a custom template ('json' or a Go template).")
    var format: String?

    @Flag(name: [.short, .long], help: "Display total file sizes if the type is container.")
    var size = false

    @Option(name: .long, help: "Only inspect objects of the given type (container, image).")
    var type: String?

    @Argument(help: "Names or IDs of objects to inspect.")
    var names: [String] = []

    func validate() throws {
        if names.isEmpty { throw ValidationError("\"berth inspect\" requires at least 1 argument.") }
        if let type, !["container", "image", ""].contains(type) {
            throw ValidationError("\"\(type)\" is not a valid value for --type (berth knows container and image)")
        }
    }

    func run() async throws {
        let client = try GlobalOptions.client()
        let size = self.size
        var found: [JSONValue] = []
        var errors: [String] = []
        for name in names {
            do {
                switch type ?? "" {
                case "container": found.append(try await client.inspectContainerValue(name, size: size))
                case "image": found.append(try await client.inspectImage(name))
                default:
                    if let v = try await Self.autodetect(client, name, size: size) {
                        found.append(v)
                    } else {
                        errors.append("Error: No such object: \(name)")
                    }
                }
            } catch let e as BerthClientError {
                if case .cannotConnect = e { throw e }
                errors.append(e.description)
            }
        }
        try printInspected(found, format: format)
        if !errors.isEmpty { throw CLIError.message(errors.joined(separator: "\n")) }
    }

    /// The container or image named `name`; nil when neither exists.
    static func autodetect(_ client: BerthClient, _ name: String, size: Bool) async throws -> JSONValue? {
        do { return try await client.inspectContainerValue(name, size: size) } catch let e as BerthClientError where e.isNotFound {}
        do { return try await client.inspectImage(name) } catch let e as BerthClientError where e.isNotFound {}
        return nil
    }
}

/// Prints inspect results as docker does: a pretty JSON array, or one template line each.
func printInspected(_ found: [JSONValue], format: String?) throws {
    if let format, !Template.isJSON(format) {
        let template = try Template(format)
        for v in found { Output.out(template.render(v)) }
    } else {
        Output.out(Format.indentedJSON(.array(found)))
    }
}

/// `berth container inspect`.
struct ContainerInspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Display detailed information on one or more containers.")

    @Option(name: [.short, .long], help: "Format output using a custom template ('json' or a Go template).")
    var format: String?

    @Flag(name: [.short, .long], help: "Display total file sizes.")
    var size = false

    @Argument(help: "Containers to inspect.")
    var containers: [String] = []

    func validate() throws {
        if containers.isEmpty { throw ValidationError("\"berth container inspect\" requires at least 1 argument.") }
    }

    func run() async throws {
        let client = try GlobalOptions.client()
        var found: [JSONValue] = []
        var errors: [String] = []
        for name in containers {
            do {
                found.append(try await client.inspectContainerValue(name, size: size))
            } catch let e as BerthClientError {
                if case .cannotConnect = e { throw e }
                errors.append(e.description)
            }
        }
        try printInspected(found, format: format)
        if !errors.isEmpty { throw CLIError.message(errors.joined(separator: "\n")) }
    }
}
