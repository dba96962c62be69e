import ArgumentParser
import Console
import Foundation
import Logging

extension Logger.Level: @retroactive ExpressibleByArgument {}
extension LogFormat: ExpressibleByArgument {}

/// `--log-level` and `--log-format`, taken by every subcommand.
struct LoggingOptions: ParsableArguments {
    @Option(help: "Least severe level logged (default: $DOJO_LOG_LEVEL, else info).")
    var logLevel: Logger.Level?
    @Option(help: "Log lines on stderr as text, or as one JSON object per line (default: $DOJO_LOG_FORMAT, else text).")
    var logFormat: LogFormat?

    /// Sends every logger of the process to stderr at the chosen level and format. Once per process.
    func bootstrap() throws {
        let env = ProcessInfo.processInfo.environment
        var level = Logger.Level.info
        if let logLevel { level = logLevel } else if let name = env["DOJO_LOG_LEVEL"], !name.isEmpty {
            guard let parsed = Logger.Level(rawValue: name.lowercased()) else {
                throw CLIError("DOJO_LOG_LEVEL=\(name) is not a level; use one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            level = parsed
        }
        var format = LogFormat.text
        if let logFormat { format = logFormat } else if let name = env["DOJO_LOG_FORMAT"], !name.isEmpty {
            guard let parsed = LogFormat(rawValue: name.lowercased()) else {
                throw CLIError("DOJO_LOG_FORMAT=\(name) is not a format; use text or json")
            }
            format = parsed
        }
        LoggingSystem.bootstrap { label in DojoLogHandler(label: label, level: level, format: format) }
    }
}

/// A command with the logging options; `Dojo.main` bootstraps logging from them before it runs.
protocol LoggingCommand {
    var logging: LoggingOptions { get }
}
