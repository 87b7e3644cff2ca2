#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import BerthCore
import BerthHTTP
import BerthRegistry
import BerthSystem
import Dispatch

/// berth-registry: a standalone OCI distribution registry (the `/v2/` API) on BerthHTTP.
@main
struct BerthRegistryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "berth-registry",
        abstract: "An OCI distribution registry (docker/distribution compatible).",
        subcommands: [Serve.self])
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the registry API until SIGTERM or SIGINT.")

    @Option(help: "Address to listen on, HOST:PORT (port 0 picks one).")
    var addr: String = "127.0.0.1:5000"

    @Option(help: "Storage directory.")
    var root: String

    @Option(name: .customLong("auth-basic"), help: "Users file: user:password or user:<sha256 hex of password> per line.")
    var authBasic: String?

    @Option(name: .customLong("token-secret"), help: "Enables bearer tokens (GET /token) signed with this HMAC key.")
    var tokenSecret: String?

    @Flag(name: .customLong("anonymous-pull"), help: "With users configured, let anonymous clients pull.")
    var anonymousPull = false

    @Option(name: .customLong("service"), help: "Service name in token challenges.")
    var service: String = "berth-registry"

    @Option(name: .customLong("tls-cert"), help: "Serve HTTPS with this certificate chain (PEM, leaf first); needs --tls-key.")
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: "The private key (PEM) of --tls-cert.")
    var tlsKey: String?

    @Option(name: .customLong("tls-client-ca"), help: "Require client certificates signed by these CAs (PEM bundle).")
    var tlsClientCA: String?

    @Flag(name: .customLong("disable-delete"), help: "Refuse DELETE of blobs and manifests (405).")
    var disableDelete = false

    func run() async throws {
        var tls: HTTPServerTLS?
        switch (tlsCert, tlsKey) {
        case (nil, nil):
            if tlsClientCA != nil { throw ValidationError("--tls-client-ca needs --tls-cert and --tls-key") }
        case let (cert?, key?):
            tls = try HTTPServerTLS(certificateChain: cert, privateKey: key, clientCA: tlsClientCA)
        default:
            throw ValidationError("--tls-cert and --tls-key go together")
        }
        guard let colon = addr.lastIndex(of: ":"), let port = Int(addr[addr.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("invalid --addr \(addr): want HOST:PORT")
        }
        var host = String(addr[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { host = "0.0.0.0" }

        var users: [String: RegistryAuth.Secret] = [:]
        if let authBasic { users = try RegistryAuth.parseUsers(try FileSystem.readString(authBasic)) }
        let auth = RegistryAuth(users: users, tokenSecret: tokenSecret.map { Array($0.utf8) }, service: service,
                                anonymous: anonymousPull ? .pull : .none)
        let storage = try RegistryStorage(root: root)
        let handler = RegistryServer(storage: storage, auth: auth, deleteEnabled: !disableDelete, tls: tls != nil) { line in
            FileHandleOut.error(line)
        }
        let server = HTTPServer(handler: handler) { line in FileHandleOut.error(line) }
        let bound = try await server.listen(host: host, port: port, tls: tls)
        // Written straight to fd 1 (no stdio buffering), so a parent reading a pipe sees it now.
        try FD.writeAll(1, "listening on \(host.contains(":") ? "[\(host)]" : host):\(bound)\n")

        // Periodically drop uploads abandoned for longer than the storage's expiry.
        let purge = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(3600))
                _ = try? storage.purgeUploads(olderThan: storage.uploadExpiry)
            }
        }
        let stop = AsyncStream<Int32> { continuation in
            for sig in [SIGTERM, SIGINT] {
                signal(sig, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                source.setEventHandler { continuation.yield(sig) }
                source.resume()
                SignalSources.keep(source)
            }
        }
        for await _ in stop { break }
        purge.cancel()
        await server.shutdown(timeout: .seconds(10))
    }
}

enum SignalSources {
    nonisolated(unsafe) static var sources: [any DispatchSourceSignal] = []
    static func keep(_ s: any DispatchSourceSignal) { sources.append(s) }
}

enum FileHandleOut {
    static func error(_ line: String) {
        try? FD.writeAll(2, line + "\n")
    }
}
