/**
 * The scenario file of the simulator contract (shared/simulator-contract.md, v1 and v2): what the
 * simulated cloud does to each phase and launch attempt. Validated before anything runs; every
 * problem names its field.
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as z from 'zod';
import { formatIssues, formatPath } from '../contract/config';
import { SPOT_INTERRUPTION_STATE_REASONS, SPOT_INTERRUPTION_STATUS_CODES } from '../contract/aws-codes';
import { SERVICES } from './services';
import { EMITTED_DETAIL_TYPES } from './services/event-types';
import { REDRIVABLE_PERIOD_MS } from './step-functions';

/**
 * The longest span a minutes field may hold: 366 days. A Standard workflow runs at most a year
 * (Step Functions developer guide, "Step Functions service quotas": maximum execution time, one
 * year), and the virtual clock holds any such span (long-timers.ts).
 */
export const MAX_SCENARIO_MINUTES = 366 * 24 * 60;

/** A span of virtual minutes, >= 0 (or > 0), finite, at most MAX_SCENARIO_MINUTES (JSON's 1e400 parses as Infinity). */
/** The longest an operator may wait to redrive (REDRIVABLE_PERIOD_MS of step-functions.ts, in minutes). */
const REDRIVABLE_MINUTES = REDRIVABLE_PERIOD_MS / 60_000;

const minutes = (what: string, { positive = false } = {}) => {
  const error = `must be a number ${positive ? '> 0' : '>= 0'} and at most ${MAX_SCENARIO_MINUTES} (366 days of minutes; ${what})`;
  const base = z.number({ error }).max(MAX_SCENARIO_MINUTES, { error });
  return positive ? base.positive({ error }) : base.min(0, { error });
};

/**
 * Spot request status codes, as EC2 documents them (EC2 User Guide, "Get the status of a Spot
 * Instance request": "Spot request status codes"; "State changes for a Spot request", including
 * "Interruption experiments"), plus the codes earlier editions of those pages listed and the
 * interruption codes the pipeline classifies (contract/aws-codes.ts).
 */
export const SPOT_REQUEST_STATUS_CODES: readonly string[] = [
  ...new Set([
    'az-group-constraint',
    'bad-parameters',
    'canceled-before-fulfillment',
    'capacity-not-available',
    'constraint-not-fulfillable',
    'fulfilled',
    'instance-stopped-by-price',
    'instance-stopped-by-user',
    'instance-stopped-no-capacity',
    'instance-terminated-by-price',
    'instance-terminated-by-schedule',
    'instance-terminated-by-service',
    'instance-terminated-by-user',
    'spot-instance-terminated-by-user',
    'instance-terminated-launch-group-constraint',
    'instance-terminated-no-capacity',
    'launch-group-constraint',
    'limit-exceeded',
    'marked-for-stop',
    'marked-for-termination',
    'not-scheduled-yet',
    'pending-evaluation',
    'pending-fulfillment',
    'placement-group-constraint',
    'price-too-low',
    'request-canceled-and-instance-running',
    'schedule-expired',
    'system-error',
    // "Interruption experiments" (AWS Fault Injection Service)
    'marked-for-stop-by-experiment',
    'instance-stopped-by-experiment',
    'instance-terminated-by-experiment',
    // earlier editions of the same pages
    'capacity-oversubscribed',
    'instance-terminated-capacity-oversubscribed',
    'instance-stopped-capacity-oversubscribed',
    'marked-for-hibernation',
    'instance-hibernated-by-price',
    'instance-hibernated-no-capacity',
    ...SPOT_INTERRUPTION_STATUS_CODES,
  ]),
];

/** Instance StateReason codes, as EC2 documents them (EC2 API Reference, "StateReason": message). */
export const STATE_REASON_CODES: readonly string[] = [
  ...new Set([
    'Server.InsufficientInstanceCapacity',
    'Server.InternalError',
    'Server.ScheduledStop',
    'Server.SpotInstanceShutdown',
    'Server.SpotInstanceTermination',
    'Client.InstanceInitiatedShutdown',
    'Client.InstanceTerminated',
    'Client.InternalError',
    'Client.InvalidSnapshot.NotFound',
    'Client.UserInitiatedHibernate',
    'Client.UserInitiatedShutdown',
    'Client.VolumeLimitExceeded',
    ...SPOT_INTERRUPTION_STATE_REASONS,
  ]),
];

