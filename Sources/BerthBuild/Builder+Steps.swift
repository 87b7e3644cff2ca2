import BerthCore
import Crypto
import BerthOCI
import BerthSystem

/// The state of one stage between steps.
struct StageState {
    var image: BuildImage
    var shell: [String]
    /// ARGs declared in this stage, in order, with their values (nil: declared without one).
    var args: [(name: String, value: String?)] = []
    /// CMD was set in this stage (ENTRYPOINT then leaves it alone).
    var cmdSet = false
    let escape: Character

    var config: ImageConfig.Config {
        get { image.config.config ?? ImageConfig.Config() }
        set { image.config.config = newValue }
    }

    /// Variables for expansion: the ARGs, then the image's ENV over them (ENV wins, as Docker).
    var variables: [String: String] {
        var v: [String: String] = [:]
        for a in args { if let value = a.value { v[a.name] = value } }
        for kv in config.Env ?? [] {
            let parts = kv.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            v[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        return v
    }

    /// Build args a RUN gets in its environment (those ENV does not override), `K=V`.
    var argEnvironment: [String] {
        let envKeys = Set((config.Env ?? []).map { String($0.split(separator: "=", maxSplits: 1).first ?? "") })
        return args.compactMap { a in
            guard let v = a.value, !envKeys.contains(a.name) else { return nil }
            return "\(a.name)=\(v)"
        }
    }

    func word(_ raw: String, _ ins: Instruction) throws -> String {
        do { return try ShellWords(escape: escape).word(raw, env: variables) } catch {
            throw BuildError("dockerfile parse error on line \(ins.line): \(error)")
        }
    }

    func words(_ raw: String, _ ins: Instruction) throws -> [String] {
        do { return try ShellWords(escape: escape).words(raw, env: variables) } catch {
            throw BuildError("dockerfile parse error on line \(ins.line): \(error)")
        }
    }

    /// `/bin/sh -c #(nop) ` as the classic builder writes metadata steps in history.
    var nop: String { shell.joined(separator: " ") + " #(nop) " }
}

extension Builder {
    /// Runs one stage's steps, returning its final image.
    func runStage(_ p: PlannedStage, total: Int, meta: [String: String], stages: [Int: BuildImage]) async throws -> BuildImage {
        let index = p.stage.index
        var step = p.firstStep
        await say(index, "Step \(step)/\(total) : \(p.stage.from.text)\n")
        let base: BuildImage
        switch p.base {
        case .stage(let j): base = stages[j]!
        case .scratch: base = .scratch
        case .image(let name):
            do { base = try await backend.baseImage(name) } catch let e as BerthError {
                throw BuildError(e.message)
            }
        }
        if base.id != nil { await say(index, " ---> \(base.shortID)\n") }
        var state = StageState(image: base, shell: base.config.config?.Shell ?? ["/bin/sh", "-c"], escape: dockerfile.escape)
        // Meta ARGs are visible in a stage only when redeclared (handled by ARG).
        let triggers = base.config.config?.OnBuild ?? []
        if !triggers.isEmpty {
            // The base image's ONBUILD triggers run first, as if written after FROM.
            await say(index, "# Executing \(triggers.count) build trigger\(triggers.count == 1 ? "" : "s")\n")
            let parsed: Dockerfile
            do { parsed = try DockerfileParser.parse("FROM scratch\n" + triggers.joined(separator: "\n")) } catch {
                throw BuildError("failed to parse the base image's ONBUILD triggers: \(error)")
            }
            state.config.OnBuild = nil
            for ins in parsed.stages.first?.instructions ?? [] {
                try await execute(ins, &state, stage: index, meta: meta, stages: stages)
            }
        }
        for ins in p.stage.instructions {
            step += 1
            await say(index, "Step \(step)/\(total) : \(ins.text)\n")
            try await execute(ins, &state, stage: index, meta: meta, stages: stages)
        }
        if p.isTarget, !options.labels.isEmpty {
            step += 1
            let text = "LABEL " + options.labels.keys.sorted().map { "\($0)=\(Self.quote(options.labels[$0]!))" }.joined(separator: " ")
            await say(index, "Step \(step)/\(total) : \(text)\n")
            var labels = state.config.Labels ?? [:]
            for (k, v) in options.labels { labels[k] = v }
            state.config.Labels = labels
            try await commitMetadata(&state, stage: index, createdBy: state.nop + " " + text)
        }
        return state.image
    }

    func say(_ stage: Int, _ text: String) async { await sequencer.emit(stage, text) }

    static func quote(_ s: String) -> String {
        guard s.isEmpty || s.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) else { return s }
        return "\"" + s.map { $0 == "\"" ? "\\\"" : String($0) }.joined() + "\""
    }

    /// One instruction.
    func execute(_ ins: Instruction, _ s: inout StageState, stage: Int, meta: [String: String], stages: [Int: BuildImage]) async throws {
        switch ins.kind {
        case .from:
            throw BuildError("dockerfile parse error on line \(ins.line): FROM inside a stage")
        case .arg(let defs):
            for d in defs {
                var value: String?
                if let given = options.buildArgs[d.name], let v = given { value = v }
                else if let dv = d.defaultValue { value = try s.word(dv, ins) }
                else if let m = meta[d.name] { value = m }
                s.args.removeAll { $0.name == d.name }
                s.args.append((d.name, value))
            }
            consumedArgs.withLock { c in for d in defs { c.insert(d.name) } }
            let text = "ARG " + defs.map { d in d.defaultValue.map { "\(d.name)=\($0)" } ?? d.name }.joined(separator: " ")
            try await commitMetadata(&s, stage: stage, createdBy: s.nop + " " + text)
        case .env(let pairs):
            var env = s.config.Env ?? []
            var shown: [String] = []
            for kv in pairs {
                let key = try s.word(kv.key, ins)
                guard !key.isEmpty else { throw BuildError("dockerfile parse error on line \(ins.line): ENV names can not be blank") }
                let value = try s.word(kv.value, ins)
                env.removeAll { $0 == key || $0.hasPrefix(key + "=") }
                env.append("\(key)=\(value)")
                s.config.Env = env
                shown.append("\(key)=\(value)")
            }
            try await commitMetadata(&s, stage: stage, createdBy: s.nop + " ENV " + shown.joined(separator: " "))
        case .label(let pairs):
            var labels = s.config.Labels ?? [:]
            var shown: [String] = []
            for kv in pairs {
                let key = try s.word(kv.key, ins)
                guard !key.isEmpty else { throw BuildError("dockerfile parse error on line \(ins.line): LABEL names can not be blank") }
                let value = try s.word(kv.value, ins)
                labels[key] = value
                shown.append("\(key)=\(Self.quote(value))")
            }
            s.config.Labels = labels
            try await commitMetadata(&s, stage: stage, createdBy: s.nop + " LABEL " + shown.joined(separator: " "))
        case .maintainer(let who):
            s.image.config.author = try s.word(who, ins)
            try await commitMetadata(&s, stage: stage, createdBy: s.nop + " MAINTAINER " + who)
        case .workdir(let raw):
            let dir = try s.word(raw, ins)
            guard !dir.isEmpty else { throw BuildError("dockerfile parse error on line \(ins.line): WORKDIR requires exactly one argument") }
            let path = Self.cleanPath(dir.hasPrefix("/") ? dir : (s.config.WorkingDir ?? "/") + "/" + dir)
            s.config.WorkingDir = path
            try await commitWorkdir(&s, stage: stage, path: path)
        case .user(let raw):
            let user = try s.word(raw, ins)
            guard !user.isEmpty else { throw BuildError("dockerfile parse error on line \(ins.line): USER requires exactly one argument") }
            s.config.User = user
            try await commitMetadata(&s, stage: stage, createdBy: s.nop + " USER " + user)
        case .expose(let raw):
            var ports = s.config.ExposedPorts ?? [:]
            var shown: [String] = []
            for w in raw {
                for p in try s.words(w, ins) {
                    for key in try Self.exposedPorts(p, line: ins.line) {
                        ports[key] = .object([:])
                        shown.append(key)
                    }
                }
            }
            s.config.ExposedPorts = ports
            try await commitMetadata(&s, stage: stage, createdBy: s.nop + " EXPOSE " + shown.sorted().joined(separator: " "))
        case .volume(let raw):
            var vols = s.config.Volumes ?? [:]
            var shown: [String] = []
            for w in raw {
                let v = try s.word(w, ins)
                guard !v.isEmpty else { throw BuildError("dockerfile parse error on line \(ins.line): VOLUME specified can not be an empty string") }
                vols[v] = .object([:])
                shown.append(v)
            }
            s.config.Volumes = vols
            try await commitMetadata(&s, stage: stage, createdBy: s.nop + " VOLUME [" + shown.joined(separator: " ") + "]")
        case .stopsignal(let raw):
            let sig = try s.word(raw, ins)
            guard Signals.number(sig) != nil else { throw BuildError("dockerfile parse error on line \(ins.line): Invalid signal: \(sig)") }
            s.config.StopSignal = sig
            try await commitMetadata(&s, stage: stage, createdBy: s.nop + " STOPSIGNAL " + sig)
        case .shell(let args):
            s.shell = args
            s.config.Shell = args
            try await commitMetadata(&s, stage: stage, createdBy: s.nop + " SHELL " + jsonArray(args))
        case .onbuild(let trigger):
            s.config.OnBuild = (s.config.OnBuild ?? []) + [trigger]
            try await commitMetadata(&s, stage: stage, createdBy: s.nop + " ONBUILD " + trigger)
        case .cmd(let command):
            s.config.Cmd = command.argv(shell: s.shell)
            s.cmdSet = true
            try await commitMetadata(&s, stage: stage, createdBy: s.nop + " CMD " + jsonArray(s.config.Cmd ?? []))
        case .entrypoint(let command):
            s.config.Entrypoint = command.argv(shell: s.shell)
            if !s.cmdSet { s.config.Cmd = nil }
            try await commitMetadata(&s, stage: stage, createdBy: s.nop + " ENTRYPOINT " + jsonArray(s.config.Entrypoint ?? []))
        case .healthcheck(let hc):
            s.config.Healthcheck = try Self.healthcheck(hc, ins, shell: s.shell)
            let shown: String
            switch hc {
            case .none: shown = "HEALTHCHECK NONE"
            case .command(let c): shown = "HEALTHCHECK &{" + jsonArray(c.argv(shell: s.shell, healthcheck: true)) + "}"
            }
            try await commitMetadata(&s, stage: stage, createdBy: s.nop + " " + shown)
        case .run(let command):
            try await run(command, ins, &s, stage: stage)
        case .copy(let args):
            try await copy(args, ins, &s, stage: stage, add: false, stages: stages)
        case .add(let args):
            try await copy(args, ins, &s, stage: stage, add: true, stages: stages)
        }
    }

    /// A step that changes only the config: from the cache, or a new image without a layer.
    func commitMetadata(_ s: inout StageState, stage: Int, createdBy: String) async throws {
        var config = s.image.config
        config.created = nil
        config.history = nil
        let key = Self.key(["meta", createdBy, String(decoding: (try? BerthJSONEncoder().encode(config)) ?? [], as: UTF8.self)])
        let parent = s.image
        try await take(&s, stage: stage, key: key, createdBy: createdBy) { [backend] commit in
            try await backend.commit(commit, parent: parent)
        }
    }

    /// WORKDIR: the directory is made in a layer when the image does not have it.
    func commitWorkdir(_ s: inout StageState, stage: Int, path: String) async throws {
        let createdBy = s.nop + "WORKDIR " + path
        let key = Self.key(["workdir", path, String(decoding: (try? BerthJSONEncoder().encode(s.image.config.config)) ?? [], as: UTF8.self)])
        let image = s.image
        try await take(&s, stage: stage, key: key, createdBy: createdBy) { [backend] commit in
            try await backend.modify(image, commit: commit) { root in
                try await BlockingWork.run { try ContextCopier.makeDirectories(root: root, path: path, uid: 0, gid: 0) }
            }
        }
    }

    /// Takes a step from the cache or makes it with `make`, then prints the new image's ID.
    func take(_ s: inout StageState, stage: Int, key: String, createdBy: String,
              _ make: (StepCommit) async throws -> BuildImage) async throws {
        if !options.noCache, let hit = backend.cached(parent: s.image.id, key: key) {
            await say(stage, " ---> Using cache\n")
            s.image = hit
            await say(stage, " ---> \(hit.shortID)\n")
            return
        }
        var config = s.image.config
        let now = WallClock.now().rfc3339Nano
        config.created = now
        let commit = StepCommit(config: config, history: ImageConfig.History(created: now, createdBy: createdBy), key: key)
        s.image = try await make(commit)
        await say(stage, " ---> \(s.image.shortID)\n")
    }

    /// RUN: a container runs the command; its changes are the layer.
    func run(_ command: Command, _ ins: Instruction, _ s: inout StageState, stage: Int) async throws {
        var argv: [String]
        switch command {
        case .exec(let a): argv = a
        case .shell(let text):
            var script = text
            if !ins.heredocs.isEmpty {
                let only = text.trimmingBlanks
                if ins.heredocs.count == 1, only.hasPrefix("<<"), !only.contains(" ") {
                    // `RUN <<EOF`: the body is the script.
                    script = ins.heredocs[0].content
                } else {
                    // A command reading heredocs: the shell gets them back in place.
                    script = text + "\n" + ins.heredocs.map { $0.content + $0.name + "\n" }.joined()
                }
            }
            argv = s.shell + [script]
        }
        guard !argv.isEmpty else { throw BuildError("dockerfile parse error on line \(ins.line): RUN requires at least one argument") }
        let argEnv = s.argEnvironment
        let createdBy = (argEnv.isEmpty ? "" : "|\(argEnv.count) " + argEnv.joined(separator: " ") + " ") + argv.joined(separator: " ")
        let key = Self.key(["run", jsonArray(argv), jsonArray(argEnv)])
        let env = (s.config.Env ?? []) + argEnv
        let runStep = RunStep(command: argv, env: env, user: s.config.User ?? "", workingDir: s.config.WorkingDir ?? "")
        let image = s.image
        let shownCommand = argv.joined(separator: " ")
        try await take(&s, stage: stage, key: key, createdBy: createdBy) { [backend, sequencer] commit in
            do {
                return try await backend.run(runStep, on: image, commit: commit, started: { id in
                    await sequencer.emit(stage, " ---> Running in \(id.prefix(12))\n")
                }, output: { bytes in
                    await sequencer.emit(stage, String(decoding: bytes, as: UTF8.self))
                })
            } catch var e as BuildError where e.code != 1 || e.message.isEmpty {
                e.message = "The command '\(shownCommand)' returned a non-zero code: \(e.code)"
                throw e
            }
        }
    }

    /// `a/./b/../c` → `/a/c`.
    static func cleanPath(_ p: String) -> String {
        var out: [Substring] = []
        for part in p.split(separator: "/") {
            if part == "." || part.isEmpty { continue }
            if part == ".." { _ = out.popLast(); continue }
            out.append(part)
        }
        return "/" + out.joined(separator: "/")
    }

    /// `80`, `80/udp`, `8000-8002/tcp` → `80/tcp`… (ranges expanded, as Docker does).
    static func exposedPorts(_ spec: String, line: Int) throws -> [String] {
        let parts = spec.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let proto = parts.count > 1 ? parts[1].lowercased() : "tcp"
        guard ["tcp", "udp", "sctp"].contains(proto) else { throw BuildError("dockerfile parse error on line \(line): invalid proto: \(proto)") }
        let range = parts[0].split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard let lo = Int(range[0]), (1...65535).contains(lo) else {
            throw BuildError("dockerfile parse error on line \(line): invalid containerPort: \(parts[0])")
        }
        var hi = lo
        if range.count > 1 {
            guard let h = Int(range[1]), h >= lo, h <= 65535 else {
                throw BuildError("dockerfile parse error on line \(line): invalid range: \(parts[0])")
            }
            hi = h
        }
        return (lo...hi).map { "\($0)/\(proto)" }
    }

    /// HEALTHCHECK's config (`{"Test": [...], "Interval": ns, …}`).
    static func healthcheck(_ hc: Healthcheck, _ ins: Instruction, shell: [String]) throws -> JSONValue {
        switch hc {
        case .none:
            return .object(["Test": .array([.string("NONE")])])
        case .command(let c):
            var fields: [String: JSONValue] = ["Test": .array(c.argv(shell: shell, healthcheck: true).map { .string($0) })]
            for (flag, field) in [("interval", "Interval"), ("timeout", "Timeout"), ("start-period", "StartPeriod"), ("start-interval", "StartInterval")] {
                guard let v = ins.flag(flag) else { continue }
                guard let d = GoDuration.parse(v), d < 9.2e18 else {
                    throw BuildError("dockerfile parse error on line \(ins.line): time: invalid duration \"\(v)\"")
                }
                let ns = Int64(d)
                if ns != 0 && ns < 1_000_000 {
                    throw BuildError("dockerfile parse error on line \(ins.line): Interval \"\(flag)\" cannot be less than 1ms")
                }
                fields[field] = JSONValue(ns)
            }
            if let r = ins.flag("retries") {
                guard let n = Int(r), n >= 0 else {
                    throw BuildError("dockerfile parse error on line \(ins.line): invalid retries: \(r)")
                }
                fields["Retries"] = JSONValue(n)
            }
            return .object(JSONObject(fields.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))
        }
    }

    /// A cache key: the SHA-256 of the parts.
    static func key(_ parts: [String]) -> String {
        var h = SHA256()
        for p in parts { h.update(data: Array(p.utf8) + [0]) }
        return "sha256:" + h.finalize().map { b in String(b >> 4, radix: 16) + String(b & 15, radix: 16) }.joined()
    }
}

/// `["a","b"]`, as history and `docker inspect` show argv.
func jsonArray(_ items: [String]) -> String {
    String(decoding: JSON.serialize(.array(items.map { .string($0) })), as: UTF8.self)
}

extension Command {
    /// The argv an image config keeps: the JSON form as is, the shell form under the shell
    /// (`CMD-SHELL` for a healthcheck).
    func argv(shell: [String], healthcheck: Bool = false) -> [String] {
        switch self {
        case .exec(let a): return healthcheck ? ["CMD"] + a : a
        case .shell(let text): return healthcheck ? ["CMD-SHELL", text] : shell + [text]
        }
    }
}

extension String {
    var trimmingBlanks: String {
        let ws: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let a = firstIndex(where: { !ws($0) }), let b = lastIndex(where: { !ws($0) }) else { return "" }
        return String(self[a...b])
    }

}
