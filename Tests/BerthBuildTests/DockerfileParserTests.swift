import Testing
@testable import BerthBuild

/// Parses `FROM scratch` + `line` and returns the one instruction after FROM.
private func single(_ line: String, _ sourceLocation: SourceLocation = #_sourceLocation) throws -> Instruction {
    let file = try DockerfileParser.parse("FROM scratch\n" + line + "\n")
    let stage = try #require(file.stages.first, sourceLocation: sourceLocation)
    return try #require(stage.instructions.first, sourceLocation: sourceLocation)
}

private func parseError(_ text: String) -> DockerfileError? {
    do {
        _ = try DockerfileParser.parse(text)
        return nil
    } catch {
        return error
    }
}

@Suite("Dockerfile instructions")
struct DockerfileInstructionTests {
    static let cases: [(String, Instruction.Kind)] = [
        // RUN / CMD / ENTRYPOINT: JSON when it parses as a string array, shell otherwise.
        ("RUN echo hi", .run(.shell("echo hi"))),
        ("run  echo   hi  ", .run(.shell("echo   hi"))),
        ("RUN [\"echo\", \"hi\"]", .run(.exec(["echo", "hi"]))),
        ("RUN   [ \"a\" ,\"b\\u0041\\n\" ]  ", .run(.exec(["a", "bA\n"]))),
        ("RUN [\"echo\", hi]", .run(.shell("[\"echo\", hi]"))),
        ("RUN [\"echo\"] trailing", .run(.shell("[\"echo\"] trailing"))),
        ("RUN ['single']", .run(.shell("['single']"))),
        ("RUN [\"\\ud800\"]", .run(.shell("[\"\\ud800\"]"))),  // lone surrogate: not JSON for us (README)
        ("RUN [\"caf\\u00e9\", \"\\ud83d\\ude00\"]", .run(.exec(["café", "😀"]))),
        ("RUN [\"unterminated", .run(.shell("[\"unterminated"))),
        ("CMD [\"nginx\", \"-g\", \"daemon off;\"]", .cmd(.exec(["nginx", "-g", "daemon off;"]))),
        ("CMD []", .cmd(.exec([]))),
        ("CMD nginx -g 'daemon off;'", .cmd(.shell("nginx -g 'daemon off;'"))),
        ("ENTRYPOINT [\"/bin/sh\", \"-c\"]", .entrypoint(.exec(["/bin/sh", "-c"]))),
        ("ENTRYPOINT exec top -b", .entrypoint(.shell("exec top -b"))),
        // ENV / LABEL
        ("ENV A=1", .env([KeyValue(key: "A", value: "1")])),
        ("ENV A=1 B=\"two words\" C='x y' D=a\\ b",
         .env([KeyValue(key: "A", value: "1"), KeyValue(key: "B", value: "\"two words\""),
               KeyValue(key: "C", value: "'x y'"), KeyValue(key: "D", value: "a\\ b")])),
        ("ENV PATH=/x:$PATH", .env([KeyValue(key: "PATH", value: "/x:$PATH")])),
        ("ENV MY_NAME John Doe", .env([KeyValue(key: "MY_NAME", value: "John Doe")])),
        ("ENV E=", .env([KeyValue(key: "E", value: "")])),
        ("LABEL a=b \"com.example.x\"=\"y z\"",
         .label([KeyValue(key: "a", value: "b"), KeyValue(key: "\"com.example.x\"", value: "\"y z\"")])),
        ("LABEL version 1.0", .label([KeyValue(key: "version", value: "1.0")])),
        // ARG
        ("ARG A", .arg([ArgDefinition(name: "A", defaultValue: nil)])),
        ("ARG A=1 B C=\"x y\"", .arg([ArgDefinition(name: "A", defaultValue: "1"), ArgDefinition(name: "B", defaultValue: nil),
                                     ArgDefinition(name: "C", defaultValue: "\"x y\"")])),
        ("ARG A=", .arg([ArgDefinition(name: "A", defaultValue: "")])),
        // Single-argument instructions keep the rest as one string.
        ("WORKDIR /app", .workdir("/app")),
        ("WORKDIR /my app", .workdir("/my app")),
        ("USER 1000:1000", .user("1000:1000")),
        ("STOPSIGNAL SIGKILL", .stopsignal("SIGKILL")),
        ("MAINTAINER Jane <jane@example.com>", .maintainer("Jane <jane@example.com>")),
        // COPY / ADD
        ("COPY a b /dst/", .copy(CopyArguments(sources: ["a", "b"], destination: "/dst/"))),
        ("COPY [\"a b\", \"/dst dir/\"]", .copy(CopyArguments(sources: ["a b"], destination: "/dst dir/"))),
        ("COPY --from=build --chown=1:1 /out /app", .copy(CopyArguments(sources: ["/out"], destination: "/app"))),
        ("ADD https://example.com/x.tgz /x", .add(CopyArguments(sources: ["https://example.com/x.tgz"], destination: "/x"))),
        ("ADD [\"a\", \"b\"]", .add(CopyArguments(sources: ["a"], destination: "b"))),
        // EXPOSE / VOLUME
        ("EXPOSE 80 443/tcp 53/udp", .expose(["80", "443/tcp", "53/udp"])),
        ("VOLUME /data", .volume(["/data"])),
        ("VOLUME /a /b", .volume(["/a", "/b"])),
        ("VOLUME [\"/a\", \"/b c\"]", .volume(["/a", "/b c"])),
        // HEALTHCHECK
        ("HEALTHCHECK NONE", .healthcheck(.none)),
        ("healthcheck none", .healthcheck(.none)),
        ("HEALTHCHECK CMD curl -f http://localhost/", .healthcheck(.command(.shell("curl -f http://localhost/")))),
        ("HEALTHCHECK --interval=5m --timeout=3s CMD [\"curl\", \"-f\"]", .healthcheck(.command(.exec(["curl", "-f"])))),
        ("HEALTHCHECK cmd true", .healthcheck(.command(.shell("true")))),
        // SHELL
        ("SHELL [\"powershell\", \"-command\"]", .shell(["powershell", "-command"])),
        // ONBUILD
        ("ONBUILD RUN echo hi", .onbuild("RUN echo hi")),
        ("onbuild  copy . /src", .onbuild("copy . /src")),
        ("ONBUILD FOO bar", .onbuild("FOO bar")),
    ]

