#!/usr/bin/env bash
# Phase 3, Analysis: merge the factorial's chunks into a per-signal scorecard (the ROI a signal adds
# when switched on), the shadow configs (the 10 best combinations, to run in shadow) and the
# backfill manifest for production. The Factorial phase tolerates a few failed chunks: the
# scorecard says how many combinations it is based on.
source "$(dirname "$0")/common.sh"
chunks="$(fetch_phase Factorial)"
python3 - "$chunks" "$PIPELINE_OUTPUT_DIR" "${PIPELINE_PARAM_SIGNALS:-12}" <<'PY'
import glob, json, statistics, sys
chunks, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
results = {}
for path in glob.glob(f"{chunks}/*/chunk.json"):
    results.update(json.load(open(path))["results"])
if not results: sys.exit("no factorial results in this run")
signals = sorted({s for r in results.values() for s in r["signals"]})
scorecard = {}
for s in signals:
    on = [r["roi"] for r in results.values() if s in r["signals"]]
    off = [r["roi"] for r in results.values() if s not in r["signals"]]
    scorecard[s] = {"roiOn": round(statistics.mean(on), 5), "lift": round(statistics.mean(on) - statistics.mean(off or [0]), 5), "combos": len(on)}
best = sorted(results.items(), key=lambda kv: kv[1]["roi"], reverse=True)[:10]
json.dump({"combinations": len(results), "expected": 2 ** n, "signals": scorecard}, open(f"{out}/scorecard.json", "w"), indent=2)
json.dump([{"combo": int(k), **v} for k, v in best], open(f"{out}/shadow-configs.json", "w"), indent=2)
json.dump({"backfill": [s for s, v in scorecard.items() if v["lift"] > 0]}, open(f"{out}/backfill.json", "w"), indent=2)
print(f"scorecard: {len(signals)} signals from {len(results)} of {2 ** n} combinations; best roi {best[0][1]['roi']}")
PY
say "done: scorecard.json, shadow-configs.json, backfill.json"
