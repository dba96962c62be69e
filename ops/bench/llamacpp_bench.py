"""llama.cpp's side of ops/bench/decoder-vs-llamacpp, through llama-cpp-python's C API.

Measures what `dojo bench decoder` measures, the way llama-bench and llama-batched-bench do:
prompt processing of PP tokens in one batch; then, for each parallelism N, N sequences of a
32-token prompt each generating TG tokens in one batch per step (a dummy token per sequence and
step, as llama-batched-bench feeds; the logits are computed and not sampled). Flash attention on.
Prints one JSON object per line with the keys `dojo bench decoder --json` prints (medians).

  python llamacpp_bench.py MODEL.gguf --threads 2 --pp 512 --tg 64 --parallel 1,16 --repeat 7
"""
import argparse
import json
import statistics
import time

import llama_cpp as L


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--pp", type=int, default=512)
    ap.add_argument("--tg", type=int, default=64)
    ap.add_argument("--parallel", default="1,16")
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    levels = [int(x) for x in a.parallel.split(",") if x.strip()]
    prompt = 32

    L.llama_backend_init()
    load = getattr(L, "llama_model_load_from_file", None) or L.llama_load_model_from_file
    model = load(a.model.encode(), L.llama_model_default_params())
    vocab = L.llama_model_get_vocab(model) if hasattr(L, "llama_model_get_vocab") else None

    def context(n_seq, n_ctx):
        p = L.llama_context_default_params()
        p.n_ctx = n_ctx
        p.n_batch = max(a.pp, n_seq * prompt, 512)
        p.n_ubatch = p.n_batch
        p.n_seq_max = n_seq
        p.n_threads = p.n_threads_batch = a.threads
        if hasattr(p, "flash_attn_type"):
            p.flash_attn_type = 1  # LLAMA_FLASH_ATTN_TYPE_ENABLED
        else:
            p.flash_attn = True
        if hasattr(p, "kv_unified"):
            p.kv_unified = True  # one cache of n_ctx cells shared by the sequences, as llama-batched-bench
        make = getattr(L, "llama_init_from_model", None) or L.llama_new_context_with_model
        return make(model, p)

    def clear(ctx):
        if hasattr(L, "llama_get_memory"):
            L.llama_memory_clear(L.llama_get_memory(ctx), True)
        else:
            L.llama_kv_self_clear(ctx)

    batch = L.llama_batch_init(max(a.pp, max(levels) * prompt, 512), 0, max(levels))

    def fill(tokens):
        batch.n_tokens = 0
        for tok, pos, seq, logits in tokens:
            i = batch.n_tokens
            batch.token[i] = tok
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = logits
            batch.n_tokens += 1

    def decode(ctx):
        rc = L.llama_decode(ctx, batch)
        if rc != 0:
            raise SystemExit(f"llama_decode failed: {rc}")

    # Prompt processing: PP tokens of one sequence in one batch, logits for the last.
    ctx = context(1, a.pp + 16)
    rates = []
    for r in range(a.repeat + 1):
        clear(ctx)
        fill([(1 + (i % 100), i, 0, i == a.pp - 1) for i in range(a.pp)])
        t0 = time.perf_counter()
        decode(ctx)
        L.llama_synchronize(ctx)
        if r > 0:  # the first run warms up
            rates.append(a.pp / (time.perf_counter() - t0))
    L.llama_free(ctx)
    print(json.dumps({"test": f"pp{a.pp}", "prompt_tokens_per_s": round(statistics.median(rates), 2),
                      "runs": len(rates)}), flush=True)

    for n in levels:
        ctx = context(n, n * (prompt + a.tg + 1))
        rates = []
        for r in range(a.repeat + 1):
            clear(ctx)
            fill([(1 + (i % 100), i, s, i == prompt - 1) for s in range(n) for i in range(prompt)])
            decode(ctx)
            L.llama_synchronize(ctx)
            t0 = time.perf_counter()
            for step in range(a.tg):
                fill([(1, prompt + step, s, True) for s in range(n)])
                decode(ctx)
            L.llama_synchronize(ctx)
            if r > 0:
                rates.append(n * a.tg / (time.perf_counter() - t0))
        L.llama_free(ctx)
        print(json.dumps({"test": f"tg{a.tg} x{n}", "aggregate_generated_tokens_per_s": round(statistics.median(rates), 2),
                          "min": round(min(rates), 2), "max": round(max(rates), 2), "runs": len(rates)}), flush=True)

    L.llama_batch_free(batch)
    L.llama_model_free(model) if hasattr(L, "llama_model_free") else L.llama_free_model(model)


if __name__ == "__main__":
    main()
