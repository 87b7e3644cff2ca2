import BerthCore

/// Docker's variable substitution for Dockerfile instructions: a port of BuildKit's `shell.Lex`
/// (`frontend/dockerfile/shell/lex.go`).
///
/// - `'…'` is literal; `"…"` is literal except for `$` expansions and the escape character
///   before `"`, `$` or the escape character itself (other escapes stay as written).
/// - The escape character (`\`, or `` ` `` under `# escape=`` ` ``) outside quotes takes the
///   next character literally; at the very end it is dropped.
/// - `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME-word}`, `${NAME:+word}`, `${NAME+word}`,
///   `${NAME:?message}`, `${NAME?message}` (an error naming the variable), `${NAME#pattern}`,
///   `${NAME##pattern}`, `${NAME%pattern}`, `${NAME%%pattern}`, `${NAME/pattern/replacement}`
///   and `${NAME//pattern/replacement}`; words inside `${…}` are expanded themselves.
/// - An unknown variable expands to "". `$` before a character that cannot start a name stays
///   `$`; `$$`, `$@` and the other special parameters name a variable (normally unset, so "").
///
/// ``word(_:env:)`` gives the expansion as one string; ``words(_:env:)`` splits it like BuildKit's
/// `ProcessWords`: on unquoted whitespace, where the results of unquoted `$` expansions are split
/// too but quoted text is not, and empty words are dropped.
public struct ShellWords: Sendable {
    /// The escape character: `\` or `` ` ``.
    public var escape: Character
    /// Keep quote characters in the output (BuildKit's `RawQuotes`; used for heredoc detection).
    var rawQuotes = false
    /// Keep escape characters in the output (BuildKit's `RawEscapes`).
    var rawEscapes = false
    /// Leave references to unset variables as written (BuildKit's `SkipUnsetEnv`).
    var skipUnsetEnv = false

    /// A lexer with the given escape character.
    public init(escape: Character = "\\") {
        self.escape = escape
    }

    /// Expands `raw` as one word (quotes removed, no splitting).
    /// Throws `BerthError.invalid` on syntax errors (`${` without `}`, a bad substitution) and
    /// for `${NAME?message}` when `NAME` is unset.
    public func word(_ raw: String, env: [String: String]) throws -> String {
        try process(raw, env: env).word
    }

    /// Expands `raw` and splits the result into words on unquoted whitespace.
    /// Throws like ``word(_:env:)``.
    public func words(_ raw: String, env: [String: String]) throws -> [String] {
        try process(raw, env: env).words
    }

    func process(_ raw: String, env: [String: String]) throws -> (word: String, words: [String]) {
        var lexer = ShellLexer(
            scalars: Array(raw.unicodeScalars), env: env,
            escape: escape.unicodeScalars.first ?? "\\", rawQuotes: rawQuotes, rawEscapes: rawEscapes,
            skipUnsetEnv: skipUnsetEnv)
        do {
            return try lexer.processStopOn(nil, rawEscapes: rawEscapes)
        } catch let e as ShellLexer.Failure {
            throw BerthError.invalid("failed to process \"\(raw)\": \(e.message)")
        }
    }
}

/// Word accumulation with BuildKit's splitting rules (`wordsStruct`).
private struct WordsBuilder {
    var word = ""
    var words: [String] = []
    var inWord = false

    mutating func addChar(_ c: Unicode.Scalar) {
        if isSpace(c) {
            if inWord, !word.isEmpty {
                words.append(word)
                word = ""
                inWord = false
            }
        } else {
            addRawChar(c)
        }
    }

    mutating func addRawChar(_ c: Unicode.Scalar) {
        word.unicodeScalars.append(c)
        inWord = true
    }

    mutating func addString(_ s: String) {
        for c in s.unicodeScalars { addChar(c) }
    }

    mutating func addRawString(_ s: String) {
        word += s
        inWord = true
    }

    mutating func finish() -> [String] {
        if !word.isEmpty {
            words.append(word)
            word = ""
            inWord = false
        }
        return words
    }
}

struct ShellLexer {
    struct Failure: Error {
        var message: String
    }

