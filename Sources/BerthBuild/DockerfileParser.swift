import BerthCore

/// Parses Dockerfile text into a ``Dockerfile``, following BuildKit's frontend
/// (`frontend/dockerfile/parser` and `instructions`) in what it accepts, rejects and how it says so.
///
/// Parsing runs in two phases, as in BuildKit: the line phase (directives, comments,
/// continuations, heredoc bodies, each instruction's argument syntax) reads the whole file first,
/// then each instruction is checked (known keyword, flags, argument counts, stage order) in
/// file order. So a syntax error anywhere wins over an unknown instruction earlier in the file.
public enum DockerfileParser {
    /// Parses a Dockerfile.
    ///
    /// - Throws: ``DockerfileError`` with the first line of the offending instruction and
    ///   Docker's wording (`unknown instruction: FOO`, `COPY requires at least two arguments, …`).
    ///   Errors about the whole file (empty, no stages) have line 0.
    public static func parse(_ text: String) throws(DockerfileError) -> Dockerfile {
        var reader = LineReader(text: text)
        let nodes = try reader.readNodes()
        var file = Dockerfile(directives: reader.directives.values, escape: Character(reader.escape))
        var stageNames: [String: Int] = [:]
        var duplicate: (line: Int, name: String)?
        for node in nodes {
            let instruction = try node.instruction()
            if case .from(_, let name, _) = instruction.kind {
                if let name {
                    if stageNames[name] != nil, duplicate == nil {
                        duplicate = (instruction.line, name)
                    }
                    stageNames[name] = file.stages.count
                }
                file.stages.append(Stage(index: file.stages.count, from: instruction, instructions: []))
                continue
            }
            if file.stages.isEmpty {
                if case .arg = instruction.kind {
                    file.metaArgs.append(instruction)
                    continue
                }
                throw DockerfileError(line: instruction.line, message: "no build stage in current context")
            }
            file.stages[file.stages.count - 1].instructions.append(instruction)
        }
        if let duplicate {
            throw DockerfileError(line: duplicate.line, message: "duplicate stage name \(quoted(duplicate.name))")
        }
        if file.stages.isEmpty {
            throw DockerfileError(line: 0, message: "dockerfile contains no stages to build")
        }
        return file
    }

    /// The heredoc a word refers to (`<<EOF`, `<<-"EOF"`, `3<<EOF`), or nil when the word is not a
    /// heredoc. `COPY <<EOF /x` names its source this way; the builder looks up the body in the
    /// instruction's ``Instruction/heredocs`` by `name`.
    public static func heredoc(in word: String) throws(DockerfileError) -> (name: String, expand: Bool, chomp: Bool)? {
        do {
            return try HeredocWord.parse(word)
        } catch {
            throw DockerfileError(line: 0, message: error.message)
        }
    }

    /// Instructions that take heredocs.
    static let heredocInstructions: Set<String> = ["RUN", "COPY", "ADD"]

    static let known: Set<String> = [
        "FROM", "RUN", "CMD", "ENTRYPOINT", "ENV", "ARG", "LABEL", "WORKDIR", "USER", "COPY", "ADD",
        "EXPOSE", "VOLUME", "HEALTHCHECK", "SHELL", "STOPSIGNAL", "ONBUILD", "MAINTAINER",
    ]
}

/// A message carried inside the parser before it gets a line.
struct ParseFailure: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// Go's `%q` for the simple strings we quote in messages.
func quoted(_ s: String) -> String {
    var out = "\""
    for c in s.unicodeScalars {
        switch c {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default:
            if c.value < 0x20 || c.value == 0x7F {
                let hex = String(c.value, radix: 16)
                out += "\\x" + (hex.count < 2 ? "0" + hex : hex)
            } else {
                out.unicodeScalars.append(c)
            }
        }
    }
    return out + "\""
}

// MARK: - Characters

/// Go's `unicode.IsSpace` (the Unicode White_Space property), with an ASCII fast path.
@inline(__always) func isSpace(_ c: Unicode.Scalar) -> Bool {
    if c.value < 0x80 { return c.value == 0x20 || (c.value >= 0x09 && c.value <= 0x0D) }
    return c.properties.isWhitespace
}

