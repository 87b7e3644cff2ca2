import BerthCore
import Testing
@testable import BerthBuild

/// Cases in the style of BuildKit's `envVarTest`: input → one expanded word.
@Suite("ShellWords")
struct ShellWordsTests {
    static let env: [String: String] = [
        "PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": "", "SPACED": "a  b c",
        "FILE": "archive.tar.gz", "P": "/usr/local/bin",
    ]

    static let wordCases: [(String, String)] = [
        ("hello", "hello"),
        ("he'll'o", "hello"),
        ("he'llo", "ERROR"),
        ("he\\'llo", "he'llo"),
        ("he\\\\'llo", "ERROR"),
        ("abc\\\\de", "abc\\de"),
        ("\"abc\\\\de\"", "abc\\de"),
        ("\"abc\\de\"", "abc\\de"),
        ("\"a\\\"b\"", "a\"b"),
        ("\"a\\$b\"", "a$b"),
        ("'a\\b'", "a\\b"),
        ("'$PWD'", "$PWD"),
        ("\"$PWD\"", "/home"),
        ("\"'$PWD'\"", "'/home'"),
        ("'\"$PWD\"'", "\"$PWD\""),
        ("\"hello", "ERROR"),
        ("hello\\", "hello"),
        ("\\$PWD", "$PWD"),
        ("$PWD", "/home"),
        ("${PWD}", "/home"),
        ("${PWD}x", "/homex"),
        ("$PWDx", ""),
        ("$PWD.x", "/home.x"),
        ("${KOREAN}", "한국어"),
        ("$", "$"),
        ("$ x", "$ x"),
        ("a$", "a$"),
        ("$/", "$/"),
        ("$$", ""),
        ("$1", ""),
        ("$12x", "x"),
        ("$@", ""),
        ("${UNSET}", ""),
        ("${NULL}", ""),
        ("${UNSET:-default}", "default"),
        ("${UNSET-default}", "default"),
        ("${NULL:-default}", "default"),
        ("${NULL-default}", ""),
        ("${PWD:-default}", "/home"),
        ("${UNSET:-$PWD/x}", "/home/x"),
        ("${UNSET:-${SHELL:-no}}", "bash"),
        ("${UNSET:-'quoted }'}", "quoted }"),
        ("${UNSET:-\"a b\"}", "a b"),
        ("${UNSET:-}", ""),
        ("${PWD:+alt}", "alt"),
        ("${PWD+alt}", "alt"),
        ("${NULL:+alt}", ""),
        ("${NULL+alt}", "alt"),
        ("${UNSET:+alt}", ""),
        ("${UNSET+alt}", ""),
        ("${PWD:?msg}", "/home"),
        ("${NULL?msg}", ""),
        ("${UNSET:?must be set}", "ERROR"),
        ("${FILE#*.}", "tar.gz"),
        ("${FILE##*.}", "gz"),
        ("${FILE%.*}", "archive.tar"),
        ("${FILE%%.*}", "archive"),
        ("${FILE#nomatch}", "archive.tar.gz"),
        ("${P/local/opt}", "/usr/opt/bin"),
        ("${P//\\//:}", ":usr:local:bin"),
        ("${P/u*l/X}", "/X/bin"),
        ("${UNSET/a/b}", ""),
        ("${", "ERROR"),
        ("${PWD", "ERROR"),
        ("${PWD:-x", "ERROR"),
        ("${}", "ERROR"),
        ("${:}", "ERROR"),
        ("${{PWD}", "ERROR"),
        ("${PWD*}", "ERROR"),
        ("${PWD:#x}", "ERROR"),
        ("${PWD:=x}", "ERROR"),
        ("a b  c", "a b  c"),
    ]

    @Test(arguments: wordCases)
    func word(_ input: String, _ expected: String) {
        let lexer = ShellWords()
        if expected == "ERROR" {
            #expect(throws: BerthError.self, "\(input)") { try lexer.word(input, env: Self.env) }
        } else {
            #expect((try? lexer.word(input, env: Self.env)) == expected, "\(input)")
        }
    }

    static let wordsCases: [(String, [String])] = [
        ("a b  c", ["a", "b", "c"]),
        ("  leading and trailing  ", ["leading", "and", "trailing"]),
        ("\"a b\" c", ["a b", "c"]),
        ("'a  b'c d", ["a  bc", "d"]),
        ("$SPACED", ["a", "b", "c"]),
        ("\"$SPACED\"", ["a  b c"]),
        ("x$SPACED", ["xa", "b", "c"]),
        ("\"\"", []),
        ("'' a", ["a"]),
        ("a\\ b c", ["a b", "c"]),
        ("$NULL", []),
        ("${UNSET:-one two}", ["one", "two"]),
        ("\"${UNSET:-one two}\"", ["one two"]),
        ("a\tb\nc", ["a", "b", "c"]),
    ]

    @Test(arguments: wordsCases)
    func words(_ input: String, _ expected: [String]) throws {
        #expect(try ShellWords().words(input, env: Self.env) == expected, "\(input)")
    }

    @Test func errorMessages() {
        func message(_ input: String) -> String? {
            do {
                _ = try ShellWords().word(input, env: Self.env)
                return nil
            } catch let e as BerthError {
                return e.message
            } catch {
                return "\(error)"
            }
        }
        #expect(message("${UNSET:?must be set}") == "failed to process \"${UNSET:?must be set}\": UNSET: must be set")
        #expect(message("${UNSET?}") == "failed to process \"${UNSET?}\": UNSET: is not allowed to be unset")
        #expect(message("${NULL:?}") == "failed to process \"${NULL:?}\": NULL: is not allowed to be empty")
        #expect(message("${PWD") == "failed to process \"${PWD\": syntax error: missing '}'")
        #expect(message("${}") == "failed to process \"${}\": syntax error: bad substitution")
        #expect(message("'x") == "failed to process \"'x\": unexpected end of statement while looking for matching single-quote")
        #expect(message("${PWD*}") == "failed to process \"${PWD*}\": unsupported modifier (*) in substitution")
    }

    @Test func backtickEscape() throws {
        let lexer = ShellWords(escape: "`")
        #expect(try lexer.word("c:\\windows\\`$PWD", env: Self.env) == "c:\\windows\\$PWD")
        #expect(try lexer.word("\"a`\"b\"", env: Self.env) == "a\"b")
        #expect(try lexer.words("a` b c", env: Self.env) == ["a b", "c"])
    }
}
