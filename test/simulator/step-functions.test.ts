/**
 * The simulated Step Functions service against AWS's documented behaviour, with small hand-written
 * state machines (and once the real pipeline): RedriveExecution re-runs only the unsuccessful
 * branches of a Parallel state and iterations of an inline Map state; StartExecution honours the
 * execution name and is idempotent for a running execution with the same input; startExecution.sync:2
 * names a refused StartExecution StepFunctions.<Error>Exception; AWS SDK integration tasks reach the
 * simulated account, and their errors are named <Service>.<Error>Exception for Retry and Catch.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePipelineConfig } from '../../lib/config/load';
import type { PipelineConfigInput } from '../../contract/config';
import { checkInvariants } from '../../simulator/invariants';
import type { SimulatedLambda } from '../../simulator/lambda-runtime';
import { buildReport } from '../../simulator/report';
import { runSimulation, type Simulation } from '../../simulator/run';
import { parseScenario } from '../../simulator/scenario';
import { SimulatedAwsError } from '../../simulator/services/errors';
import { phaseOf, SimulatedStepFunctions, type SimExecution } from '../../simulator/step-functions';
import { synthDeployment } from '../../simulator/synth';
import type { DeployedStateMachine } from '../../simulator/template';

const ACCOUNT = '123456789012';
const smArn = (name: string) => `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:${name}`;
const fnArn = (name: string) => `arn:aws:lambda:us-east-1:${ACCOUNT}:function:${name}`;
const SYNC_START = 'arn:aws:states:::states:startExecution.sync:2';

function deploy(name: string, definition: Record<string, unknown>): DeployedStateMachine {
  return { logicalId: name, arn: smArn(name), name, definition: definition as DeployedStateMachine['definition'] };
}

type Fn = (payload: Record<string, unknown>) => unknown;

/** A Lambda service whose functions are plain functions of the test, invocations counted by name. */
function fakeLambda(functions: Record<string, Fn>): { lambda: SimulatedLambda; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const lambda = {
    invoke: async (arn: string, payload: unknown) => {
      const name = arn.split(':').at(-1)!;
      calls.set(name, (calls.get(name) ?? 0) + 1);
      return functions[name]!(payload as Record<string, unknown>);
    },
  } as unknown as SimulatedLambda;
  return { lambda, calls };
}

const fail = (name: string, message = 'boom') => Object.assign(new Error(message), { name });
const later = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A function that fails its first `times` invocations (a little later, so its siblings finish first), then answers. */
function failingFirst(times: number, answer: Fn): Fn {
  let n = 0;
  return async (payload) => {
    n += 1;
    if (n <= times) {
      await later(5);
      throw fail('Boom', `failure ${n}`);
    }
    return answer(payload);
  };
}
const enteredStates = (execution: SimExecution) => execution.events.filter((e) => e.type === 'StateEntered').map((e) => e.state!.name);

