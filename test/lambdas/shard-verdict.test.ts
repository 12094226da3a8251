/**
 * ShardVerdict (lambdas/shard-verdict.ts) through its handler, with the inputs the sharded phase's
 * states hand it (state-machines/stages/shards.ts): "record" keeps a failed shard's error from
 * its SpotPhase execution's description; "tally" says which shards failed and whether that is
 * more than the phase tolerates; "settle" fails the phase with ShardsFailed on the run that saw
 * the failure, and lets a redrive run the shard again. Bad input fails with InvalidTaskInput
 * naming the field; a shard that succeeded is never settled (never run again).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InvalidTaskInput, ShardsFailed } from '../../contract/errors';
import { shardRecordSchema, shardTallySchema, type ShardRecord } from '../../contract/shards';
import { handler } from '../../lambdas/shard-verdict';

/** The phase as the graph names it to every ShardVerdict task: FactorRun, 5 shards, 1 tolerated. */
const PHASE = { name: 'FactorRun', count: 5, tolerated: 1 };
const CHILD_ARN = 'arn:aws:states:us-east-1:123456789012:execution:crypto-fanout-spot-phase:FactorRun-3f2a9c1d-r0';

/** What a startExecution.sync:2 task's catcher puts in $.caught when its SpotPhase execution failed. */
const caughtChildFailure = (error: string, cause: string) => ({
  Error: 'States.TaskFailed',
  Cause: JSON.stringify({
    ExecutionArn: CHILD_ARN,
    StateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:crypto-fanout-spot-phase',
    Name: 'FactorRun-3f2a9c1d-r0',
    Status: 'FAILED',
    StartDate: 1780131600000,
    StopDate: 1780139400000,
    Input: '{"phase":{"name":"FactorRun"}}',
    InputDetails: { Included: true },
    Error: error,
    Cause: cause,
    RedriveCount: 0,
    RedriveStatus: 'REDRIVABLE',
  }),
});

const succeeded = (shard: string): ShardRecord => ({ shard, status: 'SUCCEEDED', outcome: 'succeeded', attempts: 1, executionArn: `${CHILD_ARN}-${shard}` });
const failed = (shard: string, failedAtRedrive = 0): ShardRecord => ({ shard, status: 'FAILED', error: 'WorkloadFailed', cause: 'exit code 3', executionArn: CHILD_ARN, failedAtRedrive });

beforeEach(() => {
  vi.stubEnv('AWS_LAMBDA_LOG_LEVEL', 'ERROR');
});

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('ShardVerdict: record', () => {
  it("keeps the SpotPhase execution's error, cause and ARN, and the redrive the shard failed under", async () => {
    // Prepare
    const event = { mode: 'record', phase: PHASE, shard: 'eth', caught: caughtChildFailure('WorkloadFailed', 'the workload exited with code 3'), redriveCount: 1 };

    // Act
    const record = await handler(event);

    // Assess
    expect(record).toEqual({ shard: 'eth', status: 'FAILED', error: 'WorkloadFailed', cause: 'the workload exited with code 3', executionArn: CHILD_ARN, failedAtRedrive: 1 });
    expect(shardRecordSchema.safeParse(record).success).toBe(true);
  });

  it('keeps a task timeout as the task saw it', async () => {
    // Prepare
    const event = { mode: 'record', phase: PHASE, shard: 'sol', caught: { Error: 'States.Timeout', Cause: 'Task timed out.' }, redriveCount: 0 };

    // Act
    const record = await handler(event);

    // Assess
    expect(record).toEqual({ shard: 'sol', status: 'FAILED', error: 'States.Timeout', cause: 'Task timed out.', failedAtRedrive: 0 });
  });
});

describe('ShardVerdict: tally', () => {
  it('one failed of five, one tolerated: the phase does not settle', async () => {
    // Prepare
    const shards = [succeeded('btc'), failed('eth'), succeeded('sol'), succeeded('bnb'), succeeded('xrp')];

    // Act
    const tally = await handler({ mode: 'tally', phase: PHASE, shards });

    // Assess
    expect(tally).toEqual({ shards, failed: ['eth'], failedCount: 1, tolerated: 1, settle: false, rerunPass: false });
    expect(shardTallySchema.safeParse(tally).success).toBe(true);
  });

  it('two failed of five, one tolerated: the phase settles, naming both', async () => {
    // Prepare
    const shards = [succeeded('btc'), failed('eth'), succeeded('sol'), failed('bnb'), succeeded('xrp')];

    // Act
    const tally = await handler({ mode: 'tally', phase: PHASE, shards });

    // Assess
    expect(tally).toMatchObject({ failed: ['eth', 'bnb'], failedCount: 2, tolerated: 1, settle: true });
  });

  it('a shard the Map left PENDING counts against the tolerance', async () => {
    // Prepare
    const shards: ShardRecord[] = [succeeded('btc'), { shard: 'eth', status: 'PENDING' }, failed('sol'), succeeded('bnb'), succeeded('xrp')];

    // Act
    const tally = await handler({ mode: 'tally', phase: PHASE, shards });

    // Assess
    expect(tally).toMatchObject({ failedCount: 2, settle: true });
  });
});