    let scalars: [Unicode.Scalar]
    var pos = 0
    let env: [String: String]
    let escape: Unicode.Scalar
    let rawQuotes: Bool
    let rawEscapes: Bool
    let skipUnsetEnv: Bool

    init(scalars: [Unicode.Scalar], env: [String: String], escape: Unicode.Scalar, rawQuotes: Bool, rawEscapes: Bool,
         skipUnsetEnv: Bool) {
        self.scalars = scalars
        self.env = env
        self.escape = escape
        self.rawQuotes = rawQuotes
        self.rawEscapes = rawEscapes
        self.skipUnsetEnv = skipUnsetEnv
    }

    func peek() -> Unicode.Scalar? { pos < scalars.count ? scalars[pos] : nil }

    mutating func next() -> Unicode.Scalar? {
        guard pos < scalars.count else { return nil }
        defer { pos += 1 }
        return scalars[pos]
    }

    /// Processes until `stop` (consumed) or the end of input; `stop == nil` means the end.
    mutating func processStopOn(_ stop: Unicode.Scalar?, rawEscapes: Bool) throws -> (word: String, words: [String]) {
        var result = ""
        var words = WordsBuilder()
        while let c = peek() {
            if let stop, c == stop {
                pos += 1
                return (result, words.finish())
            }
            switch c {
            case "'":
                let s = try processSingleQuote()
                result += s
                words.addRawString(s)
            case "\"":
                let s = try processDoubleQuote()
                result += s
                words.addRawString(s)
            case "$":
                let s = try processDollar()
                result += s
                words.addString(s)
            default:
                pos += 1
                var ch = c
                if ch == escape {
                    if rawEscapes {
                        words.addRawChar(ch)
                        result.unicodeScalars.append(ch)
                    }
                    guard let n = next() else { break }
                    ch = n
                    words.addRawChar(ch)
                } else {
                    words.addChar(ch)
                }
                result.unicodeScalars.append(ch)
            }
        }
        if let stop {
            throw Failure(message: "unexpected end of statement while looking for matching \(Character(stop))")
        }
        return (result, words.finish())
    }

    mutating func processSingleQuote() throws -> String {
        var result = ""
        let open = next()
        if rawQuotes, let open { result.unicodeScalars.append(open) }
        while true {
            guard let c = next() else {
                throw Failure(message: "unexpected end of statement while looking for matching single-quote")
            }
            if c == "'" {
                if rawQuotes { result.unicodeScalars.append(c) }
                return result
            }
            result.unicodeScalars.append(c)
        }
    }

    mutating func processDoubleQuote() throws -> String {
        var result = ""
        let open = next()
        if rawQuotes, let open { result.unicodeScalars.append(open) }
        while true {
            guard let c = peek() else {
                throw Failure(message: "unexpected end of statement while looking for matching double-quote")
            }
            if c == "\"" {
                pos += 1
                if rawQuotes { result.unicodeScalars.append(c) }
                return result
            }
            if c == "$" {
                result += try processDollar()
                continue
            }
            pos += 1
            var ch = c
            if ch == escape {
                if rawEscapes { result.unicodeScalars.append(ch) }
                guard let n = peek() else { continue }  // an escape at the end is dropped
                if n == "\"" || n == "$" || n == escape {
                    pos += 1
                    ch = n
                } else if rawEscapes {
                    continue
                }
            }
            result.unicodeScalars.append(ch)
        }
    }

