import BerthCLI

await BerthCommand.runMain()