    @Test(arguments: cases)
    func parses(_ line: String, _ kind: Instruction.Kind) throws {
        let instruction = try single(line)
        #expect(instruction.kind == kind)
        #expect(instruction.line == 2)
        #expect(instruction.endLine == 2)
    }

    @Test func textIsKeywordUppercasedAndRest() throws {
        #expect(try single("run   echo hi  ").text == "RUN echo hi")
        #expect(try single("copy --from=a x y").text == "COPY --from=a x y")
        #expect(try single("Cmd [\"a\"]").text == "CMD [\"a\"]")
        #expect(try single("RUN echo a && \\\n    echo b").text == "RUN echo a &&     echo b")
    }

    static let flagCases: [(String, [Flag])] = [
        ("COPY --from=build --chown=1:1 --chmod=755 --link a b",
         [Flag(name: "from", value: "build"), Flag(name: "chown", value: "1:1"), Flag(name: "chmod", value: "755"),
          Flag(name: "link", value: "")]),
        ("COPY --link=false a b", [Flag(name: "link", value: "false")]),
        ("COPY --exclude=*.md --exclude=*.txt . /", [Flag(name: "exclude", value: "*.md"), Flag(name: "exclude", value: "*.txt")]),
        ("COPY --parents a/b /", [Flag(name: "parents", value: "")]),
        ("ADD --checksum=sha256:abc --keep-git-dir=true git@x:y /", [Flag(name: "checksum", value: "sha256:abc"),
                                                                     Flag(name: "keep-git-dir", value: "true")]),
        ("RUN --mount=type=cache,target=/root/.cache --network=none make",
         [Flag(name: "mount", value: "type=cache,target=/root/.cache"), Flag(name: "network", value: "none")]),
        ("RUN --mount=\"type=bind,source=a b\" ls", [Flag(name: "mount", value: "type=bind,source=a b")]),
        ("RUN --security=insecure ls", [Flag(name: "security", value: "insecure")]),
        ("RUN -- --not-a-flag", []),
        ("HEALTHCHECK --interval=30s --timeout=1m30s --start-period=5s --start-interval=1s --retries=3 CMD true",
         [Flag(name: "interval", value: "30s"), Flag(name: "timeout", value: "1m30s"), Flag(name: "start-period", value: "5s"),
          Flag(name: "start-interval", value: "1s"), Flag(name: "retries", value: "3")]),
    ]

