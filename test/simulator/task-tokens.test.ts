/**
 * Callback tasks (.waitForTaskToken) in the simulated Step Functions service, against AWS's
 * documented behaviour, with small hand-written state machines on a fake clock: every run of a
 * callback state gets a fresh task token where its Parameters reference $$.Task.Token; the task
 * waits for SendTaskSuccess (its output is the result) or SendTaskFailure (error and cause, for
 * Retry and Catch), fails with States.Timeout past TimeoutSeconds (default 99999999) and with
 * States.HeartbeatTimeout without a heartbeat for HeartbeatSeconds; the API answers {} and refuses
 * an unknown token (InvalidToken), a closed task's token (TaskTimedOut) and an output that is not
 * JSON (InvalidOutput); a redrive re-runs the callback state with a new token.
 */
import FakeTimers from '@sinonjs/fake-timers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SimulatedLambda } from '../../simulator/lambda-runtime';
import { installLongTimers } from '../../simulator/long-timers';
import { sdkIntegrationInput } from '../../simulator/run';
import { parseScenario } from '../../simulator/scenario';
import { handleCall } from '../../simulator/services';
import { SimulatedAccount } from '../../simulator/services/account';
import { SimulatedAwsError } from '../../simulator/services/errors';
import { SimulatedStepFunctions, type SdkIntegration, type SimExecution } from '../../simulator/step-functions';
import { TASK_TOKEN_MARKER } from '../../simulator/task-tokens';
import type { DeployedStateMachine } from '../../simulator/template';

const ACCOUNT = '123456789012';
const LAMBDA_CALLBACK = 'arn:aws:states:::lambda:invoke.waitForTaskToken';
const S3_CALLBACK = 'arn:aws:states:::aws-sdk:s3:putObject.waitForTaskToken';
const SECOND = 1000;

function deploy(name: string, states: Record<string, unknown>, startAt = Object.keys(states)[0]!): DeployedStateMachine {
  return { logicalId: name, arn: `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:${name}`, name, definition: { StartAt: startAt, States: states } as DeployedStateMachine['definition'] };
}

/** A callback state invoking the Lambda function `approver` with the token in its payload. */
function approval(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    Type: 'Task',
    Resource: LAMBDA_CALLBACK,
    Parameters: { FunctionName: 'approver', Payload: { 'token.$': '$$.Task.Token', 'order.$': '$.order' } },
    ResultPath: '$.approval',
    ...extra,
  };
}

type Payload = { token: string; order?: unknown };

/** The simulated account around a Step Functions service whose Lambda function `approver` records each payload. */
function setUp(states: Record<string, unknown>, options: { approver?: (p: Payload) => unknown; sdkIntegration?: SdkIntegration } = {}) {
  const payloads: Payload[] = [];
  const lambda = {
    invoke: async (arn: string, payload: unknown) => {
      expect(arn).toBe(`arn:aws:lambda:us-east-1:${ACCOUNT}:function:approver`);
      payloads.push(payload as Payload);
      return options.approver ? options.approver(payload as Payload) : { ignored: 'the function answer is not the result' };
    },
  } as unknown as SimulatedLambda;
  const sm = deploy('callbacks', states);
  const sfn = new SimulatedStepFunctions([sm], lambda, { sdkIntegration: options.sdkIntegration });
  const account = new SimulatedAccount({ scenario: parseScenario({}), subnetZones: new Map(), launchTemplates: new Map(), stepFunctions: sfn });
  const api = (operation: 'SendTaskSuccess' | 'SendTaskFailure' | 'SendTaskHeartbeat', input: Record<string, unknown>) => handleCall(account, 'SFN', operation, input);
  return { sfn, sm, account, payloads, api, start: (input: unknown = { order: 7 }) => sfn.startExecution(sm.arn, input) };
}

