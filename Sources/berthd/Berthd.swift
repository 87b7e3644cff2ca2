#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import BerthCore
import BerthEngine
import BerthHTTP
import BerthServer
import BerthSystem
import Dispatch
import Logging

/// berthd: the Berth engine. Serves the Docker Engine API on unix sockets (and TCP).
@main
struct Berthd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "berthd",
        abstract: "The Berth engine: containers, images and VMs behind the Docker Engine API.")

    @Option(name: .long, help: "State directory.")
    var root: String?

    @Option(name: [.customShort("H"), .long], help: "Socket to listen on: unix:///path or tcp://host:port (repeatable).")
    var host: [String] = []

    @Option(name: .long, help: "Registry spoken to over plain HTTP, HOST[:PORT] (repeatable; loopback ones always are).")
    var insecureRegistry: [String] = []
    @Option(name: .long, help: "Docker Hub mirror, http://HOST:PORT or https://HOST (repeatable, tried in order).")
    var registryMirror: [String] = []
    @Option(name: .long, help: "JSON config file (keys: root, hosts, pidfile, log-level, init-binary, exec-root, init-path, insecure-registries, registry-mirrors).")
    var configFile: String = "/etc/berth/berthd.json"

    @Option(name: [.short, .long], help: "PID file.")
    var pidfile: String?

    @Option(name: [.short, .long], help: "Log level: trace, debug, info, warning, error.")
    var logLevel: String?

    @Option(name: .long, help: "Path of berth-init (default: beside berthd).")
    var initBinary: String?

    @Option(name: .long, help: "Runtime state on tmpfs: monitor sockets, berth-init records (default: /run/berth/<hash of root>).")
    var execRoot: String?

    @Option(name: .long, help: "Static init for --init (default: tini-static).")
    var initPath: String?

    @Option(name: [.customShort("b"), .long], help: "The default bridge's interface, or none (default: berth0).")
    var bridge: String?

    @Option(name: .long, help: "Berth's nftables table (default: berth; berth_<hash of root> for another root).")
    var firewallTable: String?

    struct FileConfig: Decodable {
        var root: String?
        var hosts: [String]?
        var pidfile: String?
        var logLevel: String?
        var initBinary: String?
        var execRoot: String?
        var initPath: String?
        var insecureRegistries: [String]?
        var registryMirrors: [String]?
        enum CodingKeys: String, CodingKey {
            case root, hosts, pidfile
            case logLevel = "log-level"
            case initBinary = "init-binary"
            case execRoot = "exec-root"
            case initPath = "init-path"
            case insecureRegistries = "insecure-registries"
            case registryMirrors = "registry-mirrors"
        }
    }

    mutating func run() async throws {
        var file = FileConfig()
        if FileSystem.exists(configFile) {
            do { file = try BerthJSONDecoder().decode(FileConfig.self, from: try FileSystem.read(configFile)) } catch {
                throw ValidationError("config file \(configFile): \(error)")
            }
        }
        let root = self.root ?? file.root ?? "/var/lib/berth"
        let hosts = !host.isEmpty ? host : (file.hosts ?? ["unix:///run/berth/berth.sock"])
        let pidfile = self.pidfile ?? file.pidfile ?? "/run/berth/berthd.pid"
        let levelText = logLevel ?? file.logLevel ?? "info"
        guard let level = Logger.Level(rawValue: levelText) else { throw ValidationError("invalid log level \(levelText)") }
        let initBinary = self.initBinary ?? file.initBinary ?? Berthd.besideSelf("berth-init")

        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        let logger = Logger(label: "berthd")
        try Berthd.writePidFile(pidfile)
        defer { unlink(pidfile) }

        guard FileSystem.exists(initBinary) else {
            throw ValidationError("berth-init not found at \(initBinary) (use --init-binary)")
        }
        var config = EngineConfig(root: root, initBinary: initBinary, execRoot: execRoot ?? file.execRoot,
                                  initPath: initPath ?? file.initPath,
                                  defaultBridge: bridge == "none" ? nil : (bridge ?? "berth0"), firewallTable: firewallTable)
        config.insecureRegistries = insecureRegistry + (file.insecureRegistries ?? [])
        config.registryMirrors = registryMirror + (file.registryMirrors ?? [])
        for m in config.registryMirrors where !(m.hasPrefix("http://") || m.hasPrefix("https://")) {
            throw ValidationError("invalid registry mirror \(m): want http://HOST[:PORT] or https://HOST[:PORT]")
        }
        let engine = try Engine(config: config, logger: logger)
        let server = HTTPServer(handler: APIServer(engine: engine, logger: logger)) { line in
            logger.debug("\(line)")
        }
        for h in hosts {
            if h.hasPrefix("unix://") {
                let path = String(h.dropFirst(7))
                try FileSystem.makeDirectories(FileSystem.parentDirectory(of: path), mode: 0o755)
                try await server.listen(unixPath: path, mode: 0o660)
                logger.info("API listening on \(path)")
            } else if h.hasPrefix("tcp://") {
                let rest = h.dropFirst(6)
                guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]) else {
                    throw ValidationError("invalid host \(h): want tcp://HOST:PORT")
                }
                let bound = try await server.listen(host: String(rest[..<colon]), port: port)
                logger.warning("API listening on tcp \(rest[..<colon]):\(bound) without TLS: anyone who can reach it is root on this host")
            } else {
                throw ValidationError("invalid host \(h): want unix:///path or tcp://host:port")
            }
        }
        logger.info("berthd ready", metadata: ["root": "\(root)", "version": "\(engine.system.version)"])

        // Graceful stop on SIGTERM / SIGINT: stop accepting, finish in-flight requests, exit.
        let stop = AsyncStream<Int32> { continuation in
            for sig in [SIGTERM, SIGINT] {
                signal(sig, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                source.setEventHandler { continuation.yield(sig) }
                source.resume()
                Berthd.keep(source)
            }
        }
        for await sig in stop {
            logger.info("received signal \(sig), shutting down")
            break
        }
        await server.shutdown(timeout: .seconds(10))
        // VMs keep running; the next berthd re-adopts them.
        await engine.vms.shutdown()
        logger.info("berthd stopped")
    }

    nonisolated(unsafe) static var sources: [any DispatchSourceSignal] = []
    static func keep(_ s: any DispatchSourceSignal) { sources.append(s) }

    /// The path of a sibling executable.
    static func besideSelf(_ name: String) -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, 4095)
        guard n > 0 else { return name }
        let exe = String(cString: buf)
        return FileSystem.parentDirectory(of: exe) + "/" + name
    }

    /// Writes the pid file, refusing to start if another berthd holds it.
    static func writePidFile(_ path: String) throws {
        if let bytes = try? FileSystem.read(path), let pid = Int32(String(decoding: bytes, as: UTF8.self).filter(\.isNumber)),
           pid > 0, pid != getpid(), kill(pid, 0) == 0 {
            throw BerthError.conflict("berthd is already running (pid \(pid), pid file \(path))")
        }
        try FileSystem.makeDirectories(FileSystem.parentDirectory(of: path), mode: 0o755)
        try FileSystem.writeAtomically(path, Array("\(getpid())\n".utf8), mode: 0o644)
    }
}
