// berth-fuzz: a deterministic mutational fuzzer for the Dockerfile parser, ShellWords and
// DockerIgnore. A crash (a Swift trap: overflow, index out of range, a failed invariant) is the
// failure signal; otherwise it prints what it did and exits 0.
//
//   berth-fuzz dockerfile|shellwords|dockerignore [--iterations N] [--seconds S] [--seed X]
//
// No Foundation: the stdlib (ContinuousClock for time) and libc's exit.

import BerthBuild
import BerthCore
#if canImport(Glibc)
import Glibc  // exit(3) only
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Options

struct Options {
    var target = ""
    /// Default 100,000; unbounded when only `--seconds` is given.
    var iterations: Int?
    var seconds: Double?
    var seed: UInt64 = 1
}

func usage() -> Never {
    print("usage: berth-fuzz dockerfile|shellwords|dockerignore [--iterations N] [--seconds S] [--seed X]")
    exit(2)
}

func parseOptions() -> Options {
    var o = Options()
    var args = CommandLine.arguments.dropFirst()
    guard let target = args.popFirst(), ["dockerfile", "shellwords", "dockerignore"].contains(target) else { usage() }
    o.target = target
    while let a = args.popFirst() {
        func value() -> String {
            if let eq = a.firstIndex(of: "=") { return String(a[a.index(after: eq)...]) }
            guard let v = args.popFirst() else { usage() }
            return v
        }
        let name = a.split(separator: "=", maxSplits: 1).first.map(String.init) ?? a
        switch name {
        case "--iterations": guard let n = Int(value()), n >= 0 else { usage() }; o.iterations = n
        case "--seconds": guard let s = Double(value()), s >= 0 else { usage() }; o.seconds = s
        case "--seed":
            let v = value()
            if v.hasPrefix("0x"), let n = UInt64(v.dropFirst(2), radix: 16) { o.seed = n }
            else if let n = UInt64(v) { o.seed = n }
            else { usage() }
        default: usage()
        }
    }
    return o
}

// MARK: - Randomness

/// SplitMix64.
struct Random {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
    mutating func chance(_ oneIn: Int) -> Bool { below(oneIn) == 0 }
}

// MARK: - Corpus

let dockerfileCorpus: [String] = [
    """
    # syntax=docker/dockerfile:1
    ARG GO_VERSION=1.22
    FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-alpine AS build
    WORKDIR /src
    COPY --link go.mod go.sum ./
    RUN --mount=type=cache,target=/go/pkg/mod \\
        go mod download
    COPY . .
    RUN CGO_ENABLED=0 go build -o /out/app ./cmd/app

    FROM scratch AS final
    COPY --from=build /out/app /app
    USER 65532:65532
    EXPOSE 8080/tcp
    ENTRYPOINT ["/app"]
    """,
    """
    # escape=`
    FROM mcr.microsoft.com/windows/servercore
    SHELL ["powershell", "-Command"]
    COPY testfile.txt c:\\
    RUN New-Item -ItemType Directory C:\\Example; `
        Write-Host 'done'
    WORKDIR c:\\Example
    """,
    """
    FROM alpine:3.19
    RUN <<EOF
    set -e
    apk add --no-cache curl
    echo "$HOME"
    EOF
    COPY <<-"CONF" <<APP /etc/
    \tkey = value
    \tCONF
    #!/bin/sh
    echo app
    APP
    RUN python3 <<'PY' > /out
    print("hi")
    PY
    """,
    """
    FROM debian:12
    ENV DEBIAN_FRONTEND=noninteractive LANG="C.UTF-8" \\
        PATH=/opt/bin:$PATH
    ENV LEGACY value with spaces
    LABEL org.opencontainers.image.title="berth" version=1.0 "quoted key"='v'
    ARG USER=app UID
    RUN apt-get update && \\
    # a comment inside a continuation

        apt-get install -y ca-certificates && \\
        rm -rf /var/lib/apt/lists/*
    VOLUME ["/data", "/logs"]
    VOLUME /cache /tmp/x
    HEALTHCHECK --interval=30s --timeout=3s --retries=3 CMD curl -f http://localhost/ || exit 1
    STOPSIGNAL SIGTERM
    ONBUILD COPY . /app/src
    ONBUILD RUN make
    CMD ["nginx", "-g", "daemon off;"]
    """,
    "FROM a\r\nRUN echo \\\r\n  hi\r\nCMD echo ${X:-default} '$Y' \"$Z\"\r\n",
    "\u{FEFF}# check=skip=all\nfrom busybox as base\nmaintainer someone <a@b>\nadd --chmod=755 --checksum=sha256:00 https://x/y /y\nhealthcheck none\nentrypoint exec top -b\n",
    "FROM a AS one\nFROM one AS two\nCOPY --from=one --parents --exclude=*.md a/b c/ /dst/\nRUN [\"sh\", \"-c\", \"echo \\u00e9\"]\nRUN [1]\n",
]