let clock: ReturnType<typeof FakeTimers.install>;
let uninstallLongTimers: () => void;
beforeEach(() => {
  clock = FakeTimers.install({ now: Date.parse('2026-05-30T09:00:00Z'), toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  uninstallLongTimers = installLongTimers();
});
afterEach(() => {
  uninstallLongTimers();
  clock.uninstall();
});

/** Let virtual time run `ms` forward, every promise settling on the way. */
async function advance(ms = 0): Promise<void> {
  await clock.tickAsync(ms);
  await new Promise<void>((r) => setImmediate(r));
}

/** Run virtual time forward, timer by timer, until the execution has ended (as simulator/run.ts does). */
async function finish(execution: SimExecution): Promise<SimExecution> {
  for (let idle = 0; execution.status === 'RUNNING'; ) {
    await new Promise<void>((r) => setImmediate(r));
    if (execution.status !== 'RUNNING') break;
    if (clock.countTimers() === 0) {
      if (++idle > 100) throw new Error('stalled: the execution runs but nothing is scheduled');
      continue;
    }
    clock.next();
  }
  return execution.done;
}

const rejection = (promise: Promise<unknown>) => promise.then(() => undefined, (err: unknown) => err as Error);

describe('a Lambda callback task (lambda:invoke.waitForTaskToken)', () => {
  it('passes a fresh token in the payload; SendTaskSuccess output is the result (ResultPath), the function answer is not', async () => {
    // Prepare
    const { start, payloads, api, account, sfn } = setUp({ Approve: approval({ TimeoutSeconds: 3600, Next: 'Done' }), Done: { Type: 'Pass', End: true } });
    const execution = start();
    await advance(30 * SECOND);
    expect(execution.status).toBe('RUNNING');
    const [{ token, order }] = payloads as [Payload];

    // Act
    const answer = await api('SendTaskSuccess', { taskToken: token, output: JSON.stringify({ approved: true, by: 'ops' }) });
    const done = await finish(execution);

    // Assess
    expect(answer).toEqual({});
    expect(order).toBe(7);
    expect(typeof token).toBe('string');
    expect(token).not.toContain(TASK_TOKEN_MARKER);
    expect(done).toMatchObject({ status: 'SUCCEEDED', output: { order: 7, approval: { approved: true, by: 'ops' } } });
    expect(done.stoppedAt! - done.startedAt).toBe(30 * SECOND);
    expect(account.calls.get('SFN.SendTaskSuccess')).toBe(1);
    // One transition per state, as for any task.
    expect(sfn.transitions()).toBe(2);
  });

  it('TimeoutSecondsPath: each run waits as long as its input says, and its token closes then (TaskTimedOut)', async () => {
    // Prepare
    const { start, payloads, api } = setUp({
      Approve: approval({ TimeoutSecondsPath: '$.waitSeconds', Catch: [{ ErrorEquals: ['States.Timeout'], ResultPath: '$.timedOut', Next: 'Done' }], Next: 'Done' }),
      Done: { Type: 'Pass', End: true },
    });

    // Act
    const execution = start({ order: 1, waitSeconds: 90 });
    await advance(89 * SECOND);
    const stillRunning = execution.status;
    const done = await finish(execution);

    // Assess: the payload never carries the simulator's own field; the token closed with the timeout.
    expect(stillRunning).toBe('RUNNING');
    expect(done.stoppedAt! - done.startedAt).toBe(90 * SECOND);
    expect(done.output).toMatchObject({ timedOut: { Error: 'States.Timeout' } });
    expect(Object.keys(payloads[0]!)).toEqual(['token', 'order']);
    expect(await rejection(api('SendTaskSuccess', { taskToken: payloads[0]!.token, output: '{}' }))).toMatchObject({ name: 'TaskTimedOut' });
  });

  it('fails with the error of a failed invocation, named as the Lambda path names it', async () => {
    const { start } = setUp({ Approve: approval({ TimeoutSeconds: 60, End: true }) }, { approver: () => Promise.reject(Object.assign(new Error('bad payload'), { name: 'Lambda.ServiceException' })) });
    const done = await finish(start());
    expect(done).toMatchObject({ status: 'FAILED', error: 'Lambda.ServiceException' });
  });

  it('without TimeoutSeconds waits longer than the interpreter\'s 60-second default (AWS: 99999999 s)', async () => {
    const { start, payloads, api } = setUp({ Approve: approval({ End: true }) });
    const execution = start();
    await advance(2 * 24 * 3600 * SECOND);
    expect(execution.status).toBe('RUNNING');
    await api('SendTaskSuccess', { taskToken: payloads[0]!.token, output: '"late but fine"' });
    expect(await finish(execution)).toMatchObject({ status: 'SUCCEEDED', output: { order: 7, approval: 'late but fine' } });
  });
});

describe('SendTaskFailure, timeouts and heartbeats', () => {
  it('SendTaskFailure fails the task with its error and cause, for Catch', async () => {
    // Prepare
    const { start, payloads, api } = setUp({
      Approve: approval({ TimeoutSeconds: 3600, Catch: [{ ErrorEquals: ['Rejected'], ResultPath: '$.error', Next: 'Rejected' }], End: true }),
      Rejected: { Type: 'Pass', End: true },
    });
    const execution = start();
    await advance(5 * SECOND);

    // Act
    const answer = await api('SendTaskFailure', { taskToken: payloads[0]!.token, error: 'Rejected', cause: 'over budget' });

    // Assess
    expect(answer).toEqual({});
    expect(await finish(execution)).toMatchObject({ status: 'SUCCEEDED', output: { order: 7, error: { Error: 'Rejected', Cause: 'over budget' } } });
  });

  it('SendTaskFailure without error or cause still fails the task (States.ALL catches it)', async () => {
    const { start, payloads, api } = setUp({
      Approve: approval({ TimeoutSeconds: 3600, Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Caught' }], End: true }),
      Caught: { Type: 'Pass', End: true },
    });
    const execution = start();
    await advance();
    await api('SendTaskFailure', { taskToken: payloads[0]!.token });
    const done = await finish(execution);
    expect(done.status).toBe('SUCCEEDED');
    expect((done.output as { error: unknown }).error).toEqual({ Error: '', Cause: '' });
  });

  it('past TimeoutSeconds the task fails with States.Timeout (not matched by States.TaskFailed); Catch goes on; the token is then TaskTimedOut', async () => {
    // Prepare
    const { start, payloads, api } = setUp({
      Approve: approval({
        TimeoutSeconds: 300,
        Catch: [
          { ErrorEquals: ['States.TaskFailed'], ResultPath: '$.error', Next: 'WrongCatcher' },
          { ErrorEquals: ['States.Timeout'], ResultPath: '$.error', Next: 'NoAnswer' },
        ],
        End: true,
      }),
      WrongCatcher: { Type: 'Fail', Error: 'Wrong' },
      NoAnswer: { Type: 'Wait', Seconds: 600, End: true },
    });
    const execution = start();
    const token = () => payloads[0]!.token;

    // Act: still open a second before the timeout; closed at it, while the execution goes on.
    await advance(299 * SECOND);
    const before = await api('SendTaskHeartbeat', { taskToken: token() });
    await advance(1 * SECOND);
    const after = await rejection(api('SendTaskSuccess', { taskToken: token(), output: '{}' }));
    const running = execution.status;
    const done = await finish(execution);

    // Assess
    expect(before).toEqual({});
    expect(after).toMatchObject({ name: 'TaskTimedOut' });
    expect(running).toBe('RUNNING');
    expect(done).toMatchObject({ status: 'SUCCEEDED', output: { order: 7, error: { Error: 'States.Timeout' } } });
    expect(done.events.find((e) => e.type === 'StateCaught')?.timestamp).toBe(done.startedAt + 300 * SECOND);
  });

  it('without a heartbeat for HeartbeatSeconds the task fails with States.HeartbeatTimeout; each heartbeat restarts the clock', async () => {
    // Prepare
    const { start, payloads, api } = setUp({
      Approve: approval({ TimeoutSeconds: 3600, HeartbeatSeconds: 60, Catch: [{ ErrorEquals: ['States.HeartbeatTimeout'], ResultPath: '$.error', Next: 'Silent' }], End: true }),
      Silent: { Type: 'Pass', End: true },
    });
    const execution = start();
    const token = () => payloads[0]!.token;

    // Act: heartbeats at 50 s and 100 s, then silence.
    await advance(50 * SECOND);
    expect(await api('SendTaskHeartbeat', { taskToken: token() })).toEqual({});
    await advance(50 * SECOND);
    await api('SendTaskHeartbeat', { taskToken: token() });
    await advance(59 * SECOND);
    expect(execution.status).toBe('RUNNING');
    const done = await finish(execution);

    // Assess: 60 s after the last heartbeat.
    expect(done).toMatchObject({ status: 'SUCCEEDED', output: { error: { Error: 'States.HeartbeatTimeout' } } });
    expect(done.stoppedAt! - done.startedAt).toBe(160 * SECOND);
    await expect(api('SendTaskHeartbeat', { taskToken: token() })).rejects.toMatchObject({ name: 'TaskTimedOut' });
  });

  it('refuses HeartbeatSeconds not smaller than TimeoutSeconds when deployed', () => {
    expect(() => setUp({ Approve: approval({ TimeoutSeconds: 60, HeartbeatSeconds: 60, End: true }) })).toThrow(expect.objectContaining({ name: 'InvalidDefinition' }));
  });
});

describe('the callback API refuses what AWS refuses', () => {
  it('a token used twice: the second answer is TaskTimedOut (SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat)', async () => {
    const { start, payloads, api } = setUp({ Approve: approval({ TimeoutSeconds: 60, End: true }) });
    const execution = start();
    await advance();
    const taskToken = payloads[0]!.token;
    await api('SendTaskSuccess', { taskToken, output: '{"first":true}' });
    for (const [operation, input] of [
      ['SendTaskSuccess', { taskToken, output: '{"second":true}' }],
      ['SendTaskFailure', { taskToken, error: 'Late' }],
      ['SendTaskHeartbeat', { taskToken }],
    ] as const) {
      await expect(api(operation, input)).rejects.toMatchObject({ name: 'TaskTimedOut', $metadata: { httpStatusCode: 400 } });
    }
    expect(await finish(execution)).toMatchObject({ status: 'SUCCEEDED', output: { approval: { first: true } } });
  });

  it('a token Step Functions never issued is InvalidToken; an output that is not JSON is InvalidOutput and leaves the task open', async () => {
    // Prepare
    const { start, payloads, api } = setUp({ Approve: approval({ TimeoutSeconds: 60, End: true }) });
    const execution = start();
    await advance();
    const taskToken = payloads[0]!.token;

    // Act
    const bogus = await rejection(api('SendTaskSuccess', { taskToken: 'AAAAKgAAAAIAAAAAAAAAAbogus', output: '{}' }));
    const empty = await rejection(api('SendTaskHeartbeat', { taskToken: '' }));
    const notJson = await rejection(api('SendTaskSuccess', { taskToken, output: '{approved: yes}' }));
    await api('SendTaskSuccess', { taskToken, output: '[1,2]' });

    // Assess
    expect(bogus).toMatchObject({ name: 'InvalidToken' });
    expect(empty).toMatchObject({ name: 'InvalidToken' });
    expect(notJson).toMatchObject({ name: 'InvalidOutput' });
    expect(await finish(execution)).toMatchObject({ status: 'SUCCEEDED', output: { approval: [1, 2] } });
  });

  it('SendTaskSuccess after the execution was stopped is TaskTimedOut', async () => {
    const { start, payloads, api } = setUp({ Approve: approval({ TimeoutSeconds: 3600, End: true }) });
    const execution = start();
    await advance(10 * SECOND);
    execution.abort();
    expect(await finish(execution)).toMatchObject({ status: 'ABORTED' });
    await expect(api('SendTaskSuccess', { taskToken: payloads[0]!.token, output: '{}' })).rejects.toMatchObject({ name: 'TaskTimedOut' });
  });

  it('a task abandoned by its Parallel state (a sibling branch failed) closes its token', async () => {
    const { start, payloads, api } = setUp({
      Both: {
        Type: 'Parallel',
        Branches: [
          { StartAt: 'Approve', States: { Approve: approval({ TimeoutSeconds: 3600, End: true }) } },
          { StartAt: 'Later', States: { Later: { Type: 'Wait', Seconds: 20, Next: 'Boom' }, Boom: { Type: 'Fail', Error: 'Boom' } } },
        ],
        Catch: [{ ErrorEquals: ['Boom'], ResultPath: '$.error', Next: 'Hold' }],
        End: true,
      },
      Hold: { Type: 'Wait', Seconds: 600, End: true },
    });
    const execution = start();
    await advance(30 * SECOND);
    expect(execution.status).toBe('RUNNING');
    await expect(api('SendTaskSuccess', { taskToken: payloads[0]!.token, output: '{}' })).rejects.toMatchObject({ name: 'TaskTimedOut' });
    expect(await finish(execution)).toMatchObject({ status: 'SUCCEEDED' });
  });
});

describe('Retry and redrive run the callback state again, with a new token', () => {
  it('a Retry gets a fresh token; the old one is TaskTimedOut; the retry counts as a transition', async () => {
    // Prepare
    const { start, payloads, api, sfn } = setUp({
      Approve: approval({ TimeoutSeconds: 600, Retry: [{ ErrorEquals: ['Transient'], IntervalSeconds: 5, MaxAttempts: 1 }], End: true }),
    });
    const execution = start();
    await advance();

    // Act
    await api('SendTaskFailure', { taskToken: payloads[0]!.token, error: 'Transient' });
    await advance(5 * SECOND);
    const [first, second] = payloads.map((p) => p.token);
    const stale = await rejection(api('SendTaskSuccess', { taskToken: first, output: '{}' }));
    await api('SendTaskSuccess', { taskToken: second, output: '{"attempt":2}' });
    const done = await finish(execution);

    // Assess
    expect(payloads).toHaveLength(2);
    expect(second).not.toBe(first);
    expect(stale).toMatchObject({ name: 'TaskTimedOut' });
    expect(done).toMatchObject({ status: 'SUCCEEDED', output: { approval: { attempt: 2 } } });
    expect(sfn.transitions()).toBe(2); // StateEntered + StateRetried
  });

  it('a redrive of an execution that failed at a callback task runs it again with a new token', async () => {
    // Prepare: Before succeeds; Approve times out (no Catch): the execution fails there.
    const states = { Before: { Type: 'Pass', Result: 'ready', ResultPath: '$.before', Next: 'Approve' }, Approve: approval({ TimeoutSeconds: 120, End: true }) };
    const { start, payloads, api, sfn } = setUp(states);
    const failed = await finish(start());
    expect(failed).toMatchObject({ status: 'FAILED', error: 'States.Timeout' });

    // Act
    const redriven = sfn.redrive(failed);
    await advance(10 * SECOND);
    const [old, fresh] = payloads.map((p) => p.token);
    const stale = await rejection(api('SendTaskSuccess', { taskToken: old, output: '{}' }));
    await api('SendTaskSuccess', { taskToken: fresh, output: '{"approved":true}' });
    const done = await finish(redriven);

    // Assess
    expect(fresh).toBeDefined();
    expect(fresh).not.toBe(old);
    expect(stale).toMatchObject({ name: 'TaskTimedOut' });
    expect(done).toMatchObject({ status: 'SUCCEEDED', arn: failed.arn, redriveCount: 1, output: { order: 7, before: 'ready', approval: { approved: true } } });
    expect(done.events.filter((e) => e.type === 'StateEntered').map((e) => e.state!.name)).toEqual(['Approve']);
  });
});

describe('an AWS SDK callback task (aws-sdk:<service>:<action>.waitForTaskToken)', () => {
  it('makes the call with the token where the Parameters reference it (path, States.Format, States.JsonToString); its answer is not the result', async () => {
    // Prepare
    const calls: [string, string, Record<string, unknown>][] = [];
    const { start, api } = setUp(
      {
        Put: {
          Type: 'Task',
          Resource: S3_CALLBACK,
          Parameters: {
            Bucket: 'callbacks',
            'Key.$': "States.Format('pending/{}.json', $.order)",
            'Body.$': '$$.Task.Token',
            Metadata: { 'callback.$': "States.Format('token={}', $$.Task.Token)", 'json.$': 'States.JsonToString($$.Task.Token)' },
            Tags: [{ 'Value.$': '$$.Task.Token' }],
          },
          TimeoutSeconds: 600,
          ResultPath: '$.result',
          End: true,
        },
      },
      {
        sdkIntegration: async (service, action, parameters) => {
          calls.push([service, action, parameters as Record<string, unknown>]);
          return { ETag: '"not the result"' };
        },
      },
    );
    const execution = start();
    await advance();

    // Act
    const [[service, action, params]] = calls as [[string, string, Record<string, unknown>]];
    const token = params.Body as string;
    await api('SendTaskSuccess', { taskToken: token, output: '{"stored":true}' });
    const done = await finish(execution);

    // Assess
    expect([service, action]).toEqual(['s3', 'putObject']);
    expect(params).toEqual({ Bucket: 'callbacks', Key: 'pending/7.json', Body: token, Metadata: { callback: `token=${token}`, json: JSON.stringify(token) }, Tags: [{ Value: token }] });
    expect(done).toMatchObject({ status: 'SUCCEEDED', output: { order: 7, result: { stored: true } } });
  });

  it('an error the service answers fails the task, named as AWS SDK integrations name it', async () => {
    const { start } = setUp(
      {
        Put: {
          Type: 'Task',
          Resource: S3_CALLBACK,
          Parameters: { Bucket: 'gone', Key: 'k', 'Body.$': '$$.Task.Token' },
          TimeoutSeconds: 600,
          Catch: [{ ErrorEquals: ['S3.NoSuchBucketException'], ResultPath: '$.error', Next: 'NoBucket' }],
          End: true,
        },
        NoBucket: { Type: 'Pass', End: true },
      },
      { sdkIntegration: () => Promise.reject(new SimulatedAwsError('NoSuchBucket', 'The specified bucket does not exist', 404)) },
    );
    const done = await finish(start());
    expect(done).toMatchObject({ status: 'SUCCEEDED', output: { error: { Error: 'S3.NoSuchBucketException' } } });
  });

  it('refuses, when deployed, $$.Task.Token where the simulator cannot put the token (naming the state)', () => {
    const put = (parameters: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ Put: { Type: 'Task', Resource: S3_CALLBACK, Parameters: parameters, TimeoutSeconds: 60, End: true, ...extra } });
    expect(() => setUp(put({ 'Body.$': 'States.Base64Encode($$.Task.Token)' }))).toThrow(/state Put: Parameters\.Body\.\$: \$\$\.Task\.Token inside States\.Base64Encode is not simulated/);
    expect(() => setUp(put({ 'Task.$': '$$.Task' }))).toThrow(/state Put: .*only \$\$\.Task\.Token itself/);
    expect(() => setUp(put({ Bucket: 'b' }, { ResultSelector: { 'token.$': '$$.Task.Token' } }))).toThrow(/state Put: \$\$\.Task outside Parameters/);
    expect(() => setUp(put({ Bucket: 'b' }, { HeartbeatSecondsPath: '$.hb' }))).toThrow(/HeartbeatSecondsPath/);
    expect(() => setUp(put({ Bucket: 'b' }, { TimeoutSeconds: undefined, TimeoutSecondsPath: '$$.Execution.Input.t' }))).toThrow(/only a path into the state's input/);
  });
});

describe('SendTaskSuccess from a state machine (arn:aws:states:::aws-sdk:sfn:sendTaskSuccess)', () => {
  it('the PascalCase Parameters reach the Step Functions API under its camelCase member names; other services keep theirs', async () => {
    // Prepare: a callback task waiting for its token.
    const { start, payloads, account } = setUp({ Approve: approval({ TimeoutSeconds: 60, End: true }) });
    const execution = start();
    await advance();

    // Act: what an SDK integration task with these Parameters sends.
    const input = sdkIntegrationInput('SFN', { TaskToken: payloads[0]!.token, Output: '{"released":true}' });
    const answer = await handleCall(account, 'SFN', 'SendTaskSuccess', input);

    // Assess
    expect(input).toEqual({ taskToken: payloads[0]!.token, output: '{"released":true}' });
    expect(answer).toEqual({});
    expect(await finish(execution)).toMatchObject({ status: 'SUCCEEDED', output: { approval: { released: true } } });
    expect(sdkIntegrationInput('EC2', { InstanceIds: ['i-1'] })).toEqual({ InstanceIds: ['i-1'] });
  });
});
