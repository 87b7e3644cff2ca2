import Testing
@testable import BerthCore

// MARK: fixtures

enum Kind: String, Codable, Equatable, Sendable {
    case container, vm
}

enum Action: Codable, Equatable, Sendable {
    case allow
    case errno(Int32)
    case trace(code: UInt16, note: String?)
}

struct Limits: Codable, Equatable, Sendable {
    var memory: Int64?
    var cpus: Double?
    var pids: UInt64?
}

struct Device: Codable, Equatable, Sendable {
    var path: String
    var major: Int
    var minor: Int
    var readOnly: Bool
}

struct Config: Codable, Equatable, Sendable {
    var version: String
    var kind: Kind
    var args: [String]
    var env: [String: String]
    var limits: Limits?
    var devices: [Device]
    var labels: [String: [String]]?
    var actions: [Action]
    var matrix: [[Int8]]
    var byID: [Int: String]
    var extra: JSONValue?
    var nothing: String?
    var ratio: Float
    var tags: Set<String>
}

let sampleConfig = Config(
    version: "1.2.0",
    kind: .vm,
    args: ["sh", "-c", "echo \"hi\" </dev/null & exit"],
    env: ["PATH": "/usr/bin", "HOME": "/root"],
    limits: Limits(memory: Int64.max, cpus: 1.5, pids: nil),
    devices: [Device(path: "/dev/null", major: 1, minor: 3, readOnly: false)],
    labels: ["a": [], "b": ["x", "y"]],
    actions: [.allow, .errno(1), .trace(code: 7, note: nil), .trace(code: 8, note: "n")],
    matrix: [[1, -2], [], [127, -128]],
    byID: [1: "one", 22: "twenty-two"],
    extra: ["org.example/unknown": [1, "two", ["three": 3.25, "big": .number("123456789012345678901234567890")]], "n": .null],
    nothing: nil,
    ratio: 0.1,
    tags: ["x", "y"]
)

struct Inner: Codable, Equatable { var id: Int }
struct Middle: Codable, Equatable { var inner: Inner; var list: [Inner] }
struct Outer: Codable, Equatable { var middle: Middle; var name: String }

struct Process: Codable, Equatable { var args: [String]; var cwd: String }
struct Spec: Codable, Equatable { var ociVersion: String; var process: Process?; var linux: Linux? }
struct Linux: Codable, Equatable { var resources: Resources? }
struct Resources: Codable, Equatable { var x: Int; var pids: Pids? }
struct Pids: Codable, Equatable { var limit: Int64 }

struct Ints: Codable, Equatable {
    var i8: Int8, i16: Int16, i32: Int32, i64: Int64, i: Int
    var u8: UInt8, u16: UInt16, u32: UInt32, u64: UInt64, u: UInt
}

/// Decodes with a single-value container wrapped around another type.
struct Wrapper: Codable, Equatable {
    var inner: Inner
    init(inner: Inner) { self.inner = inner }
    init(from decoder: any Decoder) throws { inner = try decoder.singleValueContainer().decode(Inner.self) }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(inner)
    }
}

class Base: Codable {
    var a: Int
    init(a: Int) { self.a = a }
    private enum CodingKeys: String, CodingKey { case a }
}

final class Derived: Base {
    var b: String
    init(a: Int, b: String) { self.b = b; super.init(a: a) }
    private enum CodingKeys: String, CodingKey { case b }
    required init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        b = try c.decode(String.self, forKey: .b)
        try super.init(from: c.superDecoder())
    }
    override func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(b, forKey: .b)
        try super.encode(to: c.superEncoder())
    }
}

/// Hand-written containers: nested keyed/unkeyed, nil, counting.
struct Manual: Codable, Equatable {
    var point: (Int, Int)
    var flags: [Bool?]
    static func == (a: Manual, b: Manual) -> Bool { a.point == b.point && a.flags == b.flags }
    init(point: (Int, Int), flags: [Bool?]) { self.point = point; self.flags = flags }
    enum CodingKeys: String, CodingKey { case point, flags, meta }
    enum PointKeys: String, CodingKey { case x, y }
    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let p = try c.nestedContainer(keyedBy: PointKeys.self, forKey: .point)
        point = (try p.decode(Int.self, forKey: .x), try p.decode(Int.self, forKey: .y))
        var f = try c.nestedUnkeyedContainer(forKey: .flags)
        var flags: [Bool?] = []
        while !f.isAtEnd {
            if try f.decodeNil() { flags.append(nil) } else { flags.append(try f.decode(Bool.self)) }
        }
        self.flags = flags
        #expect(try c.decodeNil(forKey: .meta))
    }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        var p = c.nestedContainer(keyedBy: PointKeys.self, forKey: .point)
        try p.encode(point.0, forKey: .x)
        try p.encode(point.1, forKey: .y)
        var f = c.nestedUnkeyedContainer(forKey: .flags)
        for flag in flags { if let flag { try f.encode(flag) } else { try f.encodeNil() } }
        try c.encodeNil(forKey: .meta)
    }
}

