/**
 * The scenario suite: every scenario file in test/simulator/scenarios runs against the real
 * pipeline (template synthesized once from the built-in Saturday config) and must end as
 * scenarios/expected.json says, with every invariant holding, no instance left running, and a
 * report of the contract's shape. Invalid scenarios are refused naming the offending field.
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadPipelineConfig } from '../../lib/config/load';
import { checkInvariants } from '../../simulator/invariants';
import { buildReport, type PhaseReport, type SimulationReport } from '../../simulator/report';
import { runSimulation } from '../../simulator/run';
import { loadScenario, parseScenario, ScenarioError } from '../../simulator/scenario';
import { synthDeployment, type SimDeployment } from '../../simulator/synth';
import { causeError, reportShapeProblems, runProblems } from './report-checks';

const SCENARIOS = path.join(__dirname, 'scenarios');
const INVALID = path.join(SCENARIOS, 'invalid');

/** One expected value, or a list of acceptable ones. */
type OneOf<T> = T | T[];

interface PhaseExpectation {
  status: 'SUCCEEDED' | 'FAILED' | 'NOT_RUN';
  attempts: number;
  interruptions: number;
  /** The launch outcomes in order. */
  outcomes: OneOf<string>[];
  /** The phase's error (report.phases[i].error); null or absent when it did not fail. */
  error?: OneOf<string> | null;
  /** Per launch: a regular expression the pool must match, or null when no instance launched. */
  pools?: (string | null)[];
}

interface Expectation {
  status: string;
  error: string | null;
  phases: Record<string, PhaseExpectation>;
  /** How many metric data the pipeline put. */
  metrics: number;
  /** The dimensions of each datum, in order. */
  metricDimensions?: Record<string, string>[];
  workloadsRun?: number;
}

const expected = JSON.parse(readFileSync(path.join(SCENARIOS, 'expected.json'), 'utf8')) as Record<string, Expectation | string>;
const cases = Object.entries(expected).filter((e): e is [string, Expectation] => !e[0].startsWith('$'));

const oneOf = <T>(want: OneOf<T>): T[] => (Array.isArray(want) ? want : [want]);

/** The report's facts next to what expected.json says, as two comparable objects. */
function phaseFacts(p: PhaseReport, want: PhaseExpectation) {
  const outcomes = p.launches.map((l, i) => {
    const allowed = oneOf(want.outcomes[i] ?? '(no launch expected)');
    return allowed.includes(l.outcome) ? want.outcomes[i] : l.outcome;
  });
  const error = want.error !== undefined && want.error !== null && oneOf(want.error).includes(p.error ?? '') ? want.error : p.error;
  const pools = want.pools ? p.launches.map((l, i) => (want.pools![i] === null ? l.pool : l.pool !== null && new RegExp(want.pools![i]!).test(l.pool) ? want.pools![i] : l.pool)) : undefined;
  return {
    actual: { status: p.status, attempts: p.attempts, interruptions: p.interruptions, outcomes, error, ...(pools ? { pools } : {}) },
    wanted: { status: want.status, attempts: want.attempts, interruptions: want.interruptions, outcomes: want.outcomes, error: want.error ?? null, ...(want.pools ? { pools: want.pools } : {}) },
  };
}