describe('RedriveExecution of a Parallel state', () => {
  // Left succeeds; Right succeeds at Right1 and fails at Right2.
  const definition = {
    StartAt: 'Both',
    States: {
      Both: {
        Type: 'Parallel',
        Branches: [
          { StartAt: 'Left', States: { Left: { Type: 'Task', Resource: fnArn('left'), End: true } } },
          {
            StartAt: 'Right1',
            States: {
              Right1: { Type: 'Task', Resource: fnArn('right1'), Next: 'Right2' },
              Right2: { Type: 'Task', Resource: fnArn('right2'), End: true },
            },
          },
        ],
        ResultSelector: { 'left.$': '$[0].value', 'right.$': '$[1].value', 'seen.$': '$[1].seen' },
        ResultPath: '$.both',
        OutputPath: '$.both',
        Next: 'After',
      },
      After: { Type: 'Pass', End: true },
    },
  };

  function setUp(right2Failures: number) {
    const { lambda, calls } = fakeLambda({
      left: (p) => ({ value: `L${String(p.n)}` }),
      right1: (p) => ({ value: 'R1', n: p.n }),
      right2: failingFirst(right2Failures, (p) => ({ value: 'R2', seen: p.value })),
    });
    const sm = deploy('parallel-redrive', definition);
    return { sfn: new SimulatedStepFunctions([sm], lambda), sm, calls };
  }

  it('re-runs only the failed branch, from its failed state, and assembles the output in branch order', async () => {
    // Prepare
    const { sfn, sm, calls } = setUp(1);
    const first = await sfn.startExecution(sm.arn, { n: 7 }).done;
    expect(first.status).toBe('FAILED');

    // Act
    const redriven = await sfn.redrive(first).done;

    // Assess: Left and Right1 ran once in all; Right2 again, with Right1's output as its input.
    expect(redriven).toMatchObject({ status: 'SUCCEEDED', arn: first.arn, redriveCount: 1 });
    expect(Object.fromEntries(calls)).toEqual({ left: 1, right1: 1, right2: 2 });
    expect(redriven.output).toEqual({ left: 'L7', right: 'R2', seen: 'R1' });
    expect(enteredStates(redriven)).toEqual(['Both', 'Right2', 'After']);
    expect([...redriven.reused]).toEqual([['Both[0]', { value: 'L7' }]]);
    // The redriven run is the same execution: the same input.
    expect(redriven.input).toEqual({ n: 7 });
  });

  it('a second redrive still reuses the branch the first one took over', async () => {
    // Prepare: Right2 fails twice.
    const { sfn, sm, calls } = setUp(2);
    const first = await sfn.startExecution(sm.arn, { n: 1 }).done;
    const second = await sfn.redrive(first).done;
    expect(second.status).toBe('FAILED');

    // Act
    const third = await sfn.redrive(second).done;

    // Assess
    expect(third).toMatchObject({ status: 'SUCCEEDED', redriveCount: 2, output: { left: 'L1', right: 'R2', seen: 'R1' } });
    expect(Object.fromEntries(calls)).toEqual({ left: 1, right1: 1, right2: 3 });
  });

  it('refuses to redrive a running or succeeded execution (ExecutionNotRedrivable)', async () => {
    const { sfn, sm } = setUp(0);
    const running = sfn.startExecution(sm.arn, { n: 1 });
    expect(() => sfn.redrive(running)).toThrow(expect.objectContaining({ name: 'ExecutionNotRedrivable' }));
    await running.done;
    expect(() => sfn.redrive(running)).toThrow(expect.objectContaining({ name: 'ExecutionNotRedrivable' }));
  });
});

describe('RedriveExecution of an inline Map state', () => {
  it('re-runs only the failed iteration and keeps the results in item order', async () => {
    // Prepare: item 2 fails once; the items are selected with the item and the state input.
    let item2 = 0;
    const { lambda, calls } = fakeLambda({
      work: async (p) => {
        if (p.item === 2 && ++item2 === 1) {
          await later(5);
          throw fail('Boom');
        }
        calls.set(`item ${String(p.item)}`, (calls.get(`item ${String(p.item)}`) ?? 0) + 1);
        return `${String(p.tag)}-${String(p.item)}`;
      },
    });
    const sm = deploy('map-redrive', {
      StartAt: 'Each',
      States: {
        Each: {
          Type: 'Map',
          ItemsPath: '$.items',
          ItemSelector: { 'item.$': '$$.Map.Item.Value', 'tag.$': '$.tag' },
          ItemProcessor: { ProcessorConfig: { Mode: 'INLINE' }, StartAt: 'Work', States: { Work: { Type: 'Task', Resource: fnArn('work'), End: true } } },
          ResultPath: '$.results',
          End: true,
        },
      },
    });
    const sfn = new SimulatedStepFunctions([sm], lambda);
    const first = await sfn.startExecution(sm.arn, { items: [1, 2, 3], tag: 't' }).done;
    expect(first.status).toBe('FAILED');

    // Act
    const redriven = await sfn.redrive(first).done;

    // Assess: items 1 and 3 ran once in all, item 2 twice (one failure, one success).
    expect(redriven.status).toBe('SUCCEEDED');
    expect(redriven.output).toEqual({ items: [1, 2, 3], tag: 't', results: ['t-1', 't-2', 't-3'] });
    expect(calls.get('work')).toBe(4);
    expect(calls.get('item 1')).toBe(1);
    expect(calls.get('item 3')).toBe(1);
  });
});

