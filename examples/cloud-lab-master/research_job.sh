#!/usr/bin/env bash
# Phase 6, Research Queue: three phases side by side, six jobs at once. "param-sweep": sweep the
# model parameter named by the shard; "backtest": a specialized backtest of the market named by
# the shard; "model-sweep": compare the model families. Each writes result.json.
source "$(dirname "$0")/common.sh"
job="${1:?param-sweep, backtest or model-sweep}"
target="${PIPELINE_SHARD:-all-models}"
say "$job $target"
python3 - "$job" "$target" "${PIPELINE_PARAM_SEASON:-2025-26}" "$PIPELINE_OUTPUT_DIR/result.json" <<'PY'
import json, random, sys
job, target, season, out = sys.argv[1:5]
rng = random.Random(f"{job}/{target}/{season}")
grids = {"elo-k": [10, 15, 20, 25, 30, 40], "dc-rho": [-0.2, -0.15, -0.1, -0.05, 0.0], "home-advantage": [0.15, 0.2, 0.25, 0.3, 0.35]}
if job == "param-sweep":
    points = [{"value": v, "logLoss": round(0.97 + rng.gauss(0, 0.01), 4)} for v in grids[target]]
elif job == "backtest":
    points = [{"league": l, "roi": round(rng.gauss(0.01, 0.03), 4), "bets": rng.randint(80, 400)} for l in ("epl", "laliga", "seriea", "bundesliga", "ligue1")]
elif job == "model-sweep":
    points = [{"model": m, "logLoss": round(0.96 + rng.gauss(0, 0.012), 4)} for m in ("poisson", "bivariate-poisson", "dixon-coles", "bivariate-dixon-coles-elo")]
else:
    sys.exit(f"unknown research job {job}")
for p in points: print(f"{job} {target}: {p}", flush=True)
json.dump({"job": job, "target": target, "season": season, "points": points}, open(out, "w"), indent=2)
PY
say "done: result.json"
