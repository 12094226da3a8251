/**
 * The on-instance runner (instance/pipeline-runner.sh) as the simulated instance runs it. The
 * simulated SSM hands every command here; when the command carries the runner, this does what the
 * runner does, in its order, against the simulated account's S3 and the scenario's plan:
 *   0. the tools the phase declares (PIPELINE_TOOLS) must be there (scenario `toolsMissing`): else exit 69;
 *   1. the code archive (PIPELINE_CODE_URI) is read from S3 and its sha256 compared with
 *      PIPELINE_CODE_SHA256, and so is each artifact (PIPELINE_ARTIFACTS); missing or different,
 *      nothing runs: exit 65, "ArtifactIntegrityFailed";
 *   2. each secret (PIPELINE_SECRETS) must be readable (scenario `secretsUnavailable`): else exit 66;
 *   3. the checkpoint under PIPELINE_CHECKPOINT_URI is restored: a workload that checkpoints
 *      (phase plan `checkpointEveryMinutes`) resumes from the last save any attempt made there;
 *   4. the workload runs; a workload exit the runner reserves (65, 66, 74, 75) is reported as 1;
 *   5. on the spot notice the watcher (polling every 5 s) stops the workload, which saves its
 *      progress; the command then waits for the interruption (it ends with its instance);
 *   6. at the end the outputs (phase plan `writes`, and a preflight's probe) land under
 *      PIPELINE_OUTPUT_URI; a build that succeeded has uploaded its artifact, its sha256 recorded.
 * Everything here is computed from what the command carried and what the simulated cloud holds:
 * the pipeline's own records are never read.
 */
import { RUNNER_EXIT } from '../contract/runner';
import { RUNNER_DELIMITER } from '../decisions/workload-script';
import { SHA256_METADATA } from '../contract/artifacts';
import type { SimInstance, SimInvocation, SimObject, SimulatedAccount } from './services/account';
import { artifactSha256, objectAt } from './services/s3';

const MINUTE = 60_000;
/** How often the runner's watcher reads the instance metadata for the notice (PIPELINE_NOTICE_POLL_SECONDS). */
export const NOTICE_POLL_MS = 5_000;
/** How long the runner's checks take before it gives up on a download or a secret. */
export const RUNNER_FAILURE_MS = 5_000;

const RESERVED_EXITS: readonly number[] = Object.values(RUNNER_EXIT);

/** What the runner did for one command, as the simulated cloud recorded it. */
export interface RunnerRecord {
  /** The environment the command exported (values unquoted). */
  readonly env: Readonly<Record<string, string>>;
  readonly checkpointUri?: string;
  readonly outputUri?: string;
  /** Workload progress (ms of its planned length) restored from the checkpoint: 0 when it starts fresh. */
  readonly resumedFromMs: number;
  /** How often the workload saves its progress; undefined when it does not checkpoint. */
  readonly checkpointEveryMs?: number;
  /** The runner's own failure before the workload: nothing ran. */
  readonly failure?: { readonly exitCode: number; readonly line: string };
  /** A build stage's: the artifact it uploads when the build succeeds. */
  readonly build?: { readonly artifact: string; readonly version: string; readonly uri: string };
}

/** The value of `export KEY='...'` as decisions/workload-script.ts quotes it ('"'"' for a quote). */
function unquote(text: string): string | undefined {
  let out = '';
  let rest = text;
  while (rest.length > 0) {
    const single = /^'([^']*)'/.exec(rest);
    if (single) {
      out += single[1];
      rest = rest.slice(single[0].length);
      continue;
    }
    if (rest.startsWith(`"'"`)) {
      out += "'";
      rest = rest.slice(3);
      continue;
    }
    return undefined;
  }
  return out;
}

/** The environment a command exports before its runner, and whether it carries the runner at all. */
export function scriptEnv(commands: readonly string[]): { env: Record<string, string>; hasRunner: boolean } {
  const env: Record<string, string> = {};
  const hasRunner = commands.some((c) => c === `cat > "$pipeline_runner" <<'${RUNNER_DELIMITER}'`);
  for (const line of commands) {
    if (line.startsWith('cat > ')) break;
    const match = /^export ([A-Z_][A-Z0-9_]*)=(.*)$/s.exec(line);
    if (!match) continue;
    const value = unquote(match[2]!);
    if (value !== undefined) env[match[1]!] = value;
  }
  return { env, hasRunner };
}