describe('StartExecution names and idempotency', () => {
  function setUp() {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { lambda, calls } = fakeLambda({ child: async (p) => (await gate, { doubled: Number(p.n) * 2 }) });
    const child = deploy('child', { StartAt: 'Work', States: { Work: { Type: 'Task', Resource: fnArn('child'), End: true } } });
    const other = deploy('other-child', { StartAt: 'Work', States: { Work: { Type: 'Task', Resource: fnArn('child'), End: true } } });
    return { lambda, calls, child, other, release };
  }

  it('returns the running execution for the same name and input, and refuses another input or a closed one', async () => {
    // Prepare
    const { lambda, child, other, release } = setUp();
    const sfn = new SimulatedStepFunctions([child, other], lambda);

    // Act
    const started = sfn.startExecution(child.arn, { n: 1 }, { name: 'nightly-1' });
    const again = sfn.startExecution(child.arn, { n: 1 }, { name: 'nightly-1' });
    const otherInput = () => sfn.startExecution(child.arn, { n: 2 }, { name: 'nightly-1' });
    const otherMachine = sfn.startExecution(other.arn, { n: 2 }, { name: 'nightly-1' });
    release();
    await Promise.all([started.done, otherMachine.done]);

    // Assess
    expect(again).toBe(started);
    expect(started.arn).toBe(`arn:aws:states:us-east-1:${ACCOUNT}:execution:child:nightly-1`);
    expect(otherInput).toThrow(expect.objectContaining({ name: 'ExecutionAlreadyExists' }));
    expect(otherMachine).not.toBe(started);
    expect(() => sfn.startExecution(child.arn, { n: 1 }, { name: 'nightly-1' })).toThrow(expect.objectContaining({ name: 'ExecutionAlreadyExists' }));
    expect(() => sfn.startExecution(child.arn, {}, { name: 'has space' })).toThrow(expect.objectContaining({ name: 'InvalidName' }));
    expect(() => sfn.startExecution(child.arn, {}, { name: 'x'.repeat(81) })).toThrow(expect.objectContaining({ name: 'InvalidName' }));
    expect(sfn.executions.filter((e) => e.stateMachine === child)).toHaveLength(1);
  });

  it('startExecution.sync:2 starts the named child once, waits for it, and names a refused start StepFunctions.ExecutionAlreadyExistsException', async () => {
    // Prepare: two branches start the same named child with the same input; then a third task
    // starts it again once it has closed.
    const { lambda, calls, child, release } = setUp();
    const start = (state: string) => ({
      StartAt: state,
      States: { [state]: { Type: 'Task', Resource: SYNC_START, Parameters: { StateMachineArn: child.arn, Name: 'child-1', Input: { n: 21 } }, ResultSelector: { 'out.$': '$.Output' }, End: true } },
    });
    const parent = deploy('parent', {
      StartAt: 'Twice',
      States: {
        Twice: { Type: 'Parallel', Branches: [start('RunA'), start('RunB')], ResultPath: '$.twice', Next: 'Again' },
        Again: {
          Type: 'Task',
          Resource: SYNC_START,
          Parameters: { StateMachineArn: child.arn, Name: 'child-1', Input: { n: 21 } },
          Catch: [{ ErrorEquals: ['StepFunctions.ExecutionAlreadyExistsException'], ResultPath: '$.refused', Next: 'Refused' }],
          End: true,
        },
        Refused: { Type: 'Pass', End: true },
      },
    });
    const sfn = new SimulatedStepFunctions([parent, child], lambda);

    // Act
    const run = sfn.startExecution(parent.arn, {});
    setTimeout(release, 5);
    const done = await run.done;

    // Assess
    expect(done.status).toBe('SUCCEEDED');
    const children = sfn.executions.filter((e) => e.stateMachine === child);
    expect(children.map((c) => c.name)).toEqual(['child-1']);
    expect(calls.get('child')).toBe(1);
    expect((done.output as { twice: unknown }).twice).toEqual([{ out: { doubled: 42 } }, { out: { doubled: 42 } }]);
    expect((done.output as { refused: { Error: string; Cause: string } }).refused).toMatchObject({
      Error: 'StepFunctions.ExecutionAlreadyExistsException',
      Cause: expect.stringContaining('ExecutionAlreadyExists') as unknown,
    });
  });
});

