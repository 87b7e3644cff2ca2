import ArgumentParser
import BerthAPI
import BerthClient
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `berth attach` / `berth container attach` (docker's `RunAttach`): the wait is registered
/// first, the container must be running, stdin is attached when the container keeps it open
/// (unless `--no-stdin`), and the exit is the container's status.
struct ContainerAttachCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "attach", abstract: "Attach local standard input, output, and error streams to a running container.")

    @Option(name: .long, help: "Override the key sequence for detaching a container.")
    var detachKeys: String?

    @Flag(name: .long, help: "Do not attach STDIN.")
    var noStdin = false

    @Flag(name: .long, inversion: .prefixedNo, help: "Proxy all received signals to the process.")
    var sigProxy = true

    @Argument(help: "The container.")
    var container: String

    func run() async throws {
        let client = try GlobalOptions.client()
        let pending = await AttachFlow.beginWait(client: client, id: container, autoRemove: false)
        let c = try await Self.running(client, container)
        let tty = c.Config.Tty == true
        if tty && !noStdin && isatty(0) != 1 { throw CLIError.message("the input device is not a TTY") }
        var options = BerthClient.AttachOptions()
        options.stdin = !noStdin && c.Config.OpenStdin == true
        options.detachKeys = detachKeys
        if sigProxy && !tty { SignalProxy.start(client: client, container: c.Id) }
        let stream = try await client.attachContainer(c.Id, options: options)
        _ = try await Self.running(client, container)
        if tty && isatty(1) == 1, let (h, w) = Terminal.size() {
            try? await client.resizeContainer(c.Id, height: h, width: w)
        }
        var session = StreamSession(stream: stream, tty: tty, stdin: options.stdin)
        if let keys = detachKeys, let bytes = try? Units.detachKeys(keys) { session.detachKeys = bytes }
        let running = session
        let task = Task { try await running.run() }
        let statusTask = Task { () -> Int32 in
            switch pending {
            case .success(let p):
                do {
                    let r = try await p.result()
                    if let m = r.Error?.Message, !m.isEmpty {
                        Output.err(m)
                        return 1
                    }
                    return Int32(truncatingIfNeeded: r.StatusCode)
                } catch {
                    Output.err("\(error)")
                    return 1
                }
            case .failure(let error):
                Output.err("\(error)")
                return 1
            }
        }
        guard let status = try await AttachFlow.finish(task, stream: stream, status: statusTask) else { return }
        if status != 0 { throw CLIError.silent(status) }
    }

    /// The container's inspect, if it can be attached to.
    static func running(_ client: BerthClient, _ name: String) async throws -> ContainerInspect {
        let c = try await client.inspectContainer(name)
        if !c.State.Running { throw CLIError.message("You cannot attach to a stopped container, start it first") }
        if c.State.Paused { throw CLIError.message("You cannot attach to a paused container, unpause it first") }
        if c.State.Restarting { throw CLIError.message("You cannot attach to a restarting container, wait until it is running") }
        return c
    }
}
