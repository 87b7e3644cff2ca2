import BerthTestSupport
import Foundation
import Testing

/// Dockerfile builds through the real docker CLI (`DOCKER_BUILDKIT=0`, the classic builder
/// protocol) and docker-py against a real berthd: every instruction, multi-stage with
/// `COPY --from`, heredocs, `.dockerignore`, build args, the cache, failures and bad input,
/// `docker commit`. Serialized: each test owns a daemon, and the machine has two cores.
@Suite(.serialized)
struct BuildTests {
    func trimmed(_ s: String) -> String { s.trimmingCharacters(in: .whitespacesAndNewlines) }

    /// Writes files (relative path → content) into a fresh context directory.
    func context(_ d: TestDaemon, _ name: String, _ files: [String: String]) throws -> String {
        let dir = d.dir + "/" + name
        for (path, content) in files {
            let full = dir + "/" + path
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try content.write(toFile: full, atomically: true, encoding: .utf8)
        }
        return dir
    }

    func build(_ d: TestDaemon, _ args: String...) throws -> CommandResult {
        try runCommand(["docker", "build"] + args,
                       env: ["DOCKER_HOST": d.host, "DOCKER_BUILDKIT": "0", "DOCKER_CONFIG": d.dir + "/docker-config"])
    }

    func inspect(_ d: TestDaemon, _ format: String, _ image: String) throws -> String {
        trimmed(try d.docker("image", "inspect", "-f", format, image).stdout)
    }

    static let everyInstruction = """
    # syntax=docker/dockerfile:1
    ARG BASE=busybox:test
    FROM ${BASE} AS build
    ARG GREETING=hello
    RUN <<EOT
    echo "script $GREETING" > /built.txt
    mkdir -p /out && cp /built.txt /out/
    EOT
    COPY --chmod=600 sub/ /out/sub/
    RUN cat > /out/doc.txt <<EOF2
    line one
    EOF2

    FROM busybox:test AS unused
    RUN exit 9

    FROM busybox:test
    MAINTAINER someone@example.com
    LABEL org.test=yes maintainer="a b"
    COPY --from=build /out /data
    COPY --chown=1000:1000 *.txt /app/
    ADD layer.tar /unpacked/
    COPY <<EOF /etc/motd
    welcome ${HOSTNAME:-box} "q"
    EOF
    COPY <<"RAW" /etc/raw
    keep $A "quoted"
    RAW
    ENV A=1 B="two words"
    ENV C=${A}-x
    EXPOSE 8080/tcp 53/udp
    VOLUME /vol
    USER 1000:1000
    WORKDIR /work
    WORKDIR sub
    HEALTHCHECK --interval=5s --retries=2 CMD echo ok
    STOPSIGNAL SIGTERM
    SHELL ["/bin/sh", "-c"]
    ONBUILD RUN echo child > /tmp/child.txt
    ENTRYPOINT ["/bin/sh", "-c"]
    CMD ["cat /data/built.txt"]
    """

