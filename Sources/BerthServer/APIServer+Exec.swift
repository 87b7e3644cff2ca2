import BerthAPI
import BerthCore
import BerthEngine
import BerthHTTP

extension APIServer {
    /// `POST /containers/{id}/exec`.
    func createExec(_ ctx: RequestContext, _ ref: String) async throws -> HTTPResponse {
        let body = try await ctx.request.body.collect(upTo: 1 << 20)
        let req: ExecCreateRequest
        do { req = try BerthJSONDecoder().decode(ExecCreateRequest.self, from: body) } catch {
            throw BerthError.invalid("invalid JSON: \((error as? BerthError)?.message ?? "\(error)")")
        }
        _ = try DetachKeys(req.DetachKeys ?? "")
        var size: (UInt16, UInt16)?
        if let s = req.ConsoleSize, s.count == 2, s[0] > 0, s[1] > 0, s[0] <= 65535, s[1] <= 65535 {
            size = (UInt16(s[0]), UInt16(s[1]))
        }
        let settings = ExecSettings(
            cmd: req.Cmd ?? [], env: req.Env ?? [], user: req.User ?? "", workingDir: req.WorkingDir ?? "",
            tty: req.Tty ?? false, privileged: req.Privileged ?? false, attachStdin: req.AttachStdin ?? false,
            attachStdout: req.AttachStdout ?? false, attachStderr: req.AttachStderr ?? false,
            detachKeys: req.DetachKeys ?? "", consoleSize: size)
        let id = try engine.containers.execCreate(ref, settings: settings)
        return APIServer.json(IDResponse(Id: id), status: 201)
    }

    /// `/exec/{id}/…` routes.
    func exec(_ ctx: RequestContext, segments: [String]) async throws -> HTTPResponse? {
        guard segments.count == 2 else { return nil }
        let id = segments[0]
        switch (ctx.request.method, segments[1]) {
        case ("POST", "start"): return try await startExec(ctx, id)
        case ("POST", "resize"):
            let (h, w) = try terminalSize(ctx)
            try await engine.containers.execResize(id, height: h, width: w)
            return .bytes(status: 200, headers: [], body: [])
        case ("GET", "json"):
            let e = try engine.containers.execInspect(id)
            let s = e.config
            return APIServer.json(ExecInspect(
                ID: e.id, Running: e.running, ExitCode: e.exitCode,
                ProcessConfig: .init(privileged: s.privileged, user: s.user, tty: s.tty, entrypoint: s.cmd.first ?? "",
                                     arguments: Array(s.cmd.dropFirst())),
                OpenStdin: s.attachStdin, OpenStderr: s.attachStderr, OpenStdout: s.attachStdout, ContainerID: e.containerID,
                Pid: Int(e.pid), DetachKeys: s.detachKeys))
        default: return nil
        }
    }

    func startExec(_ ctx: RequestContext, _ id: String) async throws -> HTTPResponse {
        let body = try await ctx.request.body.collect(upTo: 1 << 20)
        var req = ExecStartRequest()
        if !body.isEmpty {
            do { req = try BerthJSONDecoder().decode(ExecStartRequest.self, from: body) } catch {
                throw BerthError.invalid("invalid JSON: \((error as? BerthError)?.message ?? "\(error)")")
            }
        }
        let exec = try engine.containers.execInspect(id)
        if exec.started { throw BerthError.conflict("Exec command \(id) has already run") }
        let engine = self.engine
        if req.Detach ?? false {
            try await engine.containers.execStart(id, detach: true) { _ in }
            return .bytes(status: 200, headers: [], body: [])
        }
        let keys = try DetachKeys(exec.config.detachKeys)
        let stdin = exec.config.attachStdin
        let tty = exec.config.tty
        let headers: HTTPHeaderFields = [("Content-Type", tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream")]
        return .hijack(status: ctx.request.wantsUpgrade ? 101 : 200, headers: headers) { hs in
            try await engine.containers.execStart(id, detach: false) { conn in
                guard let conn else { return }
                await APIServer.pump(conn, hs, stdin: stdin, keys: keys)
            }
        }
    }
}
