/**
 * What an adversarial campaign found, pinned: faults aimed at the deadline, CloudWatch throttled
 * past what a relaunch or a give-up may wait, lost responses at the very end, throttling longer
 * than the SDK's and the state machine's retries together, a cleanup that cannot describe the
 * execution, an out-of-memory kill just before the deadline, a reclaim between the last poll and
 * the deadline. Each runs a small pipeline (one 1x1 pool, the smallest margin) and must keep every
 * invariant and end as a user would expect.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PhaseConfigInput, PipelineConfigInput } from '../../contract/config';
import { parsePipelineConfig } from '../../lib/config/load';
import { buildReport, type SimulationReport } from '../../simulator/report';
import { runSimulation } from '../../simulator/run';
import { parseScenario } from '../../simulator/scenario';
import { synthDeployment, type SimDeployment } from '../../simulator/synth';
import { runProblems } from './report-checks';

const solo = (phase: Partial<PhaseConfigInput>): PipelineConfigInput => ({
  pipelineName: 'adv',
  cleanupMarginSeconds: 60,
  vpcId: 'vpc-0c0ffee0c0ffee000',
  subnetIds: ['subnet-0c0ffee0c0ffee001'],
  phases: [{ name: 'Solo', workloadCommand: '/opt/x.sh', instanceTypes: ['c5.large'], budgetSeconds: 1500, attemptSeconds: 600, relaunchBackoffSeconds: 0, bootTimeoutSeconds: 240, ...phase }],
});

const CONFIGS = {
  /** 400 s, 10 s polls: a give-up or a relaunch lands near the deadline. */
  short: solo({ budgetSeconds: 400, attemptSeconds: 120, pollIntervalSeconds: 10, bootTimeoutSeconds: 100, silenceTimeoutSeconds: 300 }),
  /** One 15-minute poll: the first poll after the send is the one at the deadline. */
  slowPolls: solo({ budgetSeconds: 1000, pollIntervalSeconds: 900, silenceTimeoutSeconds: 3600 }),
  tiny: solo({ pollIntervalSeconds: 10, silenceTimeoutSeconds: 300 }),
  /** A silence timeout shorter than the poll interval. */
  quickSilence: solo({ budgetSeconds: 3600, attemptSeconds: 1200, bootTimeoutSeconds: 300, pollIntervalSeconds: 90, silenceTimeoutSeconds: 60 }),
  /** The default margin, the stack's own subnets, 5-minute polls. */
  real: { pipelineName: 'adv', phases: [{ name: 'Research', workloadCommand: '/opt/r.sh', instanceTypes: ['c5.large', 'c5a.large', 'm5.large'], budgetSeconds: 7200, attemptSeconds: 3000, pollIntervalSeconds: 300 }] },
} satisfies Record<string, PipelineConfigInput>;
type ConfigName = keyof typeof CONFIGS;

