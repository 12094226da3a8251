/**
 * Chaos: seeded random scenarios against a few small pipelines (a sequential phase then a
 * parallel group; one 1x1 pool with tiny margins and a three-phase group), each checked against
 * every invariant and the oracles the scenario itself implies. The generator combines faults:
 * spot interruptions (during the workload and during boot), capacity exhaustion, account quotas,
 * hangs, exit codes (137 included), output on stderr, lost task responses on every handler,
 * throttling on every simulated API, operator aborts at any minute and redrives after any ending.
 * A failure prints its seed, the scenario and the config, and how to replay it:
 *
 *   CHAOS_SEED=<seed> CHAOS_COUNT=1 npx vitest run test/simulator/chaos.test.ts
 *
 * CHAOS_SEED sets the first seed (case i uses seed CHAOS_SEED + i), CHAOS_COUNT the number of
 * cases (default 200, to keep `npm test` well within three minutes on two cores; `npm run chaos` runs 5,000).
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePipelineConfig } from '../../lib/config/load';
import { allPhases, shardNames, type PipelineConfig, type PipelineConfigInput } from '../../contract/config';
import { LAUNCH_QUOTA_ERROR_CODES, SPOT_INTERRUPTION_STATUS_CODES, SPOT_INTERRUPTION_STATE_REASONS } from '../../contract/aws-codes';
import { buildReport, type SimulationReport } from '../../simulator/report';
import { runSimulation } from '../../simulator/run';
import { parseScenario } from '../../simulator/scenario';
import { SERVICES } from '../../simulator/services';
import { EMITTED_DETAIL_TYPES } from '../../simulator/services/event-types';
import { synthDeployment, type SimDeployment } from '../../simulator/synth';
import { reportShapeProblems, runProblems } from './report-checks';

const BASE_SEED = Number(process.env.CHAOS_SEED ?? 20260530);
const COUNT = Number(process.env.CHAOS_COUNT ?? 200);

const TYPES = ['c5.large', 'c5a.large', 'm5.large'];
const ZONES = ['us-east-1a', 'us-east-1b', 'us-east-1c'];
const METRIC_NAMESPACE = 'ChaosTest';

const phase = (name: string, budgetSeconds: number, attemptSeconds: number, extra: Record<string, unknown> = {}) => ({
  name,
  workloadCommand: `/opt/chaos/${name.toLowerCase()}.sh`,
  instanceTypes: TYPES,
  budgetSeconds,
  attemptSeconds,
  bootTimeoutSeconds: 300,
  silenceTimeoutSeconds: 600,
  ...extra,
});

/** Small budgets keep each case's virtual time (and so its real time) short. */
const CONFIGS: Record<string, PipelineConfigInput> = {
  /** A phase, then two side by side (Beta launches by rotation, Gamma falls back to on-demand); three types in the stack's subnets; unhurried polls. */
  compact: {
    pipelineName: 'chaos-pipeline',
    metricNamespace: METRIC_NAMESPACE,
    phases: [phase('Alpha', 3600, 1200, { pollIntervalSeconds: 120 }), { parallel: [phase('Beta', 2400, 900, { pollIntervalSeconds: 90, allocation: 'rotation' }), phase('Gamma', 3600, 1200, { pollIntervalSeconds: 120, onDemandFallback: true })] }],
  },
  /** One pool (one type, one subnet), the smallest cleanup margin, quick polls and no backoff; then three side by side. */
  tiny: {
    pipelineName: 'chaos-tiny',
    metricNamespace: METRIC_NAMESPACE,
    cleanupMarginSeconds: 60,
    vpcId: 'vpc-0c0ffee0c0ffee000',
    subnetIds: ['subnet-0c0ffee0c0ffee001'],
    phases: [
      phase('Solo', 1500, 600, { instanceTypes: ['c5.large'], pollIntervalSeconds: 20, relaunchBackoffSeconds: 0, bootTimeoutSeconds: 240, silenceTimeoutSeconds: 300 }),
      { parallel: [phase('One', 1800, 700, { instanceTypes: ['c5.large', 'm5.large'] }), phase('Two', 1500, 600, { maxAttempts: 2, relaunchBackoffSeconds: 30 }), phase('Three', 2400, 900, { relaunchBackoffSeconds: 5 })] },
    ],
  },
  /** Shards: three named, two at a time, one tolerated; then a group of two counted shards beside a plain phase. */
  sharded: {
    pipelineName: 'chaos-shards',
    metricNamespace: METRIC_NAMESPACE,
    phases: [
      phase('Fan', 1800, 700, { shards: ['a', 'b', 'c'], maxConcurrency: 2, toleratedFailures: 1, pollIntervalSeconds: 60 }),
      { parallel: [phase('Wide', 1500, 600, { shards: 2, relaunchBackoffSeconds: 10 }), phase('Plain', 1500, 600, { instanceTypes: ['c5.large'] })] },
    ],
  },
};