@Suite("JSON Codable")
struct JSONCodableTests {
    let decoder = BerthJSONDecoder()
    let encoder = BerthJSONEncoder(options: .sortedKeys)

    @Test func nestedRoundTrip() throws {
        let bytes = try encoder.encode(sampleConfig)
        let back = try decoder.decode(Config.self, from: bytes)
        #expect(back == sampleConfig)
        // Nil optionals are left out; the embedded JSONValue is written as itself.
        let v = try JSON.parse(bytes)
        #expect(v["nothing"] == nil)
        #expect(v["limits"]?["pids"] == nil)
        #expect(v["limits"]?["memory"] == .number("9223372036854775807"))
        #expect(v["extra"] == sampleConfig.extra)
        #expect(v["ratio"] == .number("0.1"))
        #expect(v["kind"] == "vm")
        #expect(v["byID"] == ["1": "one", "22": "twenty-two"])
        // Pretty and sorted output decodes to the same value too.
        var pretty = BerthJSONEncoder()
        pretty.options = [.prettyPrinted, .sortedKeys, .escapeHTML]
        #expect(try decoder.decode(Config.self, from: pretty.encode(sampleConfig)) == sampleConfig)
        #expect(try decoder.decode(Config.self, from: encoder.encodeValue(sampleConfig)) == sampleConfig)
    }

    @Test func encodingOrderIsDeclarationOrder() throws {
        let text = try BerthJSONEncoder().encodeToString(Device(path: "/dev/zero", major: 1, minor: 5, readOnly: true))
        #expect(text == "{\"path\":\"/dev/zero\",\"major\":1,\"minor\":5,\"readOnly\":true}")
        let sorted = try BerthJSONEncoder(options: .sortedKeys).encodeToString(Device(path: "/", major: 1, minor: 5, readOnly: true))
        #expect(sorted == "{\"major\":1,\"minor\":5,\"path\":\"/\",\"readOnly\":true}")
    }

    @Test func optionals() throws {
        let all = try decoder.decode(Limits.self, from: "{\"memory\":1,\"cpus\":0.5,\"pids\":2}")
        #expect(all == Limits(memory: 1, cpus: 0.5, pids: 2))
        let nulls = try decoder.decode(Limits.self, from: "{\"memory\":null,\"cpus\":null}")
        #expect(nulls == Limits())
        #expect(try decoder.decode(Limits.self, from: "{}") == Limits())
        #expect(try BerthJSONEncoder().encodeToString(Limits()) == "{}")
        #expect(try decoder.decode(Int?.self, from: "null") == nil)
        #expect(try decoder.decode([Int?].self, from: "[1,null]") == [1, nil])
    }

    @Test func topLevelScalarsAndCollections() throws {
        #expect(try decoder.decode(String.self, from: "\"x\"") == "x")
        #expect(try decoder.decode(Bool.self, from: "true"))
        #expect(try decoder.decode(Double.self, from: "-2.5e3") == -2500)
        #expect(try decoder.decode([String: [Int]].self, from: "{\"a\":[1,2]}") == ["a": [1, 2]])
        #expect(try BerthJSONEncoder().encodeToString("a/b") == "\"a/b\"")
        #expect(try BerthJSONEncoder().encodeToString([1.0, 2.5, -0.0]) == "[1,2.5,-0]")
        #expect(try BerthJSONEncoder().encodeToString([Float(0.1), 1e-7]) == "[0.1,1e-07]")
        #expect(try decoder.decode(Wrapper.self, from: "{\"id\":4}") == Wrapper(inner: Inner(id: 4)))
        #expect(try BerthJSONEncoder().encodeToString(Wrapper(inner: Inner(id: 4))) == "{\"id\":4}")
    }

