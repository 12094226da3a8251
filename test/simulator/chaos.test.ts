/**
 * Chaos: hundreds of seeded random scenarios against a compact pipeline (Alpha, then Beta and
 * Gamma side by side), each checked against every invariant and a few oracles the scenario
 * itself implies. A failure prints its seed, the scenario and the config, and how to replay it:
 *
 *   CHAOS_SEED=<seed> CHAOS_COUNT=1 npx vitest run test/simulator/chaos.test.ts
 *
 * CHAOS_SEED sets the first seed (case i uses seed CHAOS_SEED + i), CHAOS_COUNT the number of
 * cases (default 200). Abort (abortAtMinute) is not used: abort cleanup is a later feature.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePipelineConfig } from '../../lib/config/load';
import type { PipelineConfigInput } from '../../contract/config';
import { SPOT_INTERRUPTION_STATUS_CODES, SPOT_INTERRUPTION_STATE_REASONS } from '../../contract/aws-codes';
import { buildReport, type SimulationReport } from '../../simulator/report';
import { runSimulation } from '../../simulator/run';
import { parseScenario } from '../../simulator/scenario';
import { synthTemplate } from '../../simulator/synth';
import type { CfnTemplate } from '../../simulator/template';
import { reportShapeProblems, runProblems } from './report-checks';


const BASE_SEED = Number(process.env.CHAOS_SEED ?? 20260530);
const COUNT = Number(process.env.CHAOS_COUNT ?? 200);

const TYPES = ['c5.large', 'c5a.large', 'm5.large'];
const ZONES = ['us-east-1a', 'us-east-1b', 'us-east-1c'];
const METRIC_NAMESPACE = 'ChaosTest';

const phase = (name: string, budgetSeconds: number, attemptSeconds: number) => ({
  name,
  workloadCommand: `/opt/chaos/${name.toLowerCase()}.sh`,
  instanceTypes: TYPES,
  budgetSeconds,
  attemptSeconds,
  bootTimeoutSeconds: 300,
  silenceTimeoutSeconds: 600,
});

/** Small budgets keep each case's virtual time (and so its real time) short; polls stay at 60 s. */
const CHAOS_CONFIG: PipelineConfigInput = {
  pipelineName: 'chaos-pipeline',
  metricNamespace: METRIC_NAMESPACE,
  phases: [phase('Alpha', 3600, 1200), { parallel: [phase('Beta', 2400, 900), phase('Gamma', 3600, 1200)] }],
};
const PHASES = ['Alpha', 'Beta', 'Gamma'];

const SPOT_CODES = ['instance-terminated-no-capacity', 'instance-terminated-by-price', 'marked-for-termination', 'instance-terminated-capacity-oversubscribed', 'marked-for-stop'];
const STATE_REASONS = ['Server.SpotInstanceTermination', 'Server.InsufficientInstanceCapacity', 'Client.UserInitiatedShutdown'];
const CAPACITY_ERRORS = ['InsufficientInstanceCapacity', 'InsufficientCapacity', 'UnfulfillableCapacity', 'SpotMaxPriceTooLow', 'MaxSpotInstanceCountExceeded'];

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
  spotStatus?: string | null;
  stateReason?: string | null;
  exitCode?: number;
  hang?: boolean;
};
type PhasePlan = { workloadMinutes?: number; exitCode?: number; attempts?: Attempt[] };
type ChaosScenario = { name: string; config: string; mode?: 'preflight'; bootMinutes?: number; phases: Record<string, PhasePlan> };

