/**
 * The seed's four paths, as local executions of the synthesized state machines (taken from the
 * synthesized template) with the real handlers against the simulated cloud. Each also asserts
 * that no instance is left running.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadPipelineConfig } from '../../lib/config/load';
import { checkInvariants } from '../../simulator/invariants';
import { buildReport, type SimulationReport } from '../../simulator/report';
import { runSimulation } from '../../simulator/run';
import type { Scenario } from '../../simulator/scenario';
import { synthDeployment, type SimDeployment } from '../../simulator/synth';

let deployment: SimDeployment;

beforeAll(() => {
  deployment = synthDeployment(loadPipelineConfig());
});

async function run(scenario: Scenario): Promise<SimulationReport> {
  const sim = await runSimulation(scenario, { deployment });
  const report = buildReport(sim);
  for (const invariant of checkInvariants(report)) expect(invariant, invariant.detail).toMatchObject({ holds: true });
  expect(report.instances.runningAtEnd).toBe(0);
  for (const sweep of report.metrics.filter((m) => m.name === 'OrphansReaped')) expect(sweep.value).toBe(0);
  return report;
}

const phase = (report: SimulationReport, name: string) => report.phases.find((p) => p.name === name)!;
/** The SpotInterruptionRetry data (the orphan reaper's OrphansReaped sweeps are checked apart). */
const spotData = (report: SimulationReport) => report.metrics.filter((m) => m.name === 'SpotInterruptionRetry');

describe('the Saturday pipeline, executed locally', () => {
  it('success: every phase runs once and exits clean', async () => {
    // Prepare
    const scenario: Scenario = { name: 'clean run' };

    // Act
    const report = await run(scenario);

    // Assess
    expect(report.status).toBe('SUCCEEDED');
    expect(report.phases.map((p) => [p.name, p.status, p.attempts])).toEqual([
      ['DataPhase1', 'SUCCEEDED', 1],
      ['Research', 'SUCCEEDED', 1],
      ['PredictorTraining', 'SUCCEEDED', 1],
      ['Backtester', 'SUCCEEDED', 1],
    ]);
    expect(spotData(report)).toEqual([]);
    expect(report.instances.launched).toBe(4);
  });

  it('genuine error: no retry, the pipeline fails loud and later phases do not run', async () => {
    // Prepare
    const scenario: Scenario = { phases: { DataPhase1: { exitCode: 3 } } };

    // Act
    const report = await run(scenario);

    // Assess
    expect(report.status).toBe('FAILED');
    const data = phase(report, 'DataPhase1');
    expect(data).toMatchObject({ status: 'FAILED', attempts: 1, error: 'WorkloadFailed' });
    expect(data.cause).toContain('exit code 3');
    expect(report.cause).toContain('WorkloadFailed');
    expect(['Research', 'PredictorTraining', 'Backtester'].map((n) => phase(report, n).status)).toEqual(['NOT_RUN', 'NOT_RUN', 'NOT_RUN']);
    expect(spotData(report)).toEqual([]);
    expect(report.instances.launched).toBe(1);
  });

  it('interruption: relaunch on a fresh instance in another pool, one metric datum, success', async () => {
    // Prepare
    const scenario: Scenario = { phases: { DataPhase1: { workloadMinutes: 30, attempts: [{ interruptAtMinute: 12, spotStatus: 'instance-terminated-no-capacity' }] } } };

    // Act
    const report = await run(scenario);

    // Assess
    expect(report.status).toBe('SUCCEEDED');
    const data = phase(report, 'DataPhase1');
    expect(data.launches.map((l) => l.outcome)).toEqual(['interrupted', 'succeeded']);
    expect(data.launches[1]!.pool).not.toBe(data.launches[0]!.pool);
    expect(spotData(report)).toEqual([
      { namespace: 'AlphaEngine', name: 'SpotInterruptionRetry', value: 1, dimensions: { Phase: 'DataPhase1', Reason: 'instance-terminated-no-capacity' } },
    ]);
  });

  it('interruption on every attempt: fail loud with SpotRetryBudgetExhausted once the budget is spent', async () => {
    // Prepare
    const everyTime = Array.from({ length: 10 }, () => ({ interruptAtMinute: 8 }));
    const scenario: Scenario = { phases: { DataPhase1: { workloadMinutes: 30, attempts: everyTime } } };

    // Act
    const report = await run(scenario);

    // Assess
    expect(report.status).toBe('FAILED');
    const data = phase(report, 'DataPhase1');
    expect(data.error).toBe('SpotRetryBudgetExhausted');
    expect(data.cause).toContain('instance-terminated-no-capacity');
    expect(data.launches.every((l) => l.outcome === 'interrupted')).toBe(true);
    expect(data.attempts).toBeGreaterThan(1);
    expect(spotData(report)).toHaveLength(data.attempts - 1);
    expect(data.seconds).toBeLessThanOrEqual(data.budgetSeconds);
    expect(phase(report, 'Research').status).toBe('NOT_RUN');
  });

  it('launch exhaustion: every pool refuses, counted as an interruption, relaunched, success', async () => {
    // Prepare
    const scenario: Scenario = { phases: { Research: { attempts: [{ unavailable: ['*'], capacityError: 'InsufficientInstanceCapacity' }] } } };

    // Act
    const report = await run(scenario);

    // Assess
    expect(report.status).toBe('SUCCEEDED');
    const research = phase(report, 'Research');
    expect(research.launches.map((l) => [l.pool, l.outcome])).toEqual([
      [null, 'capacity-exhausted'],
      [expect.any(String), 'succeeded'],
    ]);
    expect(spotData(report)).toEqual([
      { namespace: 'AlphaEngine', name: 'SpotInterruptionRetry', value: 1, dimensions: { Phase: 'Research', Reason: 'capacity-exhausted' } },
    ]);
  });
});
