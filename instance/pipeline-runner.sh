#!/usr/bin/env bash
# pipeline-runner.sh: what runs on a phase's instance around the user's workload (the data plane).
# SendWorkload sends it with every command (decisions/workload-script.ts). In order:
#   1. the code asset (a .tar.gz) and each declared artifact are downloaded and their sha256
#      verified; a mismatch runs nothing and exits 65 after printing "ArtifactIntegrityFailed: ...";
#   2. secrets are resolved into environment variables of the workload only (never into the command
#      text, never printed); one that cannot be read runs nothing and exits 66 ("SecretUnavailable");
#   3. the phase's checkpoint is restored into PIPELINE_CHECKPOINT_DIR;
#   4. the workload runs in its own process group; SIGTERM and SIGINT sent to the runner are passed
#      on to it;
#   5. a watcher polls the instance metadata (IMDSv2) for a spot instance-action every
#      PIPELINE_NOTICE_POLL_SECONDS (5). The instance-action item appears two minutes before spot
#      stops or terminates the instance (EC2 user guide, "Spot Instance interruption notices");
#      IMDSv2 needs a session token from PUT /latest/api/token (EC2 user guide, "Use IMDSv2"). On
#      the notice the workload gets SIGTERM (SIGKILL PIPELINE_NOTICE_STOP_SECONDS later if it is
#      still running), its checkpoint directory is saved as soon as it has stopped, and the runner
#      then waits for the interruption rather than exiting: the command ends with its instance, as
#      an interruption, not with the workload's SIGTERM exit. Still running
#      PIPELINE_NOTICE_GRACE_SECONDS after the notice, it exits 75;
#   6. when the workload has ended, whatever its exit, the outputs directory is uploaded to
#      PIPELINE_OUTPUT_URI (on failure too, for debugging) and the checkpoint saved once more. A
#      workload that succeeded but whose outputs cannot be uploaded exits 74 ("OutputUploadFailed").
#      In a preflight, a probe file proves the bucket writable.
# Before all that, the tools the runner needs and the ones the phase declares (PIPELINE_TOOLS) must
# be on the instance: exit 69 ("MissingTool") otherwise.
# The runner exits with the workload's exit code, except that a workload exit of 65, 66, 69, 74 or 75
# (the codes the runner reserves, contract/runner.ts) is reported as 1.
#
# Usage: pipeline-runner.sh <workload command...>
# Environment (set by the pipeline; contract/workload-env.ts):
#   PIPELINE_CODE_URI, PIPELINE_CODE_SHA256     the code asset and its sha256 (optional)
#   PIPELINE_ARTIFACTS                          "name|s3://uri|sha256" lines (optional)
#   PIPELINE_SECRETS                            "VAR|ssm:/parameter/name" or "VAR|secretsmanager:<name>" lines (optional)
#   PIPELINE_TOOLS                              commands the workload needs, space-separated (optional)
#   PIPELINE_WORK_DIR                           where code and artifacts go (default /opt/spot-pipeline/work)
#   PIPELINE_CHECKPOINT_URI, PIPELINE_CHECKPOINT_DIR, PIPELINE_OUTPUT_URI, PIPELINE_OUTPUT_DIR, PIPELINE_MODE
#   PIPELINE_IMDS_ENDPOINT                      default http://169.254.169.254 (tests point it elsewhere)
#   PIPELINE_NOTICE_POLL_SECONDS (5), PIPELINE_NOTICE_STOP_SECONDS (60), PIPELINE_NOTICE_GRACE_SECONDS (300)
set -euo pipefail

readonly EXIT_INTEGRITY=65 EXIT_SECRET=66 EXIT_TOOL=69 EXIT_UPLOAD=74 EXIT_NO_INTERRUPTION=75
readonly IMDS="${PIPELINE_IMDS_ENDPOINT:-http://169.254.169.254}"
readonly POLL="${PIPELINE_NOTICE_POLL_SECONDS:-5}"
readonly STOP_SECONDS="${PIPELINE_NOTICE_STOP_SECONDS:-60}"
readonly GRACE_SECONDS="${PIPELINE_NOTICE_GRACE_SECONDS:-300}"
readonly WORK_DIR="${PIPELINE_WORK_DIR:-/opt/spot-pipeline/work}"
readonly CHECKPOINT_DIR="${PIPELINE_CHECKPOINT_DIR:-$WORK_DIR/checkpoint}"
readonly OUTPUT_DIR="${PIPELINE_OUTPUT_DIR:-$WORK_DIR/output}"
readonly NOTICE_FLAG="$WORK_DIR/.spot-notice"
export PIPELINE_CHECKPOINT_DIR="$CHECKPOINT_DIR" PIPELINE_OUTPUT_DIR="$OUTPUT_DIR"

