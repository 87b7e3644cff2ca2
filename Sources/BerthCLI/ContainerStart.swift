import ArgumentParser
import BerthAPI
import BerthClient
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `berth start` / `berth container start`: without `-a`/`-i`, starts each container and
/// prints its name; with them, attaches to the one container, starts it and exits with its
/// status (docker's `RunStart`).
struct ContainerStartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "Start one or more stopped containers.")

    @Flag(name: [.short, .long], help: "Attach STDOUT/STDERR and forward signals.")
    var attach = false

    @Flag(name: [.short, .long], help: "Attach container's STDIN.")
    var interactive = false

    @Option(name: .long, help: "Override the key sequence for detaching a container.")
    var detachKeys: String?

    @Argument(help: "Containers to start.")
    var containers: [String] = []

    func validate() throws {
        if containers.isEmpty { throw ValidationError("\"berth start\" requires at least 1 argument.") }
    }

    func run() async throws {
        guard attach || interactive else {
            try await startAll()
            return
        }
        guard containers.count == 1 else { throw CLIError.message("you cannot start and attach multiple containers at once") }
        let client = try GlobalOptions.client()
        let c = try await client.inspectContainer(containers[0])
        let tty = c.Config.Tty == true
        if !tty { SignalProxy.start(client: client, container: c.Id) }
        var options = BerthClient.AttachOptions()
        options.stdin = interactive && c.Config.OpenStdin == true
        options.detachKeys = detachKeys
        if tty && options.stdin && isatty(0) != 1 { throw CLIError.message("the input device is not a TTY") }
        let stream = try await client.attachContainer(c.Id, options: options)
        var session = StreamSession(stream: stream, tty: tty, stdin: options.stdin)
        if let keys = detachKeys, let bytes = try? Units.detachKeys(keys) { session.detachKeys = bytes }
        let running = session
        let task = Task { try await running.run() }
        let pending = await AttachFlow.beginWait(client: client, id: c.Id, autoRemove: c.HostConfig.AutoRemove == true)
        let statusTask = Task { await AttachFlow.status(pending) }
        do {
            try await client.startContainer(c.Id)
        } catch {
            await stream.close()
            _ = try? await task.value
            if c.HostConfig.AutoRemove == true { _ = await statusTask.value }
            throw error
        }
        if tty && isatty(1) == 1 {
            await Terminal.monitorSize { h, w in try await client.resizeContainer(c.Id, height: h, width: w) }
        }
        guard let status = try await AttachFlow.finish(task, stream: stream, status: statusTask) else { return }
        if status != 0 { throw CLIError.silent(status) }
    }

    /// Starts every container, printing each name; failures are listed at the end.
    func startAll() async throws {
        let client = try GlobalOptions.client()
        var failed: [String] = []
        for name in containers {
            do {
                try await client.startContainer(name)
                Output.out(name)
            } catch let e as BerthClientError {
                if case .cannotConnect = e { throw e }
                Output.err(e.description)
                failed.append(name)
            }
        }
        if !failed.isEmpty { throw CLIError.message("Error: failed to start containers: \(failed.joined(separator: ", "))") }
    }
}
