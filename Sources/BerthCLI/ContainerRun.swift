import ArgumentParser
import BerthAPI
import BerthClient
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `berth run` / `berth container run`, docker's flow: create (pulling a missing image),
/// attach unless `-d` (stdin only with `-i`), register `wait?condition=next-exit` (`removed`
/// with `--rm`) before the start, start, stream until the attach stream ends, exit with the
/// container's status. With `-d` the full ID is printed. Daemon refusals exit 125, a command
/// that cannot be invoked 126, one not found 127.
struct ContainerRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Create and run a new container from an image.", helpNames: [.long])

    @OptionGroup var flags: RunFlags

    @Flag(name: [.short, .long], help: "Run container in background and print container ID.")
    var detach = false

    @Flag(name: .long, inversion: .prefixedNo, help: "Proxy received signals to the process.")
    var sigProxy = true

    @Option(name: .long, help: "Override the key sequence for detaching a container.")
    var detachKeys: String?

    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("The image, then the command and its arguments.", valueName: "image [command] [arg...]"))
    var imageAndCommand: [String] = []

    /// The captured words without a leading `--` (which ends the options, as with pflag).
    var positional: [String] { imageAndCommand.first == "--" ? Array(imageAndCommand.dropFirst()) : imageAndCommand }

    func validate() throws {
        if positional.isEmpty { throw ValidationError("\"berth run\" requires at least 1 argument.") }
    }

    func run() async throws {
        var request: ContainerCreateRequest
        do throws(FlagError) {
            try ContainerCreation.validatePull(flags.pull)
            request = try flags.request(image: positional[0], command: Array(positional.dropFirst()), context: .live())
            if let detachKeys { _ = try parseFlag(detachKeys, "--detach-keys", Units.detachKeys) }
        } catch {
            throw ContainerCreation.usageError(error, command: "run")
        }
        let tty = flags.tty
        if !detach {
            if tty && request.config.AttachStdin == true && isatty(0) != 1 {
                throw CLIError.message("the input device is not a TTY")
            }
        } else {
            if !flags.attach.isEmpty { throw CLIError.message("conflicting options: cannot specify both --attach and --detach") }
            request.config.AttachStdin = false
            request.config.AttachStdout = false
            request.config.AttachStderr = false
            request.config.StdinOnce = false
        }
        let client = try GlobalOptions.client()
        let id: String
        do {
            id = try await ContainerCreation.create(client: client, request: request, flags: flags)
        } catch {
            throw ContainerCreation.statusError(error, command: "run")
        }
        if sigProxy && !tty { SignalProxy.start(client: client, container: id) }

        let attachStdin = request.config.AttachStdin == true
        let attach = attachStdin || request.config.AttachStdout == true || request.config.AttachStderr == true
        var session: (task: Task<StreamSession.End, any Error>, stream: AttachedStream)?
        if attach {
            var options = BerthClient.AttachOptions()
            options.stdin = attachStdin
            options.stdout = request.config.AttachStdout == true
            options.stderr = request.config.AttachStderr == true
            options.detachKeys = detachKeys
            let stream = try await client.attachContainer(id, options: options)
            var s = StreamSession(stream: stream, tty: tty, stdin: attachStdin)
            if let keys = detachKeys, let bytes = try? Units.detachKeys(keys) { s.detachKeys = bytes }
            let running = s
            session = (Task { try await running.run() }, stream)
        } else {
            Output.out(id)
        }

        let pending = await AttachFlow.beginWait(client: client, id: id, autoRemove: flags.rm)
        let statusTask = Task { await AttachFlow.status(pending) }
        do {
            try await client.startContainer(id)
        } catch {
            if let session {
                await session.stream.close()
                _ = try? await session.task.value
            }
            if flags.rm { _ = await statusTask.value }
            throw ContainerCreation.statusError(error, command: "run")
        }
        guard let session else { return }
        if tty && isatty(1) == 1 {
            await Terminal.monitorSize { h, w in try await client.resizeContainer(id, height: h, width: w) }
        }
        guard let status = try await AttachFlow.finish(session.task, stream: session.stream, status: statusTask) else { return }
        if status != 0 { throw CLIError.silent(status) }
    }
}
