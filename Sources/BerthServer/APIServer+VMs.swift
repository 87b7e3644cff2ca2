#if canImport(Glibc)
import Glibc
#endif
import BerthAPI
import BerthClient
import BerthCore
import BerthEngine
import BerthHTTP
import BerthSystem
import BerthVM

extension APIServer {
    /// `/berth/vms/…` routes (Berth's own; Docker has no VMs). `segments` follow `vms`.
    func vms(_ ctx: RequestContext, segments s: [String]) async throws -> HTTPResponse? {
        let m = ctx.request.method
        let vms = engine.vms
        switch (m, s.count) {
        case ("GET", 1) where s[0] == "json":
            var out: [VMInspectResponse] = []
            for i in await vms.list() { out.append(APIServer.wire(i)) }
            return APIServer.json(out)
        case ("POST", 1) where s[0] == "create":
            return try await createVM(ctx)
        case ("POST", 1) where s[0] == "import":
            return try await importVM(ctx)
        case ("POST", 1) where s[0] == "incoming":
            return try await incomingVM(ctx)
        case ("POST", 2) where s[1] == "migrate":
            return try await migrateVM(ctx, s[0])
        case ("GET", 2) where s[1] == "json":
            return APIServer.json(APIServer.wire(try await vms.inspect(s[0])))
        case ("POST", 2) where ["start", "stop", "kill", "pause", "resume"].contains(s[1]):
            switch s[1] {
            case "start": try await vms.start(s[0])
            case "stop":
                let t = try ctx.query("t").map { v -> Double in
                    guard let d = Double(v), d >= 0 else { throw BerthError.invalid("invalid timeout: \(v)") }
                    return d
                } ?? 10
                try await vms.stop(s[0], timeout: t)
            case "kill": try await vms.kill(s[0])
            case "pause": try await vms.pause(s[0])
            default: try await vms.resume(s[0])
            }
            return .bytes(status: 204, headers: [], body: [])
        case ("DELETE", 1):
            try await vms.remove(s[0], force: ctx.bool("force"))
            return .bytes(status: 204, headers: [], body: [])
        case ("GET", 2) where s[1] == "stats":
            let i = try await vms.inspect(s[0])
            let st = try await vms.stats(s[0])
            var disk: UInt64 = 0
            for d in i.config.disks { disk += (try? DiskImage.hostUsage(d.path)) ?? 0 }
            return APIServer.json(VMStatsResponse(Name: i.record.name, CPUTimeNs: st.cpuTimeNanoseconds, MemoryUsage: st.residentBytes,
                                                  MemoryLimit: st.memoryLimitBytes, Pid: Int(st.pid), DiskUsage: disk))
        case ("GET", 2) where s[1] == "logs":
            let bytes = try await vms.consoleOutput(s[0])
            return .bytes(status: 200, headers: [("Content-Type", "text/plain; charset=utf-8")], body: bytes)
        case ("POST", 2) where s[1] == "console":
            return try await consoleVM(ctx, s[0])
        case ("GET", 2) where s[1] == "export":
            return try await exportVM(s[0])
        case ("GET", 2) where s[1] == "snapshots":
            let list = try await vms.snapshots(s[0])
            return APIServer.json(list.map { VMSnapshotResponse(Name: $0.tag, VMStateSize: $0.vmStateSize, Date: $0.date) })
        case ("POST", 2) where s[1] == "snapshots":
            guard let tag = ctx.query("name"), !tag.isEmpty else { throw BerthError.invalid("a snapshot name is required (name=)") }
            try await vms.snapshot(s[0], tag: tag)
            return .bytes(status: 201, headers: [], body: [])
        case ("POST", 4) where s[1] == "snapshots" && s[3] == "restore":
            try await vms.restoreSnapshot(s[0], tag: s[2])
            return .bytes(status: 204, headers: [], body: [])
        case ("DELETE", 3) where s[1] == "snapshots":
            try await vms.deleteSnapshot(s[0], tag: s[2])
            return .bytes(status: 204, headers: [], body: [])
        default:
            return nil
        }
    }

    static func wire(_ i: VMInfo) -> VMInspectResponse {
        var reason: String?, code: Int?
        if case .stopped(let e) = i.state { reason = e.reason.rawValue; code = Int(e.processExitCode) }
        return VMInspectResponse(
            Id: i.record.id, Name: i.record.name, Image: i.record.image, ImageID: i.record.imageID, Created: i.record.created,
            State: i.state.description, ExitReason: reason, ExitCode: code, Cpus: i.config.vcpus, MemoryMiB: i.config.memoryMiB,
            DiskSize: Int64(i.record.diskSize), Cmd: i.config.command, Hostname: i.config.hostname, Kernel: i.config.kernel,
            Initrd: i.config.initrd, Disks: i.config.disks.map { VMDiskInfo(Path: $0.path, Format: $0.format, ReadOnly: $0.readOnly) },
            Networks: i.record.endpoints.map {
                VMNetworkEndpoint(NetworkID: $0.networkID, NetworkName: $0.networkName, IPAddress: $0.address, IPPrefixLen: $0.prefixLength,
                                  Gateway: $0.gateway, MacAddress: $0.mac, Tap: $0.tap)
            },
            Nameservers: i.config.nameservers, StateDir: i.directory)
    }

