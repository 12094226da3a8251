#!/usr/bin/env bash
# pipeline-runner.sh: what runs on a phase's instance around the user's workload (the data plane).
# SendWorkload sends it with every command (decisions/workload-script.ts). In order:
#   1. the code asset (a .tar.gz) and each declared artifact are downloaded and their sha256
#      verified; a mismatch runs nothing and exits 65 after printing "ArtifactIntegrityFailed: ...";
#   2. secrets are resolved into environment variables of the workload only (never into the command
#      text, never printed); one that cannot be read runs nothing and exits 66 ("SecretUnavailable");
#   3. the phase's checkpoint is restored into PIPELINE_CHECKPOINT_DIR (one that cannot be read is
#      never saved over), and uploaded again every PIPELINE_CHECKPOINT_SYNC_SECONDS while it runs;
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
# A build stage's runner (PIPELINE_BUILD_ARTIFACT_URI set) first fetches the source into
# PIPELINE_SOURCE_DIR (git: clone, check out PIPELINE_BUILD_VERSION, submodules; or a .tar.gz from
# PIPELINE_BUILD_SOURCE_URI), runs the build command there, and after a successful build uploads
# PIPELINE_BUILD_OUTPUT to PIPELINE_BUILD_ARTIFACT_URI with its sha256 as object metadata; a failed
# build leaves the *.log files of its working directory in its outputs (build-logs.tar.gz).
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
#   PIPELINE_BUILD_ARTIFACT_URI, PIPELINE_BUILD_VERSION, PIPELINE_BUILD_OUTPUT,
#   PIPELINE_BUILD_GIT_URL or PIPELINE_BUILD_SOURCE_URI  a build stage's (optional)
#   PIPELINE_WORK_DIR                           where code and artifacts go (default /opt/spot-pipeline/work)
#   PIPELINE_CHECKPOINT_URI, PIPELINE_CHECKPOINT_DIR, PIPELINE_OUTPUT_URI, PIPELINE_OUTPUT_DIR, PIPELINE_MODE
#   PIPELINE_IMDS_ENDPOINT                      default http://169.254.169.254 (tests point it elsewhere)
#   PIPELINE_NOTICE_POLL_SECONDS (5), PIPELINE_NOTICE_STOP_SECONDS (60), PIPELINE_NOTICE_GRACE_SECONDS (300),
#   PIPELINE_CHECKPOINT_SYNC_SECONDS (60: how often the checkpoint directory is uploaded while the workload runs),
#   PIPELINE_RETRY_SLEEP_SECONDS (5: the pause before a failed download or restore is tried again, times the try)
set -euo pipefail

readonly EXIT_INTEGRITY=65 EXIT_SECRET=66 EXIT_TOOL=69 EXIT_UPLOAD=74 EXIT_NO_INTERRUPTION=75
readonly IMDS="${PIPELINE_IMDS_ENDPOINT:-http://169.254.169.254}"
readonly POLL="${PIPELINE_NOTICE_POLL_SECONDS:-5}"
readonly STOP_SECONDS="${PIPELINE_NOTICE_STOP_SECONDS:-60}"
readonly GRACE_SECONDS="${PIPELINE_NOTICE_GRACE_SECONDS:-300}"
readonly SYNC_SECONDS="${PIPELINE_CHECKPOINT_SYNC_SECONDS:-60}"
readonly RETRY_SLEEP="${PIPELINE_RETRY_SLEEP_SECONDS:-5}"
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
# git for a build from a repository: Amazon Linux 2023 does not ship it, dnf installs it.
if [ -n "${PIPELINE_BUILD_GIT_URL:-}" ] && ! command -v git >/dev/null && command -v dnf >/dev/null; then
  log "installing git for the build"
  dnf install -y -q git >&2 || true
fi
for tool in aws curl sha256sum setsid ${PIPELINE_CODE_URI:+tar} ${PIPELINE_BUILD_SOURCE_URI:+tar} ${PIPELINE_BUILD_GIT_URL:+git}; do
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
  local try=1
  # A failed download is tried three times (the CLI retries throttling itself within each): only
  # then is it a failure of the artifact, never relaunched.
  until aws s3 cp --only-show-errors "$uri" "$dest"; do
    if [ "$try" -ge 3 ]; then
      printf 'ArtifactIntegrityFailed: %s could not be downloaded from %s; nothing was run\n' "$name" "$uri"
      exit "$EXIT_INTEGRITY"
    fi
    log "download of $name failed (try $try); trying again"
    sleep $((try * RETRY_SLEEP))
    try=$((try + 1))
  done
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