    @Test func jsonValueRoundTripsExactly() throws {
        let text = "{\"z\":[1.50,18446744073709551615,-0,1e400],\"a\":{\"y\":null,\"x\":\"s\"}}"
        let v = try decoder.decode(JSONValue.self, from: text)
        #expect(try BerthJSONEncoder().encodeToString(v) == text)
        let o = try decoder.decode(JSONObject.self, from: text)
        #expect(o.keys == ["z", "a"])
        #expect(try BerthJSONEncoder().encodeToString(o) == text)
        #expect(try BerthJSONEncoder().encodeToString([v, .null]) == "[\(text),null]")
        #expect(try decoder.decode([String: JSONValue].self, from: text)["z"]?[0] == .number("1.50"))
        #expect(errorMessage { _ = try decoder.decode(JSONObject.self, from: "[]") } == "invalid json: expected object, found array")
    }

    @Test func classInheritanceWithSuperCoders() throws {
        let text = try BerthJSONEncoder().encodeToString(Derived(a: 1, b: "x"))
        #expect(text == "{\"b\":\"x\",\"super\":{\"a\":1}}")
        let d = try decoder.decode(Derived.self, from: text)
        #expect(d.a == 1 && d.b == "x")
    }

    @Test func manualContainers() throws {
        let m = Manual(point: (3, -4), flags: [true, nil, false])
        let text = try BerthJSONEncoder().encodeToString(m)
        #expect(text == "{\"point\":{\"x\":3,\"y\":-4},\"flags\":[true,null,false],\"meta\":null}")
        #expect(try decoder.decode(Manual.self, from: text) == m)
    }

    @Test func integerEdges() throws {
        let max = "{\"i8\":127,\"i16\":32767,\"i32\":2147483647,\"i64\":9223372036854775807,\"i\":9223372036854775807,\"u8\":255,\"u16\":65535,\"u32\":4294967295,\"u64\":18446744073709551615,\"u\":18446744073709551615}"
        let ints = try decoder.decode(Ints.self, from: max)
        #expect(ints.u64 == UInt64.max && ints.i64 == Int64.max && ints.i8 == Int8.max)
        #expect(try BerthJSONEncoder().encodeToString(ints) == max)
        let min = "{\"i8\":-128,\"i16\":-32768,\"i32\":-2147483648,\"i64\":-9223372036854775808,\"i\":-9223372036854775808,\"u8\":0,\"u16\":0,\"u32\":0,\"u64\":0,\"u\":0}"
        let mins = try decoder.decode(Ints.self, from: min)
        #expect(mins.i64 == Int64.min && mins.i8 == Int8.min)
        #expect(try BerthJSONEncoder().encodeToString(mins) == min)
        #expect(try decoder.decode(Int.self, from: "3.0") == 3)
        #expect(try decoder.decode(Int.self, from: "-0") == 0)
        #expect(try decoder.decode(UInt64.self, from: "18446744073709551615.000") == UInt64.max)
        #expect(try decoder.decode(Int64.self, from: "-9223372036854775808") == Int64.min)
    }

    static let integerErrors: [(String, String)] = [
        ("{\"n\":128}", "invalid json: n: number 128 is out of range for Int8"),
        ("{\"n\":-129}", "invalid json: n: number -129 is out of range for Int8"),
        ("{\"n\":1e3}", "invalid json: n: expected integer, found number 1e3"),
        ("{\"n\":3.5}", "invalid json: n: expected integer, found number 3.5"),
        ("{\"n\":3.05}", "invalid json: n: expected integer, found number 3.05"),
        ("{\"n\":\"3\"}", "invalid json: n: expected integer, found string"),
        ("{\"n\":true}", "invalid json: n: expected integer, found boolean"),
        ("{\"n\":null}", "invalid json: n: expected integer, found null"),
    ]

    struct N8: Codable { var n: Int8 }

    @Test(arguments: integerErrors)
    func integerRangeErrors(input: String, message: String) {
        #expect(errorMessage { _ = try decoder.decode(N8.self, from: input) } == message)
    }

