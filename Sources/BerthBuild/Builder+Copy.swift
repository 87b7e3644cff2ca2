import BerthCore
import BerthOCI
import BerthSystem
import Synchronization

extension Builder {
    /// COPY and ADD: sources from the context (minus `.dockerignore`d files), another stage or
    /// an image (`--from`), or heredocs; the cache key covers their content.
    func copy(_ args: CopyArguments, _ ins: Instruction, _ s: inout StageState, stage: Int, add: Bool,
              stages: [Int: BuildImage]) async throws {
        let what = add ? "ADD" : "COPY"
        var plan = ContextCopier.Plan(sources: [], inline: [], destination: "")
        var patterns: [String] = []
        for raw in args.sources {
            if raw.hasPrefix("<<"), let marker = try? DockerfileParser.heredoc(in: raw),
               let doc = ins.heredocs.first(where: { $0.name == marker.name }) {
                // Unquoted delimiter: variables expand, quotes and escapes stay (BuildKit's
                // RawQuotes + RawEscapes).
                var lexer = ShellWords(escape: dockerfile.escape)
                lexer.rawQuotes = true
                lexer.rawEscapes = true
                let content: String
                do { content = doc.expand ? try lexer.word(doc.content, env: s.variables) : doc.content } catch {
                    throw BuildError("dockerfile parse error on line \(ins.line): \(error)")
                }
                plan.inline.append((doc.name, Array(content.utf8)))
                continue
            }
            let src = try s.word(raw, ins)
            if add, src.hasPrefix("http://") || src.hasPrefix("https://") || src.hasPrefix("git@") {
                throw BuildError("ADD failed: \(src): remote sources (URLs and git repositories) need network access to the source, which this builder does not have; download the file into the build context and ADD it from there")
            }
            patterns.append(src)
        }
        var dest = try s.word(args.destination, ins)
        guard !dest.isEmpty else { throw BuildError("dockerfile parse error on line \(ins.line): \(what) requires a destination") }
        let trailingSlash = dest.hasSuffix("/") || dest == "." || dest.hasSuffix("/.")
        if !dest.hasPrefix("/") { dest = (s.config.WorkingDir.flatMap { $0.isEmpty ? nil : $0 } ?? "/") + "/" + dest }
        plan.destination = Self.cleanPath(dest) + (trailingSlash ? "/" : "")
        if let c = ins.flag("chmod") {
            let v = try s.word(c, ins)
            guard let mode = UInt32(v, radix: 8), mode <= 0o7777 else {
                throw BuildError("dockerfile parse error on line \(ins.line): invalid chmod parameter: \(v)")
            }
            plan.chmod = mode
        }
        plan.extractArchives = add
        let chown = try ins.flag("chown").map { try s.word($0, ins) }

        // Where the sources are.
        var sourceImage: BuildImage?
        if let f = ins.flag("from") {
            guard !add else { throw BuildError("dockerfile parse error on line \(ins.line): ADD does not support --from") }
            let from = try s.word(f, ins).lowercased()
            if let j = dockerfile.stages.lastIndex(where: { $0.name == from && $0.index < stage }) ?? Int(from).flatMap({ $0 < stage ? $0 : nil }),
               let img = stages[j] {
                sourceImage = img
            } else {
                do { sourceImage = try await backend.baseImage(from) } catch let e as BerthError {
                    throw BuildError("\(what) --from=\(from): \(e.message)")
                }
            }
        }
        let fromID = sourceImage?.id?.description ?? ""
        let createdByBase = s.nop + what + " "
        let destination = plan.destination
        let image = s.image
        let isContext = sourceImage == nil
        if isContext { plan.ignore = context.ignore }
        let planBase = plan
        let patternsCopy = patterns
        let result: (BuildImage, Bool) = try await withSourceRoot(sourceImage) { [backend, options, context] root in
            var plan = planBase
            if !patternsCopy.isEmpty {
                plan.sources = try await BlockingWork.run {
                    try ContextCopier.resolve(patternsCopy, root: root, ignore: planBase.ignore, isContext: isContext, what: what)
                }
            }
            let resolved = plan
            let checksum = try await BlockingWork.run { try ContextCopier.checksum(resolved, root: root) }
            let key = Self.key([what, checksum, fromID, chown ?? ""])
            if !options.noCache, let hit = backend.cached(parent: image.id, key: key) { return (hit, true) }
            let kind = resolved.sources.count + resolved.inline.count > 1 ? "multi" : (resolved.sources.first?.isDirectory == true ? "dir" : "file")
            var config = image.config
            let now = WallClock.now().rfc3339Nano
            config.created = now
            let createdBy = createdByBase + "\(kind):\(checksum.dropFirst(7)) in \(destination) "
            let commit = StepCommit(config: config, history: ImageConfig.History(created: now, createdBy: createdBy), key: key)
            _ = context
            let made = try await backend.modify(image, commit: commit) { dst in
                var p = resolved
                if let chown {
                    let (u, g) = try backend.owner(chown, root: dst)
                    p.uid = u
                    p.gid = g
                }
                let final = p
                try await BlockingWork.run { try ContextCopier.copy(final, sourceRoot: root, destinationRoot: dst, what: what) }
            }
            return (made, false)
        }
        if result.1 { await say(stage, " ---> Using cache\n") }
        s.image = result.0
        await say(stage, " ---> \(s.image.shortID)\n")
    }

    /// Runs `body` with the root the sources are read from: the context, or an image's
    /// filesystem mounted for the duration.
    func withSourceRoot<T: Sendable>(_ image: BuildImage?, _ body: @escaping @Sendable (String) async throws -> T) async throws -> T {
        guard let image else { return try await body(context.root) }
        let box = ResultBox<T>()
        try await backend.withRoot(of: image) { root in box.set(try await body(root)) }
        return box.get()!
    }
}

/// Carries a value out of a `@Sendable` closure that returns Void.
final class ResultBox<T: Sendable>: Sendable {
    private let value = Mutex<T?>(nil)
    func set(_ v: T) { value.withLock { $0 = v } }
    func get() -> T? { value.withLock { $0 } }
}