/** The handler files under lambdas/ (a deployed function runs lambdas/<handler>.ts). */
export function handlerFileNames(): string[] {
  return readdirSync(path.join(__dirname, '..', 'lambdas'), { withFileTypes: true })
    .filter((f) => f.isFile() && f.name.endsWith('.ts') && !f.name.endsWith('.d.ts') && !f.name.endsWith('.test.ts'))
    .map((f) => f.name.slice(0, -'.ts'.length))
    .sort();
}

/** Is "Service.Operation" an operation of the simulated services (services/index.ts)? */
function isSimulatedOperation(key: string): boolean {
  const [service, operation, ...rest] = key.split('.');
  if (!service || !operation || rest.length > 0 || !Object.hasOwn(SERVICES, service)) return false;
  return Object.hasOwn(SERVICES[service as keyof typeof SERVICES], operation);
}

function simulatedOperations(): string[] {
  return Object.entries(SERVICES).flatMap(([service, operations]) => Object.keys(operations).map((op) => `${service}.${op}`));
}

/**
 * A JSON object used as a map (phase names, handler names, API names). Unlike z.record, every own
 * key is kept, `__proto__` included (JSON.parse makes it an own key; a plain assignment would set
 * the prototype instead, and the key would silently vanish), and the result has no prototype, so no
 * inherited name (constructor, toString, ...) reads as an entry.
 */
function ownRecord<V extends z.ZodType>(value: V, options: { error: string; key?: (key: string) => string | undefined }) {
  return z.unknown().transform((raw, ctx): Record<string, z.output<V>> => {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      ctx.addIssue({ code: 'custom', message: options.error });
      return z.NEVER;
    }
    const out = Object.create(null) as Record<string, z.output<V>>;
    for (const [key, item] of Object.entries(raw)) {
      const keyProblem = options.key?.(key);
      if (keyProblem) {
        ctx.addIssue({ code: 'custom', path: [key], message: keyProblem });
        continue;
      }
      const parsed = value.safeParse(item);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', path: [key, ...issue.path], message: issue.message });
        continue;
      }
      Object.defineProperty(out, key, { value: parsed.data, enumerable: true, writable: true, configurable: true });
    }
    return out;
  });
}

const POOL_PATTERN = /^(\*|(\*|[a-z0-9][a-z0-9.-]*)\/(\*|[a-z0-9-]+))$/;

const exitCode = z.number({ error: 'must be a whole number 0-255' }).int({ error: 'must be a whole number 0-255' }).min(0, { error: 'must be a whole number 0-255' }).max(255, { error: 'must be a whole number 0-255' });

export const attemptPlanSchema = z
  .object({
    unavailable: z
      .array(z.string().regex(POOL_PATTERN, { error: 'must be "*" or "instanceType/availabilityZone" (either side may be *)' }), {
        error: 'must be a list of pools like "c5.large/*"',
      })
      .optional(),
    capacityError: z
      .enum([
        'InsufficientInstanceCapacity',
        'InsufficientHostCapacity',
        'InsufficientReservedInstanceCapacity',
        'InsufficientCapacity',
        'UnfulfillableCapacity',
        'MaxSpotInstanceCountExceeded',
        'SpotMaxPriceTooLow',
        'Unsupported',
      ])
      .optional(),
    interruptAtMinute: minutes('minutes after the workload started').optional(),
    /** v2: spot reclaims the instance this long after launch (during boot). */
    interruptAfterLaunchMinutes: minutes('minutes after the instance was launched').optional(),
    /** Checked against SPOT_REQUEST_STATUS_CODES unless the scenario sets allowUnknownCodes. */
    spotStatus: z.string({ error: 'must be a spot request status code or null' }).min(1).nullable().optional(),
    /** Checked against STATE_REASON_CODES unless the scenario sets allowUnknownCodes. */
    stateReason: z.string({ error: 'must be a StateReason code or null' }).min(1).nullable().optional(),
    exitCode: exitCode.optional(),
    hang: z.boolean({ error: 'must be true or false' }).optional(),
  })
  .strict();
export type AttemptPlan = z.output<typeof attemptPlanSchema>;

export const artifactPlanSchema = z
  .object({
    /** Already built for this version before the run: the build is skipped. */
    present: z.boolean({ error: 'must be true or false' }).optional(),
    /** The stored bytes do not match the recorded sha256. */
    corrupt: z.boolean({ error: 'must be true or false' }).optional(),
    buildMinutes: minutes('how long the build runs', { positive: true }).optional(),
    buildExitCode: exitCode.optional(),
  })
  .strict();
export type ArtifactPlan = z.output<typeof artifactPlanSchema>;

