import BerthCore
import BerthOCI
import BerthSystem
import Synchronization

/// What to build, beside the Dockerfile and the context.
public struct BuildOptions: Sendable {
    /// `--build-arg NAME=VALUE` (a nil value: take it from the client's environment, which the
    /// CLI already did; nil here means unset).
    public var buildArgs: [String: String?] = [:]
    /// `--no-cache`: no step is taken from the cache.
    public var noCache = false
    /// `--target`: the stage to stop at (by name); nil builds the last stage.
    public var target: String?
    /// `--label`: set on the final image.
    public var labels: [String: String] = [:]
    /// `-q`: print only the image ID.
    public var quiet = false

    public init() {}
}

/// Lines of the build's output stream.
public enum BuildMessage: Sendable, Equatable {
    /// Text for the user (`Step 1/3 : FROM busybox`, a RUN's output…).
    case stream(String)
    /// The built image (`aux: {"ID": …}` on the wire).
    case imageID(Digest)
}

/// Runs a Dockerfile's stages against a ``BuildBackend``: the stages the target needs, in
/// parallel where they do not depend on each other; within a stage the steps in order, each
/// taken from the cache when an earlier build made the same step on the same parent. Output
/// follows Docker's classic builder (`Step N/M : …`, ` ---> Using cache`, ` ---> <id>`), one
/// stage after another even when they run at once.
public final class Builder: Sendable {
    let dockerfile: Dockerfile
    let options: BuildOptions
    let context: BuildContext
    let backend: any BuildBackend
    let sequencer: OutputSequencer
    /// Build arguments some ARG declared (the rest are reported unused).
    let consumedArgs = Mutex<Set<String>>([])

    public init(dockerfile: Dockerfile, options: BuildOptions, context: BuildContext, backend: any BuildBackend,
                output: @escaping @Sendable (BuildMessage) async -> Void) {
        self.dockerfile = dockerfile
        self.options = options
        self.context = context
        self.backend = backend
        sequencer = OutputSequencer(quiet: options.quiet, sink: output)
    }

    /// A stage to run: its index, where its steps are numbered from, what it waits for.
    struct PlannedStage: Sendable {
        var stage: Stage
        var firstStep: Int
        /// Stages (indexes) whose results this one uses.
        var dependencies: Set<Int>
        /// The stage the build is for (gets `--label`s).
        var isTarget = false
        /// The base: another stage, or an image name (expanded).
        var base: Base
        enum Base: Sendable { case stage(Int), image(String), scratch }
    }

    /// Builds and returns the final image's ID (tags are the caller's business).
    public func build() async throws -> Digest {
        let (plan, totalSteps, meta) = try makePlan()
        let results = StageResults()
        await sequencer.setOrder(plan.map(\.stage.index))
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for p in plan {
                    group.addTask { [self] in
                        var deps: [Int: BuildImage] = [:]
                        for d in p.dependencies { deps[d] = try await results.wait(d) }
                        do {
                            let image = try await runStage(p, total: totalSteps, meta: meta, stages: deps)
                            results.set(p.stage.index, .success(image))
                        } catch {
                            results.set(p.stage.index, .failure(error))
                            throw error
                        }
                        await sequencer.finish(p.stage.index)
                    }
                }
                try await group.waitForAll()
            }
        } catch {
            await sequencer.flushAll()
            throw error
        }
        guard let last = plan.last, var image = try await results.wait(last.stage.index) as BuildImage? else {
            throw BuildError("nothing to build")
        }
        if image.id == nil {
            // `FROM scratch` with nothing after it: an empty image.
            let commit = StepCommit(config: image.config, history: ImageConfig.History(created: WallClock.now().rfc3339Nano, createdBy: ""), key: "scratch")
            image = try await backend.commit(commit, parent: image)
        }
        let declared = consumedArgs.withLock { $0 }
        let unused = options.buildArgs.keys.filter { !declared.contains($0) && !Self.predefinedArgs.contains($0) }.sorted()
        if !unused.isEmpty {
            await sequencer.emit(-1, "[Warning] One or more build-args [\(unused.joined(separator: " "))] were not consumed\n")
        }
        await sequencer.flushAll()
        return image.id!
    }

    /// Args every build accepts without an ARG (Docker's proxy variables).
    static let predefinedArgs: Set<String> = [
        "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy",
        "ALL_PROXY", "all_proxy",
    ]

    /// The stages the target needs, with global step numbers, and the meta args' values.
    func makePlan() throws -> (plans: [PlannedStage], total: Int, meta: [String: String]) {
        let shell = ShellWords(escape: dockerfile.escape)
        var meta: [String: String] = [:]
        for a in dockerfile.metaArgs {
            guard case .arg(let defs) = a.kind else { continue }
            for d in defs {
                if let given = options.buildArgs[d.name] { if let v = given { meta[d.name] = v; continue } }
                if let dv = d.defaultValue { meta[d.name] = try expand(shell, dv, meta, a) }
            }
            consumedArgs.withLock { c in for d in defs { c.insert(d.name) } }
        }
        let stages = dockerfile.stages
        guard !stages.isEmpty else { throw BuildError("the Dockerfile has no FROM instruction") }
        var targetIndex = stages.count - 1
        if let t = options.target, !t.isEmpty {
            guard let i = stages.firstIndex(where: { $0.name == t.lowercased() }) else {
                throw BuildError("failed to reach build target \(t) in Dockerfile")
            }
            targetIndex = i
        }
        func stageIndex(_ ref: String, before limit: Int) -> Int? {
            let r = ref.lowercased()
            if let i = stages[..<limit].lastIndex(where: { $0.name == r }) { return i }
            if let n = Int(r), n >= 0, n < limit { return n }
            return nil
        }
        var bases: [PlannedStage.Base] = []
        var deps: [Set<Int>] = []
        for (i, s) in stages.enumerated() {
            guard case .from(let raw, _, _) = s.from.kind else { throw BuildError("stage \(i) does not start with FROM") }
            let name = try expand(shell, raw, meta, s.from)
            guard !name.isEmpty else { throw BuildError("base name (\(raw)) should not be blank") }
            var d = Set<Int>()
            let base: PlannedStage.Base
            if let j = stageIndex(name, before: i) { base = .stage(j); d.insert(j) }
            else if name == "scratch" { base = .scratch }
            else { base = .image(name) }
            for ins in s.instructions {
                if case .copy = ins.kind, let from = ins.flag("from") {
                    if let j = stageIndex(try expand(shell, from, meta, ins), before: i) { d.insert(j) }
                    else if let j = stageIndex(from, before: stages.count), j >= i {
                        throw BuildError("dockerfile parse error on line \(ins.line): COPY --from=\(from) refers to a stage that is not defined before this one")
                    }
                }
            }
            bases.append(base)
            deps.append(d)
        }
        // Mark what the target needs.
        var needed = Set<Int>()
        var todo = [targetIndex]
        while let i = todo.popLast() {
            guard needed.insert(i).inserted else { continue }
            todo.append(contentsOf: deps[i])
        }
        var plans: [PlannedStage] = []
        var step = 1
        for i in needed.sorted() {
            plans.append(PlannedStage(stage: stages[i], firstStep: step, dependencies: deps[i], base: bases[i]))
            step += 1 + stages[i].instructions.count
        }
        if !options.labels.isEmpty { step += 1 }
        plans[plans.count - 1].isTarget = true
        return (plans, step - 1, meta)
    }

    func expand(_ shell: ShellWords, _ raw: String, _ env: [String: String], _ ins: Instruction) throws -> String {
        do { return try shell.word(raw, env: env) } catch {
            throw BuildError("dockerfile parse error on line \(ins.line): \(error)")
        }
    }
}

