/// `JSONValue` is Codable so that types can hold arbitrary JSON (OCI annotations, unknown
/// extension fields). With `BerthJSONDecoder`/`BerthJSONEncoder` it is the subtree itself, exact
/// (number lexemes and member order included). With other coders (Foundation's) it goes through
/// their containers: numbers become `Int64`, `UInt64` or `Double`, and member order is whatever
/// that decoder reports.
extension JSONValue: Codable {
    /// Decodes any JSON value.
    public init(from decoder: any Decoder) throws {
        if let d = decoder as? JSONDecoderImpl {
            self = d.value
            return
        }
        if let c = try? decoder.singleValueContainer() {
            if c.decodeNil() { self = .null; return }
            if let b = try? c.decode(Bool.self) { self = .bool(b); return }
            if let i = try? c.decode(Int64.self) { self = .number(String(i)); return }
            if let u = try? c.decode(UInt64.self) { self = .number(String(u)); return }
            if let d = try? c.decode(Double.self), let v = JSONValue(d) { self = v; return }
            if let s = try? c.decode(String.self) { self = .string(s); return }
        }
        if let c = try? decoder.container(keyedBy: JSONKey.self) {
            var o = JSONObject()
            for k in c.allKeys { o[k.stringValue] = try c.decode(JSONValue.self, forKey: k) }
            self = .object(o)
            return
        }
        var c = try decoder.unkeyedContainer()
        var a: [JSONValue] = []
        while !c.isAtEnd { a.append(try c.decode(JSONValue.self)) }
        self = .array(a)
    }

    /// Encodes the value as itself.
    public func encode(to encoder: any Encoder) throws {
        if let e = encoder as? JSONEncoderImpl {
            e.node = .value(self)
            return
        }
        switch self {
        case .null:
            var c = encoder.singleValueContainer()
            try c.encodeNil()
        case .bool(let b):
            var c = encoder.singleValueContainer()
            try c.encode(b)
        case .string(let s):
            var c = encoder.singleValueContainer()
            try c.encode(s)
        case .number(let n):
            var c = encoder.singleValueContainer()
            if case .value(let i) = JSONNumber.integer(n, as: Int64.self) {
                try c.encode(i)
            } else if case .value(let u) = JSONNumber.integer(n, as: UInt64.self) {
                try c.encode(u)
            } else if let d = JSONNumber.double(n) {
                try c.encode(d)
            } else {
                throw EncodingError.invalidValue(n, .init(codingPath: encoder.codingPath, debugDescription: "number \(n) cannot be represented"))
            }
        case .array(let a):
            var c = encoder.unkeyedContainer()
            for e in a { try c.encode(e) }
        case .object(let o):
            var c = encoder.container(keyedBy: JSONKey.self)
            for (k, v) in o { try c.encode(v, forKey: JSONKey(stringValue: k)) }
        }
    }
}

/// A `JSONObject` codes as a JSON object (see `JSONValue`'s conformance).
extension JSONObject: Codable {
    /// Decodes a JSON object; anything else is an error.
    public init(from decoder: any Decoder) throws {
        let v = try JSONValue(from: decoder)
        guard case .object(let o) = v else {
            if let d = decoder as? JSONDecoderImpl { throw d.mismatch("object", v, nil) }
            throw DecodingError.typeMismatch(JSONObject.self, .init(codingPath: decoder.codingPath, debugDescription: "expected object, found \(v.typeName)"))
        }
        self = o
    }

    /// Encodes the object with its members in order.
    public func encode(to encoder: any Encoder) throws {
        try JSONValue.object(self).encode(to: encoder)
    }
}