describe('scenario suite (built-in Saturday pipeline)', () => {
  let deployment: SimDeployment;
  const config = loadPipelineConfig();

  beforeAll(() => {
    deployment = synthDeployment(config);
  });

  it('expected.json covers every scenario file, and every entry has a file', () => {
    const files = readdirSync(SCENARIOS)
      .filter((f) => f.endsWith('.json') && f !== 'expected.json')
      .sort();
    expect(cases.map(([file]) => file).sort()).toEqual(files);
  });

  describe.each(cases)('%s', (file, want) => {
    let report: SimulationReport;

    beforeAll(async () => {
      const scenario = loadScenario(path.join(SCENARIOS, file));
      report = buildReport(await runSimulation(scenario, { deployment, baseDir: SCENARIOS }));
    });

    it('writes a report of the contract shape', () => {
      expect(reportShapeProblems(JSON.parse(JSON.stringify(report)))).toEqual([]);
      expect(report.phases.map((p) => p.name)).toEqual(['DataPhase1', 'Research', 'PredictorTraining', 'Backtester']);
      expect(report.phases.map((p) => p.budgetSeconds)).toEqual([5400, 7200, 10800, 7200]);
    });

    it('keeps every invariant, leaves no instance running, and every launch ends after it starts', () => {
      const invariants = checkInvariants(report);
      expect(invariants).toHaveLength(7);
      expect(invariants.filter((i) => !i.holds)).toEqual([]);
      expect(report.instances.runningAtEnd).toBe(0);
      for (const p of report.phases) for (const l of p.launches) expect(l.end, `${p.name} ${JSON.stringify(l)}`).toBeGreaterThanOrEqual(l.start);
      expect(runProblems(report)).toEqual([]);
    });

    it('ends with the expected status and error', () => {
      expect({ status: report.status, error: report.error }).toEqual({ status: want.status, error: want.error });
      if (want.status === 'FAILED') {
        // The pipeline fails with its task's error; the phase's own error rides in the cause.
        const failed = report.phases.filter((p) => p.status === 'FAILED');
        expect(failed).toHaveLength(1);
        expect(causeError(report.cause)).toBe(failed[0]!.error);
      } else {
        expect(report.cause).toBeNull();
      }
    });

    it('runs each phase as expected', () => {
      expect(Object.keys(want.phases)).toEqual(report.phases.map((p) => p.name));
      for (const p of report.phases) {
        const { actual, wanted } = phaseFacts(p, want.phases[p.name]!);
        expect(actual, p.name).toEqual(wanted);
      }
    });

    it('puts the expected metric data and runs the expected workloads', () => {
      const spot = report.metrics.filter((m) => m.name === 'SpotInterruptionRetry');
      expect(spot).toHaveLength(want.metrics);
      expect(report.phases.reduce((n, p) => n + p.relaunches, 0)).toBe(want.metrics);
      for (const m of spot) expect(m).toMatchObject({ namespace: 'AlphaEngine', value: 1 });
      // The orphan reaper sweeps every 30 minutes and must find nothing to reap.
      for (const m of report.metrics.filter((x) => x.name === 'OrphansReaped')) expect(m).toMatchObject({ value: 0 });
      // A phase that gives up after interruptions puts one SpotRetryBudgetExhausted datum: the alarm reads it.
      const gaveUp = Object.values(want.phases).filter((p) => p.error === 'SpotRetryBudgetExhausted').length;
      const exhausted = report.metrics.filter((m) => m.name === 'SpotRetryBudgetExhausted');
      expect(exhausted).toHaveLength(gaveUp);
      for (const m of exhausted) expect(m).toMatchObject({ namespace: 'AlphaEngine', value: 1, dimensions: { Pipeline: 'saturday-pipeline' } });
      expect(report.metrics.filter((m) => !['SpotInterruptionRetry', 'OrphansReaped', 'SpotRetryBudgetExhausted', 'PipelineCostUsd', 'PhaseDurationSeconds'].includes(m.name))).toEqual([]);
      // Each phase execution's end reports how long it ran, as the simulated Step Functions recorded it.
      const durations = report.metrics.filter((m) => m.name === 'PhaseDurationSeconds');
      expect(durations.map((m) => m.value).sort((a, b) => a - b)).toEqual(report.phases.flatMap((p) => p.runs.map((r) => r.seconds)).sort((a, b) => a - b));
      // Each end of the run reports what it cost, once.
      const runCosts = report.metrics.filter((m) => m.name === 'PipelineCostUsd');
      expect(runCosts).toHaveLength(1);
      expect(runCosts[0]!.value).toBeLessThanOrEqual(report.costUsd * 1.05 + 0.001);
      if (want.metricDimensions) expect(spot.map((m) => m.dimensions)).toEqual(want.metricDimensions);
      if (want.workloadsRun !== undefined) expect(report.workloadsRun).toBe(want.workloadsRun);
    });
  });

  // The scenarios the README tells users to run: each still runs, keeps every invariant and leaves nothing behind.
  describe.each(readdirSync(path.join(__dirname, '..', '..', 'scenarios')).filter((f) => f.endsWith('.json')))('scenarios/%s (shipped for users)', (file) => {
    it('runs, keeps every invariant and leaves no instance running', async () => {
      const scenario = loadScenario(path.join(__dirname, '..', '..', 'scenarios', file));
      // A scenario naming its own config (examples/) is synthesized from that config.
      const sim = await runSimulation(scenario, { deployment: scenario.config ? undefined : deployment, baseDir: path.join(__dirname, '..', '..', 'scenarios') });
      const report = buildReport(sim);
      expect(runProblems(report, sim.config.metricNamespace, { reaperMayAct: true, exhaustedDatumMayDrop: true })).toEqual([]);
      expect(report.instances.runningAtEnd).toBe(0);
    });
  });

  describe('invalid scenarios are refused before anything runs', () => {
    it('a negative interruptAtMinute names the field', () => {
      const raw = JSON.parse(readFileSync(path.join(INVALID, 'negative-interrupt-minute.json'), 'utf8')) as unknown;
      expect(() => parseScenario(raw)).toThrow(ScenarioError);
      expect(() => parseScenario(raw)).toThrow(/phases\.DataPhase1\.attempts\[0\]\.interruptAtMinute: must be a number >= 0/);
      expect(() => parseScenario({ phases: { Research: { attempts: [{}, { interruptAtMinute: -0.5 }] } } })).toThrow(
        'phases.Research.attempts[1].interruptAtMinute',
      );
    });

    it('an unknown phase name is rejected by runSimulation, naming the phase', async () => {
      const scenario = loadScenario(path.join(INVALID, 'unknown-phase.json'));
      const run = runSimulation(scenario, { deployment, baseDir: INVALID });
      await expect(run).rejects.toThrow(ScenarioError);
      await expect(runSimulation(scenario, { deployment, baseDir: INVALID })).rejects.toThrow(/phases\.DataPhase9: no such phase/);
    });

    it('other malformed fields name their path', () => {
      expect(() => parseScenario({ mode: 'weekly' })).toThrow(/mode: must be "full" or "preflight"/);
      expect(() => parseScenario({ phases: { DataPhase1: { exitCode: 256 } } })).toThrow('phases.DataPhase1.exitCode');
      expect(() => parseScenario({ phases: { DataPhase1: { attempts: [{ unavailable: ['c5.large'] }] } } })).toThrow('phases.DataPhase1.attempts[0].unavailable[0]');
      expect(() => parseScenario({ phases: { DataPhase1: { attempts: [{ interruptAt: 3 }] } } })).toThrow('phases.DataPhase1.attempts[0]');
    });

    it('accepts the contract pool pattern "*/us-east-1a" (a whole zone unavailable)', () => {
      expect(() => parseScenario({ phases: { DataPhase1: { attempts: [{ unavailable: ['c5.large/*', '*/us-east-1a'] }] } } })).not.toThrow();
    });
  });
});
