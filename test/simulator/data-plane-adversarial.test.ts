/**
 * The data plane (issue 10) attacked with combinations: the spot notice at the worst moments (while
 * a relaunch boots, seconds before the deadline, while the operator aborts, on a hung workload),
 * checkpoints that are too rare or that a redrive must find again, a progress-based relaunch that
 * then overruns, lost task responses and throttled calls around the notice, corrupt code and an
 * unreadable secret next to a sibling in its notice window. Each case runs a small pipeline and
 * judges from what the simulated cloud recorded (report launches[].cloud, resumedFromSeconds,
 * workLostSeconds, runs[].seconds), never from the pipeline's labels alone; and the classification
 * of the runner's own exits. (The runner script itself under bash: test/instance/runner.test.ts.)
 */
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineConfigInput } from '../../contract/config';
import { RUNNER_EXIT } from '../../contract/runner';
import { afterPoll } from '../../decisions/attempt';
import { classify } from '../../decisions/classify';
import type { JobIn } from '../../contract/job';
import { buildReport, type LaunchReport, type SimulationReport } from '../../simulator/report';
import { runSimulation } from '../../simulator/run';
import { parseScenario } from '../../simulator/scenario';
import type { SimDeployment } from '../../simulator/synth';
import { at, iso, runningJob } from '../lambdas/fixtures';
import { adversarialPipelines, deployConfigs } from './adversarial-configs';
import { runProblems } from './report-checks';

const CODE_DIR = path.join(__dirname, '..', '..', 'workloads', 'saturday');

const { phaseOf, pipeline } = adversarialPipelines('dpadv', { subnetIds: ['subnet-0c0ffee0c0ffee001'], instanceTypes: ['c5.large'] });

const CONFIGS = {
  /** 25 minutes (work deadline at 24), 10-minute attempts with a 4-minute boot allowance, 10 s polls, no backoff. */
  solo: pipeline([phaseOf({ name: 'Solo' })]),
  /** The same with a 90 s relaunch backoff. */
  backoff: pipeline([phaseOf({ name: 'Solo', relaunchBackoffSeconds: 90 })]),
  /** An hour, 25-minute attempts, a 30-minute silence timeout. */
  long: pipeline([phaseOf({ name: 'Solo', budgetSeconds: 3600, attemptSeconds: 1500, silenceTimeoutSeconds: 1800 })]),
  /** An hour, with the shortest silence timeout the config allows (60 s: less than spot's 2-minute notice). */
  quiet: pipeline([phaseOf({ name: 'Solo', budgetSeconds: 3600, attemptSeconds: 1500, silenceTimeoutSeconds: 60 })]),
  /** A parallel group: one phase reads a secret, its sibling crunches. */
  group: pipeline([
    {
      kind: 'parallel',
      parallel: [phaseOf({ name: 'Keys', secrets: { DB_PASSWORD: 'ssm:/dpadv/db-password' } }), phaseOf({ name: 'Crunch' })],
    },
  ]),
  /** One phase with a code directory (packed by synth, verified by the runner). */
  code: pipeline([phaseOf({ name: 'Solo' })], { code: CODE_DIR }),
} satisfies Record<string, PipelineConfigInput>;
type ConfigName = keyof typeof CONFIGS;

