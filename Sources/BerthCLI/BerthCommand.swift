import ArgumentParser
import BerthAPI
import BerthClient
import BerthCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The `berth` command: docker-compatible verbs over the Docker Engine API.
///
/// The executable calls ``runMain()``, which parses the arguments, runs the command and maps
/// errors to docker's output and exit codes: daemon errors print
/// `Error response from daemon: <message>` and exit 1; usage errors exit 125.
public struct BerthCommand: AsyncParsableCommand {
    /// The command tree.
    public static let configuration = CommandConfiguration(
        commandName: "berth",
        abstract: "A self-sufficient runtime for containers (Berth).",
        version: BerthCommand.clientVersion,
        subcommands: [
            ContainerRunCommand.self, ContainerExecCommand.self, PsCommand.self, ContainerCreateCommand.self,
            ContainerStartCommand.self, ContainerStopCommand.self, ContainerRestartCommand.self, ContainerKillCommand.self,
            ContainerRemoveCommand.self, ContainerLogsCommand.self, ContainerAttachCommand.self, ContainerWaitCommand.self,
            ContainerCommand.self, ImageCommand.self, VolumeCommand.self, NetworkCommand.self, VMCommand.self, SystemCommand.self,
            ImagesCommand.self, RmiCommand.self, TagCommand.self, LoadCommand.self, SaveCommand.self,
            ImportCommand.self, HistoryCommand.self, InspectCommand.self,
            VersionCommand.self, InfoCommand.self, EventsCommand.self,
            ContainerPauseCommand.self, ContainerUnpauseCommand.self, ContainerRenameCommand.self, ContainerTopCommand.self,
            ContainerPortCommand.self, ContainerDiffCommand.self, ContainerExportCommand.self, ContainerUpdateCommand.self,
            ContainerStatsCommand.self, BuildCommand.self, CommitCommand.self, PullCommand.self, PushCommand.self,
            LoginCommand.self, LogoutCommand.self,
        ])

    /// The client's version.
    public static let clientVersion = "0.3.0"

    /// Daemon socket to connect to (before the subcommand: `berth -H unix:///… images`).
    @Option(name: [.customShort("H"), .long], help: "Daemon socket to connect to (unix:///path).")
    var host: String?

    /// Makes the command (argument parser).
    public init() {}

    /// Parses `CommandLine.arguments`, runs the command and exits with docker's codes.
    public static func runMain() async {
        await runMain(Array(CommandLine.arguments.dropFirst()))
    }

    /// Parses `arguments` (without the program name), runs the command and exits.
    public static func runMain(_ arguments: [String]) async {
        GlobalOptions.set(host: GlobalOptions.leadingHost(arguments))
        let command: any ParsableCommand
        do {
            command = try parseAsRoot(ArgumentRewriter.rewrite(arguments))
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                Output.out(fullMessage(for: error))
                Glibc.exit(0)
            }
            Output.err(fullMessage(for: error))
            Glibc.exit(125)
        }
        do {
            if var c = command as? any AsyncParsableCommand {
                try await c.run()
            } else {
                var c = command
                try c.run()
            }
            Glibc.exit(0)
        } catch let e as ExitCode {
            Glibc.exit(e.rawValue)
        } catch let e as CLIError {
            switch e {
            case .silent(let code): Glibc.exit(code)
            case .status(let message, let code):
                Output.err(message)
                Glibc.exit(code)
            case .message: break
            }
            Output.err(e.description)
            Glibc.exit(1)
        } catch let e as BerthClientError {
            Output.err(e.description)
            Glibc.exit(1)
        } catch let e as BerthError {
            Output.err("Error: \(e.description)")
            Glibc.exit(1)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                // --help, --version, or a command group run without a subcommand.
                Output.out(fullMessage(for: error))
                Glibc.exit(0)
            }
            if code.rawValue != 64 {
                Output.err(fullMessage(for: error))
                Glibc.exit(code.rawValue)
            }
            let message = fullMessage(for: error)
            Output.err(message.isEmpty ? "\(error)" : message)
            Glibc.exit(code.rawValue == 64 ? 125 : 1)
        }
    }
}

/// CLI-level failures.
enum CLIError: Error, CustomStringConvertible {
    /// Printed as is, exit 1.
    case message(String)
    /// Already reported; exit with the code.
    case silent(Int32)
    /// Printed as is, exit with the code (`run`: 125 daemon refused, 126/127 cannot run).
    case status(String, Int32)

    var description: String {
        switch self {
        case .message(let m): return m
        case .silent(let c): return "exit status \(c)"
        case .status(let m, _): return m
        }
    }
}

/// The global `-H/--host` option: parsed from the arguments before the subcommand, since the
/// argument parser does not hand parent options to subcommands.
enum GlobalOptions {
    private static let hostBox = HostBox()

    final class HostBox: @unchecked Sendable {
        // @unchecked: written once in `main` before any command runs, read afterwards.
        var host: String?
    }

    static func set(host: String?) { hostBox.host = host }

    /// `-H x`, `-Hx`, `--host x`, `--host=x` among the options before the first non-option.
    static func leadingHost(_ args: [String]) -> String? {
        var host: String?
        var i = 0
        while i < args.count {
            let a = args[i]
            if a == "-H" || a == "--host" {
                if i + 1 < args.count { host = args[i + 1] }
                i += 2
                continue
            }
            if a.hasPrefix("--host=") { host = String(a.dropFirst(7)) } else if a.hasPrefix("-H") { host = String(a.dropFirst(2)) } else if !a.hasPrefix("-") { break }
            i += 1
        }
        return host
    }

    /// The environment as a dictionary.
    static func environment() -> [String: String] {
        var env: [String: String] = [:]
        for name in ["BERTH_HOST", "DOCKER_HOST"] {
            if let v = getenv(name) { env[name] = String(cString: v) }
        }
        return env
    }

    /// A client for the daemon chosen by `-H`, `BERTH_HOST`, `DOCKER_HOST` or the default.
    static func client() throws -> BerthClient {
        try BerthClient(host: BerthClient.resolveHost(explicit: hostBox.host, environment: environment()))
    }
}

/// `--filter k=v` values as API filters.
func parseFilters(_ list: [String]) throws -> Filters {
    var f = Filters()
    for item in list {
        guard let eq = item.firstIndex(of: "=") else {
            throw CLIError.message("bad format of filter (expected name=value)")
        }
        let key = String(item[..<eq]).lowercased()
        f.values[key, default: []].append(String(item[item.index(after: eq)...]))
    }
    return f
}

/// Asks a yes/no question on stdin (docker's `PromptForConfirmation`).
func confirm(_ message: String) -> Bool {
    Output.out(message + " [y/N] ", terminator: "")
    guard let line = readLine() else { return false }
    let answer = line.trimmingSpacesString().lowercased()
    return answer == "y" || answer == "yes"
}
