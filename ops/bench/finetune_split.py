"""Deterministic held-out split by document (helper of ops/bench/finetune-cuad).

A record goes to the eval file when sha256(<salt><group field>) mod 100 falls in
[fold × percent, (fold + 1) × percent) (fold 0: below the held-out percent), so whole contracts (or notes) are held out and the split never depends on file order,
Python's hash seed, or the machine. Prints one JSON line of counts to stdout.
"""

import argparse
import hashlib
import json
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("input")
    ap.add_argument("train_out")
    ap.add_argument("eval_out")
    ap.add_argument("--group", default="contract", help="field that names the document a record belongs to")
    ap.add_argument("--percent", type=int, default=20, help="percent of documents held out")
    ap.add_argument("--salt", default="", help="prefix hashed with the group; a different salt gives an independent split "
                    "(the bench carves its tuning split from the training part with salt 'tune')")
    ap.add_argument("--fold", type=int, default=0, help="which block of --percent to hold out: folds 0 .. 100/percent - 1 "
                    "partition the documents (k-fold cross-validation)")
    args = ap.parse_args()
    if not (args.fold >= 0 and 0 < args.percent and (args.fold + 1) * args.percent <= 100):
        ap.error(f"--fold {args.fold} with --percent {args.percent} leaves the 0..99 hash range; use a fold in 0..{100 // max(args.percent, 1) - 1}")
    low, high = args.fold * args.percent, (args.fold + 1) * args.percent
    counts = {"train": 0, "eval": 0, "train_groups": set(), "eval_groups": set()}
    with open(args.input, encoding="utf-8") as f, \
            open(args.train_out, "w", encoding="utf-8") as tr, open(args.eval_out, "w", encoding="utf-8") as ev:
        for line in f:
            if not line.strip():
                continue
            record = json.loads(line)
            group = str(record.get(args.group, record.get("id", "")))
            held = low <= int(hashlib.sha256((args.salt + group).encode("utf-8")).hexdigest(), 16) % 100 < high
            (ev if held else tr).write(line if line.endswith("\n") else line + "\n")
            side = "eval" if held else "train"
            counts[side] += 1
            counts[side + "_groups"].add(group)
    for k in ("train_groups", "eval_groups"):
        counts[k] = len(counts[k])
    json.dump(counts, sys.stdout)
    print()


if __name__ == "__main__":
    main()
