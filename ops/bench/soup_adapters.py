#!/usr/bin/env python3
"""The uniform soup of several soup adapters that `dojo finetune --seeds N` wrote, as one adapter.

Lets a soup's members train in parallel processes (one thread each) instead of one after another:
`--seed 0 --seeds 4` and `--seed 4 --seeds 4` in two processes, then this script gives the soup of
seeds 0-7 that `--seeds 8` would write, up to float rounding. LoRA A rows are stacked, B columns stacked
and weighted by each input's share of the members, the heads weighted the same; r and lora_alpha are
summed, so every input must have the same scale (alpha / r), targets and labels.

    soup_adapters.py OUT_DIR ADAPTER_DIR:MEMBERS [ADAPTER_DIR:MEMBERS ...]   (a plain adapter counts 1)
"""
import json
import os
import shutil
import sys

import numpy as np

from safetensors_io import load_safetensors, save_safetensors


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out, inputs = sys.argv[1], []
    for arg in sys.argv[2:]:
        directory, _, members = arg.rpartition(":") if ":" in arg else (arg, "", "1")
        inputs.append((directory, int(members)))
    total = sum(m for _, m in inputs)
    for d, _ in inputs:
        for name in ("adapter_model.safetensors", "adapter_config.json", "labels.json"):
            if not os.path.isfile(os.path.join(d, name)):
                sys.exit(f"{d}: no {name}; pass adapter directories that dojo finetune wrote")
    tensors = [load_safetensors(os.path.join(d, "adapter_model.safetensors")) for d, _ in inputs]
    configs = [json.load(open(os.path.join(d, "adapter_config.json"))) for d, _ in inputs]
    labels = [open(os.path.join(d, "labels.json")).read() for d, _ in inputs]
    first = configs[0]
    for (d, _), c, l, t in zip(inputs, configs, labels, tensors):
        if abs(c["lora_alpha"] / c["r"] - first["lora_alpha"] / first["r"]) > 1e-6 or c["target_modules"] != first["target_modules"]:
            sys.exit(f"{d}: its scale or targets differ from {inputs[0][0]}'s; only one recipe's adapters average")
        if l != labels[0] or set(t) != set(tensors[0]):
            sys.exit(f"{d}: its labels or tensors differ from {inputs[0][0]}'s; train every member on the same data")
    shares = [m / total for _, m in inputs]
    merged = {}
    for name in tensors[0]:
        if name.endswith("lora_A.weight"):
            merged[name] = np.concatenate([t[name] for t in tensors], axis=0)
        elif name.endswith("lora_B.weight"):
            merged[name] = np.concatenate([t[name] * s for t, s in zip(tensors, shares)], axis=1)
        else:
            merged[name] = sum(t[name] * s for t, s in zip(tensors, shares))
    os.makedirs(out, exist_ok=True)
    save_safetensors(os.path.join(out, "adapter_model.safetensors"), merged)
    config = dict(first, r=sum(c["r"] for c in configs), lora_alpha=sum(c["lora_alpha"] for c in configs))
    with open(os.path.join(out, "adapter_config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
    shutil.copy(os.path.join(inputs[0][0], "labels.json"), out)
    print(f"{out}: soup of {total} members, r {config['r']}, lora_alpha {config['lora_alpha']}")


if __name__ == "__main__":
    main()