    @Test(arguments: flagCases)
    func flags(_ line: String, _ flags: [Flag]) throws {
        #expect(try single(line).flags == flags)
    }

    @Test func flagAccessorAndArgumentsAfterFlags() throws {
        let i = try single("COPY --exclude=a --exclude=b x /y")
        #expect(i.flag("exclude") == "b")
        let run = try single("RUN --network=host -- echo")
        #expect(run.kind == .run(.shell("echo")))
        #expect(run.flag("network") == "host")
        #expect(run.flag("mount") == nil)
    }

    @Test func fromForms() throws {
        let file = try DockerfileParser.parse("""
            ARG BASE=alpine
            ARG V
            FROM --platform=$BUILDPLATFORM ${BASE}:3 AS Build
            RUN make
            from scratch as final
            COPY --from=build /out /
            FROM build
            """)
        #expect(file.metaArgs.count == 2)
        #expect(file.metaArgs[0].kind == .arg([ArgDefinition(name: "BASE", defaultValue: "alpine")]))
        #expect(file.stages.count == 3)
        #expect(file.stages[0].from.kind == .from(image: "${BASE}:3", name: "build", platform: "$BUILDPLATFORM"))
        #expect(file.stages[0].name == "build")
        #expect(file.stages[0].instructions.map(\.text) == ["RUN make"])
        #expect(file.stages[1].from.kind == .from(image: "scratch", name: "final", platform: nil))
        #expect(file.stages[1].index == 1)
        #expect(file.stages[1].instructions.first?.flag("from") == "build")
        #expect(file.stages[2].name == nil)
        #expect(file.stages[2].from.line == 7)
    }
}

