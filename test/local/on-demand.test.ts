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
  it('with onDemandFallback: the phase launches on-demand and the run succeeds; one OnDemandFallback datum', async () => {
    // Act
    const { sim, report } = await rehearse('optedIn', { phases: spotGone });

    // Assess
    expect(report.status).toBe('SUCCEEDED');
    expect(markets(sim, 'TrainModel')).toEqual(['on-demand']);
    expect(report.phases[1]!.launches.map((l) => [l.market, l.outcome])).toEqual([
      ['spot', 'capacity-exhausted'],
      ['on-demand', 'succeeded'],
    ]);
    expect(fallbackData(report)).toEqual([{ Phase: 'TrainModel', Trigger: 'capacity-exhausted' }]);
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

  it('and no on-demand capacity either: it tries spot and on-demand by turns, and gives up as without the fallback when the budget is spent', async () => {
    // Act
    const { sim, report } = await rehearse('optedIn', { phases: spotGone, onDemandUnavailable: ['*'] });

    // Assess
    expect(report.phases[1]!.error).toBe('SpotRetryBudgetExhausted');
    const attempts = report.phases[1]!.launches.map((l) => l.market);
    expect(attempts.slice(0, 4)).toEqual(['spot', 'on-demand', 'spot', 'on-demand']);
    expect(fallbackData(report)).toHaveLength(attempts.filter((m) => m === 'on-demand').length);
    expect(sim.cloud.instances.filter((i) => i.phase === 'TrainModel')).toEqual([]);
    expect(runProblems(report, NAMESPACE)).toEqual([]);
  });

  it('on-demand refused once, while spot has capacity again: the next attempt runs on spot and finishes', async () => {
    // Act
    const { sim, report } = await rehearse('optedIn', { phases: { Features: { workloadMinutes: 30 }, TrainModel: { workloadMinutes: 60, attempts: [{ unavailable: ['*'] }] } }, onDemandUnavailable: ['*'] });

    // Assess
    expect(report.status).toBe('SUCCEEDED');
    expect(report.phases[1]!.launches.map((l) => [l.market, l.outcome])).toEqual([
      ['spot', 'capacity-exhausted'],
      ['on-demand', 'capacity-exhausted'],
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
