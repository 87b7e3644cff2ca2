/// Decodes `Decodable` values from JSON, without Foundation.
///
/// Decoding is strict, like Foundation's `JSONDecoder` in the defaults:
///
/// - `String` needs a JSON string, `Bool` a JSON boolean; nothing is coerced.
/// - Integers need an integral number in the type's range. `3.0` is accepted as 3 (Foundation
///   does); `3.5` is not; exponents are not accepted for integers (`1e3`, as in Go — Foundation
///   would accept it). Integers are read from the literal exactly, never through a `Double`, so
///   `UInt64.max` and `Int64.min` round-trip.
/// - `Double` and `Float` accept any number whose value is finite in the type (`1e400` fails).
/// - `decodeIfPresent` (what synthesized `Codable` uses for optionals) gives nil for a missing
///   key and for `null`.
/// - `JSONValue` (and `JSONObject`) decode as the JSON subtree itself, without loss, so types can
///   carry arbitrary JSON.
///
/// Errors are `BerthError(.invalidArgument, …)` naming the path, never `DecodingError`:
/// `invalid json: process.args[2]: expected string, found number`,
/// `invalid json: linux.resources: missing field 'devices'`; syntax errors name the line and
/// column. A `DecodingError` thrown by a type's own `init(from:)` is converted the same way.
public struct BerthJSONDecoder: Sendable {
    /// Values handed to `Decoder.userInfo`.
    public var userInfo: [CodingUserInfoKey: any Sendable]

    /// A decoder, optionally with user info for the types' `init(from:)`.
    public init(userInfo: [CodingUserInfoKey: any Sendable] = [:]) {
        self.userInfo = userInfo
    }

    /// Decodes a value from UTF-8 JSON text.
    public func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try decode(type, from: try JSON.parse(bytes))
    }

    /// Decodes a value from JSON text in a string.
    public func decode<T: Decodable>(_ type: T.Type, from string: String) throws -> T {
        try decode(type, from: try JSON.parse(string))
    }

    /// Decodes a value from UTF-8 JSON text in raw memory.
    public func decode<T: Decodable>(_ type: T.Type, from bytes: UnsafeRawBufferPointer) throws -> T {
        try decode(type, from: try JSON.parse(bytes))
    }

    /// Decodes a value from a parsed JSON value.
    public func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        if T.self == JSONValue.self { return identityCast(value, to: T.self) }
        var info: [CodingUserInfoKey: Any] = [:]
        for (k, v) in userInfo { info[k] = v }
        let decoder = JSONDecoderImpl(value: value, parent: nil, component: nil, userInfo: info)
        do {
            return try T(from: decoder)
        } catch let e as DecodingError {
            throw BerthError.fromDecoding(e)
        }
    }
}

/// The `Decoder` over one `JSONValue`. It is also the path node: `parent` and `component`
/// chain up to the root, so nested values share their ancestors' path instead of copying it,
/// and the path is only spelled out when an error needs it.
final class JSONDecoderImpl: Decoder, SingleValueDecodingContainer {
    let value: JSONValue
    let parent: JSONDecoderImpl?
    let component: JSONPathComponent?
    let userInfo: [CodingUserInfoKey: Any]

    init(value: JSONValue, parent: JSONDecoderImpl?, component: JSONPathComponent?, userInfo: [CodingUserInfoKey: Any]) {
        self.value = value
        self.parent = parent
        self.component = component
        self.userInfo = userInfo
    }

    func child(_ value: JSONValue, _ component: JSONPathComponent) -> JSONDecoderImpl {
        JSONDecoderImpl(value: value, parent: self, component: component, userInfo: userInfo)
    }

    var components: [JSONPathComponent] {
        var out: [JSONPathComponent] = []
        var node: JSONDecoderImpl? = self
        while let n = node {
            if let c = n.component { out.append(c) }
            node = n.parent
        }
        return out.reversed()
    }

    var codingPath: [any CodingKey] { components.map { JSONKey($0) } }

    /// An error at this value, or at its member/element `at`.
    func error(_ at: JSONPathComponent?, _ what: String) -> BerthError {
        var c = components
        if let at { c.append(at) }
        return JSONPath.decodingError(JSONPath.string(c), what)
    }

    func mismatch(_ expected: String, _ v: JSONValue, _ at: JSONPathComponent?) -> BerthError {
        error(at, "expected \(expected), found \(v.typeName)")
    }

