"""PyTorch + PEFT with the reference recipe, on the bench's own split (helper of ops/bench/finetune-cuad).

The recipe of ../shared/reference/README.md: LoRA r 8, alpha 16, targets query and value, LoRA
dropout 0.1, a linear head on the mean-pooled (not normalised) output, max length 128 with dynamic
padding, batch 32, AdamW lr 1e-3, weight decay 0.01, linear schedule with 6% warm-up, seed 0; the
model in train mode (BERT's own dropout on), gradients clipped at 1.0 as the HF Trainer does.
Evaluates after each epoch on the same held-out file Dojo reads and prints one JSON line per epoch
(epoch, eval_accuracy, eval_macro_f1, examples, seconds, cpu_s), the keys `dojo finetune` prints.
Eval labels never seen in training count as wrong here (Dojo skips them and says how many; the
bench's CUAD split has none: both evaluate the same 1,381 clauses).
"""

import argparse
import json
import math
import random
import sys
import time


def read(path, label_field, text_field):
    texts, labels = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            if r.get(label_field) is None or not isinstance(r.get(text_field), str):
                continue
            texts.append(r[text_field])
            labels.append(str(r[label_field]))
    return texts, labels


def metrics(truth, pred):
    """Accuracy and macro-F1 over the labels in the truth or the predictions (scikit-learn's default)."""
    correct = sum(t == p for t, p in zip(truth, pred))
    tp, fp, fn = {}, {}, {}
    for t, p in zip(truth, pred):
        if t == p:
            tp[t] = tp.get(t, 0) + 1
        else:
            fp[p] = fp.get(p, 0) + 1
            fn[t] = fn.get(t, 0) + 1
    classes = set(truth) | set(pred)
    f1 = [2 * tp.get(c, 0) / d if (d := 2 * tp.get(c, 0) + fp.get(c, 0) + fn.get(c, 0)) else 0.0 for c in classes]
    return correct / max(len(truth), 1), sum(f1) / max(len(f1), 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", required=True, help="Hugging Face BERT directory (config.json, model.safetensors, tokenizer.json)")
    ap.add_argument("--train", required=True)
    ap.add_argument("--eval", required=True)
    ap.add_argument("--label-field", default="label")
    ap.add_argument("--text-field", default="text")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel, AutoTokenizer, get_linear_schedule_with_warmup

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)

    train_texts, train_labels = read(args.train, args.label_field, args.text_field)
    eval_texts, eval_labels = read(args.eval, args.label_field, args.text_field)
    names = sorted(set(train_labels))
    index = {n: i for i, n in enumerate(names)}
    y_train = torch.tensor([index[l] for l in train_labels])

    tok = AutoTokenizer.from_pretrained(args.model)
    base = AutoModel.from_pretrained(args.model)
    encoder = get_peft_model(base, LoraConfig(r=8, lora_alpha=16, target_modules=["query", "value"], lora_dropout=0.1, bias="none"))
    head = torch.nn.Linear(base.config.hidden_size, len(names))
    trainable = [p for p in encoder.parameters() if p.requires_grad] + list(head.parameters())
    print(f"[peft] {len(train_texts)} training texts, {len(eval_texts)} eval, {len(names)} labels, "
          f"{sum(p.numel() for p in trainable):,} trainable parameters", file=sys.stderr)

    def embed(texts):
        batch = tok(texts, truncation=True, max_length=128, padding=True, return_tensors="pt")
        hidden = encoder(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    batch_size = 32
    steps_per_epoch = math.ceil(len(train_texts) / batch_size)
    total = steps_per_epoch * args.epochs
    optimizer = torch.optim.AdamW(trainable, lr=1e-3, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, math.ceil(0.06 * total), total)
    order = torch.Generator().manual_seed(args.seed)
    for epoch in range(1, args.epochs + 1):
        encoder.train(); head.train()
        start, cpu_start = time.time(), time.process_time()
        perm = torch.randperm(len(train_texts), generator=order).tolist()
        loss_sum = 0.0
        for step in range(steps_per_epoch):
            ids = perm[step * batch_size:(step + 1) * batch_size]
            logits = head(embed([train_texts[i] for i in ids]))
            loss = torch.nn.functional.cross_entropy(logits, y_train[ids])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            schedule.step()
            loss_sum += loss.item()
            if (step + 1) % 10 == 0 or step + 1 == steps_per_epoch:
                rate = (step + 1) * batch_size / (time.time() - start)
                print(f"\r[peft] epoch {epoch}: step {step + 1}/{steps_per_epoch}, loss {loss_sum / (step + 1):.3f}, "
                      f"{rate:.1f} examples/s", end="", file=sys.stderr, flush=True)
        seconds, cpu = time.time() - start, time.process_time() - cpu_start
        print(file=sys.stderr)
        encoder.eval(); head.eval()
        predicted = []
        with torch.no_grad():
            for i in range(0, len(eval_texts), 64):
                predicted += head(embed(eval_texts[i:i + 64])).argmax(-1).tolist()
        accuracy, macro_f1 = metrics(eval_labels, [names[p] for p in predicted])
        print(json.dumps({"epoch": epoch, "eval_accuracy": accuracy, "eval_macro_f1": macro_f1,
                          "examples": len(train_texts), "seconds": seconds, "cpu_s": cpu,
                          "examples_per_s": len(train_texts) / seconds, "loss": loss_sum / steps_per_epoch}), flush=True)


if __name__ == "__main__":
    main()
