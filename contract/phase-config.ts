/**
 * A phase of the pipeline config, and the phase spec each Lambda receives at run time: what the
 * handlers need of the config, apart from the pipeline-wide schema (contract/config.ts, which
 * re-exports all of this), so a handler's bundle carries no more of the config than it parses.
 */
import * as z from 'zod';
import { DEFAULT_AGENT_CHECK_SECONDS } from './history';
import { parseSecretSource, secretEnvProblem } from './secrets';

export const int = (min: number, max: number) =>
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
export function shardsProblem(shards: number | string[]): { message: string; path?: number[] } | undefined {
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

export const command = z
  .string({ error: 'must be a string' })
  .min(1, { error: 'must not be empty' })
  .max(8192, { error: 'must be at most 8192 characters' })
  .refine((s) => !s.includes('\0'), { error: 'must not contain NUL characters' });

/** A schedule string, refused with the problem `check` finds in it. */
export const uniqueStrings = (item: z.ZodType<string>, what: string) =>
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
export const codeDir = z.string({ error: 'must be a path to a directory' }).min(1, { error: 'must not be empty' }).max(1024, { error: 'must be at most 1024 characters' });

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
export const allocationSchema = z.enum(ALLOCATIONS, { error: `must be one of ${ALLOCATIONS.map((a) => `"${a}"`).join(', ')}` });
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