/// Stage results, awaited by the stages that use them.
final class StageResults: Sendable {
    private struct State {
        var results: [Int: Result<BuildImage, any Error>] = [:]
        var waiters: [Int: [CheckedContinuation<BuildImage, any Error>]] = [:]
    }
    private let state = Mutex(State())

    func set(_ index: Int, _ result: Result<BuildImage, any Error>) {
        let waiters = state.withLock { s -> [CheckedContinuation<BuildImage, any Error>] in
            s.results[index] = result
            return s.waiters.removeValue(forKey: index) ?? []
        }
        for w in waiters { w.resume(with: result) }
    }

    func wait(_ index: Int) async throws -> BuildImage {
        try await withCheckedThrowingContinuation { k in
            let ready = state.withLock { s -> Result<BuildImage, any Error>? in
                if let r = s.results[index] { return r }
                s.waiters[index, default: []].append(k)
                return nil
            }
            if let ready { k.resume(with: ready) }
        }
    }
}

/// Keeps the output of stages that run at once in stage order: the first unfinished stage
/// streams live, later ones are held until every stage before them finished.
actor OutputSequencer {
    let quiet: Bool
    let sink: @Sendable (BuildMessage) async -> Void
    /// The stages in output order.
    var order: [Int] = []
    var position = 0
    var held: [Int: [BuildMessage]] = [:]
    var finished = Set<Int>()

    init(quiet: Bool, sink: @escaping @Sendable (BuildMessage) async -> Void) {
        self.quiet = quiet
        self.sink = sink
    }

    func setOrder(_ stages: [Int]) { order = stages }

    var current: Int? { position < order.count ? order[position] : nil }

    func emit(_ stage: Int, _ text: String) async {
        if quiet { return }
        if stage == current || current == nil {
            await sink(.stream(text))
        } else {
            held[stage, default: []].append(.stream(text))
        }
    }

    /// Stage `stage` is done: the next stages' held output goes out.
    func finish(_ stage: Int) async {
        finished.insert(stage)
        while let c = current, finished.contains(c) {
            position += 1
            if let n = current { for m in held.removeValue(forKey: n) ?? [] { await sink(m) } }
        }
    }

    /// Everything held, in stage order (at the end, or on failure).
    func flushAll() async {
        for k in held.keys.sorted() {
            for m in held.removeValue(forKey: k) ?? [] { await sink(m) }
        }
        position = order.count
    }

    /// Output the quiet mode does not suppress (the final ID).
    func always(_ m: BuildMessage) async { await sink(m) }
}
