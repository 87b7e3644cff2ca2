import BerthAPI
import BerthCore
import BerthEngine
import BerthHTTP
import BerthOCI
import BerthRegistry
import Foundation

extension APIServer {
    /// `POST /images/create?fromImage=&tag=`: a pull. Resolution errors (unknown repository
    /// or tag, auth) are HTTP errors as Docker answers them; then the JSON progress stream the
    /// docker CLI draws its bars from.
    func pullImage(_ ctx: RequestContext, from: String) async throws -> HTTPResponse {
        var text = from
        if let tag = ctx.query("tag"), !tag.isEmpty {
            text += tag.hasPrefix("sha256:") ? "@" + tag : ":" + tag
        }
        guard var ref = try? Reference(parsing: text) else { throw BerthError.invalid("invalid reference format: \(text)") }
        if ref.digest == nil { ref = ref.withDefaultTag }
        if let platform = ctx.query("platform"), !platform.isEmpty, !platform.hasPrefix("linux/amd64"), platform != "linux" {
            throw BerthError.invalid("platform \(platform) is not supported: this daemon runs linux/amd64")
        }
        let auth = Self.registryAuth(ctx.request.headers["X-Registry-Auth"])
        let images = engine.images
        let resolved = try await images.resolve(ref, auth: auth)
        let target = ref
        return .stream(headers: [("Content-Type", "application/json")]) { writer in
            let (lines, sink) = AsyncStream<[UInt8]>.makeStream()
            let work = Task {
                defer { sink.finish() }
                do {
                    _ = try await images.pull(target, resolved: resolved, auth: auth) { e in
                        sink.yield(APIServer.encodeLine(APIServer.message(e)))
                    }
                } catch {
                    sink.yield(APIServer.encodeLine(JSONMessage.failure((error as? BerthError)?.message ?? "\(error)")))
                }
            }
            for await line in lines { try await writer.write(line) }
            _ = await work.value
        }
    }

    static func message(_ e: PullEvent) -> JSONMessage {
        switch e {
        case .status(let text, let id): return JSONMessage(status: text, id: id)
        case .layer(let id, let status, let current, let total):
            if let current, let total { return JSONMessage.progress(status: status, id: id, current: current, total: total) }
            return JSONMessage(status: status, id: id)
        }
    }

    /// `X-Registry-Auth`: base64url JSON `{"username", "password", "identitytoken", …}`; absent,
    /// empty or `{}` is anonymous.
    static func registryAuth(_ header: String?) -> RegistryCredentials? {
        guard var b64 = header, !b64.isEmpty else { return nil }
        b64 = b64.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while b64.count % 4 != 0 { b64 += "=" }
        guard let data = Data(base64Encoded: b64), case .object(let o)? = try? JSON.parse(Array(data)) else { return nil }
        func str(_ k: String) -> String? { if case .string(let s)? = o[k], !s.isEmpty { return s }; return nil }
        if let user = str("username") {
            return RegistryCredentials(username: user, password: str("password") ?? "", identityToken: str("identitytoken"))
        }
        if let token = str("identitytoken") { return RegistryCredentials(username: "<token>", password: "", identityToken: token) }
        return nil
    }
}

extension APIServer {
    /// `POST /auth`: `{"username", "password", "serveraddress"}` checked against the registry.
    func auth(_ ctx: RequestContext) async throws -> HTTPResponse {
        let body = try await ctx.request.body.collect(upTo: 1 << 20)
        guard case .object(let o)? = try? JSON.parse(body) else { throw BerthError.invalid("invalid auth configuration: not a JSON object") }
        func str(_ k: String) -> String { if case .string(let s)? = o[k] { return s }; return "" }
        guard !str("username").isEmpty else { throw BerthError.invalid("invalid auth configuration: username is required") }
        _ = try await engine.images.login(serverAddress: str("serveraddress"),
                                          credentials: RegistryCredentials(username: str("username"), password: str("password")))
        return APIServer.json(AuthResponse(Status: "Login Succeeded", IdentityToken: ""))
    }
}