describe('AWS SDK service integrations (arn:aws:states:::aws-sdk:<service>:<action>)', () => {
  const putMetric = (extra: Record<string, unknown>) =>
    deploy('put-metric', {
      StartAt: 'Put',
      States: {
        Put: {
          Type: 'Task',
          Resource: 'arn:aws:states:::aws-sdk:cloudwatch:putMetricData',
          Parameters: { Namespace: 'Test', MetricData: [{ MetricName: 'Runs', 'Value.$': '$.value' }] },
          ...extra,
        },
        ...('Catch' in extra ? { Caught: { Type: 'Pass', End: true } } : {}),
      },
    });
  const { lambda } = fakeLambda({});

  it('calls the integration with the service, the action and the evaluated parameters; Retry sees CloudWatch.ThrottlingException', async () => {
    // Prepare: the first call is throttled.
    const calls: unknown[][] = [];
    const sm = putMetric({ Retry: [{ ErrorEquals: ['CloudWatch.ThrottlingException'], IntervalSeconds: 1, MaxAttempts: 2, JitterStrategy: 'FULL' }], End: true });
    const sfn = new SimulatedStepFunctions([sm], lambda, {
      sdkIntegration: async (...args) => {
        calls.push(args);
        if (calls.length === 1) throw new SimulatedAwsError('ThrottlingException', 'Rate exceeded');
        return {};
      },
    });

    // Act
    const done = await sfn.startExecution(sm.arn, { value: 3 }).done;

    // Assess
    expect(done.status).toBe('SUCCEEDED');
    const expected = ['cloudwatch', 'putMetricData', { Namespace: 'Test', MetricData: [{ MetricName: 'Runs', Value: 3 }] }];
    expect(calls).toEqual([expected, expected]);
    expect(done.events.filter((e) => e.type === 'StateRetried').map((e) => e.state!.name)).toEqual(['Put']);
  });

  it('an error the service answers is <Service>.<Code>Exception for Catch (and States.TaskFailed)', async () => {
    // Prepare
    const invalid = async () => {
      throw new SimulatedAwsError('InvalidParameterValue', 'The value 3 is not valid');
    };
    const byName = putMetric({ Catch: [{ ErrorEquals: ['CloudWatch.InvalidParameterValueException'], ResultPath: '$.error', Next: 'Caught' }], End: true });
    const byTaskFailed = deploy('put-metric-2', { ...byName.definition, States: { ...byName.definition.States, Put: { ...byName.definition.States.Put, Catch: [{ ErrorEquals: ['States.TaskFailed'], ResultPath: '$.error', Next: 'Caught' }] } } });

    // Act
    const sfn = new SimulatedStepFunctions([byName, byTaskFailed], lambda, { sdkIntegration: invalid });
    const [named, taskFailed] = await Promise.all([sfn.startExecution(byName.arn, { value: 3 }).done, sfn.startExecution(byTaskFailed.arn, { value: 3 }).done]);

    // Assess
    for (const done of [named, taskFailed]) {
      expect(done.status).toBe('SUCCEEDED');
      expect((done.output as { error: unknown }).error).toMatchObject({ Error: 'CloudWatch.InvalidParameterValueException', Cause: expect.stringContaining('InvalidParameterValue') as unknown });
    }
  });

  it('without an integration the task fails with States.Runtime', async () => {
    const sm = putMetric({ End: true });
    const done = await new SimulatedStepFunctions([sm], lambda).startExecution(sm.arn, { value: 1 }).done;
    expect(done).toMatchObject({ status: 'FAILED', error: 'States.Runtime' });
  });
});

