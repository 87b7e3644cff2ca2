import BerthAPI
import BerthCore
import BerthEngine
import BerthHTTP
import BerthOCI
import BerthSystem

extension APIServer {
    /// `/containers/…` routes.
    func containers(_ ctx: RequestContext, segments: [String]) async throws -> HTTPResponse? {
        let m = ctx.request.method
        guard let first = segments.first else { return nil }
        if segments.count == 1 {
            switch (m, first) {
            case ("GET", "json"): return try listContainers(ctx)
            case ("POST", "create"): return try await createContainer(ctx)
            case ("POST", "prune"): return try await pruneContainers(ctx)
            case ("DELETE", _):
                try await engine.containers.remove(first, force: ctx.bool("force"), volumes: ctx.bool("v"))
                return .bytes(status: 204, headers: [], body: [])
            default: return nil
            }
        }
        guard segments.count == 2 else { return nil }
        let ref = first
        switch (m, segments[1]) {
        case ("GET", "json"): return try inspectContainer(ctx, ref)
        case ("POST", "start"):
            let outcome = try await engine.containers.start(ref)
            return .bytes(status: outcome == .started ? 204 : 304, headers: [], body: [])
        case ("POST", "stop"), ("POST", "restart"):
            let t = try ctx.query("t").map { v -> Int in
                guard let n = Int(v) else { throw BerthError.invalid("invalid value for t: \(v)") }
                return n
            }
            let stopped = try await engine.containers.stop(ref, timeout: t, signal: ctx.query("signal"))
            if segments[1] == "restart" {
                _ = try await engine.containers.start(ref)
                return .bytes(status: 204, headers: [], body: [])
            }
            return .bytes(status: stopped ? 204 : 304, headers: [], body: [])
        case ("POST", "kill"):
            try engine.containers.kill(ref, signal: ctx.query("signal"))
            return .bytes(status: 204, headers: [], body: [])
        case ("POST", "wait"): return try waitContainer(ctx, ref)
        case ("POST", "attach"): return try attachContainer(ctx, ref)
        case ("POST", "resize"):
            let (h, w) = try terminalSize(ctx)
            try await engine.containers.resize(ref, height: h, width: w)
            return .bytes(status: 200, headers: [], body: [])
        case ("GET", "logs"): return try logsContainer(ctx, ref)
        case ("POST", "exec"): return try await createExec(ctx, ref)
        case ("POST", "pause"):
            try await engine.containers.pause(ref)
            return .bytes(status: 204, headers: [], body: [])
        case ("POST", "unpause"):
            try await engine.containers.unpause(ref)
            return .bytes(status: 204, headers: [], body: [])
        case ("POST", "rename"):
            guard let name = ctx.query("name") else { throw BerthError.invalid("missing query parameter: name") }
            try engine.containers.rename(ref, to: name)
            return .bytes(status: 204, headers: [], body: [])
        case ("POST", "update"):
            let u: HostConfig = try await decodeBody(ctx)
            let warnings = try await engine.containers.updateResources(ref, u)
            return APIServer.json(["Warnings": warnings])
        case ("GET", "stats"): return try statsContainer(ctx, ref)
        case ("HEAD", "archive"), ("GET", "archive"), ("PUT", "archive"): return try await archive(ctx, ref)
        case ("GET", "changes"):
            let changes = try engine.containers.changes(ref)
            return APIServer.json(changes.map { ["Path": JSONValue.string($0.path), "Kind": .number(String($0.kind.rawValue))] })
        case ("GET", "export"):
            _ = try engine.containers.get(ref)
            let queue = ByteQueue()
            let containers = engine.containers
            let work = Task { do { try await containers.export(ref, into: queue) } catch { queue.close(error: error) } }
            return .stream(headers: [("Content-Type", "application/x-tar")]) { writer in
                defer { queue.abandon(); work.cancel() }
                while let chunk = try await queue.take() { try await writer.write(chunk) }
            }
        case ("GET", "top"):
            let (titles, rows) = try await engine.containers.top(ref, psArgs: ctx.query("ps_args"))
            return APIServer.json(ContainerTopResponse(Titles: titles, Processes: rows))
        default: return nil
        }
    }

