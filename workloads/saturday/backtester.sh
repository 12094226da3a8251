#!/usr/bin/env bash
# Backtester: trade the model's sign on the Research features; writes backtest.json.
source "$(dirname "$0")/common.sh"
model="$(fetch_output PredictorTraining model.json)"
features="$(fetch_output Research features.csv)"
backtest() {
  [ "$1" -eq 1 ] || return 0
  python3 - "$model" "$features" "$PIPELINE_OUTPUT_DIR/backtest.json" <<'PY'
import csv, json, sys
model = json.load(open(sys.argv[1]))
equity, peak, drawdown, trades = 1.0, 1.0, 0.0, 0
for r in csv.DictReader(open(sys.argv[2])):
    signal = model["intercept"] + model["momentum"] * float(r["momentum"]) + model["volatility"] * float(r["volatility"])
    position = 1 if signal >= 0 else -1
    equity *= 1 + position * float(r["next_return"])  # a fraction (research.sh), not a percentage
    trades += 1
    peak = max(peak, equity)
    drawdown = max(drawdown, 1 - equity / peak)
json.dump({"finalEquity": round(equity, 6), "maxDrawdown": round(drawdown, 6), "trades": trades}, open(sys.argv[3], "w"), indent=2)
PY
}
say "backtesting"
run_steps 3 backtest
say "done: $(tr -d '\n ' <"$PIPELINE_OUTPUT_DIR/backtest.json")"