let shellCorpus: [String] = [
    "hello $PWD ${HOME:-/root} '$LITERAL' \"quoted $X\" a\\ b",
    "${FILE%%.*} ${FILE#*/} ${P//\\//:} ${Q/a*/b}",
    "${UNSET:?must be set} ${A:+alt} ${B+x} ${C-d} $$ $1 $@",
    "\"${nested:-${deeper:-'x y'}}\" `echo` c:\\windows",
    "'unterminated ${ \"",
]

let ignoreCorpus: [String] = [
    "# comment\n*.md\n!README.md\nnode_modules\n**/*.log\n/build/\n./tmp\n",
    "**\n!src/**\nsrc/gen\n!src/gen/keep.go\n",
    "a/**/b\n[a-c]?x\n\\*literal\n!**/keep\n  spaced  \n!\n",
    "docs\n!docs/a/b\n*/cache\ntemp?\n[^x]y\n[a-\n",
]

let tokens: [String] = [
    "\\", "`", "\\\n", "`\n", "<<", "<<-", "<<EOF", "\nEOF\n", "<<'EOF'", "<<\"A\"", "${", "}", "$", ":-", ":?", "#", "##",
    "%", "/", "//", "\"", "'", "[", "]", "[\"", "\"]", ",", "\n", "\r\n", "\r", " ", "\t", "=", "--", "--from=", "--mount=",
    "--link", "# escape=`\n", "# escape=\\\n", "# syntax=x\n", "FROM ", "RUN ", "COPY ", "ADD ", "ONBUILD ", "HEALTHCHECK ",
    "CMD ", "NONE", "AS ", "ENV ", "ARG ", "LABEL ", "SHELL ", "\u{FEFF}", "\0", "é", "한", "\u{10FFFF}", "**", "*", "?", "!",
    "..", "./", "-", "0", "9999999999999999999999", "null", "[1]", "\\u0000", "\\ud800", "{", "EOF",
]

// MARK: - Mutation

func mutate(_ input: [UInt8], _ rng: inout Random, pool: [[UInt8]]) -> [UInt8] {
    var b = input
    for _ in 0..<(1 + rng.below(6)) {
        switch rng.below(8) {
        case 0 where !b.isEmpty:  // bit flip
            let i = rng.below(b.count)
            b[i] ^= UInt8(truncatingIfNeeded: 1 << rng.below(8))
        case 1 where !b.isEmpty:  // random byte
            b[rng.below(b.count)] = UInt8(truncatingIfNeeded: rng.next())
        case 2, 3:  // insert an interesting token
            let t = Array(tokens[rng.below(tokens.count)].utf8)
            b.insert(contentsOf: t, at: rng.below(b.count + 1))
        case 4 where !b.isEmpty:  // delete a range
            let i = rng.below(b.count)
            let n = min(b.count - i, 1 + rng.below(16))
            b.removeSubrange(i..<(i + n))
        case 5 where !pool.isEmpty:  // splice with another input
            let other = pool[rng.below(pool.count)]
            let i = rng.below(b.count + 1)
            let j = rng.below(other.count + 1)
            b = Array(b[..<i]) + Array(other[j...])
        case 6 where !b.isEmpty:  // duplicate a range
            let i = rng.below(b.count)
            let n = min(b.count - i, 1 + rng.below(32))
            b.insert(contentsOf: b[i..<(i + n)], at: rng.below(b.count + 1))
        case 7 where b.count > 1:  // swap two bytes
            b.swapAt(rng.below(b.count), rng.below(b.count))
        default:
            b.append(UInt8(truncatingIfNeeded: rng.next()))
        }
    }
    if b.count > 8192 { b.removeSubrange(8192...) }
    return b
}

