import BerthCore
import Testing
@testable import BerthBuild

/// A small in-process fuzz loop (the full mutational fuzzer is `berth-fuzz`): random
/// Dockerfile-ish inputs never trap, parse deterministically, and report sane lines.
@Suite("Parser fuzz")
struct ParserFuzzTests {
    /// SplitMix64: deterministic, no Foundation.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
    }

    static let pieces = [
        "FROM ", "alpine", " AS ", "build", "RUN ", "COPY ", "ADD ", "ENV ", "ARG ", "LABEL ", "ONBUILD ", "HEALTHCHECK ",
        "CMD ", "SHELL ", "VOLUME ", "EXPOSE ", "WORKDIR ", "USER ", "STOPSIGNAL ", "MAINTAINER ", "ENTRYPOINT ",
        "\n", "\r\n", "\\", "`", "\\\n", "<<", "<<-", "EOF", "\"EOF\"", "'", "\"", "[", "]", ",", "$", "${", "}", ":-",
        "=", "--", "--from=", "--mount=", "#", "# escape=`\n", "# syntax=x\n", " ", "\t", "a", "/x", "\u{FEFF}", "é", "\0",
        "NONE", "CMD", "ONBUILD", "[\"a\", \"b\"]", "[1]", "\\u0000", "-", "0", "<<A <<B",
    ]

    static let keywords = [
        "RUN ", "COPY a ", "ADD ", "ENV a=", "ARG ", "LABEL a=", "ONBUILD RUN ", "HEALTHCHECK CMD ", "CMD ", "SHELL ",
        "VOLUME ", "EXPOSE ", "WORKDIR ", "USER ", "STOPSIGNAL ", "ENTRYPOINT ", "FROM ", "# ", "RUN <<EOF\n", "",
    ]

    @Test func randomInputsNeverTrap() throws {
        var rng = Random(state: 0x5EED)
        var accepted = 0
        for _ in 0..<20_000 {
            // Mostly line-shaped: a keyword, a few pieces, a newline; sometimes pure noise.
            var text = rng.below(4) == 0 ? "" : "FROM alpine\n"
            for _ in 0..<rng.below(8) {
                text += Self.keywords[rng.below(Self.keywords.count)]
                for _ in 0..<rng.below(rng.below(3) == 0 ? 12 : 3) { text += Self.pieces[rng.below(Self.pieces.count)] }
                text += "x\n"
            }
            let lineCount = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).count
            let first = Result { () throws(DockerfileError) in try DockerfileParser.parse(text) }
            let second = Result { () throws(DockerfileError) in try DockerfileParser.parse(text) }
            switch (first, second) {
            case (.success(let a), .success(let b)):
                #expect(a == b)
                accepted += 1
                for i in a.metaArgs + a.stages.flatMap({ [$0.from] + $0.instructions }) {
                    #expect(i.line >= 1 && i.line <= i.endLine && i.endLine <= lineCount, "\(text.debugDescription)")
                }
            case (.failure(let a), .failure(let b)):
                #expect(a == b)
                #expect(a.line >= 0 && a.line <= lineCount)
            default:
                Issue.record("nondeterministic: \(text.debugDescription)")
            }
            _ = try? ShellWords().words(text, env: ["a": "1 2"])
            _ = try? ShellWords(escape: "`").word(text, env: [:])
            if let ignore = try? DockerIgnore(patterns: DockerIgnore.parse(text)) {
                _ = ignore.excludes("a/b/c")
                _ = ignore.mightIncludeBelow("a")
            }
        }
        #expect(accepted > 2_000)
    }
}
