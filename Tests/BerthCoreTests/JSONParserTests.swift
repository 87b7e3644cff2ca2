import Testing
@testable import BerthCore

/// The message of the `BerthError` that `body` throws, or nil when it does not throw.
func errorMessage(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch let e as BerthError {
        #expect(e.code == .invalidArgument)
        return e.message
    } catch {
        Issue.record("expected a BerthError, got \(type(of: error)): \(error)")
        return "\(error)"
    }
}

func compact(_ v: JSONValue, _ options: JSONWriteOptions = []) -> String {
    String(decoding: JSON.serialize(v, options: options), as: UTF8.self)
}

@Suite("JSON parser")
struct JSONParserTests {
    /// Valid documents and their compact re-serialization.
    static let valid: [(String, String)] = [
        ("null", "null"),
        ("true", "true"),
        ("false", "false"),
        ("0", "0"),
        ("-0", "-0"),
        ("123", "123"),
        ("-1.5e+10", "-1.5e+10"),
        ("1E-7", "1E-7"),
        ("0.000", "0.000"),
        ("18446744073709551615", "18446744073709551615"),
        ("-9223372036854775808", "-9223372036854775808"),
        ("123456789012345678901234567890.5e999", "123456789012345678901234567890.5e999"),
        ("\"\"", "\"\""),
        ("\"hello\"", "\"hello\""),
        (" \t\r\n [ 1 , 2 ] \n", "[1,2]"),
        ("[]", "[]"),
        ("{}", "{}"),
        ("[[],{}]", "[[],{}]"),
        ("{\"a\":{\"b\":[null,true,false]}}", "{\"a\":{\"b\":[null,true,false]}}"),
        ("{\"z\":1,\"a\":2,\"m\":3}", "{\"z\":1,\"a\":2,\"m\":3}"),
        ("{\"a\":1,\"b\":2,\"a\":3}", "{\"a\":3,\"b\":2}"),
        ("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\\"\\\\/\\b\\f\\n\\r\\t\""),
        ("\"\\u0041\\u00e9\\u4e2D\"", "\"Aé中\""),
        ("\"\\uD834\\uDD1E\"", "\"𝄞\""),
        ("\"\\u0000\"", "\"\\u0000\""),
        ("\"é中𝄞\u{7F}\"", "\"é中𝄞\u{7F}\""),
        ("\"a very long string without any escapes at all, longer than eight bytes\"",
         "\"a very long string without any escapes at all, longer than eight bytes\""),
        ("\"tab\\there and a long tail after the escape............\"",
         "\"tab\\there and a long tail after the escape............\""),
        ("[1,\"x\",{\"k\":[{}]}]", "[1,\"x\",{\"k\":[{}]}]"),
    ]

    @Test(arguments: valid)
    func parsesValid(input: String, expected: String) throws {
        let v = try JSON.parse(input)
        #expect(compact(v) == expected)
        #expect(try JSON.parse(Array(input.utf8)) == v)
        // Writing and reading back gives the same value.
        #expect(try JSON.parse(JSON.serialize(v)) == v)
    }

