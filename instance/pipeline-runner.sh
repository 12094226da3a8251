#!/usr/bin/env bash
# pipeline-runner.sh: what runs on a phase's instance around the user's workload (issue 10, the
# data plane). In order:
#   1. the code asset and each declared artifact are downloaded and their sha256 verified; a
#      mismatch runs nothing and exits 65 after printing "ArtifactIntegrityFailed: ..." (a genuine
#      error: the pipeline never relaunches it);
#   2. secrets are resolved into environment variables of the workload only (never into the command
#      text, never printed);
#   3. the phase's checkpoint is restored into PIPELINE_CHECKPOINT_DIR;
#   4. the workload runs in its own process group; SIGTERM and SIGINT sent to the runner are passed
#      on to it;
#   5. a watcher polls the instance metadata (IMDSv2) for a spot instance-action every
#      PIPELINE_NOTICE_POLL_SECONDS (5): on the 2-minute notice it sends the workload SIGTERM and
#      saves the checkpoint directory (EC2 user guide, "Spot Instance interruption notices": the
#      instance-action item appears two minutes before the interruption; IMDSv2 needs a session
#      token from PUT /latest/api/token);
#   6. when the workload has ended, whatever its exit, the outputs directory is uploaded to
#      PIPELINE_OUTPUT_URI (on failure too, for debugging) and the checkpoint saved once more;
#      the runner exits with the workload's exit code.
#
# Usage: pipeline-runner.sh <workload command...>
# Environment (set by the pipeline):
#   PIPELINE_CODE_URI, PIPELINE_CODE_SHA256     the code asset (a zip) and its sha256 (optional)
#   PIPELINE_ARTIFACTS                          "name|s3://uri|sha256" lines (optional)
#   PIPELINE_SECRETS                            "VAR|ssm:/parameter/name" or "VAR|secretsmanager:<id>" lines (optional)
#   PIPELINE_WORK_DIR                           where code and artifacts go (default /opt/spot-pipeline/work)
#   PIPELINE_CHECKPOINT_URI, PIPELINE_CHECKPOINT_DIR, PIPELINE_OUTPUT_URI, PIPELINE_OUTPUT_DIR
#   PIPELINE_IMDS_ENDPOINT                      default http://169.254.169.254 (tests point it elsewhere)
#   PIPELINE_NOTICE_POLL_SECONDS                default 5
set -euo pipefail

readonly INTEGRITY_EXIT=65
readonly IMDS="${PIPELINE_IMDS_ENDPOINT:-http://169.254.169.254}"
readonly POLL="${PIPELINE_NOTICE_POLL_SECONDS:-5}"
readonly WORK_DIR="${PIPELINE_WORK_DIR:-/opt/spot-pipeline/work}"
readonly CHECKPOINT_DIR="${PIPELINE_CHECKPOINT_DIR:-$WORK_DIR/checkpoint}"
readonly OUTPUT_DIR="${PIPELINE_OUTPUT_DIR:-$WORK_DIR/output}"
export PIPELINE_CHECKPOINT_DIR="$CHECKPOINT_DIR" PIPELINE_OUTPUT_DIR="$OUTPUT_DIR"

log() { printf 'pipeline-runner: %s\n' "$*" >&2; }

if [ "$#" -eq 0 ]; then
  log "usage: pipeline-runner.sh <workload command...>"
  exit 64
fi
mkdir -p "$WORK_DIR" "$CHECKPOINT_DIR" "$OUTPUT_DIR"

# --- 1. code and artifacts, verified ---------------------------------------------------------
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# fetch <name> <s3 uri> <expected sha256> <destination file>
fetch_verified() {
  local name="$1" uri="$2" expected="$3" dest="$4" actual
  aws s3 cp --only-show-errors "$uri" "$dest"
  actual="$(sha256_of "$dest")"
  if [ "$actual" != "$expected" ]; then
    rm -f "$dest"
    printf 'ArtifactIntegrityFailed: %s from %s has sha256 %s, expected %s; nothing was run\n' "$name" "$uri" "$actual" "$expected"
    exit "$INTEGRITY_EXIT"
  fi
  log "verified $name ($actual)"
}

if [ -n "${PIPELINE_CODE_URI:-}" ]; then
  fetch_verified code "$PIPELINE_CODE_URI" "${PIPELINE_CODE_SHA256:?PIPELINE_CODE_SHA256 is required with PIPELINE_CODE_URI}" "$WORK_DIR/code.zip"
  rm -rf "$WORK_DIR/code" && mkdir -p "$WORK_DIR/code"
  unzip -q -o "$WORK_DIR/code.zip" -d "$WORK_DIR/code"
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
    case "$source" in
      ssm:*) value="$(aws ssm get-parameter --with-decryption --name "${source#ssm:}" --query Parameter.Value --output text)" ;;
      secretsmanager:*) value="$(aws secretsmanager get-secret-value --secret-id "${source#secretsmanager:}" --query SecretString --output text)" ;;
      *) log "secret $var: source must start with ssm: or secretsmanager:"; exit 64 ;;
    esac
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
  local token code
  while kill -0 "$workload" 2>/dev/null; do
    token="$(imds_token || true)"
    if [ -n "$token" ]; then
      code="$(curl -s -o /dev/null -w '%{http_code}' -H "X-aws-ec2-metadata-token: $token" --max-time 2 "$IMDS/latest/meta-data/spot/instance-action" || true)"
      if [ "$code" = "200" ]; then
        log "spot interruption notice: stopping the workload and saving its checkpoint"
        kill -s TERM -- "-$workload" 2>/dev/null || true
        save_checkpoint
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
kill "$watcher" 2>/dev/null || true
wait "$watcher" 2>/dev/null || true
if [ -n "${PIPELINE_OUTPUT_URI:-}" ]; then
  aws s3 sync --only-show-errors "$OUTPUT_DIR" "$PIPELINE_OUTPUT_URI" || log "output upload failed"
fi
save_checkpoint
log "workload exited $status"
exit "$status"
