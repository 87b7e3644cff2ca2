import ArgumentParser
import BerthAPI
import BerthClient
import BerthCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Registry credentials in Docker's own file, so `berth login` and `docker login` share them:
/// `$DOCKER_CONFIG/config.json` (or `~/.docker/config.json`), `auths.<server>.auth` =
/// base64 of `user:password`, Docker Hub under `https://index.docker.io/v1/`. Other keys of
/// the file are kept as they are. A credential helper named by `credHelpers.<server>` or
/// `credsStore` keeps the credentials instead of the file (``CredentialHelper``), as Docker.
struct CredentialStore {
    static let hubKey = "https://index.docker.io/v1/"
    let path: String
    /// Where credential helpers are looked for (`PATH`).
    let searchPath: String

    init(environment: [String: String] = CredentialStore.environment()) {
        searchPath = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        let dir = environment["DOCKER_CONFIG"].flatMap { $0.isEmpty ? nil : $0 } ?? ((environment["HOME"] ?? "/root") + "/.docker")
        path = dir + "/config.json"
    }

    static func environment() -> [String: String] {
        var env: [String: String] = [:]
        for name in ["DOCKER_CONFIG", "HOME", "PATH"] { if let v = getenv(name) { env[name] = String(cString: v) } }
        return env
    }

    /// The registry a reference lives on (`docker.io` when its first component is not a host).
    static func registry(of reference: String) -> String {
        let first = reference.split(separator: "/", maxSplits: 1)
        if first.count == 2, first[0].contains(".") || first[0].contains(":") || first[0] == "localhost" { return String(first[0]) }
        return "docker.io"
    }

    /// The key Docker files a server under: Hub's URL for Docker Hub, else the host.
    static func key(_ server: String) -> String {
        var s = Substring(server)
        for scheme in ["https://", "http://"] where s.hasPrefix(scheme) { s = s.dropFirst(scheme.count) }
        let host = String(s.prefix { $0 != "/" })
        if host.isEmpty || host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io" { return hubKey }
        return host
    }

    func load() throws -> JSONObject {
        guard let bytes = try Self.read(path) else { return JSONObject() }
        guard case .object(let o)? = try? JSON.parse(bytes) else { throw CLIError.message("\(path): not a JSON object") }
        return o
    }

    /// The credential helper for a server: `credHelpers` (by key or host), else `credsStore`.
    func helper(for server: String) throws -> CredentialHelper? {
        let o = try load()
        let key = Self.key(server)
        let host = key.hasPrefix("https://") ? String(key.dropFirst(8).prefix { $0 != "/" }) : key
        if case .object(let helpers)? = o["credHelpers"], case .string(let name)? = helpers[key] ?? helpers[host], !name.isEmpty {
            return CredentialHelper(name: name, searchPath: searchPath)
        }
        if case .string(let name)? = o["credsStore"], !name.isEmpty { return CredentialHelper(name: name, searchPath: searchPath) }
        return nil
    }

    /// The stored credentials for a server, if any.
    func credentials(for server: String) throws -> (username: String, password: String)? {
        if let helper = try helper(for: server) { return try helper.get(Self.key(server)) }
        let o = try load()
        guard case .object(let auths)? = o["auths"], case .object(let entry)? = auths[Self.key(server)] else { return nil }
        if case .string(let auth)? = entry["auth"], let raw = Base64.decode(auth) {
            let text = String(decoding: raw, as: UTF8.self)
            if let colon = text.firstIndex(of: ":") { return (String(text[..<colon]), String(text[text.index(after: colon)...])) }
        }
        if case .string(let u)? = entry["username"], case .string(let p)? = entry["password"] { return (u, p) }
        return nil
    }

    /// The `X-Registry-Auth` header for a reference, from the stored credentials.
    func registryAuth(for reference: String) -> String? {
        let server = Self.registry(of: reference)
        guard let c = try? credentials(for: server) else { return nil }
        return BerthClient.registryAuthHeader(username: c.username, password: c.password, serverAddress: Self.key(server))
    }

    /// Stores credentials: through the server's helper if it has one (true), else in the file.
    @discardableResult
    func store(server: String, username: String, password: String) throws -> Bool {
        if let helper = try helper(for: server) {
            try helper.store(Self.key(server), username: username, password: password)
            return true
        }
        var o = try load()
        var auths = JSONObject()
        if case .object(let a)? = o["auths"] { auths = a }
        var entry = JSONObject()
        entry["auth"] = .string(Base64.encode(Array("\(username):\(password)".utf8)))
        auths[Self.key(server)] = .object(entry)
        o["auths"] = .object(auths)
        try write(o)
        return false
    }

    /// Removes a server's credentials; false when there were none.
    func remove(server: String) throws -> Bool {
        if let helper = try helper(for: server) { return try helper.erase(Self.key(server)) }
        var o = try load()
        guard case .object(var auths)? = o["auths"], auths[Self.key(server)] != nil else { return false }
        auths[Self.key(server)] = nil
        o["auths"] = .object(auths)
        try write(o)
        return true
    }