    func terminalSize(_ ctx: RequestContext) throws -> (Int, Int) {
        guard let h = Int(ctx.query("h") ?? ""), let w = Int(ctx.query("w") ?? "") else {
            throw BerthError.invalid("invalid terminal size: h and w must be integers")
        }
        return (h, w)
    }

    // MARK: create

    func createContainer(_ ctx: RequestContext) async throws -> HTTPResponse {
        let body = try await ctx.request.body.collect(upTo: 16 << 20)
        guard !body.isEmpty else { throw BerthError.invalid("invalid JSON: request body is empty") }
        let req: ContainerCreateRequest
        do { req = try BerthJSONDecoder().decode(ContainerCreateRequest.self, from: body) } catch let e as BerthError {
            throw BerthError.invalid("invalid JSON: \(e.message)")
        } catch {
            throw BerthError.invalid("invalid JSON: \(error)")
        }
        if let p = ctx.query("platform"), !p.isEmpty, !p.hasPrefix("linux") {
            throw BerthError.invalid("image platform \(p) is not supported: this host runs linux/amd64")
        }
        let (id, warnings) = try engine.containers.create(name: ctx.query("name"), config: req.config,
                                                          hostConfig: req.hostConfig ?? HostConfig(),
                                                          networking: req.networkingConfig)
        return APIServer.json(ContainerCreateResponse(Id: id, Warnings: warnings), status: 201)
    }

    // MARK: inspect and list

    func inspectContainer(_ ctx: RequestContext, _ ref: String) throws -> HTTPResponse {
        let c = try engine.containers.get(ref)
        let execIDs = engine.containers.list().first { $0.container.id == c.id }?.execIDs ?? []
        var out = inspect(c, execIDs: execIDs)
        if ctx.bool("size") { (out.SizeRw, out.SizeRootFs) = engine.containers.sizes(c) }
        return APIServer.json(out)
    }

    func inspect(_ c: Container, execIDs: [String]) -> ContainerInspect {
        let s = c.state
        var state = ContainerState(
            Status: s.status.rawValue, Running: s.isRunning, Paused: s.status == .paused, Restarting: s.status == .restarting,
            OOMKilled: s.oomKilled, Dead: s.status == .dead, Pid: Int(s.pid), ExitCode: s.exitCode, Error: s.error,
            StartedAt: s.startedAt, FinishedAt: s.finishedAt)
        if let h = s.health {
            state.Health = ContainerHealth(Status: h.status, FailingStreak: h.failingStreak, Log: h.log.map {
                ContainerHealth.Log(Start: $0.start, End: $0.end, ExitCode: $0.exitCode, Output: $0.output)
            })
        }
        let dir = engine.containers.root + "/" + c.id
        var lower = ""
        if let top = engine.images.store.record(c.image)?.layers.last?.chainID,
           let dirs = try? engine.images.store.snapshots.lowerDirs(top) { lower = dirs.joined(separator: ":") }
        var config = c.config
        config.Image = c.imageName
        return ContainerInspect(
            Id: c.id, Created: c.created, Path: c.path, Args: c.args, State: state, Image: c.image.description,
            ResolvConfPath: dir + "/resolv.conf", HostnamePath: dir + "/hostname", HostsPath: dir + "/hosts",
            LogPath: engine.containers.logPath(c.id), Name: "/" + c.name, RestartCount: c.restartCount,
            ExecIDs: execIDs.isEmpty ? nil : execIDs, HostConfig: c.hostConfig,
            GraphDriver: .init(Name: "overlay2", Data: ["LowerDir": lower, "UpperDir": dir + "/diff", "WorkDir": dir + "/work",
                                                         "MergedDir": dir + "/rootfs"]),
            Mounts: mountPoints(c), Config: config, NetworkSettings: networkSettings(c))
    }

    func mountPoints(_ c: Container) -> [MountPoint] {
        c.mounts.map { m in
            MountPoint(Type: m.type, Name: m.name, Source: m.source, Destination: m.destination,
                       Driver: m.type == "volume" ? "local" : nil, Mode: m.mode, RW: !m.readOnly, Propagation: m.propagation)
        }
    }

