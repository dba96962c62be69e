"""ONNX Runtime vs Dojo on all-MiniLM-L6-v2, batch 32 (helper of ops/bench/encoder-vs-onnx).

The ONNX graph is built here from the real safetensors weights, node for node the
way PyTorch's exporter writes HF BertModel (after constant folding of the reshape
shapes), so no torch/transformers is needed. Three ONNX Runtime variants are timed:
the plain graph, the graph after onnxruntime.transformers' BERT optimiser, and that
graph with ORT's dynamic int8 quantisation (its own reduced-precision option, the
fair partner of Dojo's opt-in bf16). Dojo runs in float32 and in bf16.
Mean pooling + L2 normalisation (numpy) is inside the timing, as it is in Dojo's.

Progress goes to stderr; the Markdown report goes to stdout.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from safetensors_io import load_safetensors

CLS, SEP = 101, 102
COSINE_GATE = 0.99999


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- graph

def build_bert_graph(model_dir, out_path):
    """Writes an opset-17 ONNX BertModel (output: last_hidden_state) to out_path."""
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    w = load_safetensors(os.path.join(model_dir, "model.safetensors"))
    hidden, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    head_dim, eps = hidden // heads, cfg["layer_norm_eps"]
    assert cfg["hidden_act"] == "gelu", cfg["hidden_act"]

    nodes, inits = [], []

    def const(name, value, dtype=np.float32):
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def weight(name, transpose=False):
        arr = w[name].T if transpose else w[name]
        return const(name, np.ascontiguousarray(arr))

    def node(op, inputs, name, **attrs):
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def linear(x, prefix, name):  # PyTorch nn.Linear exports as MatMul(x, Wᵀ) + Add(b)
        mm = node("MatMul", [x, weight(prefix + ".weight", transpose=True)], name + "/MatMul")
        return node("Add", [weight(prefix + ".bias"), mm], name + "/Add")

    def layer_norm(x, prefix, name):
        return node("LayerNormalization", [x, weight(prefix + ".weight"), weight(prefix + ".bias")],
                    name, axis=-1, epsilon=eps)

    # Constants shared by the layers.
    const("axes_0", [0], np.int64)
    const("axes_1", [1], np.int64)
    const("one", 1.0)
    const("half", 0.5)
    const("sqrt2", np.sqrt(2.0))
    const("sqrt_head_dim", np.sqrt(head_dim))
    const("mask_min", np.finfo(np.float32).min)
    const("qkv_shape", [0, 0, heads, head_dim], np.int64)
    const("ctx_shape", [0, 0, hidden], np.int64)

    # Embeddings: word + token type + position (position_ids buffer sliced to the sequence length).
    word = node("Gather", [weight("embeddings.word_embeddings.weight"), "input_ids"], "emb/word")
    tok = node("Gather", [weight("embeddings.token_type_embeddings.weight"), "token_type_ids"], "emb/token_type")
    emb = node("Add", [word, tok], "emb/add_token_type")
    shape = node("Shape", ["input_ids"], "emb/shape")
    seq = node("Gather", [shape, const("idx_1", 1, np.int64)], "emb/seq_len")
    seq1 = node("Unsqueeze", [seq, "axes_0"], "emb/seq_len_1d")
    pos_ids = node("Slice", [const("embeddings.position_ids", w["embeddings.position_ids"], np.int64),
                             const("zero_1d", [0], np.int64), seq1, "axes_1"], "emb/position_ids")
    pos = node("Gather", [weight("embeddings.position_embeddings.weight"), pos_ids], "emb/position")
    emb = node("Add", [emb, pos], "emb/add_position")
    x = layer_norm(emb, "embeddings.LayerNorm", "emb/LayerNorm")

    # Extended attention mask: (1 - mask[:, None, None, :]) * finfo(float32).min, which the
    # exporter writes as Unsqueeze(1), Unsqueeze(2), Cast, Sub, Mul (ORT's fusion matches that).
    m = node("Unsqueeze", ["attention_mask", "axes_1"], "mask/unsqueeze_1")
    m = node("Unsqueeze", [m, const("axes_2", [2], np.int64)], "mask/unsqueeze_2")
    m = node("Cast", [m], "mask/cast", to=TensorProto.FLOAT)
    m = node("Sub", ["one", m], "mask/sub")
    ext_mask = node("Mul", [m, "mask_min"], "mask/mul")

    for i in range(cfg["num_hidden_layers"]):
        p, n = f"encoder.layer.{i}", f"L{i}"
        q, k, v = (linear(x, f"{p}.attention.self.{t}", f"{n}/{t}") for t in ("query", "key", "value"))
        q = node("Reshape", [q, "qkv_shape"], f"{n}/q_reshape")
        q = node("Transpose", [q], f"{n}/q_transpose", perm=[0, 2, 1, 3])
        k = node("Reshape", [k, "qkv_shape"], f"{n}/k_reshape")
        k = node("Transpose", [k], f"{n}/k_transpose", perm=[0, 2, 3, 1])
        v = node("Reshape", [v, "qkv_shape"], f"{n}/v_reshape")
        v = node("Transpose", [v], f"{n}/v_transpose", perm=[0, 2, 1, 3])
        s = node("MatMul", [q, k], f"{n}/scores")
        s = node("Div", [s, "sqrt_head_dim"], f"{n}/scale")
        s = node("Add", [s, ext_mask], f"{n}/mask")
        s = node("Softmax", [s], f"{n}/softmax", axis=-1)
        ctx = node("MatMul", [s, v], f"{n}/context")
        ctx = node("Transpose", [ctx], f"{n}/ctx_transpose", perm=[0, 2, 1, 3])
        ctx = node("Reshape", [ctx, "ctx_shape"], f"{n}/ctx_reshape")
        a = linear(ctx, f"{p}.attention.output.dense", f"{n}/attn_out")
        a = node("Add", [a, x], f"{n}/attn_residual")
        x = layer_norm(a, f"{p}.attention.output.LayerNorm", f"{n}/attn_LayerNorm")
        h = linear(x, f"{p}.intermediate.dense", f"{n}/ffn_in")
        g = node("Div", [h, "sqrt2"], f"{n}/gelu/div")          # exact GELU: x·0.5·(1+erf(x/√2))
        g = node("Erf", [g], f"{n}/gelu/erf")
        g = node("Add", [g, "one"], f"{n}/gelu/add")
        g = node("Mul", [h, g], f"{n}/gelu/mul")
        g = node("Mul", [g, "half"], f"{n}/gelu/mul_half")
        o = linear(g, f"{p}.output.dense", f"{n}/ffn_out")
        o = node("Add", [o, x], f"{n}/ffn_residual")
        x = layer_norm(o, f"{p}.output.LayerNorm", f"{n}/ffn_LayerNorm")
    nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="output"))

    dyn = ["batch", "sequence"]
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, dyn)
              for n in ("input_ids", "attention_mask", "token_type_ids")]
    output = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, dyn + [hidden])
    graph = helper.make_graph(nodes, "bert", inputs, [output], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="pytorch")  # as the exporter writes; the optimiser checks it
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, out_path)
    return cfg


def optimise_graph(in_path, out_path, cfg):
    """Runs ORT's BERT optimiser as optimize_model's defaults do; returns fused-operator counts.

    optimize_model's default for model_type="bert" is opt_level=1: an ORT basic-level
    pass (ConstantSharing disabled), then the Python fusions. In onnxruntime 1.32 that
    pre-pass imports torch (only to ask about ROCm), so it is done here with ORT
    directly, followed by optimize_model(..., opt_level=0) for the fusions.
    """
    from onnxruntime.transformers.optimizer import optimize_model
    basic_path = out_path + ".basic.onnx"
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    so.optimized_model_filepath = basic_path
    ort.InferenceSession(in_path, so, providers=["CPUExecutionProvider"], disabled_optimizers=["ConstantSharing"])
    opt = optimize_model(basic_path, model_type="bert", opt_level=0,
                         num_heads=cfg["num_attention_heads"], hidden_size=cfg["hidden_size"])
    opt.save_model_to_file(out_path)
    os.remove(basic_path)
    stats = opt.get_fused_operator_statistics()
    remaining = {op: len(opt.get_nodes_by_op_type(op)) for op in ("Softmax", "Erf", "MatMul")}
    return stats, remaining


# --------------------------------------------------------------------------- running

def quantise_graph(in_path, out_path):
    """ORT's dynamic quantisation: int8 weights, activations quantised per call (MatMul → MatMulInteger)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    # The fused Attention nodes are in ORT's own domain, where shape inference gives no types.
    quantize_dynamic(in_path, out_path, weight_type=QuantType.QInt8,
                     extra_options={"DefaultTensorType": TensorProto.FLOAT})


