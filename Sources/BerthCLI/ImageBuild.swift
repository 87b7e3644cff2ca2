import ArgumentParser
import BerthAPI
import BerthClient
import BerthCore
import BerthTar
import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `berth build [OPTIONS] PATH | -`: sends the context (minus `.dockerignore`d files) as a tar
/// and shows the build: on a terminal each step with whether it came from the cache and how
/// long it took; otherwise docker's plain lines. Exits with a failing RUN's code.
struct BuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "build", abstract: "Build an image from a Dockerfile.")

    @Option(name: [.short, .customLong("tag")], help: "Name and optionally a tag in the \"name:tag\" format.")
    var tag: [String] = []
    @Option(name: [.short, .customLong("file")], help: "Name of the Dockerfile (default: \"PATH/Dockerfile\").")
    var file: String?
    @Option(name: .customLong("build-arg"), help: "Set build-time variables.")
    var buildArg: [String] = []
    @Option(name: .long, help: "Set metadata for an image.")
    var label: [String] = []
    @Flag(name: .customLong("no-cache"), help: "Do not use cache when building the image.")
    var noCache = false
    @Option(name: .long, help: "Set the target build stage to build.")
    var target: String?
    @Option(name: .long, help: "Set the networking mode for the RUN instructions during build.")
    var network: String?
    @Flag(name: [.short, .long], help: "Suppress the build output and print image ID on success.")
    var quiet = false
    @Option(name: .customLong("rm"), help: "Remove intermediate containers after a successful build.")
    var rm = true
    @Flag(name: .customLong("force-rm"), help: "Always remove intermediate containers.")
    var forceRm = false
    @Option(name: .customLong("add-host"), help: "Add a custom host-to-IP mapping (\"host:ip\").")
    var addHost: [String] = []
    @Option(name: .long, help: "Set platform if server is multi-platform capable.")
    var platform: String?
    @Option(name: .customLong("iidfile"), help: "Write the image ID to the file.")
    var iidfile: String?
    @Argument(help: "The build context: a directory, or - for a tar on stdin.")
    var path: String

    func run() async throws {
        var o = BerthClient.BuildOptions()
        o.tags = tag
        o.noCache = noCache
        o.target = target
        o.network = network
        o.quiet = quiet
        o.remove = rm
        o.forceRemove = forceRm
        o.extraHosts = addHost
        o.platform = platform
        for a in buildArg {
            if let eq = a.firstIndex(of: "=") {
                o.buildArgs[String(a[..<eq])] = String(a[a.index(after: eq)...])
            } else if let v = getenv(a) {
                o.buildArgs[a] = String(cString: v)     // `--build-arg NAME`: from the environment
            }
        }
        for l in label {
            let parts = l.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            o.labels[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        let source: FileSource
        if path == "-" {
            source = try FileSource(path: nil)
            if let file { o.dockerfile = file }
        } else {
            var st = stat()
            guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
                throw CLIError.message("unable to prepare context: path \"\(path)\" not found")
            }
            let context = try BuildContextTar(directory: path, dockerfile: file)
            o.dockerfile = context.dockerfileName
            source = try context.start()
        }
        let client = try GlobalOptions.client()
        let stream = try await client.build(context: source.byteSource, options: o)
        var view = BuildView(isTerminal: Output.isTerminal(1) && !quiet)
        var imageID: String?
        do {
            for try await m in stream {
                if case .object(let aux)? = m.aux, case .string(let id)? = aux["ID"] { imageID = id }
                if let e = m.error ?? m.errorDetail?.message {
                    view.finishLine()
                    let code = Int32(m.errorDetail?.code ?? 1)
                    try? Output.write(Array((e + "\n").utf8), to: 2)
                    throw CLIError.silent(code == 0 ? 1 : code)
                }
                if let text = m.stream { view.show(text) }
            }
        }
        view.finishLine()
        if let iidfile, let imageID {
            let fd = open(iidfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw CLIError.message("failed to write the image ID to \(iidfile)") }
            defer { close(fd) }
            try Output.write(Array(imageID.utf8), to: fd)
        }
    }
}

/// Renders the build's stream lines; on a terminal each finished step gets `CACHED` or its
/// duration appended to its ` ---> ID` line.
struct BuildView {
    let isTerminal: Bool
    var stepStart: UInt64 = 0
    var cached = false
    var pending = ""

    init(isTerminal: Bool) { self.isTerminal = isTerminal }

