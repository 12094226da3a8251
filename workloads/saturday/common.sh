# Shared by the Saturday workloads: progress lines, checkpointed steps, reading earlier outputs.
# The runner (instance/pipeline-runner.sh) sets PIPELINE_CHECKPOINT_DIR (restored before the
# workload starts, saved on the spot notice and at the end), PIPELINE_OUTPUT_DIR (uploaded to
# PIPELINE_OUTPUT_URI when the workload ends) and PIPELINE_RUN_URI (the outputs of every phase of
# this run).
set -euo pipefail

step_seconds="${PIPELINE_PARAM_STEP_SECONDS:-2}"
checkpoint="$PIPELINE_CHECKPOINT_DIR/progress"

say() { printf '%s %s: %s\n' "$(date -u +%H:%M:%S)" "$PIPELINE_PHASE" "$*"; }

# The last step a checkpoint recorded (0 when starting fresh).
resumed_step() { if [ -f "$checkpoint" ]; then cat "$checkpoint"; else echo 0; fi; }

# run_steps <total> <function>: call <function> <step> for each step not done yet, recording each.
# A SIGTERM (the spot notice) ends the loop once the current step's command is done (bash runs a
# trap after the foreground command), so a step must be safe to redo: write whole files, never append.
run_steps() {
  local total="$1" fn="$2" step
  step="$(resumed_step)"
  if [ "$step" -gt 0 ]; then say "resuming after step $step of $total (checkpoint)"; fi
  # What the checkpoint holds (not $step: it counts the step under way, and is gone once this returns).
  trap 'say "stopping: progress saved at step $(resumed_step)"; exit 143' TERM
  while [ "$step" -lt "$total" ]; do
    step=$((step + 1))
    "$fn" "$step"
    echo "$step" >"$checkpoint"
    # The share of the work done, for the pipeline's relaunch rule (contract/runner.ts, PROGRESS_FILE).
    awk -v s="$step" -v t="$total" 'BEGIN { printf "%.4f\n", s / t }' >"$PIPELINE_CHECKPOINT_DIR/.pipeline-progress"
    say "step $step of $total done"
    sleep "$step_seconds"
  done
}

inputs="$(mktemp -d)"

# fetch_output <phase> <file>: download a file an earlier phase of this run wrote; prints its path.
fetch_output() {
  mkdir -p "$inputs/$1"
  aws s3 cp --only-show-errors "$PIPELINE_RUN_URI$1/$2" "$inputs/$1/$2"
  printf '%s/%s' "$inputs/$1" "$2"
}
