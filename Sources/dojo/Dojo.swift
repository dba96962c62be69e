import ArgumentParser

@main
struct Dojo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dojo",
        abstract: "Batch transformer inference over documents: encoders, decoders, LoRA, a coordinator and workers.",
        subcommands: [
            CoordinatorCommand.self, WorkerCommand.self, SubmitCommand.self, StatusCommand.self, ResultsCommand.self,
            CancelCommand.self, WorkersCommand.self, KeygenCommand.self, RunCommand.self, EmbedCommand.self,
            GenerateCommand.self, TokenizeCommand.self, PerplexityCommand.self, FinetuneCommand.self, EvalCommand.self, BenchCommand.self,
        ])
}
