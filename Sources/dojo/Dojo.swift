import ArgumentParser

@main
struct Dojo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dojo",
        abstract: "Batch transformer inference over documents: encoders, decoders, LoRA, a coordinator and workers.",
        subcommands: [
            CoordinatorCommand.self, WorkerCommand.self, SubmitCommand.self, StatusCommand.self, TopCommand.self,
            ResultsCommand.self, CancelCommand.self, WorkersCommand.self, KeygenCommand.self, RunCommand.self,
            EmbedCommand.self, GenerateCommand.self, TokenizeCommand.self, PerplexityCommand.self, FinetuneCommand.self,
            EvalCommand.self, BenchCommand.self,
        ])

    /// ArgumentParser's own main, with logging set up from the command's options before it runs.
    static func main() {
        do {
            var command = try parseAsRoot()
            try ((command as? LoggingCommand)?.logging ?? LoggingOptions.parse([])).bootstrap()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}
