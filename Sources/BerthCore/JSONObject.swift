/// An ordered JSON object: members keep the order in which they were inserted (the order of the
/// document when parsed), and a key appears at most once.
///
/// Setting an existing key replaces its value in place (it keeps its position); a document with
/// a repeated key keeps the last value, as Go's encoding/json and Foundation do.
///
/// Equality ignores member order: two objects are equal when they have the same keys with equal
/// values, because JSON objects are unordered. Order matters only when writing (and is visible
/// through `keys` and iteration).
///
/// Lookups scan linearly while the object is small (most objects in OCI documents have fewer
/// than a dozen members, where a scan beats hashing); past `JSONObject.indexThreshold` members
/// a hash index is kept as well.
public struct JSONObject: Sendable, Hashable, RandomAccessCollection, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    /// A member: its key and value.
    public typealias Element = (key: String, value: JSONValue)
    /// Positions are offsets from 0 in member order.
    public typealias Index = Int

    /// Objects with more members than this keep a hash index for lookups.
    public static let indexThreshold = 16

    @usableFromInline var entries: [Element]
    @usableFromInline var index: [String: Int]?

    /// An empty object.
    public init() {
        entries = []
        index = nil
    }

    /// An empty object with room for `minimumCapacity` members.
    public init(minimumCapacity: Int) {
        entries = []
        entries.reserveCapacity(minimumCapacity)
        index = nil
    }

    /// An object of these members, in this order; for a repeated key the last value wins (at the
    /// position of its first occurrence).
    public init(_ members: [(String, JSONValue)]) {
        self.init(minimumCapacity: members.count)
        for (k, v) in members { self[k] = v }
    }

    /// An object from a dictionary literal, in the literal's order; for a repeated key the last
    /// value wins.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements)
    }

    /// Builds from members known to have distinct keys (the encoder's builder guarantees it).
    init(uniqueEntries: [Element]) {
        entries = uniqueEntries
        index = nil
        if entries.count > JSONObject.indexThreshold { rebuildIndex() }
    }

    /// The position of the first member.
    public var startIndex: Int { 0 }
    /// One past the position of the last member.
    public var endIndex: Int { entries.count }
    /// The number of members.
    public var count: Int { entries.count }
    /// Whether the object has no members.
    public var isEmpty: Bool { entries.isEmpty }

    /// The member at a position.
    public subscript(position: Int) -> Element { entries[position] }

    /// The keys, in member order.
    public var keys: [String] { entries.map(\.key) }
    /// The values, in member order.
    public var values: [JSONValue] { entries.map(\.value) }

    /// The position of the member with this key, or nil.
    @inlinable
    public func index(forKey key: String) -> Int? {
        if let index { return index[key] }
        for i in entries.indices where entries[i].key == key { return i }
        return nil
    }

    /// The value for a key, or nil when absent. Setting a value replaces an existing member in
    /// place or appends a new one; setting nil removes the member.
    public subscript(key: String) -> JSONValue? {
        get {
            guard let i = index(forKey: key) else { return nil }
            return entries[i].value
        }
        set {
            if let newValue { updateValue(newValue, forKey: key) } else { removeValue(forKey: key) }
        }
    }

    /// Sets the value for a key (in place when present, appended otherwise) and returns the old
    /// value, if there was one.
    @discardableResult
    public mutating func updateValue(_ value: JSONValue, forKey key: String) -> JSONValue? {
        if let i = index(forKey: key) {
            let old = entries[i].value
            entries[i].value = value
            return old
        }
        entries.append((key: key, value: value))
        if index != nil {
            index?[key] = entries.count - 1
        } else if entries.count > JSONObject.indexThreshold {
            rebuildIndex()
        }
        return nil
    }

    /// Removes the member with this key and returns its value, if there was one. Later members
    /// move up one position (O(n)).
    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? {
        guard let i = index(forKey: key) else { return nil }
        let old = entries.remove(at: i).value
        if index != nil {
            if entries.count > JSONObject.indexThreshold { rebuildIndex() } else { index = nil }
        }
        return old
    }

    private mutating func rebuildIndex() {
        var d = [String: Int](minimumCapacity: entries.count)
        for (i, e) in entries.enumerated() { d[e.key] = i }
        index = d
    }

    /// Equal when both have the same keys with equal values, in any order.
    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        guard a.entries.count == b.entries.count else { return false }
        for (i, e) in a.entries.enumerated() {
            // Fast path: same key at the same position (the common case).
            if b.entries[i].key == e.key {
                if b.entries[i].value != e.value { return false }
                continue
            }
            guard let j = b.index(forKey: e.key), b.entries[j].value == e.value else { return false }
        }
        return true
    }

    /// Hashes the members independently of their order (consistent with `==`).
    public func hash(into hasher: inout Hasher) {
        hasher.combine(entries.count)
        var sum = 0
        for e in entries {
            var h = Hasher()
            h.combine(e.key)
            h.combine(e.value)
            sum = sum &+ h.finalize()
        }
        hasher.combine(sum)
    }

    /// The object as compact JSON text.
    public var description: String { JSONValue.object(self).description }
}
