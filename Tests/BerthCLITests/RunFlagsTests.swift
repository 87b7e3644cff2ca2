import ArgumentParser
import BerthAPI
@testable import BerthCLI
import BerthCore
import BerthOCI
import Testing

/// `run`/`create` flags → the `POST /containers/create` body, checked against what the docker
/// CLI sends for the same flags.
struct RunFlagsTests {
    /// A context with fixed files and environment.
    static func context(files: [String: String] = [:], env: [String: String] = [:], cwd: String = "/home/u") -> RunContext {
        RunContext(
            lookupEnv: { env[$0] },
            readFile: { path in
                guard let text = files[path] else { throw Units.ParseError("open \(path): no such file or directory") }
                return text
            },
            cwd: cwd)
    }

    static func request(
        _ args: [String], image: String = "busybox", command: [String] = [], context: RunContext = context()
    ) throws -> ContainerCreateRequest {
        try Harness.parse(args).flags.request(image: image, command: command, context: context)
    }

    /// `run`'s flags in a command with `--help` only, as `run` declares them (`-h` is the
    /// hostname).
    struct Harness: ParsableCommand {
        static let configuration = CommandConfiguration(helpNames: [.long])
        @OptionGroup var flags: RunFlags
    }

    static func error(_ args: [String], context: RunContext = context()) -> String? {
        do {
            _ = try request(args, context: context)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func defaults() throws {
        let r = try Self.request([], command: ["echo", "hi"])
        #expect(r.config.Image == "busybox")
        #expect(r.config.Cmd == ["echo", "hi"])
        #expect(r.config.Entrypoint == nil)
        #expect(r.config.AttachStdin == false && r.config.AttachStdout == true && r.config.AttachStderr == true)
        #expect(r.config.OpenStdin == false && r.config.StdinOnce == false && r.config.Tty == false)
        #expect(r.hostConfig?.RestartPolicy == HostConfig.RestartPolicy(name: "no"))
        #expect(r.hostConfig?.Memory == nil && r.hostConfig?.Binds == nil && r.config.Env == nil)
    }

    @Test(arguments: [
        (["-i"], true, true, true, true),
        (["-a", "stdin"], true, false, false, false),
        (["-i", "-a", "stdout"], true, true, false, true),
        (["-a", "STDOUT", "-a", "stderr"], false, true, true, false),
    ])
    func attachStreams(args: [String], stdin: Bool, stdout: Bool, stderr: Bool, once: Bool) throws {
        let r = try Self.request(args)
        #expect(r.config.AttachStdin == stdin)
        #expect(r.config.AttachStdout == stdout)
        #expect(r.config.AttachStderr == stderr)
        #expect(r.config.StdinOnce == once)
    }

    @Test(arguments: [
        (["-m", "32m"], Int64(32 << 20)), (["--memory", "1g"], 1 << 30), (["-m", "512k"], 512 << 10), (["-m", "1048576"], 1 << 20),
    ])
    func memory(args: [String], bytes: Int64) throws {
        #expect(try Self.request(args).hostConfig?.Memory == bytes)
    }

    @Test func resources() throws {
        let h = try #require(try Self.request([
            "--memory-swap", "-1", "--memory-reservation", "16m", "--shm-size", "64m", "--cpus", "1.5", "-c", "512",
            "--cpu-quota", "50000", "--cpu-period", "100000", "--cpuset-cpus", "0-1", "--pids-limit", "-1",
            "--oom-kill-disable", "--oom-score-adj", "-500", "--memory-swappiness", "10",
        ]).hostConfig)
        #expect(h.MemorySwap == -1)
        #expect(h.MemoryReservation == 16 << 20)
        #expect(h.ShmSize == 64 << 20)
        #expect(h.NanoCpus == 1_500_000_000)
        #expect(h.CpuShares == 512 && h.CpuQuota == 50000 && h.CpuPeriod == 100000)
        #expect(h.CpusetCpus == "0-1")
        #expect(h.PidsLimit == -1)
        #expect(h.OomKillDisable == true && h.OomScoreAdj == -500 && h.MemorySwappiness == 10)
    }

    @Test func ulimitsAndSysctls() throws {
        let h = try #require(try Self.request(["--ulimit", "nofile=1024:2048", "--ulimit", "nproc=512", "--sysctl", "net.core.somaxconn=1024"]).hostConfig)
        #expect(h.Ulimits == [HostConfig.Ulimit(name: "nofile", soft: 1024, hard: 2048), HostConfig.Ulimit(name: "nproc", soft: 512, hard: 512)])
        #expect(h.Sysctls == ["net.core.somaxconn": "1024"])
    }

    @Test func volumes() throws {
        let r = try Self.request(["-v", "/data", "-v", "/src:/dst:ro", "-v", "./rel:/x:Z", "-v", "named:/v", "-v", "/a:/b:rw,z"])
        #expect(r.config.Volumes == ["/data": .object([:])])
        #expect(r.hostConfig?.Binds == ["/src:/dst:ro", "/home/u/rel:/x:Z", "named:/v", "/a:/b:rw,z"])
    }

    @Test(arguments: [
        ("a::b", "invalid spec: a::b: empty section between colons"),
        ("/a:/b:ro:x", "invalid spec: /a:/b:ro:x: too many colons"),
    ])
    func volumeErrors(spec: String, message: String) {
        #expect(Self.error(["-v", spec]) == "invalid argument \"\(spec)\" for \"-v, --volume\" flag: \(message)")
    }

    @Test func mounts() throws {
        let r = try Self.request([
            "--mount", "type=bind,source=/h,target=/c,readonly",
            "--mount", "type=bind,src=./d,dst=/d,bind-propagation=rshared",
            "--mount", "source=vol,target=/v,volume-nocopy,volume-label=a=b",
            "--mount", "type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770",
            "--mount", "type=bind,\"source=/with,comma\",target=/q",
        ], context: Self.context(cwd: "/w"))
        let m = try #require(r.hostConfig?.Mounts)
        #expect(m.count == 5)
        #expect(m[0] == Mount(type: "bind", source: "/h", target: "/c", readOnly: true))
        #expect(m[1].Source == "/w/d" && m[1].BindOptions?.Propagation == "rshared" && m[1].ReadOnly == nil)
        #expect(m[2].Type == "volume" && m[2].Source == "vol" && m[2].VolumeOptions?.NoCopy == true)
        #expect(m[2].VolumeOptions?.Labels == ["a": "b"])
        #expect(m[3].Type == "tmpfs" && m[3].Source == nil && m[3].TmpfsOptions?.SizeBytes == 64 << 20 && m[3].TmpfsOptions?.Mode == 0o1770)
        #expect(m[4].Source == "/with,comma" && m[4].Target == "/q")
    }

    @Test(arguments: [
        ("type=bind,source=/a", "target is required"),
        ("type=bind,target=/a,foo", "invalid field 'foo' must be a key=value pair"),
        ("type=bind,target=/a,bogus=1", "unexpected key 'bogus' in 'bogus=1'"),
        ("type=volume,target=/a,bind-propagation=shared", "cannot mix 'bind-*' options with mount type 'volume'"),
        ("type=bind,target=/a,tmpfs-size=1m", "cannot mix 'tmpfs-*' options with mount type 'bind'"),
        ("type=tmpfs,target=/a,tmpfs-size=x", "invalid value for tmpfs-size: x"),
        ("type=bind,target=/a,readonly=maybe", "invalid value for readonly: maybe"),
        ("type=bind,target=/a,bind-recursive=readonly", "option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction"),
    ])
    func mountErrors(spec: String, message: String) {
        #expect(Self.error(["--mount", spec]) == "invalid argument \"\(spec)\" for \"--mount\" flag: \(message)")
    }

    @Test func tmpfs() throws {
        let r = try Self.request(["--tmpfs", "/run:size=64m,mode=1777", "--tmpfs", "/tmp"])
        #expect(r.hostConfig?.Tmpfs == ["/run": "size=64m,mode=1777", "/tmp": ""])
        #expect(Self.error(["--tmpfs", "run"]) == "invalid argument \"run\" for \"--tmpfs\" flag: invalid mount path: run: mount path must be absolute")
    }

    @Test func envFileThenFlags() throws {
        let file = "\u{FEFF}# comment\n\nA=1\n  B=two words \nPASS\nMISSING\nEMPTY=\nQ=\"quoted\"\r\n"
        let r = try Self.request(
            ["--env-file", "/e", "-e", "C=3", "-e", "PASS", "-e", "NOPE"],
            context: Self.context(files: ["/e": file], env: ["PASS": "from-env"]))
        #expect(r.config.Env == ["A=1", "B=two words ", "PASS=from-env", "EMPTY=", "Q=\"quoted\"", "C=3", "PASS=from-env", "NOPE"])
    }

    @Test(arguments: [
        ("BAD NAME=1", "variable 'BAD NAME' contains whitespaces"),
        ("=x", "no variable name on line '=x'"),
    ])
    func envFileErrors(line: String, message: String) {
        let error = Self.error(["--env-file", "/e"], context: Self.context(files: ["/e": line]))
        #expect(error == "invalid argument \"/e\" for \"--env-file\" flag: \(message)")
    }

    @Test func missingEnvFile() {
        #expect(Self.error(["--env-file", "/nope"]) == "invalid argument \"/nope\" for \"--env-file\" flag: open /nope: no such file or directory")
    }

    @Test func labels() throws {
        let r = try Self.request(["--label-file", "/l", "-l", "a=b", "--label", "flag"], context: Self.context(files: ["/l": "x=1\na=old\nbare\n"]))
        #expect(r.config.Labels == ["x": "1", "a": "b", "flag": ""])
    }

    @Test func processAndIdentity() throws {
        let r = try Self.request([
            "--name", "web", "-h", "host", "--domainname", "example.com", "-u", "1000:1000", "-w", "/srv",
            "--entrypoint", "/bin/sh", "--stop-signal", "SIGINT", "--stop-timeout", "5", "--init", "--rm", "-t",
        ])
        #expect(r.config.Hostname == "host" && r.config.Domainname == "example.com")
        #expect(r.config.User == "1000:1000" && r.config.WorkingDir == "/srv")
        #expect(r.config.Entrypoint == ["/bin/sh"])
        #expect(r.config.StopSignal == "SIGINT" && r.config.StopTimeout == 5)
        #expect(r.config.Tty == true)
        #expect(r.hostConfig?.Init == true && r.hostConfig?.AutoRemove == true)
        #expect(try Self.request(["--entrypoint", ""]).config.Entrypoint == [""])
    }

    @Test(arguments: [
        ("always", "always", Int?.none), ("on-failure:3", "on-failure", 3), ("unless-stopped", "unless-stopped", nil), ("no", "no", nil),
    ])
    func restart(policy: String, name: String, count: Int?) throws {
        let p = try #require(try Self.request(["--restart", policy]).hostConfig?.RestartPolicy)
        #expect(p.Name == name && p.MaximumRetryCount == count)
    }

    @Test func restartErrors() {
        #expect(Self.error(["--restart", "always", "--rm"]) == "conflicting options: cannot specify both --restart and --rm")
        #expect(Self.error(["--restart", "on-failure:x"]) == "invalid restart policy format: maximum retry count must be an integer")
        #expect(Self.error(["--restart", ":3"]) == "invalid restart policy format: no policy provided before colon")
    }

    @Test func securityAndNamespaces() throws {
        let h = try #require(try Self.request([
            "--privileged", "--read-only", "--cap-add", "net_admin", "--cap-add", "CAP_SYS_TIME", "--cap-drop", "mknod",
            "--cap-drop", "NET_ADMIN", "--security-opt", "no-new-privileges", "--security-opt", "seccomp=/p.json",
            "--security-opt", "apparmor:unconfined", "--group-add", "audio", "--device", "/dev/fuse", "--device", "/dev/a:/dev/b:r",
            "--pid", "host", "--ipc", "shareable", "--uts", "host", "--userns", "host", "--cgroupns", "private",
            "--runtime", "runc", "--isolation", "default",
        ], context: Self.context(files: ["/p.json": "{ \"defaultAction\": \"SCMP_ACT_ALLOW\" }\n"])).hostConfig)
        #expect(h.Privileged == true && h.ReadonlyRootfs == true)
        #expect(h.CapAdd == ["CAP_NET_ADMIN", "CAP_SYS_TIME"])
        #expect(h.CapDrop == ["CAP_MKNOD"])
        #expect(h.SecurityOpt == ["no-new-privileges", "seccomp={\"defaultAction\":\"SCMP_ACT_ALLOW\"}", "apparmor:unconfined"])
        #expect(h.GroupAdd == ["audio"])
        #expect(h.Devices?.map(\.PathOnHost) == ["/dev/fuse", "/dev/a"])
        #expect(h.Devices?.map(\.PathInContainer) == ["/dev/fuse", "/dev/b"])
        #expect(h.Devices?.map(\.CgroupPermissions) == ["rwm", "r"])
        #expect(h.PidMode == "host" && h.IpcMode == "shareable" && h.UTSMode == "host" && h.UsernsMode == "host")
        #expect(h.CgroupnsMode == "private" && h.Runtime == "runc" && h.Isolation == "default")
        #expect(Self.error(["--security-opt", "label"]) == "Invalid --security-opt: \"label\"")
    }

    @Test func systemPathsUnconfined() throws {
        let h = try #require(try Self.request(["--security-opt", "systempaths=unconfined"]).hostConfig)
        #expect(h.SecurityOpt == nil && h.MaskedPaths == [] && h.ReadonlyPaths == [])
    }

    @Test func network() throws {
        let r = try Self.request([
            "--network", "none", "--add-host", "db:10.0.0.2", "--add-host", "v6=[::1]", "--add-host", "gw:host-gateway",
            "--dns", "1.1.1.1", "--dns-search", "example.com", "--dns-option", "ndots:2",
            "-p", "8080:80", "-p", "127.0.0.1:9000-9001:9000-9001/udp", "-p", "53", "--expose", "7000-7001", "-P",
        ])
        let h = try #require(r.hostConfig)
        #expect(h.NetworkMode == "none")
        #expect(h.ExtraHosts == ["db:10.0.0.2", "v6:::1", "gw:host-gateway"])
        #expect(h.Dns == ["1.1.1.1"] && h.DnsSearch == ["example.com"] && h.DnsOptions == ["ndots:2"])
        #expect(h.PublishAllPorts == true)
        #expect(Set(r.config.ExposedPorts?.keys.map { $0 } ?? []) == ["80/tcp", "9000/udp", "9001/udp", "53/tcp", "7000/tcp", "7001/tcp"])
        #expect(h.PortBindings?["80/tcp"] == [PortBinding(HostIp: "", HostPort: "8080")])
        #expect(h.PortBindings?["9001/udp"] == [PortBinding(HostIp: "127.0.0.1", HostPort: "9001")])
        #expect(h.PortBindings?["53/tcp"] == [PortBinding(HostIp: "", HostPort: "")])
        #expect(Self.error(["--add-host", "nohost"]) == "invalid argument \"nohost\" for \"--add-host\" flag: bad format for add-host: \"nohost\"")
    }

    @Test func healthcheck() throws {
        let h = try #require(try Self.request([
            "--health-cmd", "curl -f localhost", "--health-interval", "10s", "--health-timeout", "1m30s",
            "--health-retries", "3", "--health-start-period", "500ms", "--health-start-interval", "1s",
        ]).config.Healthcheck)
        #expect(h.Test == ["CMD-SHELL", "curl -f localhost"])
        #expect(h.Interval == 10_000_000_000 && h.Timeout == 90_000_000_000 && h.Retries == 3)
        #expect(h.StartPeriod == 500_000_000 && h.StartInterval == 1_000_000_000)
        #expect(try Self.request(["--no-healthcheck"]).config.Healthcheck?.Test == ["NONE"])
        #expect(try Self.request([]).config.Healthcheck == nil)
        #expect(Self.error(["--no-healthcheck", "--health-cmd", "x"]) == "--no-healthcheck conflicts with --health-* options")
        #expect(Self.error(["--health-interval", "-1s"]) == "--health-interval cannot be negative")
    }

    @Test func logging() throws {
        let h = try #require(try Self.request(["--log-driver", "json-file", "--log-opt", "max-size=10m"]).hostConfig)
        #expect(h.LogConfig == HostConfig.LogConfig(type: "json-file", config: ["max-size": "10m"]))
        #expect(Self.error(["--log-driver", "none", "--log-opt", "a=b"]) == "invalid logging opts for driver none")
    }

    @Test(arguments: [
        (["-m", "12x"], "invalid argument \"12x\" for \"-m, --memory\" flag: invalid suffix: 'x'"),
        (["--cpus", "abc"], "invalid argument \"abc\" for \"--cpus\" flag: failed to parse abc as a rational number"),
        (["--ulimit", "foo=1"], "invalid argument \"foo=1\" for \"--ulimit\" flag: invalid ulimit type: foo"),
        (["-a", "foo"], "invalid argument \"foo\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR"),
        (["--oom-score-adj", "2000"], "invalid value 2000, range for oom score adj is [-1000, 1000]"),
        (["-p", "1:2:3:x"], "invalid argument \"1:2:3:x\" for \"-p, --publish\" flag: invalid IP address: 1:2"),
        (["-e", "=x"], "invalid argument \"=x\" for \"-e, --env\" flag: invalid environment variable: =x"),
    ])
    func flagErrors(args: [String], message: String) {
        #expect(Self.error(args) == message)
    }

    /// The body is the create JSON docker sends: Config fields at the top level.
    @Test func encodesConfigAtTopLevel() throws {
        let r = try Self.request(["-m", "1m", "--name", "x"], command: ["true"])
        let json = try JSON.parse(BerthJSONEncoder().encode(r))
        #expect(json["Image"] == .string("busybox"))
        #expect(json["Cmd"] == .array(["true"]))
        #expect(json["HostConfig"]?["Memory"] == .number("1048576"))
    }
}