describe('the data plane under combined faults', () => {
  let dir: string;
  let files: Record<ConfigName, string>;
  let deployments: Record<ConfigName, SimDeployment>;

  beforeAll(() => {
    ({ dir, files, deployments } = deployConfigs('sim-data-plane-adversarial-', CONFIGS));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Run a scenario; every run keeps every invariant, and no phase execution outlives its budget. */
  /** GetObject calls of the last run on checkpoints (the wake relay's reads of waiting tokens are no checkpoint reads). */
  let checkpointReads = 0;
  async function run(config: ConfigName, scenario: Record<string, unknown>): Promise<SimulationReport> {
    const sim = await runSimulation(parseScenario({ ...scenario, config: files[config] }), { deployment: deployments[config] });
    checkpointReads = sim.cloud.objectReads.filter((key) => key.includes('/checkpoints/')).length;
    const report = buildReport(sim);
    expect(runProblems(report, "AlphaEngine", { exhaustedDatumMayDrop: true, reaperMayAct: true }), JSON.stringify(runProblems(report, "AlphaEngine", { exhaustedDatumMayDrop: true, reaperMayAct: true }))).toEqual([]);
    for (const p of report.phases) for (const r of p.runs) expect(r.seconds, `${p.name} ${r.execution}`).toBeLessThanOrEqual(p.budgetSeconds);
    return report;
  }

  const launches = (report: SimulationReport, phase = 'Solo'): LaunchReport[] => report.phases.find((p) => p.name === phase)!.launches;
  const phase = (report: SimulationReport, name = 'Solo') => report.phases.find((p) => p.name === name)!;
  const relaunchData = (report: SimulationReport) => report.metrics.filter((m) => m.name === 'SpotInterruptionRetry');

  describe('the notice around relaunches and boots', () => {
    it('a notice while the relaunch boots (after a 90 s backoff): the third attempt resumes from the first attempt\'s notice save', async () => {
      // Prepare: attempt 1 checkpoints every minute and gets the notice 3 minutes in; attempt 2 is
      // reclaimed 30 s after its launch, before its agent is online.
      const scenario = {
        bootMinutes: 1,
        phases: { Solo: { workloadMinutes: 6, checkpointEveryMinutes: 1, attempts: [{ interruptAtMinute: 3 }, { interruptAfterLaunchMinutes: 0.5 }] } },
      };

      // Act
      const report = await run('backoff', scenario);

      // Assess: no workload reached attempt 2; attempt 3 restores what attempt 1 saved on its notice
      // (minute 3 and the watcher's 5 s), and nothing done was lost.
      const [first, second, third] = launches(report);
      expect(report.status).toBe('SUCCEEDED');
      expect(first).toMatchObject({ outcome: 'interrupted', cloud: { workload: 'cut-off', terminatedBy: 'spot' } });
      expect(second).toMatchObject({ outcome: 'interrupted', resumedFromSeconds: null, cloud: { workload: 'none' } });
      expect(third!.resumedFromSeconds).toBeGreaterThanOrEqual(180);
      expect(third!.resumedFromSeconds).toBeLessThanOrEqual(186);
      expect(phase(report).workLostSeconds).toBe(0);
      expect(relaunchData(report)).toHaveLength(2);
      expect(third!.start - second!.end).toBeGreaterThanOrEqual(90); // the backoff was kept
    });

    // FAILS: the simulated runner stops a workload only for a notice that comes after the command
    // started (instance-runner.ts, stoppedOnNoticeAt: `instance.noticeAt < inv.startedAt` returns
    // undefined). The real runner's watcher reads instance-action at once when the workload starts
    // (watch_notice polls before its first sleep), so a workload started on an instance already
    // under notice is stopped within a poll and its (empty) checkpoint saved. The simulator lets
    // it run on until spot takes the instance and reports that work as lost (109 s here).
    it('an instance that got its notice a moment before the agent came online gets no workload: the check looks at EC2 once the agent is online', async () => {
      // Prepare: the notice comes 0.6 s before the agent is online.
      const scenario = { bootMinutes: 1.5, phases: { Solo: { workloadMinutes: 10, checkpointEveryMinutes: 60, attempts: [{ interruptAfterLaunchMinutes: 1.49 }] } } };

      // Act
      const report = await run('long', scenario);

      // Assess: nothing started on the noticed instance, nothing lost; the relaunch finished the work.
      const [first, second] = launches(report);
      expect(report.status).toBe('SUCCEEDED');
      expect(first).toMatchObject({ outcome: 'interrupted', cloud: { workloadsStarted: 0 } });
      expect(first!.noticeAt).not.toBeNull();
      expect(second!.outcome).toBe('succeeded');
      expect(phase(report).workLostSeconds).toBe(0);
    });

    it('no capacity anywhere for the relaunch (an interruption too): the checkpoint still counts, and the third attempt resumes from it', async () => {
      // Prepare
      const scenario = { bootMinutes: 1, phases: { Solo: { workloadMinutes: 6, checkpointEveryMinutes: 1, attempts: [{ interruptAtMinute: 3 }, { unavailable: ['*'] }] } } };

      // Act
      const report = await run('solo', scenario);

      // Assess
      const [, refused, third] = launches(report);
      expect(report.status).toBe('SUCCEEDED');
      expect(refused).toMatchObject({ outcome: 'capacity-exhausted', pool: null });
      expect(third!.resumedFromSeconds).toBeGreaterThanOrEqual(180);
      expect(relaunchData(report).map((m) => m.dimensions.Reason)).toEqual(['instance-terminated-no-capacity', 'capacity-exhausted']);
    });

    it('a second notice in the resumed attempt: each attempt resumes further on, the last finishes the rest', async () => {
      // Prepare
      const scenario = { bootMinutes: 1, phases: { Solo: { workloadMinutes: 8, checkpointEveryMinutes: 2, attempts: [{ interruptAtMinute: 3 }, { interruptAtMinute: 2 }] } } };

      // Act
      const report = await run('solo', scenario);

      // Assess
      const resumed = launches(report).map((l) => l.resumedFromSeconds!);
      expect(report.status).toBe('SUCCEEDED');
      expect(resumed).toHaveLength(3);
      expect(resumed[0]).toBe(0);
      expect(resumed[1]).toBeGreaterThanOrEqual(180);
      expect(resumed[2]).toBeGreaterThanOrEqual(resumed[1]! + 120);
      expect(phase(report).workLostSeconds).toBe(0);
    });

    it('checkpointEveryMinutes longer than the workload: only the notice save exists, and the relaunch resumes from it', async () => {
      // Prepare
      const scenario = { bootMinutes: 1, phases: { Solo: { workloadMinutes: 8, checkpointEveryMinutes: 60, attempts: [{ interruptAtMinute: 5 }] } } };

      // Act
      const report = await run('solo', scenario);

      // Assess
      const [, second] = launches(report);
      expect(report.status).toBe('SUCCEEDED');
      expect(second!.resumedFromSeconds).toBeGreaterThanOrEqual(300);
      expect(second!.resumedFromSeconds).toBeLessThanOrEqual(306);
      expect(phase(report).workLostSeconds).toBe(0);
    });

    it('the workload finishes in the seconds between the notice and the runner\'s stop: it succeeded, nothing is relaunched', async () => {
      // Prepare: the notice 3 s before the workload's end (the watcher polls every 5 s). The warning
      // event wakes the pipeline at once, but the runner never says it saved on the notice: no relaunch at once.
      const scenario = { bootMinutes: 1, phases: { Solo: { workloadMinutes: 5, checkpointEveryMinutes: 1, attempts: [{ interruptAtMinute: 4.95 }] } } };

      // Act
      const report = await run('solo', scenario);

      // Assess
      expect(report.status).toBe('SUCCEEDED');
      expect(launches(report)).toEqual([expect.objectContaining({ outcome: 'succeeded', cloud: expect.objectContaining({ workload: 'succeeded' }) })]);
      expect(relaunchData(report)).toEqual([]);
    });

    // FAILS: report.ts workLost() counts every full-mode workload on an instance that got a notice,
    // including one that completed (status Success) before the runner's stop: workLostMs then sees
    // its progress beyond its last save (no save: the workload ended before the notice stop) and
    // reports it lost (25 s here). The contract says "workload seconds of *interrupted* attempts
    // that no checkpoint saved"; a workload that succeeded lost nothing. Fix: skip invocations
    // whose invocationStatus is Success (or whose finish came before stoppedOnNoticeAt).
    it('a relaunched attempt that completes just before its own notice stop loses no work', async () => {
      // Prepare: attempt 2 resumes at minute 5:35 of 6 and gets its notice 24 s in, a second before its end.
      const scenario = { bootMinutes: 3.9, phases: { Solo: { workloadMinutes: 6, checkpointEveryMinutes: 1, attempts: [{ interruptAtMinute: 5.5 }, { interruptAtMinute: 0.4 }] } } };

      // Act
      const report = await run('solo', scenario);

      // Assess: the cloud's record says attempt 2's workload succeeded.
      const [, second] = launches(report);
      expect(report.status).toBe('SUCCEEDED');
      expect(second).toMatchObject({ outcome: 'succeeded', cloud: { workload: 'succeeded' } });
      expect(second!.noticeAt).not.toBeNull();
      expect(phase(report).workLostSeconds).toBe(0);
    });
  });

  describe('the notice against the deadline and the redrive', () => {
    it('a notice the pipeline sees a minute before the deadline: the phase gives up as an interruption, and the redrive resumes from the notice save', async () => {
      // Prepare: 40 minutes of work in a 24-minute work window; the notice comes at 22.9 of the phase.
      const scenario = { bootMinutes: 1, redriveAfterMinutes: 1, phases: { Solo: { workloadMinutes: 40, checkpointEveryMinutes: 5, attempts: [{ interruptAtMinute: 21.9 }] } } };

      // Act
      const report = await run('solo', scenario);

      // Assess: not a made-up budget failure; the pipeline cut nothing of the save short.
      const [first, redriven] = launches(report);
      const solo = phase(report);
      expect(solo.runs.map((r) => r.error)).toEqual(['SpotRetryBudgetExhausted', null]);
      expect(first).toMatchObject({ outcome: 'interrupted' });
      expect(redriven!.execution).toMatch(/-r1$/);
      expect(redriven!.resumedFromSeconds).toBeGreaterThanOrEqual(21.9 * 60);
      expect(solo.workLostSeconds).toBe(0);
      expect(report.status).toBe('SUCCEEDED');
    });

    it('a notice 4 s before the deadline (no time to save on it): the interruption with no budget left ends the run, and the redrive resumes from the last periodic save', async () => {
      // Prepare: the work deadline is at 1440 s; the workload starts about 60 s in; the notice comes at 1436 s,
      // the runner would stop the workload at 1441 s, after the command's executionTimeout.
      const scenario = { bootMinutes: 1, redriveAfterMinutes: 1, phases: { Solo: { workloadMinutes: 40, checkpointEveryMinutes: 5, attempts: [{ interruptAtMinute: 22.93 }] } } };

      // Act
      const report = await run('solo', scenario);

      // Assess: run 1 ends within its budget, its instance gone by then; the work since minute 20 is
      // lost (no save on the notice) and the redrive resumes from minute 20. The warning event brings
      // the notice to the pipeline before the deadline: spot's, first, names the end.
      const [first, redriven] = launches(report);
      const solo = phase(report);
      expect(first!.noticeAt).toBeGreaterThanOrEqual(1430);
      expect(solo.runs[0]!.error).toBe('SpotRetryBudgetExhausted');
      expect(first!.end).toBeLessThanOrEqual(solo.budgetSeconds);
      expect(redriven!.resumedFromSeconds).toBe(20 * 60);
      expect(solo.workLostSeconds).toBeGreaterThanOrEqual(170);
      expect(solo.workLostSeconds).toBeLessThanOrEqual(180);
      expect(report.status).toBe('SUCCEEDED');
    });

    it('a redrive after SpotRetryBudgetExhausted resumes from the same checkpoint, further than any attempt of the first run', async () => {
      // Prepare: two notices; the second leaves too little budget even for the rest of the work.
      const scenario = { bootMinutes: 1, redriveAfterMinutes: 5, phases: { Solo: { workloadMinutes: 15, checkpointEveryMinutes: 2, attempts: [{ interruptAtMinute: 8 }, { interruptAtMinute: 5 }] } } };

      // Act
      const report = await run('solo', scenario);

      // Assess
      const all = launches(report);
      expect(phase(report).runs.map((r) => r.error)).toEqual(['SpotRetryBudgetExhausted', null]);
      expect(all.map((l) => l.execution.slice(-3))).toEqual(['-r0', '-r0', '-r1']);
      expect(all[2]!.resumedFromSeconds).toBeGreaterThanOrEqual(13 * 60);
      expect(all[2]!.resumedFromSeconds).toBeGreaterThan(all[1]!.resumedFromSeconds!);
      expect(report.metrics.filter((m) => m.name === 'SpotRetryBudgetExhausted')).toHaveLength(1);
    });

    it('the checkpoint lets a relaunch in that the workload (longer than attemptSeconds says) then overruns: the deadline still ends it, within the budget', async () => {
      // Prepare: a 22-minute workload in a phase that promised 10-minute attempts; launches and sends throttled, responses lost.
      const scenario = {
        bootMinutes: 1,
        throttle: { 'EC2.CreateFleet': 4, 'SSM.SendCommand': 6 },
        lostResponses: { 'send-workload': 2, 'launch-instance': 1 },
        phases: { Solo: { workloadMinutes: 22, checkpointEveryMinutes: 1, attempts: [{ interruptAtMinute: 9 }] } },
      };

      // Act
      const report = await run('solo', scenario);

      // Assess: relaunched on the strength of the checkpoint, then stopped by the phase's own clock.
      const [first, second] = launches(report);
      expect(phase(report)).toMatchObject({ status: 'FAILED', error: 'PhaseBudgetExceeded', attempts: 2 });
      expect(second!.resumedFromSeconds).toBeGreaterThanOrEqual(9 * 60);
      expect(first!.cloud.terminatedBy).toBe('spot');
      expect(second!.cloud.terminatedBy).toBe('pipeline');
      expect(second!.end).toBeLessThanOrEqual(phase(report).budgetSeconds);
    });
  });

  describe('the notice with lost responses, throttling, an abort', () => {
    it('notice + lost PollWorkload and HandleFailure responses + throttled S3.GetObject and EC2 reads: one relaunch, one datum, resumed from the notice save', async () => {
      // Prepare
      const scenario = {
        bootMinutes: 1,
        lostResponses: { 'poll-workload': 4, 'handle-failure': 3 },
        throttle: { 'S3.GetObject': 3, 'EC2.DescribeSpotInstanceRequests': 6, 'EC2.DescribeInstances': 6, 'EC2.TerminateInstances': 4 },
        phases: { Solo: { workloadMinutes: 6, checkpointEveryMinutes: 1, attempts: [{ interruptAtMinute: 3.5 }] } },
      };

      // Act
      const report = await run('solo', scenario);

      // Assess
      const [first, second] = launches(report);
      expect(report.status).toBe('SUCCEEDED');
      expect(first).toMatchObject({ outcome: 'interrupted', cloud: { workloadsStarted: 1 } });
      expect(second!.resumedFromSeconds).toBeGreaterThanOrEqual(210);
      expect(relaunchData(report)).toHaveLength(1);
      expect(phase(report).workLostSeconds).toBe(0);
    });

    it('S3.GetObject throttled 20 times when only the checkpoint would make a relaunch fit: the state machine retries HandleFailure until it reads the progress, and the relaunch goes on', async () => {
      // Prepare: as in the case above that relaunched on its checkpoint, but S3 throttles the progress read.
      const base = { bootMinutes: 1, phases: { Solo: { workloadMinutes: 12, checkpointEveryMinutes: 1, attempts: [{ interruptAtMinute: 10.5 }] } } };

      // Act
      const readable = await run('solo', base);
      const throttled = await run('solo', { ...base, throttle: { 'S3.GetObject': 20 } });

      // Assess: throttling is never a verdict; the same interruption relaunches either way.
      expect(phase(readable)).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
      expect(phase(throttled)).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
      expect(throttled.throttledCalls['S3.GetObject']).toBe(20);
    });

    it('an abort while the noticed instance still saves (the relaunch already launched at once), then a redrive: one datum for the launch that happened, no instance left, and the redrive resumes from the notice save', async () => {
      // Prepare: the notice about 3 minutes in (the relaunch launches then), the abort at 4 (spot would take the instance at 5).
      const scenario = { bootMinutes: 1, abortAtMinute: 4, redriveAfterMinutes: 1, phases: { Solo: { workloadMinutes: 6, checkpointEveryMinutes: 1, attempts: [{ interruptAtMinute: 2 }] } } };

      // Act
      const report = await run('solo', scenario);

      // Assess
      const [noticed, relaunched, redriven] = launches(report);
      expect(report.status).toBe('SUCCEEDED');
      expect(phase(report).runs.map((r) => r.status)).toEqual(['ABORTED', 'SUCCEEDED']);
      expect(noticed!.cloud.terminatedBy).toMatch(/^(safety-net|spot)$/);
      expect(noticed!.end).toBeLessThanOrEqual(noticed!.noticeAt! + 120);
      expect(relaunched).toMatchObject({ outcome: 'aborted', attempt: 2 });
      expect(relaunched!.start).toBeLessThanOrEqual(noticed!.noticeAt! + 60);
      expect(relaunchData(report)).toHaveLength(1);
      expect(redriven!.resumedFromSeconds).toBeGreaterThanOrEqual(120);
    });

    it('an abort during the relaunch backoff, then a redrive: no datum for the relaunch that never launched, and the redrive resumes from the notice save', async () => {
      // Prepare: the notice about 3 minutes in, its warning event lost: the pipeline learns of the
      // interruption when spot takes the instance at about 5 (the instance's terminated event); the
      // 90 s backoff runs until about 6.5; the abort at 6.
      const scenario = {
        bootMinutes: 1,
        abortAtMinute: 6,
        redriveAfterMinutes: 1,
        lostEvents: ['EC2 Spot Instance Interruption Warning'],
        phases: { Solo: { workloadMinutes: 6, checkpointEveryMinutes: 1, attempts: [{ interruptAtMinute: 2 }] } },
      };

      // Act
      const report = await run('backoff', scenario);

      // Assess
      const all = launches(report);
      expect(phase(report).runs.map((r) => r.status)).toEqual(['ABORTED', 'SUCCEEDED']);
      expect(all.map((l) => l.execution.slice(-3))).toEqual(['-r0', '-r1']);
      expect(all[0]!.cloud.terminatedBy).toBe('spot');
      expect(relaunchData(report)).toEqual([]);
      expect(all[1]!.resumedFromSeconds).toBeGreaterThanOrEqual(120);
    });

    it('every poll around the notice unreadable (GetCommandInvocation throttled 40 times): the attempt still ends as an interruption and the relaunch resumes from the notice save', async () => {
      // Prepare: the notice 18 s into the workload; the first 8 polls (5 SDK tries each) cannot read the command.
      const scenario = { bootMinutes: 1, throttle: { 'SSM.GetCommandInvocation': 40 }, phases: { Solo: { workloadMinutes: 5, checkpointEveryMinutes: 1, attempts: [{ interruptAtMinute: 0.3 }] } } };

      // Act
      const report = await run('solo', scenario);

      // Assess
      const [first, second] = launches(report);
      expect(report.status).toBe('SUCCEEDED');
      expect(first).toMatchObject({ outcome: 'interrupted', cloud: { terminatedBy: 'spot' } });
      expect(second!.resumedFromSeconds).toBeGreaterThanOrEqual(18);
      expect(second!.resumedFromSeconds).toBeLessThanOrEqual(24);
      expect(report.throttledCalls['SSM.GetCommandInvocation']).toBe(40);
    });

    it('the pipeline sees the notice and the workload goes quiet (stopped by the runner) under a 60 s silence timeout: an interruption, not a hang', async () => {
      // Prepare
      const scenario = { bootMinutes: 1, phases: { Solo: { workloadMinutes: 10, checkpointEveryMinutes: 1, attempts: [{ interruptAtMinute: 3.5 }] } } };

      // Act
      const report = await run('quiet', scenario);

      // Assess
      expect(report.status).toBe('SUCCEEDED');
      expect(launches(report)[0]).toMatchObject({ outcome: 'interrupted' });
    });

    // FAILS: with a spot request that does not (yet) show the interruption, the pipeline cannot see
    // the notice, but the runner acts on it (instance metadata) and stops the workload, which then
    // prints nothing more. A silence timeout below the notice's two minutes (60 s is allowed) trips
    // first: PollWorkload cancels the command and HandleFailure fails the phase WorkloadHung, a
    // genuine error, never relaunched, for what the cloud records as a spot interruption (notice
    // at 270 s, the workload printing every minute until the runner stopped it). Two gaps:
    //   - decisions/attempt.ts afterPoll treats silence after the runner's own notice line
    //     ("pipeline-runner: spot interruption notice: ...", which the runner prints on stderr) as a
    //     hang; it should take that line as the notice seen (command.notice) and wait the window out;
    //   - the simulator never shows that stderr line for a workload that prints on stdout
    //     (services/ssm.ts outputLines returns [] for a stream the workload does not use before the
    //     runner's own lines are added).
    // (Or refuse silenceTimeoutSeconds below NOTICE_SAVE_WINDOW_SECONDS + pollIntervalSeconds.)
    it('the spot request does not show the notice and the silence timeout is shorter than the notice: still an interruption, never WorkloadHung', async () => {
      // Prepare
      const scenario = { bootMinutes: 1, phases: { Solo: { workloadMinutes: 10, checkpointEveryMinutes: 1, attempts: [{ interruptAtMinute: 3.5, spotStatus: null }] } } };

      // Act
      const report = await run('quiet', scenario);

      // Assess: the cloud's record: a notice, then a workload that printed until the runner stopped it.
      const [first] = launches(report);
      expect(first!.noticeAt).not.toBeNull();
      expect(phase(report).error).not.toBe('WorkloadHung');
      expect(first!.outcome).toBe('interrupted');
      expect(report.status).toBe('SUCCEEDED');
    });
  });

  describe('hung workloads and the notice', () => {
    it('a hung workload whose silence trips before any notice is WorkloadHung: not relaunched, its checkpoint never read', async () => {
      // Prepare
      const scenario = { bootMinutes: 1, phases: { Solo: { workloadMinutes: 10, checkpointEveryMinutes: 1, attempts: [{ hang: true, interruptAtMinute: 7 }] } } };

      // Act
      const report = await run('solo', scenario);

      // Assess
      expect(phase(report)).toMatchObject({ status: 'FAILED', error: 'WorkloadHung', attempts: 1 });
      expect(launches(report)[0]!.cloud.workload).toBe('hung');
      expect(checkpointReads).toBe(0);
    });

    // FAILS: the simulator counts a hung workload as making progress: instance-runner.ts progressAt
    // uses `inv.hang ? Infinity : inv.durationMs` as the cap, so its periodic saves record elapsed
    // time as progress, past the workload's whole length (1205 s of a 600 s workload here). The
    // relaunch then "resumes" beyond the end, runs 1 s and succeeds: a hung workload's relaunch
    // finishes work nobody did. A workload that printed nothing after its start line has made no
    // progress: progressAt should stay at resumedFromMs for a hung invocation (and the progress
    // file read by HandleFailure, services/s3.ts, must never exceed the work done).
    it('a hung workload that then gets the notice is relaunched (spot\'s doing), but resumes from no more than the work it did', async () => {
      // Prepare: hung from its start, checkpointing every minute; the notice at minute 20 (the silence timeout is 30).
      const scenario = { bootMinutes: 1, phases: { Solo: { workloadMinutes: 10, checkpointEveryMinutes: 1, attempts: [{ hang: true, interruptAtMinute: 20 }] } } };

      // Act
      const report = await run('long', scenario);

      // Assess: the relaunch runs the whole workload (nothing was done before).
      const [first, second] = launches(report);
      expect(first).toMatchObject({ outcome: 'interrupted' });
      expect(second!.resumedFromSeconds).toBe(0);
      expect(second!.end - second!.start).toBeGreaterThanOrEqual(10 * 60);
    });
  });

  describe('runner refusals (code, secrets) combined', () => {
    it('corrupt code, with the notice at the workload\'s start, and a redrive: ArtifactIntegrityFailed both times, nothing run, never relaunched, no checkpoint read', async () => {
      // Prepare
      const scenario = { bootMinutes: 1, redriveAfterMinutes: 2, artifacts: { code: { corrupt: true } }, phases: { Solo: { checkpointEveryMinutes: 1, attempts: [{ interruptAtMinute: 0 }] } } };

      // Act
      const report = await run('code', scenario);

      // Assess
      const solo = phase(report);
      expect(report.status).toBe('FAILED');
      expect(solo.runs.map((r) => r.error)).toEqual(['ArtifactIntegrityFailed', 'ArtifactIntegrityFailed']);
      expect(solo.launches.map((l) => l.cloud.workload)).toEqual(['not-run', 'not-run']);
      expect(report.workloadsRun).toBe(0);
      expect(relaunchData(report)).toEqual([]);
      expect(checkpointReads).toBe(0);
      expect(report.outputs).toEqual([]);
    });

    it('a secret the instance cannot read, in a parallel group whose sibling is in its notice window: SecretUnavailable, the sibling stopped, no datum, nothing left running', async () => {
      // Prepare: Crunch gets its notice 6 s into its workload, as Keys' runner refuses.
      const scenario = {
        bootMinutes: 1,
        secretsUnavailable: ['ssm:/dpadv/db-password'],
        phases: { Crunch: { workloadMinutes: 8, checkpointEveryMinutes: 1, attempts: [{ interruptAtMinute: 0.1 }] } },
      };

      // Act
      const report = await run('group', scenario);

      // Assess
      expect(report.status).toBe('FAILED');
      expect(phase(report, 'Keys')).toMatchObject({ status: 'FAILED', error: 'SecretUnavailable' });
      expect(launches(report, 'Keys')[0]!.cloud.workload).toBe('not-run');
      expect(phase(report, 'Crunch').runs[0]!.status).toBe('ABORTED');
      expect(launches(report, 'Crunch')).toHaveLength(1);
      expect(relaunchData(report)).toEqual([]);
      expect(report.cause).toContain('SecretUnavailable');
    });

    it('the same group redriven with the secret still unreadable: Keys refuses again, and Crunch (stopped in both runs) resumes from its notice save', async () => {
      // Prepare: Crunch's notice 3 s into its workload, so the runner has stopped it and saved before the group is stopped.
      const scenario = {
        bootMinutes: 1,
        redriveAfterMinutes: 1,
        secretsUnavailable: ['ssm:/dpadv/db-password'],
        phases: { Crunch: { workloadMinutes: 8, checkpointEveryMinutes: 1, attempts: [{ interruptAtMinute: 0.05 }] } },
      };

      // Act
      const report = await run('group', scenario);

      // Assess: no run of Keys ever runs its workload; the redriven Crunch restores what its notice saved.
      expect(report.status).toBe('FAILED');
      expect(phase(report, 'Keys').runs.map((r) => r.error)).toEqual(['SecretUnavailable', 'SecretUnavailable']);
      expect(launches(report, 'Keys').map((l) => l.cloud.workload)).toEqual(['not-run', 'not-run']);
      const crunch = launches(report, 'Crunch');
      expect(crunch.map((l) => l.execution.slice(-3))).toEqual(['-r0', '-r1']);
      expect(crunch[1]!.resumedFromSeconds).toBeGreaterThanOrEqual(3);
      expect(relaunchData(report)).toEqual([]);
    });
  });

  describe('preflight', () => {
    it('a preflight reclaimed mid-probe: no checkpoint location, nothing read from S3, relaunched for a whole attempt', async () => {
      // Prepare
      const scenario = { mode: 'preflight', bootMinutes: 1, preflightMinutes: 2, phases: { Solo: { checkpointEveryMinutes: 1, attempts: [{ interruptAtMinute: 1 }] } } };

      // Act
      const report = await run('solo', scenario);

      // Assess
      expect(report.status).toBe('SUCCEEDED');
      expect(launches(report).map((l) => l.outcome)).toEqual(['interrupted', 'preflight-ok']);
      expect(checkpointReads).toBe(0);
      expect(report.workloadsRun).toBe(0);
    });
  });
});

describe('the runner\'s own exits, as the pipeline classifies them', () => {
  // FAILS: exit 75 is the runner's "the spot notice came, the workload was stopped and its
  // checkpoint saved, but the instance was still running five minutes later" (contract/runner.ts,
  // RUNNER_EXIT.noticeWithoutInterruption). decisions/classify.ts does not know it: RUNNER_FAILURES
  // holds 65, 66 and 74 only, so a Failed/75 falls to row 4, "workload-error, exit code 75", and
  // the phase fails WorkloadFailed, never relaunched, for a workload spot's notice stopped. (The
  // pipeline only reaches it when it did not see the notice itself: a spot request that does not
  // show it, an action other than terminate.) Fix: a row for 75 before row 4 that classifies it
  // as an interruption (reason e.g. 'notice-without-interruption'), so the relaunch resumes from
  // the checkpoint the runner saved.
  it('exit 75 (notice without interruption) is no genuine workload error', () => {
    // Act
    const verdict = classify({ commandStatus: 'Failed', responseCode: RUNNER_EXIT.noticeWithoutInterruption, instanceState: 'running', spotStatusCode: 'fulfilled', endedBeforeTimeout: true, instanceLooked: true });

    // Assess
    expect(verdict.state).toBe('failed');
    expect(verdict).not.toMatchObject({ kind: 'workload-error' });
  });
});

describe('the deadline while the pipeline waits out a notice it has seen', () => {
  const phaseSettings = { pollIntervalSeconds: 60, silenceTimeoutSeconds: 1800, budgetSeconds: 5400 };
  /** The DataPhase1 deadline: start + 5100 s. The pipeline saw the notice at 5050 s. */
  const deadline = { nowMs: at(5100), deadlineMs: at(5100) };
  const base = runningJob() as JobIn<'running'>;
  const noticed: JobIn<'running'> = {
    ...base,
    command: { ...base.command, notice: { seenAt: iso(at(5050)), reasonCode: 'marked-for-termination', detail: 'spot request status marked-for-termination' } },
  };

  it('the poll at the deadline reads the command still running: the interruption is named, not the budget', () => {
    // Act
    const decision = afterPoll(phaseSettings, noticed, { signals: { state: 'running' }, commandStatus: 'InProgress', responseCode: -1, invocationLastLine: '' }, deadline);

    // Assess
    expect(decision.job).toMatchObject({ status: 'failed', failure: { kind: 'interruption', reasonCode: 'marked-for-termination' } });
  });

  // FAILS: decisions/attempt.ts afterPoll returns early for an unreadable look: at the deadline it
  // fails the attempt as `budget/deadline` without looking at command.notice, so the same attempt
  // ends PhaseBudgetExceeded when the deadline poll is throttled and SpotRetryBudgetExhausted (the
  // interruption) when it is not. The notice the pipeline already saw does not depend on this
  // poll. Fix: in the unreadable branch, at the deadline, fail with the notice's interruption when
  // command.notice is set.
  it('the poll at the deadline is unreadable (throttled): the notice already seen is still what ended the attempt', () => {
    // Act
    const decision = afterPoll(phaseSettings, noticed, { unreadable: true }, deadline);

    // Assess
    expect(decision.job).toMatchObject({ status: 'failed', failure: { kind: 'interruption', reasonCode: 'marked-for-termination' } });
  });
});