    func networkSettings(_ c: Container) -> JSONValue {
        func str(_ v: String) -> JSONValue { .string(v) }
        func num(_ v: Int) -> JSONValue { .number(String(v)) }
        let running = c.state.isRunning
        var networks = JSONObject()
        var primary: ContainerEndpoint?
        for (name, e) in engine.containers.orderedEndpoints(c) {
            if primary == nil { primary = e }
            var ipam: JSONValue = .null
            if e.requestedIPv4 != nil || e.requestedIPv6 != nil {
                var o = JSONObject()
                if let v = e.requestedIPv4 { o["IPv4Address"] = str(v) }
                if let v = e.requestedIPv6 { o["IPv6Address"] = str(v) }
                ipam = .object(o)
            }
            let builtin = (try? engine.networks.get(e.networkID))?.builtin ?? true
            let dnsNames: JSONValue = builtin || !running ? .null : .array(([c.name, c.shortID] + e.aliases).map(str))
            networks[name] = .object([
                "IPAMConfig": ipam,
                "Links": e.links.isEmpty ? .null : .array(e.links.map(str)),
                "Aliases": e.aliases.isEmpty ? .null : .array(e.aliases.map(str)),
                "MacAddress": str(e.mac), "DriverOpts": .null, "NetworkID": str(e.networkID), "EndpointID": str(e.endpointID),
                "Gateway": str(e.gateway), "IPAddress": str(e.ipv4), "IPPrefixLen": num(e.prefixLength),
                "IPv6Gateway": str(e.gateway6 ?? ""), "GlobalIPv6Address": str(e.ipv6 ?? ""),
                "GlobalIPv6PrefixLen": num(e.prefixLength6 ?? 0), "DNSNames": dnsNames,
            ])
        }
        if networks.isEmpty {
            let mode = c.networkMode
            networks[mode.hasPrefix("container:") ? "" : mode] = .object([
                "IPAMConfig": .null, "Links": .null, "Aliases": .null, "MacAddress": str(""), "NetworkID": str(""),
                "EndpointID": str(""), "Gateway": str(""), "IPAddress": str(""), "IPPrefixLen": num(0),
                "IPv6Gateway": str(""), "GlobalIPv6Address": str(""), "GlobalIPv6PrefixLen": num(0),
                "DriverOpts": .null, "DNSNames": .null,
            ])
            if mode.hasPrefix("container:") { networks = JSONObject() }
        }
        var ports = JSONObject()
        if running && !(c.endpoints ?? [:]).isEmpty {
            for key in (c.config.ExposedPorts ?? [:]).keys { ports[key.contains("/") ? key : key + "/tcp"] = .null }
            for p in c.ports ?? [] {
                var list: [JSONValue] = []
                if case .array(let have)? = ports[p.containerPort] { list = have }
                list.append(.object(["HostIp": str(p.hostIP), "HostPort": str(String(p.hostPort))]))
                ports[p.containerPort] = .array(list)
            }
        }
        let onDefault = primary.flatMap { (try? engine.networks.get($0.networkID))?.builtin } == true
        let p = onDefault ? primary : nil
        return .object([
            "Bridge": str(""), "SandboxID": str(running && primary != nil ? String(c.id.reversed().prefix(64)) : ""),
            "SandboxKey": str(running && c.state.pid > 0 ? "/proc/\(c.state.pid)/ns/net" : ""),
            "HairpinMode": .bool(false), "LinkLocalIPv6Address": str(""), "LinkLocalIPv6PrefixLen": num(0),
            "Ports": .object(ports), "SecondaryIPAddresses": .null, "SecondaryIPv6Addresses": .null,
            "EndpointID": str(p?.endpointID ?? ""), "Gateway": str(p?.gateway ?? ""), "GlobalIPv6Address": str(p?.ipv6 ?? ""),
            "GlobalIPv6PrefixLen": num(p?.prefixLength6 ?? 0), "IPAddress": str(p?.ipv4 ?? ""), "IPPrefixLen": num(p?.prefixLength ?? 0),
            "IPv6Gateway": str(p?.gateway6 ?? ""), "MacAddress": str(p?.mac ?? ""),
            "Networks": .object(networks),
        ])
    }

