import BerthAPI
import BerthBuild
import BerthCore
import BerthEngine
import BerthHTTP
import BerthImage
import BerthOCI
import BerthSystem

extension APIServer {
    /// `POST /build`: Docker's classic builder protocol. The body is the context tar; errors
    /// found before the build starts (bad parameters, the Dockerfile's syntax, a missing
    /// Dockerfile) are HTTP errors, later ones `errorDetail` lines in the JSON stream, whose
    /// `code` is a failing RUN's exit code (the docker CLI exits with it).
    func build(_ ctx: RequestContext) async throws -> HTTPResponse {
        var r = BuildRequest()
        r.dockerfile = ctx.query("dockerfile").flatMap { $0.isEmpty ? nil : $0 } ?? "Dockerfile"
        r.tags = ctx.queryAll("t").filter { !$0.isEmpty }
        r.options.noCache = ctx.bool("nocache")
        r.options.quiet = ctx.bool("q")
        r.options.target = ctx.query("target").flatMap { $0.isEmpty ? nil : $0 }
        r.remove = ctx.query("rm").map { ctx.bool("rm") || $0.isEmpty } ?? true
        r.forceRemove = ctx.bool("forcerm")
        r.networkMode = ctx.query("networkmode")
        r.remote = ctx.query("remote")
        if let args = ctx.query("buildargs"), !args.isEmpty {
            guard case .object(let o)? = try? JSON.parse(args) else { throw BerthError.invalid("invalid buildargs: \(args)") }
            for (k, v) in o {
                switch v {
                case .string(let s): r.options.buildArgs[k] = .some(s)
                case .null: r.options.buildArgs[k] = .some(nil)
                default: throw BerthError.invalid("invalid buildargs: \(k) must be a string")
                }
            }
        }
        if let labels = ctx.query("labels"), !labels.isEmpty {
            guard case .object(let o)? = try? JSON.parse(labels) else { throw BerthError.invalid("invalid labels: \(labels)") }
            for (k, v) in o {
                guard case .string(let s) = v else { throw BerthError.invalid("invalid labels: \(k) must be a string") }
                r.options.labels[k] = s
            }
        }
        if let hosts = ctx.query("extrahosts"), !hosts.isEmpty {
            r.extraHosts = hosts.split(separator: ",").map(String.init)
        }
        func int(_ name: String) throws -> Int64? {
            guard let v = ctx.query(name), !v.isEmpty else { return nil }
            guard let n = Int64(v) else { throw BerthError.invalid("invalid \(name): \(v)") }
            return n == 0 ? nil : n
        }
        r.memory = try int("memory")
        r.memorySwap = try int("memswap")
        r.cpuShares = try int("cpushares")
        r.cpuPeriod = try int("cpuperiod")
        r.cpuQuota = try int("cpuquota")
        r.shmSize = try int("shmsize")
        r.cpusetCpus = ctx.query("cpusetcpus").flatMap { $0.isEmpty ? nil : $0 }
        if let platform = ctx.query("platform"), !platform.isEmpty, !platform.hasPrefix("linux/amd64"), platform != "linux" {
            throw BerthError.invalid("platform \(platform) is not supported: this daemon builds linux/amd64")
        }
        if ctx.query("version") == "2" {
            throw BerthError.unsupported("BuildKit (version=2) is not supported: build with DOCKER_BUILDKIT=0 or berth build")
        }

        let queue = ByteQueue()
        let pumpTask = APIServer.pump(ctx.request.body, into: queue)
        let builds = engine.builds
        let prepared: PreparedBuild
        do { prepared = try await builds.prepare(r, context: queue) } catch {
            pumpTask.cancel()
            throw error
        }
        pumpTask.cancel()
        let (lines, sink) = AsyncStream<[UInt8]>.makeStream()
        let work = Task {
            defer {
                sink.finish()
                prepared.cleanup()
            }
            do {
                _ = try await builds.run(prepared) { m in
                    switch m {
                    case .stream(let text): sink.yield(APIServer.encodeLine(JSONMessage(stream: text)))
                    case .imageID(let id):
                        var msg = JSONMessage()
                        msg.aux = .object(["ID": .string(id.description)])
                        sink.yield(APIServer.encodeLine(msg))
                    }
                }
            } catch {
                var msg: JSONMessage
                if let b = error as? BuildError {
                    msg = JSONMessage.failure(b.message)
                    msg.errorDetail?.code = b.code
                } else {
                    msg = JSONMessage.failure((error as? BerthError)?.message ?? "\(error)")
                }
                sink.yield(APIServer.encodeLine(msg))
            }
        }
        return .stream(headers: [("Content-Type", "application/json")]) { writer in
            for await line in lines { try await writer.write(line) }
            _ = await work.value
        }
    }

    /// `POST /build/prune`: the classic builder's cache is its intermediate images.
    func pruneBuildCache(_ ctx: RequestContext) async throws -> HTTPResponse {
        let builds = engine.builds
        let (ids, bytes) = try await BlockingWork.run { try builds.prune() }
        return APIServer.json(BuildPruneResponse(CachesDeleted: ids, SpaceReclaimed: bytes))
    }

    /// `POST /commit?container=&repo=&tag=&comment=&author=&pause=&changes=`: a container's
    /// changes as a new image; the body may carry a container config to merge.
    func commit(_ ctx: RequestContext) async throws -> HTTPResponse {
        guard let container = ctx.query("container"), !container.isEmpty else {
            throw BerthError.invalid("container is required")
        }
        var options = CommitOptions()
        options.comment = ctx.query("comment") ?? ""
        options.author = ctx.query("author") ?? ""
        options.pause = ctx.query("pause").map { $0.isEmpty || ctx.bool("pause") } ?? true
        options.changes = ctx.queryAll("changes").flatMap { $0.split(separator: "\n").map(String.init) }.filter { !$0.isEmpty }
        if let repo = ctx.query("repo"), !repo.isEmpty {
            var text = repo
            if let tag = ctx.query("tag"), !tag.isEmpty { text += ":" + tag }
            guard let ref = try? Reference(parsing: text), ref.digest == nil else { throw BerthError.invalid("invalid reference format") }
            options.tag = ref
        }
        let body = try await ctx.request.body.collect(upTo: 1 << 20)
        if !body.isEmpty, let cfg = try? BerthJSONDecoder().decode(ContainerConfig.self, from: body) {
            options.config = cfg
        }
        let id = try await engine.builds.commit(container, options: options)
        return APIServer.json(IDResponse(Id: id.description), status: 201)
    }
}
