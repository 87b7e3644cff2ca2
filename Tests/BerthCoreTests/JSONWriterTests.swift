import Testing
@testable import BerthCore

@Suite("JSON writer")
struct JSONWriterTests {
    static let strings: [(String, String)] = [
        ("plain", "\"plain\""),
        ("", "\"\""),
        ("quote \" backslash \\ slash /", "\"quote \\\" backslash \\\\ slash /\""),
        ("\n\r\t\u{8}\u{C}", "\"\\n\\r\\t\\b\\f\""),
        ("\u{0}\u{1}\u{1F}\u{7F}", "\"\\u0000\\u0001\\u001f\u{7F}\""),
        ("<a href=\"x\">&amp;</a>", "\"<a href=\\\"x\\\">&amp;</a>\""),
        ("line\u{2028}para\u{2029}", "\"line\u{2028}para\u{2029}\""),
        ("é中𝄞", "\"é中𝄞\""),
        ("\u{2020}\u{20AC}", "\"\u{2020}\u{20AC}\""),
    ]

    @Test(arguments: strings)
    func escapesStrings(input: String, expected: String) throws {
        #expect(compact(.string(input)) == expected)
        #expect(try JSON.parse(expected) == .string(input))
    }

    static let htmlStrings: [(String, String)] = [
        ("<script>&</script>", "\"\\u003cscript\\u003e\\u0026\\u003c/script\\u003e\""),
        ("line\u{2028}para\u{2029}end", "\"line\\u2028para\\u2029end\""),
        ("\u{2020}\u{20AC}\u{2027}\u{202A}", "\"\u{2020}\u{20AC}\u{2027}\u{202A}\""),  // E2 80 xx neighbours stay
        ("tail \u{E2}", "\"tail \u{E2}\""),  // U+00E2 is C3 A2, not an E2 lead byte
        ("a\"b\n", "\"a\\\"b\\n\""),
    ]

    @Test(arguments: htmlStrings)
    func escapesHTML(input: String, expected: String) throws {
        let v = JSONValue.string(input)
        #expect(compact(v, .escapeHTML) == expected)
        #expect(try JSON.parse(expected) == v)
    }

    @Test func goCompatibleLogLine() {
        // What Docker's json-file driver writes for `<b>"hi"</b>\n` (Go's json.Marshal).
        let v: JSONValue = ["log": "<b>\"hi\"</b>\n", "stream": "stdout"]
        #expect(compact(v, .escapeHTML) == "{\"log\":\"\\u003cb\\u003e\\\"hi\\\"\\u003c/b\\u003e\\n\",\"stream\":\"stdout\"}")
    }

    @Test func sortedKeys() {
        let v: JSONValue = ["b": 1, "a": ["z": true, "y": false], "B": 2, "é": 3, "aa": 4, "": 5]
        #expect(compact(v) == "{\"b\":1,\"a\":{\"z\":true,\"y\":false},\"B\":2,\"é\":3,\"aa\":4,\"\":5}")
        #expect(compact(v, .sortedKeys) == "{\"\":5,\"B\":2,\"a\":{\"y\":false,\"z\":true},\"aa\":4,\"b\":1,\"é\":3}")
    }

    @Test func prettyPrinted() {
        let v: JSONValue = ["name": "web", "ports": [80, 443], "empty": [], "none": [:], "nested": ["a": .null]]
        let expected = """
            {
              "name": "web",
              "ports": [
                80,
                443
              ],
              "empty": [],
              "none": {},
              "nested": {
                "a": null
              }
            }
            """
        #expect(compact(v, .prettyPrinted) == expected)
        #expect(compact([], .prettyPrinted) == "[]")
        #expect(compact(7, .prettyPrinted) == "7")
        let sorted = compact(["b": 1, "a": [true]], [.prettyPrinted, .sortedKeys])
        #expect(sorted == "{\n  \"a\": [\n    true\n  ],\n  \"b\": 1\n}")
    }