    /// `docker ps`'s Ports: published ports with their host side, exposed ones without.
    static func summaryPorts(_ c: Container) -> [ContainerSummary.Port] {
        guard c.state.isRunning else { return [] }
        var out: [ContainerSummary.Port] = []
        var published = Set<String>()
        for p in c.ports ?? [] {
            let parts = p.containerPort.split(separator: "/")
            guard let port = Int(parts[0]) else { continue }
            published.insert(p.containerPort)
            out.append(ContainerSummary.Port(IP: p.hostIP, PrivatePort: port, PublicPort: p.hostPort, Type: parts.count > 1 ? String(parts[1]) : "tcp"))
        }
        for key in (c.config.ExposedPorts ?? [:]).keys.sorted() {
            let k = key.contains("/") ? key : key + "/tcp"
            let parts = k.split(separator: "/")
            guard !published.contains(k), let port = Int(parts[0]) else { continue }
            out.append(ContainerSummary.Port(IP: nil, PrivatePort: port, PublicPort: nil, Type: String(parts[1])))
        }
        return out
    }

    static let containerListFilters: Set<String> = [
        "status", "name", "label", "label!", "id", "ancestor", "exited", "before", "since", "volume", "network",
        "health", "publish", "expose", "is-task",
    ]

    func listContainers(_ ctx: RequestContext) throws -> HTTPResponse {
        let f = try ctx.filters()
        try f.validate(APIServer.containerListFilters)
        let statuses = f.values["status"] ?? []
        let valid: Set<String> = ["created", "restarting", "running", "removing", "paused", "exited", "dead"]
        for s in statuses where !valid.contains(s) {
            throw BerthError.invalid("invalid filter 'status=\(s)'")
        }
        var exited: [Int] = []
        for e in f.values["exited"] ?? [] {
            guard let n = Int(e) else { throw BerthError.invalid("invalid filter 'exited=\(e)'") }
            exited.append(n)
        }
        let all = ctx.bool("all") || !statuses.isEmpty || !exited.isEmpty
        var list = engine.containers.list().map(\.container)
        // before/since are relative to a container's creation.
        if let b = f.values["before"]?.first {
            let ref = try engine.containers.get(b)
            list = list.filter { $0.created < ref.created }
        }
        if let s = f.values["since"]?.first {
            let ref = try engine.containers.get(s)
            list = list.filter { $0.created > ref.created }
        }
        var ancestors: Set<String> = []
        for a in f.values["ancestor"] ?? [] {
            if let img = try? engine.images.get(a) { ancestors.insert(img.record.id.description) } else { ancestors.insert("-") }
        }
        list = list.filter { c in
            if !all && !c.state.isRunning { return false }
            if !statuses.isEmpty && !statuses.contains(c.state.status.rawValue) { return false }
            if !exited.isEmpty && !(c.state.status == .exited && exited.contains(c.state.exitCode)) { return false }
            if let names = f.values["name"], !names.contains(where: { c.name.contains($0.hasPrefix("/") ? String($0.dropFirst()) : $0) }) { return false }
            if let ids = f.values["id"], !ids.contains(where: { c.id.hasPrefix($0) }) { return false }
            if !f.matchLabels(c.config.Labels) { return false }
            if let ex = f.values["label!"], !ex.isEmpty, f.matchLabels(c.config.Labels, key: "label!") { return false }
            if !ancestors.isEmpty && !ancestors.contains(c.image.description) { return false }
            if let nets = f.values["network"], !nets.contains(c.networkMode) { return false }
            if let v = f.values["volume"], !v.isEmpty,
               !c.mounts.contains(where: { v.contains($0.source) || v.contains($0.destination) || v.contains($0.name ?? "") }) { return false }
            if let h = f.values["health"], !h.isEmpty, !h.contains(c.state.health?.status ?? "none") { return false }
            if let t = f.values["is-task"], t.contains("true") { return false }
            return true
        }
        if let limit = ctx.query("limit").flatMap({ Int($0) }), limit > 0 { list = Array(list.prefix(limit)) }
        let now = WallClock.now()
        let summaries = list.map { c -> ContainerSummary in
            var summary = ContainerSummary(Id: c.id, Names: ["/" + c.name], Image: c.imageName, ImageID: c.image.description,
                             Command: APIServer.command(c),
                             Created: WallClock(rfc3339: c.created)?.seconds ?? 0, Labels: c.config.Labels ?? [:],
                             State: c.state.status.rawValue, Status: APIServer.statusText(c.state, now: now),
                             NetworkMode: c.hostConfig.NetworkMode ?? "default", Mounts: mountPoints(c))
            if case .object(let settings) = networkSettings(c), let networks = settings["Networks"] {
                summary.NetworkSettings = .object(["Networks": networks])
            }
            summary.Ports = APIServer.summaryPorts(c)
            if ctx.bool("size") { (summary.SizeRw, summary.SizeRootFs) = engine.containers.sizes(c) }
            return summary
        }
        return APIServer.json(summaries)
    }

