/// Encodes `Encodable` values as JSON, without Foundation.
///
/// - Object members are written in encoding order (the order of the `CodingKeys` for
///   synthesized conformances), or sorted with `.sortedKeys`.
/// - Optionals that are nil are left out (synthesized `Codable` uses `encodeIfPresent`).
/// - Integers are written exactly; `Double` and `Float` as the shortest text that reads back as
///   the same value, with integral values written without `.0` (`1.0` → `1`), as Foundation
///   does. NaN and infinities cannot be written: encoding them throws.
/// - `JSONValue` (and `JSONObject`) are written as themselves, without loss.
/// - A value whose `encode(to:)` encodes nothing becomes `{}`.
///
/// Errors are `BerthError(.invalidArgument, "cannot encode json: <path>: <what>")`; an
/// `EncodingError` thrown by a type's own `encode(to:)` is converted to one.
public struct BerthJSONEncoder: Sendable {
    /// How the text is written (pretty printing, sorted keys, HTML escaping).
    public var options: JSONWriteOptions
    /// Values handed to `Encoder.userInfo`.
    public var userInfo: [CodingUserInfoKey: any Sendable]

    /// An encoder with these options.
    public init(options: JSONWriteOptions = [], userInfo: [CodingUserInfoKey: any Sendable] = [:]) {
        self.options = options
        self.userInfo = userInfo
    }

    /// Encodes a value as UTF-8 JSON text.
    public func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        JSON.serialize(try encodeValue(value), options: options)
    }

    /// Encodes a value as JSON text in a string.
    public func encodeToString<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try encode(value), as: UTF8.self)
    }

    /// Encodes a value as a `JSONValue` tree (the options do not apply: they only affect text).
    public func encodeValue<T: Encodable>(_ value: T) throws -> JSONValue {
        if T.self == JSONValue.self { return identityCast(value, to: JSONValue.self) }
        var info: [CodingUserInfoKey: Any] = [:]
        for (k, v) in userInfo { info[k] = v }
        let encoder = JSONEncoderImpl(parent: nil, component: nil, userInfo: info)
        do {
            try value.encode(to: encoder)
        } catch let e as EncodingError {
            throw BerthError.fromEncoding(e)
        }
        return encoder.node?.resolve() ?? .object(JSONObject())
    }
}

/// What an encoder or container has produced so far. Containers are reference types so that a
/// nested container can still be filled after its parent has recorded it, as the Codable API
/// allows; the tree is resolved into a `JSONValue` once encoding is done.
enum EncodedNode {
    case value(JSONValue)
    case object(JSONObjectBuilder)
    case array(JSONArrayBuilder)
    /// A super encoder handed out to the caller, filled later.
    case encoder(JSONEncoderImpl)

    func resolve() -> JSONValue {
        switch self {
        case .value(let v):
            return v
        case .object(let b):
            var entries: [JSONObject.Element] = []
            entries.reserveCapacity(b.entries.count)
            for e in b.entries { entries.append((key: e.key, value: e.node.resolve())) }
            return .object(JSONObject(uniqueEntries: entries))
        case .array(let b):
            var elements: [JSONValue] = []
            elements.reserveCapacity(b.nodes.count)
            for n in b.nodes { elements.append(n.resolve()) }
            return .array(elements)
        case .encoder(let e):
            return e.node?.resolve() ?? .object(JSONObject())
        }
    }
}

/// An object under construction: members in encoding order, a key at most once (encoding a key
/// again replaces its value in place).
final class JSONObjectBuilder {
    var entries: [(key: String, node: EncodedNode)] = []
    private var index: [String: Int]?

    func position(of key: String) -> Int? {
        if let index { return index[key] }
        for i in entries.indices where entries[i].key == key { return i }
        return nil
    }

    func set(_ key: String, _ node: EncodedNode) {
        if let i = position(of: key) {
            entries[i].node = node
            return
        }
        entries.append((key: key, node: node))
        if index != nil {
            index?[key] = entries.count - 1
        } else if entries.count > JSONObject.indexThreshold {
            var d = [String: Int](minimumCapacity: entries.count)
            for (i, e) in entries.enumerated() { d[e.key] = i }
            index = d
        }
    }

    func node(forKey key: String) -> EncodedNode? {
        position(of: key).map { entries[$0].node }
    }
}

/// An array under construction.
final class JSONArrayBuilder {
    var nodes: [EncodedNode] = []
}

/// The `Encoder` (and single-value container) for one value. Like the decoder it doubles as the
/// path node, chained to its parent.
final class JSONEncoderImpl: Encoder, SingleValueEncodingContainer {
    let parent: JSONEncoderImpl?
    let component: JSONPathComponent?
    let userInfo: [CodingUserInfoKey: Any]
    var node: EncodedNode?