    mutating func show(_ text: String) {
        guard isTerminal else {
            try? Output.write(Array(text.utf8), to: 1)
            return
        }
        pending += text
        while let nl = pending.firstIndex(of: "\n") {
            let line = String(pending[..<nl])
            pending = String(pending[pending.index(after: nl)...])
            render(line)
        }
    }

    mutating func render(_ line: String) {
        var out = line
        if line.hasPrefix("Step ") {
            stepStart = Self.now()
            cached = false
            out = "\u{1B}[1m" + line + "\u{1B}[0m"
        } else if line == " ---> Using cache" {
            cached = true
            return
        } else if line.hasPrefix(" ---> "), !line.hasPrefix(" ---> Running in"), stepStart != 0 {
            let ms = Double(Self.now() - stepStart) / 1e6
            out = line + (cached ? "  \u{1B}[32mCACHED\u{1B}[0m" : "  \(Int(ms.rounded())) ms")
            stepStart = 0
        }
        try? Output.write(Array((out + "\n").utf8), to: 1)
    }

    mutating func finishLine() {
        if !pending.isEmpty { try? Output.write(Array((pending + "\n").utf8), to: 1); pending = "" }
    }

    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

/// The build context as a tar stream, written on a thread into a pipe: every file under the
/// directory except those `.dockerignore` excludes (the Dockerfile and `.dockerignore`
/// themselves always go), with a Dockerfile from outside the directory added under a name of
/// its own, as the docker CLI does.
final class BuildContextTar: @unchecked Sendable {
    // @unchecked: set in init, read by the one writer thread.
    let directory: String
    let ignore: DockerIgnore?
    let dockerfileName: String
    /// A Dockerfile outside the context: its bytes, sent as `dockerfileName`.
    let extraDockerfile: [UInt8]?

    init(directory: String, dockerfile: String?) throws {
        self.directory = directory
        var ignorePatterns: DockerIgnore?
        if let text = try? Self.readFile(directory + "/.dockerignore") {
            do { ignorePatterns = try DockerIgnore(patterns: DockerIgnore.parse(String(decoding: text, as: UTF8.self))) } catch {
                throw CLIError.message("error checking context: \(error)")
            }
        }
        ignore = ignorePatterns
        let given = dockerfile ?? "Dockerfile"
        let full = given.hasPrefix("/") ? given : (dockerfile == nil ? directory + "/Dockerfile" : given)
        let dirReal = Self.realPath(directory)
        let fileReal = Self.realPath(full)
        guard let bytes = try? Self.readFile(full) else {
            throw CLIError.message("unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat \(full): no such file or directory")
        }
        if let fileReal, let dirReal, fileReal.hasPrefix(dirReal + "/") {
            dockerfileName = String(fileReal.dropFirst(dirReal.count + 1))
            extraDockerfile = nil
        } else {
            dockerfileName = ".dockerfile.berth"
            extraDockerfile = bytes
        }
    }

    static func realPath(_ p: String) -> String? {
        guard let r = realpath(p, nil) else { return nil }
        defer { free(r) }
        return String(cString: r)
    }

