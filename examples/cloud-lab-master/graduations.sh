#!/usr/bin/env bash
# Phase 5, Graduations: the priority signals that passed all 10 gates are promoted to production.
# The phase writes graduations.json (what production's deploy reads) and prints each decision.
source "$(dirname "$0")/common.sh"
approvals="$(fetch_phase SignalApprovals)"
python3 - "$approvals" "$PIPELINE_OUTPUT_DIR/graduations.json" <<'PY'
import glob, json, sys
decisions = [json.load(open(p)) for p in sorted(glob.glob(f"{sys.argv[1]}/*/approval.json"))]
if not decisions: sys.exit("no approvals in this run")
graduated = [d["signal"] for d in decisions if d["approved"]]
for d in decisions: print(f"{d['signal']}: {'graduates' if d['approved'] else 'stays in research'}")
json.dump({"graduated": graduated, "considered": [d["signal"] for d in decisions]}, open(sys.argv[2], "w"), indent=2)
PY
say "done: graduations.json"
