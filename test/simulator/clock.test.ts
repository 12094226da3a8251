/**
 * The simulator's virtual clock at its edges. Node.js and fake timers cut a delay beyond 2^31-1 ms
 * (about 24.8 days) to 1 ms; Step Functions waits up to a year. The long-timer wrappers must carry
 * such delays whole: in themselves, in Wait states and execution timeouts of aws-local-stepfunctions,
 * and in the scenario's abortAtMinute and redriveAfterMinutes. After the executions end, the account
 * keeps running until the last instance is gone (instancesGoneAt).
 */
import FakeTimers from '@sinonjs/fake-timers';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadPipelineConfig } from '../../lib/config/load';
import type { SimulatedLambda } from '../../simulator/lambda-runtime';
import { installLongTimers, MAX_TIMER_DELAY_MS } from '../../simulator/long-timers';
import { AFTER_END_CAP_MS, runSimulation } from '../../simulator/run';
import { parseScenario } from '../../simulator/scenario';
import { SimulatedStepFunctions, type SimExecution } from '../../simulator/step-functions';
import { synthDeployment, type SimDeployment } from '../../simulator/synth';
import type { DeployedStateMachine } from '../../simulator/template';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const TO_FAKE: FakeTimers.FakeMethod[] = ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'];

/** A fake clock from 0 with the long timers over it, for each test of the calling suite; `.clock` is the current one. */
function underFakeClock(): { clock: ReturnType<typeof FakeTimers.install>; uninstall: () => void } {
  const current = {} as { clock: ReturnType<typeof FakeTimers.install>; uninstall: () => void };
  beforeEach(() => {
    current.clock = FakeTimers.install({ now: 0, toFake: TO_FAKE });
    current.uninstall = installLongTimers();
  });
  afterEach(() => {
    current.uninstall();
    current.clock.uninstall();
  });
  return current;
}

describe('long timers under the fake clock', () => {
  const clocks = underFakeClock();

  it('fires a 40-day timeout after 40 days, not at once', () => {
    // Prepare
    const fired: number[] = [];

    // Act
    setTimeout((tag: string) => fired.push(Date.now(), tag as never), 40 * DAY, 'done');
    clocks.clock.runAll();

    // Assess
    expect(fired).toEqual([40 * DAY, 'done']);
  });

  it('clearTimeout cancels a long timeout between its chunks', () => {
    // Prepare
    let fired = false;
    const handle = setTimeout(() => (fired = true), 40 * DAY);

    // Act: past the first chunk, then cancel.
    clocks.clock.tick(MAX_TIMER_DELAY_MS + 1000);
    clearTimeout(handle);
    clocks.clock.runAll();

    // Assess
    expect(fired).toBe(false);
    expect(clocks.clock.countTimers()).toBe(0);
  });

  it('a long interval fires once per period until cleared', () => {
    // Prepare
    const fired: number[] = [];
    const handle = setInterval(() => fired.push(Date.now() / DAY), 30 * DAY);

    // Act: timer by timer (a 1 ms interval would fire billions of times in a tick of 95 days).
    for (let i = 0; i < 20 && fired.length < 3; i++) clocks.clock.next();
    clearInterval(handle);

    // Assess
    expect(fired).toEqual([30, 60, 90]);
    expect(clocks.clock.countTimers()).toBe(0);
  });

  it('short delays stay the clock\'s own timers, and uninstalling puts the functions back', () => {
    // Prepare
    clocks.uninstall();
    const base = { setTimeout: globalThis.setTimeout, clearInterval: globalThis.clearInterval };
    clocks.uninstall = installLongTimers();
    const fired: number[] = [];

    // Act
    setTimeout(() => fired.push(Date.now()), 1000);
    const timers = clocks.clock.countTimers();
    clocks.clock.runAll();
    clocks.uninstall();
    clocks.uninstall = () => undefined;

    // Assess
    expect(fired).toEqual([1000]);
    expect(timers).toBe(1);
    expect({ setTimeout: globalThis.setTimeout, clearInterval: globalThis.clearInterval }).toEqual(base);
  });
});