    init(parent: JSONEncoderImpl?, component: JSONPathComponent?, userInfo: [CodingUserInfoKey: Any]) {
        self.parent = parent
        self.component = component
        self.userInfo = userInfo
    }

    func child(_ component: JSONPathComponent) -> JSONEncoderImpl {
        JSONEncoderImpl(parent: self, component: component, userInfo: userInfo)
    }

    var components: [JSONPathComponent] {
        var out: [JSONPathComponent] = []
        var n: JSONEncoderImpl? = self
        while let e = n {
            if let c = e.component { out.append(c) }
            n = e.parent
        }
        return out.reversed()
    }

    var codingPath: [any CodingKey] { components.map { JSONKey($0) } }

    func error(_ at: JSONPathComponent?, _ what: String) -> BerthError {
        var c = components
        if let at { c.append(at) }
        return JSONPath.encodingError(JSONPath.string(c), what)
    }

    // MARK: Encoder

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let b: JSONObjectBuilder
        if case .object(let existing)? = node {
            b = existing
        } else {
            b = JSONObjectBuilder()
            node = .object(b)
        }
        return KeyedEncodingContainer(JSONKeyedEncodingContainer<Key>(builder: b, encoder: self))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        let b: JSONArrayBuilder
        if case .array(let existing)? = node {
            b = existing
        } else {
            b = JSONArrayBuilder()
            node = .array(b)
        }
        return JSONUnkeyedEncodingContainer(builder: b, encoder: self)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { self }

    // MARK: boxing (shared by the containers; `at` is relative to this encoder)

    func number(_ d: Double, at: JSONPathComponent?) throws(BerthError) -> JSONValue {
        guard let s = JSONNumber.lexeme(d) else { throw error(at, "\(d) is not a finite number") }
        return .number(s)
    }

    func number(_ f: Float, at: JSONPathComponent?) throws(BerthError) -> JSONValue {
        guard let s = JSONNumber.lexeme(f) else { throw error(at, "\(f) is not a finite number") }
        return .number(s)
    }

    /// Encodes any `Encodable`. Generic code (`Array<Element>.encode(to:)`) reaches here
    /// unspecialized, so scalars and `[String]`/`[String: String]` are handled directly, found by
    /// comparing metatypes (cheap) rather than by `as?` casts (a run-time cast per attempt).
    func box<T: Encodable>(_ value: T, at: JSONPathComponent?) throws -> EncodedNode {
        if T.self == JSONValue.self { return .value(identityCast(value, to: JSONValue.self)) }
        if T.self == String.self { return .value(.string(identityCast(value, to: String.self))) }
        if T.self == Bool.self { return .value(.bool(identityCast(value, to: Bool.self))) }
        if T.self == Int.self { return .value(.number(String(identityCast(value, to: Int.self)))) }
        if T.self == Int64.self { return .value(.number(String(identityCast(value, to: Int64.self)))) }
        if T.self == UInt64.self { return .value(.number(String(identityCast(value, to: UInt64.self)))) }
        if T.self == UInt32.self { return .value(.number(String(identityCast(value, to: UInt32.self)))) }
        if T.self == Int32.self { return .value(.number(String(identityCast(value, to: Int32.self)))) }
        if T.self == Double.self { return .value(try number(identityCast(value, to: Double.self), at: at)) }
        if T.self == [String].self {
            return .value(.array(identityCast(value, to: [String].self).map { .string($0) }))
        }
        if T.self == [String: String].self {
            // Dictionary order is arbitrary, as with Foundation; `.sortedKeys` makes output stable.
            var o = JSONObject(minimumCapacity: identityCast(value, to: [String: String].self).count)
            for (k, v) in identityCast(value, to: [String: String].self) { o.updateValue(.string(v), forKey: k) }
            return .value(.object(o))
        }
        let e = at.map { child($0) } ?? JSONEncoderImpl(parent: parent, component: component, userInfo: userInfo)
        try value.encode(to: e)
        return e.node ?? .object(JSONObjectBuilder())
    }

    // MARK: SingleValueEncodingContainer

    func encodeNil() throws { node = .value(.null) }
    func encode(_ value: Bool) throws { node = .value(.bool(value)) }
    func encode(_ value: String) throws { node = .value(.string(value)) }
    func encode(_ value: Double) throws { node = .value(try number(value, at: nil)) }
    func encode(_ value: Float) throws { node = .value(try number(value, at: nil)) }
    func encode(_ value: Int) throws { node = .value(.number(String(value))) }
    func encode(_ value: Int8) throws { node = .value(.number(String(value))) }
    func encode(_ value: Int16) throws { node = .value(.number(String(value))) }
    func encode(_ value: Int32) throws { node = .value(.number(String(value))) }
    func encode(_ value: Int64) throws { node = .value(.number(String(value))) }
    func encode(_ value: UInt) throws { node = .value(.number(String(value))) }
    func encode(_ value: UInt8) throws { node = .value(.number(String(value))) }
    func encode(_ value: UInt16) throws { node = .value(.number(String(value))) }
    func encode(_ value: UInt32) throws { node = .value(.number(String(value))) }
    func encode(_ value: UInt64) throws { node = .value(.number(String(value))) }
    func encode<T: Encodable>(_ value: T) throws { node = try box(value, at: nil) }
}

