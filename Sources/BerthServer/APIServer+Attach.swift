import BerthAPI
import BerthCore
import BerthEngine
import BerthHTTP
import BerthOCI
import BerthSystem

extension APIServer {
    /// `POST /containers/{id}/attach`: hijacks the connection; with `logs=1` the log is replayed
    /// first; with `stream=1` live output follows and stdin flows in until the container exits,
    /// the client leaves, or the detach keys are typed.
    func attachContainer(_ ctx: RequestContext, _ ref: String) throws -> HTTPResponse {
        let c = try engine.containers.get(ref)
        let stream = ctx.bool("stream"), logs = ctx.bool("logs")
        let stdin = ctx.bool("stdin"), stdout = ctx.bool("stdout"), stderr = ctx.bool("stderr")
        let keys = try DetachKeys(ctx.query("detachKeys") ?? "")
        if c.state.status == .dead || c.state.status == .removing {
            throw BerthError.conflict("cannot attach to container \(c.id): it is being removed")
        }
        let tty = c.tty
        let engine = self.engine
        let headers: HTTPHeaderFields = [("Content-Type", tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream")]
        return .hijack(status: ctx.request.wantsUpgrade ? 101 : 200, headers: headers) { hs in
            if logs {
                var o = LogOptions()
                o.stdout = stdout
                o.stderr = stderr
                try await engine.containers.logs(c.id, options: o) { e in
                    try await hs.write(tty ? e.bytes : StdStream.frame(e.stream, e.bytes))
                }
            }
            guard stream else { return }
            try await engine.containers.attach(c.id, stdin: stdin, stdout: stdout, stderr: stderr) { conn in
                guard let conn else { return }
                await APIServer.pump(conn, hs, stdin: stdin, keys: keys)
            }
        }
    }

    /// Copies output to the client and the client's bytes to stdin until the output ends
    /// (the process exited) or the detach keys arrive.
    static func pump(_ conn: AttachConnection, _ hs: HijackedStream, stdin: Bool, keys: DetachKeys) async {
        let output = Task {
            while let (stream, bytes) = try await conn.read() {
                try await hs.write(conn.tty ? bytes : StdStream.frame(stream, bytes))
            }
        }
        let input: Task<Void, Never>? = stdin ? Task {
            var matcher = keys.matcher()
            do {
                for try await chunk in hs.inbound {
                    let (pass, detached) = matcher.feed(chunk)
                    if !pass.isEmpty { try await conn.write(stdin: pass) }
                    if detached {
                        output.cancel()
                        return
                    }
                }
                try await conn.closeStdin()
            } catch {
                // The client went away: the monitor sees the connection close.
            }
        } : nil
        _ = await output.result
        input?.cancel()
    }
}

/// Docker's detach keys (`ctrl-p,ctrl-q` by default; `ctrl-<c>` or single characters).
struct DetachKeys: Sendable {
    let sequence: [UInt8]

    init(_ spec: String) throws {
        if spec.isEmpty { sequence = [16, 17]; return }
        var out: [UInt8] = []
        for part in spec.split(separator: ",", omittingEmptySubsequences: false) {
            let p = part.lowercased()
            if p.hasPrefix("ctrl-"), p.count == 6, let ch = p.utf8.last {
                switch ch {
                case UInt8(ascii: "a")...UInt8(ascii: "z"): out.append(ch - UInt8(ascii: "a") + 1)
                case UInt8(ascii: "@"): out.append(0)
                case UInt8(ascii: "["): out.append(27)
                case UInt8(ascii: "\\"): out.append(28)
                case UInt8(ascii: "]"): out.append(29)
                case UInt8(ascii: "^"): out.append(30)
                case UInt8(ascii: "_"): out.append(31)
                default: throw BerthError.invalid("Invalid detach keys (\(spec)) provided")
                }
            } else if part.utf8.count == 1 {
                out.append(part.utf8.first!)
            } else {
                throw BerthError.invalid("Invalid detach keys (\(spec)) provided")
            }
        }
        sequence = out
    }

    func matcher() -> Matcher { Matcher(sequence: sequence) }

    /// Finds the sequence across chunks; bytes that might start it are held back until known.
    struct Matcher {
        let sequence: [UInt8]
        var held: [UInt8] = []

        /// Returns the bytes to pass on and whether the sequence was completed.
        mutating func feed(_ chunk: [UInt8]) -> ([UInt8], Bool) {
            var out: [UInt8] = []
            for b in chunk {
                if b == sequence[held.count] {
                    held.append(b)
                    if held.count == sequence.count { return (out, true) }
                } else {
                    out += held
                    held = []
                    if b == sequence[0] { held.append(b) } else { out.append(b) }
                    if held.count == sequence.count { return (out, true) }
                }
            }
            return (out, false)
        }
    }
}
