import ArgumentParser
import Coordinator
import Foundation
import Logging
import Wire

struct CoordinatorCommand: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Run the coordinator: take jobs, shard them to workers, write their outputs exactly once.")

    @Option(help: "ZeroMQ endpoint to bind.") var listen = "tcp://127.0.0.1:5555"
    @Option(help: "Data directory (job store, spool, outputs).") var data: String
    @Option(help: "This coordinator's CURVE secret key file (dojo keygen); enables CURVE.") var curveSecret: String?
    @Option(help: "Directory of .pub files allowed to connect (workers and clients).") var authorizedKeys: String?
    @Flag(help: "Allow binding a non-loopback address without CURVE.") var insecure = false
    @Option(help: "Heartbeat interval in milliseconds.") var heartbeatMs: UInt64 = 1_000
    @Option(help: "Missed heartbeats before a worker is declared lost.") var liveness: UInt64 = 3
    @Option(help: "Serve /metrics, /healthz, the JSON API (/api/jobs, /api/workers, /api/throughput) and the dashboard at / on HOST:PORT, e.g. 127.0.0.1:8080.")
    var http: String?

    func validate() throws {
        if let http { do { _ = try HTTPAddress(http) } catch { throw ValidationError("\(error)") } }
        if curveSecret != nil && authorizedKeys == nil {
            throw ValidationError("--curve-secret needs --authorized-keys DIR (the .pub files allowed in)")
        }
        if curveSecret == nil && !isLoopback(listen) && !insecure {
            throw ValidationError("\(listen) is reachable from other machines; use CURVE (--curve-secret, --authorized-keys) or pass --insecure")
        }
    }

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        let logger = Logger(label: "dojo.coordinator")
        let context = try ZMQContext()
        var zap: ZAPHandler?
        let socket = try context.socket(.router)
        try socket.set([.linger(ms: 0), .maxMessageSize(bytes: 1 << 31), .sendHighWaterMark(messages: 100_000),
                        .receiveHighWaterMark(messages: 100_000), .routerMandatory(true)])
        if let curveSecret, let authorizedKeys {
            // The ZAP handler must be listening before the server socket binds.
            let allowed = try KeyFiles.readDirectory(authorizedKeys)
            zap = try ZAPHandler(context: context, allowedPublicKeys: allowed)
            try socket.makeCurveServer(try KeyFiles.readSecret(curveSecret))
            logger.info("CURVE on", metadata: ["authorized_keys": "\(allowed.count)"])
        }
        do { try socket.bind(listen) } catch {
            throw CLIError("cannot listen on \(listen): \(error); is another coordinator running there?")
        }
        var policy = Policy()
        policy.heartbeatIntervalMs = heartbeatMs
        policy.heartbeatLiveness = liveness
        let broker = try Broker(transport: socket, dataDirectory: URL(fileURLWithPath: data), policy: policy,
                                clock: SystemClock(), name: hostName())
        logger.info("coordinator listening", metadata: ["endpoint": "\(listen)", "data": "\(data)"])
        var web: HTTPEndpoint?
        if let http {
            let address = try HTTPAddress(http)
            let endpoint = HTTPEndpoint()
            let port = try endpoint.start(CoordinatorHTTP.router(store: broker.store, live: broker.live, metrics: broker.metrics),
                                          address: address, logger: Logger(label: "dojo.http"))
            logger.info("dashboard and metrics on HTTP", metadata: ["address": "\(HTTPAddress(host: address.host, port: port))"])
            web = endpoint
        }
        let stop = StopSignal()
        broker.run(until: { stop.isSet })
        web?.stop()
        logger.info("coordinator stopped")
        zap?.stop()
        socket.close()
    }
}
