#!/usr/bin/env python3
"""Fingerprint of which rules hit which texts, to check that a prefilter or engine change
loses (or adds) no rule hit.

    scripts/rule-hits.py BIN OUT.tsv [--rules DIR]

Runs `BIN analyze` over every text of the detection datasets (as prompt, response and tool
argument) plus 20k generated events, and writes one line per event and field: id, field,
sorted rule ids. Compare two runs with `diff`.
"""
import json, os, subprocess, sys, tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
bin_, out = sys.argv[1], sys.argv[2]
rules = sys.argv[sys.argv.index("--rules") + 1] if "--rules" in sys.argv else os.path.join(root, "rules/detection")
work = tempfile.mkdtemp()
events = os.path.join(work, "in.jsonl")
with open(events, "w") as f:
    n = 0
    for name in ["detection_dev.jsonl", "detection_holdout.jsonl", "detection_holdout2.jsonl", "starter_families.jsonl"]:
        for i, line in enumerate(open(os.path.join(root, "tests/data", name))):
            text = json.loads(line)["text"]
            for field in ["prompt", "response", "tool"]:
                e = {"event_id": f"{name}:{i}:{field}", "ts": "2026-11-01T00:00:00Z", "agent_id": "a",
                     "session_id": f"s{n}", "tenant": "t"}
                n += 1
                if field == "tool":
                    e["prompt"] = "run the tool"
                    e["tool_calls"] = [{"name": "t", "arguments": {"text": text}}]
                else:
                    e[field] = text
                f.write(json.dumps(e) + "\n")
gen = os.path.join(work, "gen.jsonl")
subprocess.run([bin_, "generate", "--events", "20000", "--seed", "7", "--output", gen], check=True)
with open(events, "a") as f:
    f.write(open(gen).read())
res = os.path.join(work, "out.jsonl")
code = subprocess.run([bin_, "analyze", "--quiet", "--rules", rules, "--input", events, "--output", res]).returncode
if code != 0:
    sys.exit(f"analyze exited {code} (see {res})")
with open(out, "w") as f:
    for line in open(res):
        r = json.loads(line)
        per_field = {}
        for x in r.get("findings", []):
            per_field.setdefault(x["field"], set()).add(x["rule_id"])
        for field, ids in sorted(per_field.items()):
            f.write(f"{r['event_id']}\t{field}\t{','.join(sorted(ids))}\n")
