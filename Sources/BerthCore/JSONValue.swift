/// A JSON value, as parsed or about to be written.
///
/// Numbers keep their literal text (`number("18446744073709551615")`), so 64-bit integers and
/// long decimals survive a parse/write round trip exactly; the accessors convert on demand.
/// Equality compares number lexemes as text (`1.0` and `1` differ) and objects without regard to
/// member order (see `JSONObject`).
///
/// A `.number` lexeme must follow the JSON number grammar. The parser and the initializers here
/// only make such lexemes; a hand-made invalid one (`.number("0x10")`) is written as `null` and
/// fails to decode as a number.
public enum JSONValue: Sendable, Hashable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number, as its literal text (JSON number grammar, e.g. `-12`, `0.5`, `1e-7`).
    case number(String)
    /// A string.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object, with its members in order.
    case object(JSONObject)
}

extension JSONValue {
    /// A number value for an integer.
    public init<I: BinaryInteger>(_ value: I) {
        self = .number(String(value))
    }

    /// A number value for a finite double (shortest text that reads back as the same double;
    /// integral values without `.0`, as Foundation writes them); nil for NaN and infinities,
    /// which JSON cannot represent.
    public init?(_ value: Double) {
        guard let s = JSONNumber.lexeme(value) else { return nil }
        self = .number(s)
    }

    /// A string value.
    public init(_ value: String) { self = .string(value) }

    /// A boolean value.
    public init(_ value: Bool) { self = .bool(value) }

    /// Whether this is `null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The boolean, if this is `true` or `false`.
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The string, if this is a string.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The number as an `Int64`, if this is an integral number in range (`3.0` counts as
    /// integral; exponents do not — the same rule as `BerthJSONDecoder`).
    public var int64Value: Int64? { integer(Int64.self) }

    /// The number as a `UInt64`, if this is a non-negative integral number in range.
    public var uint64Value: UInt64? { integer(UInt64.self) }

    /// The number as an `Int`, if this is an integral number in range.
    public var intValue: Int? { integer(Int.self) }

    /// The number as a `Double`, if this is a number whose value is finite as a double.
    public var doubleValue: Double? {
        guard case .number(let n) = self else { return nil }
        return JSONNumber.double(n)
    }

    /// The elements, if this is an array.
    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The object, if this is an object.
    public var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// The member with this key, if this is an object that has it.
    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    /// The element at this offset, if this is an array that long.
    public subscript(index: Int) -> JSONValue? {
        if case .array(let a) = self, a.indices.contains(index) { return a[index] }
        return nil
    }

    /// The JSON type's name, as used in error messages: `null`, `boolean`, `number`, `string`,
    /// `array` or `object`.
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    private func integer<I: FixedWidthInteger>(_ type: I.Type) -> I? {
        guard case .number(let n) = self, case .value(let i) = JSONNumber.integer(n, as: type) else { return nil }
        return i
    }
}

extension JSONValue: CustomStringConvertible {
    /// The value as compact JSON text.
    public var description: String {
        String(decoding: JSON.serialize(self), as: UTF8.self)
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    /// A string value from a literal.
    public init(stringLiteral value: String) { self = .string(value) }
    /// A number value from an integer literal.
    public init(integerLiteral value: Int64) { self = .number(String(value)) }
    /// A number value from a floating-point literal (literals are always finite).
    public init(floatLiteral value: Double) { self = .number(JSONNumber.lexeme(value) ?? "0") }
    /// A boolean value from a literal.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// An array value from a literal.
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// An object value from a literal, members in the literal's order (last repeated key wins).
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(JSONObject(elements)) }
}
