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
        let info = SystemInfo(
            id: s.engineID, name: s.hostname, rootDir: engine.config.root, serverVersion: s.version,
            kernel: s.kernelVersion, os: os.name, osVersion: os.version, ncpu: s.cpuCount, memTotal: s.memoryTotal,
            cgroupVersion: s.cgroupVersion, images: engine.images.store.images().count,
            containers: (0, 0, 0, 0), systemTime: WallClock.now().rfc3339Nano,
            eventsListeners: engine.events.listenerCount, initBinary: engine.config.initBinary)
        return APIServer.json(info)
    }

    func systemDF(_ ctx: RequestContext) throws -> HTTPResponse {
        let images = engine.images.list().map { summary($0, ctx, containers: engine.images.containerCount($0.record.id)) }
        return APIServer.json(SystemDataUsage(LayersSize: engine.images.layerBytes(), Images: images, Volumes: volumeUsage()))
    }
}
