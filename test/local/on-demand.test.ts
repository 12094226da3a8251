/**
 * On-demand fallback in the rehearsal (examples/on-demand-fallback.json: TrainModel opts in):
 * judged from the simulated EC2 (the market each instance was launched in, the launch calls) and
 * the metric data CloudWatch received.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPipelineConfig } from '../../lib/config/load';
import { buildReport, type SimulationReport } from '../../simulator/report';
import { runSimulation, type Simulation } from '../../simulator/run';
import { loadScenario, parseScenario } from '../../simulator/scenario';
import { synthDeployment, type SimDeployment } from '../../simulator/synth';
import { runProblems } from '../simulator/report-checks';

const ROOT = path.join(__dirname, '..', '..');
const EXAMPLE = path.join(ROOT, 'examples', 'on-demand-fallback.json');
const NAMESPACE = 'WeeklyTraining';
/** Every spot pool refuses every launch attempt (50: more than a budget affords at one relaunch a minute or so). */
const allRefused = Array.from({ length: 50 }, () => ({ unavailable: ['*'] }));
const spotGone = { Features: { workloadMinutes: 30 }, TrainModel: { workloadMinutes: 60, attempts: allRefused } };

let dir: string;
const configs: Record<string, { file: string; deployment: SimDeployment }> = {};
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'on-demand-'));
  const variants: Record<string, unknown> = { optedIn: true, spotOnly: undefined, afterOne: { afterInterruptions: 1, lastAttempt: false, whenCapacityExhausted: false } };
  for (const [name, fallback] of Object.entries(variants)) {
    const raw = JSON.parse(readFileSync(EXAMPLE, 'utf8')) as { phases: Record<string, unknown>[] };
    raw.phases[1]!.onDemandFallback = fallback;
    const file = path.join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify(raw));
    configs[name] = { file, deployment: synthDeployment(loadPipelineConfig(file)) };
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function rehearse(config: string, scenario: Record<string, unknown>): Promise<{ sim: Simulation; report: SimulationReport }> {
  const sim = await runSimulation(parseScenario({ config: configs[config]!.file, ...scenario }), { deployment: configs[config]!.deployment });
  return { sim, report: buildReport(sim) };
}

const markets = (sim: Simulation, phase: string) => sim.cloud.instances.filter((i) => i.phase === phase).map((i) => i.market);
const fallbackData = (r: SimulationReport) => r.metrics.filter((m) => m.name === 'OnDemandFallback').map((m) => m.dimensions);

describe('spot gone from every pool for the whole budget', () => {
  it('with onDemandFallback: the same attempt launches on-demand once every spot pool refused, and the run succeeds; one OnDemandFallback datum', async () => {
    // Act
    const { sim, report } = await rehearse('optedIn', { phases: spotGone });

    // Assess: one attempt, no relaunch: every spot pool refused, then on-demand took it.
    expect(report.status).toBe('SUCCEEDED');
    expect(markets(sim, 'TrainModel')).toEqual(['on-demand']);
    const [launch] = report.phases[1]!.launches;
    expect(report.phases[1]!.launches).toHaveLength(1);
    expect(launch).toMatchObject({ market: 'on-demand', outcome: 'succeeded' });
    expect(launch!.cloud.refusals).toHaveLength(6); // 3 types x 2 AZs
    expect(sim.cloud.refusals.filter((r) => r.phase === 'TrainModel').every((r) => r.market === 'spot')).toBe(true);
    expect(fallbackData(report)).toEqual([{ Phase: 'TrainModel', Trigger: 'capacity-exhausted' }]);
    expect(report.metrics.filter((m) => m.name === 'SpotInterruptionRetry')).toEqual([]);
    expect(runProblems(report, NAMESPACE)).toEqual([]);
  });

  it('without it: the phase gives up with SpotRetryBudgetExhausted, and nothing ever ran on-demand', async () => {
    // Act
    const { sim, report } = await rehearse('spotOnly', { phases: spotGone });

    // Assess
    expect(report.status).toBe('FAILED');
    expect(report.phases[1]!.error).toBe('SpotRetryBudgetExhausted');
    expect(markets(sim, 'TrainModel')).toEqual([]);
    expect(sim.cloud.refusals.every((r) => r.market === 'spot')).toBe(true);
    expect(fallbackData(report)).toEqual([]);
    expect(runProblems(report, NAMESPACE)).toEqual([]);
  });

  it('and no on-demand capacity either: each attempt asks spot, then on-demand, and the phase gives up as without the fallback when the budget is spent', async () => {
    // Act
    const { sim, report } = await rehearse('optedIn', { phases: spotGone, onDemandUnavailable: ['*'] });

    // Assess: each attempt asked spot, then on-demand; nothing launched, nothing counted as a fallback.
    expect(report.phases[1]!.error).toBe('SpotRetryBudgetExhausted');
    const refusals = sim.cloud.refusals.filter((r) => r.phase === 'TrainModel' && r.attempt === 1).map((r) => r.market);
    expect(refusals).toEqual([...Array(6).fill('spot'), ...Array(6).fill('on-demand')]);
    expect(report.phases[1]!.launches.every((l) => l.outcome === 'capacity-exhausted')).toBe(true);
    expect(fallbackData(report)).toEqual([]);
    expect(sim.cloud.instances.filter((i) => i.phase === 'TrainModel')).toEqual([]);
    expect(runProblems(report, NAMESPACE)).toEqual([]);
  });

  it('on-demand refused too in the first attempt, while spot has capacity again: the next attempt runs on spot and finishes', async () => {
    // Act
    const { sim, report } = await rehearse('optedIn', { phases: { Features: { workloadMinutes: 30 }, TrainModel: { workloadMinutes: 60, attempts: [{ unavailable: ['*'] }] } }, onDemandUnavailable: ['*'] });

    // Assess
    expect(report.status).toBe('SUCCEEDED');
    expect(report.phases[1]!.launches.map((l) => [l.market, l.outcome])).toEqual([
      ['spot', 'capacity-exhausted'],
      ['spot', 'succeeded'],
    ]);
    expect(markets(sim, 'TrainModel')).toEqual(['spot']);
  });
});

