#!/usr/bin/env bash
# Seed 003's fan-out: one shard per crypto (PIPELINE_SHARD = btc, eth, ...), all five at once on
# their own spot instances. A shard runs every run of the factor for its crypto: variants x 5 folds
# x 3 cost levels, each an HPO search (PIPELINE_PARAM_HPO_TRIALS trials) and a backtest. Results are
# kept in the checkpoint run by run, so a relaunch after a spot interruption resumes with the next
# run; results.csv and summary.json go to this shard's outputs.
set -euo pipefail
# Fork safety (seed 003, section 7): no forking pools inside a trial, and gRPC survives a fork anyway.
export GRPC_ENABLE_FORK_SUPPORT=1 GRPC_POLL_STRATEGY=poll PYTHONUNBUFFERED=1
crypto="${PIPELINE_SHARD:?FactorRun runs as one shard per crypto}"
factor="${PIPELINE_PARAM_FACTOR:-calibration}"
echo "factor $factor, crypto $crypto (shard $((PIPELINE_SHARD_INDEX + 1)) of $PIPELINE_SHARD_COUNT), run date $PIPELINE_RUN_DATE"
python3 - "$crypto" "$factor" "${PIPELINE_PARAM_HPO_TRIALS:-30}" "$PIPELINE_CHECKPOINT_DIR" "$PIPELINE_OUTPUT_DIR" <<'PY'
import csv, itertools, json, os, random, statistics, sys
crypto, factor, trials, ckpt, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
variants = {
    "calibration": ["none", "isotonic", "sigmoid"], "timeframe": ["1h", "4h", "12h", "1d"], "fold_size": ["90d", "180d", "270d", "365d"],
    "n_features": ["16", "32", "64", "128"], "classification_mode": ["binary", "ternary", "regression-sign"],
}[factor]
runs = list(itertools.product(variants, range(1, 6), (5, 10, 20)))   # variant, fold, cost in bps
part = os.path.join(ckpt, "results.json")
done = json.load(open(part)) if os.path.exists(part) else []
if done: print(f"{crypto}: resuming after {len(done)} of {len(runs)} runs (checkpoint)")
for variant, fold, cost in runs[len(done):]:
    rng = random.Random(f"{crypto}/{factor}/{variant}/{fold}")
    best = max(rng.gauss(0.52, 0.02) for _ in range(trials))               # the HPO search (n_jobs=1: no fork)
    sharpe = round((best - 0.5) * 15 - cost / 40 + rng.gauss(0, 0.2), 3)   # the backtest, after costs
    done.append({"variant": variant, "fold": fold, "costBps": cost, "accuracy": round(best, 4), "sharpe": sharpe})
    json.dump(done, open(part + ".tmp", "w")); os.replace(part + ".tmp", part)
    with open(os.path.join(ckpt, ".pipeline-progress"), "w") as f: f.write(f"{len(done) / len(runs):.4f}\n")
    print(f"{crypto}: run {len(done)} of {len(runs)}: {variant} fold {fold} cost {cost}bps sharpe {sharpe}", flush=True)
with open(os.path.join(out, "results.csv"), "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(done[0])); w.writeheader(); w.writerows(done)
summary = {v: round(statistics.mean(r["sharpe"] for r in done if r["variant"] == v), 3) for v in variants}
json.dump({"crypto": crypto, "factor": factor, "runs": len(done), "meanSharpeByVariant": summary}, open(os.path.join(out, "summary.json"), "w"), indent=2)
print(f"{crypto}: done, mean sharpe by variant {summary}")
PY
