/// An ordered list of HTTP header fields with case-insensitive lookup.
///
/// Order and duplicates are preserved as received (or as given), names keep their spelling.
public struct HTTPHeaderFields: Sendable, Sequence, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    /// The fields in order.
    public var fields: [(name: String, value: String)]

    /// Makes a header list from name/value pairs.
    public init(_ fields: [(String, String)] = []) {
        self.fields = fields.map { (name: $0.0, value: $0.1) }
    }

    /// `["Content-Type": "application/json"]`-style literal (for pairs in order use the array form).
    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }

    /// `[("Content-Type", "application/json")]`-style literal.
    public init(arrayLiteral elements: (String, String)...) {
        self.init(elements)
    }

    /// The first value of the field `name` (case-insensitive), if present.
    public subscript(_ name: String) -> String? {
        for field in fields where field.name.caseInsensitiveEquals(name) {
            return field.value
        }
        return nil
    }

    /// All values of the field `name` (case-insensitive), in order.
    public func values(_ name: String) -> [String] {
        fields.filter { $0.name.caseInsensitiveEquals(name) }.map(\.value)
    }

    /// Whether the field `name` is present.
    public func contains(_ name: String) -> Bool {
        self[name] != nil
    }

    /// Appends a field (keeps existing ones of the same name).
    public mutating func add(_ name: String, _ value: String) {
        fields.append((name: name, value: value))
    }

    /// Replaces every field named `name` with a single one.
    public mutating func replace(_ name: String, _ value: String) {
        fields.removeAll { $0.name.caseInsensitiveEquals(name) }
        fields.append((name: name, value: value))
    }

    /// Removes every field named `name`.
    public mutating func remove(_ name: String) {
        fields.removeAll { $0.name.caseInsensitiveEquals(name) }
    }

    /// Iterates `(name, value)` pairs in order.
    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        fields.makeIterator()
    }
}

extension String {
    /// ASCII case-insensitive comparison (header names and tokens are ASCII).
    func caseInsensitiveEquals(_ other: String) -> Bool {
        var a = self.utf8.makeIterator()
        var b = other.utf8.makeIterator()
        while true {
            switch (a.next(), b.next()) {
            case (nil, nil):
                return true
            case (let x?, let y?):
                if x != y && asciiLower(x) != asciiLower(y) { return false }
            default:
                return false
            }
        }
    }

    /// Whether a comma-separated header value contains `token` (case-insensitive).
    func containsToken(_ token: String) -> Bool {
        self.split(separator: ",").contains {
            String($0).trimmingASCIISpaces().caseInsensitiveEquals(token)
        }
    }

    func trimmingASCIISpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}

@inline(__always)
private func asciiLower(_ c: UInt8) -> UInt8 {
    (c >= 65 && c <= 90) ? c + 32 : c
}
