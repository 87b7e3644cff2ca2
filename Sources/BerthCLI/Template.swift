import BerthCore

/// The small subset of Go templates that `--format` needs: literal text, `{{.}}`,
/// `{{.Field}}`, `{{.A.B}}`, `{{json .}}` and `{{json .Field}}`, applied to a JSON value. A
/// leading `table ` makes tab-separated cells aligned under a header row. `\t` and `\n` in the
/// format are the characters. A method call with string arguments (`{{.Label "com.x"}}`) looks
/// the first argument up in the object the value holds under `Label()` (empty when missing):
/// list rows carry such hidden members, which their JSON output leaves out.
struct Template {
    enum Part: Equatable {
        case text(String)
        case field([String])
        case json([String])
        /// `.Method "arg"`: the method's path and its (unquoted) arguments.
        case call([String], [String])
    }

    let parts: [Part]
    /// Whether the format started with `table`.
    let isTable: Bool

    /// Parses `format`; unsupported actions are an error naming them.
    init(_ format: String) throws {
        var f = format
        if f.hasPrefix("table") {
            isTable = true
            f = String(f.dropFirst("table".count))
            while f.first == " " { f.removeFirst() }
        } else {
            isTable = false
        }
        f = f.replacingOccurrences("\\t", "\t").replacingOccurrences("\\n", "\n")
        var parts: [Part] = []
        var rest = Substring(f)
        while let open = rest.firstRange(of: "{{") {
            if open.lowerBound > rest.startIndex { parts.append(.text(String(rest[..<open.lowerBound]))) }
            guard let close = rest[open.upperBound...].firstRange(of: "}}") else {
                throw CLIError.message("template parsing error: unclosed action")
            }
            var action = rest[open.upperBound..<close.lowerBound].trimmingSpaces()
            if action.hasPrefix("-") { action = action.dropFirst().trimmingSpaces() }
            if action.hasSuffix("-") { action = action.dropLast().trimmingSpaces() }
            if action.hasPrefix("json ") || action == "json" {
                let arg = action.dropFirst(4).trimmingSpaces()
                parts.append(.json(try Template.path(arg)))
            } else if let space = action.firstIndex(of: " "), action[action.index(after: space)...].trimmingSpaces().hasPrefix("\"") {
                let args = try Template.stringArguments(action[action.index(after: space)...])
                parts.append(.call(try Template.path(action[..<space]), args))
            } else {
                parts.append(.field(try Template.path(action)))
            }
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { parts.append(.text(String(rest))) }
        self.parts = parts
    }

    static func path(_ text: Substring) throws -> [String] {
        guard text.hasPrefix(".") else {
            throw CLIError.message("template parsing error: unsupported action \"\(text)\" (supported: {{.Field}}, {{json .}})")
        }
        return text.dropFirst().split(separator: ".").map(String.init)
    }

    /// `"a" "b"` → ["a", "b"] (Go string literals with `\"` and `\\` escapes).
    static func stringArguments(_ text: Substring) throws -> [String] {
        var args: [String] = []
        var rest = text.trimmingSpaces()
        while !rest.isEmpty {
            guard rest.first == "\"" else { throw CLIError.message("template parsing error: unexpected \"\(rest)\" in operand") }
            rest = rest.dropFirst()
            var arg = ""
            var closed = false
            while let c = rest.first {
                rest = rest.dropFirst()
                if c == "\\", let n = rest.first { arg.append(n); rest = rest.dropFirst(); continue }
                if c == "\"" { closed = true; break }
                arg.append(c)
            }
            guard closed else { throw CLIError.message("template parsing error: unterminated quoted string") }
            args.append(arg)
            rest = rest.trimmingSpaces()
        }
        return args
    }

    /// Whether the format is docker's `json` shorthand (also `{{json .}}`).
    static func isJSON(_ format: String?) -> Bool {
        guard let f = format?.trimmingSpacesString() else { return false }
        return f == "json" || f == "{{json .}}"
    }

    /// Expands the template for one value.
    func render(_ value: JSONValue) -> String {
        var out = ""
        for p in parts {
            switch p {
            case .text(let t): out += t
            case .field(let path): out += Template.goString(Template.lookup(value, path))
            case .json(let path): out += Format.compactJSON(Template.lookup(value, path) ?? .null)
            case .call(let path, let args):
                var method = path
                if let last = method.popLast() { method.append(last + "()") }
                let table = Template.lookup(value, method)
                out += args.first.flatMap { table?[$0]?.stringValue } ?? ""
            }
        }
        return out
    }

    /// Whether any action uses `name`, or the whole value (`{{.Size}}`, `{{json .}}`: ps asks
    /// the daemon for sizes).
    func uses(_ name: String) -> Bool {
        parts.contains { p in
            switch p {
            case .text: return false
            case .field(let path), .json(let path), .call(let path, _): return path.isEmpty || path.first == name
            }
        }
    }

    /// The header row for a `table` format: each action's field name through `headers`
    /// (docker's column titles), else upper-cased.
    func header(_ headers: [String: String]) -> String {
        var out = ""
        for p in parts {
            switch p {
            case .text(let t): out += t
            case .field(let path), .json(let path), .call(let path, _):
                let name = path.joined(separator: ".")
                out += headers[name] ?? name.uppercased()
            }
        }
        return out
    }

    /// Renders `values`: as lines, or (for `table`) as aligned columns under a header.
    func renderAll(_ values: [JSONValue], headers: [String: String]) -> String {
        guard isTable else { return values.map { render($0) + "\n" }.joined() }
        var tw = TabWriter()
        tw.add(header(headers).components(separatedByTab: ()))
        for v in values { tw.add(render(v).components(separatedByTab: ())) }
        return tw.render()
    }

    static func lookup(_ value: JSONValue, _ path: [String]) -> JSONValue? {
        var v: JSONValue? = value
        for key in path { v = v?[key] }
        return v
    }

    /// How Go's `text/template` prints a value decoded from JSON.
    static func goString(_ v: JSONValue?) -> String {
        guard let v else { return "<no value>" }
        switch v {
        case .null: return "<nil>"
        case .bool(let b): return b ? "true" : "false"
        case .number(let n): return n
        case .string(let s): return s
        case .array(let items): return "[" + items.map { goString($0) }.joined(separator: " ") + "]"
        case .object(let obj):
            return "map[" + obj.sorted { $0.key < $1.key }.map { "\($0.key):\(goString($0.value))" }.joined(separator: " ") + "]"
        }
    }
}

extension String {
    func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }

    func components(separatedByTab: ()) -> [String] {
        split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
    }

    func trimmingSpacesString() -> String { String(Substring(self).trimmingSpaces()) }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\n" || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\n" || l == "\t" { s = s.dropLast() }
        return s
    }
}