def make_session(path, threads):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def embed(session, ids, mask):
    """One batch: encoder + mean pooling with the mask + L2 normalisation."""
    hidden = session.run(["last_hidden_state"], {
        "input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
    m = mask[:, :, None].astype(np.float32)
    pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
    return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


def pad_batches(sequences, batch):
    """Cuts sequences (in the given order) into batches padded to each batch's longest."""
    out = []
    for start in range(0, len(sequences), batch):
        chunk = sequences[start:start + batch]
        width = max(len(s) for s in chunk)
        ids = np.zeros((len(chunk), width), np.int64)
        mask = np.zeros((len(chunk), width), np.int64)
        for r, s in enumerate(chunk):
            ids[r, :len(s)] = s
            mask[r, :len(s)] = 1
        out.append((ids, mask))
    return out


def padded_128_batches(batch, count, seq=128, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        ids = rng.integers(1000, 30000, size=(batch, seq), dtype=np.int64)
        ids[:, 0], ids[:, -1] = CLS, SEP
        out.append((ids, np.ones((batch, seq), np.int64)))
    return out


def run_scenario(session, warmup, timed):
    """Runs the warm-up batches, then times the rest; returns sentences/s."""
    for ids, mask in warmup:
        embed(session, ids, mask)
    sentences = sum(ids.shape[0] for ids, _ in timed)
    t0 = time.perf_counter()
    for ids, mask in timed:
        embed(session, ids, mask)
    return sentences / (time.perf_counter() - t0)


def run_dojo(binary, args):
    proc = subprocess.run([binary, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"dojo {' '.join(args)} failed (exit {proc.returncode}):\n{proc.stderr}{proc.stdout}")
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        for line in reversed(proc.stdout.splitlines()):  # tolerate log lines before the JSON
            if line.strip().startswith("{"):
                return json.loads(line)
        sys.exit(f"dojo {' '.join(args)} printed no JSON:\n{proc.stdout}")


def dojo_agreement(binary, sentences_file, reference, precision):
    """Worst cosine and largest element difference of `dojo embed` against the reference embeddings."""
    proc = subprocess.run([binary, "embed", "--model", "minilm", "--input", sentences_file, "--precision", precision],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"dojo embed --precision {precision} failed (exit {proc.returncode}):\n{proc.stderr}")
    got = np.array([json.loads(l)["embedding"] for l in proc.stdout.splitlines() if l.strip()], dtype=np.float32)
    ref = reference / np.linalg.norm(reference, axis=1, keepdims=True)
    cosine = np.sum(got * ref, axis=1) / np.linalg.norm(got, axis=1)
    return float(np.min(cosine)), float(np.max(np.abs(got - reference)))


# --------------------------------------------------------------------------- main

def correctness_gate(sessions, tokens, reference, batch):
    """Embeds the reference sentences (file order, padded per batch) with every session."""
    worst = {}
    for label, session in sessions.items():
        got = np.concatenate([embed(session, ids, mask) for ids, mask in pad_batches(tokens, batch)])
        ref = reference / np.linalg.norm(reference, axis=1, keepdims=True)
        worst[label] = float(np.min(np.sum(got * ref, axis=1)))
    return worst


def machine_note():
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    flags = ""
    try:
        cpu_flags = next(l for l in open("/proc/cpuinfo") if l.startswith("flags")).split()
        flags = ", ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16") if f in cpu_flags)
    except (OSError, StopIteration):
        pass
    return (f"Machine: {len(os.sched_getaffinity(0))} CPUs (nproc), {model}"
            + (f" [{flags}]" if flags else "") + f"; load average {os.getloadavg()[0]:.2f} at start.")


def fmt(x):
    return "—" if x is None else f"{x:.1f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--shared", required=True, help="shared reference folder (holds reference/minilm)")
    ap.add_argument("--threads", default="2,1")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3, help="runs per measurement; the median is reported")
    ap.add_argument("--padded-batches", type=int, default=12)
    ap.add_argument("--repeat-file", type=int, default=16)
    ap.add_argument("--dojo", help="path to the dojo binary (omit for ONNX Runtime only)")
    ap.add_argument("--no-bf16", dest="bf16", action="store_false", help="skip Dojo's bf16 runs (CPUs without AVX-512 BF16)")
    args = ap.parse_args()

    threads = [int(t) for t in args.threads.split(",") if t.strip()]
    ref_dir = os.path.join(args.shared, "reference", "minilm")
    tokens = [json.loads(l)["input_ids"] for l in open(os.path.join(ref_dir, "tokens.jsonl")) if l.strip()]
    reference = np.load(os.path.join(ref_dir, "embeddings.npy"))
    sentences_file = os.path.join(ref_dir, "sentences.jsonl")
    assert len(tokens) == reference.shape[0], (len(tokens), reference.shape)

    with tempfile.TemporaryDirectory(prefix="dojo-onnx-") as tmp:
        plain_path, opt_path = os.path.join(tmp, "minilm.onnx"), os.path.join(tmp, "minilm.opt.onnx")
        log("building the ONNX graph from the safetensors weights")
        cfg = build_bert_graph(args.model_dir, plain_path)
        log("running onnxruntime.transformers optimize_model (model_type=bert)")
        fused, remaining = optimise_graph(plain_path, opt_path, cfg)

        int8_path = os.path.join(tmp, "minilm.opt.int8.onnx")
        log("quantising the optimised graph (onnxruntime.quantization.quantize_dynamic, QInt8 weights)")
        quantise_graph(opt_path, int8_path)

        paths = {"ort": plain_path, "ort_opt": opt_path, "ort_int8": int8_path}
        gate = correctness_gate({k: make_session(p, max(threads)) for k, p in paths.items()},
                                tokens, reference, args.batch)
        worst = min(gate["ort"], gate["ort_opt"])  # int8 is reduced precision by design: reported, not gated
        log(f"correctness: worst cosine vs reference {worst:.7f} "
            f"(plain {gate['ort']:.7f}, optimised {gate['ort_opt']:.7f}; int8 {gate['ort_int8']:.7f})")
        if worst < COSINE_GATE:
            sys.exit(f"correctness gate failed: worst cosine {worst:.7f} < {COSINE_GATE} — the ONNX graph is wrong")
        dojo_gate = {}
        if args.dojo:
            for precision in ["f32"] + (["bf16"] if args.bf16 else []):
                dojo_gate[precision] = dojo_agreement(args.dojo, sentences_file, reference, precision)
            log("Dojo against the reference: " + ", ".join(
                f"{p} worst cosine {c:.7f}, max abs difference {d:.2e}" for p, (c, d) in dojo_gate.items()))

        # Scenario inputs: (warm-up batches, timed batches) for ORT, argv for Dojo.
        repeated = tokens * args.repeat_file
        padded = padded_128_batches(args.batch, args.padded_batches + 1)
        by_length = pad_batches(sorted(repeated, key=len), args.batch)
        file_order = pad_batches(repeated, args.batch)
        dojo_common = ["bench", "encoder", "--model", "minilm", "--batch", str(args.batch), "--json"]
        scenarios = [
            ("padded 128", padded[:1], padded[1:], ["--seq", "128"]),
            (f"reference ×{args.repeat_file}, length-sorted", by_length[:1], by_length,
             ["--input", sentences_file, "--repeat", str(args.repeat_file)]),
            (f"reference ×{args.repeat_file}, file order", file_order[:1], file_order, "same-as-previous"),
        ]

        rows, dojo_details = [], []
        for t in threads:
            sessions = {k: make_session(p, t) for k, p in paths.items()}
            last_dojo = None
            for name, warm, timed, dojo_args in scenarios:
                # The unsorted row is for information and takes ORT ~8 minutes on one thread.
                if dojo_args == "same-as-previous" and t == 1:
                    continue
                runs = {"ort": [], "ort_opt": [], "ort_int8": [], "dojo": [], "dojo_bf16": []}
                for rep in range(args.repeats):  # round-robin, so load drift hits every engine alike
                    for key, session in sessions.items():
                        runs[key].append(run_scenario(session, warm, timed))
                    if args.dojo and isinstance(dojo_args, list):
                        argv = dojo_common + dojo_args + ["--threads", str(t)]
                        runs["dojo"].append(run_dojo(args.dojo, argv))
                        if args.bf16:
                            runs["dojo_bf16"].append(run_dojo(args.dojo, argv + ["--precision", "bf16"]))
                    log(f"{name}, {t} thread(s), run {rep + 1}/{args.repeats}: "
                        f"ORT {runs['ort'][-1]:.1f}, ORT opt {runs['ort_opt'][-1]:.1f}, ORT int8 {runs['ort_int8'][-1]:.1f}"
                        + (f", Dojo {runs['dojo'][-1]['sentences_per_s']:.1f}" if runs["dojo"] else "")
                        + (f", Dojo bf16 {runs['dojo_bf16'][-1]['sentences_per_s']:.1f}" if runs["dojo_bf16"] else "")
                        + " sentences/s")
                ort_med = statistics.median(runs["ort"])
                opt_med = statistics.median(runs["ort_opt"])
                int8_med = statistics.median(runs["ort_int8"])
                dojo_med, bf16_med, note = None, None, ""
                if runs["dojo"]:
                    dojo_med = statistics.median(r["sentences_per_s"] for r in runs["dojo"])
                    if runs["dojo_bf16"]:
                        bf16_med = statistics.median(r["sentences_per_s"] for r in runs["dojo_bf16"])
                    last_dojo = (dojo_med, bf16_med)
                    median_run = sorted(runs["dojo"], key=lambda r: r["sentences_per_s"])[len(runs["dojo"]) // 2]
                    dojo_details.append((name.split(",")[0], t, median_run))  # Dojo always gets file order
                elif dojo_args == "same-as-previous" and last_dojo is not None:
                    (dojo_med, bf16_med), note = last_dojo, " ¹"
                ratio = f"{dojo_med / max(ort_med, opt_med):.2f}×{note}" if dojo_med else "—"
                bf16_ratio = f"{bf16_med / max(ort_med, opt_med):.2f}×{note}" if bf16_med else "—"
                rows.append(f"| {name} | {t} | {fmt(ort_med)} | {fmt(opt_med)} | {fmt(int8_med)} | "
                            f"{fmt(dojo_med)}{note} | {fmt(bf16_med)}{note if bf16_med else ''} | {ratio} | {bf16_ratio} |")

    fused_desc = ", ".join(f"{op} {n}" for op, n in fused.items() if n)
    layers = cfg["num_hidden_layers"]
    if fused.get("Attention", 0) < layers or fused.get("SkipLayerNormalization", 0) < 2 * layers:
        fused_desc += f" — NOT fully fused (expected Attention {layers}, SkipLayerNormalization {2 * layers})"
    print("# Encoder: Dojo vs ONNX Runtime (all-MiniLM-L6-v2, batch %d)\n" % args.batch)
    print(machine_note())
    print(f"ONNX Runtime {ort.__version__}; intra-op threads = threads, inter-op 1, sequential; "
          f"medians of {args.repeats} runs; sentences/s, pooling + normalisation included.\n")
    print(f"Optimiser fusions: {fused_desc or 'none'} "
          f"(left unfused: {', '.join(f'{op} {n}' for op, n in remaining.items())}).")
    print(f"Correctness: worst cosine vs reference embeddings {worst:.7f} over {len(tokens)} sentences "
          f"(plain {gate['ort']:.7f}, optimised {gate['ort_opt']:.7f}); ORT int8 {gate['ort_int8']:.7f}; "
          + "".join(f"Dojo {p} {c:.7f} (max abs difference {d:.1e}); " for p, (c, d) in dojo_gate.items())
          + f"ops/test holds Dojo f32 to 0.99999 / 1e-4 and bf16 to 0.9999 / 2.5e-3. The ratios compare with ORT's float32 "
          f"graphs; ORT int8 is listed with its cosine above rather than ranked, being a different accuracy class.\n")
    print("| scenario | threads | ORT | ORT optimised | ORT int8 | Dojo f32 | Dojo bf16 | "
          "Dojo f32 ÷ best f32 ORT | Dojo bf16 ÷ best f32 ORT |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print()
    print(f"Padded 128: {args.padded_batches} timed batches of {args.batch}×128 random ids after 1 warm-up. "
          f"Reference: the {len(tokens)} reference sentences ×{args.repeat_file}, batches padded to their longest; "
          f"ONNX Runtime gets them length-sorted (the anchor) or in file order.")
    if args.dojo:
        print("Dojo is given the file in file order and packs sequences itself; "
              "¹ the same Dojo run as the row above.")
        print("\nDojo details (median run): " + "; ".join(
            f"{name}, {t}T: {r.get('tokens_per_s', float('nan')):.0f} tokens/s, "
            f"median batch {r.get('median_batch_ms', float('nan')):.1f} ms, peak RSS {r.get('peak_rss_mb', float('nan')):.0f} MB"
            for name, t, r in dojo_details))
    else:
        print("Dojo not run (--onnx-only).")


if __name__ == "__main__":
    main()
