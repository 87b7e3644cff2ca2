import ArgumentParser
import BerthAPI
import BerthClient

/// `berth logs` / `berth container logs`: the container's log, stdout and stderr kept apart
/// (demultiplexed) unless the container has a TTY, then copied raw.
struct ContainerLogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logs", abstract: "Fetch the logs of a container.")

    @Flag(name: .long, help: "Show extra details provided to logs.")
    var details = false

    @Flag(name: [.short, .long], help: "Follow log output.")
    var follow = false

    @Option(name: .long, help: "Show logs since timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes).")
    var since: String?

    @Option(name: [.customShort("n"), .long], help: "Number of lines to show from the end of the logs (default \"all\").")
    var tail: String = "all"

    @Flag(name: [.short, .long], help: "Show timestamps.")
    var timestamps = false

    @Option(name: .long, help: "Show logs before a timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes).")
    var until: String?

    @Argument(help: "The container.")
    var container: String

    func run() async throws {
        let client = try GlobalOptions.client()
        let c = try await client.inspectContainer(container)
        var options = BerthClient.LogsOptions()
        let now = Format.nowNanos()
        do {
            options.since = try since.map { try TimeArg.timestamp($0, nowNanos: now) }
            options.until = try until.map { try TimeArg.timestamp($0, nowNanos: now) }
        } catch {
            throw CLIError.message("\(error)")
        }
        options.follow = follow
        options.timestamps = timestamps
        options.tail = tail
        options.details = details
        let body = try await client.containerLogs(c.Id, options: options)
        let tty = c.Config.Tty == true
        var demuxer = StdcopyDemuxer()
        do {
            for try await chunk in body {
                if tty {
                    try await StreamSession.write(chunk, to: 1)
                    continue
                }
                for frame in try demuxer.feed(chunk) {
                    try await StreamSession.write(frame.payload, to: frame.stream == StdStream.stderr ? 2 : 1)
                }
            }
        } catch let e as StdcopyDemuxer.FormatError {
            throw CLIError.message("error from daemon in stream: \(e.description)")
        }
    }
}
