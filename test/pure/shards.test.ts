/**
 * The decisions of a sharded phase (decisions/shards.ts) and where its shards launch first
 * (decisions/pools.ts): a failed shard's record keeps its SpotPhase execution's error, cause and
 * ARN (a task's own failure as it came; a long cause clipped) and the redrive it failed under; the
 * tally counts failed and never-run shards and settles only beyond the tolerance; settling fails
 * the phase with ShardsFailed naming every failed shard on the run that saw them fail, and runs
 * the shard again on a later redrive. Shard k's first attempt starts at pool k, so the shards
 * spread over the subnets; later attempts go on from the cursor.
 */
import { describe, expect, it } from 'vitest';
import { ShardsFailed } from '../../contract/errors';
import { SHARD_CAUSE_CHARS, shardRecordSchema, shardTallySchema, type ShardRecord } from '../../contract/shards';
import { firstPoolCursor, poolOrder, poolsFrom } from '../../decisions/pools';
import { failedShardRecord, settleShard, tallyShards } from '../../decisions/shards';

const CHILD_ARN = 'arn:aws:states:us-east-1:123456789012:execution:crypto-fanout-spot-phase:FactorRun-3f2a9c1d-r0';

/**
 * The cause of a startExecution.sync:2 task whose child execution failed: the child's
 * DescribeExecution answer as JSON (dates in epoch ms, input and output as JSON text).
 */
function childDescription(fields: { error?: string; cause?: string; status?: string } = {}): string {
  return JSON.stringify({
    ExecutionArn: CHILD_ARN,
    StateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:crypto-fanout-spot-phase',
    Name: 'FactorRun-3f2a9c1d-r0',
    Status: fields.status ?? 'FAILED',
    StartDate: 1780131600000,
    StopDate: 1780139400000,
    Input: '{"phase":{"name":"FactorRun"}}',
    InputDetails: { Included: true },
    RedriveCount: 0,
    RedriveStatus: 'REDRIVABLE',
    ...(fields.error === undefined ? {} : { Error: fields.error }),
    ...(fields.cause === undefined ? {} : { Cause: fields.cause }),
  });
}

const failed = (shard: string, failedAtRedrive = 0, extra: Partial<ShardRecord & { status: 'FAILED' }> = {}): ShardRecord & { status: 'FAILED' } => ({
  shard,
  status: 'FAILED',
  error: 'WorkloadFailed',
  cause: `shard ${shard}: exit code 3`,
  failedAtRedrive,
  ...extra,
});
const succeeded = (shard: string): ShardRecord => ({ shard, status: 'SUCCEEDED', outcome: 'succeeded', attempts: 1, executionArn: `${CHILD_ARN}-${shard}` });
const pending = (shard: string): ShardRecord => ({ shard, status: 'PENDING' });

