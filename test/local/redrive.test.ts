/**
 * Redrive, as an operator does it from the console: the execution runs to its failure, then is
 * re-run from the failed state with the same input. Succeeded phases must not run again, the failed
 * phase starts over on a fresh attempt, and no attempt ever has two instances.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadPipelineConfig } from '../../lib/config/load';
import { TAG } from '../../contract/tags';
import { checkInvariants } from '../../simulator/invariants';
import { buildReport } from '../../simulator/report';
import { runSimulation, type Simulation } from '../../simulator/run';
import { synthDeployment, type SimDeployment } from '../../simulator/synth';

let deployment: SimDeployment;
beforeAll(() => {
  deployment = synthDeployment(loadPipelineConfig());
});

const phaseRuns = (sim: Simulation, phase: string) =>
  sim.stepFunctions.executions.filter((e) => e.parentArn === sim.pipeline.arn && (e.input as { phase: { name: string } }).phase.name === phase);

describe('redriving a failed Saturday execution', () => {
  it('resumes at the failed phase, skips the phases that succeeded, and starts one instance per attempt', async () => {
    // Prepare: Research's workload fails (a bug), is fixed, and the operator redrives an hour later.
    const scenario = { name: 'redrive after a genuine error', phases: { Research: { attempts: [{ exitCode: 1 }] } }, redriveAfterMinutes: 60 };

    // Act
    const sim = await runSimulation(scenario, { deployment });
    const report = buildReport(sim);

    // Assess: the first run failed at Research; the redrive, same execution ARN, succeeded.
    const [first, redriven] = sim.pipelineRuns;
    expect(first!.status).toBe('FAILED');
    expect(first!.cause).toContain('WorkloadFailed');
    expect(redriven!.arn).toBe(first!.arn);
    expect(redriven!.redriveCount).toBe(1);
    expect(report.status).toBe('SUCCEEDED');
    // The redrive started at the failed state: ValidateInput and DataPhase1 did not run again.
    const redrivenStates = redriven!.events.filter((e) => e.type === 'StateEntered').map((e) => e.state!.name);
    expect(redrivenStates).toEqual(['Research', 'PredictorTraining', 'Backtester', 'PipelineSucceeded']);
    expect(phaseRuns(sim, 'DataPhase1')).toHaveLength(1);
    // Research ran again in a new phase execution, from attempt 1, on a fresh instance.
    const research = phaseRuns(sim, 'Research');
    expect(research.map((r) => r.status)).toEqual(['FAILED', 'SUCCEEDED']);
    expect(report.phases.find((p) => p.name === 'Research')!.launches.map((l) => l.outcome)).toEqual(['failed', 'succeeded']);
    // One instance per attempt, five in all, none left running.
    const attempts = sim.cloud.instances.map((i) => `${i.tags[TAG.execution]}#${i.tags[TAG.attempt]}`);
    expect(new Set(attempts).size).toBe(attempts.length);
    expect(report.instances).toMatchObject({ launched: 5, runningAtEnd: 0 });
    for (const invariant of checkInvariants(report)) expect(invariant, invariant.detail).toMatchObject({ holds: true });
  });

  it('a redrive after the budget ran out on interruptions relaunches the phase with a fresh budget', async () => {
    // Prepare: every DataPhase1 attempt is interrupted until its budget is spent (learn how many
    // attempts that takes), and spot capacity is back when the operator redrives in the morning.
    const everyTime = Array.from({ length: 20 }, () => ({ interruptAtMinute: 8 }));
    const night = buildReport(await runSimulation({ phases: { DataPhase1: { workloadMinutes: 30, attempts: everyTime } } }, { deployment }));
    const spent = night.phases[0]!.attempts;
    expect(night.phases[0]!.error).toBe('SpotRetryBudgetExhausted');
    const scenario = { phases: { DataPhase1: { workloadMinutes: 30, attempts: everyTime.slice(0, spent) } }, redriveAfterMinutes: 300 };

    // Act
    const sim = await runSimulation(scenario, { deployment });
    const report = buildReport(sim);

    // Assess
    expect(sim.pipelineRuns[0]!.cause).toContain('SpotRetryBudgetExhausted');
    expect(report.status).toBe('SUCCEEDED');
    const runs = phaseRuns(sim, 'DataPhase1');
    expect(runs.map((r) => r.status)).toEqual(['FAILED', 'SUCCEEDED']);
    // The redriven phase had its whole budget again: attempt 1 of the new execution succeeded.
    const launches = report.phases[0]!.launches;
    expect(launches.filter((l) => l.execution === runs[1]!.name).map((l) => l.outcome)).toEqual(['succeeded']);
    expect(report.metrics.filter((m) => m.name === 'SpotInterruptionRetry')).toHaveLength(spent - 1);
    expect(report.instances.runningAtEnd).toBe(0);
    for (const invariant of checkInvariants(report)) expect(invariant, invariant.detail).toMatchObject({ holds: true });
  });
});
