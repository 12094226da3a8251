/**
 * The on-instance runner (instance/pipeline-runner.sh) as the simulated instance runs it. The
 * simulated SSM hands every command here; when the command carries the runner, this does what the
 * runner does, in its order, against the simulated account's S3 and the scenario's plan:
 *   0. the tools the phase declares (PIPELINE_TOOLS) must be there (scenario `toolsMissing`): else exit 69;
 *   1. the code archive (PIPELINE_CODE_URI) is read from S3 and its sha256 compared with
 *      PIPELINE_CODE_SHA256; missing or different, nothing runs: exit 65, "ArtifactIntegrityFailed";
 *   2. each secret (PIPELINE_SECRETS) must be readable (scenario `secretsUnavailable`): else exit 66;
 *   3. the checkpoint under PIPELINE_CHECKPOINT_URI is restored: a workload that checkpoints
 *      (phase plan `checkpointEveryMinutes`) resumes from the last save any attempt made there;
 *   4. the workload runs; a workload exit the runner reserves (65, 66, 74, 75) is reported as 1;
 *   5. on the spot notice the watcher (polling every 5 s) stops the workload, which saves its
 *      progress; the command then waits for the interruption (it ends with its instance);
 *   6. at the end the outputs (phase plan `writes`, and a preflight's probe) land under
 *      PIPELINE_OUTPUT_URI.
 * Everything here is computed from what the command carried and what the simulated cloud holds:
 * the pipeline's own records are never read.
 */
import { RUNNER_EXIT } from '../contract/runner';
import { RUNNER_DELIMITER } from '../decisions/workload-script';
import type { SimInstance, SimInvocation, SimulatedAccount } from './services/account';

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
  // 2. secrets
  const unavailable = account.scenario.secretsUnavailable ?? [];
  for (const line of (env.PIPELINE_SECRETS ?? '').split('\n').filter(Boolean)) {
    const [name, source] = line.split('|') as [string, string];
    if (unavailable.includes(source)) {
      return fail(RUNNER_EXIT.secretUnavailable, `SecretUnavailable: ${name} from ${source} could not be read (does it exist, and may this phase read it?); nothing was run`);
    }
  }
  // 3. the checkpoint, for a workload that checkpoints
  const every = mode === 'full' ? account.phasePlan(instance.phase).checkpointEveryMinutes : undefined;
  const checkpointEveryMs = every === undefined ? undefined : every * MINUTE;
  const resumedFromMs = checkpointEveryMs !== undefined && base.checkpointUri ? (latestCheckpoint(account, base.checkpointUri, now)?.progressMs ?? 0) : 0;
  return { ...base, resumedFromMs, checkpointEveryMs };
}

/** Step 4: the exit the agent sees for a workload exit (the runner reports its reserved codes as 1). */
export function reportedExit(runner: RunnerRecord | undefined, workloadExit: number): number {
  return runner && RESERVED_EXITS.includes(workloadExit) ? 1 : workloadExit;
}

/** When the runner's watcher stops the workload on the spot notice (undefined: no notice, or no runner). */
export function stoppedOnNoticeAt(account: SimulatedAccount, inv: SimInvocation): number | undefined {
  if (!inv.runner || inv.runner.failure) return undefined;
  const instance = account.instances.find((i) => i.id === inv.instanceId);
  if (instance?.noticeAt === undefined || instance.noticeAt < inv.startedAt) return undefined;
  return instance.noticeAt + NOTICE_POLL_MS;
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
export function plannedMs(account: SimulatedAccount, inv: SimInvocation): number {
  void account;
  return (inv.runner?.resumedFromMs ?? 0) + inv.durationMs;
}

/** The workload's progress (ms of its planned length) at a moment. */
export function progressAt(account: SimulatedAccount, inv: SimInvocation, at: number): number {
  const resumed = inv.runner?.resumedFromMs ?? 0;
  if (inv.runner?.failure) return resumed;
  const until = Math.min(at, workloadStopAt(account, inv));
  return resumed + Math.max(0, Math.min(until - inv.startedAt, inv.hang ? Infinity : inv.durationMs));
}

export interface CheckpointSave {
  readonly at: number;
  readonly progressMs: number;
}

/** The saves one command's workload made by `now`: every checkpointEveryMinutes, and on the notice. */
export function checkpointSaves(account: SimulatedAccount, inv: SimInvocation, now: number): CheckpointSave[] {
  const every = inv.runner?.checkpointEveryMs;
  if (every === undefined || !inv.runner?.checkpointUri || inv.runner.failure) return [];
  const stop = Math.min(workloadStopAt(account, inv), now);
  const saves: CheckpointSave[] = [];
  for (let at = inv.startedAt + every; at <= stop; at += every) saves.push({ at, progressMs: progressAt(account, inv, at) });
  const noticeStop = stoppedOnNoticeAt(account, inv);
  if (noticeStop !== undefined && noticeStop === workloadStopAt(account, inv) && noticeStop <= now) saves.push({ at: noticeStop, progressMs: progressAt(account, inv, noticeStop) });
  return saves;
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

/** Workload milliseconds an attempt did that no checkpoint kept (its progress beyond its last save). */
export function workLostMs(account: SimulatedAccount, inv: SimInvocation, now: number): number {
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
      : Object.fromEntries(Object.entries(account.phasePlan(inv.phase).writes ?? {}).map(([name, content]) => [name, `${JSON.stringify(content, null, 2)}\n`]));
  return Object.entries(files).map(([name, body]) => ({ key: `${objectKey(prefix)}${name}`, body, at: ended.endedAt! }));
}