// MARK: - Invariants

func check(_ condition: Bool, _ what: @autoclosure () -> String, _ input: String) {
    if !condition {
        print("invariant failed: \(what())\ninput: \(input.debugDescription)")
        fflush(nil)
        fatalError("berth-fuzz: invariant failed")
    }
}

func lineCount(_ text: String) -> Int {
    var n = 0
    var last: Unicode.Scalar = "\n"
    for c in text.unicodeScalars {
        if c == "\n" { n += 1 }
        last = c
    }
    return last == "\n" ? n : n + 1
}

/// Returns true when the input was accepted.
func fuzzDockerfile(_ text: String) -> Bool {
    let lines = lineCount(text)
    let first: Result<Dockerfile, DockerfileError> = Result { () throws(DockerfileError) in try DockerfileParser.parse(text) }
    let second: Result<Dockerfile, DockerfileError> = Result { () throws(DockerfileError) in try DockerfileParser.parse(text) }
    switch (first, second) {
    case (.success(let a), .success(let b)):
        check(a == b, "re-parse differs", text)
        check(a.escape == "\\" || a.escape == "`", "escape \(a.escape)", text)
        check(!a.stages.isEmpty, "no stages accepted", text)
        var previousEnd = 0
        for i in a.metaArgs {
            if case .arg = i.kind {} else { check(false, "meta arg not ARG", text) }
        }
        for (n, stage) in a.stages.enumerated() {
            check(stage.index == n, "stage index", text)
            if case .from = stage.from.kind {} else { check(false, "stage without FROM", text) }
            for i in [stage.from] + stage.instructions {
                check(i.line >= 1 && i.line <= i.endLine && i.endLine <= lines,
                      "lines \(i.line)...\(i.endLine) of \(lines)", text)
                check(i.line > previousEnd, "instructions overlap", text)
                previousEnd = i.endLine
                check(!i.text.isEmpty, "empty text", text)
                for h in i.heredocs { check(h.content.isEmpty || h.content.hasSuffix("\n"), "heredoc body", text) }
            }
        }
        return true
    case (.failure(let a), .failure(let b)):
        check(a == b, "errors differ", text)
        check(a.line >= 0 && a.line <= lines, "error line \(a.line) of \(lines)", text)
        check(!a.message.isEmpty, "empty message", text)
        check(a.description.hasPrefix("dockerfile parse error on line ") == (a.line > 0), "description", text)
        return false
    default:
        check(false, "nondeterministic result", text)
        return false
    }
}

let fuzzEnv: [String: String] = ["PWD": "/home", "FILE": "a.tar.gz", "P": "/usr/local/bin", "NULL": "", "A": "x y"]

func fuzzShellWords(_ text: String) -> Bool {
    var accepted = false
    for escape: Character in ["\\", "`"] {
        let lexer = ShellWords(escape: escape)
        let word = try? lexer.word(text, env: fuzzEnv)
        let words = try? lexer.words(text, env: fuzzEnv)
        check((word == nil) == (words == nil), "word and words disagree on errors", text)
        check(word == (try? lexer.word(text, env: fuzzEnv)), "word nondeterministic", text)
        if let words {
            check(!words.contains(""), "empty word", text)
            accepted = true
        }
    }
    return accepted
}