    /// Docker's `Command`: the path and the arguments, those with spaces in single quotes.
    static func command(_ c: Container) -> String {
        guard !c.args.isEmpty else { return c.path }
        return c.path + " " + c.args.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
    }

    /// Docker's `Status` column: "Up 3 seconds", "Exited (0) 2 minutes ago", "Created".
    static func statusText(_ s: ContainerRunState, now: WallClock) -> String {
        func since(_ t: String) -> Double {
            guard let w = WallClock(rfc3339: t) else { return 0 }
            return Double(now.seconds - w.seconds) + Double(Int(now.nanoseconds) - Int(w.nanoseconds)) / 1e9
        }
        switch s.status {
        case .running:
            let health = s.health.map { $0.status == "starting" ? " (health: starting)" : " (\($0.status))" } ?? ""
            return "Up " + HumanDuration.describe(seconds: since(s.startedAt)) + health
        case .paused: return "Up " + HumanDuration.describe(seconds: since(s.startedAt)) + " (Paused)"
        case .restarting: return "Restarting (\(s.exitCode)) " + HumanDuration.describe(seconds: since(s.finishedAt)) + " ago"
        case .removing: return "Removal In Progress"
        case .dead: return "Dead"
        case .created: return "Created"
        case .exited:
            if s.finishedAt == ContainerRunState.zeroTime { return "Exited (\(s.exitCode))" }
            return "Exited (\(s.exitCode)) " + HumanDuration.describe(seconds: since(s.finishedAt)) + " ago"
        }
    }

    // MARK: wait

    func waitContainer(_ ctx: RequestContext, _ ref: String) throws -> HTTPResponse {
        let condition: WaitCondition
        switch ctx.query("condition") ?? "" {
        case "", "not-running": condition = .notRunning
        case "next-exit": condition = .nextExit
        case "removed": condition = .removed
        case let other: throw BerthError.invalid("invalid condition: \"\(other)\"")
        }
        // Registered before the head goes out: the docker CLI starts the container as soon as it
        // has the head.
        let promise = try engine.containers.registerWait(ref, condition: condition)
        return .stream(status: 200, headers: [("Content-Type", "application/json")]) { w in
            let code = await promise.value
            try await w.write(APIServer.encodeLine(ContainerWaitResponse(StatusCode: code)))
        }
    }

    // MARK: logs

    func logsContainer(_ ctx: RequestContext, _ ref: String) throws -> HTTPResponse {
        let c = try engine.containers.get(ref)
        var o = LogOptions()
        o.stdout = ctx.bool("stdout")
        o.stderr = ctx.bool("stderr")
        guard o.stdout || o.stderr else { throw BerthError.invalid("Bad parameters: you must choose at least one stream") }
        o.follow = ctx.bool("follow")
        o.since = try ctx.query("since").flatMap { try APIServer.timestamp($0, name: "since") }
        o.until = try ctx.query("until").flatMap { try APIServer.timestamp($0, name: "until") }
        if let since = o.since, since <= 0 { o.since = nil }
        if let t = ctx.query("tail"), t != "all", !t.isEmpty {
            guard let n = Int(t) else { throw BerthError.invalid("invalid value for tail: \(t)") }
            if n >= 0 { o.tail = n }
        }
        let timestamps = ctx.bool("timestamps")
        let tty = c.tty
        let options = o
        let engine = self.engine
        let type = tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream"
        return .stream(status: 200, headers: [("Content-Type", type)]) { w in
            try await engine.containers.logs(ref, options: options) { entry in
                var payload = entry.bytes
                if timestamps { payload = Array((APIServer.logTime(entry.time) + " ").utf8) + payload }
                try await w.write(tty ? payload : StdStream.frame(entry.stream, payload))
            }
        }
    }