    // MARK: Decoder

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let object) = value else { throw mismatch("object", value, nil) }
        return KeyedDecodingContainer(JSONKeyedDecodingContainer<Key>(object: object, decoder: self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let array) = value else { throw mismatch("array", value, nil) }
        return JSONUnkeyedDecodingContainer(array: array, decoder: self)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

    // MARK: unboxing (shared by all containers; `at` is relative to this decoder)

    @inline(__always)
    func unboxBool(_ v: JSONValue, at: JSONPathComponent?) throws(BerthError) -> Bool {
        guard case .bool(let b) = v else { throw mismatch("boolean", v, at) }
        return b
    }

    @inline(__always)
    func unboxString(_ v: JSONValue, at: JSONPathComponent?) throws(BerthError) -> String {
        guard case .string(let s) = v else { throw mismatch("string", v, at) }
        return s
    }

    func unboxInteger<I: FixedWidthInteger>(_ v: JSONValue, _ type: I.Type, at: JSONPathComponent?) throws(BerthError) -> I {
        guard case .number(let n) = v else { throw mismatch("integer", v, at) }
        switch JSONNumber.integer(n, as: I.self) {
        case .value(let i): return i
        case .notInteger: throw error(at, "expected integer, found number \(n)")
        case .outOfRange: throw error(at, "number \(n) is out of range for \(I.self)")
        }
    }

    func unboxDouble(_ v: JSONValue, at: JSONPathComponent?) throws(BerthError) -> Double {
        guard case .number(let n) = v else { throw mismatch("number", v, at) }
        guard let d = JSONNumber.double(n) else {
            throw error(at, JSONNumber.isValid(n) ? "number \(n) is out of range for Double" : "invalid number \(n)")
        }
        return d
    }

    func unboxFloat(_ v: JSONValue, at: JSONPathComponent?) throws(BerthError) -> Float {
        guard case .number(let n) = v else { throw mismatch("number", v, at) }
        guard let f = JSONNumber.float(n) else {
            throw error(at, JSONNumber.isValid(n) ? "number \(n) is out of range for Float" : "invalid number \(n)")
        }
        return f
    }

    /// Decodes any `Decodable`. Generic code (`Array<Element>.init(from:)`, synthesized
    /// `decodeIfPresent`) reaches here unspecialized, so scalars and the collections OCI
    /// documents are made of (`[String]`, `[String: String]`) are decoded directly: comparing
    /// metatypes is cheap, whereas `as? T` and the standard library's generic collection
    /// decoding look up generic metadata at run time for every value.
    func unbox<T: Decodable>(_ v: JSONValue, as type: T.Type, at: JSONPathComponent?) throws -> T {
        if T.self == JSONValue.self { return identityCast(v, to: T.self) }
        if T.self == String.self { return identityCast(try unboxString(v, at: at), to: T.self) }
        if T.self == Bool.self { return identityCast(try unboxBool(v, at: at), to: T.self) }
        if T.self == Int.self { return identityCast(try unboxInteger(v, Int.self, at: at), to: T.self) }
        if T.self == Int64.self { return identityCast(try unboxInteger(v, Int64.self, at: at), to: T.self) }
        if T.self == UInt64.self { return identityCast(try unboxInteger(v, UInt64.self, at: at), to: T.self) }
        if T.self == UInt32.self { return identityCast(try unboxInteger(v, UInt32.self, at: at), to: T.self) }
        if T.self == Int32.self { return identityCast(try unboxInteger(v, Int32.self, at: at), to: T.self) }
        if T.self == UInt.self { return identityCast(try unboxInteger(v, UInt.self, at: at), to: T.self) }
        if T.self == Double.self { return identityCast(try unboxDouble(v, at: at), to: T.self) }
        if T.self == [String].self { return identityCast(try unboxStrings(v, at: at), to: T.self) }
        if T.self == [String: String].self { return identityCast(try unboxStringMap(v, at: at), to: T.self) }
        if T.self == [JSONValue].self {
            guard case .array(let a) = v else { throw mismatch("array", v, at) }
            return identityCast(a, to: T.self)
        }
        if T.self == [String: JSONValue].self { return identityCast(try unboxValueMap(v, at: at), to: T.self) }
        guard let at else { return try T(from: self) }
        return try T(from: child(v, at))
    }

    private func unboxStrings(_ v: JSONValue, at: JSONPathComponent?) throws(BerthError) -> [String] {
        guard case .array(let a) = v else { throw mismatch("array", v, at) }
        var out: [String] = []
        out.reserveCapacity(a.count)
        for (i, e) in a.enumerated() {
            guard case .string(let s) = e else {
                // Name the element: the path is this value's path plus the offset.
                throw (at.map { child(v, $0) } ?? self).mismatch("string", e, .index(i))
            }
            out.append(s)
        }
        return out
    }

    private func unboxStringMap(_ v: JSONValue, at: JSONPathComponent?) throws(BerthError) -> [String: String] {
        guard case .object(let o) = v else { throw mismatch("object", v, at) }
        var out = [String: String](minimumCapacity: o.count)
        for (k, e) in o {
            guard case .string(let s) = e else { throw (at.map { child(v, $0) } ?? self).mismatch("string", e, .key(k)) }
            out[k] = s
        }
        return out
    }

    private func unboxValueMap(_ v: JSONValue, at: JSONPathComponent?) throws(BerthError) -> [String: JSONValue] {
        guard case .object(let o) = v else { throw mismatch("object", v, at) }
        var out = [String: JSONValue](minimumCapacity: o.count)
        for (k, e) in o { out[k] = e }
        return out
    }

    // MARK: SingleValueDecodingContainer

    func decodeNil() -> Bool { value.isNull }
    func decode(_ type: Bool.Type) throws -> Bool { try unboxBool(value, at: nil) }
    func decode(_ type: String.Type) throws -> String { try unboxString(value, at: nil) }
    func decode(_ type: Double.Type) throws -> Double { try unboxDouble(value, at: nil) }
    func decode(_ type: Float.Type) throws -> Float { try unboxFloat(value, at: nil) }
    func decode(_ type: Int.Type) throws -> Int { try unboxInteger(value, type, at: nil) }
    func decode(_ type: Int8.Type) throws -> Int8 { try unboxInteger(value, type, at: nil) }
    func decode(_ type: Int16.Type) throws -> Int16 { try unboxInteger(value, type, at: nil) }
    func decode(_ type: Int32.Type) throws -> Int32 { try unboxInteger(value, type, at: nil) }
    func decode(_ type: Int64.Type) throws -> Int64 { try unboxInteger(value, type, at: nil) }
    func decode(_ type: UInt.Type) throws -> UInt { try unboxInteger(value, type, at: nil) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try unboxInteger(value, type, at: nil) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try unboxInteger(value, type, at: nil) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try unboxInteger(value, type, at: nil) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try unboxInteger(value, type, at: nil) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try unbox(value, as: type, at: nil) }
}