describe('failedShardRecord', () => {
  it("a failed SpotPhase execution: the record keeps the child's Error, Cause and ExecutionArn, not the task's States.TaskFailed", () => {
    // Prepare
    const caught = { Error: 'States.TaskFailed', Cause: childDescription({ error: 'WorkloadFailed', cause: 'phase FactorRun: the workload exited with code 3: Traceback ...' }) };

    // Act
    const record = failedShardRecord('eth', caught, 0);

    // Assess
    expect(record).toEqual({
      shard: 'eth',
      status: 'FAILED',
      error: 'WorkloadFailed',
      cause: 'phase FactorRun: the workload exited with code 3: Traceback ...',
      executionArn: CHILD_ARN,
      failedAtRedrive: 0,
    });
    expect(shardRecordSchema.parse(record)).toEqual(record);
  });

  it.each([
    { what: 'the task timed out (States.Timeout)', caught: { Error: 'States.Timeout', Cause: 'Task timed out after 30900 seconds.' } },
    { what: 'a refused start', caught: { Error: 'StepFunctions.ExecutionLimitExceededException', Cause: 'Maximum number of running executions reached.' } },
    { what: 'a cause that looks like JSON but is not', caught: { Error: 'States.TaskFailed', Cause: '{not json at all' } },
  ])('$what: the error and cause are kept as the task saw them', ({ caught }) => {
    // Act
    const record = failedShardRecord('btc', caught, 0);

    // Assess
    expect(record).toEqual({ shard: 'btc', status: 'FAILED', error: caught.Error, cause: caught.Cause, failedAtRedrive: 0 });
  });

  it('a child description without an Error (it timed out): the task\'s error, and the child\'s ARN still kept', () => {
    // Prepare
    const caught = { Error: 'States.TaskFailed', Cause: childDescription({ status: 'TIMED_OUT' }) };

    // Act
    const record = failedShardRecord('sol', caught, 0);

    // Assess
    expect(record).toMatchObject({ error: 'States.TaskFailed', executionArn: CHILD_ARN });
    expect(record.cause).toContain('TIMED_OUT');
  });

  it('no Error and no Cause: States.TaskFailed, and no cause field', () => {
    // Act
    const record = failedShardRecord('bnb', {}, 0);

    // Assess
    expect(record).toEqual({ shard: 'bnb', status: 'FAILED', error: 'States.TaskFailed', failedAtRedrive: 0 });
  });

  it(`a long cause is clipped to ${SHARD_CAUSE_CHARS} characters (the record must stay small), its start kept`, () => {
    // Prepare
    const long = `phase FactorRun: the workload exited with code 1: ${'x'.repeat(5000)}`;
    const caught = { Error: 'States.TaskFailed', Cause: childDescription({ error: 'WorkloadFailed', cause: long }) };

    // Act
    const record = failedShardRecord('xrp', caught, 0);

    // Assess
    expect(record.cause).toHaveLength(SHARD_CAUSE_CHARS);
    expect(record.cause!.endsWith('…')).toBe(true);
    expect(long.startsWith(record.cause!.slice(0, -1))).toBe(true);
    expect(shardRecordSchema.safeParse(record).success).toBe(true);
  });

  it(`a long non-JSON cause is clipped too; one of exactly ${SHARD_CAUSE_CHARS} is kept whole`, () => {
    // Prepare
    const long = 'y'.repeat(SHARD_CAUSE_CHARS + 1);
    const exact = 'z'.repeat(SHARD_CAUSE_CHARS);

    // Act
    const [clipped, whole] = [failedShardRecord('a', { Error: 'States.Timeout', Cause: long }, 0), failedShardRecord('b', { Error: 'States.Timeout', Cause: exact }, 0)];

    // Assess
    expect(clipped.cause).toHaveLength(SHARD_CAUSE_CHARS);
    expect(whole.cause).toBe(exact);
  });

  it('records the redrive count the shard failed under', () => {
    // Prepare
    const caught = { Error: 'States.TaskFailed', Cause: childDescription({ error: 'SpotRetryBudgetExhausted', cause: 'after 3 attempt(s)' }) };

    // Act
    const record = failedShardRecord('eth', caught, 2);

    // Assess
    expect(record.failedAtRedrive).toBe(2);
  });
});

describe('tallyShards', () => {
  it('counts the failed shards, in order, and keeps every record', () => {
    // Prepare
    const records = [succeeded('btc'), failed('eth'), succeeded('sol'), failed('bnb'), succeeded('xrp')];

    // Act
    const tally = tallyShards(records, 2);

    // Assess
    expect(tally).toEqual({ shards: records, failed: ['eth', 'bnb'], failedCount: 2, tolerated: 2, settle: false, rerunPass: false });
    expect(shardTallySchema.parse(tally)).toEqual(tally);
  });

  it.each([
    { failedShards: 0, tolerated: 0, settle: false },
    { failedShards: 1, tolerated: 0, settle: true },
    { failedShards: 1, tolerated: 1, settle: false },
    { failedShards: 2, tolerated: 1, settle: true },
    { failedShards: 3, tolerated: 3, settle: false },
    { failedShards: 4, tolerated: 3, settle: true },
  ])('$failedShards failed with $tolerated tolerated: settle $settle (only more failed than tolerated fails the phase)', ({ failedShards, tolerated, settle }) => {
    // Prepare
    const records = Array.from({ length: 5 }, (_, i) => (i < failedShards ? failed(`s${i}`) : succeeded(`s${i}`)));

    // Act
    const tally = tallyShards(records, tolerated);

    // Assess
    expect(tally.failedCount).toBe(failedShards);
    expect(tally.settle).toBe(settle);
  });

  it('a shard still PENDING after the Map counts as not done, never as succeeded', () => {
    // Prepare
    const records = [succeeded('btc'), pending('eth'), succeeded('sol')];

    // Act
    const tally = tallyShards(records, 0);

    // Assess
    expect(tally).toMatchObject({ failed: ['eth'], failedCount: 1, settle: true });
  });

  it('PENDING and FAILED together count against the tolerance', () => {
    // Prepare
    const records = [failed('btc'), pending('eth'), succeeded('sol'), succeeded('bnb')];

    // Act
    const tally = tallyShards(records, 1);

    // Assess
    expect(tally.failed).toEqual(expect.arrayContaining(['btc', 'eth']));
    expect(tally).toMatchObject({ failedCount: 2, settle: true });
  });
});