@Suite("Dockerfile errors")
struct DockerfileErrorTests {
    static let cases: [(String, Int, String)] = [
        ("", 0, "the Dockerfile (Dockerfile) cannot be empty"),
        ("\n\n# only a comment\n", 0, "file with no instructions"),
        ("ARG A\n", 0, "dockerfile contains no stages to build"),
        ("FROM scratch\nFOO bar\n", 2, "unknown instruction: FOO"),
        ("FROM scratch\nrunn x\n", 2, "unknown instruction: runn"),
        ("RUN echo\nFROM scratch\n", 1, "no build stage in current context"),
        ("# c\n\nENV A=1\nFROM scratch\n", 3, "no build stage in current context"),
        ("FROM\n", 1, "FROM requires either one or three arguments"),
        ("FROM a b\n", 1, "FROM requires either one or three arguments"),
        ("FROM a AS b c\n", 1, "FROM requires either one or three arguments"),
        ("FROM a AS 1st\n", 1, "invalid name for build stage: \"1st\", name can't start with a number or contain symbols"),
        ("FROM a AS b$\n", 1, "invalid name for build stage: \"b$\", name can't start with a number or contain symbols"),
        ("FROM a AS x\nFROM b AS X\n", 2, "duplicate stage name \"x\""),
        ("FROM --foo=bar a\n", 1, "unknown flag: foo"),
        ("FROM --platform a\n", 1, "missing a value on flag: platform"),
        ("FROM scratch\nRUN\n", 2, "RUN requires at least one argument"),
        ("FROM scratch\nRUN []\n", 2, "RUN requires at least one argument"),
        ("FROM scratch\nCMD\n", 2, "CMD requires at least one argument"),
        ("FROM scratch\nRUN --foo x\n", 2, "unknown flag: foo"),
        ("FROM scratch\nRUN --network=a --network=b x\n", 2, "duplicate flag specified: network"),
        ("FROM scratch\nRUN [1, 2]\n", 2, "when using JSON array syntax, arrays must be comprised of strings only"),
        ("FROM scratch\nCMD [\"a\", null]\n", 2, "when using JSON array syntax, arrays must be comprised of strings only"),
        ("FROM scratch\nENV\n", 2, "ENV requires at least one argument"),
        ("FROM scratch\nENV A\n", 2, "ENV must have two arguments"),
        ("FROM scratch\nENV A=1 B\n", 2, "Syntax error - can't find = in \"B\". Must be of the form: name=value"),
        ("FROM scratch\nENV =x\n", 2, "ENV names can not be blank"),
        ("FROM scratch\nLABEL a\n", 2, "LABEL must have two arguments"),
        ("FROM scratch\nARG\n", 2, "ARG requires at least one argument"),
        ("FROM scratch\nARG =x\n", 2, "ARG names can not be blank"),
        ("FROM scratch\nWORKDIR\n", 2, "WORKDIR requires exactly one argument"),
        ("FROM scratch\nUSER\n", 2, "USER requires exactly one argument"),
        ("FROM scratch\nSTOPSIGNAL\n", 2, "STOPSIGNAL requires exactly one argument"),
        ("FROM scratch\nMAINTAINER\n", 2, "MAINTAINER requires exactly one argument"),
        ("FROM scratch\nCOPY a\n", 2, "COPY requires at least two arguments, but only one was provided. Destination could not be determined."),
        ("FROM scratch\nADD\n", 2, "ADD requires at least two arguments, but only one was provided. Destination could not be determined."),
        ("FROM scratch\nCOPY [\"a\"]\n", 2, "COPY requires at least two arguments, but only one was provided. Destination could not be determined."),
        ("FROM scratch\nCOPY --foo a b\n", 2, "unknown flag: foo"),
        ("FROM scratch\nCOPY --from a b\n", 2, "missing a value on flag: from"),
        ("FROM scratch\nCOPY --link=maybe a b\n", 2, "expecting boolean value for flag link, not: maybe"),
        ("FROM scratch\nADD --from=x a b\n", 2, "unknown flag: from"),
        ("FROM scratch\nCOPY a <<EOF\nx\nEOF\n", 2, "COPY cannot accept a heredoc as a destination"),
        ("FROM scratch\nEXPOSE\n", 2, "EXPOSE requires at least one argument"),
        ("FROM scratch\nVOLUME\n", 2, "VOLUME requires at least one argument"),
        ("FROM scratch\nVOLUME [\"\"]\n", 2, "VOLUME specified can not be an empty string"),
        ("FROM scratch\nHEALTHCHECK\n", 2, "HEALTHCHECK requires at least one argument"),
        ("FROM scratch\nHEALTHCHECK NONE x\n", 2, "HEALTHCHECK NONE takes no arguments"),
        ("FROM scratch\nHEALTHCHECK CMD\n", 2, "Missing command after HEALTHCHECK CMD"),
        ("FROM scratch\nHEALTHCHECK CMD []\n", 2, "Missing command after HEALTHCHECK CMD"),
        ("FROM scratch\nHEALTHCHECK curl x\n", 2, "Unknown type \"CURL\" in HEALTHCHECK (try CMD)"),
        ("FROM scratch\nHEALTHCHECK --interval=abc CMD x\n", 2, "time: invalid duration \"abc\""),
        ("FROM scratch\nHEALTHCHECK --interval=-1s CMD x\n", 2, "Interval \"interval\" cannot be negative"),
        ("FROM scratch\nHEALTHCHECK --timeout=10us CMD x\n", 2, "Interval \"timeout\" cannot be less than 1ms"),
        ("FROM scratch\nHEALTHCHECK --retries=-2 CMD x\n", 2, "--retries cannot be negative (-2)"),
        ("FROM scratch\nHEALTHCHECK --retries=x CMD x\n", 2, "strconv.ParseInt: parsing \"x\": invalid syntax"),
        ("FROM scratch\nSHELL /bin/bash -c\n", 2, "SHELL requires the arguments to be in JSON form"),
        ("FROM scratch\nSHELL []\n", 2, "SHELL requires at least one argument"),
        ("FROM scratch\nSHELL\n", 2, "SHELL requires at least one argument"),
        ("FROM scratch\nONBUILD\n", 2, "ONBUILD requires at least one argument"),
        ("FROM scratch\nONBUILD ONBUILD RUN x\n", 2, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
        ("FROM scratch\nONBUILD FROM x\n", 2, "FROM isn't allowed as an ONBUILD trigger"),
        ("FROM scratch\nonbuild maintainer x\n", 2, "MAINTAINER isn't allowed as an ONBUILD trigger"),
        ("FROM scratch\nONBUILD ENV x\n", 2, "ENV must have two arguments"),
        ("FROM scratch\nENV --x=1 A=1\n", 2, "unknown flag: x"),
        // Line numbers are the instruction's first line, continuations and heredocs included.
        ("FROM scratch\nRUN echo \\\n  a \\\n  b\nFOO \\\n x\n", 5, "unknown instruction: FOO"),
        ("FROM scratch\nRUN <<EOF\nFOO\nEOF\n\nBAR\n", 6, "unknown instruction: BAR"),
        ("FROM scratch\n\n\nRUN cat <<EOF\nnever ends\n", 4, "unterminated heredoc"),
        ("FROM scratch\nCOPY <<A <<B /x\nbody a\nA\nbody b\n", 2, "unterminated heredoc"),
        // Line-phase errors anywhere win over instruction errors earlier in the file.
        ("FROM scratch\nFOO\nRUN <<EOF\n", 3, "unterminated heredoc"),
        // Directives.
        ("# escape=x\nFROM scratch\n", 1, "invalid escape token 'x' does not match ` or \\"),
        ("# syntax=a\n# SYNTAX=b\nFROM scratch\n", 2, "only one syntax parser directive can be used"),
    ]

    @Test(arguments: cases)
    func rejects(_ text: String, _ line: Int, _ message: String) {
        let error = parseError(text)
        #expect(error == DockerfileError(line: line, message: message), "\(text.debugDescription)")
    }

    @Test func description() {
        #expect(DockerfileError(line: 3, message: "unknown instruction: FOO").description
                == "dockerfile parse error on line 3: unknown instruction: FOO")
        #expect(DockerfileError(line: 0, message: "file with no instructions").description == "file with no instructions")
    }
}