log() { printf 'pipeline-runner: %s\n' "$*" >&2; }

if [ "$#" -eq 0 ]; then
  log "usage: pipeline-runner.sh <workload command...>"
  exit 64
fi
for tool in aws curl sha256sum setsid ${PIPELINE_CODE_URI:+tar}; do
  command -v "$tool" >/dev/null || { printf 'MissingTool: the instance lacks %s, which the runner needs; nothing was run\n' "$tool"; exit "$EXIT_TOOL"; }
done
for tool in ${PIPELINE_TOOLS:-}; do
  command -v "$tool" >/dev/null || { printf 'MissingTool: the instance lacks %s, which this phase declares in tools; nothing was run\n' "$tool"; exit "$EXIT_TOOL"; }
done
mkdir -p "$WORK_DIR" "$CHECKPOINT_DIR" "$OUTPUT_DIR"
rm -f "$NOTICE_FLAG"

# --- 1. code and artifacts, verified ---------------------------------------------------------
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# fetch_verified <name> <s3 uri> <expected sha256> <destination file>
fetch_verified() {
  local name="$1" uri="$2" expected="$3" dest="$4" actual
  if ! aws s3 cp --only-show-errors "$uri" "$dest"; then
    printf 'ArtifactIntegrityFailed: %s could not be downloaded from %s; nothing was run\n' "$name" "$uri"
    exit "$EXIT_INTEGRITY"
  fi
  actual="$(sha256_of "$dest")"
  if [ "$actual" != "$expected" ]; then
    rm -f "$dest"
    printf 'ArtifactIntegrityFailed: %s from %s has sha256 %s, expected %s; nothing was run\n' "$name" "$uri" "$actual" "$expected"
    exit "$EXIT_INTEGRITY"
  fi
  log "verified $name ($actual)"
}

if [ -n "${PIPELINE_CODE_URI:-}" ]; then
  fetch_verified code "$PIPELINE_CODE_URI" "${PIPELINE_CODE_SHA256:?PIPELINE_CODE_SHA256 is required with PIPELINE_CODE_URI}" "$WORK_DIR/code.tar.gz"
  rm -rf "$WORK_DIR/code" && mkdir -p "$WORK_DIR/code"
  tar -xzf "$WORK_DIR/code.tar.gz" -C "$WORK_DIR/code"
  export PIPELINE_CODE_DIR="$WORK_DIR/code"
fi

if [ -n "${PIPELINE_ARTIFACTS:-}" ]; then
  mkdir -p "$WORK_DIR/artifacts"
  while IFS='|' read -r name uri sha; do
    [ -n "$name" ] || continue
    fetch_verified "$name" "$uri" "$sha" "$WORK_DIR/artifacts/$name"
  done <<<"$PIPELINE_ARTIFACTS"
  export PIPELINE_ARTIFACTS_DIR="$WORK_DIR/artifacts"
fi

# --- 2. secrets, for the workload's environment only ----------------------------------------
secret_env=()
if [ -n "${PIPELINE_SECRETS:-}" ]; then
  while IFS='|' read -r var source; do
    [ -n "$var" ] || continue
    case "$var" in *[!A-Za-z0-9_]* | [0-9]*) log "secret variable name $var is not a shell name"; exit 64 ;; esac
    value=''
    case "$source" in
      ssm:*) value="$(aws ssm get-parameter --with-decryption --name "${source#ssm:}" --query Parameter.Value --output text)" || value='' ;;
      secretsmanager:*) value="$(aws secretsmanager get-secret-value --secret-id "${source#secretsmanager:}" --query SecretString --output text)" || value='' ;;
      *) log "secret $var: source must start with ssm: or secretsmanager:"; exit 64 ;;
    esac
    if [ -z "$value" ]; then
      printf 'SecretUnavailable: %s from %s could not be read (does it exist, and may this phase read it?); nothing was run\n' "$var" "$source"
      exit "$EXIT_SECRET"
    fi
    secret_env+=("$var=$value")
    log "resolved secret $var from ${source%%:*}"
  done <<<"$PIPELINE_SECRETS"