/// The keyed container over an object. A key that is absent is a "missing field" error for
/// `decode` and nil for `decodeIfPresent`.
struct JSONKeyedDecodingContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let object: JSONObject
    let decoder: JSONDecoderImpl

    var codingPath: [any CodingKey] { decoder.codingPath }
    var allKeys: [Key] { object.entries.compactMap { Key(stringValue: $0.key) } }

    func contains(_ key: Key) -> Bool { object.index(forKey: key.stringValue) != nil }

    @inline(__always)
    private func value(_ key: Key) throws(BerthError) -> JSONValue {
        let k = key.stringValue
        guard let i = object.index(forKey: k) else { throw decoder.error(nil, "missing field '\(k)'") }
        return object.entries[i].value
    }

    /// The value, or nil when the key is absent or null.
    @inline(__always)
    private func present(_ key: Key) -> JSONValue? {
        guard let i = object.index(forKey: key.stringValue) else { return nil }
        let v = object.entries[i].value
        return v.isNull ? nil : v
    }

    func decodeNil(forKey key: Key) throws -> Bool { try value(key).isNull }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
        try decoder.unboxBool(try value(key), at: .key(key.stringValue))
    }
    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        try decoder.unboxString(try value(key), at: .key(key.stringValue))
    }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
        try decoder.unboxDouble(try value(key), at: .key(key.stringValue))
    }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float {
        try decoder.unboxFloat(try value(key), at: .key(key.stringValue))
    }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try integer(type, key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try integer(type, key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try integer(type, key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try integer(type, key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try integer(type, key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try integer(type, key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try integer(type, key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try integer(type, key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try integer(type, key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try integer(type, key) }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try decoder.unbox(try value(key), as: type, at: .key(key.stringValue))
    }

    @inline(__always)
    private func integer<I: FixedWidthInteger>(_ type: I.Type, _ key: Key) throws(BerthError) -> I {
        try decoder.unboxInteger(try value(key), type, at: .key(key.stringValue))
    }

    @inline(__always)
    private func optionalInteger<I: FixedWidthInteger>(_ type: I.Type, _ key: Key) throws(BerthError) -> I? {
        guard let v = present(key) else { return nil }
        return try decoder.unboxInteger(v, type, at: .key(key.stringValue))
    }

    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? {
        guard let v = present(key) else { return nil }
        return try decoder.unboxBool(v, at: .key(key.stringValue))
    }
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
        guard let v = present(key) else { return nil }
        return try decoder.unboxString(v, at: .key(key.stringValue))
    }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? {
        guard let v = present(key) else { return nil }
        return try decoder.unboxDouble(v, at: .key(key.stringValue))
    }
    func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? {
        guard let v = present(key) else { return nil }
        return try decoder.unboxFloat(v, at: .key(key.stringValue))
    }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try optionalInteger(type, key) }
    func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { try optionalInteger(type, key) }
    func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? { try optionalInteger(type, key) }
    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { try optionalInteger(type, key) }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try optionalInteger(type, key) }
    func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { try optionalInteger(type, key) }
    func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? { try optionalInteger(type, key) }
    func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? { try optionalInteger(type, key) }
    func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? { try optionalInteger(type, key) }
    func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? { try optionalInteger(type, key) }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let v = present(key) else { return nil }
        return try decoder.unbox(v, as: type, at: .key(key.stringValue))
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try decoder.child(try value(key), .key(key.stringValue)).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try decoder.child(try value(key), .key(key.stringValue)).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        decoder.child(object["super"] ?? .null, .key("super"))
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        decoder.child(object[key.stringValue] ?? .null, .key(key.stringValue))
    }
}

/// `value` as `T`, which the caller has checked is its own type (`T.self == U.self`): a
/// reinterpretation, without the run-time cast machinery of `as? T`.
@inline(__always)
func identityCast<U, T>(_ value: U, to type: T.Type) -> T {
    precondition(U.self == T.self, "identityCast between different types")
    return unsafeBitCast(value, to: T.self)
}

/// The unkeyed container over an array. A failed decode does not advance `currentIndex`, so a
/// caller may try another type for the same element.
struct JSONUnkeyedDecodingContainer: UnkeyedDecodingContainer {
    let array: [JSONValue]
    let decoder: JSONDecoderImpl
    private(set) var currentIndex = 0

    init(array: [JSONValue], decoder: JSONDecoderImpl) {
        self.array = array
        self.decoder = decoder
    }

    var codingPath: [any CodingKey] { decoder.codingPath }
    var count: Int? { array.count }
    var isAtEnd: Bool { currentIndex >= array.count }

    @inline(__always)
    private func peek() throws(BerthError) -> JSONValue {
        guard currentIndex < array.count else {
            throw decoder.error(.index(currentIndex), "expected a value, found the end of the array (\(array.count) elements)")
        }
        return array[currentIndex]
    }

    mutating func decodeNil() throws -> Bool {
        if try peek().isNull {
            currentIndex += 1
            return true
        }
        return false
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool {
        let r = try decoder.unboxBool(try peek(), at: .index(currentIndex))
        currentIndex += 1
        return r
    }
    mutating func decode(_ type: String.Type) throws -> String {
        let r = try decoder.unboxString(try peek(), at: .index(currentIndex))
        currentIndex += 1
        return r
    }
    mutating func decode(_ type: Double.Type) throws -> Double {
        let r = try decoder.unboxDouble(try peek(), at: .index(currentIndex))
        currentIndex += 1
        return r
    }
    mutating func decode(_ type: Float.Type) throws -> Float {
        let r = try decoder.unboxFloat(try peek(), at: .index(currentIndex))
        currentIndex += 1
        return r
    }
    mutating func decode(_ type: Int.Type) throws -> Int { try integer(type) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }

    @inline(__always)
    private mutating func integer<I: FixedWidthInteger>(_ type: I.Type) throws(BerthError) -> I {
        let r = try decoder.unboxInteger(try peek(), type, at: .index(currentIndex))
        currentIndex += 1
        return r
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let r = try decoder.unbox(try peek(), as: type, at: .index(currentIndex))
        currentIndex += 1
        return r
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let r = try decoder.child(try peek(), .index(currentIndex)).container(keyedBy: type)
        currentIndex += 1
        return r
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let r = try decoder.child(try peek(), .index(currentIndex)).unkeyedContainer()
        currentIndex += 1
        return r
    }

    mutating func superDecoder() throws -> any Decoder {
        let r = decoder.child(try peek(), .index(currentIndex))
        currentIndex += 1
        return r
    }
}
