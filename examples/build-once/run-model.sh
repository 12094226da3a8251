#!/usr/bin/env bash
# Seed 002's run worker: the moolloy jar is already downloaded and verified by the runner
# ($PIPELINE_ARTIFACTS_DIR/moolloy); fetch the model, run it, compare with the expected results,
# and leave everything in the outputs (the runner uploads them to S3, on failure too).
set -euo pipefail
model="${PIPELINE_PARAM_MODEL:?the run needs a model name (params.model)}"
work="$(mktemp -d)"
echo "run worker: model $model with moolloy $(sha256sum "$PIPELINE_ARTIFACTS_DIR/moolloy" | cut -c1-12)"
aws s3 cp --only-show-errors "${PIPELINE_RUN_URI%/runs/*}/sources/models/$model.tar.gz" "$work/model.tar.gz"
tar -xzf "$work/model.tar.gz" -C "$work"
java -jar "$PIPELINE_ARTIFACTS_DIR/moolloy" "$work/model.als" > "$PIPELINE_OUTPUT_DIR/results.txt"
if [ -f "$work/expected.txt" ] && ! diff -q "$work/expected.txt" "$PIPELINE_OUTPUT_DIR/results.txt" >/dev/null; then
  echo "run worker: results differ from the model's expected results"
  exit 1
fi
echo "run worker: $model ok"
