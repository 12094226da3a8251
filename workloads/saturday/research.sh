#!/usr/bin/env bash
# Research: features from DataPhase1's prices (20-day momentum and volatility per symbol and day).
source "$(dirname "$0")/common.sh"
prices="$(fetch_output DataPhase1 prices.csv)"
features() {
  [ "$1" -eq 1 ] || return 0
  python3 - "$prices" "$PIPELINE_OUTPUT_DIR/features.csv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
by_symbol = {}
for r in rows:
    by_symbol.setdefault(r["symbol"], []).append(float(r["close"]))
with open(sys.argv[2], "w") as out:
    out.write("symbol,day,momentum,volatility,next_return\n")
    for symbol, closes in sorted(by_symbol.items()):
        for day in range(20, len(closes) - 1):
            window = closes[day - 20:day + 1]
            returns = [b / a - 1 for a, b in zip(window, window[1:])]
            out.write(f"{symbol},{day},{window[-1] / window[0] - 1:.6f},{statistics.pstdev(returns):.6f},{closes[day + 1] / closes[day] - 1:.6f}\n")
PY
}
say "computing features from $(($(wc -l <"$prices") - 1)) price rows"
run_steps 3 features
say "done: features.csv"
