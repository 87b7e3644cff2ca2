import Foundation
import Testing
@testable import BerthCore

/// Cross-checks against Foundation's `JSONSerialization` (tests may link Foundation; BerthCore
/// may not).
@Suite("JSON versus Foundation")
struct JSONFoundationTests {
    /// Documents both parsers must accept or both reject.
    static let corpus: [String] = [
        "null", "true", "false", "0", "-0", "1", "-1", "0.5", "-0.5e-5", "1E+2", "1e2",
        "18446744073709551615", "-9223372036854775808", "123456789012345678901234567890",
        "\"\"", "\"a\"", "\"\\u0000\"", "\"\\uD834\\uDD1E\"", "\"\\/\"", "\"é中𝄞\"", "\"\u{7F}\"",
        "[]", "{}", "[[]]", "[{}]", "{\"a\":[]}", "{\"a\":1,\"a\":2}", " [ 1 , 2 ] ", "\t[1]\r\n",
        "", " ", "[", "]", "{", "}", "[1", "{\"a\"", "{\"a\":", "{\"a\":1", "[1 2]", "{\"a\" 1}", "{a:1}",
        "{1:1}", "[01]", "[-01]", "[1.]", "[.5]", "[-]", "[1e]", "[1e+]", "[+1]", "[0x10]", "[1.5.3]",
        "[NaN]", "[Infinity]", "[-Infinity]", "[nul]", "[tru]", "[fals]", "[True]", "[Null]",
        "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"", "\"\\uD800\"", "\"\\uDC00\"", "\"\\uD800\\u0041\"",
        "\"a\tb\"", "\"a\nb\"", "\"\u{1}\"", "[1]x", "1 2", "{} {}", "[\u{C}1]", "[\u{A0}1]",
        "// c\n1", "/* c */1", "'a'", "[1,,2]", "[,1]", "{,}", "{\"a\":1,,\"b\":2}", "{\"a\"::1}",
        String(repeating: "[", count: 512) + String(repeating: "]", count: 512),
        String(repeating: "[", count: 513) + String(repeating: "]", count: 513),
        String(repeating: "[", count: 100_000),
    ]

    /// Where we differ on purpose, and whether Foundation accepts: Foundation on Linux accepts
    /// trailing commas, skips a byte order mark and guesses UTF-16/32 from NUL bytes at the start
    /// (we take RFC 8259 JSON in UTF-8 only), and rejects numbers too large for a Double (we keep
    /// the lexeme; decoding it as a Double fails).
    static let deliberateDifferences: [(String, Bool)] = [
        ("[1,]", true),
        ("{\"a\":1,}", true),
        ("\u{FEFF}[1]", true),
        ("\u{0}1", true),
        ("1e400", false),
        ("[-1.5e999999]", false),
    ]

    static func foundationAccepts(_ bytes: [UInt8]) -> Bool {
        (try? JSONSerialization.jsonObject(with: Data(bytes), options: .fragmentsAllowed)) != nil
    }

    static func berthAccepts(_ bytes: [UInt8]) -> Bool {
        (try? JSON.parse(bytes)) != nil
    }

    @Test(arguments: corpus)
    func sameDecisionAsFoundation(_ text: String) {
        let bytes = Array(text.utf8)
        #expect(Self.berthAccepts(bytes) == Self.foundationAccepts(bytes), "\(text.prefix(60).debugDescription)")
    }

    static let invalidUTF8: [[UInt8]] = [
        [0x22, 0xFF, 0x22], [0x22, 0xC0, 0x80, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22],
        [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], [0x22, 0xE4, 0xB8, 0x22], [0x22, 0x80, 0x22], [0xFF], [0x5B, 0x00, 0x5D],
    ]

    @Test(arguments: invalidUTF8)
    func invalidUTF8RejectedByBoth(_ bytes: [UInt8]) {
        #expect(!Self.berthAccepts(bytes))
        #expect(!Self.foundationAccepts(bytes))
    }

    @Test(arguments: deliberateDifferences)
    func documentedDifferences(text: String, foundationAccepts: Bool) {
        let bytes = Array(text.utf8)
        #expect(Self.foundationAccepts(bytes) == foundationAccepts)
        #expect(Self.berthAccepts(bytes) == !foundationAccepts)
    }

    /// Whether Foundation's parse result means the same as ours.
    static func same(_ v: JSONValue, _ any: Any) -> Bool {
        switch v {
        case .null: return any is NSNull
        case .bool(let b): return (any as? NSNumber)?.boolValue == b
        case .number(let n): return (any as? NSNumber)?.doubleValue == Double(n)
        case .string(let s): return (any as? String) == s
        case .array(let a):
            guard let fa = any as? [Any], fa.count == a.count else { return false }
            return zip(a, fa).allSatisfy { same($0, $1) }
        case .object(let o):
            guard let fo = any as? [String: Any], fo.count == o.count else { return false }
            return o.allSatisfy { m in fo[m.key].map { same(m.value, $0) } ?? false }
        }
    }