    /// Docker writes log times with nanoseconds, trailing zeros trimmed (RFC3339Nano).
    static func logTime(_ t: String) -> String { t }

    /// `since`/`until`: Unix seconds with an optional fraction (what the docker CLI sends), or
    /// RFC 3339.
    static func timestamp(_ s: String, name: String) throws -> Double? {
        if s.isEmpty { return nil }
        if let d = Double(s) { return d }
        if let w = WallClock(rfc3339: s) { return Double(w.seconds) + Double(w.nanoseconds) / 1e9 }
        throw BerthError.invalid("invalid value for \(name): \(s)")
    }
}

extension APIServer {
    /// `GET /containers/{id}/stats`: `stream` (default true) sends a reading every second;
    /// `stream=false` answers with one reading whose `precpu_stats` is a second older (as
    /// Docker, so the CLI can compute the CPU percentage); `one-shot=true` with one reading.
    func statsContainer(_ ctx: RequestContext, _ ref: String) throws -> HTTPResponse {
        let c = try engine.containers.get(ref)
        let stream = ctx.query("stream") == nil ? true : ctx.bool("stream")
        let oneShot = ctx.bool("one-shot")
        if oneShot && stream { throw BerthError.invalid("cannot have stream=true and one-shot=true") }
        let containers = engine.containers
        let name = "/" + c.name, id = c.id
        return .stream(status: 200, headers: [("Content-Type", "application/json")]) { w in
            var previous = ContainerStatsSample()
            if !stream && !oneShot {
                previous = (try? containers.stats(id)) ?? previous
                try await Task.sleep(nanoseconds: 1_000_000_000)
            }
            while !Task.isCancelled {
                guard let now = try? containers.stats(id) else { return }
                // A write to a client that left throws, which ends the stream.
                try await w.write(APIServer.encodeLine(APIServer.statsJSON(now, previous: previous, name: name, id: id)))
                if !stream { return }
                previous = now
                try await Task.sleep(nanoseconds: 1_000_000_000)
            }
        }
    }

    static func statsJSON(_ s: ContainerStatsSample, previous p: ContainerStatsSample, name: String, id: String) -> JSONValue {
        func cpu(_ x: ContainerStatsSample) -> JSONValue {
            .object([
                "cpu_usage": .object(["total_usage": .number(String(x.cpu.total)),
                                      "usage_in_kernelmode": .number(String(x.cpu.system)),
                                      "usage_in_usermode": .number(String(x.cpu.user))]),
                "system_cpu_usage": .number(String(x.systemCPU)),
                "online_cpus": .number(String(x.onlineCPUs)),
                "throttling_data": .object(["periods": .number(String(x.cpu.periods)),
                                            "throttled_periods": .number(String(x.cpu.throttledPeriods)),
                                            "throttled_time": .number(String(x.cpu.throttledTime))]),
            ])
        }
        var stat = JSONObject()
        for (k, v) in s.memoryStat.sorted(by: { $0.key < $1.key }) { stat[k] = .number(String(v)) }
        var pids: JSONObject = ["current": .number(String(s.pids))]
        if let l = s.pidsLimit { pids["limit"] = .number(String(l)) }
        let running = s.read != ContainerRunState.zeroTime
        var out: JSONObject = [
            "read": .string(s.read), "preread": .string(p.read),
            "pids_stats": .object(running ? pids : [:]),
            "blkio_stats": .object(["io_service_bytes_recursive": running && !s.ioServiceBytes.isEmpty ? .array(s.ioServiceBytes.map { e in
                                        .object(["major": .number(String(e.major)), "minor": .number(String(e.minor)),
                                                 "op": .string(e.op), "value": .number(String(e.value))])
                                    }) : .null,
                                    "io_serviced_recursive": .null,
                                    "io_queue_recursive": .null, "io_service_time_recursive": .null,
                                    "io_wait_time_recursive": .null, "io_merged_recursive": .null,
                                    "io_time_recursive": .null, "sectors_recursive": .null]),
            "num_procs": .number("0"), "storage_stats": .object([:]),
            "cpu_stats": cpu(s), "precpu_stats": cpu(p),
            "memory_stats": running ? .object(["usage": .number(String(s.memoryUsage)), "stats": .object(stat),
                                               "limit": .number(String(s.memoryLimit))]) : .object([:]),
            "name": .string(name), "id": .string(id),
        ]
        if running && !s.networks.isEmpty {
            var nets = JSONObject()
            for (name, counters) in s.networks.sorted(by: { $0.key < $1.key }) {
                var o = JSONObject()
                for (k, v) in counters.sorted(by: { $0.key < $1.key }) { o[k] = .number(String(v)) }
                nets[name] = .object(o)
            }
            out["networks"] = .object(nets)
        }
        return .object(out)
    }
}