@Suite("Dockerfile syntax")
struct DockerfileSyntaxTests {
    @Test func directives() throws {
        let file = try DockerfileParser.parse("""
            # syntax=docker/dockerfile:1
            #ESCAPE = `
            #   check=skip=all
            FROM scratch
            RUN echo a `
              b
            """)
        #expect(file.directives == ["syntax": "docker/dockerfile:1", "escape": "`", "check": "skip=all"])
        #expect(file.escape == "`")
        #expect(file.stages[0].instructions[0].kind == .run(.shell("echo a   b")))
        #expect(file.stages[0].instructions[0].endLine == 6)
    }

    @Test func backtickEscapeKeepsBackslashes() throws {
        let file = try DockerfileParser.parse("# escape=`\nFROM windows\nCOPY testfile.txt c:\\\nRUN dir c:\\\n")
        #expect(file.stages[0].instructions[0].kind == .copy(CopyArguments(sources: ["testfile.txt"], destination: "c:\\")))
        #expect(file.stages[0].instructions[1].kind == .run(.shell("dir c:\\")))
    }

    @Test func directivesOnlyAtTop() throws {
        // After a comment, a blank line or an instruction, directive-looking lines are comments.
        for text in ["# comment\n# escape=`\nFROM a\n", "\n# escape=`\nFROM a\n", "FROM a\n# escape=`\n",
                     "# unknown=x\n# escape=`\nFROM a\n"] {
            let file = try DockerfileParser.parse(text)
            #expect(file.escape == "\\", "\(text.debugDescription)")
            #expect(file.directives["escape"] == nil)
        }
        // Repeated after a non-directive: just a comment.
        let file = try DockerfileParser.parse("# syntax=a\n# x\n# syntax=b\nFROM a\n")
        #expect(file.directives == ["syntax": "a"])
    }

    @Test func continuationsCommentsAndBlankLines() throws {
        let file = try DockerfileParser.parse("""
            FROM alpine
            # comment

            RUN apk add \\
            # a comment inside
                  curl \\\t \n\
            \n\
                  git
              # indented comment
            \tRUN true
            """)
        let run = file.stages[0].instructions
        #expect(run.count == 2)
        #expect(run[0].kind == .run(.shell("apk add       curl       git")))
        #expect(run[0].line == 4)
        #expect(run[0].endLine == 8)
        #expect(run[1].line == 10)
        #expect(run[1].kind == .run(.shell("true")))
    }

