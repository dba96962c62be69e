// Coordinator: the broker loop, job store, spool, shards, leases and output
// writer. Control side only: never imports kernels or models.
import Wire
