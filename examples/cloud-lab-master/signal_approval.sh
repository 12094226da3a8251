#!/usr/bin/env bash
# Phases 4 and 7, Signal Approvals and Signal Cleanup: one signal per shard through the 10-gate
# approval. "priority": the shard is the signal's name (SignalApprovals); "remaining": the shard's
# index picks the signal from the catalogue after the 5 priority ones (SignalCleanup). A rejected
# signal is a result (approval.json says why), not a failure.
source "$(dirname "$0")/common.sh"
case "${1:?priority or remaining}" in
  priority) signal="$PIPELINE_SHARD" ;;
  remaining)
    signal="$(sed -n "$((PIPELINE_SHARD_INDEX + 6))p" "$catalogue")"
    [ -n "$signal" ] || { say "the catalogue has no remaining signal number $((PIPELINE_SHARD_INDEX + 1)) (shards: $PIPELINE_SHARD_COUNT)"; exit 1; } ;;
  *) say "unknown approval queue $1"; exit 2 ;;
esac
grep -qx -- "$signal" "$catalogue" || { say "signal $signal is not in the catalogue"; exit 1; }
scorecard="$(fetch_phase Analysis)/scorecard.json"
say "approving $signal"
python3 - "$signal" "$scorecard" "$PIPELINE_OUTPUT_DIR/approval.json" <<'PY'
import json, random, sys
signal, scorecard, out = sys.argv[1:4]
card = json.load(open(scorecard))["signals"].get(signal)   # None: the signal was not in the factorial
rng = random.Random(signal)
gates = [
    ("sample-size", rng.randint(150, 900), lambda v: v >= 200), ("roi", round(rng.gauss(0.02, 0.02), 4), lambda v: v > 0),
    ("closing-line-value", round(rng.gauss(0.012, 0.01), 4), lambda v: v > 0), ("max-drawdown", round(rng.uniform(0.05, 0.3), 3), lambda v: v < 0.28),
    ("out-of-sample", round(rng.gauss(0.01, 0.02), 4), lambda v: v > -0.012), ("season-stability", round(rng.uniform(0.3, 1), 2), lambda v: v >= 0.35),
    ("league-breadth", rng.randint(2, 19), lambda v: v >= 4), ("live-correlation", round(rng.uniform(0, 0.9), 2), lambda v: v < 0.7),
    ("calibration", round(rng.uniform(0.01, 0.08), 3), lambda v: v < 0.06), ("factorial-lift", card["lift"] if card else None, lambda v: v is None or v > -0.002),
]
checked = [{"gate": g, "value": v, "passed": bool(ok(v))} for g, v, ok in gates]
for c in checked: print(f"{signal}: gate {c['gate']} {'pass' if c['passed'] else 'FAIL'} ({c['value']})", flush=True)
approved = all(c["passed"] for c in checked)
json.dump({"signal": signal, "approved": approved, "gates": checked}, open(out, "w"), indent=2)
print(f"{signal}: {'approved' if approved else 'rejected'}")
PY