function chaosScenario(seed: number, configPath: string): ChaosScenario {
  const rand = mulberry32(seed);
  const chance = (p: number) => rand() < p;
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

  const scenario: ChaosScenario = { name: `chaos seed ${seed}`, config: configPath, phases: {} };
  if (chance(0.05)) scenario.mode = 'preflight';
  if (chance(0.04)) scenario.bootMinutes = pick([1, 3, 6]); // 6 > bootTimeoutSeconds 300: boot timeout

  for (const name of PHASES) {
    if (chance(0.15)) continue; // defaults: a 30-minute clean workload
    const workloadMinutes = chance(0.08) ? int(25, 45) : int(1, 14);
    const plan: PhasePlan = { workloadMinutes };
    if (chance(0.08)) plan.exitCode = int(1, 255);
    const attempts: Attempt[] = [];
    for (let n = pick([0, 0, 1, 1, 2, 3, 4, 6]); n > 0; n--) {
      const a: Attempt = {};
      const roll = rand();
      const interrupt = () => {
        const roll2 = rand();
        a.interruptAtMinute =
          roll2 < 0.15
            ? Math.max(0, workloadMinutes + pick([-1, -0.5, 0, 0.5])) // right around the moment the workload finishes
            : roll2 < 0.35
              ? Math.round(rand() * workloadMinutes * 2) / 2
              : int(0, workloadMinutes + 2);
        if (chance(0.5)) a.spotStatus = chance(0.25) ? null : pick(SPOT_CODES);
        if (chance(0.3)) a.stateReason = chance(0.25) ? null : pick(STATE_REASONS);
      };
      if (roll < 0.45) interrupt();
      else if (roll < 0.7) {
        a.unavailable = pick([['*'], ['c5.large/*'], zoneDown(pick(ZONES)), ['c5.large/*', 'c5a.large/*'], [...zoneDown('us-east-1a'), 'm5.large/*']]);
        if (chance(0.3)) a.capacityError = pick(CAPACITY_ERRORS);
        if (chance(0.3)) interrupt();
      } else if (roll < 0.76) {
        a.hang = true;
        if (chance(0.3)) interrupt();
      } else if (roll < 0.82) a.exitCode = int(1, 3);
      attempts.push(a);
    }
    if (attempts.length > 0) plan.attempts = attempts;
    scenario.phases[name] = plan;
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

/** What the scenario itself implies about the report, beyond the invariants. */
function oracleProblems(scenario: ChaosScenario, report: SimulationReport): string[] {
  const problems: string[] = [];
  if (report.status !== 'SUCCEEDED' && report.status !== 'FAILED') problems.push(`pipeline ended ${report.status} (nothing aborts or times it out)`);
  const [alpha, beta, gamma] = report.phases;
  if (alpha?.status === 'FAILED' && (beta?.status !== 'NOT_RUN' || gamma?.status !== 'NOT_RUN')) problems.push('Alpha failed, yet the parallel group ran');
  if (alpha?.status === 'NOT_RUN') problems.push('Alpha did not run');
  if (scenario.mode === 'preflight' && report.workloadsRun !== 0) problems.push(`preflight ran ${report.workloadsRun} workload(s)`);

  for (const p of report.phases) {
    const plans = scenario.phases[p.name]?.attempts ?? [];
    p.launches.forEach((l, i) => {
      const plan = plans[i] ?? {};
      const at = `${p.name} attempt ${i + 1} (plan ${JSON.stringify(plan)})`;
      if (l.pool && (plan.unavailable ?? []).some((pattern) => poolMatches(pattern, l.pool!))) problems.push(`${at}: launched in unavailable pool ${l.pool}`);
      if (plan.unavailable?.includes('*') && l.pool !== null) problems.push(`${at}: every pool unavailable, yet launched in ${l.pool}`);
      if (l.outcome === 'capacity-exhausted' && !plan.unavailable) problems.push(`${at}: capacity-exhausted, though every pool had capacity`);
      if (l.outcome === 'interrupted') {
        if (plan.interruptAtMinute === undefined) problems.push(`${at}: interrupted, though the scenario never reclaims it`);
        else if (l.reason !== expectedReason(plan)) problems.push(`${at}: interrupted with reason ${String(l.reason)}, expected ${String(expectedReason(plan))}`);
      }
      if (l.outcome === 'hung' && !plan.hang) problems.push(`${at}: hung, though its workload prints every minute`);
    });
  }
  return problems;
}

describe(`chaos: ${COUNT} seeded scenarios from seed ${BASE_SEED}`, () => {
  let dir: string;
  let configPath: string;
  let template: CfnTemplate;
  /** What the cases ended with, to check the generator reaches the interesting endings. */
  const coverage = new Set<string>();

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sim-chaos-'));
    configPath = path.join(dir, 'chaos-pipeline.json');
    writeFileSync(configPath, JSON.stringify(CHAOS_CONFIG, null, 2));
    template = synthTemplate(parsePipelineConfig(CHAOS_CONFIG));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('generates the same scenario from the same seed, and scenarios the simulator accepts', () => {
    expect(chaosScenario(BASE_SEED, '/c.json')).toEqual(chaosScenario(BASE_SEED, '/c.json'));
    expect(chaosScenario(BASE_SEED, '/c.json')).not.toEqual(chaosScenario(BASE_SEED + 1, '/c.json'));
    for (let i = 0; i < COUNT; i++) expect(() => parseScenario(chaosScenario(BASE_SEED + i, configPath))).not.toThrow();
  });

  for (let i = 0; i < COUNT; i++) {
    const seed = BASE_SEED + i;
    it(`seed ${seed}`, async () => {
      const scenario = chaosScenario(seed, configPath);
      const replay = [
        `chaos seed ${seed} (case ${i} from CHAOS_SEED=${BASE_SEED})`,
        `replay: CHAOS_SEED=${seed} CHAOS_COUNT=1 npx vitest run test/simulator/chaos.test.ts`,
        `scenario: ${JSON.stringify(scenario)}`,
        `pipeline config (${configPath}): ${JSON.stringify(CHAOS_CONFIG)}`,
      ].join('\n');
      let report: SimulationReport;
      try {
        report = buildReport(await runSimulation(parseScenario(scenario), { template }));
      } catch (err) {
        throw new Error(`${replay}\nthe simulation threw: ${(err as Error).stack ?? String(err)}`);
      }
      const problems = [
        ...reportShapeProblems(JSON.parse(JSON.stringify(report))),
        ...runProblems(report, METRIC_NAMESPACE),
        ...oracleProblems(scenario, report),
      ];
      coverage.add(`status ${report.status}`);
      for (const p of report.phases) {
        if (p.error) coverage.add(`phase error ${p.error}`);
        for (const l of p.launches) coverage.add(`outcome ${l.outcome}`);
        if (p.relaunches > 1) coverage.add('several relaunches in one phase');
      }
      if (report.metrics.length > 0) coverage.add('metric put');
      if (report.phases[1]!.status !== report.phases[2]!.status) coverage.add('parallel phases ended differently');
      expect(problems, `${replay}\nreport phases: ${JSON.stringify(report.phases)}\nmetrics: ${JSON.stringify(report.metrics)}`).toEqual([]);
    });
  }

  it('covered the interesting endings', () => {
    console.info(`chaos coverage: ${[...coverage].sort().join('; ')}`);
    if (COUNT < 200) return;
    for (const want of [
      'status SUCCEEDED',
      'status FAILED',
      'phase error WorkloadFailed',
      'phase error SpotRetryBudgetExhausted',
      'phase error WorkloadHung',
      'outcome interrupted',
      'outcome capacity-exhausted',
      'several relaunches in one phase',
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
      config: configPath,
      phases: { Beta: { workloadMinutes: 2, exitCode: 1 }, Gamma: { workloadMinutes: 14 } },
    });
    const sim = await runSimulation(scenario, { template });
    expect(sim.pipeline.status).toBe('FAILED');
    const stoppedAt = sim.pipeline.stoppedAt!;
    const outlived = sim.stepFunctions.executions.filter((e) => e.stoppedAt === undefined || e.stoppedAt > stoppedAt).map((e) => e.name);
    expect(outlived, 'phase executions still running after the pipeline stopped').toEqual([]);
    expect(sim.cloud.runningInstances(sim.endedAt).map((i) => i.phase)).toEqual([]);
  });
});
