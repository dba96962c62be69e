import ArgumentParser

@main
struct Dojo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dojo",
        abstract: "Batch transformer inference over documents: encoders, decoders, LoRA, a coordinator and workers.",
        subcommands: [RunCommand.self, EmbedCommand.self, TokenizeCommand.self, BenchCommand.self, FinetuneCommand.self])
}