fi

# --- 3. checkpoint restored ------------------------------------------------------------------
save_checkpoint() {
  [ -n "${PIPELINE_CHECKPOINT_URI:-}" ] || return 0
  aws s3 sync --only-show-errors "$CHECKPOINT_DIR" "$PIPELINE_CHECKPOINT_URI" || log "checkpoint save failed"
}
if [ -n "${PIPELINE_CHECKPOINT_URI:-}" ]; then
  aws s3 sync --only-show-errors "$PIPELINE_CHECKPOINT_URI" "$CHECKPOINT_DIR" || log "no checkpoint restored"
fi

# --- 4. the workload, in its own process group -----------------------------------------------
# (export is a shell builtin: the secret values never appear on a command line, not even env's.)
(
  for assignment in "${secret_env[@]}"; do export "${assignment?}"; done
  exec setsid "$@"
) &
workload=$!
unset secret_env value

forward() { kill -s "$1" -- "-$workload" 2>/dev/null || true; }
trap 'forward TERM' TERM
trap 'forward INT' INT

# --- 5. the spot notice watcher ----------------------------------------------------------------
imds_token() { curl -sf -X PUT "$IMDS/latest/api/token" -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' --max-time 2; }
watch_notice() {
  local token code waited
  while kill -0 "$workload" 2>/dev/null; do
    token="$(imds_token || true)"
    if [ -n "$token" ]; then
      code="$(curl -s -o /dev/null -w '%{http_code}' -H "X-aws-ec2-metadata-token: $token" --max-time 2 "$IMDS/latest/meta-data/spot/instance-action" || true)"
      if [ "$code" = "200" ]; then
        : >"$NOTICE_FLAG"
        log "spot interruption notice: stopping the workload to save its checkpoint"
        kill -s TERM -- "-$workload" 2>/dev/null || true
        waited=0
        while kill -0 "$workload" 2>/dev/null && [ "$waited" -lt "$STOP_SECONDS" ]; do sleep 1; waited=$((waited + 1)); done
        kill -s KILL -- "-$workload" 2>/dev/null || true
        return 0
      fi
    fi
    sleep "$POLL"
  done
}
watch_notice &
watcher=$!

# --- 6. the end: outputs and checkpoint, whatever the exit -----------------------------------
set +e
wait "$workload"
status=$?
while kill -0 "$workload" 2>/dev/null; do wait "$workload"; status=$?; done # a trapped signal interrupts wait
set -e
if [ -f "$NOTICE_FLAG" ]; then
  wait "$watcher" 2>/dev/null || true
else
  kill "$watcher" 2>/dev/null || true
  wait "$watcher" 2>/dev/null || true
fi
save_checkpoint
case "$status" in
  "$EXIT_INTEGRITY" | "$EXIT_SECRET" | "$EXIT_TOOL" | "$EXIT_UPLOAD" | "$EXIT_NO_INTERRUPTION")
    log "the workload exited $status, a code the runner reserves; reporting exit 1"
    status=1 ;;
esac
if [ "${PIPELINE_MODE:-}" = preflight ] && [ "$status" -eq 0 ]; then
  printf 'preflight ok %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$OUTPUT_DIR/preflight-probe.txt"
fi
uploaded=0
if [ -n "${PIPELINE_OUTPUT_URI:-}" ]; then
  aws s3 sync --only-show-errors "$OUTPUT_DIR" "$PIPELINE_OUTPUT_URI" || uploaded=$?
fi
if [ -f "$NOTICE_FLAG" ]; then
  log "checkpoint saved; waiting for the spot interruption (workload exit $status)"
  sleep "$GRACE_SECONDS"
  printf 'pipeline-runner: the spot notice came %s s ago but the instance is still running\n' "$GRACE_SECONDS"
  exit "$EXIT_NO_INTERRUPTION"
fi
if [ "$uploaded" -ne 0 ]; then
  if [ "$status" -eq 0 ]; then
    printf 'OutputUploadFailed: the outputs could not be uploaded to %s\n' "$PIPELINE_OUTPUT_URI"
    exit "$EXIT_UPLOAD"
  fi
  log "output upload failed"
fi
log "workload exited $status"
exit "$status"
