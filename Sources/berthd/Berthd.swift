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
    @Option(name: .long, help: "Per-registry CAs and client certificates, Docker's certs.d layout: DIR/HOST:PORT/{*.crt,*.cert,*.key} (default: /etc/berth/certs.d).")
    var registryCertsDir: String?
    @Flag(name: .customLong("tls"), help: "Serve tcp:// hosts over TLS (needs --tlscert and --tlskey).")
    var tls = false
    @Flag(name: .customLong("tlsverify"), help: "Serve tcp:// hosts over TLS and require client certificates signed by --tlscacert.")
    var tlsVerify = false
    @Option(name: .customLong("tlscacert"), help: "CAs whose client certificates --tlsverify accepts (PEM).")
    var tlsCACert: String?
    @Option(name: .customLong("tlscert"), help: "The server's TLS certificate (PEM).")
    var tlsCert: String?
    @Option(name: .customLong("tlskey"), help: "The server's TLS key (PEM).")
    var tlsKey: String?
    @Option(name: .long, help: "JSON config file (keys: root, hosts, pidfile, log-level, init-binary, exec-root, init-path, insecure-registries, registry-mirrors, registry-certs-dir, tls, tlsverify, tlscacert, tlscert, tlskey).")
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
        var registryCertsDir: String?
        var tls: Bool?
        var tlsverify: Bool?
        var tlscacert: String?
        var tlscert: String?
        var tlskey: String?
        enum CodingKeys: String, CodingKey {
            case root, hosts, pidfile, tls, tlsverify, tlscacert, tlscert, tlskey
            case registryCertsDir = "registry-certs-dir"
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
        config.registryCertsDirectory = registryCertsDir ?? file.registryCertsDir ?? "/etc/berth/certs.d"
        // TLS for tcp:// hosts, with dockerd's flags: --tls serves HTTPS, --tlsverify also
        // requires client certificates from --tlscacert.
        var serverTLS: HTTPServerTLS?
        let verify = tlsVerify || file.tlsverify == true
        if tls || verify || file.tls == true {
            guard let cert = tlsCert ?? file.tlscert, let key = tlsKey ?? file.tlskey else {
                throw ValidationError("--tls and --tlsverify need --tlscert and --tlskey")
            }
            let ca = tlsCACert ?? file.tlscacert
            if verify && ca == nil { throw ValidationError("--tlsverify needs --tlscacert") }
            serverTLS = try HTTPServerTLS(certificateChain: cert, privateKey: key, clientCA: verify ? ca : nil)
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
                let bound = try await server.listen(host: String(rest[..<colon]), port: port, tls: serverTLS)
                if serverTLS == nil {
                    logger.warning("API listening on tcp \(rest[..<colon]):\(bound) without TLS: anyone who can reach it is root on this host")
                } else if !verify {
                    logger.warning("API listening on tcp \(rest[..<colon]):\(bound) with TLS but without --tlsverify: anyone who can reach it is root on this host")
                } else {
                    logger.info("API listening on tcp \(rest[..<colon]):\(bound) (TLS, client certificates required)")
                }
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