    @Test func crlfAndBOM() throws {
        let file = try DockerfileParser.parse("\u{FEFF}# escape=\\\r\nFROM a\r\nRUN echo \\\r\n  hi\r\nENV A=1\r\n")
        #expect(file.directives == ["escape": "\\"])
        #expect(file.stages[0].from.kind == .from(image: "a", name: nil, platform: nil))
        #expect(file.stages[0].instructions[0].kind == .run(.shell("echo   hi")))
        #expect(file.stages[0].instructions[1].kind == .env([KeyValue(key: "A", value: "1")]))
        #expect(file.stages[0].instructions[1].line == 5)
    }

    @Test func escapedEscapeAtEndStillContinues() throws {
        // BuildKit only looks at the last character: `\\` at the end continues too.
        let i = try single("RUN echo \\\\\n x")
        #expect(i.kind == .run(.shell("echo \\ x")))
    }

    @Test func noTrailingNewlineInsideContinuation() throws {
        let i = try DockerfileParser.parse("FROM a\nRUN echo \\").stages[0].instructions[0]
        #expect(i.kind == .run(.shell("echo")))
        #expect(i.endLine == 2)
    }
}

@Suite("Heredocs")
struct HeredocTests {
    @Test func runHeredoc() throws {
        let file = try DockerfileParser.parse("""
            FROM alpine
            RUN <<EOF
            echo "$HOME"
              indented
            EOF
            RUN true
            """)
        let run = file.stages[0].instructions[0]
        #expect(run.kind == .run(.shell("<<EOF")))
        #expect(run.heredocs == [Heredoc(name: "EOF", content: "echo \"$HOME\"\n  indented\n", expand: true, chomp: false)])
        #expect(run.line == 2)
        #expect(run.endLine == 5)
        #expect(run.text == "RUN <<EOF")
        #expect(file.stages[0].instructions[1].line == 6)
    }

    static let names: [(String, Heredoc)] = [
        ("RUN cat <<EOT > /x", Heredoc(name: "EOT", content: "a\n", expand: true, chomp: false)),
        ("RUN cat <<\"EOT\"", Heredoc(name: "EOT", content: "a\n", expand: false, chomp: false)),
        ("RUN cat <<'EOT'", Heredoc(name: "EOT", content: "a\n", expand: false, chomp: false)),
        ("RUN cat <<E\"O\"T", Heredoc(name: "EOT", content: "a\n", expand: false, chomp: false)),
        ("RUN python3 2<<EOT", Heredoc(name: "EOT", content: "a\n", expand: true, chomp: false)),
    ]

    @Test(arguments: names)
    func delimiterForms(_ line: String, _ heredoc: Heredoc) throws {
        let i = try single(line + "\na\nEOT")
        #expect(i.heredocs == [heredoc])
        #expect(i.endLine == 4)
    }

    @Test func chompStripsLeadingTabs() throws {
        let i = try single("RUN <<-EOT\n\t\techo a\n\t  b\n\tEOT")
        #expect(i.heredocs == [Heredoc(name: "EOT", content: "echo a\n  b\n", expand: true, chomp: true)])
    }

    @Test func withoutChompTabbedDelimiterIsBody() throws {
        #expect(parseError("FROM a\nRUN <<EOT\n\tEOT\n") == DockerfileError(line: 2, message: "unterminated heredoc"))
    }