    static func isSpecialParameter(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "@", "*", "#", "?", "-", "$", "!", "0": return true
        default: return false
        }
    }

    static func isLetter(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    static func isDigit(_ c: Unicode.Scalar) -> Bool { c.properties.generalCategory == .decimalNumber }

    mutating func processName() -> String {
        var name = ""
        while let c = peek() {
            if name.isEmpty, Self.isDigit(c) {
                while let d = peek(), Self.isDigit(d) {
                    name.unicodeScalars.append(d)
                    pos += 1
                }
                return name
            }
            if name.isEmpty, Self.isSpecialParameter(c) {
                pos += 1
                return String(Character(c))
            }
            guard Self.isLetter(c) || Self.isDigit(c) || c == "_" else { break }
            name.unicodeScalars.append(c)
            pos += 1
        }
        return name
    }

    mutating func processDollar() throws -> String {
        pos += 1  // the "$"
        guard peek() == "{" else {
            let name = processName()
            if name.isEmpty { return "$" }
            if skipUnsetEnv, env[name] == nil { return "$" + name }
            return env[name] ?? ""
        }
        pos += 1  // the "{"
        guard let first = peek() else { throw Failure(message: "syntax error: missing '}'") }
        if first == "{" || first == "}" || first == ":" {
            throw Failure(message: "syntax error: bad substitution")
        }
        let name = processName()
        guard var ch = next() else { throw Failure(message: "syntax error: missing '}'") }
        var modifier = String(Character(ch))
        var nullIsUnset = false
        switch ch {
        case "}":
            if skipUnsetEnv, env[name] == nil { return "${\(name)}" }
            return env[name] ?? ""
        case ":", "+", "-", "?", "#", "%":
            if ch == ":" {
                nullIsUnset = true
                guard let n = next() else { throw Failure(message: "syntax error: missing '}'") }
                ch = n
                modifier.unicodeScalars.append(n)
            }
            let patternModifier = ch == "#" || ch == "%"
            if nullIsUnset, patternModifier || !(ch == "+" || ch == "-" || ch == "?") {
                throw Failure(message: "unsupported modifier (\(modifier)) in substitution")
            }
            let word: String
            do {
                word = try processStopOn("}", rawEscapes: patternModifier).word
            } catch let e as Failure {
                if peek() == nil { throw Failure(message: "syntax error: missing '}'") }
                throw e
            }
            let value = env[name]
            if skipUnsetEnv, value == nil { return "${\(name)\(modifier)\(word)}" }
            let unset = value == nil || (nullIsUnset && value == "")
            switch ch {
            case "-":
                return unset ? word : (value ?? "")
            case "+":
                return unset ? "" : word
            case "?":
                if value == nil {
                    throw Failure(message: "\(name): \(word.isEmpty ? "is not allowed to be unset" : word)")
                }
                if unset {
                    throw Failure(message: "\(name): \(word.isEmpty ? "is not allowed to be empty" : word)")
                }
                return value ?? ""
            default:
                var pattern = Array(word.unicodeScalars)
                var greedy = false
                if pattern.first == ch {
                    greedy = true
                    pattern.removeFirst()
                }
                let glob = try ShellPattern(pattern)
                let v = Array((value ?? "").unicodeScalars)
                return ch == "%" ? glob.trimSuffix(v, greedy: greedy) : glob.trimPrefix(v, greedy: greedy)
            }
        case "/":
            let replaceAll = peek() == "/"
            if replaceAll { pos += 1 }
            let pattern: String
            do {
                pattern = try processStopOn("/", rawEscapes: true).word
            } catch let e as Failure {
                if peek() == nil { throw Failure(message: "syntax error: missing '/' in ${}") }
                throw e
            }
            let replacement: String
            do {
                replacement = try processStopOn("}", rawEscapes: true).word
            } catch let e as Failure {
                if peek() == nil { throw Failure(message: "syntax error: missing '}'") }
                throw e
            }
            if skipUnsetEnv, env[name] == nil {
                return "${\(name)/\(pattern)/\(replacement)}"
            }
            let glob: ShellPattern
            do {
                glob = try ShellPattern(Array(pattern.unicodeScalars))
            } catch let e as Failure {
                throw Failure(message: "invalid pattern (\(pattern)) in substitution: \(e.message)")
            }
            return glob.replace(in: Array((env[name] ?? "").unicodeScalars), with: replacement, all: replaceAll)
        default:
            throw Failure(message: "unsupported modifier (\(modifier)) in substitution")
        }
    }
}

/// A shell pattern for `${a#…}`, `${a%…}` and `${a/…/…}`: `*`, `?`, `[…]`, `\x`.
struct ShellPattern {
    enum Token {
        case literal(Unicode.Scalar)
        case any
        case star
        case set(CharacterSet)
    }

