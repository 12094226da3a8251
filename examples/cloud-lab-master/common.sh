# Shared by the cloud-lab master's workloads. The runner (instance/pipeline-runner.sh) sets
# PIPELINE_OUTPUT_DIR (uploaded to this phase's, or shard's, PIPELINE_OUTPUT_URI when the workload
# ends), PIPELINE_CHECKPOINT_DIR (restored on every attempt, saved on spot's notice) and
# PIPELINE_RUN_URI (the outputs of every phase of this run; a sharded phase's under <phase>/<shard>/).
set -euo pipefail
export PYTHONUNBUFFERED=1 # progress lines reach the log as they happen: the pipeline's silence watchdog reads them

say() { printf '%s %s%s: %s\n' "$(date -u +%H:%M:%S)" "$PIPELINE_PHASE" "${PIPELINE_SHARD:+[$PIPELINE_SHARD]}" "$*"; }

inputs="$(mktemp -d)"

# fetch_phase <phase>: download every output of an earlier phase of this run (each shard's in
# its own directory); prints the directory.
fetch_phase() {
  aws s3 sync --only-show-errors "$PIPELINE_RUN_URI$1/" "$inputs/$1"
  printf '%s' "$inputs/$1"
}

# The signal catalogue: one signal a line, the 5 priority signals first (SignalApprovals' shards),
# then the 22 waiting for approval (SignalCleanup's shards, by index). The factorial uses the first
# $PIPELINE_PARAM_SIGNALS of them.
catalogue="$(dirname "${BASH_SOURCE[0]}")/signals.txt"
