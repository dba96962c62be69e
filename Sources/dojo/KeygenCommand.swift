import ArgumentParser
import Wire

struct KeygenCommand: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Write a CURVE key pair: NAME.key (secret, mode 600) and NAME.pub (public).")

    @Option(name: [.short, .customLong("output")], help: "Path prefix of the two files.") var output: String

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        let keys = try CurveKeyPair.generate()
        try KeyFiles.write(keys, prefix: output)
        print("wrote \(output).key and \(output).pub (public key \(keys.publicKey))")
    }
}
