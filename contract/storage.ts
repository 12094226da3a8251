/**
 * Where the pipeline keeps its data in S3: the pipeline bucket's prefixes and the keys a phase
 * reads and writes, in one place for the stack (grants, lifecycle rules), the Lambdas and the
 * on-instance script. Pure.
 *
 * Everything a pipeline stores lives under `<pipelineName>/`, so several pipelines can share one
 * existing bucket (config `storage.bucketName`) and each instance role is granted its own
 * pipeline's prefixes only:
 *
 *   <pipelineName>/artifacts/<name>/<version>                              build outputs, read by phases
 *   <pipelineName>/runs/<runDate>/<execution>/<phase>/[<shard>/]...                  a phase's (shard's) outputs, kept runRetentionDays
 *   <pipelineName>/checkpoints/<runDate>/<pipelineExecution>/<phase>/[<shard>/]...   a phase's (shard's) checkpoint, kept checkpointRetentionDays
 *   <pipelineName>/sources/<key>                                           build sources you upload (a build stage's s3 source)
 *   <pipelineName>/production/<gate>/...                                   what a promotion gate promoted (the production model)
 *   <pipelineName>/promotions/<runDate>/<gate>.json                        each gate decision, with every rule's values
 *   <pipelineName>/pools/<instanceType>/<subnetId>/<time>_<kind>_<source>  a pool's trouble (spot reclaimed an instance, refused capacity, or recommended a rebalance), kept 30 days
 */

/** The top-level prefixes under `<pipelineName>/`, each with a trailing slash. */
export const STORAGE_PREFIXES = {
  artifacts: 'artifacts/',
  runs: 'runs/',
  checkpoints: 'checkpoints/',
  sources: 'sources/',
  production: 'production/',
  promotions: 'promotions/',
  pools: 'pools/',
  waits: 'waits/',
  costs: 'costs/',
} as const;
export type StorageArea = keyof typeof STORAGE_PREFIXES;

/** A run date as the pipeline names its runs: YYYY-MM-DD. */
export const RUN_DATE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;

/**
 * One path segment of a key: not empty, no slash (it cannot reach another phase's or pipeline's
 * prefix), not `.` or `..`, no control characters.
 */
function segment(what: string, value: string): string {
  // eslint-disable-next-line no-control-regex
  if (value.length === 0 || value.includes('/') || value === '.' || value === '..' || /[\u0000-\u001f\u007f]/.test(value)) {
    throw new Error(`${what} ${JSON.stringify(value)} is not a valid S3 key segment (non-empty, no "/", not "." or "..", no control characters)`);
  }
  return value;
}

function runDate(value: string): string {
  if (!RUN_DATE.test(value)) throw new Error(`runDate ${JSON.stringify(value)} must be a date written YYYY-MM-DD`);
  return value;
}

/** Everything of one pipeline: `<pipelineName>/`. */
export const pipelinePrefix = (pipeline: string): string => `${segment('pipeline', pipeline)}/`;

/** One area of one pipeline: `<pipelineName>/artifacts/`, `<pipelineName>/runs/`, `<pipelineName>/checkpoints/`. */
export const areaPrefix = (pipeline: string, area: StorageArea): string => `${pipelinePrefix(pipeline)}${STORAGE_PREFIXES[area]}`;

/** Every phase's outputs of one run: `<pipelineName>/runs/<runDate>/<execution>/` (PIPELINE_RUN_URI). */
export const runPrefix = (pipeline: string, date: string, execution: string): string =>
  `${areaPrefix(pipeline, 'runs')}${runDate(date)}/${segment('execution', execution)}/`;

/**
 * Where one phase execution uploads its outputs (on failure too):
 * `<pipelineName>/runs/<runDate>/<execution>/<phase>/`, and each shard of a sharded phase under
 * it, in `<phase>/<shard>/`. `execution` is the pipeline execution's
 * name, so later phases of the same run find earlier phases' outputs next to theirs.
 * Expires after `storage.runRetentionDays`.
 */
export const runOutputPrefix = (pipeline: string, date: string, execution: string, phase: string, shard?: string): string =>
  `${runPrefix(pipeline, date, execution)}${segment('phase', phase)}/${shard === undefined ? '' : `${segment('shard', shard)}/`}`;

/**
 * The checkpoint of one phase in one pipeline execution:
 * `<pipelineName>/checkpoints/<runDate>/<pipelineExecution>/<phase>/` (a shard's in `<phase>/<shard>/`). Every attempt of the phase
 * in that execution (relaunches after a spot interruption, a redrive) gets the same location, so a
 * relaunch resumes from the last save. Expires after `storage.checkpointRetentionDays`.
 */
export const checkpointPrefix = (pipeline: string, date: string, pipelineExecution: string, phase: string, shard?: string): string =>
  `${areaPrefix(pipeline, 'checkpoints')}${runDate(date)}/${segment('pipelineExecution', pipelineExecution)}/${segment('phase', phase)}/${shard === undefined ? '' : `${segment('shard', shard)}/`}`;

/**
 * One built artifact: `<pipelineName>/artifacts/<name>/<version>`. Written once per version (the
 * build stage skips a version that exists) and never expired by a lifecycle rule; replaced versions
 * of the same key are kept for a while as noncurrent versions.
 */
export const artifactKey = (pipeline: string, name: string, version: string): string =>
  `${areaPrefix(pipeline, 'artifacts')}${segment('artifact name', name)}/${segment('artifact version', version)}`;