describe('Wait states and execution timeouts beyond 24.8 days', () => {
  const lambda = { invoke: () => Promise.reject(new Error('no Lambda here')) } as unknown as SimulatedLambda;
  const deploy = (name: string, definition: Record<string, unknown>): DeployedStateMachine => ({
    logicalId: name,
    arn: `arn:aws:states:us-east-1:123456789012:stateMachine:${name}`,
    name,
    definition: definition as DeployedStateMachine['definition'],
  });
  /** Wait `waitDays`, under an execution timeout of `timeoutDays`. */
  const waiting = (name: string, waitDays: number, timeoutDays: number) =>
    deploy(name, { TimeoutSeconds: timeoutDays * 86_400, StartAt: 'Hold', States: { Hold: { Type: 'Wait', Seconds: waitDays * 86_400, Next: 'Done' }, Done: { Type: 'Succeed' } } });

  const clocks = underFakeClock();

  /** Fire timers one by one, letting promises settle between them, until the execution ends. */
  async function drive(execution: SimExecution): Promise<SimExecution> {
    for (let idle = 0; execution.status === 'RUNNING' && idle < 1000; ) {
      await new Promise((r) => setImmediate(r));
      if (execution.status !== 'RUNNING') break;
      if (clocks.clock.countTimers() > 0) {
        clocks.clock.next();
        idle = 0;
      } else idle += 1;
    }
    return execution.done;
  }

  it('a 40-day Wait under a 41-day execution timeout succeeds after 40 days', async () => {
    // Prepare
    const sm = waiting('forty-day-wait', 40, 41);
    const sfn = new SimulatedStepFunctions([sm], lambda);

    // Act
    const done = await drive(sfn.startExecution(sm.arn, {}));

    // Assess
    expect(done.status).toBe('SUCCEEDED');
    expect(done.stoppedAt! - done.startedAt).toBe(40 * DAY);
  });

  it('a 30-day execution timeout stops a 40-day Wait after 30 days', async () => {
    // Prepare
    const sm = waiting('thirty-day-timeout', 40, 30);
    const sfn = new SimulatedStepFunctions([sm], lambda);

    // Act
    const done = await drive(sfn.startExecution(sm.arn, {}));

    // Assess
    expect(done).toMatchObject({ status: 'TIMED_OUT', error: 'States.Timeout' });
    expect(done.stoppedAt! - done.startedAt).toBe(30 * DAY);
  });
});