    /// Written atomically (temp file, rename), readable by its owner only.
    func write(_ o: JSONObject) throws {
        let dir = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        if !dir.isEmpty { mkdir(dir, 0o700) }
        let tmp = path + ".tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CLIError.message("open \(tmp): \(String(cString: strerror(errno)))") }
        let bytes = JSON.serialize(.object(o), options: .prettyPrinted)
        let ok = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) == $0.count } && fsync(fd) == 0
        close(fd)
        guard ok, rename(tmp, path) == 0 else {
            unlink(tmp)
            throw CLIError.message("write \(path): \(String(cString: strerror(errno)))")
        }
    }

    static func read(_ path: String) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw CLIError.message("open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; throw CLIError.message("read \(path): \(String(cString: strerror(errno)))") }
            if n == 0 { return out }
            out += buf[0..<n]
        }
    }
}

/// `berth push [-a] NAME[:TAG]`: docker's progress; credentials from `berth login`/`docker login`.
struct PushCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "push", abstract: "Upload an image to a registry.")
    @Flag(name: [.short, .long], help: "Push all tags of an image to the repository.")
    var allTags = false
    @Flag(name: [.short, .long], help: "Suppress verbose output.")
    var quiet = false
    @Argument(help: "NAME[:TAG]")
    var name: String

    func run() async throws {
        var repo = name, tag: String?
        if let colon = name.lastIndex(of: ":"), !name[colon...].contains("/") {
            repo = String(name[..<colon])
            tag = String(name[name.index(after: colon)...])
        }
        if allTags && tag != nil { throw CLIError.message("tag can't be used with --all-tags/-a") }
        if !allTags && tag == nil {
            tag = "latest"
            if !quiet { Output.out("Using default tag: latest") }
        }
        let auth = CredentialStore().registryAuth(for: repo)
        let stream = try await GlobalOptions.client().pushImage(repo, tag: tag, registryAuth: auth)
        if quiet {
            for try await m in stream { if let e = m.error ?? m.errorDetail?.message { throw CLIError.message(e) } }
            Output.out(tag.map { "\(repo):\($0)" } ?? repo)
        } else {
            var display = ProgressDisplay(isTerminal: Output.isTerminal(1))
            try await display.run(stream)
        }
    }
}

/// `berth login [-u USER] [-p PASS | --password-stdin] [SERVER]`: checked by the daemon
/// against the registry, then stored in Docker's config.json.
struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "login", abstract: "Authenticate to a registry.")
    @Option(name: [.short, .long], help: "Username")
    var username: String?
    @Option(name: [.short, .long], help: "Password")
    var password: String?
    @Flag(name: .long, help: "Take the password from stdin")
    var passwordStdin = false
    @Argument(help: "SERVER (default: Docker Hub)")
    var server: String?

    func run() async throws {
        let address = server ?? CredentialStore.hubKey
        var pass = password
        if password != nil && passwordStdin { throw CLIError.message("--password and --password-stdin are mutually exclusive") }
        if password != nil { Output.err("WARNING! Using --password via the CLI is insecure. Use --password-stdin.") }
        if passwordStdin {
            guard username != nil else { throw CLIError.message("Must provide --username with --password-stdin") }
            let source = try FileSource(path: nil)
            var bytes: [UInt8] = []
            while let chunk = try await source.next() { bytes += chunk }
            var text = String(decoding: bytes, as: UTF8.self)
            while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
            pass = text
        }
        let store = CredentialStore()
        var user = username
        if user == nil || pass == nil, let saved = try? store.credentials(for: address) {
            user = user ?? saved.username
            if user == saved.username { pass = pass ?? saved.password }
        }
        guard let user, !user.isEmpty else { throw CLIError.message("Error: Cannot perform an interactive login from a non TTY device") }
        guard let pass, !pass.isEmpty else { throw CLIError.message("Error: Password Required") }
        let response = try await GlobalOptions.client().login(username: user, password: pass, serverAddress: address)
        if try !store.store(server: address, username: user, password: pass) {
            Output.out("WARNING! Your credentials are stored unencrypted in '\(store.path)'.")
        }
        Output.out(response.Status)
    }
}

/// `berth logout [SERVER]`: forgets the stored credentials.
struct LogoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logout", abstract: "Log out from a registry.")
    @Argument(help: "SERVER (default: Docker Hub)")
    var server: String?

    func run() async throws {
        let address = server ?? CredentialStore.hubKey
        if try CredentialStore().remove(server: address) {
            Output.out("Removing login credentials for \(CredentialStore.key(address))")
        } else {
            Output.out("Not logged in to \(CredentialStore.key(address))")
        }
    }
}
