#!/usr/bin/env python3
"""ACI-Bench visit-note sections relabelled with MTS-Dialog's section types, as extra training data.

ACI-Bench (wyim/aci-bench, CC BY 4.0; ../shared/data/aci_bench) is a different corpus from MTS-Dialog
(notes written from recorded visits, not MTSamples), so it adds examples without touching MTS-Dialog's
held-out notes. Only headers whose MTS-Dialog type is unambiguous are kept: RESULTS (labs or imaging),
ASSESSMENT AND PLAN, INSTRUCTIONS, VITALS and the rare one-off headers are dropped.

    aci_sections.py SECTIONS.jsonl OUT.jsonl   (appends; prints a one-line summary)
"""
import collections
import json
import sys

MTS_TYPE = {
    "CHIEF COMPLAINT": "CC", "CC": "CC",
    "HISTORY OF PRESENT ILLNESS": "GENHX", "HPI": "GENHX",
    "REVIEW OF SYSTEMS": "ROS", "REVIEW OF SYMPTOMS": "ROS",
    "PHYSICAL EXAM": "EXAM", "PHYSICAL EXAMINATION": "EXAM", "EXAM": "EXAM",
    "ASSESSMENT": "ASSESSMENT", "IMPRESSION": "ASSESSMENT",
    "PLAN": "PLAN",
    "SOCIAL HISTORY": "FAM/SOCHX", "FAMILY HISTORY": "FAM/SOCHX",
    "MEDICAL HISTORY": "PASTMEDICALHX", "PAST HISTORY": "PASTMEDICALHX", "PAST MEDICAL HISTORY": "PASTMEDICALHX",
    "MEDICATIONS": "MEDICATIONS", "CURRENT MEDICATIONS": "MEDICATIONS",
    "SURGICAL HISTORY": "PASTSURGICAL", "PAST SURGICAL HISTORY": "PASTSURGICAL",
    "ALLERGIES": "ALLERGY",
    "PROCEDURE": "PROCEDURES",
}

def main(source, out):
    kept = collections.Counter()
    with open(out, "a") as f:
        for line in open(source):
            record = json.loads(line)
            label = MTS_TYPE.get(record["label"])
            if label is None or not record["text"].strip():
                continue
            kept[label] += 1
            f.write(json.dumps({"id": record["id"], "text": record["text"], "label": label}) + "\n")
    print(f"{sum(kept.values())} ACI-Bench sections as {len(kept)} MTS-Dialog types")

if __name__ == "__main__":
    main(*sys.argv[1:3])
