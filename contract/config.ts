/**
 * The one pipeline config schema. It validates the config at synth time (a bad config fails
 * `cdk synth` with a message naming the field) and, through `phaseSpecSchema`, the phase spec
 * each Lambda receives at run time.
 */
import * as z from 'zod';
import { budgetProblem } from './budget';
import { DEFAULT_AGENT_CHECK_SECONDS, historyProblem, historySafeWaits, type HistorySafeWaits } from './history';
import { AL2023_PARAMETER, architectureProblem, isGpuInstanceType, WORKER_ARCHITECTURE } from './instance-types';
import { scheduleExpressionProblem, timeZoneProblem } from './schedules';
import { declarationProblem, MAX_PARAMS, PARAM_NAME, paramDeclarationSchema, paramEnvName } from './params';
import { parseSecretSource, secretEnvProblem } from './secrets';
import { bucketNameProblem } from './storage';
export { formatIssues, formatPath } from './issues';

const int = (min: number, max: number) =>
  z
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(min, { error: `must be >= ${min}` })
    .max(max, { error: `must be <= ${max}` });

/** Phase names become state names, tag values and metric dimensions: keep them plain. */
export const PHASE_NAME = /^[A-Za-z][A-Za-z0-9]{0,39}$/;

/** The most stages a pipeline may have. */
export const MAX_STAGES = 20;

/** The most shards a phase may have (every shard's result is kept in the pipeline's state, 256 KiB at most). */
export const MAX_SHARDS = 100;
/** Step Functions runs at most 40 iterations of an inline Map state at a time (developer guide, "Map state": MaxConcurrency). */
export const MAX_SHARD_CONCURRENCY = 40;
/** A shard name: an S3 key segment, a tag value, a metric dimension and PIPELINE_SHARD. */
export const SHARD_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;

/** Why a phase's `shards` is not a count of 1-MAX_SHARDS or a list of distinct shard names (and where in it), or undefined. */
function shardsProblem(shards: number | string[]): { message: string; path?: number[] } | undefined {
  if (typeof shards === 'number') {
    if (!Number.isInteger(shards)) return { message: 'must be a whole number' };
    if (shards < 1) return { message: 'must be >= 1' };
    return shards > MAX_SHARDS ? { message: `must be <= ${MAX_SHARDS}` } : undefined;
  }
  if (shards.length === 0) return { message: 'must list at least one shard' };
  if (shards.length > MAX_SHARDS) return { message: `must list at most ${MAX_SHARDS} shards (got ${shards.length})` };
  const bad = shards.findIndex((name) => !SHARD_NAME.test(name));
  if (bad >= 0) return { path: [bad], message: 'must be a shard name: letters, digits, _ and -, starting with a letter or digit (at most 32)' };
  const repeated = shards.findIndex((name, i) => shards.indexOf(name) !== i);
  return repeated < 0 ? undefined : { message: `must not repeat a shard name (${shards[repeated]} is listed twice)` };
}

/** Why a phase's `toleratedFailures` is not a count or a percentage such as "20%", or undefined. */
function toleranceProblem(tolerated: number | string): string | undefined {
  if (typeof tolerated === 'number') return !Number.isInteger(tolerated) ? 'must be a whole number' : tolerated < 0 ? 'must be >= 0' : undefined;
  if (!/^[0-9]{1,3}(\.[0-9]{1,2})?%$/.test(tolerated)) return 'must be a percentage such as "20%"';
  return parseFloat(tolerated) <= 100 ? undefined : 'must be a percentage of at most 100%';
}

/**
 * The names the pipeline graph gives its own states (state-machines/pipeline.ts and
 * stages/parallel.ts should build them from here). A phase's task is named after the phase, and
 * state names must be unique in a state machine, so no phase may take one of these.
 */
export const PIPELINE_STATE_NAMES = { validateInput: 'ValidateInput', succeeded: 'PipelineSucceeded' } as const;
/** The Parallel state of the group at stage `stageIndex` (0-based): Parallel1, Parallel2, ... */
export const parallelStateName = (stageIndex: number): string => `Parallel${stageIndex + 1}`;
/** Every state name the pipeline graph may use besides the phase tasks (case-sensitive). */
export const RESERVED_PHASE_NAMES: readonly string[] = [
  ...Object.values(PIPELINE_STATE_NAMES),
  ...Array.from({ length: MAX_STAGES }, (_, i) => parallelStateName(i)),
];
/** family.size; a size may hold dashes (c7i.metal-24xl, u-6tb1.56xlarge has one in the family). */
export const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+(-[a-z0-9]+)*$/;
export const SUBNET_ID = /^subnet-[0-9a-f]{8,17}$/;

const command = z
  .string({ error: 'must be a string' })
  .min(1, { error: 'must not be empty' })
  .max(8192, { error: 'must be at most 8192 characters' })
  .refine((s) => !s.includes('\0'), { error: 'must not contain NUL characters' });