describe('tallyShards: the pass that settles', () => {
  it('asks for a re-run pass when, beyond the tolerance, a shard failed under an earlier redrive count than this run', () => {
    // Prepare: redrive 1: bnb failed before the redrive, eth in it.
    const records = [failed('eth', 1), failed('bnb', 0), { shard: 'sol', status: 'SUCCEEDED' as const }];

    // Act
    const [now, after] = [tallyShards(records, 0, 1), tallyShards([failed('eth', 1), failed('bnb', 1)], 0, 1)];

    // Assess
    expect(now).toMatchObject({ settle: true, rerunPass: true });
    expect(after).toMatchObject({ settle: true, rerunPass: false });
    expect(tallyShards(records, 2, 1)).toMatchObject({ settle: false, rerunPass: false });
  });
});

describe('settleShard', () => {
  const phase = { name: 'FactorRun', count: 5, tolerated: 1 };

  it('in a pass that re-runs earlier failures, a shard that failed in this run keeps its record instead of failing the phase (which would stop the re-runs)', () => {
    // Prepare: redrive 1; eth failed under it, bnb before it.
    const [eth, bnb] = [failed('eth', 1), failed('bnb', 0)];

    // Act
    const answers = [settleShard(phase, eth, ['eth', 'bnb'], 1, true), settleShard(phase, bnb, ['eth', 'bnb'], 1, true)];

    // Assess
    expect(answers).toEqual([{ rerun: false }, { rerun: true }]);
  });

  it('on the run that saw them fail: ShardsFailed naming every failed shard, the count and the tolerance, and this shard\'s error', () => {
    // Prepare
    const record = failed('eth', 0, { error: 'WorkloadFailed', cause: 'exit code 3' });

    // Act
    const settling = () => settleShard(phase, record, ['eth', 'bnb'], 0);

    // Assess
    expect(settling).toThrow(ShardsFailed);
    expect(settling).toThrow('phase FactorRun: 2 of 5 shards failed (eth, bnb); it tolerates 1.');
    expect(settling).toThrow('Shard eth: WorkloadFailed: exit code 3.');
    expect(settling).toThrow('a redrive of this execution re-runs the failed shards only');
  });

  it('a shard that failed under redrive 2 still fails the phase on redrive 2', () => {
    // Prepare
    const record = failed('bnb', 2, { error: 'SpotRetryBudgetExhausted', cause: undefined });

    // Act
    const settling = () => settleShard(phase, record, ['eth', 'bnb'], 2);

    // Assess
    expect(settling).toThrow(ShardsFailed);
    expect(settling).toThrow('Shard bnb: SpotRetryBudgetExhausted.');
  });

  it.each([
    { failedAtRedrive: 0, redriveCount: 1 },
    { failedAtRedrive: 1, redriveCount: 3 },
  ])('on a later redrive ($redriveCount, failed under $failedAtRedrive): run the shard again, no error', ({ failedAtRedrive, redriveCount }) => {
    // Prepare
    const record = failed('eth', failedAtRedrive);

    // Act
    const answer = settleShard(phase, record, ['eth', 'bnb'], redriveCount);

    // Assess
    expect(answer).toEqual({ rerun: true });
  });

  it('a message that would run past 4000 characters is clipped to 4000, its start (the count and the names) kept', () => {
    // Prepare
    // 100 shards of 32-character names and a full cause come to more than 4000 characters unclipped.
    const names = Array.from({ length: 100 }, (_, i) => `shard-with-a-long-name-00000-${String(i).padStart(3, '0')}`);
    const record = failed(names[0]!, 0, { cause: 'c'.repeat(SHARD_CAUSE_CHARS) });

    // Act
    let message = '';
    try {
      settleShard({ name: 'FactorRun', count: 100, tolerated: 0 }, record, names, 0);
    } catch (err) {
      message = (err as Error).message;
    }

    // Assess
    expect(message.startsWith('phase FactorRun: 100 of 100 shards failed (shard-with-a-long-name-00000-000, ')).toBe(true);
    expect(message.length).toBe(4000);
    expect(message.endsWith('…')).toBe(true);
  });
});