/** The handlers a scenario may lose responses of: every one the chaos configs deploy (lambdas/*.ts; they have no build or gate stage; shard-verdict only with shards). */
const HANDLERS = readdirSync(path.join(__dirname, '../../lambdas'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.slice(0, -3))
  .filter((h) => h !== 'check-artifact' && h !== 'promotion-gate');
const handlersOf = (config: string) => HANDLERS.filter((h) => h !== 'shard-verdict' || config === 'sharded');
/** Every simulated API, "Service.Operation". */
const APIS = Object.entries(SERVICES).flatMap(([service, ops]) => Object.keys(ops).map((op) => `${service}.${op}`));

const SPOT_CODES = ['instance-terminated-no-capacity', 'instance-terminated-by-price', 'marked-for-termination', 'instance-terminated-capacity-oversubscribed', 'marked-for-stop'];
const STATE_REASONS = ['Server.SpotInstanceTermination', 'Server.InsufficientInstanceCapacity', 'Client.UserInitiatedShutdown'];
const CAPACITY_ERRORS = ['InsufficientInstanceCapacity', 'InsufficientCapacity', 'UnfulfillableCapacity', 'SpotMaxPriceTooLow', 'MaxSpotInstanceCountExceeded'];
const QUOTA_ERRORS: ReadonlySet<string> = new Set(Object.keys(LAUNCH_QUOTA_ERROR_CODES));

/** mulberry32: a tiny deterministic PRNG, uniform in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A whole zone out of capacity, as the contract writes it. */
const zoneDown = (zone: string): string[] => [`*/${zone}`];

type Attempt = {
  unavailable?: string[];
  capacityError?: string;
  interruptAtMinute?: number;
  interruptAfterLaunchMinutes?: number;
  spotStatus?: string | null;
  stateReason?: string | null;
  exitCode?: number;
  hang?: boolean;
};
type ShardPlan = { workloadMinutes?: number; exitCode?: number; attempts?: Attempt[] };
type PhasePlan = { workloadMinutes?: number; exitCode?: number; output?: 'stdout' | 'stderr' | 'both'; checkpointEveryMinutes?: number; attempts?: Attempt[]; shards?: Record<string, ShardPlan> };
type ChaosScenario = {
  name: string;
  config: string;
  mode?: 'preflight';
  bootMinutes?: number;
  abortAtMinute?: number;
  redriveAfterMinutes?: number;
  lostResponses?: Record<string, number>;
  lostEvents?: string[];
  throttle?: Record<string, number>;
  phases: Record<string, PhasePlan>;
};

function chaosScenario(seed: number, configPaths: Record<string, string>): ChaosScenario {
  const rand = mulberry32(seed);
  const chance = (p: number) => rand() < p;
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const some = <T>(xs: readonly T[], most: number): T[] => [...new Set(Array.from({ length: int(1, most) }, () => pick(xs)))];

  const configName = pick(Object.keys(CONFIGS));
  const scenario: ChaosScenario = { name: `chaos seed ${seed}`, config: configPaths[configName]!, phases: {} };
  if (chance(0.05)) scenario.mode = 'preflight';
  if (chance(0.04)) scenario.bootMinutes = pick([1, 3, 6]); // 6 > bootTimeoutSeconds 300: boot timeout
  if (chance(0.1)) scenario.abortAtMinute = chance(0.5) ? int(0, 120) : Math.round(rand() * 2400) / 20;
  if (chance(0.2)) scenario.redriveAfterMinutes = pick([0.5, 5, 90, 600]); // long delays (up to the 14 days AWS allows): clock.test.ts
  if (chance(0.3)) scenario.lostResponses = Object.fromEntries(some(handlersOf(configName), 3).map((h) => [h, int(1, 3)]));
  if (chance(0.35)) scenario.throttle = Object.fromEntries(some(APIS, 3).map((api) => [api, pick([1, 2, 3, 5, 7, 12])]));
  // EventBridge delivers EC2's and SSM's events best effort: some kinds never arrive.
  if (chance(0.15)) scenario.lostEvents = some(EMITTED_DETAIL_TYPES, 3);

  /** A list of launch attempts for a workload of this length: interruptions, capacity, hangs and exits, combined. */
  const attemptsFor = (workloadMinutes: number): Attempt[] => {
    const attempts: Attempt[] = [];
    for (let n = pick([0, 0, 1, 1, 2, 3, 4, 6]); n > 0; n--) {
      const a: Attempt = {};
      const roll = rand();
      const interrupt = () => {
        const roll2 = rand();
        if (roll2 < 0.12) a.interruptAfterLaunchMinutes = pick([0, 0.5, 1, 1.5, 2, 3]); // during boot, or just after
        else {
          a.interruptAtMinute =
            roll2 < 0.27
              ? Math.max(0, workloadMinutes + pick([-1, -0.5, 0, 0.5])) // right around the moment the workload finishes
              : roll2 < 0.45
                ? Math.round(rand() * workloadMinutes * 2) / 2
                : int(0, Math.ceil(workloadMinutes) + 2);
        }
        if (chance(0.5)) a.spotStatus = chance(0.25) ? null : pick(SPOT_CODES);
        if (chance(0.3)) a.stateReason = chance(0.25) ? null : pick(STATE_REASONS);
      };
      if (roll < 0.45) interrupt();
      else if (roll < 0.7) {
        a.unavailable = pick([['*'], ['c5.large/*'], zoneDown(pick(ZONES)), ['c5.large/*', 'c5a.large/*'], [...zoneDown('us-east-1a'), 'm5.large/*']]);
        if (chance(0.3)) {
          a.capacityError = pick(CAPACITY_ERRORS);
          // An account quota refuses a launch whatever the pool: every pool answers it.
          if (QUOTA_ERRORS.has(a.capacityError)) a.unavailable = ['*'];
        }
        if (chance(0.3)) interrupt();
      } else if (roll < 0.76) {
        a.hang = true;
        if (chance(0.3)) interrupt();
      } else if (roll < 0.84) {
        a.exitCode = chance(0.25) ? 137 : int(1, 3);
        if (chance(0.3)) interrupt(); // the exit and the notice race: what happened first decides
      }
      attempts.push(a);
    }
    return attempts;
  };

  for (const p of allPhases(parsePipelineConfig(CONFIGS[configName]!))) {
    if (chance(0.15)) continue; // defaults: a 30-minute clean workload
    const workloadMinutes = chance(0.08) ? int(25, 45) : chance(0.1) ? Math.round(rand() * 140) / 10 + 0.1 : int(1, 14);
    const plan: PhasePlan = { workloadMinutes };
    if (chance(0.08)) plan.exitCode = chance(0.3) ? 137 : int(1, 255);
    if (chance(0.2)) plan.output = pick(['stderr', 'both'] as const);
    if (chance(0.3)) plan.checkpointEveryMinutes = pick([0.5, 1, 2, 5, 10, 30]);
    const attempts = attemptsFor(workloadMinutes);
    if (attempts.length > 0) plan.attempts = attempts;
    // A sharded phase: some shards with plans of their own (a failing one, an interrupted one).
    const shards = shardNames(p) ?? [];
    for (const shard of shards) {
      if (!chance(0.4)) continue;
      const own: ShardPlan = {};
      if (chance(0.3)) own.workloadMinutes = int(1, 14);
      if (chance(0.35)) own.exitCode = chance(0.3) ? 137 : int(1, 3);
      const ownAttempts = attemptsFor(own.workloadMinutes ?? workloadMinutes);
      if (ownAttempts.length > 0) own.attempts = ownAttempts;
      plan.shards = { ...plan.shards, [shard]: own };
    }
    scenario.phases[p.name] = plan;
  }
  return scenario;
}

function poolMatches(pattern: string, pool: string): boolean {
  if (pattern === '*') return true;
  const [pt, pz] = pattern.split('/');
  const [t, z] = pool.split('/');
  return (pt === '*' || pt === t) && (pz === '*' || pz === z);
}

/** The interruption reason the pipeline must report for an attempt the scenario reclaims. */
function expectedReason(a: Attempt): string | undefined {
  const spot = a.spotStatus === undefined ? 'instance-terminated-no-capacity' : a.spotStatus;
  if (spot !== null && (SPOT_INTERRUPTION_STATUS_CODES as readonly string[]).includes(spot)) return spot;
  const reason = a.stateReason === undefined ? 'Server.SpotInstanceTermination' : a.stateReason;
  return reason !== null && (SPOT_INTERRUPTION_STATE_REASONS as readonly string[]).includes(reason) ? reason : undefined;
}

/**
 * A fleet relaunch after spot reclaimed an instance never goes back into that pool, unless the phase
 * has only that one (judged from the simulated EC2's launches: consecutive spot launches of one
 * phase execution).
 */
function relaunchPoolProblems(report: SimulationReport, config: PipelineConfig): string[] {
  const problems: string[] = [];
  for (const p of allPhases(config)) {
    const pools = p.instanceTypes.length * (p.subnetIds ?? config.subnetIds ?? ['a', 'b']).length;
    if ((p.allocation ?? config.allocation) !== 'price-capacity-optimized' || pools < 2) continue;
    const launches = report.phases.find((r) => r.name === p.name)?.launches ?? [];
    launches.forEach((l, i) => {
      const next = launches[i + 1];
      if (l.outcome !== 'interrupted' || !l.pool || !next?.pool || next.execution !== l.execution || next.shard !== l.shard || next.attempt !== l.attempt + 1) return;
      if (next.pool === l.pool) problems.push(`${p.name}${l.shard === undefined ? '' : `[${l.shard}]`} attempt ${next.attempt}: relaunched into ${next.pool}, the pool spot had just reclaimed`);
    });
  }
  return problems;
}

/** What the scenario itself implies about the report, beyond the invariants. */
function oracleProblems(scenario: ChaosScenario, report: SimulationReport, stages: string[][]): string[] {
  const problems: string[] = [];
  const aborted = scenario.abortAtMinute !== undefined;
  if (!['SUCCEEDED', 'FAILED', ...(aborted ? ['ABORTED'] : [])].includes(report.status)) problems.push(`pipeline ended ${report.status}`);
  const status = (name: string) => report.phases.find((p) => p.name === name)?.status;
  stages.forEach((stage, k) => {
    if (stage.some((n) => status(n) === 'FAILED')) {
      const ranLater = stages.slice(k + 1).flat().filter((n) => status(n) !== 'NOT_RUN');
      if (ranLater.length > 0) problems.push(`stage ${k + 1} failed, yet ${ranLater.join(', ')} ran after it`);
    }
  });
  if (!aborted && stages[0]!.some((n) => status(n) === 'NOT_RUN')) problems.push('the first stage did not run');
  if (scenario.mode === 'preflight' && report.workloadsRun !== 0) problems.push(`preflight ran ${report.workloadsRun} workload(s)`);

  // Each shard of a sharded phase is its own job: its launches follow its own plan (its shard plan's attempts, else the phase's).
  const jobs = report.phases.flatMap((p) =>
    [...new Set(p.launches.map((l) => l.shard))].map((shard) => ({
      p,
      name: shard === undefined ? p.name : `${p.name}[${shard}]`,
      launches: p.launches.filter((l) => l.shard === shard),
      plans: (shard === undefined ? undefined : scenario.phases[p.name]?.shards?.[shard]?.attempts) ?? scenario.phases[p.name]?.attempts ?? [],
    })),
  );
  for (const p of report.phases) if (p.workLostSeconds < 0) problems.push(`${p.name}: negative work lost`);
  // Shards: a failing shard never stops its siblings (only an abort, or a failed branch beside a
  // sharded phase in a parallel group, may), and a redrive never runs a shard that had succeeded.
  const alone = new Set(stages.filter((stage) => stage.length === 1).flat());
  for (const p of report.phases) {
    for (const sh of p.shards ?? []) {
      const runs = sh.executions.map((e) => p.runs.find((r) => r.execution === e)!);
      if (!aborted && alone.has(p.name) && runs.some((r) => r.status === 'ABORTED')) problems.push(`${p.name}[${sh.name}]: stopped (ABORTED) though nothing but its siblings could have stopped it`);
      runs.slice(0, -1).forEach((r) => {
        if (r.status === 'SUCCEEDED') problems.push(`${p.name}[${sh.name}]: run again after its execution ${r.execution} had succeeded`);
      });
    }
  }
  for (const { p, name, launches, plans } of jobs) {
    // A workload that checkpoints never goes back: each attempt resumes from at least where the one before did.
    const resumed = launches.map((l) => l.resumedFromSeconds).filter((r): r is number => r !== null);
    resumed.forEach((r, i) => {
      if (i > 0 && r < resumed[i - 1]!) problems.push(`${name}: an attempt resumed from ${r} s, after one that had resumed from ${resumed[i - 1]} s`);
    });
    if (!scenario.phases[p.name]?.checkpointEveryMinutes && resumed.some((r) => r > 0)) problems.push(`${name}: resumed from a checkpoint, though its workload keeps none`);
    launches.forEach((l, i) => {
      const plan = plans[i] ?? {};
      const at = `${name} attempt ${i + 1} (plan ${JSON.stringify(plan)})`;
      // An on-demand attempt (a phase's fallback) meets none of spot's faults the plan holds.
      if (l.market === 'on-demand') {
        if (l.outcome === 'interrupted' || l.outcome === 'capacity-exhausted') problems.push(`${at}: on-demand, yet ${l.outcome}`);
        return;
      }
      if (l.pool && (plan.unavailable ?? []).some((pattern) => poolMatches(pattern, l.pool!))) problems.push(`${at}: launched in unavailable pool ${l.pool}`);
      if (plan.unavailable?.includes('*') && l.pool !== null) problems.push(`${at}: every pool unavailable, yet launched in ${l.pool}`);
      if (l.outcome === 'capacity-exhausted' && !plan.unavailable) problems.push(`${at}: capacity-exhausted, though every pool had capacity`);
      const quota = plan.capacityError !== undefined && QUOTA_ERRORS.has(plan.capacityError);
      if (quota && l.cloud.refusals.length > 0 && (l.outcome !== 'failed' || l.reason !== 'quota')) problems.push(`${at}: an account quota refused the launch, yet it ended ${l.outcome} (${String(l.reason)})`);
      if (l.outcome === 'interrupted') {
        if (plan.interruptAtMinute === undefined && plan.interruptAfterLaunchMinutes === undefined) problems.push(`${at}: interrupted, though the scenario never reclaims it`);
        else if (l.reason !== expectedReason(plan)) problems.push(`${at}: interrupted with reason ${String(l.reason)}, expected ${String(expectedReason(plan))}`);
      }
      if (l.outcome === 'hung' && !plan.hang) problems.push(`${at}: hung, though its workload prints every minute`);
      // What the workload really did decides the label: its own non-zero exit is a failure, never an interruption.
      // (Unless the phase was stopped, by an abort or a sibling's failure, before a poll could read the exit.)
      if (l.cloud.workload === 'exited' && l.outcome !== 'failed' && l.outcome !== 'aborted') problems.push(`${at}: the workload exited non-zero by itself, yet the attempt ended ${l.outcome}`);
      if (l.cloud.workload === 'exited' && l.outcome === 'failed' && !['exit-code', 'killed'].includes(l.reason ?? '')) problems.push(`${at}: a workload exit reported as ${String(l.reason)}`);
    });
  }
  return problems;
}

describe(`chaos: ${COUNT} seeded scenarios from seed ${BASE_SEED}`, () => {
  let dir: string;
  const configPaths: Record<string, string> = {};
  const templates: Record<string, SimDeployment> = {};
  /** Each config's stages, as phase names. */
  const stagesOf: Record<string, string[][]> = {};
  /** What the cases ended with, to check the generator reaches the interesting endings. */
  const coverage = new Set<string>();

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sim-chaos-'));
    for (const [name, config] of Object.entries(CONFIGS)) {
      const file = path.join(dir, `${name}.json`);
      writeFileSync(file, JSON.stringify(config, null, 2));
      configPaths[name] = file;
      const parsed = parsePipelineConfig(config);
      templates[file] = synthDeployment(parsed);
      stagesOf[file] = parsed.phases.map((stage) => (stage.kind === 'parallel' ? stage.parallel.map((p) => p.name) : [stage.name]));
    }
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('generates the same scenario from the same seed, and scenarios the simulator accepts', () => {
    const paths = { compact: '/c.json', tiny: '/t.json', sharded: '/s.json' };
    expect(chaosScenario(BASE_SEED, paths)).toEqual(chaosScenario(BASE_SEED, paths));
    expect(chaosScenario(BASE_SEED, paths)).not.toEqual(chaosScenario(BASE_SEED + 1, paths));
    for (let i = 0; i < COUNT; i++) expect(() => parseScenario(chaosScenario(BASE_SEED + i, configPaths))).not.toThrow();
  });

  for (let i = 0; i < COUNT; i++) {
    const seed = BASE_SEED + i;
    it(`seed ${seed}`, async () => {
      const scenario = chaosScenario(seed, configPaths);
      const config = Object.entries(configPaths).find(([, p]) => p === scenario.config)![0];
      const replay = [
        `chaos seed ${seed} (case ${i} from CHAOS_SEED=${BASE_SEED})`,
        `replay: CHAOS_SEED=${seed} CHAOS_COUNT=1 npx vitest run test/simulator/chaos.test.ts`,
        `scenario: ${JSON.stringify(scenario)}`,
        `pipeline config ${config} (${scenario.config}): ${JSON.stringify(CONFIGS[config])}`,
      ].join('\n');
      let report: SimulationReport;
      try {
        report = buildReport(await runSimulation(parseScenario(scenario), { deployment: templates[scenario.config] }));
      } catch (err) {
        throw new Error(`${replay}\nthe simulation threw: ${(err as Error).stack ?? String(err)}`);
      }
      const throttlesEc2 = Object.keys(scenario.throttle ?? {}).some((api) => api.startsWith('EC2.'));
      const problems = [
        ...reportShapeProblems(JSON.parse(JSON.stringify(report))),
        ...runProblems(report, METRIC_NAMESPACE, { reaperMayAct: throttlesEc2, exhaustedDatumMayDrop: (scenario.throttle?.['CloudWatch.PutMetricData'] ?? 0) >= 3 }),
        ...oracleProblems(scenario, report, stagesOf[scenario.config]!),
        ...relaunchPoolProblems(report, parsePipelineConfig(CONFIGS[config]!)),
      ];
      coverage.add(`status ${report.status}`);
      coverage.add(`config ${config}`);
      for (const p of report.phases) {
        if (p.error) coverage.add(`phase error ${p.error}`);
        for (const l of p.launches) coverage.add(`outcome ${l.outcome}${l.reason === 'killed' ? ' killed' : ''}`);
        if (p.relaunches > 1) coverage.add('several relaunches in one phase');
        if (p.shards ? p.shards.some((sh) => sh.executions.length > 1) : p.runs.length > 1) coverage.add('a phase run again by a redrive');
        if (p.shards?.some((sh) => sh.status === 'FAILED') && p.shards.some((sh) => sh.status === 'SUCCEEDED')) coverage.add('a shard failed beside shards that succeeded');
        if (p.shards && p.status === 'SUCCEEDED' && p.shards.some((sh) => sh.status === 'FAILED')) coverage.add('a sharded phase succeeded with a tolerated failure');
        if (p.launches.some((l) => l.market === 'on-demand' && l.outcome === 'succeeded')) coverage.add('an on-demand fallback finished a phase');
      }
      if (scenario.lostResponses) coverage.add('lost responses');
      if (scenario.lostEvents) coverage.add('lost events');
      if (report.phases.some((p) => p.launches.some((l) => (l.resumedFromSeconds ?? 0) > 0))) coverage.add('resumed from a checkpoint');
      if (scenario.throttle) coverage.add('throttling');
      if (report.metrics.some((m) => m.name === 'SpotInterruptionRetry')) coverage.add('metric put');
      expect(problems, `${replay}\nreport phases: ${JSON.stringify(report.phases)}\nmetrics: ${JSON.stringify(report.metrics)}`).toEqual([]);
    });
  }

  it('covered the interesting endings', () => {
    console.info(`chaos coverage: ${[...coverage].sort().join('; ')}`);
    if (COUNT < 200) return;
    for (const want of [
      'status SUCCEEDED',
      'status FAILED',
      'status ABORTED',
      'config compact',
      'config tiny',
      'config sharded',
      'a shard failed beside shards that succeeded',
      'a sharded phase succeeded with a tolerated failure',
      'an on-demand fallback finished a phase',
      'phase error WorkloadFailed',
      'phase error SpotRetryBudgetExhausted',
      'phase error WorkloadHung',
      'phase error AccountQuotaExceeded',
      'outcome interrupted',
      'outcome capacity-exhausted',
      'outcome failed killed',
      'several relaunches in one phase',
      'a phase run again by a redrive',
      'lost responses',
      'lost events',
      'throttling',
      'resumed from a checkpoint',
      'metric put',
    ]) {
      expect([...coverage], want).toContain(want);
    }
  });

  // Step Functions stops a .sync:2 child whose task the Parallel abandons; the execution-cleanup rule
  // then terminates the stopped phase's instance.
  it('a failing parallel phase stops its sibling, and the sibling leaves no instance running', async () => {
    const scenario = parseScenario({
      name: 'Beta fails fast while Gamma runs',
      config: configPaths.compact,
      phases: { Beta: { workloadMinutes: 2, exitCode: 1 }, Gamma: { workloadMinutes: 14 } },
    });
    const sim = await runSimulation(scenario, { deployment: templates[configPaths.compact!] });
    expect(sim.pipeline.status).toBe('FAILED');
    const stoppedAt = sim.pipeline.stoppedAt!;
    const outlived = sim.stepFunctions.executions.filter((e) => e.stoppedAt === undefined || e.stoppedAt > stoppedAt).map((e) => e.name);
    expect(outlived, 'phase executions still running after the pipeline stopped').toEqual([]);
    expect(sim.cloud.runningInstances(sim.endedAt).map((i) => i.phase)).toEqual([]);
  });
});