let pathParts = ["a", "b", "src", "docs", "keep", "x.go", "README.md", "gen", "node_modules", "é"]

func fuzzDockerIgnore(_ text: String, _ rng: inout Random) -> Bool {
    let patterns = DockerIgnore.parse(text)
    guard let ignore = try? DockerIgnore(patterns: patterns) else { return false }
    // `init(patterns:)` trims again, so " !x" (from "/ !x") is an exception too, as in moby.
    let trimmed = patterns.map { String(String.UnicodeScalarView($0.unicodeScalars.drop { $0.properties.isWhitespace })) }
    check(ignore.hasExceptions == trimmed.contains { $0.hasPrefix("!") && $0 != "!" }, "hasExceptions", text)
    // Paths from the patterns themselves and from a small alphabet.
    var paths = patterns.prefix(4).map { String($0.drop { $0 == "!" }) }
    for _ in 0..<4 {
        paths.append((0..<(1 + rng.below(4))).map { _ in pathParts[rng.below(pathParts.count)] }.joined(separator: "/"))
    }
    for dir in paths {
        let excluded = ignore.excludes(dir)
        check(excluded == ignore.excludes(dir), "excludes nondeterministic", text)
        let descend = ignore.mightIncludeBelow(dir)
        if !ignore.hasExceptions { check(!descend, "descend without exceptions", text) }
        // The context root (".") is never excluded as a parent; rooted paths are not context paths.
        if excluded, !descend, dir != ".", !dir.hasPrefix("/") {
            // Nothing below may be included again.
            for _ in 0..<3 {
                let below = dir + "/" + pathParts[rng.below(pathParts.count)] + (rng.chance(2) ? "/" + pathParts[rng.below(pathParts.count)] : "")
                check(ignore.excludes(below), "\(below) included below excluded \(dir) that mightIncludeBelow denied; patterns \(patterns)", text)
            }
        }
    }
    return true
}

// MARK: - Main

let options = parseOptions()
var rng = Random(state: options.seed)
let corpus: [String] = switch options.target {
case "dockerfile": dockerfileCorpus
case "shellwords": shellCorpus
default: ignoreCorpus
}
var pool: [[UInt8]] = corpus.map { Array($0.utf8) }
let seedCount = pool.count
let clock = ContinuousClock()
let start = clock.now
let deadline: ContinuousClock.Instant? = options.seconds.map { start + .milliseconds(Int64($0 * 1000)) }
var done = 0
var accepted = 0
var rejected = 0

let iterations = options.iterations ?? (options.seconds == nil ? 100_000 : Int.max)
while done < iterations {
    if let deadline, done % 256 == 0, clock.now >= deadline { break }
    let base = pool[rng.chance(3) ? rng.below(seedCount) : rng.below(pool.count)]
    let bytes = rng.chance(50) ? base : mutate(base, &rng, pool: pool)
    let text = String(decoding: bytes, as: UTF8.self)
    let ok: Bool
    switch options.target {
    case "dockerfile": ok = fuzzDockerfile(text)
    case "shellwords": ok = fuzzShellWords(text)
    default: ok = fuzzDockerIgnore(text, &rng)
    }
    if ok {
        accepted += 1
        // Keep some accepted inputs to mutate further (bounded pool, replaced at random).
        if rng.chance(64) {
            if pool.count < 512 { pool.append(bytes) } else { pool[seedCount + rng.below(pool.count - seedCount)] = bytes }
        }
    } else {
        rejected += 1
    }
    done += 1
}

let elapsed = clock.now - start
let ms = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
print("berth-fuzz \(options.target): \(done) iterations in \(ms) ms (seed \(options.seed)): \(accepted) accepted, \(rejected) rejected")