/** "s3://bucket/key" as the account's object key "bucket/key". */
const objectKey = (uri: string) => uri.replace(/^s3:\/\//, '');

/** Steps 1 to 3, when the command starts: the runner's own failure, or what the workload resumes from. */
export function startRunner(account: SimulatedAccount, instance: SimInstance, commands: readonly string[], mode: 'full' | 'preflight', now: number): RunnerRecord | undefined {
  const { env, hasRunner } = scriptEnv(commands);
  if (!hasRunner) return undefined;
  const base = { env, checkpointUri: env.PIPELINE_CHECKPOINT_URI, outputUri: env.PIPELINE_OUTPUT_URI };
  const fail = (exitCode: number, line: string): RunnerRecord => ({ ...base, resumedFromMs: 0, failure: { exitCode, line } });
  // 0. the tools the phase declares
  const missing = account.scenario.toolsMissing ?? [];
  for (const tool of (env.PIPELINE_TOOLS ?? '').split(' ').filter(Boolean)) {
    if (missing.includes(tool)) return fail(RUNNER_EXIT.toolMissing, `MissingTool: the instance lacks ${tool}, which this phase declares in tools; nothing was run`);
  }
  // 1. the code archive, verified
  if (env.PIPELINE_CODE_URI) {
    const stored = account.objects.get(objectKey(env.PIPELINE_CODE_URI));
    if (!stored) return fail(RUNNER_EXIT.artifactIntegrity, `ArtifactIntegrityFailed: code could not be downloaded from ${env.PIPELINE_CODE_URI}; nothing was run`);
    if (stored.sha256 !== env.PIPELINE_CODE_SHA256) {
      return fail(RUNNER_EXIT.artifactIntegrity, `ArtifactIntegrityFailed: code from ${env.PIPELINE_CODE_URI} has sha256 ${stored.sha256}, expected ${env.PIPELINE_CODE_SHA256}; nothing was run`);
    }
  }
  // 1b. the artifacts the phase lists, verified
  for (const line of (env.PIPELINE_ARTIFACTS ?? '').split('\n').filter(Boolean)) {
    const [name, uri, expected] = line.split('|') as [string, string, string];
    const [bucket, ...rest] = objectKey(uri).split('/');
    const stored = objectAt(account, bucket!, rest.join('/'), now);
    if (!stored) return fail(RUNNER_EXIT.artifactIntegrity, `ArtifactIntegrityFailed: ${name} could not be downloaded from ${uri}; nothing was run`);
    if (stored.sha256 !== expected) return fail(RUNNER_EXIT.artifactIntegrity, `ArtifactIntegrityFailed: ${name} from ${uri} has sha256 ${stored.sha256}, expected ${expected}; nothing was run`);
  }
  // 2. secrets
  const unavailable = account.scenario.secretsUnavailable ?? [];
  for (const line of (env.PIPELINE_SECRETS ?? '').split('\n').filter(Boolean)) {
    const [name, source] = line.split('|') as [string, string];
    if (unavailable.includes(source)) {
      return fail(RUNNER_EXIT.secretUnavailable, `SecretUnavailable: ${name} from ${source} could not be read (does it exist, and may this phase read it?); nothing was run`);
    }
  }
  // 3. the checkpoint, for a workload that checkpoints
  const every = mode === 'full' ? account.phasePlan(instance.phase, instance.shard).checkpointEveryMinutes : undefined;
  const checkpointEveryMs = every === undefined ? undefined : every * MINUTE;
  const resumedFromMs = checkpointEveryMs !== undefined && base.checkpointUri ? (latestCheckpoint(account, base.checkpointUri, now)?.progressMs ?? 0) : 0;
  // A build: what it will upload when it succeeds.
  const artifactUri = env.PIPELINE_BUILD_ARTIFACT_URI;
  const build = artifactUri ? { artifact: artifactUri.split('/').at(-2)!, version: env.PIPELINE_BUILD_VERSION ?? artifactUri.split('/').at(-1)!, uri: artifactUri } : undefined;
  return { ...base, resumedFromMs, checkpointEveryMs, ...(build ? { build } : {}) };
}

/** A build's length and exit, as the scenario plans it (`artifacts.<name>.buildMinutes`, `buildExitCode`), else the phase's. */
export function buildPlan(account: SimulatedAccount, runner: RunnerRecord | undefined): { minutes?: number; exitCode?: number } {
  if (!runner?.build) return {};
  const plan = account.scenario.artifacts?.[runner.build.artifact];
  return { minutes: plan?.buildMinutes, exitCode: plan?.buildExitCode };
}

/** Did the command's workload exit 0 by itself by `now` (not cut off, timed out, cancelled, or stopped on a notice)? */
function finishedWell(account: SimulatedAccount, inv: SimInvocation, now: number): number | undefined {
  if (inv.runner?.failure || inv.hang || inv.exitCode !== 0) return undefined;
  const finishAt = inv.startedAt + inv.durationMs;
  return workloadStopAt(account, inv) === finishAt && finishAt < inv.startedAt + inv.executionTimeoutMs && finishAt <= now ? finishAt : undefined;
}

/** The artifact a successful build uploaded to `uri` (with its sha256 as metadata), once it has. */
export function builtArtifact(account: SimulatedAccount, uri: string, now: number): SimObject | undefined {
  for (const inv of account.invocations) {
    const build = inv.runner?.build;
    if (build?.uri !== uri) continue;
    const at = finishedWell(account, inv, now);
    if (at === undefined) continue;
    const { bytes, recorded } = artifactSha256(account, build.artifact, build.version);
    return { sha256: bytes, size: 1 << 20, writtenAt: at, writtenBy: inv.instanceId, metadata: { [SHA256_METADATA]: recorded } };
  }
  return undefined;
}

/** Step 4: the exit the agent sees for a workload exit (the runner reports its reserved codes as 1). */
export function reportedExit(runner: RunnerRecord | undefined, workloadExit: number): number {
  return runner && RESERVED_EXITS.includes(workloadExit) ? 1 : workloadExit;
}

/**
 * When the runner's watcher stops the workload on the spot notice (undefined: no notice, no runner,
 * or the workload ended by itself first). The watcher reads the instance metadata when the
 * workload starts and every NOTICE_POLL_MS after: a notice that came before the start (while the
 * instance booted) stops the workload at once.
 */
export function stoppedOnNoticeAt(account: SimulatedAccount, inv: SimInvocation): number | undefined {
  if (!inv.runner || inv.runner.failure) return undefined;
  const instance = account.instances.find((i) => i.id === inv.instanceId);
  const stop = instance ? watcherStopAt(instance, inv) : undefined;
  if (stop === undefined || (instance!.terminatedAt !== undefined && instance!.terminatedAt <= stop)) return undefined;
  return stop;
}

/**
 * When the watcher would stop the workload on the instance's notice, whether or not the instance
 * lived that long (undefined: no notice, or the workload ended by itself first).
 */
export function watcherStopAt(instance: SimInstance, inv: SimInvocation): number | undefined {
  if (instance.noticeAt === undefined) return undefined;
  const stop = instance.noticeAt < inv.startedAt ? inv.startedAt : instance.noticeAt + NOTICE_POLL_MS;
  return !inv.hang && stop >= inv.startedAt + inv.durationMs ? undefined : stop;
}

/** When the workload stopped making progress: its end, its timeout, its cancel, its instance gone, or the notice. */
export function workloadStopAt(account: SimulatedAccount, inv: SimInvocation): number {
  const instance = account.instances.find((i) => i.id === inv.instanceId);
  return Math.min(
    inv.hang ? Infinity : inv.startedAt + inv.durationMs,
    inv.startedAt + inv.executionTimeoutMs,
    inv.cancelledAt ?? Infinity,
    instance?.terminatedAt ?? Infinity,
    stoppedOnNoticeAt(account, inv) ?? Infinity,
  );
}

/** The workload's whole planned length (ms): what it had resumed from plus what this command had left to do. */
export function plannedMs(inv: SimInvocation): number {
  return (inv.runner?.resumedFromMs ?? 0) + inv.durationMs;
}

/** The workload's progress (ms of its planned length) at a moment. */
export function progressAt(account: SimulatedAccount, inv: SimInvocation, at: number): number {
  const resumed = inv.runner?.resumedFromMs ?? 0;
  // A hung workload makes no progress; a runner that refused ran nothing.
  if (inv.runner?.failure || inv.hang) return resumed;
  const until = Math.min(at, workloadStopAt(account, inv));
  return resumed + Math.max(0, Math.min(until - inv.startedAt, inv.hang ? Infinity : inv.durationMs));
}

export interface CheckpointSave {
  readonly at: number;
  readonly progressMs: number;
}

/** How often the runner syncs the checkpoint directory to S3 while the workload runs (PIPELINE_CHECKPOINT_SYNC_SECONDS). */
export const CHECKPOINT_SYNC_MS = 60_000;

/**
 * The saves of one command's workload that reached S3 by `now`: each of its own saves
 * (checkpointEveryMinutes) once the runner's next periodic sync has uploaded it, and the save on
 * the notice, which the runner uploads at once. A save the instance did not live to upload is lost.
 */
export function checkpointSaves(account: SimulatedAccount, inv: SimInvocation, now: number): CheckpointSave[] {
  const every = inv.runner?.checkpointEveryMs;
  if (every === undefined || !inv.runner?.checkpointUri || inv.runner.failure) return [];
  const stop = workloadStopAt(account, inv);
  const instance = account.instances.find((i) => i.id === inv.instanceId);
  const alive = Math.min(instance?.terminatedAt ?? Infinity, inv.cancelledAt ?? Infinity, now);
  const saves: CheckpointSave[] = [];
  // The periodic syncs run while the workload does: a save synced only after it stopped is in the final save, if any.
  for (let saved = inv.startedAt + every; saved <= stop; saved += every) {
    const synced = inv.startedAt + Math.ceil((saved - inv.startedAt) / CHECKPOINT_SYNC_MS) * CHECKPOINT_SYNC_MS;
    if (synced < stop && synced <= alive) saves.push({ at: synced, progressMs: progressAt(account, inv, saved) });
  }
  // When it stopped on the notice, or exited by itself, the runner saves once more: the last local save.
  const noticeStop = stoppedOnNoticeAt(account, inv);
  const exited = !inv.hang && stop === inv.startedAt + inv.durationMs;
  if ((noticeStop === stop || exited) && stop <= alive) {
    const progressMs = noticeStop === stop ? progressAt(account, inv, stop) : progressAt(account, inv, inv.startedAt + Math.floor((stop - inv.startedAt) / every) * every);
    saves.push({ at: stop, progressMs: exited && inv.exitCode === 0 ? progressAt(account, inv, stop) : progressMs });
  }
  return saves.sort((a, b) => a.at - b.at);
}

/** The last save any command made under a checkpoint location by `now` (what a restore reads). */
export function latestCheckpoint(account: SimulatedAccount, uri: string, now: number): CheckpointSave | undefined {
  let latest: CheckpointSave | undefined;
  for (const inv of account.invocations) {
    if (inv.runner?.checkpointUri !== uri) continue;
    for (const save of checkpointSaves(account, inv, now)) if (!latest || save.at >= latest.at) latest = save;
  }
  return latest;
}

/** Workload milliseconds an attempt did that no checkpoint kept (its progress beyond its last save); none when it finished. */
export function workLostMs(account: SimulatedAccount, inv: SimInvocation, now: number): number {
  if (finishedWell(account, inv, now) !== undefined || (!inv.hang && inv.startedAt + inv.durationMs === workloadStopAt(account, inv))) return 0;
  const reached = progressAt(account, inv, now);
  const saved = Math.max(inv.runner?.resumedFromMs ?? 0, ...checkpointSaves(account, inv, now).map((s) => s.progressMs));
  return Math.max(0, reached - saved);
}

/** Step 6: the objects the runner uploaded under PIPELINE_OUTPUT_URI by `now` (bucket/key -> body). */
export function uploadedOutputs(account: SimulatedAccount, inv: SimInvocation, ended: { status: string; endedAt?: number }, now: number): { key: string; body: string; at: number }[] {
  const prefix = inv.runner?.outputUri;
  if (!prefix || inv.runner?.failure || ended.endedAt === undefined || ended.endedAt > now || ended.status !== 'Success') return [];
  const files: Record<string, string> =
    inv.mode === 'preflight'
      ? { 'preflight-probe.txt': `preflight ok ${new Date(ended.endedAt).toISOString()}\n` }
      : Object.fromEntries(Object.entries(account.phasePlan(inv.phase, inv.shard).writes ?? {}).map(([name, content]) => [name, typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`]));
  return Object.entries(files).map(([name, body]) => ({ key: `${objectKey(prefix)}${name}`, body, at: ended.endedAt! }));
}