/// A String from scalars, through UTF-8 (much faster than `String.UnicodeScalarView(_:)`).
func makeString<C: Collection>(_ scalars: C) -> String where C.Element == Unicode.Scalar {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(scalars.count)
    for c in scalars {
        let v = c.value
        if v < 0x80 {
            bytes.append(UInt8(v))
        } else if v < 0x800 {
            bytes.append(UInt8(0xC0 | (v >> 6)))
            bytes.append(UInt8(0x80 | (v & 0x3F)))
        } else if v < 0x10000 {
            bytes.append(UInt8(0xE0 | (v >> 12)))
            bytes.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            bytes.append(UInt8(0x80 | (v & 0x3F)))
        } else {
            bytes.append(UInt8(0xF0 | (v >> 18)))
            bytes.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
            bytes.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            bytes.append(UInt8(0x80 | (v & 0x3F)))
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// `[\t\v\f\r ]`: BuildKit's `reWhitespace`.
@inline(__always) func isSeparator(_ c: Unicode.Scalar) -> Bool {
    c == " " || c == "\t" || c == "\u{0B}" || c == "\u{0C}" || c == "\r"
}

extension Array where Element == Unicode.Scalar {
    func trimmedLeft() -> ArraySlice<Unicode.Scalar> {
        var i = startIndex
        while i < endIndex, isSpace(self[i]) { i += 1 }
        return self[i...]
    }
}

extension ArraySlice where Element == Unicode.Scalar {
    func trimmed() -> ArraySlice<Unicode.Scalar> {
        var lo = startIndex
        var hi = endIndex
        while lo < hi, isSpace(self[lo]) { lo += 1 }
        while hi > lo, isSpace(self[hi - 1]) { hi -= 1 }
        return self[lo..<hi]
    }

    var string: String { makeString(self) }
}

extension String {
    var scalars: [Unicode.Scalar] { Array(unicodeScalars) }

    func trimmedSpace() -> String { scalars[...].trimmed().string }

    /// Splits on runs of `[\t\v\f\r ]` (BuildKit's `reWhitespace.Split(s, -1)`, after trimming).
    func separatorWords() -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        for c in unicodeScalars {
            if isSeparator(c) {
                if inWord { words.append(current); current = ""; inWord = false }
            } else {
                current.unicodeScalars.append(c)
                inWord = true
            }
        }
        if inWord { words.append(current) }
        return words
    }
}

// MARK: - Directives

/// Parser directives (`# syntax=…`, `# escape=…`, `# check=…`) at the top of the file.
struct DirectiveParser {
    static let valid: Set<String> = ["syntax", "escape", "check"]
    var values: [String: String] = [:]
    var done = false

    /// `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`, or nil.
    static func match(_ line: ArraySlice<Unicode.Scalar>) -> (String, String)? {
        func goSpace(_ c: Unicode.Scalar) -> Bool { c == " " || c == "\t" || c == "\n" || c == "\u{0C}" || c == "\r" }
        func letter(_ c: Unicode.Scalar) -> Bool { (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") }
        var i = line.startIndex
        guard i < line.endIndex, line[i] == "#" else { return nil }
        i += 1
        while i < line.endIndex, goSpace(line[i]) { i += 1 }
        guard i < line.endIndex, letter(line[i]) else { return nil }
        let nameStart = i
        while i < line.endIndex, letter(line[i]) || (line[i] >= "0" && line[i] <= "9") { i += 1 }
        let name = line[nameStart..<i].string
        while i < line.endIndex, goSpace(line[i]) { i += 1 }
        guard i < line.endIndex, line[i] == "=" else { return nil }
        i += 1
        while i < line.endIndex, goSpace(line[i]) { i += 1 }
        var end = line.endIndex
        while end > i, goSpace(line[end - 1]) { end -= 1 }
        guard end > i else { return nil }
        return (name, line[i..<end].string)
    }

    /// Looks at one line; returns the directive it sets, if any.
    mutating func parse(_ line: ArraySlice<Unicode.Scalar>) throws(ParseFailure) -> (String, String)? {
        if done { return nil }
        guard let (rawName, value) = Self.match(line) else {
            done = true
            return nil
        }
        let name = rawName.lowercased()
        guard Self.valid.contains(name) else {
            done = true
            return nil
        }
        if values[name] != nil { throw ParseFailure("only one \(name) parser directive can be used") }
        values[name] = value
        return (name, value)
    }
}

// MARK: - Line phase

/// Arguments as BuildKit's line parsers leave them.
indirect enum LineArguments {
    case none
    case json([String])
    /// `parseMaybeJSON` fallback and `parseString`: the text as one argument.
    case text(String)
    case words([String])
    /// `key=value` pairs, or the one pair of the legacy `ENV k v`.
    case pairs([KeyValue])
    /// `HEALTHCHECK TYPE rest`.
    case health(type: String, command: LineArguments)
    /// `ONBUILD <instruction>`.
    case sub(LineNode)
}

/// One instruction after the line phase.
struct LineNode {
    var line: Int
    var endLine: Int
    /// The keyword as written.
    var keyword: String
    /// Everything after the keyword (flags included), trimmed.
    var rest: String
    /// Flag words (`--from=x`), quotes removed.
    var flagWords: [String]
    /// The arguments after the flags, trimmed.
    var arguments: String
    var parsed: LineArguments
    var heredocs: [Heredoc] = []

    var upper: String { keyword.uppercased() }

    /// `newNodeFromLine`: splits keyword, flags and arguments and runs the keyword's line parser.
    static func make(_ line: String, escape: Unicode.Scalar, lines: (Int, Int)) throws(ParseFailure) -> LineNode {
        let all = line.scalars[...].trimmed()
        var i = all.startIndex
        while i < all.endIndex, !isSeparator(all[i]) { i += 1 }
        let keyword = all[all.startIndex..<i].string
        while i < all.endIndex, isSeparator(all[i]) { i += 1 }
        let rest = all[i...]
        let (arguments, flags) = extractFlags(rest)
        let args = arguments.trimmed().string
        let parsed = try parseArguments(keyword: keyword.uppercased(), args, escape: escape, lines: lines)
        return LineNode(line: lines.0, endLine: lines.1, keyword: keyword, rest: rest.string, flagWords: flags,
                        arguments: args, parsed: parsed)
    }

    /// BuildKit's `extractBuilderFlags`: leading `--words` (quotes and `\` handled) and the rest.
    static func extractFlags(_ line: ArraySlice<Unicode.Scalar>) -> (ArraySlice<Unicode.Scalar>, [String]) {
        enum Phase { case spaces, word, quote }
        var words: [String] = []
        var phase = Phase.spaces
        var word = ""
        var quote: Unicode.Scalar = "\0"
        var blankOK = false
        var pos = line.startIndex
        while pos <= line.endIndex {
            let atEnd = pos == line.endIndex
            let ch: Unicode.Scalar = atEnd ? "\0" : line[pos]
            if phase == .spaces {
                if atEnd { break }
                if isSpace(ch) { pos += 1; continue }
                if ch != "-" || pos + 1 == line.endIndex || line[pos + 1] != "-" {
                    return (line[pos...], words)
                }
                phase = .word
            }
            if atEnd {
                if word != "--", blankOK || !word.isEmpty { words.append(word) }
                break
            }
            if phase == .word {
                if isSpace(ch) {
                    phase = .spaces
                    if word == "--" { return (line[pos...], words) }
                    if blankOK || !word.isEmpty { words.append(word) }
                    word = ""
                    blankOK = false
                    pos += 1
                    continue
                }
                if ch == "'" || ch == "\"" {
                    quote = ch
                    blankOK = true
                    phase = .quote
                    pos += 1
                    continue
                }
                var c = ch
                if c == "\\" {
                    if pos + 1 == line.endIndex { pos += 1; continue }
                    pos += 1
                    c = line[pos]
                }
                word.unicodeScalars.append(c)
                pos += 1
                continue
            }
            // quote
            if ch == quote {
                phase = .word
                pos += 1
                continue
            }
            var c = ch
            if c == "\\" {
                if pos + 1 == line.endIndex { phase = .word; pos += 1; continue }
                pos += 1
                c = line[pos]
            }
            word.unicodeScalars.append(c)
            pos += 1
        }
        return (line[line.endIndex...], words)
    }

    static func parseArguments(keyword: String, _ rest: String, escape: Unicode.Scalar, lines: (Int, Int)) throws(ParseFailure) -> LineArguments {
        switch keyword {
        case "ADD", "COPY", "VOLUME":
            switch try parseJSON(rest) {
            case .some(let a): return .json(a)
            case .none: return rest.isEmpty ? .none : .words(rest.separatorWords())
            }
        case "ARG":
            let w = parseWords(rest, escape: escape)
            return w.isEmpty ? .none : .words(w)
        case "CMD", "ENTRYPOINT", "RUN", "SHELL":
            return try parseMaybeJSON(rest)
        case "ENV", "LABEL":
            return try parseNameValue(rest, keyword: keyword, escape: escape)
        case "EXPOSE", "FROM":
            return rest.isEmpty ? .none : .words(rest.separatorWords())
        case "HEALTHCHECK":
            let s = rest.scalars
            var sep = 0
            while sep < s.count, !isSpace(s[sep]) { sep += 1 }
            var next = sep
            while next < s.count, isSpace(s[next]) { next += 1 }
            if sep == 0 { return .none }
            let command = try parseMaybeJSON(s[next...].string)
            return .health(type: s[..<sep].string, command: command)
        case "MAINTAINER", "STOPSIGNAL", "USER", "WORKDIR":
            return rest.isEmpty ? .none : .text(rest)
        case "ONBUILD":
            if rest.isEmpty { return .none }
            return .sub(try make(rest, escape: escape, lines: lines))
        default:
            return .none
        }
    }

    /// `parseMaybeJSON`: a JSON string array, else the text (an array of non-strings is an error).
    static func parseMaybeJSON(_ rest: String) throws(ParseFailure) -> LineArguments {
        if rest.isEmpty { return .none }
        if let a = try parseJSON(rest) { return .json(a) }
        return .text(rest)
    }

    /// nil when `rest` is not a JSON array; throws when it is one with a non-string element.
    static func parseJSON(_ rest: String) throws(ParseFailure) -> [String]? {
        let trimmed = rest.scalars.trimmedLeft()
        guard trimmed.first == "[" else { return nil }
        let value: JSONValue
        do {
            value = try JSON.parse(trimmed.string)
        } catch {
            return nil
        }
        guard let array = value.arrayValue else { return nil }
        var out: [String] = []
        for element in array {
            guard let s = element.stringValue else {
                throw ParseFailure("when using JSON array syntax, arrays must be comprised of strings only")
            }
            out.append(s)
        }
        return out
    }

    /// BuildKit's `parseWords`: splits on whitespace, keeping quotes and escapes as written.
    static func parseWords(_ rest: String, escape: Unicode.Scalar) -> [String] {
        enum Phase { case spaces, word, quote }
        let s = rest.scalars
        var words: [String] = []
        var phase = Phase.spaces
        var word = ""
        var quote: Unicode.Scalar = "\0"
        var blankOK = false
        var pos = 0
        while pos <= s.count {
            let atEnd = pos == s.count
            var ch: Unicode.Scalar = atEnd ? "\0" : s[pos]
            if phase == .spaces {
                if atEnd { break }
                if isSpace(ch) { pos += 1; continue }
                phase = .word
            }
            if atEnd {
                if blankOK || !word.isEmpty { words.append(word) }
                break
            }
            if phase == .word {
                if isSpace(ch) {
                    phase = .spaces
                    if blankOK || !word.isEmpty { words.append(word) }
                    word = ""
                    blankOK = false
                    pos += 1
                    continue
                }
                if ch == "'" || ch == "\"" {
                    quote = ch
                    blankOK = true
                    phase = .quote
                }
                if ch == escape {
                    if pos + 1 == s.count { pos += 1; continue }
                    word.unicodeScalars.append(ch)
                    pos += 1
                    ch = s[pos]
                }
                word.unicodeScalars.append(ch)
                pos += 1
                continue
            }
            // quote
            if ch == quote { phase = .word }
            if ch == escape, quote != "'" {
                if pos + 1 == s.count { phase = .word; pos += 1; continue }
                pos += 1
                word.unicodeScalars.append(ch)
                ch = s[pos]
            }
            word.unicodeScalars.append(ch)
            pos += 1
        }
        return words
    }

    /// `parseNameVal` for ENV and LABEL: `k=v …` or the legacy `k v`.
    static func parseNameValue(_ rest: String, keyword: String, escape: Unicode.Scalar) throws(ParseFailure) -> LineArguments {
        let words = parseWords(rest, escape: escape)
        guard let first = words.first else { return .none }
        if !first.unicodeScalars.contains("=") {
            let s = rest.scalars
            var i = 0
            while i < s.count, !isSeparator(s[i]) { i += 1 }
            let key = s[..<i].string
            while i < s.count, isSeparator(s[i]) { i += 1 }
            if i >= s.count { throw ParseFailure("\(keyword) must have two arguments") }
            return .pairs([KeyValue(key: key, value: s[i...].string)])
        }
        var pairs: [KeyValue] = []
        for word in words {
            guard let eq = word.firstIndex(of: "=") else {
                throw ParseFailure("Syntax error - can't find = in \(quoted(word)). Must be of the form: name=value")
            }
            pairs.append(KeyValue(key: String(word[..<eq]), value: String(word[word.index(after: eq)...])))
        }
        return .pairs(pairs)
    }

    /// Heredocs named on an instruction line (`heredocsFromLine`).
    static func heredocWords(_ line: String) throws(ParseFailure) -> [(name: String, expand: Bool, chomp: Bool)] {
        var lexer = ShellWords(escape: "\\")
        lexer.rawQuotes = true
        lexer.rawEscapes = true
        guard let words = try? lexer.process(line, env: [:]).words else { return [] }
        var out: [(name: String, expand: Bool, chomp: Bool)] = []
        for word in words {
            if let h = try HeredocWord.parse(word) { out.append(h) }
        }
        return out
    }
}

/// `^(\d*)<<(-?)([^<]*)$` and the name inside it.
enum HeredocWord {
    static func parse(_ word: String) throws(ParseFailure) -> (name: String, expand: Bool, chomp: Bool)? {
        let s = word.scalars
        var i = 0
        while i < s.count, s[i] >= "0", s[i] <= "9" { i += 1 }
        guard i + 1 < s.count, s[i] == "<", s[i + 1] == "<" else { return nil }
        i += 2
        var chomp = false
        if i < s.count, s[i] == "-" {
            chomp = true
            i += 1
        }
        let rest = s[i...]
        if rest.contains("<") { return nil }
        let text = rest.string
        var lexer = ShellWords(escape: "\\")
        lexer.skipUnsetEnv = true
        let words: [String]
        let rawWords: [String]
        do {
            words = try lexer.process(text, env: [:]).words
            guard words.count == 1 else { return nil }
            lexer.rawQuotes = true
            rawWords = try lexer.process(text, env: [:]).words
        } catch {
            throw ParseFailure("\(error)")
        }
        guard rawWords.count == words.count else {
            throw ParseFailure("internal lexing of heredoc produced inconsistent results: \(text)")
        }
        func quotes(_ s: String) -> Int { s.unicodeScalars.reduce(0) { $0 + ($1 == "'" || $1 == "\"" ? 1 : 0) } }
        return (words[0], quotes(words[0]) == quotes(rawWords[0]), chomp)
    }
}

/// Reads lines into ``LineNode``s: BuildKit's `parser.Parse` loop.
struct LineReader {
    var lines: [[Unicode.Scalar]]
    var directives = DirectiveParser()
    var escape: Unicode.Scalar = "\\"
    var emptyText: Bool

    init(text: String) {
        var lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { Array($0) }
        if text.unicodeScalars.last == "\n" { lines.removeLast() }
        if let first = lines.first, first.first == "\u{FEFF}" { lines[0].removeFirst() }
        for i in lines.indices {
            while let last = lines[i].last, last == "\r" || last == "\n" { lines[i].removeLast() }
        }
        self.lines = lines
        self.emptyText = text.isEmpty || text == "\u{FEFF}"
    }

    /// `strings.Contains(line, "<<")` without the generic substring search.
    static func hasHeredocMarker(_ s: String) -> Bool {
        var previous: UInt8 = 0
        for b in s.utf8 {
            if b == UInt8(ascii: "<"), previous == b { return true }
            previous = b
        }
        return false
    }

    static func isComment(_ line: [Unicode.Scalar]) -> Bool { line.trimmedLeft().first == "#" }

    /// Removes a trailing escape (plus spaces and tabs after it); true when there was none.
    func trimContinuation(_ line: ArraySlice<Unicode.Scalar>) -> (ArraySlice<Unicode.Scalar>, Bool) {
        var end = line.endIndex
        while end > line.startIndex, line[end - 1] == " " || line[end - 1] == "\t" { end -= 1 }
        if end > line.startIndex, line[end - 1] == escape {
            return (line[line.startIndex..<(end - 1)], false)
        }
        return (line, true)
    }

    mutating func readNodes() throws(DockerfileError) -> [LineNode] {
        var nodes: [LineNode] = []
        var i = 0
        while i < lines.count {
            let lineNumber = i + 1
            let first = lines[i].trimmedLeft()
            do throws(ParseFailure) {
                if let (name, value) = try directives.parse(first), name == "escape" {
                    guard value == "\\" || value == "`" else {
                        throw ParseFailure("invalid escape token '\(value)' does not match ` or \\")
                    }
                    escape = value.unicodeScalars.first ?? "\\"
                }
            } catch {
                throw DockerfileError(line: lineNumber, message: error.message)
            }
            i += 1
            let content = first.first == "#" ? first[first.endIndex...] : first
            var (piece, endOfLine) = trimContinuation(content)
            if endOfLine, piece.isEmpty { continue }
            var buffer = piece.string
            while !endOfLine, i < lines.count {
                let next = lines[i]
                i += 1
                if Self.isComment(next) { continue }
                if next.trimmedLeft().isEmpty { continue }
                (piece, endOfLine) = trimContinuation(next[...])
                buffer += piece.string
            }
            var node: LineNode
            do {
                node = try LineNode.make(buffer, escape: escape, lines: (lineNumber, i))
            } catch {
                throw DockerfileError(line: lineNumber, message: error.message)
            }
            var heredocKeyword = node.upper
            if heredocKeyword == "ONBUILD", case .sub(let sub) = node.parsed {
                heredocKeyword = sub.upper
            }
            if DockerfileParser.heredocInstructions.contains(heredocKeyword), Self.hasHeredocMarker(buffer) {
                let names: [(name: String, expand: Bool, chomp: Bool)]
                do {
                    names = try LineNode.heredocWords(buffer)
                } catch {
                    throw DockerfileError(line: lineNumber, message: error.message)
                }
                for h in names {
                    var body = ""
                    var terminated = false
                    while i < lines.count {
                        let raw = lines[i]
                        i += 1
                        var candidate = raw[...]
                        if h.chomp { while candidate.first == "\t" { candidate = candidate.dropFirst() } }
                        if candidate.elementsEqual(h.name.unicodeScalars) {
                            terminated = true
                            break
                        }
                        body += (h.chomp ? candidate : raw[...]).string
                        body += "\n"
                    }
                    if !terminated {
                        throw DockerfileError(line: lineNumber, message: "unterminated heredoc")
                    }
                    node.heredocs.append(Heredoc(name: h.name, content: body, expand: h.expand, chomp: h.chomp))
                }
            }
            node.endLine = i
            nodes.append(node)
        }
        if nodes.isEmpty {
            throw DockerfileError(line: 0, message: emptyText
                ? "the Dockerfile (Dockerfile) cannot be empty" : "file with no instructions")
        }
        return nodes
    }
}