    @Test func wideIntegerOverflow() {
        #expect(errorMessage { _ = try decoder.decode(UInt64.self, from: "18446744073709551616") } == "invalid json: number 18446744073709551616 is out of range for UInt64")
        #expect(errorMessage { _ = try decoder.decode(Int64.self, from: "-9223372036854775809") } == "invalid json: number -9223372036854775809 is out of range for Int64")
        #expect(errorMessage { _ = try decoder.decode(UInt.self, from: "-1") } == "invalid json: number -1 is out of range for UInt")
        #expect(errorMessage { _ = try decoder.decode([UInt32].self, from: "[1,4294967296]") } == "invalid json: [1]: number 4294967296 is out of range for UInt32")
        #expect(errorMessage { _ = try decoder.decode(Double.self, from: "1e400") } == "invalid json: number 1e400 is out of range for Double")
        #expect(errorMessage { _ = try decoder.decode(Float.self, from: "1e39") } == "invalid json: number 1e39 is out of range for Float")
        #expect(errorMessage { _ = try decoder.decode(Double.self, from: JSONValue.number("0x10")) } == "invalid json: invalid number 0x10")
    }

    static let pathErrors: [(String, String)] = [
        ("{}", "invalid json: missing field 'ociVersion'"),
        ("[]", "invalid json: expected object, found array"),
        ("{\"ociVersion\":1}", "invalid json: ociVersion: expected string, found number"),
        ("{\"ociVersion\":\"1\",\"process\":{\"args\":[\"a\",\"b\",3],\"cwd\":\"/\"}}",
         "invalid json: process.args[2]: expected string, found number"),
        ("{\"ociVersion\":\"1\",\"process\":{\"args\":[]}}", "invalid json: process: missing field 'cwd'"),
        ("{\"ociVersion\":\"1\",\"process\":{\"args\":{},\"cwd\":\"/\"}}", "invalid json: process.args: expected array, found object"),
        ("{\"ociVersion\":\"1\",\"process\":[]}", "invalid json: process: expected object, found array"),
        ("{\"ociVersion\":\"1\",\"linux\":{\"resources\":{}}}", "invalid json: linux.resources: missing field 'x'"),
        ("{\"ociVersion\":\"1\",\"linux\":{\"resources\":{\"x\":1,\"pids\":{\"limit\":\"max\"}}}}",
         "invalid json: linux.resources.pids.limit: expected integer, found string"),
        ("{\"ociVersion\":\"1\",\"linux\":{\"resources\":{\"x\":null}}}", "invalid json: linux.resources.x: expected integer, found null"),
        ("{\"ociVersion\":\"1\",\"process\":{\"args\":null,\"cwd\":\"/\"}}", "invalid json: process.args: expected array, found null"),
        ("{\"ociVersion\":\"1\"", "invalid json: line 1 column 18: unexpected end of input, expected ',' or '}' in object"),
    ]

    @Test(arguments: pathErrors)
    func errorsNameThePath(input: String, message: String) {
        #expect(errorMessage { _ = try decoder.decode(Spec.self, from: input) } == message)
    }