describe('faults aimed where the promises are thinnest', () => {
  let dir: string;
  const files = {} as Record<ConfigName, string>;
  const templates = {} as Record<ConfigName, SimDeployment>;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sim-adversarial-'));
    for (const [name, config] of Object.entries(CONFIGS) as [ConfigName, PipelineConfigInput][]) {
      files[name] = path.join(dir, `${name}.json`);
      writeFileSync(files[name], JSON.stringify(config));
      templates[name] = synthDeployment(parsePipelineConfig(config));
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function run(config: ConfigName, scenario: Record<string, unknown>): Promise<SimulationReport> {
    const report = buildReport(await runSimulation(parseScenario({ ...scenario, config: files[config] }), { deployment: templates[config] }));
    expect(runProblems(report, 'AlphaEngine', { exhaustedDatumMayDrop: true }), JSON.stringify(report.phases)).toEqual([]);
    for (const p of report.phases) for (const r of p.runs) expect(r.seconds, `${p.name} ${r.execution}`).toBeLessThanOrEqual(p.budgetSeconds);
    return report;
  }

  it('CloudWatch throttled 20 times as the phase gives up: the phase still ends within its budget, as SpotRetryBudgetExhausted', async () => {
    // Act
    const report = await run('short', { bootMinutes: 1, throttle: { 'CloudWatch.PutMetricData': 20 }, phases: { Solo: { workloadMinutes: 6, attempts: [{ interruptAtMinute: 4.4 }] } } });

    // Assess: not the pipeline task's States.Timeout, which would hide the cause.
    expect(report.phases[0]).toMatchObject({ status: 'FAILED', error: 'SpotRetryBudgetExhausted' });
    expect(report.cause).toContain('SpotRetryBudgetExhausted');
  });

  it('CloudWatch throttled 20 times on the way to a relaunch: the relaunch still has its attemptSeconds, or does not happen', async () => {
    // Act
    const report = await run('short', { bootMinutes: 1, throttle: { 'CloudWatch.PutMetricData': 20 }, phases: { Solo: { workloadMinutes: 4, attempts: [{ interruptAtMinute: 2.4 }] } } });

    // Assess: with too little left to count and run another attempt, the phase gives up; no datum without a launch.
    expect(report.phases[0]).toMatchObject({ status: 'FAILED', error: 'SpotRetryBudgetExhausted', attempts: 1 });
    expect(report.metrics.filter((m) => m.name === 'SpotInterruptionRetry')).toEqual([]);
  });

  it('the poll at the deadline and HandleFailure lose their responses, and their calls are throttled: the phase ends within its budget', async () => {
    // Act
    const report = await run('slowPolls', {
      lostResponses: { 'poll-workload': 3, 'handle-failure': 3 },
      throttle: { 'SSM.GetCommandInvocation': 4, 'EC2.TerminateInstances': 4 },
      phases: { Solo: { workloadMinutes: 100 } },
    });

    // Assess
    expect(report.phases[0]).toMatchObject({ status: 'FAILED', error: 'PhaseBudgetExceeded' });
  });

  it('SendCommand throttled 35 times in a row (past the SDK and seven task tries): absorbed, the phase succeeds', async () => {
    // Act
    const report = await run('tiny', { throttle: { 'SSM.SendCommand': 35 }, phases: { Solo: { workloadMinutes: 5 } } });

    // Assess
    expect(report.status).toBe('SUCCEEDED');
  });

  it('an abort while DescribeExecution is throttled: the cleanup judges by launch times and terminates at once, no orphan', async () => {
    // Act
    const report = await run('tiny', { abortAtMinute: 6, throttle: { 'SFN.DescribeExecution': 40 }, phases: { Solo: { workloadMinutes: 10 } } });

    // Assess
    expect(report.status).toBe('ABORTED');
    expect(report.metrics.filter((m) => m.name === 'OrphansReaped' && m.value > 0)).toEqual([]);
    expect(report.phases[0]!.launches[0]!.cloud.terminatedBy).toBe('safety-net');
    expect(report.phases[0]!.launches[0]!.end).toBeLessThan(6 * 60 + 120);
  });

  it('an out-of-memory kill (exit 137) three seconds before the deadline is the workload\'s failure, not the budget', async () => {
    // Act
    const report = await run('tiny', { phases: { Solo: { workloadMinutes: 21.95, exitCode: 137 } } });

    // Assess
    expect(report.phases[0]).toMatchObject({ status: 'FAILED', error: 'WorkloadFailed' });
    expect(report.phases[0]!.launches[0]).toMatchObject({ outcome: 'failed', reason: 'killed' });
  });

  it('spot reclaims the instance between the last 5-minute poll and the deadline: the interruption (its warning event) or the budget (events lost), never a made-up workload failure', async () => {
    // Act
    const scenario = { phases: { Research: { workloadMinutes: 200, attempts: [{ interruptAtMinute: 110.5 }] } } };
    const report = await run('real', scenario);
    const blind = await run('real', { ...scenario, lostEvents: ['EC2 Spot Instance Interruption Warning', 'EC2 Instance State-change Notification', 'EC2 Command Invocation Status-change Notification'] });

    // Assess: the warning reaches the pipeline before the deadline; spot's notice, first, names the end (no budget for a relaunch).
    expect(report.phases[0]!.launches[0]!.cloud).toMatchObject({ workload: 'cut-off', terminatedBy: 'spot' });
    expect(report.phases[0]).toMatchObject({ status: 'FAILED', error: 'SpotRetryBudgetExhausted' });
    // Without the events the polls never see the notice: the deadline ends it.
    expect(blind.phases[0]).toMatchObject({ status: 'FAILED', error: 'PhaseBudgetExceeded' });
  });

  it('a launch whose task never returned (every LaunchInstance response lost) is in the report, from what EC2 recorded', async () => {
    // Act
    const report = await run('tiny', { lostResponses: { 'launch-instance': 7 }, phases: { Solo: { workloadMinutes: 5 } } });

    // Assess
    expect(report.phases[0]!.launches).toEqual([expect.objectContaining({ pool: 'c5.large/us-east-1a', attempt: 1, outcome: 'failed', cloud: expect.objectContaining({ terminatedBy: 'pipeline' }) })]);
    expect(report.instances).toMatchObject({ launched: 1, runningAtEnd: 0 });
  });

  it('a workload printing on stdout and stderr by turns, with a silence timeout below the poll interval, is alive', async () => {
    // Act
    const report = await run('quickSilence', { phases: { Solo: { workloadMinutes: 10, output: 'both' } } });

    // Assess
    expect(report.status).toBe('SUCCEEDED');
  });

  it('an abort while the launch call (CreateFleet) is still being retried: the instance that lands afterwards is terminated by its own launch, no orphan', async () => {
    // Act
    const report = await run('tiny', { abortAtMinute: 0.01, throttle: { 'EC2.CreateFleet': 4 }, phases: { Solo: { workloadMinutes: 5 } } });

    // Assess: it landed after the execution's cleanup had run, and went at once.
    const [launch] = report.phases[0]!.launches;
    expect(launch).toMatchObject({ outcome: 'aborted', cloud: { terminatedBy: 'pipeline' } });
    expect(launch!.end - launch!.start).toBeLessThanOrEqual(1);
    expect(report.metrics.filter((m) => m.name === 'OrphansReaped' && m.value > 0)).toEqual([]);
  });

  it('a redrive a moment after a failure, while the cleanup cannot describe the execution: the redriven run keeps its instance', async () => {
    // Act
    const report = await run('tiny', { redriveAfterMinutes: 0.005, throttle: { 'SFN.DescribeExecution': 10 }, phases: { Solo: { workloadMinutes: 3, attempts: [{ exitCode: 1 }] } } });

    // Assess
    expect(report.status).toBe('SUCCEEDED');
    expect(report.phases[0]!.launches.map((l) => l.outcome)).toEqual(['failed', 'succeeded']);
  });

  it('an abort while CountRelaunch waits to retry a throttled datum: nothing more is tried, no datum without its relaunch', async () => {
    // Act
    // (The notice at minute 3; the runner has saved by 3.1 and the relaunch at once is counted from about 3.25.)
    const report = await run('tiny', { throttle: { 'CloudWatch.PutMetricData': 10 }, abortAtMinute: 3.4, phases: { Solo: { workloadMinutes: 5, attempts: [{ interruptAtMinute: 1 }] } } });

    // Assess: Step Functions schedules nothing for a stopped execution.
    expect(report.status).toBe('ABORTED');
    expect(report.metrics.filter((m) => m.name === 'SpotInterruptionRetry')).toEqual([]);
    expect(report.apiCalls['CloudWatch.PutMetricData']).toBeGreaterThan(0); // CountRelaunch had begun trying
    // (The data the cleanup puts after the abort, the run's PipelineCostUsd and the phase's PhaseDurationSeconds, are the calls that went through.)
    const cleanupData = report.metrics.filter((m) => m.name === 'PipelineCostUsd' || m.name === 'PhaseDurationSeconds').length;
    expect(report.apiCalls['CloudWatch.PutMetricData']! - cleanupData).toBeLessThanOrEqual(report.throttledCalls['CloudWatch.PutMetricData']!);
  });

  it('CloudWatch refuses every try of the relaunch datum: the relaunch goes on, the datum is dropped (the cloud shows why)', async () => {
    // Act
    const report = await run('tiny', { bootMinutes: 1, throttle: { 'CloudWatch.PutMetricData': 20 }, phases: { Solo: { workloadMinutes: 1.5, attempts: [{ interruptAtMinute: 0.5 }] } } });

    // Assess
    expect(report.status).toBe('SUCCEEDED');
    expect(report.phases[0]!.relaunches).toBe(1);
    // CountRelaunch's 15 tries; then the run's PipelineCostUsd datum meets the last 5 (the SDK's own retries), and is lost.
    expect(report.metrics.filter((m) => m.name === 'SpotInterruptionRetry')).toEqual([]);
    expect(report.throttledCalls['CloudWatch.PutMetricData']).toBe(20);
  });
});