describe('firstPoolCursor: where a shard\'s attempt starts', () => {
  const TYPES = ['c5.xlarge', 'm5.xlarge'];
  const SUBNETS = ['subnet-0a1b2c3d', 'subnet-1a2b3c4d', 'subnet-2a3b4c5d'];
  const shard = (index: number) => ({ index, instanceTypes: TYPES, subnetIds: SUBNETS });
  it.each([
    { what: 'shard 0, attempt 1: the first pool', cursor: 0, attempt: 1, shardIndex: 0, start: 0 },
    { what: 'an unsharded phase, attempt 1', cursor: 0, attempt: 1, shardIndex: undefined, start: 0 },
    { what: 'shard 3, attempt 2 (goes on from the cursor HandleFailure left)', cursor: 5, attempt: 2, shardIndex: 3, start: 5 },
    { what: 'shard 7, attempt 4', cursor: 1, attempt: 4, shardIndex: 7, start: 1 },
    { what: 'an unsharded phase, attempt 2', cursor: 5, attempt: 2, shardIndex: undefined, start: 5 },
  ])('$what: cursor $cursor -> $start', ({ cursor, attempt, shardIndex, start }) => {
    // Act
    const first = firstPoolCursor(cursor, attempt, shardIndex === undefined ? undefined : shard(shardIndex));

    // Assess
    expect(first).toBe(start);
  });

  it('shard k starts in subnet k (wrapping), then with the next instance type once every subnet has a shard', () => {
    // Act
    const pools = poolOrder(TYPES, SUBNETS);
    const first = Array.from({ length: 6 }, (_, k) => pools[firstPoolCursor(0, 1, shard(k))]!);

    // Assess
    expect(first.map((p) => [p.instanceType, p.subnetId])).toEqual([
      ['c5.xlarge', SUBNETS[0]],
      ['c5.xlarge', SUBNETS[1]],
      ['c5.xlarge', SUBNETS[2]],
      ['m5.xlarge', SUBNETS[0]],
      ['m5.xlarge', SUBNETS[1]],
      ['m5.xlarge', SUBNETS[2]],
    ]);
  });

  /** The pool each of `shards` shards asks first on its first attempt. */
  const firstPools = (types: string[], subnets: string[], shards: number) => {
    const pools = poolOrder(types, subnets);
    return Array.from({ length: shards }, (_, k) => pools[poolsFrom(firstPoolCursor(0, 1, { index: k, instanceTypes: types, subnetIds: subnets }), pools.length)[0]!]!);
  };

  it.each([
    { what: '2 types x 2 subnets', types: ['c5.xlarge', 'm5.xlarge'], subnets: ['subnet-0a1b2c3d', 'subnet-1a2b3c4d'] },
    { what: '1 type x 3 subnets', types: ['c5.xlarge'], subnets: ['subnet-0a1b2c3d', 'subnet-1a2b3c4d', 'subnet-2a3b4c5d'] },
    { what: '3 types x 3 subnets', types: ['c5.xlarge', 'c5a.xlarge', 'm5.xlarge'], subnets: ['subnet-0a1b2c3d', 'subnet-1a2b3c4d', 'subnet-2a3b4c5d'] },
    { what: '4 types x 2 subnets', types: ['c5.xlarge', 'c5a.xlarge', 'c6i.xlarge', 'm5.xlarge'], subnets: ['subnet-0a1b2c3d', 'subnet-1a2b3c4d'] },
  ])('$what: as many shards as subnets start in as many different subnets', ({ types, subnets }) => {
    // Act
    const first = firstPools(types, subnets, subnets.length);

    // Assess
    expect(new Set(first.map((p) => p.subnetId)).size).toBe(subnets.length);
  });

  it('as many shards as pools each start in a pool of their own, every subnet asked equally often', () => {
    // Prepare
    const types = ['c5.xlarge', 'c5a.xlarge'];
    const subnets = ['subnet-0a1b2c3d', 'subnet-1a2b3c4d', 'subnet-2a3b4c5d'];

    // Act
    const first = firstPools(types, subnets, types.length * subnets.length);

    // Assess
    expect(new Set(first.map((p) => `${p.instanceType}|${p.subnetId}`)).size).toBe(6);
    for (const subnet of subnets) expect(first.filter((p) => p.subnetId === subnet)).toHaveLength(2);
  });

  it('more shards than pools wrap around: shard k starts where shard k - pools does', () => {
    // Prepare
    const types = ['c5.xlarge', 'm5.xlarge'];
    const subnets = ['subnet-0a1b2c3d', 'subnet-1a2b3c4d'];

    // Act
    const first = firstPools(types, subnets, 9);

    // Assess
    expect(first.slice(4, 8)).toEqual(first.slice(0, 4));
    expect(first[8]).toEqual(first[0]);
  });

  it('a shard with one pool asks it first, whatever its index', () => {
    // Act
    const first = firstPools(['c5.xlarge'], ['subnet-0a1b2c3d'], 5);

    // Assess
    expect(first.every((p) => p.subnetId === 'subnet-0a1b2c3d')).toBe(true);
  });

  it('2 types x 3 subnets: three shards start in three different subnets', () => {
    // Act
    const first = firstPools(['c5.xlarge', 'm5.xlarge'], ['subnet-0a1b2c3d', 'subnet-1a2b3c4d', 'subnet-2a3b4c5d'], 3);

    // Assess
    expect(new Set(first.map((p) => p.subnetId)).size).toBe(3);
  });
});
