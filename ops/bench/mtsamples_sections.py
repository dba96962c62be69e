#!/usr/bin/env python3
"""MTSamples note sections labelled with MTS-Dialog's section types, as extra training data.

MTS-Dialog's section texts were written from MTSamples notes, so MTSamples is the in-domain source
for more examples, and also the way to leak the held-out part into training. Decontamination is by
note: a note is dropped when it contains any MTS-Dialog section that is not in the training part
(matched by a run of 8 words, or all of a 5-7 word section), so the notes behind the held-out (and
tuning) sections never reach training. Sections are cut at their upper-case headings; only headings
whose MTS-Dialog type is unambiguous are kept, and the parts of a review of systems or a physical
examination ("HEENT: ...") keep their sub-heading, as MTS-Dialog writes them. Each type is sampled to
at most FACTOR times its count in the MTS-Dialog training part, so the class balance stays MTS-Dialog's.

    mtsamples_sections.py NOTES.jsonl MTS_SECTIONS.jsonl TRAIN.jsonl [--factor 8] [--seed 0]
        (appends to TRAIN.jsonl; prints a one-line summary)
"""
import argparse
import collections
import json
import random
import re

MTS_TYPE = {
    "CHIEF COMPLAINT": "CC", "CC": "CC", "REASON FOR VISIT": "CC",
    "HISTORY OF PRESENT ILLNESS": "GENHX", "HPI": "GENHX", "HISTORY": "GENHX", "SUBJECTIVE": "GENHX",
    "PAST MEDICAL HISTORY": "PASTMEDICALHX", "PMH": "PASTMEDICALHX", "MEDICAL HISTORY": "PASTMEDICALHX",
    "PAST SURGICAL HISTORY": "PASTSURGICAL", "PSH": "PASTSURGICAL", "SURGICAL HISTORY": "PASTSURGICAL",
    "FAMILY HISTORY": "FAM/SOCHX", "SOCIAL HISTORY": "FAM/SOCHX", "FHX": "FAM/SOCHX", "SHX": "FAM/SOCHX",
    "FAMILY AND SOCIAL HISTORY": "FAM/SOCHX", "SOCIAL AND FAMILY HISTORY": "FAM/SOCHX",
    "MEDICATIONS": "MEDICATIONS", "CURRENT MEDICATIONS": "MEDICATIONS", "MEDS": "MEDICATIONS",
    "MEDICATION": "MEDICATIONS", "HOME MEDICATIONS": "MEDICATIONS",
    "ALLERGIES": "ALLERGY", "ALLERGY": "ALLERGY", "DRUG ALLERGIES": "ALLERGY", "MEDICATION ALLERGIES": "ALLERGY",
    "REVIEW OF SYSTEMS": "ROS", "ROS": "ROS",
    "PHYSICAL EXAMINATION": "EXAM", "PHYSICAL EXAM": "EXAM", "EXAM": "EXAM", "EXAMINATION": "EXAM",
    "ASSESSMENT": "ASSESSMENT", "IMPRESSION": "ASSESSMENT",
    "PLAN": "PLAN",
    "DIAGNOSIS": "DIAGNOSIS", "DIAGNOSES": "DIAGNOSIS", "DISCHARGE DIAGNOSIS": "DIAGNOSIS",
    "DISCHARGE DIAGNOSES": "DIAGNOSIS", "ADMISSION DIAGNOSIS": "DIAGNOSIS", "FINAL DIAGNOSIS": "DIAGNOSIS",
    "DISPOSITION": "DISPOSITION", "CONDITION ON DISCHARGE": "DISPOSITION", "DISCHARGE CONDITION": "DISPOSITION",
    "EMERGENCY DEPARTMENT COURSE": "EDCOURSE", "EMERGENCY ROOM COURSE": "EDCOURSE", "ED COURSE": "EDCOURSE",
    "HOSPITAL COURSE": "EDCOURSE",
    "IMMUNIZATIONS": "IMMUNIZATIONS", "IMMUNIZATION HISTORY": "IMMUNIZATIONS",
    "IMAGING": "IMAGING", "X-RAYS": "IMAGING", "RADIOLOGY": "IMAGING",
    "LABORATORY DATA": "LABS", "LABS": "LABS", "LABORATORY": "LABS", "LAB DATA": "LABS", "LABORATORY STUDIES": "LABS",
    "GYNECOLOGIC HISTORY": "GYNHX", "OBSTETRICAL HISTORY": "GYNHX", "MENSTRUAL HISTORY": "GYNHX",
    "GYN HISTORY": "GYNHX", "OB/GYN HISTORY": "GYNHX",
    "PROCEDURE": "PROCEDURES", "PROCEDURES": "PROCEDURES",
}
# an upper-case heading that starts the note, a line, or follows a comma or a sentence end
HEADING = re.compile(r"(?:^|(?<=[,.\n]))\s*([A-Z][A-Z0-9 /&()'\-]{0,59}?)\s*:")


def words(text):
    return re.findall(r"[a-z0-9]+", text.lower())


def sections(note):
    """(type, text) for each section under a known heading; ROS and exam parts keep their sub-heading."""
    marks = list(HEADING.finditer(note))
    parent = None
    for k, m in enumerate(marks):
        name = " ".join(m.group(1).split())
        end = marks[k + 1].start() if k + 1 < len(marks) else len(note)
        body = clean(note[m.end():end])
        label = MTS_TYPE.get(name)
        if label is not None:
            parent = label if label in ("ROS", "EXAM") else None
            if body:
                yield label, body
        elif parent is not None and body:
            yield parent, f"{name}: {body}"


def clean(body):
    body = re.sub(r",\s*(?=\d+\.\s)", " ", body)  # MTSamples writes numbered lists as "1. A.,2. B."
    return " ".join(body.strip(" ,\n\t").split())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("notes")
    parser.add_argument("mts")
    parser.add_argument("train")
    parser.add_argument("--factor", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    train = [json.loads(line) for line in open(args.train)]
    train_ids = {r["id"] for r in train}
    mts = [json.loads(line) for line in open(args.mts)]
    counts = collections.Counter(r["label"] for r in mts if r["id"] in train_ids)

    # every run of 8 words (or the whole of a 5-7 word section) of each section outside the training part
    probes = set()
    for r in mts:
        if r["id"] in train_ids:
            continue
        w = words(r["text"])
        if len(w) >= 5:
            n = min(8, len(w))
            probes.update(tuple(w[i:i + n]) for i in range(len(w) - n + 1))
    lengths = sorted({len(p) for p in probes})

    pool = collections.defaultdict(list)
    dropped = 0
    for line in open(args.notes):
        note = json.loads(line)
        w = words(note["text"])
        if any(tuple(w[i:i + n]) in probes for n in lengths for i in range(len(w) - n + 1)):
            dropped += 1
            continue
        for k, (label, text) in enumerate(sections(note["text"])):
            pool[label].append({"id": f"mtsamples-{note['id']}-{k}", "text": text, "label": label})

    rng = random.Random(args.seed)
    kept = collections.Counter()
    with open(args.train, "a") as f:
        for label in sorted(pool):
            quota = round(args.factor * counts.get(label, 0))
            chosen = rng.sample(pool[label], min(quota, len(pool[label])))
            kept[label] = len(chosen)
            for record in chosen:
                f.write(json.dumps(record) + "\n")
    print(f"{sum(kept.values())} MTSamples sections as {len(+kept)} MTS-Dialog types "
          f"(at most {args.factor:g}x each type's training count; {dropped} notes that hold a section "
          f"outside the training part dropped)")


if __name__ == "__main__":
    main()
