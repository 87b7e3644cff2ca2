import BerthAPI
import BerthCore
import BerthEngine
import BerthHTTP
import BerthSystem

extension APIServer {
    func ping(head: Bool) -> HTTPResponse {
        .bytes(status: 200, headers: [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Builder-Version", "1"),
            ("Cache-Control", "no-cache, no-store, must-revalidate"),
            ("Pragma", "no-cache"),
            ("Swarm", "inactive"),
        ], body: head ? [] : Array("OK".utf8))
    }

    func version_() -> HTTPResponse {
        let s = engine.system
        return APIServer.json(SystemVersion(version: s.version, gitCommit: s.gitCommit, kernel: s.kernelVersion, buildTime: ""))
    }

    func info() -> HTTPResponse {
        let s = engine.system
        let os = s.operatingSystem
        var info = SystemInfo(
            id: s.engineID, name: s.hostname, rootDir: engine.config.root, serverVersion: s.version,
            kernel: s.kernelVersion, os: os.name, osVersion: os.version, ncpu: s.cpuCount, memTotal: s.memoryTotal,
            cgroupVersion: s.cgroupVersion, images: engine.images.store.images().count,
            containers: (0, 0, 0, 0), systemTime: WallClock.now().rfc3339Nano,
            eventsListeners: engine.events.listenerCount, initBinary: engine.config.initBinary)
        let mirrors = engine.config.registryMirrors.map { $0.hasSuffix("/") ? $0 : $0 + "/" }
        info.RegistryConfig = .object([
            "IndexConfigs": .object(["docker.io": .object(["Name": .string("docker.io"), "Mirrors": .array(mirrors.map { .string($0) }),
                                                         "Secure": .bool(true), "Official": .bool(true)])]),
            "InsecureRegistryCIDRs": .array([.string("127.0.0.0/8"), .string("::1/128")]),
            "Mirrors": .array(mirrors.map { .string($0) }),
        ])
        for r in engine.config.insecureRegistries {
            if case .object(var o)? = info.RegistryConfig, case .object(var idx)? = o["IndexConfigs"] {
                idx[r] = .object(["Name": .string(r), "Mirrors": .array([]), "Secure": .bool(false), "Official": .bool(false)])
                o["IndexConfigs"] = .object(idx)
                info.RegistryConfig = .object(o)
            }
        }
        return APIServer.json(info)
    }

    func systemDF(_ ctx: RequestContext) throws -> HTTPResponse {
        let images = engine.images.list().map { summary($0, ctx, containers: engine.images.containerCount($0.record.id)) }
        return APIServer.json(SystemDataUsage(LayersSize: engine.images.layerBytes(), Images: images, Volumes: volumeUsage()))
    }
}