struct JSONKeyedEncodingContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let builder: JSONObjectBuilder
    let encoder: JSONEncoderImpl

    var codingPath: [any CodingKey] { encoder.codingPath }

    mutating func encodeNil(forKey key: Key) throws { builder.set(key.stringValue, .value(.null)) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { builder.set(key.stringValue, .value(.bool(value))) }
    mutating func encode(_ value: String, forKey key: Key) throws { builder.set(key.stringValue, .value(.string(value))) }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        let k = key.stringValue
        builder.set(k, .value(try encoder.number(value, at: .key(k))))
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        let k = key.stringValue
        builder.set(k, .value(try encoder.number(value, at: .key(k))))
    }
    mutating func encode(_ value: Int, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { integer(value, key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { integer(value, key) }

    @inline(__always)
    private func integer<I: FixedWidthInteger>(_ value: I, _ key: Key) {
        builder.set(key.stringValue, .value(.number(String(value))))
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        let k = key.stringValue
        builder.set(k, try encoder.box(value, at: .key(k)))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let k = key.stringValue
        let b: JSONObjectBuilder
        if case .object(let existing)? = builder.node(forKey: k) {
            b = existing
        } else {
            b = JSONObjectBuilder()
            builder.set(k, .object(b))
        }
        let child = encoder.child(.key(k))
        child.node = .object(b)
        return KeyedEncodingContainer(JSONKeyedEncodingContainer<NestedKey>(builder: b, encoder: child))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let k = key.stringValue
        let b: JSONArrayBuilder
        if case .array(let existing)? = builder.node(forKey: k) {
            b = existing
        } else {
            b = JSONArrayBuilder()
            builder.set(k, .array(b))
        }
        let child = encoder.child(.key(k))
        child.node = .array(b)
        return JSONUnkeyedEncodingContainer(builder: b, encoder: child)
    }

    mutating func superEncoder() -> any Encoder { superEncoder(named: "super") }

    mutating func superEncoder(forKey key: Key) -> any Encoder { superEncoder(named: key.stringValue) }

    private func superEncoder(named k: String) -> any Encoder {
        let child = encoder.child(.key(k))
        builder.set(k, .encoder(child))
        return child
    }
}

struct JSONUnkeyedEncodingContainer: UnkeyedEncodingContainer {
    let builder: JSONArrayBuilder
    let encoder: JSONEncoderImpl

    var codingPath: [any CodingKey] { encoder.codingPath }
    var count: Int { builder.nodes.count }

    mutating func encodeNil() throws { builder.nodes.append(.value(.null)) }
    mutating func encode(_ value: Bool) throws { builder.nodes.append(.value(.bool(value))) }
    mutating func encode(_ value: String) throws { builder.nodes.append(.value(.string(value))) }
    mutating func encode(_ value: Double) throws { builder.nodes.append(.value(try encoder.number(value, at: .index(count)))) }
    mutating func encode(_ value: Float) throws { builder.nodes.append(.value(try encoder.number(value, at: .index(count)))) }
    mutating func encode(_ value: Int) throws { integer(value) }
    mutating func encode(_ value: Int8) throws { integer(value) }
    mutating func encode(_ value: Int16) throws { integer(value) }
    mutating func encode(_ value: Int32) throws { integer(value) }
    mutating func encode(_ value: Int64) throws { integer(value) }
    mutating func encode(_ value: UInt) throws { integer(value) }
    mutating func encode(_ value: UInt8) throws { integer(value) }
    mutating func encode(_ value: UInt16) throws { integer(value) }
    mutating func encode(_ value: UInt32) throws { integer(value) }
    mutating func encode(_ value: UInt64) throws { integer(value) }

    @inline(__always)
    private func integer<I: FixedWidthInteger>(_ value: I) {
        builder.nodes.append(.value(.number(String(value))))
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        builder.nodes.append(try encoder.box(value, at: .index(count)))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let b = JSONObjectBuilder()
        let child = encoder.child(.index(count))
        child.node = .object(b)
        builder.nodes.append(.object(b))
        return KeyedEncodingContainer(JSONKeyedEncodingContainer<NestedKey>(builder: b, encoder: child))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let b = JSONArrayBuilder()
        let child = encoder.child(.index(count))
        child.node = .array(b)
        builder.nodes.append(.array(b))
        return JSONUnkeyedEncodingContainer(builder: b, encoder: child)
    }

    mutating func superEncoder() -> any Encoder {
        let child = encoder.child(.index(count))
        builder.nodes.append(.encoder(child))
        return child
    }
}
