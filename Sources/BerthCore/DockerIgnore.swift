/// `.dockerignore` with Docker's semantics (moby/patternmatcher and moby's `dockerignore.ReadAll`).
///
/// - `*` matches any run of characters except `/`, `?` one character except `/`, `[…]` a
///   class (`[^…]` negated, `a-z` ranges), `\x` the character `x`.
/// - `**` matches any number of directories, zero included (`**/a`, `a/**/b`); a trailing `**`
///   matches everything below (`a/**`, also `a**`).
/// - A pattern that matches a directory excludes everything below it.
/// - `!pattern` is an exception: it re-includes what earlier patterns excluded. The last pattern
///   that matches a path (or one of its parent directories) decides.
///
/// Paths are relative to the context root with `/` separators (`src/main.swift`).
///
/// Like patternmatcher, `a/**` is a prefix match on `a/` (it does not match `a` itself) and a
/// leading `**` followed by plain text is a suffix match. One deliberate difference: inside `[…]`,
/// `*`, `?` and `.` are literal (patternmatcher's regexp translation mangles them).
public struct DockerIgnore: Sendable {
    /// One compiled pattern.
    struct Pattern: Sendable {
        enum MatchType: Sendable { case exact, prefix, suffix, glob }
        enum Token: Sendable, Equatable {
            case literal(Unicode.Scalar)
            /// `?`: one character except `/`.
            case one
            /// `*`: any characters except `/`.
            case star
            /// A trailing `**`: anything.
            case anything
            /// `**` (and `**/`) before more pattern: `(.*/)?`.
            case directories
            case set(negated: Bool, ranges: [ClosedRange<UInt32>])
        }

        var text: String
        var exception: Bool
        var type: MatchType
        var tokens: [Token]
    }

    let patterns: [Pattern]

    /// Compiles patterns as ``parse(_:)`` returns them (`!` marks an exception).
    /// - Throws: `BerthError.invalid` naming the pattern when it is malformed (an unclosed or
    ///   empty `[` class, a trailing `\`, a lone `!`).
    public init(patterns: [String]) throws {
        var compiled: [Pattern] = []
        for raw in patterns {
            var p = Self.trimmed(raw)
            if p.isEmpty { continue }
            var exception = false
            if p.hasPrefix("!") {
                if p == "!" { throw BerthError.invalid("illegal exclusion pattern: \"!\"") }
                exception = true
                p = String(p.dropFirst())
            }
            p = Self.clean(p)
            compiled.append(try Self.compile(p, exception: exception, original: raw))
        }
        self.patterns = compiled
    }

