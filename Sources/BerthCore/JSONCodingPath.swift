/// One step of a coding path: an object key or an array offset.
enum JSONPathComponent {
    case key(String)
    case index(Int)
}

/// The `CodingKey` our coders report in `codingPath`.
struct JSONKey: CodingKey {
    var stringValue: String
    var intValue: Int?

    init(stringValue: String) {
        self.stringValue = stringValue
        self.intValue = nil
    }

    init(intValue: Int) {
        self.stringValue = "Index \(intValue)"
        self.intValue = intValue
    }

    init(_ component: JSONPathComponent) {
        switch component {
        case .key(let k): self.init(stringValue: k)
        case .index(let i): self.init(intValue: i)
        }
    }
}

enum JSONPath {
    /// `process.args[2]`, `annotations["org.opencontainers.image.title"]`, `[0].name`.
    /// Keys that are not plain identifiers (letters, digits, `_`, `-`) are quoted in brackets so
    /// the path stays unambiguous.
    static func string(_ components: [JSONPathComponent]) -> String {
        var s = ""
        for c in components {
            switch c {
            case .index(let i):
                s += "[\(i)]"
            case .key(let k):
                if isPlain(k) {
                    if !s.isEmpty { s += "." }
                    s += k
                } else {
                    s += "["
                    s += String(decoding: JSON.serialize(.string(k)), as: UTF8.self)
                    s += "]"
                }
            }
        }
        return s
    }

    static func string(_ codingPath: [any CodingKey]) -> String {
        string(codingPath.map { key in
            // Our own keys and Foundation's report array offsets with an intValue and a
            // non-numeric stringValue ("Index 3").
            if let i = key.intValue, key.stringValue != String(i) { return .index(i) }
            return .key(key.stringValue)
        })
    }

    private static func isPlain(_ k: String) -> Bool {
        guard !k.isEmpty else { return false }
        for c in k.utf8 {
            switch c {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
                continue
            default:
                return false
            }
        }
        return true
    }

    /// `"invalid json: <path>: <what>"`, or `"invalid json: <what>"` at the top level.
    static func decodingError(_ path: String, _ what: String) -> BerthError {
        BerthError(.invalidArgument, path.isEmpty ? "invalid json: \(what)" : "invalid json: \(path): \(what)")
    }

    /// `"cannot encode json: <path>: <what>"`, or without the path at the top level.
    static func encodingError(_ path: String, _ what: String) -> BerthError {
        BerthError(.invalidArgument, path.isEmpty ? "cannot encode json: \(what)" : "cannot encode json: \(path): \(what)")
    }

    /// Lower-cases the first letter and drops a final period of a Codable debug description.
    static func tidy(_ description: String) -> String {
        var s = description
        if s.hasSuffix(".") { s.removeLast() }
        guard let first = s.first, first.isUppercase,
              s.dropFirst().first.map({ !$0.isUppercase }) ?? true
        else { return s }
        return first.lowercased() + s.dropFirst()
    }
}

extension BerthError {
    /// A `BerthError` for a `DecodingError` thrown by a type's own `init(from:)` (for example
    /// a `RawRepresentable` enum meeting an unknown value), naming the path.
    static func fromDecoding(_ error: DecodingError) -> BerthError {
        switch error {
        case .keyNotFound(let key, let ctx):
            return JSONPath.decodingError(JSONPath.string(ctx.codingPath), "missing field '\(key.stringValue)'")
        case .typeMismatch(let type, let ctx):
            let what = ctx.debugDescription.isEmpty ? "expected \(type)" : JSONPath.tidy(ctx.debugDescription)
            return JSONPath.decodingError(JSONPath.string(ctx.codingPath), what)
        case .valueNotFound(let type, let ctx):
            let what = ctx.debugDescription.isEmpty ? "expected \(type), found null" : JSONPath.tidy(ctx.debugDescription)
            return JSONPath.decodingError(JSONPath.string(ctx.codingPath), what)
        case .dataCorrupted(let ctx):
            return JSONPath.decodingError(JSONPath.string(ctx.codingPath), JSONPath.tidy(ctx.debugDescription))
        @unknown default:
            return JSONPath.decodingError("", "\(error)")
        }
    }

    /// A `BerthError` for an `EncodingError` thrown by a type's own `encode(to:)`.
    static func fromEncoding(_ error: EncodingError) -> BerthError {
        switch error {
        case .invalidValue(_, let ctx):
            return JSONPath.encodingError(JSONPath.string(ctx.codingPath), JSONPath.tidy(ctx.debugDescription))
        @unknown default:
            return JSONPath.encodingError("", "\(error)")
        }
    }
}