    static func readFile(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CLIError.message("open \(path)") }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, 65536) }
            if n < 0 { if errno == EINTR { continue }; throw CLIError.message("read \(path)") }
            if n == 0 { return out }
            out += buf[0..<n]
        }
    }

    /// Starts the writer; the returned source reads the tar.
    func start() throws -> FileSource {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw CLIError.message("pipe: \(String(cString: strerror(errno)))") }
        let readFD = fds[0], writeFD = fds[1]
        DispatchQueue.global().async { [self] in
            defer { close(writeFD) }
            var tar = TarWriter { chunk in
                var off = 0
                while off < chunk.count {
                    let n = write(writeFD, chunk.baseAddress! + off, chunk.count - off)
                    if n < 0 { if errno == EINTR { continue }; throw CLIError.message("write context: \(errno)") }
                    off += n
                }
            }
            do {
                try walk(directory, "", &tar)
                if let extra = extraDockerfile {
                    var h = TarHeader(name: dockerfileName, kind: .file, mode: 0o644, size: Int64(extra.count))
                    h.mtime = Int64(time(nil))
                    try tar.write(header: h)
                    try tar.write(data: extra)
                }
                try tar.finish()
            } catch {
                try? Output.write(Array("error sending the build context: \(error)\n".utf8), to: 2)
            }
        }
        return FileSource(fd: readFD)
    }

    func walk(_ dir: String, _ rel: String, _ tar: inout TarWriter) throws {
        guard let d = opendir(dir) else { throw CLIError.message("error checking context: can't open \(dir)") }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(d)
        for name in names.sorted() {
            let path = rel.isEmpty ? name : rel + "/" + name
            let full = dir + "/" + name
            var st = stat()
            guard lstat(full, &st) == 0 else { continue }
            let isDir = (st.st_mode & S_IFMT) == S_IFDIR
            let always = path == dockerfileName || path == ".dockerignore"
            let excluded = !always && (ignore?.excludes(path) ?? false)
            if excluded && !(isDir && (ignore?.mightIncludeBelow(path) ?? false)) { continue }
            var h = TarHeader(name: path, kind: .file, mode: UInt32(st.st_mode & 0o7777))
            h.uid = Int64(st.st_uid)
            h.gid = Int64(st.st_gid)
            h.mtime = Int64(st.st_mtim.tv_sec)
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                if !excluded {
                    h.name = path + "/"
                    h.kind = .directory
                    try tar.write(header: h)
                }
                try walk(full, path, &tar)
            case S_IFREG:
                let fd = open(full, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw CLIError.message("error checking context: can't open \(path)") }
                defer { close(fd) }
                h.size = Int64(st.st_size)
                try tar.write(header: h)
                var left = h.size
                var buf = [UInt8](repeating: 0, count: 1 << 16)
                while left > 0 {
                    let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, Int(min(Int64(1 << 16), left))) }
                    if n <= 0 { throw CLIError.message("error reading \(path): it changed while being sent") }
                    try tar.write(data: Array(buf[0..<n]))
                    left -= Int64(n)
                }
            case S_IFLNK:
                var target = [CChar](repeating: 0, count: 4097)
                let n = readlink(full, &target, 4096)
                guard n >= 0 else { continue }
                h.kind = .symlink
                h.linkName = String(decoding: target[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                try tar.write(header: h)
            default:
                continue
            }
        }
    }
}

/// `berth commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]`: prints the new image's ID.
struct CommitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "commit", abstract: "Create a new image from a container's changes.")
    @Option(name: [.short, .long], help: "Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\").")
    var author: String?
    @Option(name: [.short, .long], help: "Apply Dockerfile instruction to the created image.")
    var change: [String] = []
    @Option(name: [.short, .long], help: "Commit message.")
    var message: String?
    @Option(name: [.short, .long], help: "Pause container during commit.")
    var pause = true
    @Argument(help: "The container.")
    var container: String
    @Argument(help: "REPOSITORY[:TAG]")
    var reference: String?

    func run() async throws {
        var repo: String?, tag: String?
        if let reference {
            // The tag is after the last colon that follows the last slash (a registry port stays).
            let slash = reference.lastIndex(of: "/")
            if let colon = reference.lastIndex(of: ":"), slash.map({ colon > $0 }) ?? true {
                repo = String(reference[..<colon])
                tag = String(reference[reference.index(after: colon)...])
            } else {
                repo = reference
            }
        }
        let id = try await GlobalOptions.client().commit(container: container, repository: repo, tag: tag, comment: message,
                                                         author: author, changes: change, pause: pause)
        try Output.write(Array((id + "\n").utf8), to: 1)
    }
}

/// `berth pull [-q] NAME[:TAG|@DIGEST]`: docker's progress on stdout; with `-q` only the
/// reference. Credentials stored by `berth login` or `docker login` are sent.
struct PullCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pull", abstract: "Download an image from a registry.")
    @Flag(name: [.short, .long], help: "Suppress verbose output.")
    var quiet = false
    @Option(name: .long, help: "Set platform if server is multi-platform capable.")
    var platform: String?
    @Argument(help: "NAME[:TAG|@DIGEST]")
    var name: String

    func run() async throws {
        let stream = try await GlobalOptions.client().pullImage(name, platform: platform,
                                                                registryAuth: CredentialStore().registryAuth(for: name))
        if quiet {
            for try await m in stream {
                if let e = m.error ?? m.errorDetail?.message { throw CLIError.message(e) }
            }
        } else {
            var display = ProgressDisplay(isTerminal: Output.isTerminal(1))
            try await display.run(stream)
        }
        let shown = name.contains("@") || name.split(separator: "/").last?.contains(":") == true ? name : name + ":latest"
        try Output.write(Array((shown + "\n").utf8), to: 1)
    }
}