describe('ShardVerdict: settle', () => {
  it('on the run that recorded the failure: ShardsFailed naming every failed shard, the count and the tolerance', async () => {
    // Prepare
    const event = { mode: 'settle', phase: PHASE, record: failed('eth', 0), failed: ['eth', 'bnb'], redriveCount: 0 };

    // Act
    const settling = handler(event);

    // Assess
    await expect(settling).rejects.toThrow(ShardsFailed);
    await expect(handler(event)).rejects.toMatchObject({ name: 'ShardsFailed', message: expect.stringContaining('phase FactorRun: 2 of 5 shards failed (eth, bnb); it tolerates 1.') });
    await expect(handler(event)).rejects.toThrow('Shard eth: WorkloadFailed: exit code 3.');
  });

  it('on a redrive of the pipeline: the shard runs again', async () => {
    // Prepare
    const event = { mode: 'settle', phase: PHASE, record: failed('eth', 0), failed: ['eth', 'bnb'], redriveCount: 1 };

    // Act
    const answer = await handler(event);

    // Assess
    expect(answer).toEqual({ rerun: true });
  });

  it('a shard that succeeded is refused, never run again (even on a redrive)', async () => {
    // Prepare
    const event = { mode: 'settle', phase: PHASE, record: succeeded('btc'), failed: ['eth', 'bnb'], redriveCount: 1 };

    // Act
    const settling = handler(event);

    // Assess
    await expect(settling).rejects.toThrow(InvalidTaskInput);
    await expect(handler(event)).rejects.toThrow('ShardVerdict settles failed shards only; shard btc is SUCCEEDED');
  });

  it('a shard still PENDING is refused too', async () => {
    // Prepare
    const event = { mode: 'settle', phase: PHASE, record: { shard: 'btc', status: 'PENDING' }, failed: ['btc', 'bnb'], redriveCount: 0 };

    // Act
    const settling = handler(event);

    // Assess
    await expect(settling).rejects.toThrow('shard btc is PENDING');
  });
});

describe('ShardVerdict: bad input', () => {
  it.each([
    { what: 'an unknown mode', event: { mode: 'count', phase: PHASE }, field: 'mode' },
    { what: 'no input at all', event: undefined, field: '(root)' },
    { what: 'a shard name no config accepts', event: { mode: 'record', phase: PHASE, shard: 'bad name', caught: { Error: 'States.Timeout' }, redriveCount: 0 }, field: 'shard' },
    { what: 'record without a redrive count', event: { mode: 'record', phase: PHASE, shard: 'eth', caught: { Error: 'States.Timeout' } }, field: 'redriveCount' },
    { what: 'a negative redrive count', event: { mode: 'settle', phase: PHASE, record: failed('eth'), failed: ['eth'], redriveCount: -1 }, field: 'redriveCount' },
    { what: 'a tally of no shards', event: { mode: 'tally', phase: PHASE, shards: [] }, field: 'shards' },
    { what: 'a record of an unknown status', event: { mode: 'tally', phase: PHASE, shards: [{ shard: 'btc', status: 'DONE' }] }, field: 'shards[0].status' },
    { what: 'a FAILED record without its redrive', event: { mode: 'tally', phase: PHASE, shards: [{ shard: 'btc', status: 'FAILED', error: 'WorkloadFailed' }] }, field: 'shards[0].failedAtRedrive' },
    { what: 'a phase of 0 shards', event: { mode: 'tally', phase: { ...PHASE, count: 0 }, shards: [succeeded('btc')] }, field: 'phase.count' },
    { what: 'a phase without its tolerance', event: { mode: 'tally', phase: { name: 'FactorRun', count: 5 }, shards: [succeeded('btc')] }, field: 'phase.tolerated' },
    { what: 'an unknown field', event: { mode: 'tally', phase: PHASE, shards: [succeeded('btc')], extra: true }, field: '(root)' },
  ])('$what: InvalidTaskInput naming $field', async ({ event, field }) => {
    // Act
    const running = handler(event);

    // Assess
    await expect(running).rejects.toThrow(InvalidTaskInput);
    await expect(handler(event)).rejects.toThrow(new RegExp(`^ShardVerdict received invalid input:\\n(.*\\n)*${field.replace(/[[\]().]/g, '\\$&')}: `));
  });
});
