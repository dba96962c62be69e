import ArgumentParser
import DomainTasks
import Foundation
import Kernels
import Logging
import Models
import Wire
import Worker

struct WorkerCommand: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run a worker: pull shards from a coordinator and run their tasks.")

    @Option(help: "Coordinator endpoint.") var connect = "tcp://127.0.0.1:5555"
    @Option(help: "Worker profile (workers/NAME.yaml).") var profile: String?
    @Option(help: "Compute threads (default: the profile's, else all cores).") var threads: Int?
    @Option(help: "Name shown by dojo workers.") var name: String?
    @Option(help: "This worker's CURVE secret key file.") var curveSecret: String?
    @Option(help: "The coordinator's CURVE public key file.") var serverKey: String?
    @Option(help: "Serve this worker's /metrics and /healthz on HOST:PORT, e.g. 127.0.0.1:9101.") var http: String?

    func validate() throws {
        if let http { do { _ = try HTTPAddress(http) } catch { throw ValidationError("\(error)") } }
    }

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        let logger = Logger(label: "dojo.worker")
        let profile = try self.profile.map { try WorkerProfile.load(URL(fileURLWithPath: $0)) } ?? WorkerProfile()
        let threadCount = threads ?? profile.threads ?? ThreadPool.defaultThreadCount
        let pool = ThreadPool(threads: threadCount)
        let models = ModelCache(pool: pool, budgetBytes: profile.memoryMB << 20)
        for model in profile.models {
            if isDecoderModel(model) { _ = try models.decoder(model); continue }
            let encoder = try models.encoder(model, precision: profile.precision)
            for adapter in profile.adapters { _ = try models.adapter(adapter, for: encoder) }
        }
        var curve: (keys: CurveKeyPair, serverPublicKey: String)?
        if let curveSecret {
            guard let serverKey else { throw ValidationError("--curve-secret needs --server-key") }
            curve = (try KeyFiles.readSecret(curveSecret), try KeyFiles.readPublic(serverKey))
        }
        let workerName = name ?? profile.name ?? "\(hostName())-\(getpid())"
        let options = WorkerOptions(endpoint: connect, name: workerName, threads: threadCount,
                                    credits: profile.credits, curve: curve)
        let node = try WorkerNode(options: options, runner: ShardRunner(models: models), models: models)
        logger.info("worker starting", metadata: ["worker": "\(workerName)", "threads": "\(threadCount)", "endpoint": "\(connect)"])
        var web: HTTPEndpoint?
        if let http {
            let address = try HTTPAddress(http)
            let endpoint = HTTPEndpoint()
            let port = try endpoint.start(WorkerHTTP.router(metrics: node.metrics), address: address, logger: Logger(label: "dojo.http"))
            logger.info("metrics on HTTP", metadata: ["address": "\(HTTPAddress(host: address.host, port: port))"])
            web = endpoint
        }
        defer { web?.stop() }
        let stop = StopSignal()
        try node.run(shouldStop: { stop.isSet })
    }
}