    /// `POST /berth/vms/create?name=`.
    func createVM(_ ctx: RequestContext) async throws -> HTTPResponse {
        let body = try await ctx.request.body.collect(upTo: 1 << 20)
        let req: VMCreateRequest
        do { req = try BerthJSONDecoder().decode(VMCreateRequest.self, from: body) } catch {
            throw BerthError.invalid("invalid JSON: \((error as? BerthError)?.message ?? "\(error)")")
        }
        guard !req.Image.isEmpty else { throw BerthError.invalid("an image is required") }
        var o = VMCreateOptions(name: ctx.query("name"), image: req.Image)
        if let c = req.Cpus { o.cpus = c }
        if let m = req.MemoryMiB { o.memoryMiB = m }
        if let d = req.DiskSize {
            guard d > 0 else { throw BerthError.invalid("invalid disk size: \(d)") }
            o.diskSize = UInt64(d)
        }
        for d in req.ExtraDisks ?? [] {
            guard d > 0 else { throw BerthError.invalid("invalid disk size: \(d)") }
            o.extraDisks.append(UInt64(d))
        }
        o.command = req.Cmd
        o.hostname = req.Hostname
        o.networks = req.Networks
        let r = try await engine.vms.create(o)
        return APIServer.json(VMCreateResponse(Id: r.id, Name: r.name), status: 201)
    }

    /// `POST /berth/vms/{name}/console`: hijacks the connection; the serial console both ways
    /// (raw bytes) until the VM stops, the client leaves, or the detach keys (`detachKeys`,
    /// default `ctrl-]`) are typed. `logs=1` replays the console log first.
    func consoleVM(_ ctx: RequestContext, _ ref: String) async throws -> HTTPResponse {
        let keys = try DetachKeys(ctx.query("detachKeys") ?? "ctrl-]")
        let logs = ctx.bool("logs")
        let vms = engine.vms
        let fd = try await vms.attachConsole(ref)
        let early = logs ? try await vms.consoleOutput(ref) : []
        return .hijack(status: ctx.request.wantsUpgrade ? 101 : 200, headers: [("Content-Type", "application/vnd.docker.raw-stream")]) { hs in
            defer { FD.close(fd) }
            if !early.isEmpty { try await hs.write(early) }
            let output = Task {
                while true {
                    let chunk = try await BlockingWork.run { try FD.read(fd, max: 65536) }
                    if chunk.isEmpty { break }
                    try await hs.write(chunk)
                }
            }
            let input = Task {
                var matcher = keys.matcher()
                do {
                    for try await chunk in hs.inbound {
                        let (pass, detached) = matcher.feed(chunk)
                        if !pass.isEmpty { try await BlockingWork.run { try FD.writeAll(fd, pass) } }
                        if detached {
                            // Detach: end both ways now (wakes the reader).
                            shutdown(fd, Int32(SHUT_RDWR))
                            return
                        }
                    }
                    // The client's EOF: half-close only. QEMU feeds the guest what is still
                    // queued (its UART takes 16 bytes at a time), then reads the EOF and drops
                    // the connection, which ends the output. A full close would raise HUP and
                    // QEMU would drop the unread input.
                    shutdown(fd, Int32(SHUT_WR))
                } catch {
                    // The client went away.
                    shutdown(fd, Int32(SHUT_RDWR))
                }
            }
            _ = await output.result
            input.cancel()
            _ = await input.result
        }
    }

    /// `GET /berth/vms/{name}/export`: the stopped VM as one tar (written to a temp file by the
    /// backend, then streamed and removed).
    func exportVM(_ ref: String) async throws -> HTTPResponse {
        let path = engine.config.root + "/vms/tmp/export-" + String(UInt64.random(in: 0...UInt64.max), radix: 16) + ".tar"
        do { try await engine.vms.export(ref, to: path) } catch {
            unlink(path)
            throw error
        }
        let fd: Int32
        do { fd = try FD.open(path, O_RDONLY) } catch {
            unlink(path)
            throw error
        }
        unlink(path)
        return .stream(headers: [("Content-Type", "application/x-tar")]) { writer in
            defer { FD.close(fd) }
            while true {
                let chunk = try await BlockingWork.run { try FD.read(fd, max: 1 << 20) }
                if chunk.isEmpty { break }
                try await writer.write(chunk)
            }
        }
    }