    @Test func sameValuesAsFoundation() throws {
        var docs = Self.corpus.filter { Self.berthAccepts(Array($0.utf8)) }
        docs.append(String(decoding: JSON.serialize(JSONFixtures.configDocument()), as: UTF8.self))
        for text in docs {
            let ours = try JSON.parse(text)
            let theirs = try JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed)
            #expect(Self.same(ours, theirs), "\(text.prefix(60).debugDescription)")
            // Foundation reads what we write, with the same meaning, in every layout.
            for options: JSONWriteOptions in [[], [.prettyPrinted, .sortedKeys, .escapeHTML]] {
                let written = try JSONSerialization.jsonObject(with: Data(JSON.serialize(ours, options: options)), options: .fragmentsAllowed)
                #expect(Self.same(ours, written))
            }
        }
    }

    /// Mutated documents: same accept/reject decision as Foundation, except for the documented
    /// differences, which are recognized from our error message or the parsed value.
    @Test func fuzzAgainstFoundation() {
        var rng = SplitMix64(seed: 0x0F0_0D)
        let seeds = JSONFixtures.seeds.map { Array($0.utf8) }
        var compared = 0
        for n in 0..<5_000 {
            let input = JSONFuzzTests.mutate(seeds[n % seeds.count], &rng)
            // Foundation guesses UTF-16/32 when the first bytes hold a NUL; we read UTF-8 only.
            if input.prefix(4).contains(0) { continue }
            let theirs = Self.foundationAccepts(input)
            do {
                let v = try JSON.parse(input)
                if !theirs {
                    #expect(Self.hasNumberBeyondDouble(v), "we accept, Foundation rejects: \(String(decoding: input, as: UTF8.self).debugDescription)")
                }
            } catch {
                if theirs {
                    let expected = error.message.contains("no trailing commas") || error.message.contains("byte order mark")
                    #expect(expected, "we reject (\(error.message)), Foundation accepts: \(String(decoding: input, as: UTF8.self).debugDescription)")
                }
            }
            compared += 1
        }
        #expect(compared > 4_000)
    }

    static func hasNumberBeyondDouble(_ v: JSONValue) -> Bool {
        switch v {
        case .number(let n): return !(Double(n)?.isFinite ?? false)
        case .array(let a): return a.contains(where: hasNumberBeyondDouble)
        case .object(let o): return o.values.contains(where: hasNumberBeyondDouble)
        default: return false
        }
    }

    /// `JSONValue` also works with Foundation's coders (through their containers).
    @Test func jsonValueWithFoundationCoders() throws {
        let v: JSONValue = ["a": [1, 2.5, "x", true, .null], "b": ["c": .number("18446744073709551615")]]
        let data = try JSONEncoder().encode(v)
        let back = try JSONDecoder().decode(JSONValue.self, from: data)
        #expect(back == v)
        // Through Foundation's containers a number beyond 64-bit integers becomes a Double.
        let big = try JSONDecoder().decode(JSONValue.self, from: Data("123456789012345678901234567890".utf8))
        #expect(big == .number("1.2345678901234568e+29"))
        // Our encoder's output decodes with Foundation's decoder into the same Codable type, and
        // the other way round.
        var config = sampleConfig
        config.extra = ["list": [1, "two", ["three": 3.25]], "n": .null]
        let fromFoundation = try JSONDecoder().decode(Config.self, from: Data(try BerthJSONEncoder().encode(config)))
        #expect(fromFoundation == config)
        let fromUs = try BerthJSONDecoder().decode(Config.self, from: Array(try JSONEncoder().encode(config)))
        #expect(fromUs == config)
    }

    /// The invariant of BerthCore: it never imports Foundation.
    @Test func coreDoesNotImportFoundation() throws {
        let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        let core = tests.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Sources/BerthCore")
        let files = try FileManager.default.contentsOfDirectory(atPath: core.path).filter { $0.hasSuffix(".swift") }
        #expect(files.count > 5)
        for f in files {
            let text = try String(contentsOf: core.appendingPathComponent(f), encoding: .utf8)
            for line in text.split(separator: "\n") where line.trimmingCharacters(in: .whitespaces).hasPrefix("import ") {
                #expect(!line.contains("Foundation"), "\(f): \(line)")
            }
        }
    }
}