    @Test func moreErrorPaths() {
        #expect(errorMessage { _ = try decoder.decode(Outer.self, from: "{\"name\":\"n\",\"middle\":{\"inner\":{\"id\":1},\"list\":[{\"id\":1},{\"id\":\"2\"}]}}") }
            == "invalid json: middle.list[1].id: expected integer, found string")
        #expect(errorMessage { _ = try decoder.decode([[Bool]].self, from: "[[true],[false,1]]") }
            == "invalid json: [1][1]: expected boolean, found number")
        #expect(errorMessage { _ = try decoder.decode([String: Int].self, from: "{\"org.example.key\":\"x\"}") }
            == "invalid json: [\"org.example.key\"]: expected integer, found string")
        #expect(errorMessage { _ = try decoder.decode(Config.self, from: try BerthJSONEncoder().encode(sampleConfig).replacing(Array("\"vm\"".utf8), with: Array("\"pod\"".utf8))) }
            == "invalid json: kind: cannot initialize Kind from invalid String value pod")
        #expect(errorMessage { _ = try decoder.decode([Action].self, from: "[{\"bogus\":{}}]") }?.hasPrefix("invalid json: [0]: ") == true)
        #expect(errorMessage { _ = try decoder.decode(Manual.self, from: "{\"point\":{\"x\":1},\"flags\":[]}") }
            == "invalid json: point: missing field 'y'")
        struct Pair: Decodable {
            var a: Int, b: Int
            init(from decoder: any Decoder) throws {
                var c = try decoder.unkeyedContainer()
                a = try c.decode(Int.self)
                b = try c.decode(Int.self)
            }
        }
        #expect(errorMessage { _ = try decoder.decode(Pair.self, from: "[1]") } == "invalid json: [1]: expected a value, found the end of the array (1 elements)")
    }

    @Test func collectionFastPathsNameThePath() {
        struct Annotated: Decodable { var annotations: [String: String]?; var args: [String]; var raw: [String: JSONValue]? }
        #expect(errorMessage { _ = try decoder.decode(Annotated.self, from: "{\"args\":[],\"annotations\":{\"org.example.a\":\"x\",\"b\":1}}") }
            == "invalid json: annotations.b: expected string, found number")
        #expect(errorMessage { _ = try decoder.decode(Annotated.self, from: "{\"args\":[],\"annotations\":{\"org.example.a\":false}}") }
            == "invalid json: annotations[\"org.example.a\"]: expected string, found boolean")
        #expect(errorMessage { _ = try decoder.decode(Annotated.self, from: "{\"args\":\"sh\"}") } == "invalid json: args: expected array, found string")
        #expect(errorMessage { _ = try decoder.decode(Annotated.self, from: "{\"args\":[],\"raw\":[]}") } == "invalid json: raw: expected object, found array")
        #expect(errorMessage { _ = try decoder.decode([String].self, from: "[\"a\",null]") } == "invalid json: [1]: expected string, found null")
        #expect(errorMessage { _ = try decoder.decode([[String]].self, from: "[[],[\"a\",2]]") } == "invalid json: [1][1]: expected string, found number")
    }

    @Test func rawBufferOverload() throws {
        let bytes = Array("{\"id\":9}".utf8)
        let inner = try bytes.withUnsafeBytes { try decoder.decode(Inner.self, from: $0) }
        #expect(inner == Inner(id: 9))
    }

    @Test func unkeyedFailureDoesNotAdvance() throws {
        struct Mixed: Decodable {
            var items: [String] = []
            init(from decoder: any Decoder) throws {
                var c = try decoder.unkeyedContainer()
                while !c.isAtEnd {
                    if let i = try? c.decode(Int.self) { items.append("i\(i)") } else { items.append(try c.decode(String.self)) }
                }
            }
        }
        #expect(try decoder.decode(Mixed.self, from: "[1,\"a\",2]").items == ["i1", "a", "i2"])
    }

    @Test func nonFiniteNumbersCannotBeEncoded() {
        struct D: Encodable { var list: [Double]; var f: Float }
        #expect(errorMessage { _ = try BerthJSONEncoder().encode(D(list: [1, .nan], f: 0)) } == "cannot encode json: list[1]: nan is not a finite number")
        #expect(errorMessage { _ = try BerthJSONEncoder().encode(D(list: [], f: -.infinity)) } == "cannot encode json: f: -inf is not a finite number")
        #expect(errorMessage { _ = try BerthJSONEncoder().encode(Double.infinity) } == "cannot encode json: inf is not a finite number")
    }

    @Test func codingPathsAndUserInfo() throws {
        let key = try #require(CodingUserInfoKey(rawValue: "test.flag"))
        struct Probe: Codable {
            var path = ""
            var flag = false
            init() {}
            init(from decoder: any Decoder) throws {
                path = decoder.codingPath.map(\.stringValue).joined(separator: "/")
                flag = decoder.userInfo[CodingUserInfoKey(rawValue: "test.flag")!] as? Bool ?? false
            }
            func encode(to encoder: any Encoder) throws {
                var c = encoder.singleValueContainer()
                try c.encode(encoder.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: "/"))
            }
        }
        let d = BerthJSONDecoder(userInfo: [key: true])
        let probes = try d.decode([String: [Probe]].self, from: "{\"a\":[1,2]}")
        #expect(probes["a"]?[1].path == "a/Index 1")
        #expect(probes["a"]?[1].flag == true)
        #expect(try BerthJSONEncoder().encodeToString(["k": [Probe()]]) == "{\"k\":[\"k/0\"]}")
    }

    @Test func repeatedKeysAndSharedContainers() throws {
        struct Twice: Encodable {
            enum K: String, CodingKey { case a, b }
            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: K.self)
                try c.encode(1, forKey: .a)
                try c.encode(2, forKey: .b)
                var again = encoder.container(keyedBy: K.self)
                try again.encode(3, forKey: .a)
            }
        }
        #expect(try BerthJSONEncoder().encodeToString(Twice()) == "{\"a\":3,\"b\":2}")
        struct Empty: Encodable { func encode(to encoder: any Encoder) throws {} }
        #expect(try BerthJSONEncoder().encodeToString([Empty()]) == "[{}]")
    }
}