    struct CharacterSet {
        var negated: Bool
        var ranges: [ClosedRange<UInt32>]
        func contains(_ c: Unicode.Scalar) -> Bool {
            ranges.contains { $0.contains(c.value) } != negated
        }
    }

    var tokens: [Token] = []

    init(_ p: [Unicode.Scalar]) throws {
        var i = 0
        while i < p.count {
            let c = p[i]
            i += 1
            switch c {
            case "*":
                tokens.append(.star)
            case "?":
                tokens.append(.any)
            case "\\":
                if i < p.count {
                    tokens.append(.literal(p[i]))
                    i += 1
                } else {
                    tokens.append(.literal("\\"))
                }
            case "[":
                var j = i
                var negated = false
                if j < p.count, p[j] == "^" || p[j] == "!" {
                    negated = true
                    j += 1
                }
                var ranges: [ClosedRange<UInt32>] = []
                var closed = false
                var first = true
                while j < p.count {
                    var lo = p[j]
                    if lo == "]", !first {
                        closed = true
                        j += 1
                        break
                    }
                    first = false
                    j += 1
                    if lo == "\\", j < p.count {
                        lo = p[j]
                        j += 1
                    }
                    var hi = lo
                    if j + 1 < p.count, p[j] == "-", p[j + 1] != "]" {
                        hi = p[j + 1]
                        j += 2
                        if hi == "\\", j < p.count {
                            hi = p[j]
                            j += 1
                        }
                    }
                    if lo.value <= hi.value { ranges.append(lo.value...hi.value) }
                }
                if closed {
                    tokens.append(.set(CharacterSet(negated: negated, ranges: ranges)))
                    i = j
                } else {
                    tokens.append(.literal("["))
                }
            default:
                tokens.append(.literal(c))
            }
        }
    }

    /// Whether the pattern matches all of `s`. Linear-time set simulation (no backtracking).
    func matches<C: Collection>(_ s: C) -> Bool where C.Element == Unicode.Scalar {
        var states = [Bool](repeating: false, count: tokens.count + 1)
        states[0] = true
        closure(&states)
        for c in s {
            var nextStates = [Bool](repeating: false, count: tokens.count + 1)
            var any = false
            for (i, on) in states.enumerated() where on && i < tokens.count {
                switch tokens[i] {
                case .literal(let l): if l == c { nextStates[i + 1] = true; any = true }
                case .any: nextStates[i + 1] = true; any = true
                case .star: nextStates[i] = true; any = true
                case .set(let set): if set.contains(c) { nextStates[i + 1] = true; any = true }
                }
            }
            if !any { return false }
            closure(&nextStates)
            states = nextStates
        }
        return states[tokens.count]
    }

    private func closure(_ states: inout [Bool]) {
        for i in 0..<tokens.count where states[i] {
            if case .star = tokens[i] { states[i + 1] = true }
        }
    }

    func trimPrefix(_ v: [Unicode.Scalar], greedy: Bool) -> String {
        let ends = greedy ? Array((0...v.count).reversed()) : Array(0...v.count)
        for end in ends where matches(v[0..<end]) {
            return makeString((v[end...]))
        }
        return makeString((v))
    }

    func trimSuffix(_ v: [Unicode.Scalar], greedy: Bool) -> String {
        let starts = greedy ? Array(0...v.count) : Array((0...v.count).reversed())
        for start in starts where matches(v[start...]) {
            return makeString((v[..<start]))
        }
        return makeString((v))
    }

    /// Replaces the leftmost-longest match (or every non-overlapping one).
    func replace(in v: [Unicode.Scalar], with replacement: String, all: Bool) -> String {
        var out = ""
        var start = 0
        var replaced = false
        while start <= v.count {
            var matchEnd: Int?
            if !(replaced && !all) {
                for end in stride(from: v.count, through: start, by: -1) where matches(v[start..<end]) {
                    matchEnd = end
                    break
                }
            }
            if let end = matchEnd {
                out += replacement
                replaced = true
                if end > start {
                    start = end
                    continue
                }
            }
            if start < v.count { out.unicodeScalars.append(v[start]) }
            start += 1
        }
        return out
    }
}
