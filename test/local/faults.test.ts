/**
 * Faults the state machine itself sees: a Lambda whose response is lost after it did its work
 * (retried: the retry must not start a second instance), and throttled AWS APIs (retried or
 * waited out: never a workload failure, never an interruption, never a torn-down job).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadPipelineConfig } from '../../lib/config/load';
import { TAG } from '../../contract/tags';
import { checkInvariants } from '../../simulator/invariants';
import { buildReport } from '../../simulator/report';
import { runSimulation } from '../../simulator/run';
import { synthDeployment, type SimDeployment } from '../../simulator/synth';

let deployment: SimDeployment;
beforeAll(() => {
  deployment = synthDeployment(loadPipelineConfig());
});

describe('faults on the way', () => {
  it('a LaunchInstance whose response is lost is retried and adopts its instance: one instance per attempt', async () => {
    // Prepare: the first two LaunchInstance invocations launch, then lose their response.
    const scenario = { lostResponses: { 'launch-instance': 2 } };

    // Act
    const sim = await runSimulation(scenario, { deployment });
    const report = buildReport(sim);

    // Assess
    expect(report.status).toBe('SUCCEEDED');
    const retried = sim.stepFunctions.executions.flatMap((e) => e.events).filter((e) => e.type === 'StateRetried' && e.state?.name === 'LaunchInstance');
    expect(retried).toHaveLength(2);
    const attempts = sim.cloud.instances.map((i) => `${i.tags[TAG.execution]}#${i.tags[TAG.attempt]}`);
    expect(new Set(attempts).size).toBe(attempts.length);
    expect(report.instances).toMatchObject({ launched: 4, runningAtEnd: 0 });
    for (const invariant of checkInvariants(report)) expect(invariant, invariant.detail).toMatchObject({ holds: true });
  });

  it('throttled EC2, SSM and CloudWatch APIs never fail, interrupt or tear down a healthy phase', async () => {
    // Prepare
    const scenario = {
      throttle: {
        'EC2.CreateFleet': 2,
        'EC2.DescribeInstances': 4,
        'EC2.TerminateInstances': 2,
        'SSM.DescribeInstanceInformation': 3,
        'SSM.SendCommand': 2,
        'SSM.GetCommandInvocation': 5,
        'CloudWatchLogs.GetLogEvents': 3,
      },
      phases: { DataPhase1: { attempts: [{ interruptAtMinute: 10 }] } },
    };

    // Act
    const sim = await runSimulation(scenario, { deployment });
    const report = buildReport(sim);

    // Assess: every throttle was met, the pipeline succeeded with exactly the one real interruption.
    expect([...sim.cloud.throttledCalls.values()].reduce((a, b) => a + b, 0)).toBe(21);
    expect(report.status).toBe('SUCCEEDED');
    expect(report.phases.map((p) => p.launches.map((l) => l.outcome))).toEqual([['interrupted', 'succeeded'], ['succeeded'], ['succeeded'], ['succeeded']]);
    expect(report.metrics.filter((m) => m.name === 'SpotInterruptionRetry')).toHaveLength(1);
    expect(report.instances.runningAtEnd).toBe(0);
    for (const invariant of checkInvariants(report)) expect(invariant, invariant.detail).toMatchObject({ holds: true });
  });
});
