import ArgumentParser

/// `berth container …`: the container verbs, also available at the top level
/// (`berth container ls` is `berth ps`).
struct ContainerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "container", abstract: "Manage containers.",
        subcommands: [
            ContainerListCommand.self, ContainerRunCommand.self, ContainerCreateCommand.self, ContainerStartCommand.self,
            ContainerStopCommand.self, ContainerRestartCommand.self, ContainerKillCommand.self, ContainerRemoveCommand.self,
            ContainerLogsCommand.self, ContainerExecCommand.self, ContainerAttachCommand.self, ContainerInspectCommand.self,
            ContainerWaitCommand.self, ContainerPauseCommand.self, ContainerUnpauseCommand.self, ContainerRenameCommand.self,
            ContainerTopCommand.self, ContainerPortCommand.self, ContainerDiffCommand.self, ContainerExportCommand.self, CommitCommand.self,
            ContainerUpdateCommand.self, ContainerStatsCommand.self, ContainerPruneCommand.self,
        ])
}