/** What a promotion gate promoted: `<pipelineName>/production/<gate>/`. */
export const productionPrefix = (pipeline: string, gate: string): string => `${areaPrefix(pipeline, 'production')}${segment('gate', gate)}/`;

/** A gate's decision record of one run: `<pipelineName>/promotions/<runDate>/<gate>.json`. */
export const promotionKey = (pipeline: string, date: string, gate: string): string => `${areaPrefix(pipeline, 'promotions')}${runDate(date)}/${segment('gate', gate)}.json`;

/** A build stage's S3 source: `<pipelineName>/sources/<key>` (the key as the config gives it). */
export const sourceKey = (pipeline: string, key: string): string => `${areaPrefix(pipeline, 'sources')}${key}`;

/**
 * Why a string cannot be an S3 general purpose bucket name, or undefined when it can. The rules of
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html: 3-63 characters;
 * lowercase letters, digits, dots and hyphens; begins and ends with a letter or digit; no two
 * adjacent periods; not formatted as an IP address; none of the reserved prefixes and suffixes.
 */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return 'must be 3-63 characters long';
  if (!/^[a-z0-9.-]+$/.test(name)) return 'must hold only lowercase letters, digits, dots (.) and hyphens (-)';
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) return 'must begin and end with a lowercase letter or a digit';
  if (name.includes('..')) return 'must not contain two adjacent periods';
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return 'must not be formatted as an IP address';
  for (const prefix of ['xn--', 'sthree-', 'amzn-s3-demo-']) if (name.startsWith(prefix)) return `must not start with the reserved prefix ${prefix}`;
  for (const suffix of ['-s3alias', '--ol-s3', '.mrap', '--x-s3']) if (name.endsWith(suffix)) return `must not end with the reserved suffix ${suffix}`;
  return undefined;
}

/** What went wrong in one capacity pool, as the pool memory records it (decisions/pools.ts, rememberedOrder). */
export interface PoolEvent {
  readonly instanceType: string;
  readonly subnetId: string;
  readonly atMs: number;
  /** Spot reclaimed an instance, refused capacity, or recommended rebalancing one (its elevated risk of interruption). */
  readonly kind: 'interrupted' | 'refused' | 'rebalance';
}

/** YYYYMMDDTHHMMSSZ: sorts as time does, and holds no character S3 keys would need encoded. */
const compactTime = (ms: number) => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');

/**
 * One event of the pool memory: `<pipelineName>/pools/<instanceType>/<subnetId>/<time>_<kind>_<source>`,
 * an empty object whose key says everything (a listing reads the memory; no object is written twice
 * or read back). `source` tells apart events of one moment (execution and attempt, hashed by the caller).
 */
export const poolEventKey = (pipeline: string, event: PoolEvent, source: string): string =>
  `${areaPrefix(pipeline, 'pools')}${segment('instance type', event.instanceType)}/${segment('subnet', event.subnetId)}/${compactTime(event.atMs)}_${event.kind}_${segment('source', source)}`;

/**
 * Where a phase waiting for its running workload keeps its callback task's token, by instance (the
 * EC2 and SSM events name the instance, never its tags): `<pipelineName>/waits/<instanceId>`. The
 * SpotPhase state machine writes it (S3 PutObject with the task token as the body) and the wake
 * relay reads it (lambdas/wake-phase.ts).
 */
export const waitKey = (pipeline: string, instanceId: string): string => `${areaPrefix(pipeline, 'waits')}${segment('instance id', instanceId)}`;

/** A pipeline execution's name as keys carry it (the run context's pipelineExecution): S3-safe, at most 80 characters. */
export function safeExecutionName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 80) || 'execution';
}

/**
 * What one run of a pipeline execution (its original run, or redrive n) spent, attempt by attempt:
 * `<pipelineName>/costs/<pipelineExecution>/r<redrive>/`. HandleFailure and FinishPhase write one
 * record per attempt (a retried task overwrites its own); the execution-cleanup rule sums them when
 * the run ends and puts the PipelineCostUsd datum.
 */
export const runCostPrefix = (pipeline: string, pipelineExecution: string, redrive: number): string =>
  `${areaPrefix(pipeline, 'costs')}${segment('pipelineExecution', pipelineExecution)}/r${Math.max(0, Math.floor(redrive))}/`;

/** One attempt's cost record in its run's prefix. */
export const attemptCostKey = (prefix: string, phase: string, shard: string | undefined, attempt: number): string =>
  `${prefix}${segment('phase', phase)}/${shard === undefined ? '' : `${segment('shard', shard)}/`}attempt-${attempt}.json`;

/** The marker of a run whose cost was reported (written only if absent: a retried report puts no second datum). */
export const costReportedKey = (prefix: string): string => `${prefix}_reported`;

/** The event a pool memory key records, or undefined for a key that is none. */
export function parsePoolEventKey(pipeline: string, key: string): PoolEvent | undefined {
  const prefix = areaPrefix(pipeline, 'pools');
  if (!key.startsWith(prefix)) return undefined;
  const match = /^([^/]+)\/([^/]+)\/(\d{8}T\d{6}Z)_(interrupted|refused|rebalance)_[^/]+$/.exec(key.slice(prefix.length));
  if (!match) return undefined;
  const t = match[3]!;
  const atMs = Date.parse(`${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6, 8)}T${t.slice(9, 11)}:${t.slice(11, 13)}:${t.slice(13, 15)}Z`);
  return Number.isNaN(atMs) ? undefined : { instanceType: match[1]!, subnetId: match[2]!, atMs, kind: match[4] as PoolEvent['kind'] };
}