extension APIServer {
    /// `/containers/{id}/archive`: HEAD (stat header), GET (a tar of the path), PUT (extract a
    /// tar into the directory at path) — `docker cp` both ways.
    func archive(_ ctx: RequestContext, _ ref: String) async throws -> HTTPResponse {
        guard let path = ctx.query("path"), !path.isEmpty else { throw BerthError.invalid("missing query parameter: path") }
        let containers = engine.containers
        switch ctx.request.method {
        case "PUT":
            let queue = ByteQueue()
            let pumpTask = APIServer.pump(ctx.request.body, into: queue)
            defer { pumpTask.cancel() }
            try await containers.archivePut(ref, path: path, from: queue, noOverwriteDirNonDir: ctx.bool("noOverwriteDirNonDir"))
            return .bytes(status: 200, headers: [], body: [])
        default:
            let st = try await containers.archiveStat(ref, path: path)
            var obj = JSONObject()
            obj["name"] = .string(st.name)
            obj["size"] = .number(String(st.size))
            obj["mode"] = .number(String(st.mode))
            obj["mtime"] = .string(st.mtime)
            obj["linkTarget"] = .string(st.linkTarget)
            let header = ("X-Docker-Container-Path-Stat", Base64.encode(JSON.serialize(.object(obj))))
            if ctx.request.method == "HEAD" { return .bytes(status: 200, headers: [header], body: []) }
            let queue = ByteQueue()
            let work = Task { do { try await containers.archiveGet(ref, path: path, into: queue) } catch { queue.close(error: error) } }
            return .stream(headers: [("Content-Type", "application/x-tar"), header]) { writer in
                defer { queue.abandon(); work.cancel() }
                while let chunk = try await queue.take() { try await writer.write(chunk) }
            }
        }
    }
}

/// RFC 4648 base64 (standard alphabet, padded).
enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let b0 = bytes[i], b1 = i + 1 < bytes.count ? bytes[i + 1] : 0, b2 = i + 2 < bytes.count ? bytes[i + 2] : 0
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 3) << 4 | b1 >> 4)])
            out.append(i + 1 < bytes.count ? alphabet[Int((b1 & 15) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.count ? alphabet[Int(b2 & 63)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension APIServer {
    /// `POST /containers/prune`: stopped containers, filters `until` and `label`/`label!`.
    func pruneContainers(_ ctx: RequestContext) async throws -> HTTPResponse {
        let f = try ctx.filters()
        try f.validate(["until", "label", "label!"])
        let now = WallClock.now().seconds * 1_000_000_000
        let until = try f["until"].first.map { try APIServer.timestamp($0, now: now, what: "until") }
        let (ids, bytes) = await engine.containers.prune { c in
            if let until, let created = WallClock(rfc3339: c.created),
               created.seconds * 1_000_000_000 + Int64(created.nanoseconds) > until { return false }
            guard f.matchLabels(c.config.Labels) else { return false }
            if !f["label!"].isEmpty && f.matchLabels(c.config.Labels, key: "label!") { return false }
            return true
        }
        var obj = JSONObject()
        obj["ContainersDeleted"] = ids.isEmpty ? .null : .array(ids.map { .string($0) })
        obj["SpaceReclaimed"] = .number(String(bytes))
        return APIServer.json(JSONValue.object(obj))
    }
}
