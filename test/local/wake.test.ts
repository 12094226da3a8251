/**
 * The notice acted on, and far fewer state transitions, in the rehearsal (the shipped scenarios),
 * judged from what the simulated cloud recorded: EC2's launch and notice times, SSM's workload runs,
 * Step Functions' own count of transitions.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SATURDAY_PIPELINE } from '../../lib/config/defaults';
import { buildReport } from '../../simulator/report';
import { runSimulation, type Simulation } from '../../simulator/run';
import { loadScenario, parseScenario } from '../../simulator/scenario';
import { runProblems } from '../simulator/report-checks';

const SCENARIOS = path.join(__dirname, '..', '..', 'scenarios');
const dir = mkdtempSync(path.join(tmpdir(), 'wake-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const shipped = (name: string) => runSimulation(loadScenario(path.join(SCENARIOS, `${name}.json`)), { baseDir: SCENARIOS });

/** Hours the workloads ran, from the simulated SSM's records (the workload commands that finished). */
function workloadHours(sim: Simulation): number {
  return sim.cloud.invocations.filter((i) => i.mode === 'full' && !i.runner?.failure).reduce((h, i) => h + i.durationMs, 0) / 3_600_000;
}

/** The built-in pipeline waiting by polls (waitFor "polls"), as a config file. */
function pollingConfig(): string {
  const file = path.join(dir, 'polling.json');
  writeFileSync(file, JSON.stringify({ ...SATURDAY_PIPELINE, code: path.join(__dirname, '..', '..', 'workloads', 'saturday'), waitFor: 'polls' }));
  return file;
}

describe('the notice acted on', () => {
  it('the warning event brings the relaunch within 60 s of spot\'s notice; it resumes from what the notice saved', async () => {
    // Act
    const sim = await shipped('notice-relaunch-at-once');
    const report = buildReport(sim);

    // Assess
    const [noticed, relaunch] = report.phases[0]!.launches;
    expect(report.status).toBe('SUCCEEDED');
    expect(noticed).toMatchObject({ outcome: 'interrupted', cloud: { terminatedBy: 'spot', noticeSave: { saved: true } } });
    expect(relaunch!.start - noticed!.noticeAt!).toBeGreaterThanOrEqual(0);
    expect(relaunch!.start - noticed!.noticeAt!).toBeLessThanOrEqual(60);
    // The new instance launched while the noticed one still ran (spot takes it two minutes after the notice).
    expect(relaunch!.start).toBeLessThan(noticed!.end);
    expect(relaunch!.resumedFromSeconds).toBeGreaterThanOrEqual(noticed!.cloud.noticeSave!.progressSeconds);
    expect(report.metrics.filter((m) => m.name === 'SpotInterruptionRetry')).toHaveLength(1);
    expect(runProblems(report)).toEqual([]);
  });

  it('a warning that comes as the wait times out into its poll: the relay finds the ended attempt\'s token gone and stops, no failed delivery (seed 001)', async () => {
    // Act: the seed's reclaim comes at minute 30 of the workload, when its 30-minute wait ends.
    const sim = await shipped('seed-001-dataphase1-reclaimed');

    // Assess: every wake delivery ended well, at the first try (Lambda's retries unneeded).
    const wakes = sim.eventBus.deliveries.filter((d) => d.rule.startsWith('WakeRelay'));
    expect(wakes.length).toBeGreaterThan(0);
    expect(wakes.filter((d) => d.error)).toEqual([]);
    expect(buildReport(sim).status).toBe('SUCCEEDED');
  });

  it('every event lost: the waits time out into their polls; the run still finishes within its budgets', async () => {
    // Act
    const sim = await shipped('events-lost');
    const report = buildReport(sim);

    // Assess
    expect(report.status).toBe('SUCCEEDED');
    expect(report.phases[0]!.launches.map((l) => l.outcome)).toEqual(['interrupted', 'succeeded']);
    for (const p of report.phases) for (const r of p.runs) expect(r.seconds).toBeLessThanOrEqual(p.budgetSeconds);
    expect(report.apiCalls['SFN.SendTaskSuccess'] ?? 0).toBe(0);
    expect(runProblems(report)).toEqual([]);
  });
});

describe('far fewer state transitions', () => {
  it('a clean Saturday at the seed\'s lengths: under 30 per workload-hour (polling every 60 s: several times more)', async () => {
    // Act
    const events = await shipped('clean-saturday');
    const scenario = JSON.parse(readFileSync(path.join(SCENARIOS, 'clean-saturday.json'), 'utf8')) as Record<string, unknown>;
    const polls = await runSimulation(parseScenario({ ...scenario, config: pollingConfig() }));

    // Assess
    const perHour = (sim: Simulation) => sim.stepFunctions.transitions() / workloadHours(sim);
    expect(events.pipeline.status).toBe('SUCCEEDED');
    expect(workloadHours(events)).toBeCloseTo(189 / 60, 5);
    expect(perHour(events)).toBeLessThanOrEqual(30);
    expect(polls.pipeline.status).toBe('SUCCEEDED');
    expect(perHour(polls)).toBeGreaterThan(3 * perHour(events));
  });
});
