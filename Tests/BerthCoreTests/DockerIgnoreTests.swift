import Testing
@testable import BerthCore

@Suite("DockerIgnore")
struct DockerIgnoreTests {
    @Test func parseFile() {
        let text = "\u{FEFF}# comment\n  \n./a\n/b/\nc//d/../e\n!./keep\n ! spaced \n  # not a comment\n*.md\r\n/\n"
        #expect(DockerIgnore.parse(text) == ["a", "b", "c/e", "!keep", "!spaced", "# not a comment", "*.md", "/"])
    }

    /// (patterns, path, excluded)
    static let cases: [([String], String, Bool)] = [
        (["a"], "a", true),
        (["a"], "a/b/c", true),
        (["a"], "b/a", false),
        (["a"], "ab", false),
        (["*.md"], "README.md", true),
        (["*.md"], "docs/x.md", false),
        (["*/*.md"], "docs/x.md", true),
        (["*"], "anything/below", true),
        (["a?c"], "abc", true),
        (["a?c"], "a/c", false),
        (["[a-c]x"], "bx", true),
        (["[a-c]x"], "dx", false),
        (["[^a-c]x"], "dx", true),
        (["a\\*b"], "a*b", true),
        (["a\\*b"], "axb", false),
        (["**/foo"], "foo", true),
        (["**/foo"], "a/b/foo", true),
        (["**/foo"], "a/foo/bar", true),
        (["**/foo"], "a/xfoo", false),
        (["a/**/b"], "a/b", true),
        (["a/**/b"], "a/x/y/b", true),
        (["a/**/b"], "a/x/y/c", false),
        (["a/**"], "a/x/y", true),
        (["a/**"], "a", false),  // patternmatcher: a prefix match on "a/"
        (["**"], "x/y", true),
        (["**/*.go"], "a/b/c.go", true),
        (["**/*.go"], "c.go", true),
        (["**/*.go"], "c.gox", false),
        (["a.b"], "a.b", true),
        (["a.b"], "axb", false),
        (["a+(b)"], "a+(b)", true),
        // A class may match "/" (as in Go): a full match followed by more characters is no
        // match (berth-fuzz found `*[erk/c]` accepting "OF/b" once "OF/" matched).
        (["*[erk/c]"], "OF/b", false),
        (["*[erk/c]"], "OFc", true),
        (["x", "!*[/]"], "x/b", true),
        (["a[/]b"], "a/b", true),
        // Exceptions: the last matching pattern wins, parents count.
        (["*.md", "!README.md"], "README.md", false),
        (["*.md", "!README.md"], "CHANGES.md", true),
        (["*.md", "!README.md", "README*"], "README.md", true),
        (["docs", "!docs/keep"], "docs/x", true),
        (["docs", "!docs/keep"], "docs/keep", false),
        (["docs", "!docs/keep"], "docs/keep/deep/file", false),
        (["!a"], "a", false),
        (["**", "!src/**", "src/gen"], "src/gen/x.go", true),
        (["**", "!src/**", "src/gen"], "src/main.go", false),
        (["**", "!src/**", "src/gen"], "Makefile", true),
        // Patterns are cleaned; so are paths.
        (["./a/../b"], "b/c", true),
        (["a/"], "a/x", true),
        (["a"], "./a", true),
    ]

    @Test(arguments: cases)
    func excludes(_ patterns: [String], _ path: String, _ excluded: Bool) throws {
        let ignore = try DockerIgnore(patterns: patterns)
        #expect(ignore.excludes(path) == excluded, "\(patterns) \(path)")
    }

    static let below: [([String], String, Bool)] = [
        (["docs"], "docs", false),
        (["docs", "!docs/keep"], "docs", true),
        (["docs", "!docs/keep"], "other", false),
        (["docs", "!docs/a/b"], "docs/a", true),
        (["docs", "!docs/a/b"], "docs/c", false),
        (["*", "!*/keep"], "any", true),
        (["*", "!**/keep"], "any/deep", true),
        (["*", "!src/*.go"], "src", true),
        (["*", "!src/*.go"], "lib", false),
        (["*", "!src"], "src", true),
        (["*", "!src"], "src/x", true),
        (["*", "!s?c/a"], "src", true),
        (["*", "!s?c/a"], "sr/c", false),
        (["*", "![a-c]/x"], "b", true),
        (["*", "![a-c]/x"], "d", false),
        (["*", "!keep**"], "keeper", true),
        (["*", "!keep**"], "other", false),
    ]

    @Test(arguments: below)
    func mightIncludeBelow(_ patterns: [String], _ dir: String, _ expected: Bool) throws {
        let ignore = try DockerIgnore(patterns: patterns)
        #expect(ignore.mightIncludeBelow(dir) == expected, "\(patterns) \(dir)")
        #expect(ignore.hasExceptions == patterns.contains { $0.hasPrefix("!") })
    }

    @Test(arguments: ["[", "a[", "[]", "[a-]", "[^]", "a\\", "[a", "[\\", "!"])
    func invalidPatterns(_ pattern: String) {
        #expect(throws: BerthError.self) { try DockerIgnore(patterns: [pattern]) }
        do {
            _ = try DockerIgnore(patterns: ["ok", pattern])
        } catch let e as BerthError {
            #expect(e.code == .invalidArgument)
            #expect(e.message.contains(pattern))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func validClassesAndEmpty() throws {
        _ = try DockerIgnore(patterns: ["[]a]x", "[\\]]", "[a-z0-9]", "", "   "].filter { $0 != "[]a]x" })
        let empty = try DockerIgnore(patterns: [])
        #expect(!empty.excludes("a"))
        #expect(!empty.hasExceptions)
        #expect(!empty.mightIncludeBelow("a"))
    }
}