    /// Invalid documents and a fragment of the expected message (after "invalid json: ").
    static let invalid: [(String, String)] = [
        ("", "line 1 column 1: unexpected end of input, expected a value"),
        ("   ", "line 1 column 4: unexpected end of input, expected a value"),
        ("[", "line 1 column 2: unexpected end of input, expected a value"),
        ("[1", "unexpected end of input, expected ',' or ']' in array"),
        ("[1,]", "line 1 column 4: unexpected ']' after ',', expected a value (no trailing commas)"),
        ("{\"a\":1,}", "unexpected '}' after ',', expected a string key (no trailing commas)"),
        ("[1 2]", "line 1 column 4: unexpected '2', expected ',' or ']' in array"),
        ("{\"a\" 1}", "unexpected '1', expected ':' after key"),
        ("{a:1}", "line 1 column 2: unexpected 'a', expected a string key"),
        ("{\"a\":}", "unexpected '}', expected a value"),
        ("{\"a\":1 \"b\":2}", "expected ',' or '}' in object"),
        ("{\"a\"", "unexpected end of input, expected ':' after key"),
        ("\"abc", "line 1 column 1: unterminated string"),
        ("\"abc\\", "unterminated string"),
        ("\"a\tb\"", "line 1 column 3: control character U+0009 in string, it must be escaped"),
        ("\"a\nb\"", "control character U+000A in string"),
        ("\"\u{1F}\"", "control character U+001F in string"),
        ("\"\\x\"", "line 1 column 2: invalid escape '\\x' in string"),
        ("\"\\U0041\"", "invalid escape '\\U' in string"),
        ("\"\\u12\"", "unexpected '\"' in \\u escape, expected 4 hex digits"),
        ("\"\\u12G4\"", "unexpected 'G' in \\u escape, expected 4 hex digits"),
        ("\"\\u12", "unexpected end of input in \\u escape"),
        ("\"\\uD800\"", "lone high surrogate \\uD800 in string"),
        ("\"\\uD800x\"", "lone high surrogate \\uD800"),
        ("\"\\uDC00\"", "lone low surrogate \\uDC00 in string"),
        ("\"\\uD800\\u0041\"", "\\u0041 after high surrogate \\uD800 is not a low surrogate"),
        ("\"\\uD800\\uD800\"", "is not a low surrogate"),
        ("01", "line 1 column 1: leading zeros are not allowed in numbers"),
        ("-01", "leading zeros are not allowed in numbers"),
        ("[00]", "leading zeros are not allowed in numbers"),
        ("-", "line 1 column 2: unexpected end of input after '-', expected a digit"),
        ("-a", "unexpected 'a' after '-', expected a digit"),
        ("1.", "unexpected end of input after '.', expected a digit"),
        ("1.e5", "unexpected 'e' after '.', expected a digit"),
        (".5", "unexpected '.', expected a value"),
        ("1e", "unexpected end of input in exponent, expected a digit"),
        ("1e+", "in exponent, expected a digit"),
        ("1E-x", "unexpected 'x' in exponent, expected a digit"),
        ("+1", "unexpected '+', expected a value"),
        ("0x10", "line 1 column 2: unexpected 'x' after the document"),
        ("NaN", "unexpected 'N', expected a value"),
        ("[NaN]", "unexpected 'N', expected a value"),
        ("Infinity", "unexpected 'I', expected a value"),
        ("-Infinity", "unexpected 'I' after '-', expected a digit"),
        ("nul", "unexpected end of input in literal, expected 'null'"),
        ("tru", "expected 'true'"),
        ("fals", "expected 'false'"),
        ("nulL", "unexpected 'L' in literal, expected 'null'"),
        ("True", "unexpected 'T', expected a value"),
        ("[1]]", "unexpected ']' after the document"),
        ("{} {}", "line 1 column 4: unexpected '{' after the document"),
        ("1 2", "unexpected '2' after the document"),
        ("\u{FEFF}[1]", "line 1 column 1: unexpected byte order mark, expected a value"),
        ("[\u{0C}1]", "unexpected byte 0x0C, expected a value"),
        ("[\u{A0}1]", "unexpected byte 0xC2, expected a value"),
        ("// comment\n1", "unexpected '/', expected a value"),
        ("'single'", "unexpected ''', expected a value"),
        ("[1,\n 2,\n x]", "line 3 column 2: unexpected 'x', expected a value"),
        ("{\"é中\": x}", "line 1 column 8: unexpected 'x', expected a value"),
    ]

    @Test(arguments: invalid)
    func rejectsInvalid(input: String, fragment: String) {
        let message = errorMessage { _ = try JSON.parse(input) }
        #expect(message?.hasPrefix("invalid json: line ") == true, "message: \(message ?? "none")")
        #expect(message?.contains(fragment) == true, "message: \(message ?? "none")")
    }