describe('the pipeline in the simulated account', () => {
  let dir: string;
  let configPath: string;
  let sim: Simulation;
  const phase = (name: string) => ({ name, workloadCommand: `/opt/${name.toLowerCase()}.sh`, instanceTypes: ['c5.large', 'm5.large'], budgetSeconds: 3600, attemptSeconds: 1200, bootTimeoutSeconds: 300 });
  const CONFIG: PipelineConfigInput = { pipelineName: 'parallel-redrive', phases: [phase('Alpha'), { parallel: [phase('Beta'), phase('Gamma')] }] };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sim-sfn-'));
    configPath = path.join(dir, 'parallel-redrive.json');
    writeFileSync(configPath, JSON.stringify(CONFIG));
    // Gamma succeeds in 5 minutes; Beta's workload fails after 20 (a bug), and is redriven an hour later.
    const scenario = parseScenario({ config: configPath, phases: { Beta: { workloadMinutes: 20, attempts: [{ exitCode: 1 }] }, Gamma: { workloadMinutes: 5 } }, redriveAfterMinutes: 60 });
    sim = await runSimulation(scenario, { deployment: synthDeployment(parsePipelineConfig(CONFIG)) });
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('a redrive of a parallel stage re-runs only the failed phase; the phase that succeeded ran once', () => {
    // Assess: the first run failed at the parallel stage; the redrive succeeded.
    const [first, redriven] = sim.pipelineRuns;
    expect(first!.status).toBe('FAILED');
    expect(first!.cause).toContain('WorkloadFailed');
    expect(redriven!.status).toBe('SUCCEEDED');
    const runs = (name: string) => sim.stepFunctions.executions.filter((e) => e.parentArn === first!.arn && phaseOf(e) === name);
    expect(runs('Alpha').map((r) => r.status)).toEqual(['SUCCEEDED']);
    expect(runs('Gamma').map((r) => r.status)).toEqual(['SUCCEEDED']);
    expect(runs('Beta').map((r) => r.status)).toEqual(['FAILED', 'SUCCEEDED']);
    expect(enteredStates(redriven!)).not.toContain('Gamma');
    expect(enteredStates(redriven!)).toContain('Beta');
    // The stage's output merged the reused Gamma result with the new Beta one.
    const phases = (redriven!.output as { phases: Record<string, { executionArn: string }> }).phases;
    expect(Object.keys(phases).sort()).toEqual(['Alpha', 'Beta', 'Gamma']);
    expect(phases.Gamma!.executionArn).toBe(runs('Gamma')[0]!.arn);
    expect(phases.Beta!.executionArn).toBe(runs('Beta')[1]!.arn);
    for (const invariant of checkInvariants(buildReport(sim))) expect(invariant, invariant.detail).toMatchObject({ holds: true });
  });

  it('AWS SDK integration tasks reach the simulated account: counted, answered, errors named for Catch', async () => {
    // Prepare: a hand-written machine wired to this simulation's account.
    const { lambda } = fakeLambda({});
    const sm = deploy('sdk-tasks', {
      StartAt: 'Put',
      States: {
        Put: {
          Type: 'Task',
          Resource: 'arn:aws:states:::aws-sdk:cloudwatch:putMetricData',
          Parameters: { Namespace: 'Rehearsal', MetricData: [{ MetricName: 'Ping', Value: 1, Dimensions: [{ Name: 'Phase', Value: 'Beta' }] }] },
          ResultPath: null,
          Next: 'Describe',
        },
        Describe: {
          Type: 'Task',
          Resource: 'arn:aws:states:::aws-sdk:ec2:describeInstances',
          Parameters: { InstanceIds: ['i-0000000000000dead'] },
          Catch: [{ ErrorEquals: ['Ec2.InvalidInstanceID.NotFoundException'], ResultPath: '$.error', Next: 'Gone' }],
          End: true,
        },
        Gone: { Type: 'Pass', End: true },
      },
    });
    const puts = sim.cloud.calls.get('CloudWatch.PutMetricData') ?? 0;

    // Act
    const done = await new SimulatedStepFunctions([sm], lambda, { sdkIntegration: sim.stepFunctions.sdkIntegration }).startExecution(sm.arn, {}).done;

    // Assess
    expect(done.status).toBe('SUCCEEDED');
    expect(sim.cloud.calls.get('CloudWatch.PutMetricData')).toBe(puts + 1);
    expect(sim.cloud.metrics.at(-1)).toMatchObject({ namespace: 'Rehearsal', name: 'Ping', value: 1, dimensions: { Phase: 'Beta' } });
    expect((done.output as { error: { Error: string } }).error.Error).toBe('Ec2.InvalidInstanceID.NotFoundException');
  });
});
