// Worker: the one module that joins the two sides. It pulls shards over Wire and runs
// DomainTasks with Models on them.
//
//   WorkerNode     the I/O loop: connect, hello, credits, heartbeats, reconnect with backoff, SIGTERM
//   ShardRunner    one shard: decompress, parse, run the task, compress the records
//   ModelCache     models and adapters keyed by content, least-recently-used under a memory budget
//   WorkerProfile  workers/NAME.yaml: models to preload, threads, memory budget
//   CPUFeatures    what the machine can do, reported in hello