    /// Byte sequences that are not valid UTF-8 (or not valid JSON bytes).
    static let invalidBytes: [([UInt8], String)] = [
        ([0x22, 0xFF, 0x22], "line 1 column 2: invalid UTF-8 in string"),
        ([0x22, 0x61, 0xC0, 0x80, 0x22], "line 1 column 3: invalid UTF-8 in string"),  // overlong NUL
        ([0x22, 0xED, 0xA0, 0x80, 0x22], "invalid UTF-8 in string"),  // encoded surrogate
        ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], "invalid UTF-8 in string"),  // above U+10FFFF
        ([0x22, 0xE4, 0xB8, 0x22], "invalid UTF-8 in string"),  // truncated sequence
        ([0x22, 0x80, 0x22], "invalid UTF-8 in string"),  // stray continuation byte
        (Array("\"0123456789abcdef\\n".utf8) + [0xFE, 0x22], "line 1 column 20: invalid UTF-8 in string"),
        ([0x5B, 0x00, 0x5D], "unexpected byte 0x00, expected a value"),
        ([0xFF], "unexpected byte 0xFF, expected a value"),
        ([0x31, 0x00], "unexpected byte 0x00 after the document"),
    ]

    @Test(arguments: invalidBytes)
    func rejectsInvalidBytes(input: [UInt8], fragment: String) {
        let message = errorMessage { _ = try JSON.parse(input) }
        #expect(message?.contains(fragment) == true, "message: \(message ?? "none")")
    }

    @Test func nestingLimit() throws {
        let ok = String(repeating: "[", count: JSON.maxDepth) + String(repeating: "]", count: JSON.maxDepth)
        _ = try JSON.parse(ok)
        let objects = String(repeating: "{\"a\":", count: JSON.maxDepth) + "1" + String(repeating: "}", count: JSON.maxDepth)
        _ = try JSON.parse(objects)

        let tooDeep = String(repeating: "[", count: JSON.maxDepth + 1) + String(repeating: "]", count: JSON.maxDepth + 1)
        #expect(errorMessage { _ = try JSON.parse(tooDeep) } == "invalid json: line 1 column 513: nesting deeper than 512 levels")

        // Hostile input: 100,000 unclosed brackets must fail cleanly, not overflow the stack.
        let hostile = [UInt8](repeating: UInt8(ascii: "["), count: 100_000)
        #expect(errorMessage { _ = try JSON.parse(hostile) }?.contains("nesting deeper than 512 levels") == true)
        let hostileObjects = Array(String(repeating: "{\"a\":", count: 100_000).utf8)
        #expect(errorMessage { _ = try JSON.parse(hostileObjects) }?.contains("nesting deeper than 512 levels") == true)
    }

    @Test func numbersKeepTheirText() throws {
        let v = try JSON.parse("[18446744073709551615,-9223372036854775808,0.1,1e400,1.50]")
        #expect(v[0] == .number("18446744073709551615"))
        #expect(v[0]?.uint64Value == UInt64.max)
        #expect(v[0]?.int64Value == nil)
        #expect(v[1]?.int64Value == Int64.min)
        #expect(v[2]?.doubleValue == 0.1)
        #expect(v[3] == .number("1e400"))
        #expect(v[3]?.doubleValue == nil)
        #expect(v[4] == .number("1.50"))
        #expect(compact(v) == "[18446744073709551615,-9223372036854775808,0.1,1e400,1.50]")
    }

    @Test func objectsKeepOrderAndLastDuplicateWins() throws {
        let v = try JSON.parse("{\"b\":1,\"a\":2,\"b\":3}")
        #expect(v.objectValue?.keys == ["b", "a"])
        #expect(v["b"] == 3)
        // Many members: the hash index takes over; duplicates still resolve to the last value.
        var text = "{"
        for i in 0..<100 { text += "\"k\(i)\":\(i)," }
        text += "\"k5\":\"last\"}"
        let big = try JSON.parse(text)
        #expect(big.objectValue?.count == 100)
        #expect(big["k5"] == "last")
        #expect(big["k99"] == 99)
        #expect(big.objectValue?.keys.first == "k0")
    }

    @Test func overloadsAgree() throws {
        let text = "{\"a\":[1,2,{\"b\":null}]}"
        let bytes = Array(text.utf8)
        let a = try JSON.parse(text)
        let b = try JSON.parse(bytes)
        let c = try bytes.withUnsafeBytes { try JSON.parse($0) }
        let d = try bytes.withUnsafeBufferPointer { try JSON.parse($0) }
        #expect(a == b && b == c && c == d)
        #expect(errorMessage { _ = try [UInt8]().withUnsafeBytes { try JSON.parse($0) } } != nil)
    }

    @Test func stringsAcrossWordBoundaries() throws {
        // Quotes, escapes and control characters at every offset of the 8-byte scan.
        for n in 0..<20 {
            let pad = String(repeating: "x", count: n)
            #expect(try JSON.parse("\"\(pad)\"") == .string(pad))
            #expect(try JSON.parse("\"\(pad)\\n\(pad)\"") == .string(pad + "\n" + pad))
            #expect(try JSON.parse("[\"\(pad)é\(pad)\"]") == [.string(pad + "é" + pad)])
            #expect(errorMessage { _ = try JSON.parse("\"\(pad)\u{1}\(pad)\"") }?.contains("column \(n + 2): control character U+0001") == true)
            #expect(errorMessage { _ = try JSON.parse("\"\(pad)") }?.contains("unterminated string") == true)
        }
    }
}
