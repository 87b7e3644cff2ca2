import ArgumentParser
import BerthClient

/// Runs `operation` for every name concurrently (docker's `parallelOperation`) and reports in
/// the given order: the name on stdout on success, errors collected and printed at the end
/// (exit 1).
func forEachContainer(
    _ names: [String], ignoreNotFound: Bool = false, _ operation: @escaping @Sendable (BerthClient, String) async throws -> Void
) async throws {
    let client = try GlobalOptions.client()
    let results = await withTaskGroup(of: (Int, (any Error)?).self) { group in
        for (i, name) in names.enumerated() {
            group.addTask {
                do { try await operation(client, name); return (i, nil) } catch { return (i, error) }
            }
        }
        var out = [(any Error)?](repeating: nil, count: names.count)
        for await (i, e) in group { out[i] = e }
        return out
    }
    var errors: [String] = []
    for (name, error) in zip(names, results) {
        guard let error else {
            Output.out(name)
            continue
        }
        if case .cannotConnect = error as? BerthClientError { throw error }
        if ignoreNotFound, let e = error as? BerthClientError, e.isNotFound {
            Output.err(e.description)
            continue
        }
        errors.append("\(error)")
    }
    if !errors.isEmpty { throw CLIError.message(errors.joined(separator: "\n")) }
}

/// `berth stop` / `berth container stop`.
struct ContainerStopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stop", abstract: "Stop one or more running containers.")

    @Option(name: [.short, .long], help: "Signal to send to the container.")
    var signal: String?

    @Option(name: [.customShort("t"), .customLong("timeout"), .customLong("time")], parsing: .unconditional, help: "Seconds to wait before killing the container.")
    var timeout: Int?

    @Argument(help: "Containers to stop.")
    var containers: [String] = []

    func validate() throws {
        if containers.isEmpty { throw ValidationError("\"berth stop\" requires at least 1 argument.") }
    }

    func run() async throws {
        let (signal, timeout) = (self.signal, self.timeout)
        try await forEachContainer(containers) { client, name in
            try await client.stopContainer(name, t: timeout, signal: signal)
        }
    }
}

/// `berth restart` / `berth container restart`.
struct ContainerRestartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restart", abstract: "Restart one or more containers.")

    @Option(name: [.short, .long], help: "Signal to send to the container.")
    var signal: String?

    @Option(name: [.customShort("t"), .customLong("timeout"), .customLong("time")], parsing: .unconditional, help: "Seconds to wait before killing the container.")
    var timeout: Int?

    @Argument(help: "Containers to restart.")
    var containers: [String] = []

    func validate() throws {
        if containers.isEmpty { throw ValidationError("\"berth restart\" requires at least 1 argument.") }
    }

    func run() async throws {
        let (signal, timeout) = (self.signal, self.timeout)
        try await forEachContainer(containers) { client, name in
            try await client.restartContainer(name, t: timeout, signal: signal)
        }
    }
}

/// `berth kill` / `berth container kill`.
struct ContainerKillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kill", abstract: "Kill one or more running containers.")

    @Option(name: [.short, .long], help: "Signal to send to the container.")
    var signal: String?

    @Argument(help: "Containers to kill.")
    var containers: [String] = []

    func validate() throws {
        if containers.isEmpty { throw ValidationError("\"berth kill\" requires at least 1 argument.") }
    }

    func run() async throws {
        let signal = self.signal
        try await forEachContainer(containers) { client, name in
            try await client.killContainer(name, signal: signal)
        }
    }
}

/// `berth rm` / `berth container rm`: with `-f`, a missing container is reported but is not a
/// failure.
struct ContainerRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove one or more containers.", aliases: ["remove"])

    @Flag(name: [.short, .long], help: "Force the removal of a running container (uses SIGKILL).")
    var force = false

    @Flag(name: [.short, .long], help: "Remove the specified link.")
    var link = false

    @Flag(name: [.short, .long], help: "Remove anonymous volumes associated with the container.")
    var volumes = false

    @Argument(help: "Containers to remove.")
    var containers: [String] = []

    func validate() throws {
        if containers.isEmpty { throw ValidationError("\"berth rm\" requires at least 1 argument.") }
    }

    func run() async throws {
        let (force, volumes, link) = (self.force, self.volumes, self.link)
        try await forEachContainer(containers, ignoreNotFound: force) { client, name in
            var id = Substring(name)
            while id.first == "/" { id = id.dropFirst() }
            while id.last == "/" { id = id.dropLast() }
            if id.isEmpty { throw CLIError.message("container name cannot be empty") }
            try await client.removeContainer(String(id), force: force, volumes: volumes, link: link)
        }
    }
}

/// `berth wait` / `berth container wait`: prints each container's exit code.
struct ContainerWaitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "wait", abstract: "Block until one or more containers stop, then print their exit codes.")

    @Argument(help: "Containers to wait for.")
    var containers: [String] = []

    func validate() throws {
        if containers.isEmpty { throw ValidationError("\"berth wait\" requires at least 1 argument.") }
    }

    func run() async throws {
        let client = try GlobalOptions.client()
        var errors: [String] = []
        for name in containers {
            do {
                let r = try await client.waitContainer(name)
                Output.out(String(r.StatusCode))
            } catch let e as BerthClientError {
                if case .cannotConnect = e { throw e }
                errors.append(e.description)
            }
        }
        if !errors.isEmpty { throw CLIError.message(errors.joined(separator: "\n")) }
    }
}
