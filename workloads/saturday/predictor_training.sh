#!/usr/bin/env bash
# PredictorTraining: least-squares fit of next-day return on the Research features; writes the model
# and its metrics (metrics.json) for the backtest and for people.
source "$(dirname "$0")/common.sh"
features="$(fetch_output Research features.csv)"
train() {
  [ "$1" -eq 1 ] || return 0
  python3 - "$features" "$PIPELINE_OUTPUT_DIR" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
x = [(float(r["momentum"]), float(r["volatility"])) for r in rows]
y = [float(r["next_return"]) for r in rows]
n = len(rows)
# Normal equations for y = a + b*m + c*v, solved by Cramer's rule (no third-party packages on the instance).
s = lambda f: sum(f(i) for i in range(n))
m = [[n, s(lambda i: x[i][0]), s(lambda i: x[i][1])],
     [s(lambda i: x[i][0]), s(lambda i: x[i][0] ** 2), s(lambda i: x[i][0] * x[i][1])],
     [s(lambda i: x[i][1]), s(lambda i: x[i][0] * x[i][1]), s(lambda i: x[i][1] ** 2)]]
t = [s(lambda i: y[i]), s(lambda i: x[i][0] * y[i]), s(lambda i: x[i][1] * y[i])]
det = lambda a: (a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]))
d = det(m) or 1e-12
coef = [det([[t[r] if c == k else m[r][c] for c in range(3)] for r in range(3)]) / d for k in range(3)]
hits = sum(1 for i in range(n) if (coef[0] + coef[1] * x[i][0] + coef[2] * x[i][1] >= 0) == (y[i] >= 0))
json.dump({"intercept": coef[0], "momentum": coef[1], "volatility": coef[2]}, open(f"{sys.argv[2]}/model.json", "w"), indent=2)
json.dump({"accuracy": round(hits / max(n, 1), 4), "samples": n}, open(f"{sys.argv[2]}/metrics.json", "w"), indent=2)
PY
}
say "training on $(($(wc -l <"$features") - 1)) samples"
run_steps 3 train
say "done: $(tr -d '\n ' <"$PIPELINE_OUTPUT_DIR/metrics.json")"
