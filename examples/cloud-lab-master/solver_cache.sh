#!/usr/bin/env bash
# Phase 1, Solver Cache: one shard per league. Walk the season forward one solve date (matchweek) at
# a time, fit the league's team strengths (attack/defence, home advantage) on the matches before
# that date, and keep each snapshot. Every snapshot is written whole into the checkpoint, so a spot
# relaunch resumes at the next date instead of starting the league over. Memory (the seed's OOM
# fix): only the seasons in the fitting window are loaded, never all 16.
source "$(dirname "$0")/common.sh"
league="${PIPELINE_SHARD:?SolverCache runs as one shard per league}"
season="${PIPELINE_PARAM_SEASON:-2025-26}"
say "league $league ($((PIPELINE_SHARD_INDEX + 1)) of $PIPELINE_SHARD_COUNT), season $season"
python3 - "$league" "$season" "$PIPELINE_CHECKPOINT_DIR" "$PIPELINE_OUTPUT_DIR" <<'PY'
import json, math, os, random, sys
league, season, ckpt, out = sys.argv[1:5]
dates = 38                                   # one snapshot per matchweek
teams = [f"{league}-t{i:02d}" for i in range(20)]
snaps = os.path.join(ckpt, "snapshots"); os.makedirs(snaps, exist_ok=True)
def matches_until(week):                     # the fitting window: last season + this one so far
    rng = random.Random(f"{league}/{season}")
    return [(rng.choice(teams), rng.choice(teams), rng.randint(0, 4), rng.randint(0, 3)) for _ in range(380 + 10 * week)]
for week in range(1, dates + 1):
    path = os.path.join(snaps, f"week{week:02d}.json")
    if os.path.exists(path):
        continue                             # solved by an earlier attempt (checkpoint)
    scored, conceded, played = {t: 1.0 for t in teams}, {t: 1.0 for t in teams}, {t: 2 for t in teams}
    for home, away, hg, ag in matches_until(week):
        if home == away: continue
        scored[home] += hg; conceded[home] += ag; scored[away] += ag; conceded[away] += hg
        played[home] += 1; played[away] += 1
    snapshot = {t: {"attack": round(math.log(scored[t] / played[t]), 4), "defence": round(math.log(conceded[t] / played[t]), 4)} for t in teams}
    with open(path + ".tmp", "w") as f: json.dump({"week": week, "homeAdvantage": 0.27, "teams": snapshot}, f)
    os.replace(path + ".tmp", path)           # whole file or nothing: safe to redo after SIGTERM
    with open(os.path.join(ckpt, ".pipeline-progress"), "w") as f: f.write(f"{week / dates:.4f}\n")
    print(f"{league}: solved week {week} of {dates}", flush=True)   # the keepalive: one line per solve date
cache = [json.load(open(os.path.join(snaps, f"week{w:02d}.json"))) for w in range(1, dates + 1)]
json.dump({"league": league, "season": season, "snapshots": cache}, open(os.path.join(out, "solver-cache.json"), "w"))
PY
say "done: $(ls "$PIPELINE_CHECKPOINT_DIR/snapshots" | wc -l) snapshots in solver-cache.json"
