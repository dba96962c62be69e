#!/usr/bin/env python3
"""An adapter whose classifier head is corrected for a shift of label prior between two training sets.

When most training examples come from other corpora (--augment), the head learns their label
frequencies. Bayes' rule moves its posteriors to the target corpus's frequencies: each label's logit gains
log p_target(y) - log p_trained(y), a constant per label, so it goes into the head's bias. Both priors
are add-one smoothed counts of the labels in two labelled JSONL files.

    prior_shift.py ADAPTER_DIR OUT_DIR --trained TRAIN.jsonl --target TARGET.jsonl   (prints the shifts)
"""
import argparse
import collections
import json
import math
import os
import shutil

from safetensors_io import load_safetensors, save_safetensors


def counts(path):
    return collections.Counter(json.loads(line)["label"] for line in open(path) if line.strip())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("adapter")
    parser.add_argument("out")
    parser.add_argument("--trained", required=True, help="the examples the adapter was trained on")
    parser.add_argument("--target", required=True, help="examples with the label frequencies to move to")
    args = parser.parse_args()
    labels_json = json.load(open(os.path.join(args.adapter, "labels.json")))
    labels = [labels_json["id2label"][str(i)] for i in range(len(labels_json["id2label"]))]
    trained, target = counts(args.trained), counts(args.target)
    def log_prior(c):
        total = sum(c[l] for l in labels) + len(labels)
        return [math.log((c[l] + 1) / total) for l in labels]
    shift = [t - s for t, s in zip(log_prior(target), log_prior(trained))]
    tensors = load_safetensors(os.path.join(args.adapter, "adapter_model.safetensors"))
    bias = "base_model.model.classifier.bias"
    tensors[bias] = (tensors[bias] + shift).astype(tensors[bias].dtype)
    os.makedirs(args.out, exist_ok=True)
    save_safetensors(os.path.join(args.out, "adapter_model.safetensors"), tensors)
    for name in ("adapter_config.json", "labels.json"):
        shutil.copy(os.path.join(args.adapter, name), args.out)
    print(" ".join(f"{l} {s:+.2f}" for l, s in zip(labels, shift)))


if __name__ == "__main__":
    main()
