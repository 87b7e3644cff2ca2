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

extension APIServer {
    /// `POST /images/{name}/push?tag=`: pushes one tag (or, with neither a tag in the name nor
    /// `tag`, every tag of the repository). An image that is not here is a 404 before the
    /// stream starts; registry failures are `errorDetail` lines, as Docker sends them.
    func pushImage(_ ctx: RequestContext, name: String) async throws -> HTTPResponse {
        var text = name
        if let tag = ctx.query("tag"), !tag.isEmpty { text += ":" + tag }
        guard let ref = try? Reference(parsing: text) else { throw BerthError.invalid("invalid reference format: \(text)") }
        let images = engine.images
        _ = try images.pushTargets(ref)
        let auth = Self.registryAuth(ctx.request.headers["X-Registry-Auth"])
        return .stream(headers: [("Content-Type", "application/json")]) { writer in
            let (lines, sink) = AsyncStream<[UInt8]>.makeStream()
            let work = Task {
                defer { sink.finish() }
                do {
                    try await images.push(ref, auth: auth) { e in sink.yield(APIServer.encodeLine(APIServer.message(e))) }
                } catch {
                    sink.yield(APIServer.encodeLine(JSONMessage.failure((error as? BerthError)?.message ?? "\(error)")))
                }
            }
            for await line in lines { try await writer.write(line) }
            _ = await work.value
        }
    }

    static func message(_ e: PushEvent) -> JSONMessage {
        switch e {
        case .status(let text): return JSONMessage(status: text)
        case .layer(let id, let status, let current, let total):
            if let current, let total { return JSONMessage.progress(status: status, id: id, current: current, total: total) }
            var m = JSONMessage(status: status, id: id)
            m.progressDetail = JSONMessage.ProgressDetail(current: nil, total: nil)
            return m
        case .pushed(let tag, let digest, let size):
            var m = JSONMessage()
            m.progressDetail = JSONMessage.ProgressDetail(current: nil, total: nil)
            m.aux = .object(["Tag": .string(tag), "Digest": .string(digest.description), "Size": .number(String(size))])
            return m
        }
    }

    /// `GET /distribution/{name}/json`: the registry's descriptor for a reference and its
    /// platforms, without pulling.
    func distribution(_ ctx: RequestContext, name: String) async throws -> HTTPResponse {
        guard let ref = try? Reference(parsing: name) else { throw BerthError.invalid("invalid reference format: \(name)") }
        let auth = Self.registryAuth(ctx.request.headers["X-Registry-Auth"])
        let info = try await engine.images.distribution(ref, auth: auth)
        return APIServer.json(DistributionInspect(
            Descriptor: .init(mediaType: info.descriptor.mediaType, digest: info.descriptor.digest.description, size: info.descriptor.size),
            Platforms: info.platforms.map { .init(architecture: $0.architecture, os: $0.os, variant: $0.variant) }))
    }
}