const phasePlanFields = z
  .object({
    workloadMinutes: minutes('how long the workload runs', { positive: true }).optional(),
    exitCode: exitCode.optional(),
    /** v2: where the workload prints its progress lines (default stdout). */
    output: z.enum(['stdout', 'stderr', 'both'], { error: 'must be "stdout", "stderr" or "both"' }).optional(),
    attempts: z.array(attemptPlanSchema, { error: 'must be a list of attempt objects' }).max(50).optional(),
    /**
     * v2: the workload saves its progress under $PIPELINE_CHECKPOINT_URI this often and when the
     * interruption notice reaches it; a later attempt handed the same location resumes from the last save.
     */
    checkpointEveryMinutes: minutes('between the workload\'s checkpoint saves', { positive: true }).optional(),
    /** v2: files the workload leaves under $PIPELINE_OUTPUT_URI when it succeeds (name -> JSON content). */
    writes: ownRecord(z.unknown(), {
      error: 'must map file names (e.g. "metrics.json") to their JSON content',
      key: (key) => (/^[A-Za-z0-9._-]{1,100}$/.test(key) && key !== '.' && key !== '..' ? undefined : 'must be a file name of letters, digits, . _ - (at most 100)'),
    }).optional(),
  })
  .strict();
/** v2: a phase's plan; a sharded phase's `shards` plan single shards (same fields), each over the phase's plan. */
export const phasePlanSchema = phasePlanFields
  .extend({
    shards: ownRecord(phasePlanFields, {
      error: 'must map shard names to shard plans',
      key: (key) => (/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/.test(key) ? undefined : 'must be a shard name'),
    }).optional(),
  })
  .strict();
export type PhasePlan = z.output<typeof phasePlanSchema>;