    @Test func everyInstructionMultiStageAndDockerignore() throws {
        try withImage { d in
            let ctx = try context(d, "ctx", [
                "Dockerfile": Self.everyInstruction,
                "sub/keep.txt": "keep\n", "sub/skip.log": "skip\n", "secret.txt": "secret\n", "notes.txt": "notes\n",
                ".dockerignore": "# comment\nsecret.txt\n**/*.log\n",
            ])
            // A local tar archive: ADD unpacks it.
            #expect(try runCommand(["sh", "-c", "mkdir -p \(ctx)/t && echo inside > \(ctx)/t/in.txt && tar -C \(ctx)/t -cf \(ctx)/layer.tar in.txt && rm -r \(ctx)/t"]).status == 0)
            let b = try build(d, "--build-arg", "GREETING=hey", "--build-arg", "UNUSED=1", "-t", "every:1", "-t", "every:2", ctx)
            #expect(b.status == 0, "\(b.stdout)\n\(b.stderr)")
            #expect(b.stdout.contains("Step 1/"), "\(b.stdout)")
            #expect(!b.stdout.contains("RUN exit 9"), "the unused stage ran: \(b.stdout)")
            #expect(b.stdout.contains("[Warning] One or more build-args [UNUSED] were not consumed"), "\(b.stdout)")
            #expect(b.stdout.contains("Successfully tagged every:1") && b.stdout.contains("Successfully tagged every:2"), "\(b.stdout)")

            // The image runs with its config.
            let run = try d.docker("run", "--rm", "every:1")
            #expect(run.stdout == "script hey\n", "\(run.stdout) \(run.stderr)")
            #expect(try inspect(d, "{{json .Config.Entrypoint}} {{json .Config.Cmd}}", "every:1") == #"["/bin/sh","-c"] ["cat /data/built.txt"]"#)
            #expect(try inspect(d, "{{.Config.User}} {{.Config.WorkingDir}} {{.Config.StopSignal}} {{.Author}}", "every:1") == "1000:1000 /work/sub SIGTERM someone@example.com")
            let env = try inspect(d, "{{json .Config.Env}}", "every:1")
            #expect(env.contains("\"A=1\"") && env.contains("\"B=two words\"") && env.contains("\"C=1-x\""), "\(env)")
            #expect(try inspect(d, "{{json .Config.ExposedPorts}}", "every:1") == #"{"53/udp":{},"8080/tcp":{}}"#)
            #expect(try inspect(d, "{{json .Config.Volumes}}", "every:1") == #"{"/vol":{}}"#)
            #expect(try inspect(d, "{{json .Config.Healthcheck}}", "every:1") == #"{"Test":["CMD-SHELL","echo ok"],"Interval":5000000000,"Retries":2}"#)
            #expect(try inspect(d, "{{json .Config.OnBuild}}", "every:1") == #"["RUN echo child > /tmp/child.txt"]"#)
            #expect(try inspect(d, "{{index .Config.Labels \"org.test\"}}|{{index .Config.Labels \"maintainer\"}}", "every:1") == "yes|a b")

            // Files: from the other stage, the context (owners, modes, .dockerignore), heredocs, ADD.
            let files = try d.docker("run", "--rm", "--entrypoint", "sh", "every:1", "-c",
                                     "cat /data/doc.txt /etc/motd /etc/raw /unpacked/in.txt; stat -c '%n %u:%g %a' /data/sub/keep.txt /app/notes.txt; ls /data/sub; ls /app; ls -d /work/sub")
            #expect(files.stdout == """
            line one
            welcome box "q"
            keep $A "quoted"
            inside
            /data/sub/keep.txt 0:0 600
            /app/notes.txt 1000:1000 644
            keep.txt
            notes.txt
            /work/sub

            """, "\(files.stdout) \(files.stderr)")
            // `docker history` shows the steps, newest first, the tagged image with its ID.
            let history = try d.docker("history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}", "every:1")
            let rows = history.stdout.split(separator: "\n").map(String.init)
            #expect(rows.first?.hasSuffix(#"|/bin/sh -c #(nop)  CMD ["cat /data/built.txt"]"#) == true, "\(history.stdout)")
            #expect(rows.contains { $0.contains("COPY file:") || $0.contains("COPY multi:") }, "\(history.stdout)")
            #expect(rows.contains { $0.hasSuffix("|/bin/sh -c #(nop)  ENV A=1 B=two words") }, "\(history.stdout)")

            // The same Dockerfile through docker-py.
            let py = try d.python("""
            import docker
            c = docker.from_env()
            img, logs = c.images.build(path="\(ctx)", tag="every:py", buildargs={"GREETING": "py"}, rm=True)
            print(img.attrs["Config"]["Cmd"], img.attrs["Config"]["WorkingDir"], img.attrs["Config"]["User"])
            print(c.containers.run("every:py", remove=True).decode().strip())
            """)
            #expect(py.status == 0, "\(py.stdout) \(py.stderr)")
            #expect(py.stdout.contains("['cat /data/built.txt'] /work/sub 1000:1000"), "\(py.stdout)")
            #expect(py.stdout.contains("script py"), "\(py.stdout)")

            // ONBUILD fires in a child build.
            let child = try context(d, "child", ["Dockerfile": "FROM every:1\nRUN cat /tmp/child.txt\n"])
            let cb = try build(d, "-t", "child", child)
            #expect(cb.status == 0, "\(cb.stdout) \(cb.stderr)")
            #expect(cb.stdout.contains("# Executing 1 build trigger"), "\(cb.stdout)")
            #expect(try d.docker("run", "--rm", "--entrypoint", "cat", "child", "/tmp/child.txt").stdout == "child\n")

            // --target stops at a stage.
            let t = try build(d, "--target", "build", "-q", ctx)
            #expect(t.status == 0, "\(t.stdout) \(t.stderr)")
            let targetID = trimmed(t.stdout)
            #expect(targetID.hasPrefix("sha256:"), "\(t.stdout)")
            #expect(try d.docker("run", "--rm", targetID, "cat", "/built.txt").stdout == "script hello\n")
            try verifyStore(d.root)
        }
    }

    @Test func cacheReusesStepsUntilContentChanges() throws {
        try withImage { d in
            let ctx = try context(d, "ctx", [
                "Dockerfile": "FROM busybox:test\nRUN echo one > /one\nCOPY a.txt /a.txt\nRUN cat /a.txt > /copy\nCMD [\"cat\", \"/copy\"]\n",
                "a.txt": "first\n",
            ])
            let first = try build(d, "-t", "cached", ctx)
            #expect(first.status == 0, "\(first.stdout) \(first.stderr)")
            #expect(!first.stdout.contains("Using cache"), "\(first.stdout)")
            let id1 = try inspect(d, "{{.Id}}", "cached")

            let second = try build(d, "-t", "cached", ctx)
            #expect(second.status == 0)
            #expect(second.stdout.components(separatedBy: "Using cache").count - 1 == 4, "\(second.stdout)")
            #expect(try inspect(d, "{{.Id}}", "cached") == id1)
            // The steps were persisted: after a restart the cache still holds.
            d.stop()
            try d.start()
            let afterRestart = try build(d, "-t", "cached", ctx)
            #expect(afterRestart.stdout.components(separatedBy: "Using cache").count - 1 == 4, "\(afterRestart.stdout)")

            // Change the copied file: the RUN before it stays cached, COPY and after rebuild.
            try "second\n".write(toFile: ctx + "/a.txt", atomically: true, encoding: .utf8)
            let third = try build(d, "-t", "cached", ctx)
            #expect(third.status == 0)
            #expect(third.stdout.components(separatedBy: "Using cache").count - 1 == 1, "\(third.stdout)")
            #expect(try d.docker("run", "--rm", "cached").stdout == "second\n")

            // --no-cache rebuilds everything.
            let fourth = try build(d, "--no-cache", "-t", "cached", ctx)
            #expect(fourth.status == 0)
            #expect(!fourth.stdout.contains("Using cache"), "\(fourth.stdout)")
            // Intermediate containers are gone (rm is the default).
            #expect(try d.docker("ps", "-aq").stdout == "")

            // The build cache's prune removes the intermediate images of earlier builds.
            let before = try d.docker("images", "-aq").stdout.split(separator: "\n").count
            let prune = try d.docker("builder", "prune", "-f")
            #expect(prune.status == 0, "\(prune.stderr)")
            let after = try d.docker("images", "-aq").stdout.split(separator: "\n").count
            #expect(after < before, "prune removed nothing: \(prune.stdout)")
            #expect(try d.docker("run", "--rm", "cached").stdout == "second\n")
            try verifyStore(d.root)
        }
    }

    @Test func failuresReportStepOutputAndCode() throws {
        try withImage { d in
            let ctx = try context(d, "ctx", ["Dockerfile": "FROM busybox:test\nRUN echo before\nRUN echo oops >&2; exit 3\nRUN echo never\n"])
            let b = try build(d, "--force-rm", ctx)
            #expect(b.status == 3, "\(b.status) \(b.stdout) \(b.stderr)")
            #expect(b.stdout.contains("Step 3/4 : RUN echo oops >&2; exit 3"), "\(b.stdout)")
            #expect((b.stdout + b.stderr).contains("oops"), "\(b.stdout)")
            #expect(b.stderr.contains("The command '/bin/sh -c echo oops >&2; exit 3' returned a non-zero code: 3"), "\(b.stderr)")
            #expect(!b.stdout.contains("never"))
            #expect(try d.docker("ps", "-aq").stdout == "", "--force-rm left a container")

            // Bad input: clear errors, nothing left behind.
            let cases: [(String, [String: String], String)] = [
                ("syntax", ["Dockerfile": "FROM busybox:test\nRUN true\nFOO bar\n"], "dockerfile parse error on line 3: unknown instruction: FOO"),
                ("outside", ["Dockerfile": "FROM busybox:test\nCOPY ../../etc/passwd /x\n"], "forbidden path outside the build context"),
                ("missing", ["Dockerfile": "FROM busybox:test\nCOPY nothere.txt /x\n"], "nothere.txt"),
                ("ignored", ["Dockerfile": "FROM busybox:test\nCOPY secret /x\n", "secret": "s", ".dockerignore": "secret\n"], "excluded by .dockerignore"),
                ("nobase", ["Dockerfile": "FROM nosuch:1\nRUN true\n"], "nosuch"),
                ("noFrom", ["Dockerfile": "RUN true\n"], "line 1"),
                ("badjson", ["Dockerfile": "FROM busybox:test\nSHELL sh -c\n"], "SHELL requires the arguments to be in JSON form"),
            ]
            for (name, files, message) in cases {
                let c = try context(d, name, files)
                let r = try build(d, c)
                #expect(r.status != 0, "\(name) built")
                #expect((r.stderr + r.stdout).contains(message), "\(name): \(r.stdout) \(r.stderr)")
            }
            let missingFile = try build(d, "-f", "Nope", ctx)
            #expect(missingFile.status != 0)
            #expect(try d.docker("ps", "-aq").stdout == "", "a bad build left a container")
            #expect(TestDaemon.mounts(under: d.root).isEmpty, "mounts left: \(TestDaemon.mounts(under: d.root))")
            try verifyStore(d.root)
        }
    }

    @Test func dockerPyBuildsAndCommit() throws {
        try withImage { d in
            let ctx = try context(d, "ctx", [
                "Dockerfile": "FROM busybox:test\nARG WHO=nobody\nRUN echo \"hi $WHO\" > /greeting\nCMD [\"cat\", \"/greeting\"]\n",
            ])
            let py = try d.python("""
            import docker
            c = docker.from_env()
            img, logs = c.images.build(path="\(ctx)", tag="pybuilt:latest", buildargs={"WHO": "py"}, rm=True)
            print(img.tags[0], img.attrs["Config"]["Cmd"])
            print(c.containers.run("pybuilt:latest", remove=True).decode().strip())
            try:
                c.images.build(fileobj=__import__("io").BytesIO(b"FROM busybox:test\\nRUN exit 5\\n"), rm=True)
            except docker.errors.BuildError as e:
                print("failed:", e.msg)
            """)
            #expect(py.status == 0, "\(py.stdout) \(py.stderr)")
            #expect(py.stdout.contains("pybuilt:latest ['cat', '/greeting']"), "\(py.stdout)")
            #expect(py.stdout.contains("hi py"), "\(py.stdout)")
            #expect(py.stdout.contains("failed: The command '/bin/sh -c exit 5' returned a non-zero code: 5"), "\(py.stdout)")

            // docker commit: changes become a layer, --change edits the config.
            #expect(try d.docker("run", "-d", "--name", "src", "busybox:test", "sh", "-c", "echo made > /made; sleep 60").status == 0)
            var committed = false
            for _ in 0..<50 where !committed {
                committed = try d.docker("exec", "src", "cat", "/made").stdout == "made\n"
                if !committed { usleep(100_000) }
            }
            let commit = try d.docker("commit", "-m", "snap", "-a", "me", "-c", "CMD [\"cat\", \"/made\"]", "-c", "ENV X=1", "src", "snap:1")
            #expect(commit.status == 0, "\(commit.stderr)")
            #expect(trimmed(commit.stdout).hasPrefix("sha256:"), "\(commit.stdout)")
            #expect(try d.docker("inspect", "-f", "{{.State.Status}}", "src").stdout == "running\n", "commit left the container paused")
            #expect(try d.docker("run", "--rm", "snap:1").stdout == "made\n")
            #expect(try inspect(d, "{{.Comment}}|{{.Author}}|{{json .Config.Env}}", "snap:1").contains("snap|me|"))
            #expect(try inspect(d, "{{json .Config.Env}}", "snap:1").contains("X=1"))
            let bad = try d.docker("commit", "-c", "BOGUS x", "src")
            #expect(bad.status != 0 && bad.stderr.contains("BOGUS"), "\(bad.stderr)")
            try verifyStore(d.root)
        }
    }

    @Test func berthCLIBuild() throws {
        try withImage { d in
            let ctx = try context(d, "ctx", [
                "Dockerfile": "FROM busybox:test\nARG WHO\nCOPY . /ctx/\nRUN echo \"hi $WHO\" > /greeting\n",
                "keep.txt": "k", "big.bin": "ignored", "logs/a.log": "x", "logs/keep.log": "y",
                ".dockerignore": "*.bin\nlogs\n!logs/keep.log\n",
            ])
            let b = try d.berth("build", "-t", "cli:1", "--build-arg", "WHO=berth", "--label", "via=cli", ctx)
            #expect(b.status == 0, "\(b.stdout) \(b.stderr)")
            #expect(b.stdout.contains("Successfully tagged cli:1"), "\(b.stdout)")
            // The CLI sent the context without the ignored files (the exception kept).
            let files = try d.docker("run", "--rm", "cli:1", "sh", "-c", "cat /greeting; cd /ctx && find . -type f | sort")
            #expect(files.stdout == "hi berth\n./.dockerignore\n./Dockerfile\n./keep.txt\n./logs/keep.log\n", "\(files.stdout)")
            #expect(try inspect(d, "{{index .Config.Labels \"via\"}}", "cli:1") == "cli")
            // A Dockerfile outside the context; -q prints the ID only; --iidfile.
            let outside = d.dir + "/Other.dockerfile"
            try "FROM busybox:test\nCMD [\"echo\", \"outside\"]\n".write(toFile: outside, atomically: true, encoding: .utf8)
            let q = try d.berth("build", "-q", "-f", outside, "--iidfile", d.dir + "/iid", ctx)
            #expect(q.status == 0, "\(q.stderr)")
            #expect(trimmed(q.stdout).hasPrefix("sha256:") && !q.stdout.contains("Step"), "\(q.stdout)")
            #expect((try? String(contentsOfFile: d.dir + "/iid", encoding: .utf8)) == trimmed(q.stdout))
            #expect(try d.docker("run", "--rm", trimmed(q.stdout)).stdout == "outside\n")
            // A failing RUN: its code is the CLI's.
            try "FROM busybox:test\nRUN exit 6\n".write(toFile: outside, atomically: true, encoding: .utf8)
            let f = try d.berth("build", "-f", outside, ctx)
            #expect(f.status == 6, "\(f.status) \(f.stderr)")
            #expect(f.stderr.contains("returned a non-zero code: 6"), "\(f.stderr)")
            let missing = try d.berth("build", d.dir + "/nope")
            #expect(missing.status == 1 && missing.stderr.contains("not found"), "\(missing.stderr)")
            // berth commit.
            #expect(try d.docker("run", "--name", "committer", "busybox:test", "sh", "-c", "echo made > /made").status == 0)
            let commit = try d.berth("commit", "-m", "from berth", "-c", "CMD [\"cat\", \"/made\"]", "committer", "localhost:5000/committed:v1")
            #expect(commit.status == 0 && trimmed(commit.stdout).hasPrefix("sha256:"), "\(commit.stdout) \(commit.stderr)")
            #expect(try d.docker("run", "--rm", "localhost:5000/committed:v1").stdout == "made\n")
            #expect(try inspect(d, "{{.Comment}}", "localhost:5000/committed:v1") == "from berth")
        }
    }

    @Test func daemonKilledMidBuildLeavesNothingHalfWritten() throws {
        try withImage { d in
            let ctx = try context(d, "ctx", [
                "Dockerfile": "FROM busybox:test\nCOPY a.txt /a\nRUN echo one > /one\nRUN touch /started; sleep 30\n",
                "a.txt": "a",
            ])
            let log = d.dir + "/build.log"
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", "DOCKER_BUILDKIT=0 DOCKER_HOST=\(d.host) docker build \(ctx) > \(log) 2>&1"]
            try p.run()
            var running = false
            for _ in 0..<200 where !running {
                running = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("RUN touch /started")
                if !running { usleep(50_000) }
            }
            #expect(running, "the build did not reach its last step")
            usleep(300_000)
            d.crash()
            p.waitUntilExitReliably()
            try d.start()
            // The unfinished build's steps are gone (collected), the store is consistent, and
            // the same build runs from scratch.
            try verifyStore(d.root)
            #expect(try d.docker("images", "-aq").stdout.split(separator: "\n").count == 1, "step images survived the crash")
            try "FROM busybox:test\nCOPY a.txt /a\nRUN echo one > /one\n".write(toFile: ctx + "/Dockerfile", atomically: true, encoding: .utf8)
            let again = try build(d, "-t", "after", ctx)
            #expect(again.status == 0, "\(again.stdout) \(again.stderr)")
            #expect(try d.docker("run", "--rm", "after", "cat", "/a", "/one").stdout == "aone\n")
            // The RUN container of the dead build is removed at start.
            var gone = false
            for _ in 0..<100 where !gone {
                gone = try d.docker("ps", "-aq").stdout.isEmpty
                if !gone { usleep(50_000) }
            }
            #expect(gone, "the dead build's container is still there")
        }
    }

    @Test func independentStagesRunTogetherAndNetworkMode() throws {
        try withImage { d in
            // Two stages that do not depend on each other: their RUN containers run at once.
            let ctx = try context(d, "ctx", ["Dockerfile": """
            FROM busybox:test AS a
            RUN sleep 2; echo a > /a
            FROM busybox:test AS b
            RUN sleep 2; echo b > /b
            FROM busybox:test
            COPY --from=a /a /a
            COPY --from=b /b /b
            RUN ls /sys/class/net > /ifaces
            """])
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            let log = d.dir + "/par.log"
            p.arguments = ["-c", "DOCKER_BUILDKIT=0 DOCKER_HOST=\(d.host) docker build --network none -t par \(ctx) > \(log) 2>&1"]
            try p.run()
            var most = 0
            while p.isRunning {
                let running = try d.docker("ps", "-q").stdout.split(separator: "\n").count
                most = max(most, running)
                usleep(100_000)
            }
            let out = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            #expect(p.terminationStatus == 0, "\(out)")
            #expect(most == 2, "at most \(most) step containers ran at once")
            // Output stays in stage order: stage a's steps, then b's, then the last stage's.
            let a = out.range(of: "RUN sleep 2; echo a")?.lowerBound, b = out.range(of: "RUN sleep 2; echo b")?.lowerBound
            #expect(a != nil && b != nil && a! < b!, "\(out)")
            #expect(try d.docker("run", "--rm", "par", "cat", "/a", "/b", "/ifaces").stdout == "a\nb\nlo\n")
            // The default network: RUN has eth0.
            let net = try context(d, "net", ["Dockerfile": "FROM busybox:test\nRUN ls /sys/class/net > /ifaces\n"])
            #expect(try build(d, "-t", "net", net).status == 0)
            #expect(try d.docker("run", "--rm", "net", "cat", "/ifaces").stdout == "eth0\nlo\n")
        }
    }

    @Test func hostileContextsAndRemoteSources() throws {
        try withImage { d in
            // A context tar with an entry climbing out, sent raw (docker-py, custom context).
            let py = try d.python("""
            import docker, io, tarfile
            c = docker.from_env()
            def ctx(entries):
                buf = io.BytesIO()
                with tarfile.open(fileobj=buf, mode="w") as t:
                    for name, data in entries:
                        info = tarfile.TarInfo(name); info.size = len(data)
                        t.addfile(info, io.BytesIO(data))
                buf.seek(0)
                return buf
            for entries in ([("Dockerfile", b"FROM busybox:test\\n"), ("../../escape", b"x")],
                            [("Dockerfile", b"FROM busybox:test\\nADD https://example.com/f /f\\n")]):
                try:
                    for line in c.api.build(fileobj=ctx(entries), custom_context=True, decode=True):
                        if "error" in line: print("error:", line["error"])
                except docker.errors.APIError as e:
                    print("api error:", e.explanation)
            """)
            #expect(py.status == 0, "\(py.stderr)")
            #expect(py.stdout.contains("escape"), "\(py.stdout)")
            #expect(py.stdout.contains("ADD failed") && py.stdout.contains("network"), "\(py.stdout)")
            #expect(!FileManager.default.fileExists(atPath: d.root + "/image/escape"))
            #expect(!FileManager.default.fileExists(atPath: d.root + "/escape"))
            try verifyStore(d.root)
        }
    }
}
