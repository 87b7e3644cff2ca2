import ArgumentParser
import BerthAPI
import BerthClient
import BerthCore

/// `berth images` / `berth image ls` options and behaviour.
struct ImageListOptions: ParsableArguments {
    @Argument(help: "Only list images matching this repository[:tag].")
    var reference: String?

    @Flag(name: [.short, .long], help: "Show all images (default hides intermediate images).")
    var all = false

    @Flag(name: [.short, .long], help: "Only show image IDs.")
    var quiet = false

    @Flag(name: .long, help: "Show digests.")
    var digests = false

    @Flag(name: .long, help: "Don't truncate output.")
    var noTrunc = false

    @Option(name: [.short, .long], help: "Filter output based on conditions provided.")
    var filter: [String] = []

    @Option(name: .long, help: "Format output using a custom template ('table', 'json' or a Go template).")
    var format: String?

    static let headers = [
        "ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
        "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS",
        "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE", "VirtualSize": "SIZE",
    ]

    func run() async throws {
        var filters = try parseFilters(filter)
        if let reference { filters.values["reference", default: []].append(reference) }
        let client = try GlobalOptions.client()
        let images = try await client.images(all: all, digests: digests, filters: filters)
        let rows = Self.rows(images, noTrunc: noTrunc)
        if quiet {
            for r in rows { Output.out(r["ID"]?.stringValue ?? "") }
            return
        }
        let text: String
        if Template.isJSON(format) {
            text = rows.map { Format.compactJSON($0, sorted: true) + "\n" }.joined()
        } else {
            var f = format ?? "table"
            if f == "table" {
                f = "table {{.Repository}}\t{{.Tag}}\t" + (digests ? "{{.Digest}}\t" : "") + "{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
            }
            text = try Template(f).renderAll(rows, headers: Self.headers)
        }
        Output.out(text, terminator: "")
    }

    /// One row per repository:tag (or one `<none>` row), as docker's image formatter makes them.
    static func rows(_ images: [ImageSummary], noTrunc: Bool) -> [JSONValue] {
        let now = Format.nowNanos()
        var rows: [JSONValue] = []
        for image in images {
            let id = noTrunc ? image.Id : Format.shortID(image.Id)
            func row(_ repo: String, _ tag: String, _ digest: String) -> JSONValue {
                .object([
                    "Containers": .string(image.Containers < 0 ? "N/A" : String(image.Containers)),
                    "CreatedAt": .string(Format.goTime(image.Created)),
                    "CreatedSince": .string(Format.since(image.Created, now: now)),
                    "Digest": .string(digest),
                    "ID": .string(id),
                    "Repository": .string(repo),
                    "SharedSize": .string(image.SharedSize < 0 ? "N/A" : Format.size3(image.SharedSize)),
                    "Size": .string(Format.size3(image.Size)),
                    "Tag": .string(tag),
                    "UniqueSize": .string(image.SharedSize < 0 ? "N/A" : Format.size3(image.Size - image.SharedSize)),
                    "VirtualSize": .string(Format.size3(image.VirtualSize ?? image.Size)),
                ])
            }
            // repository → digest, from RepoDigests (`repo@sha256:…`).
            var digestsByRepo: [String: String] = [:]
            for d in image.RepoDigests {
                guard let at = d.lastIndex(of: "@") else { continue }
                digestsByRepo[String(d[..<at])] = String(d[d.index(after: at)...])
            }
            let tags = image.RepoTags.filter { $0 != "<none>:<none>" }.sorted()
            var seenRepos = Set<String>()
            for t in tags {
                let (repo, tag) = splitTag(t)
                seenRepos.insert(repo)
                rows.append(row(repo, tag, digestsByRepo[repo] ?? "<none>"))
            }
            for (repo, digest) in digestsByRepo.sorted(by: { $0.key < $1.key }) where !seenRepos.contains(repo) {
                rows.append(row(repo, "<none>", digest))
            }
            if tags.isEmpty && digestsByRepo.isEmpty { rows.append(row("<none>", "<none>", "<none>")) }
        }
        return rows
    }

    /// `repo:tag` → (repo, tag); the tag is after the last `:` that follows the last `/`.
    static func splitTag(_ ref: String) -> (String, String) {
        if let colon = ref.lastIndex(of: ":"), !ref[colon...].contains("/") {
            return (String(ref[..<colon]), String(ref[ref.index(after: colon)...]))
        }
        return (ref, "<none>")
    }
}

/// `berth images`.
struct ImagesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "images", abstract: "List images.")
    @OptionGroup var options: ImageListOptions
    func run() async throws { try await options.run() }
}

/// `berth image ls`.
struct ImageListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List images.", aliases: ["list"])
    @OptionGroup var options: ImageListOptions
    func run() async throws { try await options.run() }
}

/// `berth image …`.
struct ImageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image", abstract: "Manage images.",
        subcommands: [
            ImageListCommand.self, ImageInspectCommand.self, ImageHistoryCommand.self, ImageTagCommand.self,
            ImageRemoveCommand.self, ImagePruneCommand.self, ImageLoadCommand.self, ImageSaveCommand.self,
            ImageImportCommand.self, BuildCommand.self, PullCommand.self, PushCommand.self,
        ])
}