    /// Reads a `.dockerignore` file into patterns: lines starting with `#` are comments,
    /// whitespace is trimmed, empty lines skipped, paths cleaned (`./a` → `a`, `a//b` → `a/b`,
    /// a leading `/` removed) keeping a leading `!`.
    public static func parse(_ text: String) -> [String] {
        var out: [String] = []
        var first = true
        for rawLine in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = String(String.UnicodeScalarView(rawLine))
            if first, line.unicodeScalars.first == "\u{FEFF}" { line.unicodeScalars.removeFirst() }
            first = false
            if line.hasPrefix("#") { continue }
            var pattern = trimmed(line)
            if pattern.isEmpty { continue }
            let invert = pattern.hasPrefix("!")
            if invert { pattern = trimmed(String(pattern.dropFirst())) }
            if !pattern.isEmpty {
                pattern = clean(pattern)
                if pattern.unicodeScalars.count > 1, pattern.hasPrefix("/") { pattern = String(pattern.dropFirst()) }
            }
            out.append(invert ? "!" + pattern : pattern)
        }
        return out
    }

    /// True when some pattern is an exception (`!…`).
    public var hasExceptions: Bool { patterns.contains { $0.exception } }

    /// Whether the path is excluded from the build context: the last pattern matching the path
    /// or one of its parent directories decides (patternmatcher's `MatchesOrParentMatches`).
    public func excludes(_ path: String) -> Bool {
        let file = Self.clean(path)
        let parts = file.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        var parents: [String] = []
        if parts.count > 1 {
            var prefix = ""
            for part in parts.dropLast() {
                prefix = prefix.isEmpty ? part : prefix + "/" + part
                parents.append(prefix)
            }
        }
        var matched = false
        for pattern in patterns where pattern.exception == matched {
            var match = pattern.matches(file)
            if !match {
                for parent in parents where pattern.matches(parent) {
                    match = true
                    break
                }
            }
            if match { matched = !pattern.exception }
        }
        return matched
    }

    /// Whether an exception could re-include something below `directory` (a path relative to the
    /// context root), so a walker that finds the directory excluded must still descend into it.
    /// False when there are no exceptions. Conservative: it may say true when nothing below ends
    /// up included, never false when something does.
    public func mightIncludeBelow(_ directory: String) -> Bool {
        let dir = Self.clean(directory)
        let prefix = Array((dir == "." ? "" : dir + "/").unicodeScalars)
        return patterns.contains { $0.exception && $0.mightMatchBelow(prefix) }
    }

    // MARK: - Cleaning

    static func trimmed(_ s: String) -> String {
        let scalars = Array(s.unicodeScalars)
        var lo = 0
        var hi = scalars.count
        while lo < hi, scalars[lo].properties.isWhitespace { lo += 1 }
        while hi > lo, scalars[hi - 1].properties.isWhitespace { hi -= 1 }
        return String(String.UnicodeScalarView(scalars[lo..<hi]))
    }

    /// Go's `filepath.Clean` for `/` paths.
    static func clean(_ path: String) -> String {
        if path.isEmpty { return "." }
        let rooted = path.hasPrefix("/")
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if let last = parts.last, last != ".." {
                    parts.removeLast()
                } else if !rooted {
                    parts.append(part)
                }
                continue
            }
            parts.append(part)
        }
        let joined = parts.joined(separator: "/")
        if rooted { return "/" + joined }
        return joined.isEmpty ? "." : joined
    }

    // MARK: - Compiling

    static func compile(_ text: String, exception: Bool, original: String) throws -> Pattern {
        let s = Array(text.unicodeScalars)
        guard validate(s) else {
            throw BerthError.invalid("invalid .dockerignore pattern \"\(original)\": syntax error in pattern")
        }
        var tokens: [Pattern.Token] = []
        var type = Pattern.MatchType.exact
        var i = 0
        var iteration = 0
        while i < s.count {
            let c = s[i]
            i += 1
            defer { iteration += 1 }
            switch c {
            case "*":
                if i < s.count, s[i] == "*" {
                    i += 1
                    if i < s.count, s[i] == "/" { i += 1 }
                    if i == s.count {
                        if type == .exact {
                            type = .prefix
                        } else {
                            type = .glob
                        }
                        tokens.append(.anything)
                    } else {
                        tokens.append(.directories)
                        type = .glob
                    }
                    if iteration == 0 { type = .suffix }
                } else {
                    tokens.append(.star)
                    type = .glob
                }
            case "?":
                tokens.append(.one)
                type = .glob
            case "\\":
                if i < s.count {
                    tokens.append(.literal(s[i]))
                    i += 1
                    type = .glob
                } else {
                    tokens.append(.literal("\\"))
                }
            case "[":
                type = .glob
                var j = i
                var negated = false
                if j < s.count, s[j] == "^" {
                    negated = true
                    j += 1
                }
                var ranges: [ClosedRange<UInt32>] = []
                var first = true
                while j < s.count {
                    if s[j] == "]", !first {
                        j += 1
                        break
                    }
                    first = false
                    var lo = s[j]
                    j += 1
                    if lo == "\\", j < s.count {
                        lo = s[j]
                        j += 1
                    }
                    var hi = lo
                    if j < s.count, s[j] == "-" {
                        j += 1
                        if j < s.count {
                            hi = s[j]
                            j += 1
                            if hi == "\\", j < s.count {
                                hi = s[j]
                                j += 1
                            }
                        }
                    }
                    if lo.value <= hi.value { ranges.append(lo.value...hi.value) }
                }
                tokens.append(.set(negated: negated, ranges: ranges))
                i = j
            default:
                tokens.append(.literal(c))
            }
        }
        return Pattern(text: text, exception: exception, type: type, tokens: tokens)
    }

    /// Go's `filepath.Match` syntax check: classes closed and non-empty, ranges complete,
    /// no trailing `\`.
    static func validate(_ s: [Unicode.Scalar]) -> Bool {
        var i = 0
        while i < s.count {
            let c = s[i]
            i += 1
            if c == "\\" {
                guard i < s.count else { return false }
                i += 1
            } else if c == "[" {
                if i < s.count, s[i] == "^" { i += 1 }
                var count = 0
                while true {
                    guard i < s.count else { return false }
                    if s[i] == "]", count > 0 {
                        i += 1
                        break
                    }
                    // a character (getEsc)
                    guard let next = escaped(s, &i) else { return false }
                    _ = next
                    if i < s.count, s[i] == "-" {
                        i += 1
                        guard escaped(s, &i) != nil else { return false }
                    }
                    count += 1
                }
            }
        }
        return true
    }

    private static func escaped(_ s: [Unicode.Scalar], _ i: inout Int) -> Unicode.Scalar? {
        guard i < s.count, s[i] != "-", s[i] != "]" else { return nil }
        var c = s[i]
        i += 1
        if c == "\\" {
            guard i < s.count else { return nil }
            c = s[i]
            i += 1
        }
        return c
    }
}