export const scenarioSchema = z
  .object({
    name: z.string({ error: 'must be a string' }).max(200, { error: 'must be at most 200 characters' }).optional(),
    mode: z.enum(['full', 'preflight'], { error: 'must be "full" or "preflight"' }).optional(),
    input: z.unknown().optional(),
    abortAtMinute: minutes('virtual minutes after the execution started').optional(),
    config: z.string({ error: 'must be a path to a pipeline config JSON file' }).min(1).optional(),
    /** Extension: the first N invocations of a handler (by file name, e.g. "launch-instance") do their work, then lose their response (Lambda.ServiceException). */
    lostResponses: ownRecord(z.number({ error: 'must be a whole number 0-100' }).int({ error: 'must be a whole number 0-100' }).min(0, { error: 'must be a whole number 0-100' }).max(100, { error: 'must be a whole number 0-100' }), {
      error: 'must map handler names (e.g. "launch-instance") to counts',
      key: (key) => (handlerFileNames().includes(key) ? undefined : `no such handler (handlers: ${handlerFileNames().join(', ')})`),
    }).optional(),
    /** Extension: the first N calls of an API ("Service.Operation", e.g. "EC2.RunInstances") are throttled. */
    throttle: ownRecord(z.number({ error: 'must be a whole number 0-1000' }).int({ error: 'must be a whole number 0-1000' }).min(0, { error: 'must be a whole number 0-1000' }).max(1000, { error: 'must be a whole number 0-1000' }), {
      error: 'must map "Service.Operation" names (e.g. "SSM.GetCommandInvocation") to counts',
      key: (key) => (isSimulatedOperation(key) ? undefined : `no such simulated operation (operations: ${simulatedOperations().join(', ')})`),
    }).optional(),
    /** Extension: when the execution does not succeed, an operator redrives it this many minutes later. */
    redriveAfterMinutes: minutes('virtual minutes after the execution ended')
      .max(REDRIVABLE_MINUTES, { error: `must be at most ${REDRIVABLE_MINUTES} (14 days: Step Functions redrives an execution only within 14 days of its end, API reference "RedriveExecution")` })
      .optional(),
    /** Extension: minutes from launch until the SSM agent is online (default 2). */
    bootMinutes: minutes('from launch until the SSM agent is online', { positive: true }).optional(),
    /** Extension: minutes a preflight command runs (default 1). */
    preflightMinutes: minutes('how long a preflight command runs', { positive: true }).optional(),
    /** Extension: accept spot status and StateReason codes EC2 does not document (to rehearse a new code). */
    allowUnknownCodes: z.boolean({ error: 'must be true or false' }).optional(),
    phases: ownRecord(phasePlanSchema, { error: 'must map phase names to phase plans' }).optional(),
    /**
     * v2: artifacts by name: `code` is a phase's code archive (config `code`). `corrupt`: the stored
     * bytes do not match the sha256 the pipeline recorded.
     */
    artifacts: ownRecord(artifactPlanSchema, { error: 'must map artifact names (e.g. "code") to artifact plans' }).optional(),
    /**
     * v2: what each promotion gate finds in production before the run, by gate name: file name ->
     * content (JSON, or text); null: nothing yet.
     */
    production: ownRecord(
      z.union([ownRecord(z.unknown(), { error: 'must map file names to their content', key: (key) => (/^[A-Za-z0-9._-]{1,100}$/.test(key) ? undefined : 'must be a file name') }), z.null()], {
        error: 'must map file names to their content, or be null',
      }),
      { error: 'must map gate names to what production holds' },
    ).optional(),
    /**
     * v2: USD per instance-hour. `spot` by pool ("c5.large/us-east-1a", "c5.large/*"; the first
     * pattern that matches), `onDemand` by instance type. Pools not listed: the built-in table
     * (simulator/prices.ts).
     */
    prices: z
      .object({
        spot: ownRecord(z.number({ error: 'must be a price in USD per hour' }).positive({ error: 'must be a price > 0 in USD per hour' }).max(1000, { error: 'must be at most 1000 USD per hour' }), {
          error: 'must map pools ("c5.large/*") to USD per hour',
          key: (key) => (POOL_PATTERN.test(key) ? undefined : 'must be "*" or "instanceType/availabilityZone" (either side may be *)'),
        }).optional(),
        onDemand: ownRecord(z.number({ error: 'must be a price in USD per hour' }).positive({ error: 'must be a price > 0 in USD per hour' }).max(1000, { error: 'must be at most 1000 USD per hour' }), {
          error: 'must map instance types ("c5.large") to USD per hour',
          key: (key) => (/^[a-z][a-z0-9-]*\.[a-z0-9-]+$/.test(key) ? undefined : 'must be an instance type, e.g. c5.large'),
        }).optional(),
      })
      .strict()
      .optional(),
    /** v2: pools with no on-demand capacity either (an on-demand launch there is refused InsufficientInstanceCapacity). */
    onDemandUnavailable: z
      .array(z.string().regex(POOL_PATTERN, { error: 'must be "*" or "instanceType/availabilityZone" (either side may be *)' }), { error: 'must be a list of pools like "g5.xlarge/*"' })
      .optional(),
    /** Extension: commands the instances lack (the runner checks a phase's declared `tools`). */
    toolsMissing: z.array(z.string({ error: 'must be a command name' }).regex(/^[A-Za-z0-9._+-]{1,64}$/, { error: 'must be a command name' }), { error: 'must be a list of command names' }).optional(),
    /**
     * Extension: detail-types of the events the account sends to EventBridge (services/events.ts) that
     * never arrive, as AWS delivers them on a best-effort basis.
     */
    lostEvents: z
      .array(z.enum(EMITTED_DETAIL_TYPES, { error: `must be one of: ${EMITTED_DETAIL_TYPES.map((t) => `"${t}"`).join(', ')}` }), { error: 'must be a list of event detail-types' })
      .optional(),
    /** Extension: secret sources (as the config names them, e.g. "ssm:/alpha/db-password") the instance cannot read. */
    secretsUnavailable: z.array(z.string({ error: 'must be a string like "ssm:/name"' }).regex(/^(ssm|secretsmanager):.+$/, { error: 'must look like "ssm:/name" or "secretsmanager:name"' }), { error: 'must be a list of secret sources' }).optional(),
  })
  .strict()
  .superRefine((scenario, ctx) => {
    if (scenario.allowUnknownCodes) return;
    const plans = Object.entries(scenario.phases ?? {}).flatMap(([phase, plan]) => [
      { path: ['phases', phase], plan },
      ...Object.entries(plan.shards ?? {}).map(([shard, shardPlan]) => ({ path: ['phases', phase, 'shards', shard], plan: shardPlan })),
    ]);
    for (const { path: at, plan } of plans) {
      (plan.attempts ?? []).forEach((attempt, i) => {
        if (typeof attempt.spotStatus === 'string' && !SPOT_REQUEST_STATUS_CODES.includes(attempt.spotStatus)) {
          ctx.addIssue({
            code: 'custom',
            path: [...at, 'attempts', i, 'spotStatus'],
            message: `"${attempt.spotStatus}" is not a spot request status code EC2 documents (e.g. instance-terminated-no-capacity, marked-for-termination); set "allowUnknownCodes": true to use it anyway`,
          });
        }
        if (typeof attempt.stateReason === 'string' && !STATE_REASON_CODES.includes(attempt.stateReason)) {
          ctx.addIssue({
            code: 'custom',
            path: [...at, 'attempts', i, 'stateReason'],
            message: `"${attempt.stateReason}" is not a StateReason code EC2 documents (e.g. Server.SpotInstanceTermination); set "allowUnknownCodes": true to use it anyway`,
          });
        }
      });
    }
  });