    @Test func multipleOnOneLine() throws {
        let i = try single("COPY <<A <<-'B' /dst/\nfile a\nA\n\tfile b\n\tB\nRUN x")
        #expect(i.kind == .copy(CopyArguments(sources: ["<<A", "<<-'B'"], destination: "/dst/")))
        #expect(i.heredocs == [Heredoc(name: "A", content: "file a\n", expand: true, chomp: false),
                               Heredoc(name: "B", content: "file b\n", expand: false, chomp: true)])
        #expect(i.endLine == 6)
        #expect(try DockerfileParser.heredoc(in: "<<-'B'")! == ("B", false, true))
        #expect(try DockerfileParser.heredoc(in: "/dst/") == nil)
    }

    @Test func notHeredocs() throws {
        // Quoted, glued to a word, `<<<`, or an instruction that takes none.
        #expect(try single("RUN echo \"<<EOF\"").heredocs.isEmpty)
        #expect(try single("RUN cat<<EOF").heredocs.isEmpty)
        #expect(try single("RUN cat <<<EOF").heredocs.isEmpty)
        #expect(try single("ENV A=<<EOF").heredocs.isEmpty)
        #expect(try single("RUN [\"cat\", \"<<EOF\"]").heredocs.isEmpty)
    }

    @Test func emptyBodyAndCRLF() throws {
        let i = try single("RUN <<EOF\r\nEOF\r\nRUN <<X\r\nline\r\nX")
        #expect(i.heredocs == [Heredoc(name: "EOF", content: "", expand: true, chomp: false)])
        let file = try DockerfileParser.parse("FROM a\r\nRUN <<X\r\nline\r\nX\r\n")
        #expect(file.stages[0].instructions[0].heredocs[0].content == "line\n")
    }

    @Test func heredocAfterContinuation() throws {
        let i = try single("RUN --mount=type=cache,target=/c \\\n  cat <<EOF\nbody\nEOF")
        #expect(i.kind == .run(.shell("cat <<EOF")))
        #expect(i.heredocs.first?.content == "body\n")
        #expect(i.line == 2)
        #expect(i.endLine == 5)
    }

    @Test func onbuildHeredoc() throws {
        let i = try single("ONBUILD RUN <<EOF\necho hi\nEOF")
        #expect(i.kind == .onbuild("RUN <<EOF\necho hi\nEOF"))
        #expect(i.endLine == 4)
    }
}

@Suite("Dockerfile end to end")
struct DockerfileEndToEndTests {
    @Test func realisticFile() throws {
        let file = try DockerfileParser.parse("""
            # syntax=docker/dockerfile:1.7
            # check=error=true
            ARG GO_VERSION=1.22

            FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
            WORKDIR /src
            RUN --mount=type=cache,target=/go/pkg/mod \\
                --mount=type=bind,source=go.mod,target=go.mod \\
                go mod download
            COPY <<EOF /src/version.go
            package main
            const version = "$VERSION"
            EOF
            ENV CGO_ENABLED=0 \\
                GOOS=linux
            RUN go build -o /out/app .

            FROM gcr.io/distroless/static AS final
            LABEL org.opencontainers.image.source="https://example.com/x" \\
                  maintainer="me"
            COPY --from=build --chmod=0755 /out/app /usr/local/bin/app
            HEALTHCHECK --interval=10s CMD ["/usr/local/bin/app", "health"]
            EXPOSE 8080
            USER nonroot:nonroot
            ONBUILD RUN echo triggered
            ENTRYPOINT ["/usr/local/bin/app"]
            CMD ["serve"]
            """)
        #expect(file.directives == ["syntax": "docker/dockerfile:1.7", "check": "error=true"])
        #expect(file.metaArgs.map(\.line) == [3])
        #expect(file.stages.map(\.name) == ["build", "final"])
        let build = file.stages[0].instructions
        #expect(build.map(\.line) == [6, 7, 10, 14, 16])
        #expect(build.map(\.endLine) == [6, 9, 13, 15, 16])
        #expect(build[1].flags.map(\.value) == ["type=cache,target=/go/pkg/mod", "type=bind,source=go.mod,target=go.mod"])
        #expect(build[1].kind == .run(.shell("go mod download")))
        #expect(build[2].kind == .copy(CopyArguments(sources: ["<<EOF"], destination: "/src/version.go")))
        #expect(build[2].heredocs.first?.content == "package main\nconst version = \"$VERSION\"\n")
        #expect(build[3].kind == .env([KeyValue(key: "CGO_ENABLED", value: "0"), KeyValue(key: "GOOS", value: "linux")]))
        let final = file.stages[1]
        #expect(final.from.line == 18)
        #expect(final.instructions.map(\.text) == [
            "LABEL org.opencontainers.image.source=\"https://example.com/x\"       maintainer=\"me\"",
            "COPY --from=build --chmod=0755 /out/app /usr/local/bin/app",
            "HEALTHCHECK --interval=10s CMD [\"/usr/local/bin/app\", \"health\"]",
            "EXPOSE 8080",
            "USER nonroot:nonroot",
            "ONBUILD RUN echo triggered",
            "ENTRYPOINT [\"/usr/local/bin/app\"]",
            "CMD [\"serve\"]",
        ])
        #expect(final.instructions[2].kind == .healthcheck(.command(.exec(["/usr/local/bin/app", "health"]))))
        #expect(final.instructions[2].flag("interval") == "10s")
        #expect(final.instructions.last?.endLine == 27)
    }
}