extension DockerIgnore.Pattern {
    func matches(_ path: String) -> Bool {
        switch type {
        case .exact:
            return path == text
        case .prefix:
            return path.hasPrefix(String(text.dropLast(2)))
        case .suffix:
            let suffix = String(text.dropFirst(2))
            if path.hasSuffix(suffix) { return true }
            return suffix.hasPrefix("/") && path == String(suffix.dropFirst())
        case .glob:
            let final = run(Array(path.unicodeScalars)[...])
            return final.accepts
        }
    }

    /// Conservative: could some path below `prefix` (which ends in "/") match?
    func mightMatchBelow(_ prefix: [Unicode.Scalar]) -> Bool {
        let p = String(String.UnicodeScalarView(prefix))
        switch type {
        case .exact:
            return text.hasPrefix(p) || p.hasPrefix(text + "/")
        case .prefix:
            let stem = String(text.dropLast(2))
            return p.hasPrefix(stem) || stem.hasPrefix(p)
        case .suffix:
            return true
        case .glob:
            return run(prefix[...]).alive
        }
    }

    /// NFA states: token index `i` (before token i), `inside` a `directories` group, the end,
    /// and the tail `(/.*)?` after a full match.
    struct States {
        var at: [Bool]
        var inside: [Bool]
        var tail = false
        var accepts: Bool { at.last == true || tail }
        var alive: Bool { tail || at.dropLast().contains(true) || inside.contains(true) }
    }

    private func closure(_ st: inout States) {
        for i in 0..<tokens.count where st.at[i] {
            switch tokens[i] {
            case .star, .anything, .directories: st.at[i + 1] = true
            default: break
            }
        }
    }

    func run(_ input: ArraySlice<Unicode.Scalar>) -> States {
        let n = tokens.count
        var st = States(at: [Bool](repeating: false, count: n + 1), inside: [Bool](repeating: false, count: n + 1))
        st.at[0] = true
        closure(&st)
        for c in input {
            var next = States(at: [Bool](repeating: false, count: n + 1), inside: [Bool](repeating: false, count: n + 1))
            next.tail = st.tail
            if st.at[n], c == "/" { next.tail = true }
            for i in 0..<n {
                if st.inside[i] {
                    next.inside[i] = true
                    if c == "/" { next.at[i + 1] = true }
                }
                guard st.at[i] else { continue }
                switch tokens[i] {
                case .literal(let l): if l == c { next.at[i + 1] = true }
                case .one: if c != "/" { next.at[i + 1] = true }
                case .star: if c != "/" { next.at[i] = true }
                case .anything: next.at[i] = true
                case .directories:
                    next.inside[i] = true
                    if c == "/" { next.at[i + 1] = true }
                case .set(let negated, let ranges):
                    if ranges.contains(where: { $0.contains(c.value) }) != negated { next.at[i + 1] = true }
                }
            }
            closure(&next)
            // Nothing left that could consume more input: stop early. The end state counts as
            // live here (only a following `/` can extend it, into the tail); returning it
            // early would accept a path with more characters after a full match (`*[/]`
            // against `a/b`).
            if !next.alive && !next.at[n] { return next }
            st = next
        }
        return st
    }
}
