/**
 * The one pipeline config schema. It validates the config at synth time (a bad config fails
 * `cdk synth` with a message naming the field) and, through `phaseSpecSchema` (contract/phase-config.ts,
 * re-exported here), the phase spec each Lambda receives at run time.
 */
import * as z from 'zod';
import { budgetProblem } from './budget';
import { historyProblem, historySafeWaits, type HistorySafeWaits } from './history';
import { AL2023_PARAMETER, architectureProblem, isGpuInstanceType, WORKER_ARCHITECTURE } from './instance-types';
import { scheduleExpressionProblem, timeZoneProblem } from './schedules';
import { declarationProblem, MAX_PARAMS, PARAM_NAME, paramDeclarationSchema, paramEnvName } from './params';
import { bucketNameProblem } from './storage';
export { formatIssues, formatPath } from './issues';
export * from './phase-config';
import { allocationSchema, ARTIFACT_NAME, buildSourceSchema, codeDir, command, int, MAX_SHARD_CONCURRENCY, MAX_STAGES, PHASE_NAME, phaseSchema, RESERVED_PHASE_NAMES, shardsProblem, SUBNET_ID, uniqueStrings, type Allocation, type PhaseConfig, type PhaseSpec } from './phase-config';

const scheduleString = (check: (value: string) => string | undefined) =>
  z.string({ error: 'must be a string' }).superRefine((value, ctx) => {
    const problem = check(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });


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