# --- 1b. a build's source ---------------------------------------------------------------------
readonly SOURCE_DIR="$WORK_DIR/src"
workload_dir="$PWD"
if [ -n "${PIPELINE_BUILD_ARTIFACT_URI:-}" ]; then
  rm -rf "$SOURCE_DIR" && mkdir -p "$SOURCE_DIR"
  if [ -n "${PIPELINE_BUILD_GIT_URL:-}" ]; then
    version="${PIPELINE_BUILD_VERSION:?PIPELINE_BUILD_VERSION is required for a build}"
    if ! { git clone --quiet --no-checkout --filter=blob:none "$PIPELINE_BUILD_GIT_URL" "$SOURCE_DIR" >&2 &&
      { git -C "$SOURCE_DIR" checkout --quiet "$version" >&2 2>/dev/null ||
        { git -C "$SOURCE_DIR" fetch --quiet origin "$version" >&2 && git -C "$SOURCE_DIR" checkout --quiet "$version" >&2; }; } &&
      git -C "$SOURCE_DIR" submodule update --quiet --init --recursive >&2; }; then
      printf 'BuildSourceUnavailable: could not check out %s of %s; nothing was built\n' "$version" "$PIPELINE_BUILD_GIT_URL"
      exit 1
    fi
  else
    if ! aws s3 cp --only-show-errors "$PIPELINE_BUILD_SOURCE_URI" "$WORK_DIR/source.tar.gz" || ! tar -xzf "$WORK_DIR/source.tar.gz" -C "$SOURCE_DIR"; then
      printf 'BuildSourceUnavailable: could not fetch and unpack %s; nothing was built\n' "$PIPELINE_BUILD_SOURCE_URI"
      exit 1
    fi
  fi
  export PIPELINE_SOURCE_DIR="$SOURCE_DIR"
  workload_dir="$SOURCE_DIR"
  log "source ready in $SOURCE_DIR (version ${PIPELINE_BUILD_VERSION:-?})"
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
# A checkpoint that could not be restored is never saved over: the workload may run from scratch,
# but the progress an earlier attempt saved stays for the next one.
restore_failed=0
save_checkpoint() {
  [ -n "${PIPELINE_CHECKPOINT_URI:-}" ] && [ "$restore_failed" -eq 0 ] || return 0
  aws s3 sync --only-show-errors "$CHECKPOINT_DIR" "$PIPELINE_CHECKPOINT_URI" || log "checkpoint save failed"
}
if [ -n "${PIPELINE_CHECKPOINT_URI:-}" ]; then
  # (An empty checkpoint location syncs nothing and succeeds: a failure is a failure to read.)
  for try in 1 2 3; do
    if aws s3 sync --only-show-errors "$PIPELINE_CHECKPOINT_URI" "$CHECKPOINT_DIR"; then restore_failed=0; break; fi
    restore_failed=1
    log "checkpoint restore failed (try $try)"
    [ "$try" -lt 3 ] && sleep $((try * RETRY_SLEEP))
  done
  [ "$restore_failed" -eq 0 ] || log "the checkpoint could not be restored: the workload starts from scratch, and the saved checkpoint is kept as it is"
fi

# --- 4. the workload, in its own process group -----------------------------------------------
# (export is a shell builtin: the secret values never appear on a command line, not even env's.)
(
  for assignment in "${secret_env[@]}"; do export "${assignment?}"; done
  cd "$workload_dir"
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
  local token code waited last_sync=$SECONDS
  while kill -0 "$workload" 2>/dev/null; do
    # The workload's saves reach S3 every SYNC_SECONDS, not only on the notice or at the end.
    if [ $((SECONDS - last_sync)) -ge "$SYNC_SECONDS" ]; then
      save_checkpoint
      last_sync=$SECONDS
    fi
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
if [ -n "${PIPELINE_BUILD_ARTIFACT_URI:-}" ] && [ ! -f "$NOTICE_FLAG" ]; then
  if [ "$status" -eq 0 ]; then
    built="$SOURCE_DIR/$PIPELINE_BUILD_OUTPUT"
    if [ ! -f "$built" ]; then
      printf 'BuildOutputMissing: the build succeeded but made no %s; nothing was uploaded\n' "$PIPELINE_BUILD_OUTPUT"
      status=1
    else
      sha="$(sha256_of "$built")"
      if ! aws s3 cp --only-show-errors --metadata "sha256=$sha" "$built" "$PIPELINE_BUILD_ARTIFACT_URI"; then
        printf 'OutputUploadFailed: the artifact could not be uploaded to %s\n' "$PIPELINE_BUILD_ARTIFACT_URI"
        exit "$EXIT_UPLOAD"
      fi
      printf 'ArtifactBuilt: %s sha256 %s\n' "$PIPELINE_BUILD_ARTIFACT_URI" "$sha"
    fi
  fi
  if [ "$status" -ne 0 ]; then
    # For debugging: the logs the build left in its working directory (the directory stays too).
    (cd "$SOURCE_DIR" && find . -name '*.log' -type f -size -50M -print0 | tar -czf "$OUTPUT_DIR/build-logs.tar.gz" --null -T -) || log "could not pack the build logs"
  fi
fi
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
