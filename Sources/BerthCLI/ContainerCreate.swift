import ArgumentParser
import BerthAPI
import BerthClient
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Docker's `createContainer` (cli/command/container/create.go), shared by `run` and
/// `create`: `--cidfile`, `--pull always|missing|never`, the `Unable to find image` message
/// and a pull (to stderr, stdout is for the ID) before retrying, warnings on stderr.
enum ContainerCreation {
    /// Checks `--pull`.
    static func validatePull(_ pull: String) throws(FlagError) {
        guard ["always", "missing", "never", ""].contains(pull) else {
            throw FlagError("invalid pull option: '\(pull)': must be one of \"always\", \"missing\" or \"never\"")
        }
    }

    /// Creates the container and returns its ID.
    static func create(client: BerthClient, request: ContainerCreateRequest, flags: RunFlags) async throws -> String {
        var request = request
        if let cidfile = flags.cidfile, !cidfile.isEmpty, access(cidfile, F_OK) == 0 {
            throw CLIError.message("container ID file found, make sure the other container isn't running or delete \(cidfile)")
        }
        if request.hostConfig?.OomKillDisable == true && (request.hostConfig?.Memory ?? 0) == 0 {
            Output.err("WARNING: Disabling the OOM killer on containers without setting a '-m/--memory' limit may be dangerous.")
        }
        if let (h, w) = Terminal.size() { request.hostConfig?.ConsoleSize = [h, w] }
        let image = request.config.Image ?? ""
        let named = familiarTagged(image)
        if flags.pull == "always", named != nil {
            try await pull(client: client, image: image, flags: flags)
        }
        let response: ContainerCreateResponse
        do {
            response = try await client.createContainer(name: flags.name, platform: flags.platform, request)
        } catch let e as BerthClientError where e.isNotFound && flags.pull != "never" && flags.pull != "always" {
            guard let named, e.description.lowercased().contains("no such image") else { throw e }
            if !flags.quiet { Output.err("Unable to find image '\(named)' locally") }
            try await pull(client: client, image: image, flags: flags)
            response = try await client.createContainer(name: flags.name, platform: flags.platform, request)
        }
        for w in response.Warnings { Output.err("WARNING: \(w)") }
        if let cidfile = flags.cidfile, !cidfile.isEmpty {
            let fd = open(cidfile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw CLIError.message("failed to create the container ID file: open \(cidfile): \(String(cString: strerror(errno)).lowercased())")
            }
            defer { close(fd) }
            try Output.write(Array(response.Id.utf8), to: fd)
        }
        return response.Id
    }

    /// Pulls `image`, progress on stderr (nothing with `-q`).
    static func pull(client: BerthClient, image: String, flags: RunFlags) async throws {
        let stream = try await client.pullImage(image, platform: flags.platform)
        if flags.quiet {
            for try await m in stream {
                if let e = m.error ?? m.errorDetail?.message { throw CLIError.message(e) }
            }
            return
        }
        var display = ProgressDisplay(isTerminal: Output.isTerminal(2), fd: 2)
        try await display.run(stream)
    }

    /// The reference docker names in `Unable to find image '…' locally`: familiar form with
    /// `:latest` added (`busybox` → `busybox:latest`, `docker.io/library/x:1` → `x:1`); nil
    /// for image IDs, which are never pulled.
    static func familiarTagged(_ image: String) -> String? {
        if image.isEmpty { return nil }
        let hex = image.hasPrefix("sha256:") ? String(image.dropFirst(7)) : image
        if hex.count == 64 && hex.allSatisfy(\.isHexDigit) { return nil }
        if image.hasPrefix("sha256:") { return nil }
        var name = image
        var suffix = ""
        if let at = name.firstIndex(of: "@") {
            suffix = String(name[at...])
            name = String(name[..<at])
        }
        let hasTag: Bool
        if let colon = name.lastIndex(of: ":"), !name[colon...].contains("/") { hasTag = true } else { hasTag = false }
        for prefix in ["docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/"] where name.hasPrefix(prefix) {
            let rest = String(name.dropFirst(prefix.count))
            // `docker.io/x` (one component) is `library/x`, shown as `x`.
            name = rest
            break
        }
        if name.hasPrefix("library/") && !name.dropFirst(8).contains("/") { name = String(name.dropFirst(8)) }
        if !hasTag && suffix.isEmpty { name += ":latest" }
        return name + suffix
    }

    /// Docker's `toStatusError` for `run`: 127 when the command is not found, 126 when it
    /// cannot be invoked, else 125; the message as `berth: … Run 'berth run --help' …`.
    static func statusError(_ error: any Error, command: String) -> CLIError {
        if let e = error as? CLIError, case .silent = e { return e }
        let message = "\(error)"
        let code: Int32
        if message.contains("executable file not found") || message.contains("no such file or directory")
            || message.contains("system cannot find the file specified") {
            code = 127
        } else if message.contains("permission denied") || message.contains("is a directory") {
            code = 126
        } else {
            code = 125
        }
        return .status("berth: \(message)\n\nRun 'berth \(command) --help' for more information", code)
    }

    /// A flag error as docker's `reportError` prints it, exit 125.
    static func usageError(_ error: FlagError, command: String) -> CLIError {
        var text = error.description
        if text.hasSuffix(".") { text.removeLast() }
        return .status("berth: \(text).\nSee 'berth \(command) --help'.", 125)
    }
}

/// `berth create` / `berth container create`: creates a container and prints its ID.
struct ContainerCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create a new container.", helpNames: [.long])

    @OptionGroup var flags: RunFlags

    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("The image, then the command and its arguments.", valueName: "image [command] [arg...]"))
    var imageAndCommand: [String] = []

    /// The captured words without a leading `--` (which ends the options, as with pflag).
    var positional: [String] { imageAndCommand.first == "--" ? Array(imageAndCommand.dropFirst()) : imageAndCommand }

    func validate() throws {
        if positional.isEmpty { throw ValidationError("\"berth create\" requires at least 1 argument.") }
    }

    func run() async throws {
        let request: ContainerCreateRequest
        do throws(FlagError) {
            try ContainerCreation.validatePull(flags.pull)
            request = try flags.request(image: positional[0], command: Array(positional.dropFirst()), context: .live())
        } catch {
            throw ContainerCreation.usageError(error, command: "create")
        }
        let client = try GlobalOptions.client()
        let id = try await ContainerCreation.create(client: client, request: request, flags: flags)
        Output.out(id)
    }
}