describe('runSimulation: abortAtMinute beyond 24.8 days, and a redrive at the end of its 14 days', () => {
  describe('the built-in pipeline', () => {
    let deployment: SimDeployment;
    beforeAll(() => {
      deployment = synthDeployment(loadPipelineConfig());
    });

    // (A timer firing at its virtual minute after 40 days: the Wait and execution-timeout tests above.)
    it('an abortAtMinute 40 days out does not fire at once: a pipeline that ends in hours succeeds', async () => {
      // Prepare: without the long timers, the 57,600-minute delay is clamped and the abort comes first.
      const scenario = parseScenario({ abortAtMinute: 40 * 24 * 60, phases: { DataPhase1: { workloadMinutes: 1 }, Research: { workloadMinutes: 1 }, PredictorTraining: { workloadMinutes: 1 }, Backtester: { workloadMinutes: 1 } } });

      // Act
      const sim = await runSimulation(scenario, { deployment });

      // Assess
      expect(sim.pipeline.status).toBe('SUCCEEDED');
      expect(sim.pipeline.stoppedAt! - sim.startedAt).toBeLessThan(2 * 60 * MINUTE);
    });


    it('redrives 14 days after the failure (the longest Step Functions allows), and aborts the redriven run 40 minutes later', async () => {
      // Prepare: DataPhase1 fails at once; the operator redrives it 14 days later, then stops it
      // 40 minutes after that. (Timers beyond 24.8 days: the Wait and timeout tests above.)
      const redriveAfterMinutes = 14 * 24 * 60;
      const first = parseScenario({ phases: { DataPhase1: { workloadMinutes: 1, attempts: [{ exitCode: 1 }] } } });
      const failedAfter = await runSimulation(first, { deployment });
      const failedAtMinute = (failedAfter.pipeline.stoppedAt! - failedAfter.startedAt) / MINUTE;
      const scenario = parseScenario({ ...first, redriveAfterMinutes, abortAtMinute: Math.ceil(failedAtMinute) + redriveAfterMinutes + 40 });

      // Act
      const sim = await runSimulation(scenario, { deployment });

      // Assess
      const [failed, redriven] = sim.pipelineRuns;
      expect(failed!.status).toBe('FAILED');
      expect(redriven!.startedAt - failed!.stoppedAt!).toBe(redriveAfterMinutes * MINUTE);
      expect(redriven!.status).toBe('ABORTED');
      expect(redriven!.stoppedAt! - sim.startedAt).toBe(scenario.abortAtMinute! * MINUTE);
    }, 120_000);

    it('keeps the account running after the end until the orphan reaper has terminated a left-over instance', async () => {
      // Prepare: TerminateInstances is throttled long enough that the pipeline's own cleanup (and the
      // execution-cleanup rule's) fails, and the reaper's first sweeps too.
      const scenario = parseScenario({ throttle: { 'EC2.TerminateInstances': 300 } });

      // Act
      const sim = await runSimulation(scenario, { deployment });

      // Assess: an instance outlived the executions; the reaper, still firing, terminated it later.
      expect(sim.cloud.runningInstances(sim.endedAt).length).toBeGreaterThan(0);
      expect(sim.instancesGoneAt).toBeGreaterThan(sim.endedAt);
      expect(sim.instancesGoneAt).toBe(Math.max(...sim.cloud.instances.map((i) => i.terminatedAt!)));
      expect(sim.cloud.runningInstances(sim.instancesGoneAt)).toEqual([]);
      expect(sim.cloud.metrics.filter((m) => m.name === 'OrphansReaped' && m.at > sim.endedAt).reduce((n, m) => n + m.value, 0)).toBeGreaterThan(0);
      // endedAt stays the end of the executions and of the account's reaction to them: the cleanup
      // Lambda's asynchronous retries, one and two minutes apart.
      const lastStop = Math.max(...sim.stepFunctions.executions.map((e) => e.stoppedAt!));
      expect(sim.endedAt - lastStop).toBeGreaterThanOrEqual(3 * MINUTE);
      expect(sim.endedAt - lastStop).toBeLessThan(4 * MINUTE);
    }, 120_000);

    it('gives up 48 hours after the end when an instance cannot be terminated', async () => {
      // Prepare: every TerminateInstances call is throttled.
      const scenario = parseScenario({ throttle: { 'EC2.TerminateInstances': 1000 } });

      // Act
      const sim = await runSimulation(scenario, { deployment });

      // Assess: the scheduled rules kept firing (the reaper every 30 minutes) for 48 hours, then the run stopped.
      expect(sim.instancesGoneAt).toBeUndefined();
      expect(sim.cloud.runningInstances(sim.endedAt + AFTER_END_CAP_MS).length).toBeGreaterThan(0);
      const sweepsAfter = sim.eventBus.deliveries.filter((d) => d.event['detail-type'] === 'Scheduled Event' && d.at > sim.endedAt);
      expect(sweepsAfter.length).toBeGreaterThanOrEqual(AFTER_END_CAP_MS / (30 * MINUTE) - 1);
      expect(Math.max(...sweepsAfter.map((d) => d.at))).toBeLessThanOrEqual(sim.endedAt + AFTER_END_CAP_MS + MINUTE);
    }, 120_000);

    it('a run that leaves nothing behind stops at its end: the last instance was gone by then', async () => {
      // Act
      const sim = await runSimulation(parseScenario({}), { deployment });

      // Assess: no datum was put after the end (the clock did not run on).
      expect(sim.instancesGoneAt).toBeLessThanOrEqual(sim.endedAt);
      expect(sim.instancesGoneAt).toBe(Math.max(...sim.cloud.instances.map((i) => i.terminatedAt!)));
      expect(sim.cloud.metrics.every((m) => m.at <= sim.endedAt)).toBe(true);
    });
  });
});
