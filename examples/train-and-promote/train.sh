#!/usr/bin/env bash
# Seed 004's daily training, in small: train a model on the day's data and write its metrics; the
# gate after this phase compares them with production's and promotes the model only if it is better.
set -euo pipefail
echo "training on $PIPELINE_RUN_DATE (symbol ${PIPELINE_PARAM_SYMBOL:-btcusdt})"
python3 - "$PIPELINE_OUTPUT_DIR" "$PIPELINE_RUN_DATE" <<'PY'
import json, random, sys
out, day = sys.argv[1], sys.argv[2]
rng = random.Random(day)
model = {"trees": 200, "depth": 6, "seed": day}
metrics = {"accuracy": round(0.55 + rng.random() * 0.1, 4), "maxDrawdown": round(0.08 + rng.random() * 0.08, 4), "sharpe": round(0.8 + rng.random(), 3)}
json.dump(model, open(f"{out}/model.json", "w"), indent=2)
json.dump(metrics, open(f"{out}/metrics.json", "w"), indent=2)
print("metrics", json.dumps(metrics))
PY