export type Scenario = z.output<typeof scenarioSchema>;

/** A scenario that cannot be run; the message names the offending field. */
export class ScenarioError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScenarioError';
  }
}

export function parseScenario(raw: unknown, source = 'scenario'): Scenario {
  const result = scenarioSchema.safeParse(raw);
  if (!result.success) throw new ScenarioError(`Invalid ${source}:\n${formatIssues(result.error)}`);
  return result.data;
}

export function loadScenario(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ScenarioError(`Cannot read scenario ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ScenarioError(`Scenario ${path} is not valid JSON: ${(err as Error).message}`);
  }
  return parseScenario(raw, `scenario ${path}`);
}

/** Scenario phases must be phases of the pipeline (own keys only: `__proto__` or `constructor` is no phase). */
export function checkScenarioPhases(scenario: Scenario, phaseNames: readonly string[]): void {
  const unknown = Object.keys(scenario.phases ?? {}).filter((n) => !phaseNames.includes(n));
  if (unknown.length > 0) {
    throw new ScenarioError(
      `Invalid scenario:\n${unknown.map((n) => `${formatPath(['phases', n])}: no such phase in the pipeline config (phases: ${phaseNames.join(', ')})`).join('\n')}`,
    );
  }
}

/** Scenario shard plans must name shards of a sharded phase (`shards` of each phase, undefined for an unsharded one). */
export function checkScenarioShards(scenario: Scenario, shardsOf: (phase: string) => readonly string[] | undefined): void {
  const problems = Object.entries(scenario.phases ?? {}).flatMap(([phase, plan]) => {
    const names = shardsOf(phase);
    return Object.keys(plan.shards ?? {})
      .filter((shard) => !names?.includes(shard))
      .map((shard) => `${formatPath(['phases', phase, 'shards', shard])}: ${names ? `no such shard of ${phase} (shards: ${names.join(', ')})` : `${phase} is not a sharded phase (its config names no shards)`}`);
  });
  if (problems.length > 0) throw new ScenarioError(`Invalid scenario:\n${problems.join('\n')}`);
}

/** Scenario artifacts must be artifacts of the pipeline: `code` when a phase has a code directory. */
export function checkScenarioArtifacts(scenario: Scenario, artifactNames: readonly string[]): void {
  const unknown = Object.keys(scenario.artifacts ?? {}).filter((n) => !artifactNames.includes(n));
  if (unknown.length > 0) {
    throw new ScenarioError(
      `Invalid scenario:\n${unknown.map((n) => `${formatPath(['artifacts', n])}: no such artifact in the pipeline config (artifacts: ${artifactNames.length > 0 ? artifactNames.join(', ') : 'none'})`).join('\n')}`,
    );
  }
}

/** Scenario production must name gates of the pipeline. */
export function checkScenarioGates(scenario: Scenario, gateNames: readonly string[]): void {
  const unknown = Object.keys(scenario.production ?? {}).filter((n) => !gateNames.includes(n));
  if (unknown.length > 0) {
    throw new ScenarioError(
      `Invalid scenario:\n${unknown.map((n) => `${formatPath(['production', n])}: no such gate in the pipeline config (gates: ${gateNames.length > 0 ? gateNames.join(', ') : 'none'})`).join('\n')}`,
    );
  }
}

/** Scenario lostResponses must name handlers the template deploys. */
export function checkScenarioHandlers(scenario: Scenario, deployedHandlers: readonly string[]): void {
  const unknown = Object.keys(scenario.lostResponses ?? {}).filter((n) => !deployedHandlers.includes(n));
  if (unknown.length > 0) {
    throw new ScenarioError(
      `Invalid scenario:\n${unknown.map((n) => `${formatPath(['lostResponses', n])}: no such handler deployed by the stack (handlers: ${[...deployedHandlers].sort().join(', ')})`).join('\n')}`,
    );
  }
}

/** Does a pool "c5.large/us-east-1a" match a pattern like "c5.large/*", "*\/us-east-1a" or "*"? */
export function poolMatches(pattern: string, pool: string): boolean {
  if (pattern === '*') return true;
  const [pt, pz] = pattern.split('/') as [string, string];
  const [t, z2] = pool.split('/') as [string, string];
  return (pt === '*' || pt === t) && (pz === '*' || pz === z2);
}
