/**
 * Adversarial round on the operator CLI (`spot-pipeline`): combinations an attacker or an unlucky
 * operator reaches. Each test pins one problem an adversarial round found (it failed on the code of
 * the time, and passes since its fix); its comment says what the operator saw.
 */
import * as path from 'node:path';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { SFNClient } from '@aws-sdk/client-sfn';
import { beforeAll, describe, expect, it } from 'vitest';
import { cliOn, historyTimeline, timelineOf, type Result } from './helpers';
import type { Clients } from '../../cli/aws';
import { runSimulation, type Simulation } from '../../simulator/run';
import { loadScenario, parseScenario } from '../../simulator/scenario';
import { outputLines } from '../../simulator/services/ssm';

const ROOT = path.join(__dirname, '..', '..');
const SCENARIOS = path.join(ROOT, 'scenarios');
const SIM_SCENARIOS = path.join(ROOT, 'test', 'simulator', 'scenarios');
const CLOUD_LAB = path.join(ROOT, 'examples', 'cloud-lab-master.json');
const DAY = 86_400_000;

const cli = (sim: Simulation, argv: string[], clients?: () => Clients, at?: number): Promise<Result> => cliOn(sim, argv, { clients, at });
const simulatorTimeline = historyTimeline;

describe('redrive and status given an execution that is not a pipeline execution', () => {
  let sim: Simulation;
  beforeAll(async () => {
    sim = await runSimulation(loadScenario(path.join(SIM_SCENARIOS, 'genuine-error-dataphase1.json')));
  });

  it('redrive --yes refuses a SpotPhase execution ARN (README: "Redrive the pipeline execution, never a phase execution on its own")', async () => {
    // What the operator sees: `spot-pipeline redrive <the phase execution's ARN, copied from the console> --yes`
    // prints a nonsense plan ("kept: none ... then, as never run before: DataPhase1, Research, ...") and
    // REDRIVES THE PHASE EXECUTION ALONE, exit 0: its budget, anchored on its old start, is already spent,
    // and afterwards `redrive saturday-run` says DataPhase1 "ended RUNNING".
    const phase = sim.stepFunctions.executions.find((e) => e.parentArn !== undefined && e.status === 'FAILED')!;
    const before = sim.stepFunctions.executions.length;

    const result = await cli(sim, ['redrive', phase.arn, '--yes']);

    expect(sim.stepFunctions.executions.length, 'a phase execution was redriven on its own').toBe(before);
    expect(result.code).not.toBe(0);
    expect(result.err).toMatch(/not an execution of saturday-pipeline|not a pipeline execution/);
  });

  it('status refuses an ARN of another state machine instead of drawing it as a pipeline run', async () => {
    // What the operator sees: `status <phase execution ARN>` exits 0 with "Execution: DataPhase1-...-r0 FAILED",
    // every phase NOT_RUN, and a VERDICT suggesting `spot-pipeline redrive DataPhase1-...-r0`, which then
    // fails with "no execution" (it is looked up under the pipeline's state machine).
    const phase = sim.stepFunctions.executions.find((e) => e.parentArn !== undefined)!;

    const result = await cli(sim, ['status', phase.arn]);

    expect(result.code).not.toBe(0);
    expect(result.out).not.toContain('VERDICT');
  });
});

describe('a sharded phase aborted while some shards had not started (cloud-lab-master, 19 shards, 8 at a time)', () => {
  let sim: Simulation;
  beforeAll(async () => {
    sim = await runSimulation(parseScenario({ name: 'abort mid-map', config: CLOUD_LAB, abortAtMinute: 10 }));
  });

  it('the redrive plan names every shard that will run, the 11 never started included', async () => {
    // What the operator sees: "re-run: SolverCache: shards epl, laliga, ... primeira run again" (8 shards);
    // the redrive actually runs all 19 (the 11 that never started too; checked with redriveAfterMinutes):
    // the plan under-states the re-run, its time and its cost by more than half.
    const result = await cli(sim, ['redrive', 'saturday-run', '--config', CLOUD_LAB]);

    expect(result.code).toBe(0);
    for (const shard of ['jupiler', 'superlig', 'mls']) expect(result.out).toContain(shard);
  });

  it('status counts the declared shards, not only those that started', async () => {
    // What the operator sees: "SolverCache  FAILED ... 8 shards" for a 19-shard phase, with no line for the 11
    // shards that never ran (the simulator's report lists them NOT_RUN). Same with a preflight: "1 shards".
    const result = await cli(sim, ['status', '--config', CLOUD_LAB]);

    const line = result.out.split('\n').find((l) => l.startsWith('  SolverCache '))!;
    expect(line).toMatch(/ 19 shards$/);
    expect(result.out).toMatch(/\n {4}\[mls\] +NOT_RUN/);
  });
});

