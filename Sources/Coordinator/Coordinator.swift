// Coordinator: the broker loop, job store, spool, shards, leases and output writer, and the
// client API the CLI uses. Control side only: never imports kernels or models.
//
//   Broker            the loop over a Wire `Transport` (ROUTER): decode, dispatch, tick
//   Scheduler         credits, leases, heartbeats, retries, splits, quarantine, stragglers
//   JobStore          SQLite (WAL) under the data dir: jobs, shards, attempts, workers, counters
//   SpoolWriter       a job's input to DIR/jobs/<job>/input.jsonl, cut into shards on the way
//   ShardReader       a shard's byte range back: documents, worker payload, halves
//   OutputWriter      DIR/jobs/<job>/output/<shard>.jsonl.lz4, exactly once; merge in input order
//   Policy            every timing and retry constant
//   CoordinatorClient submit / status / results / cancel / workers, for `dojo`
import Wire