describe('the other triggers', () => {
  it('the last attempt the budget affords goes on-demand: spot does not reclaim it, the phase finishes (scenarios/on-demand-last-attempt.json)', async () => {
    // Act
    const scenario = loadScenario(path.join(ROOT, 'scenarios', 'on-demand-last-attempt.json'));
    const sim = await runSimulation(scenario, { baseDir: path.join(ROOT, 'scenarios') });
    const report = buildReport(sim);

    // Assess
    expect(report.status).toBe('SUCCEEDED');
    expect(markets(sim, 'TrainModel')).toEqual(['spot', 'on-demand']);
    expect(fallbackData(report)).toEqual([{ Phase: 'TrainModel', Trigger: 'last-attempt' }]);
  });

  it('afterInterruptions 1 (the other triggers off): the attempt after the first reclaim goes on-demand', async () => {
    // Act
    const { sim, report } = await rehearse('afterOne', { phases: { Features: { workloadMinutes: 30 }, TrainModel: { workloadMinutes: 30, attempts: [{ interruptAtMinute: 5 }, { interruptAtMinute: 5 }] } } });

    // Assess
    expect(report.status).toBe('SUCCEEDED');
    expect(markets(sim, 'TrainModel')).toEqual(['spot', 'on-demand']);
    expect(fallbackData(report)).toEqual([{ Phase: 'TrainModel', Trigger: 'interruptions' }]);
  });

  it('a phase that does not opt in never runs on-demand, whatever the others do', async () => {
    // Act: Features (spot only) loses its capacity; TrainModel runs on spot.
    const { sim, report } = await rehearse('optedIn', { phases: { Features: { workloadMinutes: 30, attempts: allRefused }, TrainModel: { workloadMinutes: 30 } } });

    // Assess
    expect(report.phases[0]!.error).toBe('SpotRetryBudgetExhausted');
    expect(markets(sim, 'Features')).toEqual([]);
    expect(sim.cloud.refusals.filter((r) => r.phase === 'Features').every((r) => r.market === 'spot')).toBe(true);
  });
});

describe('a first attempt that is the only one the budget affords', () => {
  it('launches on-demand at once (lastAttempt), counted once; a spot-only phase with the same budget launches on spot', async () => {
    // Prepare: TrainModel's budget holds one attempt of 4800 s.
    const raw = JSON.parse(readFileSync(EXAMPLE, 'utf8')) as { phases: Record<string, unknown>[] };
    raw.phases[1]!.budgetSeconds = 5400;
    const file = path.join(dir, 'one-attempt.json');
    writeFileSync(file, JSON.stringify(raw));

    // Act
    const sim = await runSimulation(parseScenario({ config: file, phases: { Features: { workloadMinutes: 30 }, TrainModel: { workloadMinutes: 60, attempts: [{ interruptAtMinute: 30 }] } } }));
    const report = buildReport(sim);

    // Assess: spot would have reclaimed it at minute 30; on-demand, it finished.
    expect(report.status).toBe('SUCCEEDED');
    expect(markets(sim, 'TrainModel')).toEqual(['on-demand']);
    expect(fallbackData(report)).toEqual([{ Phase: 'TrainModel', Trigger: 'last-attempt' }]);
    expect(runProblems(report, NAMESPACE)).toEqual([]);
  });
});

describe('a fallback whose launch response was lost', () => {
  it('the retried LaunchInstance adopts the on-demand instance (its market tag), launches no second one, and the datum is still put once', async () => {
    // Prepare: one phase, so the first LaunchInstance response lost is its own.
    const file = path.join(dir, 'one-phase.json');
    writeFileSync(file, JSON.stringify({ pipelineName: 'od-one', metricNamespace: NAMESPACE, schedules: { enabled: false }, phases: [{ name: 'TrainModel', workloadCommand: 'train', instanceTypes: ['c5.2xlarge', 'c5a.2xlarge'], budgetSeconds: 10800, attemptSeconds: 4800, onDemandFallback: true }] }));

    // Act
    const sim = await runSimulation(parseScenario({ config: file, lostResponses: { 'launch-instance': 1 }, phases: { TrainModel: { workloadMinutes: 20, attempts: [{ unavailable: ['*'] }] } } }));
    const report = buildReport(sim);

    // Assess
    expect(report.status).toBe('SUCCEEDED');
    expect(markets(sim, 'TrainModel')).toEqual(['on-demand']);
    expect(fallbackData(report)).toEqual([{ Phase: 'TrainModel', Trigger: 'capacity-exhausted' }]);
    expect(runProblems(report, NAMESPACE)).toEqual([]);
  });
});