    @Test func numbers() {
        #expect(compact(.number("-0.5e+10")) == "-0.5e+10")
        #expect(compact(JSONValue(UInt64.max)) == "18446744073709551615")
        #expect(compact(JSONValue(Int8.min)) == "-128")
        #expect(JSONValue(1.0) == .number("1"))
        #expect(JSONValue(0.1) == .number("0.1"))
        #expect(JSONValue(-0.0) == .number("-0"))
        #expect(JSONValue(1e-5) == .number("1e-05"))
        #expect(JSONValue(1e300) == .number("1e+300"))
        #expect(JSONValue(Double.nan) == nil)
        #expect(JSONValue(-Double.infinity) == nil)
        // A hand-made lexeme that is not JSON is written as null rather than as broken text.
        #expect(compact([.number("0x10"), .number("NaN"), .number(""), .number("1.")]) == "[null,null,null,null]")
    }

    @Test func appendingAPIs() {
        var buffer: [UInt8] = Array("x=".utf8)
        JSON.serialize(["a": 1], into: &buffer)
        #expect(String(decoding: buffer, as: UTF8.self) == "x={\"a\":1}")
        var s: [UInt8] = []
        JSON.writeString("<\n>", to: &s, options: .escapeHTML)
        #expect(String(decoding: s, as: UTF8.self) == "\"\\u003c\\n\\u003e\"")
    }

    @Test func valueAccessorsAndEquality() throws {
        let v = try JSON.parse("{\"s\":\"x\",\"b\":true,\"n\":\"3\",\"i\":3.0,\"f\":2.5,\"a\":[1],\"o\":{},\"z\":null}")
        #expect(v["s"]?.stringValue == "x")
        #expect(v["b"]?.boolValue == true)
        #expect(v["n"]?.intValue == nil)
        #expect(v["i"]?.intValue == 3)
        #expect(v["f"]?.intValue == nil)
        #expect(v["f"]?.doubleValue == 2.5)
        #expect(v["a"]?.arrayValue == [1])
        #expect(v["a"]?[0] == 1)
        #expect(v["a"]?[1] == nil)
        #expect(v["o"]?.objectValue?.isEmpty == true)
        #expect(v["z"]?.isNull == true)
        #expect(v["missing"] == nil)
        #expect(v["s"]?["x"] == nil)
        #expect(v["z"]?.typeName == "null")
        // Object equality and hashing ignore member order; number text is compared as text.
        let a = try JSON.parse("{\"x\":1,\"y\":[2]}")
        let b = try JSON.parse("{\"y\":[2],\"x\":1}")
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(Set([a, b]).count == 1)
        #expect(try JSON.parse("1.0") != JSON.parse("1"))
        #expect(try JSON.parse("{\"x\":1}") != JSON.parse("{\"x\":1,\"y\":2}"))
        #expect(try JSON.parse("{\"x\":1,\"z\":2}") != JSON.parse("{\"x\":1,\"y\":2}"))
        #expect(v.description.hasPrefix("{\"s\":\"x\""))
    }

    @Test func objectEditing() {
        var o: JSONObject = ["a": 1, "b": 2, "c": 3]
        o["b"] = "two"
        #expect(o.keys == ["a", "b", "c"])
        o["a"] = nil
        #expect(o.keys == ["b", "c"])
        #expect(o.removeValue(forKey: "zz") == nil)
        #expect(o.updateValue(true, forKey: "d") == nil)
        #expect(o.map(\.key) == ["b", "c", "d"])
        #expect(o[1].value == 3)
        // Growing past the index threshold and shrinking below it keeps lookups right.
        for i in 0..<40 { o["k\(i)"] = JSONValue(i) }
        #expect(o.count == 43)
        #expect(o["k39"] == 39 && o["b"] == "two")
        for i in 0..<38 { o["k\(i)"] = nil }
        #expect(o.count == 5)
        #expect(o.keys == ["b", "c", "d", "k38", "k39"])
        #expect(o["k38"] == 38 && o["k0"] == nil)
        o["k38"] = "x"
        #expect(o.keys.last == "k39")
    }
}