describe('logs --follow', () => {
  let sim: Simulation;
  beforeAll(async () => {
    sim = await runSimulation(loadScenario(path.join(SIM_SCENARIOS, 'stderr-logging.json')));
  });

  /**
   * Clients on the simulated account, but the first poll sees the run as it was while Research ran:
   * the pipeline RUNNING, Research's execution without its end, and its stderr stream not ingested yet
   * (CloudWatch Logs: each stream is uploaded on its own, so a line can arrive after a later line of the
   * other stream).
   */
  function whileRunning(options: { polls: number }): { clients: () => Clients; stats: { describes: number }; stop: () => void } {
    const stats = { describes: 0 };
    let stopped = false;
    const clients = () => {
      const sfn = new SFNClient({});
      const logs = new CloudWatchLogsClient({});
      const research = sim.stepFunctions.executions.find((e) => e.parentArn !== undefined && e.name.startsWith('Research-'))!.arn;
      const sfnSend = sfn.send.bind(sfn) as (c: unknown) => Promise<Record<string, unknown>>;
      const logsSend = logs.send.bind(logs) as (c: unknown) => Promise<Record<string, unknown>>;
      const early = () => stats.describes <= options.polls;
      const wrappedSfn = {
        config: sfn.config,
        send: async (command: { constructor: { name: string }; input: { executionArn?: string } }) => {
          if (stopped) throw Object.assign(new Error('test over'), { name: 'TestOver' });
          const out = await sfnSend(command);
          if (command.constructor.name === 'DescribeExecutionCommand') {
            stats.describes += 1;
            if (early()) return { ...out, status: 'RUNNING', stopDate: undefined };
          }
          if (command.constructor.name === 'GetExecutionHistoryCommand' && command.input.executionArn === research && early()) return { ...out, events: (out.events as unknown[]).slice(0, -1) };
          return out;
        },
      };
      const wrappedLogs = {
        send: async (command: unknown) => {
          const out = await logsSend(command);
          if (!early()) return out;
          return { ...out, events: (out.events as { logStreamName: string }[]).filter((e) => !e.logStreamName.endsWith('/stderr')) };
        },
      };
      return { sfn: wrappedSfn, logs: wrappedLogs } as unknown as Clients;
    };
    return { clients, stats, stop: () => (stopped = true) };
  }

  it('prints a stderr line that CloudWatch ingested after a later stdout line', async () => {
    // What the operator sees: with --follow, every stderr line of Research printed before the last stdout
    // line of the first poll is never shown (20 of its 41 lines here): the next poll asks FilterLogEvents
    // from startTime = the latest timestamp seen on EITHER stream (cli/logs.ts `since`, one per command).
    const invocations = sim.cloud.invocations.filter((i) => i.phase === 'Research');
    const written = invocations.flatMap((inv) => [...outputLines(sim.cloud, inv, 'stdout'), ...outputLines(sim.cloud, inv, 'stderr')]).length;
    const { clients } = whileRunning({ polls: 1 });

    const result = await cli(sim, ['logs', 'Research', '--follow', '--interval', '1', '--json'], clients);

    expect(result.code).toBe(0);
    expect(result.out.split('\n').filter(Boolean)).toHaveLength(written);
  });

  it('--interval beyond what a timer holds does not turn into a poll every millisecond (and --help names --interval)', async () => {
    // What the operator sees: `logs X --follow --interval 3000000` (any value over 2147483 s) hammers
    // DescribeExecution and every history as fast as they answer (Node clamps the overflowing timer to 1 ms,
    // with a TimeoutOverflowWarning), until Step Functions throttles the account. --interval is not in the usage.
    const { clients, stats, stop } = whileRunning({ polls: Number.POSITIVE_INFINITY });
    const following = cli(sim, ['logs', 'Research', '--follow', '--interval', '3000000'], clients);
    await new Promise((r) => setTimeout(r, 500));
    const polls = stats.describes;
    stop();
    await following;
    const help = await cli(sim, ['--help']);

    expect(polls).toBeLessThanOrEqual(1);
    expect(help.out).toContain('--interval');
  });
});

