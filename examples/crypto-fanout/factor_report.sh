#!/usr/bin/env bash
# After the fan-out: gather every crypto's summary.json into the factor's report for the committee
# review. FactorRun tolerates one failed crypto: the report names the cryptos it covers, and fails
# only when none finished.
set -euo pipefail
inputs="$(mktemp -d)"
aws s3 sync --only-show-errors "${PIPELINE_RUN_URI}FactorRun/" "$inputs"
python3 - "$inputs" "$PIPELINE_OUTPUT_DIR/factor-report.json" <<'PY'
import glob, json, statistics, sys
summaries = [json.load(open(p)) for p in sorted(glob.glob(f"{sys.argv[1]}/*/summary.json"))]
if not summaries: sys.exit("no crypto finished: nothing to report")
variants = summaries[0]["meanSharpeByVariant"]
by_variant = {v: round(statistics.mean(s["meanSharpeByVariant"][v] for s in summaries), 3) for v in variants}
best = max(by_variant, key=by_variant.get)
report = {"factor": summaries[0]["factor"], "cryptos": [s["crypto"] for s in summaries], "meanSharpeByVariant": by_variant, "best": best}
json.dump(report, open(sys.argv[2], "w"), indent=2)
print(f"factor {report['factor']}: best variant {best} over {', '.join(report['cryptos'])}; {by_variant}")
PY