/** A schedule string, refused with the problem `check` finds in it. */
const scheduleString = (check: (value: string) => string | undefined) =>
  z.string({ error: 'must be a string' }).superRefine((value, ctx) => {
    const problem = check(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const uniqueStrings = (item: z.ZodType<string>, what: string) =>
  z
    .array(item, { error: `must be a list of ${what}` })
    .min(1, { error: `must list at least one ${what}` })
    .max(20, { error: `must list at most 20 ${what}s` })
    .refine((xs) => new Set(xs).size === xs.length, { error: `must not repeat a ${what}` });

export const DEFAULT_PREFLIGHT_COMMAND = [
  'set -eu',
  'for tool in bash aws python3; do command -v "$tool" >/dev/null || { echo "preflight: missing tool $tool"; exit 1; }; done',
  'aws sts get-caller-identity --output text >/dev/null || { echo "preflight: no instance credentials"; exit 1; }',
  'echo "preflight ok: phase $PIPELINE_PHASE, run date $PIPELINE_RUN_DATE"',
].join('\n');

/**
 * A local directory of workload code: synth packages it (lib/constructs/code-asset.ts) and the
 * runner downloads and verifies it before the workload starts. Relative to the config file (the
 * built-in pipeline's to this repository).
 */
const codeDir = z.string({ error: 'must be a path to a directory' }).min(1, { error: 'must not be empty' }).max(1024, { error: 'must be at most 1024 characters' });

/** Secrets of a phase: environment variable -> "ssm:/name" or "secretsmanager:name" (contract/secrets.ts). */
const secretsSchema = z
  .record(
    z.string().superRefine((name, ctx) => {
      const problem = secretEnvProblem(name);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
    z.string({ error: 'must be a string like "ssm:/name" or "secretsmanager:name"' }).superRefine((source, ctx) => {
      const parsed = parseSecretSource(source);
      if ('problem' in parsed) ctx.addIssue({ code: 'custom', message: parsed.problem });
    }),
    { error: 'must map environment variable names to "ssm:/name" or "secretsmanager:name"' },
  )
  .refine((secrets) => Object.keys(secrets).length <= 20, { error: 'must declare at most 20 secrets' });

const ARTIFACT_NAME_FOR_PHASE = /^[a-z][a-z0-9_]{0,39}$/;

/** The triggers of a phase's on-demand fallback (see phaseSchema `onDemandFallback`). */
const fallbackTriggersSchema = z
  .object({
    lastAttempt: z.boolean({ error: 'must be true or false' }).default(true),
    whenCapacityExhausted: z.boolean({ error: 'must be true or false' }).default(true),
    afterInterruptions: int(1, 50).optional(),
  })
  .strict();

/** A phase's launch profile (see phaseSchema `image`). */
const imageSchema = z
  .object({
    architecture: z.enum(['x86_64', 'arm64'], { error: 'must be "x86_64" or "arm64"' }).default('x86_64'),
    ami: z.string({ error: 'must be a string' }).regex(/^ami-[0-9a-f]{8,17}$/, { error: 'must look like ami-0123456789abcdef0' }).optional(),
    /** An SSM parameter holding the AMI id: the launch resolves it (RunInstances ImageId resolve:ssm:). */
    ssmParameter: z.string({ error: 'must be a string' }).regex(/^\/?[A-Za-z0-9_.\-/]{1,2047}$/, { error: 'must be an SSM parameter name, e.g. /aws/service/...' }).optional(),
    /** Root volume size (default 30 GiB from the launch template). */
    rootVolumeGiB: int(8, 16384).optional(),
    /** The image's root device (default /dev/xvda, Amazon Linux's; Ubuntu-based images use /dev/sda1). */
    rootDeviceName: z.string({ error: 'must be a string' }).regex(/^\/dev\/[a-z0-9]{2,12}$/, { error: 'must look like /dev/xvda' }).default('/dev/xvda'),
  })
  .strict()
  .refine((i) => !(i.ami && i.ssmParameter), { error: 'must give at most one of ami and ssmParameter' });

/** How a launch finds capacity (see phaseSchema `allocation`). */
export const ALLOCATIONS = ['price-capacity-optimized', 'rotation'] as const;
const allocationSchema = z.enum(ALLOCATIONS, { error: `must be one of ${ALLOCATIONS.map((a) => `"${a}"`).join(', ')}` });
export type Allocation = (typeof ALLOCATIONS)[number];

/** One phase: a workload that runs on one spot instance at a time, within a time budget. */
export const phaseSchema = z
  .object({
    name: z
      .string({ error: 'must be a string' })
      .regex(PHASE_NAME, { error: 'must start with a letter and hold only letters and digits (at most 40)' })
      .refine((name) => !RESERVED_PHASE_NAMES.includes(name), {
        error: (issue) =>
          `${String(issue.input)} is the name of a state of the pipeline graph (reserved: ${PIPELINE_STATE_NAMES.validateInput}, ` +
          `${PIPELINE_STATE_NAMES.succeeded}, ${parallelStateName(0)}-${parallelStateName(MAX_STAGES - 1)}); name the phase otherwise`,
      }),
    workloadCommand: command,
    preflightCommand: command.default(DEFAULT_PREFLIGHT_COMMAND),
    /** Interchangeable instance types, all of the workers' image architecture (contract/instance-types.ts). */
    instanceTypes: uniqueStrings(
      z
        .string({ error: 'must be a string' })
        .regex(INSTANCE_TYPE, { error: 'must look like an instance type, e.g. c5.large' }),
      'instance type',
    ),
    /**
     * Instance types the phase may also run on, asked only as slack shrinks (the budget affording
     * SECONDARY_TYPES_SLACK_ATTEMPTS attempts or fewer) or when every pool of instanceTypes refused
     * capacity in an attempt: before any on-demand fallback. Same architecture as instanceTypes.
     */
    secondaryInstanceTypes: uniqueStrings(
      z
        .string({ error: 'must be a string' })
        .regex(INSTANCE_TYPE, { error: 'must look like an instance type, e.g. c5.xlarge' }),
      'instance type',
    ).optional(),
    /** Subnets to launch into; default: the stack's VPC (or the pipeline's subnetIds). */
    subnetIds: uniqueStrings(
      z.string({ error: 'must be a string' }).regex(SUBNET_ID, { error: 'must look like subnet-0123abcd' }),
      'subnet',
    ).optional(),
    /**
     * The hard wall: the phase never runs longer than this, relaunches and cleanup included. At most
     * 172800 s, the longest executionTimeout AWS-RunShellScript takes (the command gets what remains).
     */
    budgetSeconds: int(300, 172800),
    /** What one attempt is expected to need, boot included. */
    attemptSeconds: int(60, 172800),
    /** Cap on launch attempts; default: as many as the budget allows. */
    maxAttempts: int(1, 50).optional(),
    /**
     * Poll the running workload at most this often. A long budget may poll less often: the phase
     * runs with the shortest interval that keeps its Step Functions history below the quota
     * (contract/history.ts; the budget table in the README shows it).
     */
    pollIntervalSeconds: int(10, 900).default(60),
    /** Wait at least this long before a relaunch (longer when the budget needs it, as for polls). */
    relaunchBackoffSeconds: int(0, 3600).default(60),
    /** How long an instance may take from launch until its SSM agent is online. */
    bootTimeoutSeconds: int(60, 3600).default(600),
    /** A workload that prints nothing for this long is treated as hung. */
    silenceTimeoutSeconds: int(60, 86400).default(1800),
    /** The workload's code directory; default: the pipeline's `code`. Its files are in $PIPELINE_CODE_DIR. */
    code: codeDir.optional(),
    /** Secrets the workload receives as environment variables (contract/secrets.ts). */
    secrets: secretsSchema.optional(),
    /**
     * The phase's image and its architecture (a launch profile): an AMI id, or an SSM parameter
     * that names one (e.g. a Deep Learning AMI's public parameter); by default Amazon Linux 2023 of
     * the architecture. Every instance type must be of that architecture (checked at synth).
     */
    image: imageSchema.optional(),
    /** Artifacts (made by build stages before this phase) downloaded and verified into $PIPELINE_ARTIFACTS_DIR before the workload. */
    artifacts: z
      .array(z.string({ error: 'must be a string' }).regex(ARTIFACT_NAME_FOR_PHASE, { error: 'must name an artifact (lowercase letters, digits and _)' }), { error: 'must be a list of artifact names' })
      .max(10, { error: 'must list at most 10 artifacts' })
      .refine((xs) => new Set(xs).size === xs.length, { error: 'must not repeat an artifact' })
      .optional(),
    /**
     * Commands the workload needs on the instance (e.g. python3, java): the runner checks each is
     * there before the workload starts, in the Friday preflight too, and runs nothing without them.
     */
    tools: z
      .array(z.string({ error: 'must be a string' }).regex(/^[A-Za-z0-9._+-]{1,64}$/, { error: 'must be a command name (letters, digits and . _ + -; at most 64)' }), { error: 'must be a list of command names' })
      .max(30, { error: 'must list at most 30 tools' })
      .optional(),
    /**
     * Run the workload as independent shards (seed 003's per-crypto fan-out, seed 000's chunks): a
     * list of names, or a count (named "0", "1", ...). Each shard is its own spot job with its own
     * attempts, budget and relaunches, and sees PIPELINE_SHARD (PIPELINE_SHARD_INDEX, PIPELINE_SHARD_COUNT).
     */
    shards: z
      .custom<number | string[]>((v) => typeof v === 'number' || (Array.isArray(v) && v.every((x) => typeof x === 'string')), {
        error: `must be a number of shards (1-${MAX_SHARDS}) or a list of shard names`,
      })
      .superRefine((shards, ctx) => {
        const problem = shardsProblem(shards);
        if (problem) ctx.addIssue({ code: 'custom', message: problem.message, path: problem.path });
      })
      .optional(),
    /**
     * Opt-in: launch on-demand rather than fail when spot will not do (`true`, or the triggers):
     * `lastAttempt` (default true) when the budget affords only one more attempt, `whenCapacityExhausted`
     * (default true) when every spot pool refused capacity, `afterInterruptions` after that many
     * interruptions. Once on-demand, the phase stays on-demand. Only phases that opt in may launch
     * on-demand (IAM).
     */
    onDemandFallback: z
      .custom<boolean | Record<string, unknown>>((v) => typeof v === 'boolean' || (typeof v === 'object' && v !== null && !Array.isArray(v)), {
        error: 'must be true, false or { "lastAttempt"?, "whenCapacityExhausted"?, "afterInterruptions"? }',
      })
      .transform((v, ctx) => {
        if (typeof v === 'boolean') return v;
        // An object of triggers: its own problems, each naming its field.
        const parsed = fallbackTriggersSchema.safeParse(v);
        if (parsed.success) return parsed.data;
        for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path as (string | number)[] });
        return z.NEVER;
      })
      .optional(),
    /**
     * How a launch finds spot capacity (default: the pipeline's `allocation`). "price-capacity-optimized":
     * one CreateFleet call (type instant) over every allowed pool, EC2 choosing the pool least likely
     * to be interrupted at a low price. "rotation": RunInstances pool by pool (instance type x subnet),
     * for accounts whose policies do not allow EC2 Fleet.
     */
    allocation: allocationSchema.optional(),
    /** With shards: how many run at once (default all, at most 40: Step Functions runs up to 40 iterations of an inline Map at a time). */
    maxConcurrency: int(1, MAX_SHARD_CONCURRENCY).optional(),
    /** With shards: how many may fail while the phase still succeeds, a count or a percentage of the shards ("20%"); default 0. */
    toleratedFailures: z
      .custom<number | string>((v) => typeof v === 'number' || typeof v === 'string', { error: 'must be a number of shards or a percentage such as "20%"' })
      .superRefine((tolerated, ctx) => {
        const problem = toleranceProblem(tolerated);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
  })
  .strict();

export type PhaseConfig = z.output<typeof phaseSchema>;
export type PhaseConfigInput = z.input<typeof phaseSchema>;

/**
 * Stage kinds. The pipeline's stages are a discriminated union on `kind`; each kind has one
 * graph builder (state-machines/stages/). A new kind is one member here plus one builder there.
 */
export const phaseStageSchema = phaseSchema.extend({ kind: z.literal('phase') }).strict();
export const parallelStageSchema = z
  .object({
    kind: z.literal('parallel'),
    parallel: z.array(phaseSchema, { error: 'must be a list of phases' }).min(2, { error: 'must hold at least two phases' }),
  })
  .strict();

/**
 * An artifact name: a path segment of its key (contract/storage.ts, artifactKey) and a field of
 * the pipeline state (`$.run.artifacts.<name>`, so no dashes: JSONPath's dot notation).
 */
export const ARTIFACT_NAME = /^[a-z][a-z0-9_]{0,39}$/;
/** A git commit, as a build is keyed by it: the full 40-hex SHA-1 (or 64-hex SHA-256) object name, never a branch. */
export const GIT_COMMIT = /^([0-9a-f]{40}|[0-9a-f]{64})$/;

/**
 * Where a build gets its source: a git repository at one commit (written in the config, or taken
 * from a run parameter), or a .tar.gz in the pipeline bucket (under `<pipelineName>/sources/`),
 * whose ETag is the version.
 */
export const buildSourceSchema = z.union(
  [
    z
      .object({
        git: z
          .object({
            url: z.string({ error: 'must be a string' }).regex(/^(https:\/\/|ssh:\/\/|git@)[A-Za-z0-9._~:/?#@!$&()*+,;=%-]{3,500}$/, { error: 'must be an https://, ssh:// or git@ repository URL' }),
            commit: z.string({ error: 'must be a string' }).regex(GIT_COMMIT, { error: 'must be a full commit SHA (40 hex characters), not a branch or tag: a build is keyed by its commit' }).optional(),
            /** The run parameter (config `params`) that names the commit of each run. */
            commitParam: z.string({ error: 'must be a string' }).optional(),
          })
          .strict()
          .refine((g) => (g.commit === undefined) !== (g.commitParam === undefined), { error: 'must give exactly one of commit or commitParam' }),
      })
      .strict(),
    z
      .object({
        s3: z
          .object({ key: z.string({ error: 'must be a string' }).regex(/^[A-Za-z0-9!_.*'()/-]{1,900}\.tar\.gz$/, { error: 'must be an object key ending in .tar.gz' }) })
          .strict(),
      })
      .strict(),
  ],
  { error: 'must be {"git": {"url", "commit" | "commitParam"}} or {"s3": {"key"}}' },
);
export type BuildSource = z.output<typeof buildSourceSchema>;

/**
 * A `build` stage (seed 002): once per source version, a spot worker fetches the source, runs the
 * build command in it and uploads the file it makes as the artifact `artifact`, with its sha256;
 * when that version is already in the bucket, the stage launches nothing and says so. Phases that
 * list the artifact in `artifacts` get it downloaded and verified before their workload.
 */
export const buildStageSchema = phaseSchema
  .omit({ workloadCommand: true, shards: true, maxConcurrency: true, toleratedFailures: true })
  .extend({
    kind: z.literal('build'),
    /** The artifact this stage makes. */
    artifact: z.string({ error: 'must be a string' }).regex(ARTIFACT_NAME, { error: 'must be lowercase letters, digits and _, starting with a letter (at most 40)' }),
    source: buildSourceSchema,
    /** Run in the source directory, like a workload (its tools, secrets and parameters). */
    buildCommand: command,
    /** The file the build makes, relative to the source directory: uploaded as the artifact. */
    output: z
      .string({ error: 'must be a string' })
      .regex(/^[A-Za-z0-9._/-]{1,500}$/, { error: 'must be a relative path of letters, digits and . _ / -' })
      .refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), { error: 'must stay inside the source directory (relative, no ..)' }),
  })
  .strict();

/** One rule of a promotion gate (decisions/promotion.ts). */
export const gateRuleSchema = z
  .object({
    /** A number in the candidate's and production's metrics files. */
    metric: z.string({ error: 'must be a string' }).regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/, { error: 'must be a metric name (letters, digits and _ . -)' }),
    better: z.enum(['higher', 'lower'], { error: 'must be "higher" or "lower"' }),
    /** improve: strictly better than production; not-worse: no worse than production by more than `tolerance`. */
    rule: z.enum(['improve', 'not-worse'], { error: 'must be "improve" or "not-worse"' }),
    /** With not-worse: how much worse than production it may be, as a fraction of production's value (0.1 = 10 %). */
    tolerance: z.number({ error: 'must be a number' }).min(0, { error: 'must be >= 0' }).max(10, { error: 'must be <= 10' }).optional(),
    /** Evaluated and reported, never blocks the promotion. */
    advisory: z.boolean({ error: 'must be true or false' }).optional(),
  })
  .strict()
  .refine((r) => r.tolerance === undefined || r.rule === 'not-worse', { error: 'tolerance goes with rule "not-worse"', path: ['tolerance'] });
export type GateRule = z.output<typeof gateRuleSchema>;

/**
 * A `gate` stage (seed 004): compare the candidate metrics a phase wrote (`metricsFile` in its
 * outputs) with production's (`<pipelineName>/production/<gate>/`) by `rules`; promote (copy the
 * candidate phase's outputs to production) when they pass or production holds nothing yet, keep
 * production otherwise; record the decision (`<pipelineName>/promotions/<runDate>/<gate>.json`) and
 * put a ModelPromoted datum (1 or 0). Runs in a Lambda: no instance.
 */
export const gateStageSchema = z
  .object({
    kind: z.literal('gate'),
    name: z
      .string({ error: 'must be a string' })
      .regex(PHASE_NAME, { error: 'must start with a letter and hold only letters and digits (at most 40)' })
      .refine((name) => !RESERVED_PHASE_NAMES.includes(name), { error: 'is the name of a state of the pipeline graph; name the gate otherwise' }),
    /** The phase whose outputs hold the candidate (an earlier phase). */
    candidate: z.string({ error: 'must be the name of an earlier phase' }).regex(PHASE_NAME, { error: 'must be the name of an earlier phase' }),
    metricsFile: z
      .string({ error: 'must be a file name' })
      .regex(/^[A-Za-z0-9._-]{1,100}$/, { error: 'must be a file name of letters, digits and . _ - (at most 100)' })
      .refine((f) => f !== '.' && f !== '..', { error: 'must be a file name' })
      .default('metrics.json'),
    rules: z.array(gateRuleSchema, { error: 'must be a list of rules' }).min(1, { error: 'must hold at least one rule' }).max(20, { error: 'must hold at most 20 rules' }),
    /** Decide and record, but copy nothing to production (seed 004's --dry-run). */
    dryRun: z.boolean({ error: 'must be true or false' }).default(false),
  })
  .strict();
export type GateStage = z.output<typeof gateStageSchema>;

export const STAGE_KINDS = ['phase', 'parallel', 'build', 'gate'] as const;
export type StageKind = (typeof STAGE_KINDS)[number];

/**
 * Configs written before stages had a kind keep working: a stage without `kind` is a parallel
 * group when it has `parallel`, and a phase otherwise.
 */
function withKind(raw: unknown): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const stage = 'kind' in raw ? raw : { kind: 'parallel' in raw ? 'parallel' : 'phase', ...raw };
  if ('parallel' in stage && Array.isArray(stage.parallel)) return { ...stage, parallel: stage.parallel.map(withGpuDefaults) };
  return withGpuDefaults(stage);
}

/** GPU defaults: an instance booting a large GPU image takes longer, and training can be quiet for long. */
export const GPU_DEFAULTS = { bootTimeoutSeconds: 900, silenceTimeoutSeconds: 3600 } as const;

/** A phase whose instance types include a GPU type gets GPU_DEFAULTS for the timeouts it does not set. */
function withGpuDefaults(raw: unknown): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const types = (raw as { instanceTypes?: unknown }).instanceTypes;
  if (!Array.isArray(types) || !types.some((t) => typeof t === 'string' && isGpuInstanceType(t))) return raw;
  return { ...GPU_DEFAULTS, ...raw };
}

const stageSchema = z.preprocess(
  withKind,
  z.discriminatedUnion('kind', [phaseStageSchema, parallelStageSchema, buildStageSchema, gateStageSchema], {
    error: (issue) => (issue.code === 'invalid_union' ? `kind must be one of ${STAGE_KINDS.map((k) => `"${k}"`).join(', ')}` : undefined),
  }),
);

export const pipelineConfigSchema = z
  .object({
    pipelineName: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9-]{0,39}$/, { error: 'must start with a letter and hold only letters, digits and dashes (at most 40)' })
      .default('saturday-pipeline'),
    metricNamespace: z
      .string()
      .regex(/^[A-Za-z0-9._/#:-]{1,255}$/, { error: 'must be 1-255 characters of letters, digits and . _ / # : -' })
      .refine((ns) => !ns.startsWith('AWS/'), { error: 'must not start with AWS/ (reserved for AWS services)' })
      .default('AlphaEngine'),
    /** Kept free at the end of every phase budget for cancelling, terminating and reporting. */
    cleanupMarginSeconds: int(60, 3600).default(300),
    /** How every phase's launches find spot capacity unless the phase says otherwise (phaseSchema `allocation`). */
    allocation: allocationSchema.default('price-capacity-optimized'),
    /**
     * How a running workload is waited for: "events" (a callback the wake relay ends on spot's
     * interruption warning, the command's end or the instance's end; polls only when a watchdog could
     * trip, at most every 30 minutes), or "polls" (a poll every pollIntervalSeconds, as before the relay).
     */
    waitFor: z.enum(['events', 'polls'], { error: 'must be "events" or "polls"' }).default('events'),
    /** The VPC of the configured subnets; required with them. Without both, the stack creates a minimal VPC. */
    vpcId: z.string().regex(/^vpc-[0-9a-f]{8,17}$/, { error: 'must look like vpc-0123abcd' }).optional(),
    /** Subnets for phases that name none; default: a minimal VPC created by the stack. */
    subnetIds: uniqueStrings(z.string().regex(SUBNET_ID, { error: 'must look like subnet-0123abcd' }), 'subnet').optional(),
    /**
     * Availability Zones of the minimal VPC the stack creates when no subnetIds are configured: one
     * public subnet in each of the first vpcAzCount zones Fn::GetAZs lists in the deploy region.
     * Two by default, which every region offers; more zones mean more spot capacity pools, but the
     * deploy fails in a region (or account) offering fewer.
     */
    vpcAzCount: int(2, 6).default(2),
    /** Phases run in this order; a { parallel: [...] } group runs its phases side by side. */
    phases: z
      .array(stageSchema)
      .min(1, { error: 'must list at least one phase' })
      .max(MAX_STAGES, { error: `must list at most ${MAX_STAGES} stages` }),
    schedules: z
      .object({
        /** EventBridge Scheduler's ScheduleExpressionTimezone: an IANA time zone name (contract/schedules.ts). */
        timezone: scheduleString(timeZoneProblem).default('America/Los_Angeles'),
        /** cron(...), rate(...) or at(...) as EventBridge Scheduler takes them (contract/schedules.ts). */
        fullRun: scheduleString(scheduleExpressionProblem).default('cron(0 2 ? * SAT *)'),
        preflight: scheduleString(scheduleExpressionProblem).default('cron(30 13 ? * FRI *)'),
        enabled: z.boolean().default(true),
        retryAttempts: int(0, 185).default(3),
      })
      .strict()
      .prefault({}),
    /**
     * The pipeline bucket (lib/constructs/pipeline-bucket.ts; prefixes in contract/storage.ts):
     * artifacts, run outputs and checkpoints under `<pipelineName>/`. `bucketName` names an
     * existing bucket to use instead of creating one (its settings and lifecycle stay its owner's);
     * the retention days and `retainOnDestroy` apply to the bucket the stack creates.
     */
    storage: z
      .object({
        bucketName: z.string({ error: 'must be a string' }).superRefine((value, ctx) => {
          const problem = bucketNameProblem(value);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        }).optional(),
        /** Days a run's outputs (`runs/`) are kept. */
        runRetentionDays: int(1, 3650).default(90),
        /** Days a checkpoint (`checkpoints/`) is kept: it only matters while its run may still be relaunched or redriven. */
        checkpointRetentionDays: int(1, 365).default(14),
        /** Keep the created bucket and its objects on `cdk destroy` (true), or delete them (false). */
        retainOnDestroy: z.boolean({ error: 'must be true or false' }).default(true),
      })
      .strict()
      .prefault({}),
    /** The code directory of every phase that names none (see the phase's `code`). */
    code: codeDir.optional(),
    /**
     * Per-run parameters, by name (contract/params.ts): the execution input's `params` sets them,
     * each workload reads them as PIPELINE_PARAM_<NAME>.
     */
    params: z
      .record(z.string().regex(PARAM_NAME, { error: 'must start with a letter and hold only letters, digits and _ (at most 40)' }), paramDeclarationSchema)
      .refine((params) => Object.keys(params).length <= MAX_PARAMS, { error: `must declare at most ${MAX_PARAMS} parameters` })
      .default({}),
    /** The orphan reaper only reports (logs and metric) when true. */
    reaperDryRun: z.boolean({ error: 'must be true or false' }).default(false),
    /** Where alarms are emailed (optional). */
    alarmEmail: z.email({ error: 'must be an email address' }).optional(),
    /**
     * Reserved concurrency, opt-in: `launchInstance` caps concurrent LaunchInstance runs (a runaway
     * cannot fan out into launches), `reaper` keeps orphan sweeps from overlapping. Off by default:
     * a reservation comes out of the account's Lambda concurrency, of which 100 must stay
     * unreserved, so in an account whose concurrency quota is still low (new accounts may have 10)
     * the deploy fails. https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
     */
    reservedConcurrency: z
      .object({ launchInstance: int(1, 1000).optional(), reaper: int(1, 1000).optional() })
      .strict()
      .optional(),
    logRetentionDays: z
      .union([z.literal(1), z.literal(3), z.literal(5), z.literal(7), z.literal(14), z.literal(30), z.literal(60), z.literal(90), z.literal(180), z.literal(365)], {
        error: 'must be one of 1, 3, 5, 7, 14, 30, 60, 90, 180, 365',
      })
      .default(30),
  })
  .strict()
  .superRefine((config, ctx) => {
    const phases = allPhases(config);
    const withSubnets = phases.filter((p) => p.subnetIds);
    if ((config.subnetIds || withSubnets.length > 0) && !config.vpcId) {
      ctx.addIssue({ code: 'custom', path: ['vpcId'], message: 'is required when subnetIds are configured (the workers\' security group lives in that VPC)' });
    }
    if (config.vpcId && !config.subnetIds && withSubnets.length < phases.length) {
      const missing = phases.filter((p) => !p.subnetIds).map((p) => p.name);
      ctx.addIssue({ code: 'custom', path: ['subnetIds'], message: `is required with vpcId: phase(s) ${missing.join(', ')} name no subnets of their own` });
    }
    const envNames = new Map<string, string>();
    for (const [name, decl] of Object.entries(config.params)) {
      const problem = declarationProblem(decl);
      if (problem) ctx.addIssue({ code: 'custom', path: ['params', name], message: problem });
      const env = paramEnvName(name);
      const other = envNames.get(env);
      if (other) ctx.addIssue({ code: 'custom', path: ['params', name], message: `reaches the workload as ${env}, as ${other} does; rename one` });
      envNames.set(env, name);
      if (decl.default === undefined && config.schedules.enabled) {
        ctx.addIssue({
          code: 'custom',
          path: ['params', name, 'default'],
          message: 'is required while schedules are enabled: the scheduled runs send {"mode": ...} only, so every parameter needs a default',
        });
      }
    }
    const seen = new Map<string, number>();
    config.phases.forEach((stage, stageIndex) => {
      if (stage.kind === 'gate') return;
      const members = stage.kind === 'parallel' ? stage.parallel.map((p, i) => ({ p, path: [stageIndex, 'parallel', i] })) : [{ p: stage, path: [stageIndex] }];
      for (const { p, path } of members) {
        if (seen.has(p.name)) {
          ctx.addIssue({ code: 'custom', path: ['phases', ...path, 'name'], message: `duplicate phase name ${p.name}` });
        }
        seen.set(p.name, stageIndex);
        const architecture = p.image?.architecture ?? WORKER_ARCHITECTURE;
        for (const field of ['instanceTypes', 'secondaryInstanceTypes'] as const) {
          (p[field] ?? []).forEach((type, i) => {
            const problem = architectureProblem(type, architecture);
            if (problem) ctx.addIssue({ code: 'custom', path: ['phases', ...path, field, i], message: `phase ${p.name}: ${problem}${p.image ? '' : ' (give the phase an image of another architecture: "image": {"architecture": "arm64"})'}` });
          });
        }
        (p.secondaryInstanceTypes ?? []).forEach((type, i) => {
          if (p.instanceTypes.includes(type)) ctx.addIssue({ code: 'custom', path: ['phases', ...path, 'secondaryInstanceTypes', i], message: `phase ${p.name}: ${type} is one of its instanceTypes already` });
        });
        const waits = phaseWaits(p);
        const problem = budgetProblem({ ...p, ...waits }, config.cleanupMarginSeconds) ?? historyProblem({ ...p, ...waits });
        if (problem) ctx.addIssue({ code: 'custom', path: ['phases', ...path, 'budgetSeconds'], message: `phase ${p.name}: ${problem}` });
        if (p.bootTimeoutSeconds >= p.attemptSeconds) {
          ctx.addIssue({
            code: 'custom',
            path: ['phases', ...path, 'bootTimeoutSeconds'],
            message: `phase ${p.name}: bootTimeoutSeconds ${p.bootTimeoutSeconds} must be below attemptSeconds ${p.attemptSeconds}`,
          });
        }
      }
    });
    checkShards(config, seen, ctx);
    checkGates(config, seen, ctx);
    // Build stages: each artifact made once; every artifact a phase lists made by a build before it;
    // a commit parameter declared; the build's own states named apart from every phase.
    const built = new Map<string, number>();
    const buildStates = new Map<string, string>();
    config.phases.forEach((stage, stageIndex) => {
      if (stage.kind !== 'build') return;
      if (built.has(stage.artifact)) ctx.addIssue({ code: 'custom', path: ['phases', stageIndex, 'artifact'], message: `artifact ${stage.artifact} is already made by an earlier build stage` });
      built.set(stage.artifact, stageIndex);
      const param = 'git' in stage.source ? stage.source.git.commitParam : undefined;
      if (param !== undefined && config.params[param]?.type !== 'string') {
        ctx.addIssue({ code: 'custom', path: ['phases', stageIndex, 'source', 'git', 'commitParam'], message: `must name a string parameter declared in params (got ${JSON.stringify(param)})` });
      }
      for (const state of buildStateNames(stage.name)) {
        if (seen.has(state)) ctx.addIssue({ code: 'custom', path: ['phases', stageIndex, 'name'], message: `build ${stage.name} names a state ${state}, which is also a phase's name; rename one` });
        const other = buildStates.get(state);
        if (other !== undefined) ctx.addIssue({ code: 'custom', path: ['phases', stageIndex, 'name'], message: `build ${stage.name} names a state ${state}, as build ${other} does; rename one` });
        buildStates.set(state, stage.name);
      }
    });
    config.phases.forEach((stage, stageIndex) => {
      if (stage.kind === 'gate') return;
      const members = stage.kind === 'parallel' ? stage.parallel.map((p, i) => ({ p, path: [stageIndex, 'parallel', i] })) : [{ p: stage, path: [stageIndex] }];
      for (const { p, path } of members) {
        (p.artifacts ?? []).forEach((name, i) => {
          const at = built.get(name);
          if (at === undefined || at >= stageIndex) {
            ctx.addIssue({
              code: 'custom',
              path: ['phases', ...path, 'artifacts', i],
              message: `no build stage before ${p.name} makes artifact ${name}${built.size > 0 ? ` (built before it: ${[...built].filter(([, j]) => j < stageIndex).map(([n]) => n).join(', ') || 'none'})` : ''}`,
            });
          }
        });
      }
    });
  });

/** The members of every phase and parallel stage, with the path of each in the config. */
function phaseMembers(config: { phases: Stage[] }): { p: PhaseConfig; path: (string | number)[] }[] {
  return config.phases.flatMap((stage, stageIndex) => {
    if (stage.kind === 'parallel') return stage.parallel.map((p, i) => ({ p, path: [stageIndex, 'parallel', i] }));
    if (stage.kind === 'phase') return [{ p: stage, path: [stageIndex] }];
    return [];
  });
}

/**
 * The checks of sharded phases: maxConcurrency and toleratedFailures only with shards, fewer
 * tolerated failures than shards, and the states a sharded phase adds named apart from every other state.
 */
function checkShards(config: { phases: Stage[] }, seen: ReadonlyMap<string, number>, ctx: z.RefinementCtx): void {
  const taken = new Map<string, string>([...seen.keys()].map((name) => [name, `phase ${name}`]));
  for (const b of buildStages(config)) for (const state of buildStateNames(b.name)) taken.set(state, `build ${b.name}`);
  for (const g of gateStages(config)) for (const state of [g.name, ...gateStateNames(g.name)]) taken.set(state, `gate ${g.name}`);
  for (const { p, path } of phaseMembers(config)) {
    // (A `shards` the schema refused is reported there alone.)
    const names = p.shards === undefined || shardsProblem(p.shards) === undefined ? shardNames(p) : [];
    if (names?.length === 0) continue;
    if (!names) {
      for (const field of ['maxConcurrency', 'toleratedFailures'] as const) {
        if (p[field] !== undefined) ctx.addIssue({ code: 'custom', path: ['phases', ...path, field], message: `phase ${p.name}: goes with shards (the phase names none)` });
      }
      continue;
    }
    const tolerated = toleratedShardFailures(p);
    if (tolerated >= names.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['phases', ...path, 'toleratedFailures'],
        message: `phase ${p.name}: tolerates ${tolerated} failed shard(s) of ${names.length}; it must be fewer than the shards, or the phase could succeed with none done`,
      });
    }
    for (const state of shardStateNames(p.name)) {
      const other = taken.get(state);
      if (other !== undefined && other !== `phase ${p.name}`) {
        ctx.addIssue({ code: 'custom', path: ['phases', ...path, 'name'], message: `sharded phase ${p.name} names a state ${state}, which ${other} also uses; rename one` });
      }
      taken.set(state, `sharded phase ${p.name}`);
    }
  }
}

/** The checks of gate stages: a candidate phase that runs before the gate, and names apart from every other state. */
function checkGates(config: { phases: Stage[] }, seen: ReadonlyMap<string, number>, ctx: z.RefinementCtx): void {
  const taken = new Set([...seen.keys(), ...buildStages(config).flatMap((b) => [...buildStateNames(b.name)])]);
  config.phases.forEach((stage, stageIndex) => {
    if (stage.kind !== 'gate') return;
    for (const state of [stage.name, ...gateStateNames(stage.name)]) {
      if (taken.has(state)) ctx.addIssue({ code: 'custom', path: ['phases', stageIndex, 'name'], message: `gate ${stage.name} names a state ${state}, which another stage uses; rename one` });
      taken.add(state);
    }
    const at = seen.get(stage.candidate);
    const isBuild = buildStages(config).some((b) => b.name === stage.candidate);
    const candidate = phaseMembers(config).find(({ p }) => p.name === stage.candidate)?.p;
    if (candidate?.shards !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['phases', stageIndex, 'candidate'], message: `names sharded phase ${stage.candidate}: a gate compares the one metrics file of an unsharded phase` });
    }
    if (at === undefined || at >= stageIndex || isBuild) {
      ctx.addIssue({ code: 'custom', path: ['phases', stageIndex, 'candidate'], message: `must name a phase that runs before gate ${stage.name} (got ${JSON.stringify(stage.candidate)})` });
    }
  });
}

/** The states a build stage adds besides its phase task (state-machines/stages/build.ts names them from here). */
export function buildStateNames(name: string): { check: string; present: string; skip: string; record: string } & Iterable<string> {
  const names = { check: `Check${name}`, present: `${name}Present?`, skip: `${name}AlreadyBuilt`, record: `Record${name}` };
  return { ...names, [Symbol.iterator]: () => Object.values(names)[Symbol.iterator]() };
}

export type PipelineConfig = z.output<typeof pipelineConfigSchema>;
export type BuildStage = z.output<typeof buildStageSchema>;
export type Stage = z.output<typeof phaseStageSchema> | z.output<typeof parallelStageSchema> | BuildStage | GateStage;
/** A stage as a config file may write it: `kind` may be left out (see withKind). */
export type StageInput =
  | (z.input<typeof phaseSchema> & { kind?: 'phase' })
  | { kind?: 'parallel'; parallel: z.input<typeof phaseSchema>[] }
  | z.input<typeof buildStageSchema>
  | z.input<typeof gateStageSchema>;
export type PipelineConfigInput = Omit<z.input<typeof pipelineConfigSchema>, 'phases'> & { phases: StageInput[] };

/**
 * A build stage as the phase it runs on spot: its build command is the workload (the runner
 * fetches the source first and uploads the artifact after; decisions/data-plane.ts).
 */
export function buildPhase(stage: BuildStage): PhaseConfig {
  const { kind: _kind, artifact: _artifact, source: _source, buildCommand, output: _output, ...phase } = stage;
  return { ...phase, workloadCommand: buildCommand };
}

/** The phases of one stage, in order (a build stage runs one). */
export function stagePhases(stage: Stage): PhaseConfig[] {
  switch (stage.kind) {
    case 'phase':
      return [stage];
    case 'parallel':
      return stage.parallel;
    case 'build':
      return [buildPhase(stage)];
    case 'gate':
      return [];
  }
}

/** The gate stages of a pipeline, in order. */
export function gateStages(config: Pick<PipelineConfig, 'phases'>): GateStage[] {
  return config.phases.filter((s): s is GateStage => s.kind === 'gate');
}

/** The state a gate adds besides its own task: the ModelPromoted datum. */
export const gateCountStateName = (gate: string): string => `Count${gate}`;

/**
 * Every state a gate adds besides its own task (state-machines/stages/gate.ts names them from
 * here): the preflight check that skips it, the ModelPromoted datum, and the state after both.
 */
export function gateStateNames(gate: string): { preflight: string; count: string; decided: string } & Iterable<string> {
  const names = { preflight: `${gate}Preflight?`, count: gateCountStateName(gate), decided: `${gate}Decided` };
  return { ...names, [Symbol.iterator]: () => Object.values(names)[Symbol.iterator]() };
}

/** The build stages of a pipeline, in order. */
export function buildStages(config: Pick<PipelineConfig, 'phases'>): BuildStage[] {
  return config.phases.filter((s): s is BuildStage => s.kind === 'build');
}

/** The phases of a pipeline, flattened in pipeline order. */
export function allPhases(config: Pick<PipelineConfig, 'phases'>): PhaseConfig[] {
  return config.phases.flatMap(stagePhases);
}

/**
 * The spec of one phase as the SpotPhase state machine hands it to every Lambda: the phase
 * config plus what the pipeline decides for it (subnets resolved, cleanup margin, pipeline name,
 * the waits it runs with: see phaseWaits).
 */
export const phaseSpecSchema = phaseSchema
  .omit({ code: true, shards: true, maxConcurrency: true, toleratedFailures: true })
  .extend({
    /** Set in the execution of one shard of a sharded phase: its name, its place in the list and how many there are. */
    shard: z.object({ name: z.string().regex(SHARD_NAME), index: int(0, MAX_SHARDS - 1), count: int(1, MAX_SHARDS) }).strict().optional(),
    subnetIds: phaseSchema.shape.subnetIds.unwrap(),
    cleanupMarginSeconds: int(60, 3600),
    pipelineName: z.string().min(1),
    /**
     * Seconds between SSM agent checks while the instance boots. Optional with its default, so the
     * spec of an execution started before the field existed (a redrive runs it with new Lambda
     * code) still parses, and checks as it did.
     */
    agentCheckSeconds: int(5, 900).default(DEFAULT_AGENT_CHECK_SECONDS),
    /**
     * The pipeline's wake relay is deployed (lambdas/wake-phase.ts): a running workload is waited for
     * by a callback task that spot's interruption warning, the command's end or the instance's end
     * cut short, up to the moment a watchdog could trip (decisions/phase-clock.ts, workloadWait).
     * Absent in specs from before the relay: polls at pollIntervalSeconds.
     */
    wakeOnEvents: z.boolean().default(false),
    /** The phase's packaged code (lib/constructs/code-asset.ts): where it is and the sha256 the runner verifies. */
    codeAsset: z.object({ uri: z.string().regex(/^s3:\/\/[^/]+\/.+/), sha256: z.string().regex(/^[0-9a-f]{64}$/) }).strict().optional(),
    /**
     * The phase's own instance profile (its role may read exactly its secrets and write its own
     * prefixes). Absent in specs from before per-phase roles: the launch template's profile applies.
     */
    instanceProfileArn: z.string().min(1).optional(),
    /** The phase's launch profile: the image to run (an AMI id, or resolve:ssm:<parameter>) and its root volume. */
    launch: z
      .object({ imageId: z.string().regex(/^(ami-[0-9a-f]{8,17}|resolve:ssm:.+)$/), rootVolumeGiB: int(8, 16384).optional(), rootDeviceName: z.string().min(1) })
      .strict()
      .optional(),
    /**
     * The phase's own launch template (lib/constructs/spot-workers.ts: its instance profile, image and
     * root volume), which a fleet launch names: CreateFleet's overrides cannot set those. Absent in
     * specs from before per-phase templates: such a phase launches by rotation from the stack's template.
     */
    launchTemplate: z.object({ id: z.string().min(1), version: z.string().min(1) }).strict().optional(),
    /** Set for the phase a build stage runs: what it builds, from where, and the file it uploads. */
    build: z.object({ artifact: z.string().regex(ARTIFACT_NAME), source: buildSourceSchema, output: z.string().min(1) }).strict().optional(),
  })
  .strict();
export type PhaseSpec = z.output<typeof phaseSpecSchema>;

/**
 * The waits a phase runs with: its configured poll interval and relaunch backoff, and the default
 * agent check, each raised where its budget needs it to keep the SpotPhase execution's history
 * below Step Functions' quota (contract/history.ts). These, not the configured values, are in its spec.
 */
export function phaseWaits(phase: Pick<PhaseConfig, 'budgetSeconds' | 'pollIntervalSeconds' | 'relaunchBackoffSeconds'>): HistorySafeWaits {
  return historySafeWaits(phase);
}

/** "phase Research" for a path into phases[2] of a raw config, when that phase has a name. */
export function phaseLabel(raw: unknown): (path: readonly PropertyKey[]) => string | undefined {
  return (path) => {
    if (path[0] !== 'phases' || typeof path[1] !== 'number') return undefined;
    const stage = (raw as { phases?: unknown[] } | null)?.phases?.[path[1]] as { name?: unknown; parallel?: { name?: unknown }[] } | undefined;
    const phase = path[2] === 'parallel' && typeof path[3] === 'number' ? stage?.parallel?.[path[3]] : stage;
    return typeof phase?.name === 'string' ? `phase ${phase.name}` : undefined;
  };
}

/** The spec a phase's SpotPhase execution receives: its config (without the stage kind) plus what the pipeline decides for it. */
export function toPhaseSpec(
  phase: PhaseConfig & { kind?: StageKind },
  pipeline: { subnetIds: string[]; cleanupMarginSeconds: number; pipelineName: string; allocation?: Allocation; waitFor?: 'events' | 'polls' },
  data: Pick<PhaseSpec, 'codeAsset' | 'instanceProfileArn' | 'launchTemplate' | 'build'> = {},
): PhaseSpec {
  const { kind: _kind, code: _code, shards: _shards, maxConcurrency: _maxConcurrency, toleratedFailures: _tolerated, ...config } = phase;
  // A GPU phase's preflight (and every run) checks the driver is there.
  const gpu = phase.instanceTypes.some(isGpuInstanceType);
  const tools = gpu && !(phase.tools ?? []).includes('nvidia-smi') ? [...(phase.tools ?? []), 'nvidia-smi'] : phase.tools;
  const { allocation: pipelineAllocation, waitFor, ...shared } = pipeline;
  const allocation = phase.allocation ?? pipelineAllocation;
  return { ...config, ...(tools ? { tools } : {}), ...shared, ...(allocation ? { allocation } : {}), wakeOnEvents: waitFor !== 'polls', ...phaseWaits(phase), ...(phase.image ? { launch: launchProfile(phase.image) } : {}), ...data };
}

/** The image a phase's launches name: its AMI, its SSM parameter, or Amazon Linux 2023 of its architecture. */
export function launchProfile(image: NonNullable<PhaseConfig['image']>): NonNullable<PhaseSpec['launch']> {
  const imageId = image.ami ?? `resolve:ssm:${image.ssmParameter ?? AL2023_PARAMETER[image.architecture]}`;
  return { imageId, rootDeviceName: image.rootDeviceName, ...(image.rootVolumeGiB ? { rootVolumeGiB: image.rootVolumeGiB } : {}) };
}

/** The shard names of a phase (a count n names them "0".."n-1"), or undefined for a phase that is not sharded. */
export function shardNames(phase: Pick<PhaseConfig, 'shards'>): string[] | undefined {
  if (phase.shards === undefined) return undefined;
  return typeof phase.shards === 'number' ? Array.from({ length: phase.shards }, (_, i) => String(i)) : [...phase.shards];
}

/** How many shards of a sharded phase may fail while it succeeds: a count, or a percentage of the shards rounded down. */
export function toleratedShardFailures(phase: Pick<PhaseConfig, 'shards' | 'toleratedFailures'>): number {
  const count = shardNames(phase)?.length ?? 0;
  const tolerated = phase.toleratedFailures ?? 0;
  return typeof tolerated === 'number' ? tolerated : Math.floor((count * parseFloat(tolerated)) / 100 + 1e-9);
}

/** How many shards run at once: maxConcurrency, or every shard (at most MAX_SHARD_CONCURRENCY). */
export function shardConcurrency(phase: Pick<PhaseConfig, 'shards' | 'maxConcurrency'>): number {
  const count = shardNames(phase)?.length ?? 1;
  return Math.min(phase.maxConcurrency ?? count, count, MAX_SHARD_CONCURRENCY);
}

/**
 * The states a sharded phase adds besides its Map state (named after the phase; state-machines/stages/shards.ts
 * names them from here): the preflight choice, the two shard lists, the states of one iteration, the tally and its verdict.
 */
export function shardStateNames(phase: string): {
  preflight: string; allShards: string; firstShard: string; next: string; run: string; succeeded: string; record: string; unrecorded: string; kept: string; settle: string; rerun: string; tally: string; settled: string; done: string;
} & Iterable<string> {
  const names = {
    preflight: `${phase}Preflight?`,
    allShards: `${phase}AllShards`,
    firstShard: `${phase}FirstShard`,
    next: `${phase}ShardToRun?`,
    run: `${phase}Shard`,
    succeeded: `${phase}ShardSucceeded`,
    record: `${phase}ShardFailed`,
    unrecorded: `${phase}ShardFailedUnrecorded`,
    kept: `${phase}ShardKept`,
    settle: `Settle${phase}Shard`,
    rerun: `${phase}ShardRerun?`,
    tally: `Tally${phase}`,
    settled: `${phase}ShardsSettled?`,
    done: `${phase}ShardsDone`,
  };
  return { ...names, [Symbol.iterator]: () => Object.values(names)[Symbol.iterator]() };
}

/** A phase's on-demand fallback, its triggers spelled out; undefined when the phase stays on spot. */
export interface OnDemandFallback {
  readonly lastAttempt: boolean;
  readonly whenCapacityExhausted: boolean;
  readonly afterInterruptions?: number;
}
export function onDemandFallbackOf(phase: Pick<PhaseConfig, 'onDemandFallback'>): OnDemandFallback | undefined {
  const fallback = phase.onDemandFallback;
  if (fallback === undefined || fallback === false) return undefined;
  return fallback === true ? { lastAttempt: true, whenCapacityExhausted: true } : fallback;
}