    /// `POST /berth/vms/import?name=&networks=`: the body is an export tar.
    func importVM(_ ctx: RequestContext) async throws -> HTTPResponse {
        let path = engine.config.root + "/vms/tmp/import-" + String(UInt64.random(in: 0...UInt64.max), radix: 16) + ".tar"
        let fd = try FD.open(path, O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
        defer { unlink(path) }
        do {
            defer { FD.close(fd) }
            for try await chunk in ctx.request.body {
                try await BlockingWork.run { try FD.writeAll(fd, chunk) }
            }
        }
        let nets = ctx.queryAll("networks").filter { !$0.isEmpty }
        let name = ctx.query("name").flatMap { $0.isEmpty ? nil : $0 }
        let r = try await engine.vms.importVM(from: path, name: name, networks: nets.isEmpty ? nil : nets)
        return APIServer.json(VMCreateResponse(Id: r.id, Name: r.name), status: 201)
    }
}

extension APIServer {
    /// `POST /berth/vms/incoming` (destination side of a migration): copy the disks, start a
    /// QEMU waiting for the stream, answer its URI.
    func incomingVM(_ ctx: RequestContext) async throws -> HTTPResponse {
        let body = try await ctx.request.body.collect(upTo: 1 << 20)
        let req: VMIncomingRequest
        do { req = try BerthJSONDecoder().decode(VMIncomingRequest.self, from: body) } catch {
            throw BerthError.invalid("invalid JSON: \((error as? BerthError)?.message ?? "\(error)")")
        }
        guard req.DiskSources.count == req.DiskFormats.count else { throw BerthError.invalid("DiskSources and DiskFormats differ in length") }
        let spec = VMIncomingSpec(name: req.Name, image: req.Image, imageID: req.ImageID, cpus: req.Cpus, memoryMiB: req.MemoryMiB,
                                  diskSize: UInt64(max(0, req.DiskSize)), kernel: req.Kernel, command: req.Cmd, hostname: req.Hostname,
                                  networks: req.Networks, initrd: req.Initrd,
                                  disks: zip(req.DiskSources, req.DiskFormats).map { VMDisk(path: $0, format: $1) })
        let uri = try await engine.vms.prepareIncoming(spec)
        return APIServer.json(VMIncomingResponse(Uri: uri), status: 201)
    }

    /// `POST /berth/vms/{name}/migrate?to=unix:///other/berth.sock` (source side): pauses the
    /// VM, has the other berthd copy its disks and wait, migrates memory and devices with QEMU,
    /// resumes it there and removes it here. On failure the VM keeps running here and the
    /// destination's half-made VM is removed.
    func migrateVM(_ ctx: RequestContext, _ ref: String) async throws -> HTTPResponse {
        guard let to = ctx.query("to"), !to.isEmpty else { throw BerthError.invalid("a destination is required (to=unix:///path)") }
        guard to.hasPrefix("unix://") else { throw BerthError.invalid("migration needs a destination on this host (unix:///path), not \(to)") }
        let vms = engine.vms
        let started = APIServer.monotonic()
        let spec = try await vms.incomingSpec(ref)
        let wasRunning = try await vms.inspect(ref).state == .running
        let client: BerthClient
        do { client = try BerthClient(host: to) } catch { throw BerthError.invalid("invalid destination \(to)") }
        defer { Task { await client.shutdown() } }
        if wasRunning { try await vms.pause(ref) }
        let paused = APIServer.monotonic()
        var prepared = false
        do {
            let req = VMIncomingRequest(Name: spec.name, Image: spec.image, ImageID: spec.imageID, Cpus: spec.cpus, MemoryMiB: spec.memoryMiB,
                                        DiskSize: Int64(spec.diskSize), Kernel: spec.kernel, Cmd: spec.command, Hostname: spec.hostname,
                                        Networks: spec.networks, DiskSources: spec.disks.map(\.path), DiskFormats: spec.disks.map(\.format),
                                        Initrd: spec.initrd)
            let uri = try await client.prepareIncomingVM(req).Uri
            prepared = true
            try await vms.migrateOut(ref, to: uri)
        } catch {
            if prepared { try? await client.removeVM(spec.name, force: true) }
            if wasRunning { try? await vms.resume(ref) }
            if let e = error as? BerthClientError, case .daemon(let status, let message) = e {
                throw BerthError(status == 404 ? .notFound : status == 409 ? .conflict : status == 400 ? .invalidArgument : .system,
                                 "migrate vm \(spec.name) to \(to): \(message)")
            }
            if let e = error as? BerthError { throw e.context("migrate vm \(spec.name) to \(to)") }
            throw BerthError(.system, "migrate vm \(spec.name) to \(to): \(error)")
        }
        if wasRunning { try await client.resumeVM(spec.name) }
        let done = APIServer.monotonic()
        return APIServer.json(VMMigrateResponse(Seconds: done - started, PausedSeconds: done - paused))
    }
}

extension APIServer {
    /// CLOCK_MONOTONIC in seconds (for the durations a migration reports).
    static func monotonic() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
