import BerthCore

/// The `filters` query parameter: `{"label":["a=b"],"dangling":["true"]}`, or the legacy form
/// `{"label":{"a=b":true}}` older clients send.
public struct Filters: Sendable, Equatable {
    public var values: [String: [String]]

    public init(_ values: [String: [String]] = [:]) { self.values = values }

    /// Parses the query value; a malformed one is a 400 as in Docker.
    public init(json text: String?) throws {
        values = [:]
        guard let text, !text.isEmpty else { return }
        let v: JSONValue
        do { v = try JSON.parse(text) } catch { throw BerthError.invalid("invalid filter: \(error.message)") }
        guard let obj = v.objectValue else { throw BerthError.invalid("invalid filter: want a JSON object") }
        for (k, item) in obj {
            if let arr = item.arrayValue {
                values[k] = try arr.map { e in
                    guard let s = e.stringValue else { throw BerthError.invalid("invalid filter '\(k)': want strings") }
                    return s
                }
            } else if let m = item.objectValue {
                values[k] = m.filter { $0.value.boolValue == true }.map(\.key)
            } else {
                throw BerthError.invalid("invalid filter '\(k)'")
            }
        }
    }

    /// Rejects filter names not in `allowed` (Docker: `invalid filter 'x'`).
    public func validate(_ allowed: Set<String>) throws {
        for k in values.keys where !allowed.contains(k) { throw BerthError.invalid("invalid filter '\(k)'") }
    }

    public subscript(_ key: String) -> [String] { values[key] ?? [] }

    public func contains(_ key: String) -> Bool { !(values[key] ?? []).isEmpty }

    /// A boolean filter (`dangling=true`); nil if absent; an error if not a boolean.
    public func bool(_ key: String) throws -> Bool? {
        guard let v = values[key], !v.isEmpty else { return nil }
        var result: Bool?
        for s in v {
            let b: Bool
            switch s.lowercased() {
            case "true", "1": b = true
            case "false", "0": b = false
            default: throw BerthError.invalid("invalid filter '\(key)=\(s)'")
            }
            if let r = result, r != b { throw BerthError.invalid("invalid filter '\(key)': conflicting values") }
            result = b
        }
        return result
    }

    /// Whether labels satisfy every `label` filter (`key` or `key=value`).
    public func matchLabels(_ labels: [String: String]?, key: String = "label") -> Bool {
        for f in self[key] {
            if let eq = f.firstIndex(of: "=") {
                let k = String(f[..<eq]), v = String(f[f.index(after: eq)...])
                if labels?[k] != v { return false }
            } else if labels?[f] == nil {
                return false
            }
        }
        return true
    }

    /// The JSON form, for clients.
    public var json: String {
        JSONValue.object(JSONObject(values.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.array($0.value.map(JSONValue.string))) })).description
    }
}
