import ArgumentParser
import BerthAPI
import BerthClient
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `berth exec` / `berth container exec` (docker's `RunExec`): inspect the container (so a
/// missing one is reported first), create the exec, start it attached (or detached with `-d`),
/// stream, then exit with the process's exit code from exec inspect (126/127 come from the
/// daemon when the command cannot be run or found).
struct ContainerExecCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "exec", abstract: "Execute a command in a running container.")

    @Flag(name: [.short, .long], help: "Detached mode: run command in the background.")
    var detach = false

    @Option(name: .long, help: "Override the key sequence for detaching a container.")
    var detachKeys: String?

    @Option(name: [.short, .long], help: "Set environment variables.")
    var env: [String] = []

    @Option(name: .long, help: "Read in a file of environment variables.")
    var envFile: [String] = []

    @Flag(name: [.short, .long], help: "Keep STDIN open even if not attached.")
    var interactive = false

    @Flag(name: .long, help: "Give extended privileges to the command.")
    var privileged = false

    @Flag(name: [.short, .long], help: "Allocate a pseudo-TTY.")
    var tty = false

    @Option(name: [.short, .long], help: "Username or UID (format: \"<name|uid>[:<group|gid>]\").")
    var user: String?

    @Option(name: [.short, .long], help: "Working directory inside the container.")
    var workdir: String?

    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("The container, then the command and its arguments.", valueName: "container command [arg...]"))
    var containerAndCommand: [String] = []

    /// The captured words without a leading `--` (which ends the options, as with pflag).
    var positional: [String] { containerAndCommand.first == "--" ? Array(containerAndCommand.dropFirst()) : containerAndCommand }

    func validate() throws {
        if positional.count < 2 { throw ValidationError("\"berth exec\" requires at least 2 arguments.") }
    }

    /// The exec create body (docker's `parseExec`).
    func request(context: RunContext) throws(FlagError) -> ExecCreateRequest {
        var r = ExecCreateRequest()
        r.User = user
        r.Privileged = privileged
        r.Tty = tty
        r.AttachStdin = interactive
        r.AttachStdout = !detach
        r.AttachStderr = !detach
        r.WorkingDir = workdir
        r.Cmd = Array(positional.dropFirst())
        r.DetachKeys = detachKeys
        var environment: [String] = []
        for file in envFile {
            do {
                let text = try context.readFile(file)
                environment += try EnvFile.parse(text, file: file, lookup: context.lookupEnv)
            } catch {
                throw FlagError.invalid(file, "--env-file", error)
            }
        }
        for e in env {
            do { environment.append(try EnvFile.validate(e, lookup: context.lookupEnv)) } catch {
                throw FlagError.invalid(e, "-e, --env", error)
            }
        }
        if !environment.isEmpty { r.Env = environment }
        if tty, let (h, w) = Terminal.size() { r.ConsoleSize = [h, w] }
        return r
    }

    func run() async throws {
        let request: ExecCreateRequest
        do throws(FlagError) {
            request = try self.request(context: .live())
            if let detachKeys { _ = try parseFlag(detachKeys, "--detach-keys", Units.detachKeys) }
        } catch {
            throw ContainerCreation.usageError(error, command: "exec")
        }
        let client = try GlobalOptions.client()
        let container = positional[0]
        _ = try await client.inspectContainer(container)
        if !detach && tty && interactive && isatty(0) != 1 { throw CLIError.message("the input device is not a TTY") }
        let id = try await client.execCreate(container, request).Id
        if id.isEmpty { throw CLIError.message("exec ID empty") }
        if detach {
            try await client.execStartDetached(id, tty: tty, consoleSize: request.ConsoleSize)
            return
        }
        let stream = try await client.execStart(id, tty: tty, consoleSize: request.ConsoleSize)
        var session = StreamSession(stream: stream, tty: tty, stdin: interactive)
        if tty { session.stderrFD = 1 }
        if let keys = detachKeys, let bytes = try? Units.detachKeys(keys) { session.detachKeys = bytes }
        let running = session
        let task = Task { try await running.run() }
        if tty && isatty(0) == 1 {
            await Terminal.monitorSize { h, w in try await client.execResize(id, height: h, width: w) }
        }
        let end = try await task.value
        await stream.close()
        if end == .detached { return }
        let inspect: ExecInspect
        do { inspect = try await client.execInspect(id) } catch let e as BerthClientError {
            if case .cannotConnect = e { throw CLIError.silent(-1) }
            throw e
        }
        if let code = inspect.ExitCode, code != 0 { throw CLIError.silent(Int32(truncatingIfNeeded: code)) }
    }
}