describe('start: bad input is one line naming the field, exit 2, and nothing started', () => {
  let sim: Simulation;
  beforeAll(async () => {
    sim = await runSimulation(loadScenario(path.join(SIM_SCENARIOS, 'genuine-error-dataphase1.json')));
  });

  it('--param __proto__=x is refused as an undeclared parameter, not silently dropped', async () => {
    // What the operator sees: exit 0 and an execution ARN; the execution's input has no params at all
    // (params["__proto__"] = ... set the object's prototype), so the value given was silently ignored.
    const before = sim.stepFunctions.executions.length;

    const result = await cli(sim, ['start', '--param', '__proto__=1']);

    expect(result.code).toBe(2);
    expect(result.err).toContain('params.__proto__');
    expect(sim.stepFunctions.executions.length).toBe(before);
  });

  it('--name is checked before StartExecution: an invalid or empty name is exit 2 naming --name', async () => {
    // What the operator sees: `--name "bad name"` is exit 1 "InvalidName: Invalid Name: 'bad name'" (an AWS
    // error, not usage; README: 2 for bad input naming the field); `--name ""` starts an execution under a
    // random UUID, exit 0, as if no name had been given.
    const before = sim.stepFunctions.executions.length;

    const spaced = await cli(sim, ['start', '--name', 'bad name']);
    const empty = await cli(sim, ['start', '--name', '']);

    expect(spaced.code).toBe(2);
    expect(spaced.err).toMatch(/--name/);
    expect(empty.code).toBe(2);
    expect(sim.stepFunctions.executions.length).toBe(before);
  });

  it('--name of an execution still running with the same input says nothing new was started', async () => {
    // What the operator sees: the second `start --name nightly` prints the same ARN, exit 0, as if it had
    // started a second run (StartExecution is idempotent for a RUNNING execution with the same name and input).
    await cli(sim, ['start', '--name', 'nightly']);

    const again = await cli(sim, ['start', '--name', 'nightly']);

    expect(`${again.out}\n${again.err}`).toMatch(/already (running|exists|started)/i);
  });
});

describe('redrive of an execution older than 14 days', () => {
  it('is refused, as Step Functions refuses it (API reference, RedriveExecution: "didn\'t complete successfully in the last 14 days"; DescribeExecution redriveStatusReason "Execution redrivable period exceeded")', async () => {
    // What the operator sees: the plan, then "Redriven: arn:... at ..." exit 0, for a run that ended 20 days
    // ago: the simulated account accepts the redrive (simulator/step-functions.ts redrive checks only the
    // status) and the CLI never looks at DescribeExecution's redriveStatus. On AWS the same command ends
    // in "ExecutionNotRedrivable" after the plan promised a redrive. (The account is served 20 days after
    // the run: serveSimulation's clock goes on from where the run left it.)
    const sim = await runSimulation(loadScenario(path.join(SIM_SCENARIOS, 'genuine-error-dataphase1.json')));
    const runsBefore = sim.stepFunctions.executions.filter((e) => e.name === 'saturday-run').length;
    const twentyDaysLater = sim.endedAt + 20 * DAY;

    const dry = await cli(sim, ['redrive', 'saturday-run'], undefined, twentyDaysLater);
    const result = await cli(sim, ['redrive', 'saturday-run', '--yes'], undefined, twentyDaysLater);

    expect(sim.stepFunctions.executions.filter((e) => e.name === 'saturday-run')).toHaveLength(runsBefore);
    expect(result.code).not.toBe(0);
    expect(dry.out + dry.err).toMatch(/14 days|redrivable period/);
  });
});

describe('status against the simulator, beyond the three runs test/cli/cli.test.ts compares', () => {
  it('a build stage: the timeline tells what the stage decided, as the simulator does', async () => {
    // What the operator sees: no "BuildMoolloy  artifact moolloy <version> is not built yet: building it on
    // spot" line, nor "built and recorded (sha256 ...)": the build stage's decision (from its CheckBuild /
    // RecordBuild states' outputs, in the pipeline's history) is missing from `status`, unlike the simulator.
    const scenario = loadScenario(path.join(SCENARIOS, 'build-once.json'));
    const sim = await runSimulation(scenario, { baseDir: SCENARIOS });

    const result = await cli(sim, ['status', '--config', path.resolve(SCENARIOS, scenario.config!)]);

    expect(timelineOf(result.out)).toEqual(simulatorTimeline(sim));
  });

  it('parallel sharded phases: same-minute lines in the simulator\'s order (cloud-lab-master)', async () => {
    // What the operator sees: at +05:39 the shards of SpecializedBacktests and ParamSweeps interleave in
    // another order than the simulator tells them (lines 458 on): ties are broken by the order of the
    // TaskSubmitted events, not by the executions' start; the README promises the timeline "line for line".
    const scenario = loadScenario(path.join(SCENARIOS, 'cloud-lab-master.json'));
    const sim = await runSimulation(scenario, { baseDir: SCENARIOS });

    const result = await cli(sim, ['status', '--config', CLOUD_LAB]);

    expect(timelineOf(result.out)).toEqual(simulatorTimeline(sim));
  });

  it('a run whose only instance went past its budget: the cost line does not say "no instance"', async () => {
    // What the operator sees: "Cost: $0.0000 (no instance); ... 1 launch(es) whose cost is not known" for a
    // run whose DataPhase1 instance ran its whole 90-minute budget (the attempt at the deadline is not priced).
    const sim = await runSimulation(parseScenario({ name: 'past the budget', phases: { DataPhase1: { workloadMinutes: 300 } } }));

    const result = await cli(sim, ['status']);

    expect(result.out).toMatch(/PhaseBudgetExceeded/);
    expect(result.out).not.toMatch(/^Cost: .*\(no instance\)/m);
  });
});
