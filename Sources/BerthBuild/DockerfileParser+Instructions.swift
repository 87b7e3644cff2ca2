import BerthCore

/// The instruction phase: BuildKit's `instructions.ParseInstruction` — keyword, argument counts,
/// flags, per-instruction rules.
extension LineNode {
    /// Flags whose value is a boolean (`--link`, `--link=false`).
    static let booleanFlags: Set<String> = ["link", "parents", "keep-git-dir"]
    /// Flags that may be given more than once.
    static let repeatableFlags: Set<String> = ["mount", "exclude"]
    /// `^[a-z][a-z0-9-_.]*$`.
    static func validStageName(_ s: String) -> Bool {
        var first = true
        for c in s.unicodeScalars {
            let lower = c >= "a" && c <= "z"
            if first {
                guard lower else { return false }
                first = false
            } else {
                guard lower || (c >= "0" && c <= "9") || c == "-" || c == "_" || c == "." else { return false }
            }
        }
        return !first
    }

    var text: String { rest.isEmpty ? upper : upper + " " + rest }

    func instruction() throws(DockerfileError) -> Instruction {
        do {
            return try build()
        } catch {
            throw DockerfileError(line: line, message: error.message)
        }
    }

    private func build() throws(ParseFailure) -> Instruction {
        let name = upper
        guard DockerfileParser.known.contains(name) else { throw ParseFailure("unknown instruction: \(keyword)") }
        var kind: Instruction.Kind
        switch name {
        case "FROM":
            let args = words
            var stage: String?
            if args.count == 3, args[1].lowercased() == "as" {
                let lowered = args[2].lowercased()
                guard Self.validStageName(lowered) else {
                    throw ParseFailure("invalid name for build stage: \(quoted(args[2])), name can't start with a number or contain symbols")
                }
                stage = lowered
            } else if args.count != 1 {
                throw ParseFailure("FROM requires either one or three arguments")
            }
            let flags = try parseFlags()
            kind = .from(image: args[0], name: stage, platform: flags.last { $0.name == "platform" }?.value)
            return make(kind, flags)
        case "RUN", "CMD", "ENTRYPOINT":
            let command: Command
            switch parsed {
            case .json(let a):
                if a.isEmpty, name == "RUN" { throw ParseFailure("RUN requires at least one argument") }
                command = .exec(a)
            case .text(let t): command = .shell(t)
            default: throw ParseFailure("\(name) requires at least one argument")
            }
            kind = name == "RUN" ? .run(command) : name == "CMD" ? .cmd(command) : .entrypoint(command)
        case "ENV", "LABEL":
            guard case .pairs(let pairs) = parsed, !pairs.isEmpty else {
                throw ParseFailure("\(name) requires at least one argument")
            }
            if pairs.contains(where: { $0.key.isEmpty }) { throw ParseFailure("\(name) names can not be blank") }
            kind = name == "ENV" ? .env(pairs) : .label(pairs)
        case "ARG":
            let args = words
            if args.isEmpty { throw ParseFailure("ARG requires at least one argument") }
            var defs: [ArgDefinition] = []
            for arg in args {
                if let eq = arg.firstIndex(of: "=") {
                    let key = String(arg[..<eq])
                    if key.isEmpty { throw ParseFailure("ARG names can not be blank") }
                    defs.append(ArgDefinition(name: key, defaultValue: String(arg[arg.index(after: eq)...])))
                } else {
                    defs.append(ArgDefinition(name: arg, defaultValue: nil))
                }
            }
            kind = .arg(defs)
        case "WORKDIR", "USER", "STOPSIGNAL", "MAINTAINER":
            guard case .text(let t) = parsed else { throw ParseFailure("\(name) requires exactly one argument") }
            kind = name == "WORKDIR" ? .workdir(t) : name == "USER" ? .user(t) : name == "STOPSIGNAL" ? .stopsignal(t) : .maintainer(t)
        case "COPY", "ADD":
            let args = words
            guard args.count >= 2, let destination = args.last else {
                throw ParseFailure("\(name) requires at least two arguments, but only one was provided. Destination could not be determined.")
            }
            if (try? HeredocWord.parse(destination)) ?? nil != nil {
                throw ParseFailure("\(name) cannot accept a heredoc as a destination")
            }
            let copy = CopyArguments(sources: Array(args.dropLast()), destination: destination)
            kind = name == "COPY" ? .copy(copy) : .add(copy)
        case "EXPOSE":
            let args = words
            if args.isEmpty { throw ParseFailure("EXPOSE requires at least one argument") }
            kind = .expose(args)
        case "VOLUME":
            let args = words
            if args.isEmpty { throw ParseFailure("VOLUME requires at least one argument") }
            if args.contains(where: { $0.trimmedSpace().isEmpty }) {
                throw ParseFailure("VOLUME specified can not be an empty string")
            }
            kind = .volume(args)
        case "HEALTHCHECK":
            guard case .health(let type, let command) = parsed else {
                throw ParseFailure("HEALTHCHECK requires at least one argument")
            }
            switch type.uppercased() {
            case "NONE":
                if case .none = command {} else { throw ParseFailure("HEALTHCHECK NONE takes no arguments") }
                kind = .healthcheck(.none)
            case "CMD":
                let flags = try parseFlags()
                try Self.checkHealthFlags(flags)
                switch command {
                case .json(let a) where !a.isEmpty: kind = .healthcheck(.command(.exec(a)))
                case .text(let t): kind = .healthcheck(.command(.shell(t)))
                default: throw ParseFailure("Missing command after HEALTHCHECK CMD")
                }
                return make(kind, flags)
            default:
                throw ParseFailure("Unknown type \(quoted(type.uppercased())) in HEALTHCHECK (try CMD)")
            }
        case "SHELL":
            switch parsed {
            case .json(let a) where !a.isEmpty: kind = .shell(a)
            case .text: throw ParseFailure("SHELL requires the arguments to be in JSON form")
            default: throw ParseFailure("SHELL requires at least one argument")
            }
        case "ONBUILD":
            guard case .sub(let trigger) = parsed else { throw ParseFailure("ONBUILD requires at least one argument") }
            switch trigger.upper {
            case "ONBUILD": throw ParseFailure("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
            case "MAINTAINER", "FROM": throw ParseFailure("\(trigger.upper) isn't allowed as an ONBUILD trigger")
            default: break
            }
            var expression = arguments
            for h in heredocs { expression += "\n" + h.content + h.name }
            kind = .onbuild(expression)
        default:
            throw ParseFailure("unknown instruction: \(keyword)")
        }
        return make(kind, try parseFlags())
    }

    private func make(_ kind: Instruction.Kind, _ flags: [Flag]) -> Instruction {
        Instruction(line: line, endLine: endLine, text: text, flags: flags, heredocs: heredocs, kind: kind)
    }

    /// The arguments as a list (JSON or words); a single text argument as one element.
    private var words: [String] {
        switch parsed {
        case .json(let a), .words(let a): return a
        case .text(let t): return [t]
        default: return []
        }
    }

    /// BuildKit's `BFlags.Parse` against ``Instruction/allowedFlags``.
    private func parseFlags() throws(ParseFailure) -> [Flag] {
        let allowed = Instruction.allowedFlags[upper] ?? []
        var flags: [Flag] = []
        var used: Set<String> = []
        for word in flagWords {
            guard word.hasPrefix("--") else { throw ParseFailure("arg should start with -- : \(word)") }
            if word == "--" { break }
            let body = word.dropFirst(2)
            let name: String
            let value: String
            let hasValue: Bool
            if let eq = body.firstIndex(of: "=") {
                name = String(body[..<eq])
                value = String(body[body.index(after: eq)...])
                hasValue = true
            } else {
                name = String(body)
                value = ""
                hasValue = false
            }
            guard allowed.contains(name) else { throw ParseFailure("unknown flag: \(name)") }
            if used.contains(name), !Self.repeatableFlags.contains(name) {
                throw ParseFailure("duplicate flag specified: \(name)")
            }
            used.insert(name)
            if Self.booleanFlags.contains(name) {
                if hasValue, value.isEmpty { throw ParseFailure("missing a value on flag: \(name)") }
                switch value.lowercased() {
                case "", "true", "false": break
                default: throw ParseFailure("expecting boolean value for flag \(name), not: \(value)")
                }
            } else if !hasValue {
                throw ParseFailure("missing a value on flag: \(name)")
            }
            flags.append(Flag(name: name, value: value))
        }
        return flags
    }

    /// `--interval` and friends are Go durations of at least 1ms (or 0); `--retries` a
    /// non-negative integer.
    static func checkHealthFlags(_ flags: [Flag]) throws(ParseFailure) {
        for flag in flags where !flag.value.isEmpty {
            if flag.name == "retries" {
                guard let n = Int32(flag.value) else {
                    throw ParseFailure("strconv.ParseInt: parsing \(quoted(flag.value)): invalid syntax")
                }
                if n < 0 { throw ParseFailure("--retries cannot be negative (\(n))") }
                continue
            }
            guard let nanoseconds = GoDuration.parse(flag.value) else {
                throw ParseFailure("time: invalid duration \(quoted(flag.value))")
            }
            if nanoseconds == 0 { continue }
            if nanoseconds < 0 { throw ParseFailure("Interval \(quoted(flag.name)) cannot be negative") }
            if nanoseconds < 1_000_000 { throw ParseFailure("Interval \(quoted(flag.name)) cannot be less than 1ms") }
        }
    }
}

/// Go's `time.ParseDuration`, to nanoseconds (as a Double: only its sign and size matter here).
enum GoDuration {
    static func parse(_ text: String) -> Double? {
        var s = Substring(text)
        var sign = 1.0
        if let f = s.first, f == "-" || f == "+" {
            if f == "-" { sign = -1 }
            s = s.dropFirst()
        }
        if s == "0" { return 0 }
        if s.isEmpty { return nil }
        let units: [(String, Double)] = [
            ("ns", 1), ("us", 1e3), ("µs", 1e3), ("μs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9),
        ]
        var total = 0.0
        while !s.isEmpty {
            var digits = ""
            var sawDigit = false
            while let c = s.first, c.isASCII, c.isNumber || c == "." {
                if c.isNumber { sawDigit = true }
                digits.append(c)
                s = s.dropFirst()
            }
            guard sawDigit, digits.filter({ $0 == "." }).count <= 1, let value = Double(digits.hasPrefix(".") ? "0" + digits : digits) else {
                return nil
            }
            guard let unit = units.first(where: { s.hasPrefix($0.0) && !(($0.0 == "m") && s.hasPrefix("ms")) }) else {
                return nil
            }
            s = s.dropFirst(unit.0.count)
            total += value * unit.1
        }
        return sign * total
    }
}
