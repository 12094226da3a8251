/**
 * The wake relay's tokens (waits/<instanceId>) once a wait is over for good. HandleFailure now
 * forgets the ended attempt's token (lambdas/aws/waits.ts), so a late spot warning for its instance
 * finds none and stops at once instead of looking for half a minute, throwing WaitNotFoundYet and
 * being retried by Lambda a minute later (test/local/wake.test.ts: "no failed
 * delivery"). HandleFailure is not the only way a wait ends for good: these tests give spot's warning
 * to an instance whose wait ended on the other ways (the workload succeeded: FinishPhase forgets it;
 * an abort or a sibling's failure: the execution-cleanup rule does) and expect the same: no failed
 * wake delivery. (Found by an adversarial round; each failed before those two learned to forget.)
 *
 * Every run is also judged by runProblems (which holds in each): only the relay's deliveries fail.
 * Scenarios name their config by a relative path (baseDir), so the seeded jitter replays.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineConfigInput } from '../../contract/config';
import { buildReport, type SimulationReport } from '../../simulator/report';
import { runSimulation, type Simulation } from '../../simulator/run';
import { parseScenario } from '../../simulator/scenario';
import type { SimDeployment } from '../../simulator/synth';
import { adversarialPipelines, deployConfigs } from './adversarial-configs';
import { runProblems } from './report-checks';

const { phaseOf, pipeline } = adversarialPipelines('wtadv', { subnetIds: ['subnet-0c0ffee0c0ffee001', 'subnet-0c0ffee0c0ffee002'], instanceTypes: ['c5.large', 'm5.large'] });

const CONFIGS = {
  /** 25 minutes, 10-minute attempts, 10 s polls, 5-minute event waits (as notice-adversarial's solo). */
  solo: pipeline([phaseOf({ name: 'Solo' })]),
  /** Two phases side by side. */
  group: pipeline([{ kind: 'parallel', parallel: [phaseOf({ name: 'Crunch' }), phaseOf({ name: 'Sibling' })] }]),
} satisfies Record<string, PipelineConfigInput>;
type ConfigName = keyof typeof CONFIGS;

describe('wait tokens of waits over for good, and spot\'s late warning', () => {
  let dir: string;
  let deployments: Record<ConfigName, SimDeployment>;

  beforeAll(() => {
    ({ dir, deployments } = deployConfigs('sim-wake-token-adversarial-', CONFIGS));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  let sim: Simulation;

  async function run(config: ConfigName, scenario: Record<string, unknown>): Promise<SimulationReport> {
    sim = await runSimulation(parseScenario({ ...scenario, config: `${config}.json` }), { deployment: deployments[config], baseDir: dir });
    const report = buildReport(sim);
    expect(runProblems(report, 'AlphaEngine', { exhaustedDatumMayDrop: true })).toEqual([]);
    expect(report.instances.runningAtEnd).toBe(0);
    return report;
  }

  /** The wake relay's deliveries that failed every try (Lambda's two retries included). */
  const failedWakes = () =>
    sim.eventBus.deliveries
      .filter((d) => d.rule.startsWith('WakeRelay') && d.error !== undefined)
      .map((d) => `${String(d.event['detail-type'])} ${String((d.event.detail as { 'instance-id'?: string } | undefined)?.['instance-id'])}: ${d.error!.slice(0, 80)}`);

  it('a workload that succeeds seconds before spot\'s notice: the warning finds no token of the finished phase, no failed wake delivery', async () => {
    // Prepare: the workload ends at minute 8; spot's notice comes 0.6 s later, while the poll the
    // command's end brought and FinishPhase run (TerminateInstances throttled: a few seconds longer).
    const scenario = { bootMinutes: 1, throttle: { 'EC2.TerminateInstances': 3 }, phases: { Solo: { workloadMinutes: 8, attempts: [{ interruptAtMinute: 8.01 }] } } };

    // Act
    const report = await run('solo', scenario);

    // Assess: the phase succeeded (the notice changes nothing), and the relay stopped at once.
    // Today: FinishPhase leaves waits/<instanceId> behind (only HandleFailure forgets it), so the
    // warning takes the finished wait's token, looks for a next wait for 35 s, throws
    // WaitNotFoundYet ("the phase is busy between two waits"), and Lambda runs it again a minute
    // later (the function's retryAttempts: 1): failed invocations of 35 s each, Lambda Errors, and an
    // error log that blames throttling, for a phase that succeeded. Any successful phase whose instance spot reclaims in the seconds
    // before FinishPhase terminates it does this.
    expect(report.status).toBe('SUCCEEDED');
    expect(failedWakes()).toEqual([]);
  });

  it('an abort just before spot\'s notice: the warning finds no token of the aborted phase, no failed wake delivery', async () => {
    // Prepare: the workload waits for events (token stored); the pipeline is aborted at minute 3,
    // spot's notice reaches the instance a moment later (before the cleanup rule has acted).
    const scenario = { bootMinutes: 1, abortAtMinute: 3, phases: { Solo: { workloadMinutes: 8, checkpointEveryMinutes: 1, attempts: [{ interruptAtMinute: 2 }] } } };

    // Act
    const report = await run('solo', scenario);

    // Assess
    // Today: nothing forgets the aborted phase's token (no HandleFailure runs; ExecutionCleanup,
    // which knows the ended execution's instances, deletes no waits/ key): the warning is thrown
    // (WaitNotFoundYet) and retried by Lambda a minute later: failed invocations, Errors, a misleading log.
    expect(report.status).toBe('ABORTED');
    expect(failedWakes()).toEqual([]);
  });

  it('a sibling\'s failure stops a waiting phase just before spot\'s notice: no failed wake delivery', async () => {
    // Prepare: Sibling fails at minute 2 of its workload; Crunch waits for events, and spot's notice
    // reaches its instance 0.6 s after Crunch's phase execution was stopped.
    const scenario = {
      bootMinutes: 1,
      phases: { Crunch: { workloadMinutes: 8, checkpointEveryMinutes: 1, attempts: [{ interruptAtMinute: 2.01 }] }, Sibling: { workloadMinutes: 2, exitCode: 1 } },
    };

    // Act
    const report = await run('group', scenario);

    // Assess
    // Today: as for an abort, the stopped phase execution's token stays, and the warning for
    // Crunch's instance fails (WaitNotFoundYet, then Lambda's retry) after the pipeline has already failed.
    expect(report.status).toBe('FAILED');
    expect(failedWakes()).toEqual([]);
  });
});
