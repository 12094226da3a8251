/**
 * The scenario file of the simulator contract (shared/simulator-contract.md): what the
 * simulated cloud does to each phase and launch attempt. Validated before anything runs.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { formatIssues } from '../contract/config';

const minutes = (what: string) => z.number({ error: `must be a number >= 0 (${what})` }).min(0, { error: 'must be a number >= 0' });

const POOL_PATTERN = /^(\*|(\*|[a-z0-9][a-z0-9.-]*)\/(\*|[a-z0-9-]+))$/;

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
    spotStatus: z.string().min(1).nullable().optional(),
    stateReason: z.string().min(1).nullable().optional(),
    exitCode: z.number().int({ error: 'must be a whole number 0-255' }).min(0).max(255, { error: 'must be a whole number 0-255' }).optional(),
    hang: z.boolean({ error: 'must be true or false' }).optional(),
  })
  .strict();
export type AttemptPlan = z.output<typeof attemptPlanSchema>;

export const phasePlanSchema = z
  .object({
    workloadMinutes: z.number({ error: 'must be a number > 0' }).positive({ error: 'must be a number > 0' }).optional(),
    exitCode: z.number().int({ error: 'must be a whole number 0-255' }).min(0).max(255, { error: 'must be a whole number 0-255' }).optional(),
    attempts: z.array(attemptPlanSchema, { error: 'must be a list of attempt objects' }).max(50).optional(),
  })
  .strict();
export type PhasePlan = z.output<typeof phasePlanSchema>;

export const scenarioSchema = z
  .object({
    name: z.string({ error: 'must be a string' }).max(200).optional(),
    mode: z.enum(['full', 'preflight'], { error: 'must be "full" or "preflight"' }).optional(),
    input: z.unknown().optional(),
    abortAtMinute: minutes('virtual minutes after the execution started').optional(),
    config: z.string({ error: 'must be a path to a pipeline config JSON file' }).min(1).optional(),
    /** Extension: the first N invocations of a handler (by file name, e.g. "launch-instance") do their work, then lose their response (Lambda.ServiceException). */
    lostResponses: z.record(z.string().regex(/^[a-z][a-z-]*$/, { error: 'must be a handler file name like "launch-instance"' }), z.number().int().min(0).max(100)).optional(),
    /** Extension: the first N calls of an API ("Service.Operation", e.g. "EC2.RunInstances") are throttled. */
    throttle: z.record(z.string().regex(/^(EC2|SSM|CloudWatch|CloudWatchLogs|SFN)\.[A-Za-z]+$/, { error: 'must be "Service.Operation", e.g. "SSM.GetCommandInvocation"' }), z.number().int().min(0).max(1000)).optional(),
    /** Extension: when the execution does not succeed, an operator redrives it this many minutes later. */
    redriveAfterMinutes: minutes('virtual minutes after the execution ended').optional(),
    /** Extension: minutes from launch until the SSM agent is online (default 2). */
    bootMinutes: z.number({ error: 'must be a number > 0' }).positive({ error: 'must be a number > 0' }).optional(),
    /** Extension: minutes a preflight command runs (default 1). */
    preflightMinutes: z.number({ error: 'must be a number > 0' }).positive({ error: 'must be a number > 0' }).optional(),
    phases: z.record(z.string(), phasePlanSchema, { error: 'must map phase names to phase plans' }).optional(),
  })
  .strict();
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

/** Scenario phases must be phases of the pipeline. */
export function checkScenarioPhases(scenario: Scenario, phaseNames: readonly string[]): void {
  const unknown = Object.keys(scenario.phases ?? {}).filter((n) => !phaseNames.includes(n));
  if (unknown.length > 0) {
    throw new ScenarioError(
      `Invalid scenario:\n${unknown.map((n) => `phases.${n}: no such phase in the pipeline config (phases: ${phaseNames.join(', ')})`).join('\n')}`,
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
