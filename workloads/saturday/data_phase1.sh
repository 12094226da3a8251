#!/usr/bin/env bash
# DataPhase1: build the week's price table (a deterministic synthetic market, one symbol per step).
source "$(dirname "$0")/common.sh"
symbols="${PIPELINE_PARAM_UNIVERSE_SIZE:-20}"
parts="$PIPELINE_CHECKPOINT_DIR/prices" # kept with the checkpoint: a relaunch keeps the symbols done
mkdir -p "$parts"

price_rows() {
  python3 - "$1" "$PIPELINE_RUN_DATE" >"$parts/$(printf 'S%03d' "$1").csv" <<'PY'
import random, sys
symbol, run_date = int(sys.argv[1]), sys.argv[2]
rng = random.Random(f"{run_date}-{symbol}")
close = 100.0
for day in range(1, 61):
    close *= 1 + rng.gauss(0.0005, 0.02)
    print(f"S{symbol:03d},{day},{close:.4f}")
PY
}
say "building prices for $symbols symbols, run date $PIPELINE_RUN_DATE"
run_steps "$symbols" price_rows
{ echo "symbol,day,close"; for n in $(seq 1 "$symbols"); do cat "$parts/$(printf 'S%03d' "$n").csv"; done; } >"$PIPELINE_OUTPUT_DIR/prices.csv"
say "done: $(($(wc -l <"$PIPELINE_OUTPUT_DIR/prices.csv") - 1)) rows in prices.csv"
