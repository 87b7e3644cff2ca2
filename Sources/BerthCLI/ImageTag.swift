import ArgumentParser
import BerthClient

/// `berth image tag SOURCE TARGET` / `berth tag`.
struct ImageTagOptions: ParsableArguments {
    @Argument(help: "SOURCE_IMAGE[:TAG]")
    var source: String

    @Argument(help: "TARGET_IMAGE[:TAG]")
    var target: String

    func run() async throws {
        let client = try GlobalOptions.client()
        let (repo, tag) = splitReference(target)
        try await client.tagImage(source, repository: repo, tag: tag)
    }
}

/// `repo[:tag][@digest]` → (repo, tag): the tag follows the last `:` after the last `/`.
func splitReference(_ ref: String) -> (String, String?) {
    var r = Substring(ref)
    if let at = r.firstIndex(of: "@") { r = r[..<at] }
    if let colon = r.lastIndex(of: ":"), !r[colon...].contains("/") {
        return (String(r[..<colon]), String(r[r.index(after: colon)...]))
    }
    return (String(r), nil)
}

/// `berth image tag`.
struct ImageTagCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tag", abstract: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.")
    @OptionGroup var options: ImageTagOptions
    func run() async throws { try await options.run() }
}

/// `berth tag`.
struct TagCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tag", abstract: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.")
    @OptionGroup var options: ImageTagOptions
    func run() async throws { try await options.run() }
}
