/**
 * One shard of a sharded phase as its SpotPhase Lambdas see it (a spec with `shard`), against
 * mocked EC2, SSM and S3 answering as the services do:
 * - LaunchInstance tags the instance, its volume and its spot request with the shard, names the
 *   instance after it, and starts the shard's first attempt in subnet <shard index> (so the shards
 *   spread over the pools); later attempts go on from the cursor.
 * - SendWorkload hands the workload PIPELINE_SHARD, PIPELINE_SHARD_INDEX, PIPELINE_SHARD_COUNT,
 *   and outputs and a checkpoint of the shard's own, under <phase>/<shard>/; an unsharded phase
 *   gets none of that.
 * - HandleFailure reads the progress the shard's checkpoint reports, not the phase's.
 */
import { DescribeInstancesCommand, EC2Client, RunInstancesCommand, TerminateInstancesCommand, type Tag } from '@aws-sdk/client-ec2';
import { GetObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { ListCommandsCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PhaseSpec } from '../../contract/config';
import type { AttemptRecord, RunContext } from '../../contract/job';
import { TAG } from '../../contract/tags';
import { poolOrder } from '../../decisions/pools';
import { handler as handleFailure } from '../../lambdas/handle-failure';
import { handler as launchInstance } from '../../lambdas/launch-instance';
import { handler as sendWorkload } from '../../lambdas/send-workload';
import { at, clockAt, COMMAND_ID, ec2Error, INSTANCE_TYPES, instanceRef, iso, job, stubHandlerEnv, SUBNETS, taskInput, type LooseJob } from './fixtures';

const ec2 = mockClient(EC2Client);
const sfn = mockClient(SFNClient);
const ssm = mockClient(SSMClient);
const s3 = mockClient(S3Client);

/** The 9 pools of the fixture phase (3 types x 3 subnets), in the order a launch tries them. */
const POOLS = poolOrder(INSTANCE_TYPES, SUBNETS);
const NEW_INSTANCE = { InstanceId: 'i-0new0000000000001', Placement: { AvailabilityZone: 'us-east-1b' }, SpotInstanceRequestId: 'sir-new00001' };

/** Shard eth, the second of five (crypto-fanout's btc, eth, sol, bnb, xrp). */
const ETH: NonNullable<PhaseSpec['shard']> = { name: 'eth', index: 1, count: 5 };

const BUCKET_URI = 's3://saturday-pipeline-bucket/saturday-pipeline';

beforeEach(() => {
  ec2.reset();
  sfn.reset();
  ssm.reset();
  s3.reset();
  stubHandlerEnv();
  sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' } as never);
  ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
  ec2.on(TerminateInstancesCommand).resolves({});
  ssm.on(SendCommandCommand).resolves({ Command: { CommandId: COMMAND_ID } });
  ssm.on(ListCommandsCommand).resolves({ Commands: [] });
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

describe('LaunchInstance: a shard', () => {
  beforeEach(() => clockAt(at(5)));

  /** The tags of each resource RunInstances tags, by resource type. */
  function sentTags(call = 0): Record<string, Tag[]> {
    const specs = ec2.commandCalls(RunInstancesCommand)[call]!.args[0].input.TagSpecifications ?? [];
    return Object.fromEntries(specs.map((s) => [s.ResourceType!, s.Tags ?? []]));
  }

  /** The pools RunInstances was asked for, in order, as pool indexes. */
  const launchedPoolIndexes = () =>
    ec2.commandCalls(RunInstancesCommand).map((c) => POOLS.findIndex((p) => p.instanceType === c.args[0].input.InstanceType && p.subnetId === c.args[0].input.SubnetId));

  it('tags the instance, its volume and its spot request with the shard, and names the instance after it', async () => {
    // Prepare
    ec2.on(RunInstancesCommand).resolves({ Instances: [NEW_INSTANCE] });

    // Act
    await launchInstance(taskInput({ phase: { shard: ETH } }));

    // Assess
    const tags = sentTags();
    expect(Object.keys(tags).sort()).toEqual(['instance', 'spot-instances-request', 'volume']);
    for (const [resource, list] of Object.entries(tags)) {
      expect(list, resource).toEqual(
        expect.arrayContaining([
          { Key: TAG.shard, Value: 'eth' },
          { Key: TAG.phase, Value: 'DataPhase1' },
          { Key: 'Name', Value: 'saturday-pipeline-DataPhase1-eth-attempt-1' },
        ]),
      );
    }
  });

  it('an unsharded phase: no shard tag, and the Name carries no shard', async () => {
    // Prepare
    ec2.on(RunInstancesCommand).resolves({ Instances: [NEW_INSTANCE] });

    // Act
    await launchInstance(taskInput());

    // Assess
    const tags = sentTags();
    for (const list of Object.values(tags)) {
      expect(list.some((t) => t.Key === TAG.shard)).toBe(false);
      expect(list).toContainEqual({ Key: 'Name', Value: 'saturday-pipeline-DataPhase1-attempt-1' });
    }
  });

  /** The pool (of 9) that has this type and subnet. */
  const poolOf = (instanceType: string, subnetId: string) => POOLS.findIndex((p) => p.instanceType === instanceType && p.subnetId === subnetId);

  it.each([
    { index: 0, count: 5, type: 'c5.large', subnet: 'subnet-0a1b2c3d' },
    { index: 1, count: 5, type: 'c5.large', subnet: 'subnet-1a2b3c4d' },
    { index: 2, count: 5, type: 'c5.large', subnet: 'subnet-2a3b4c5d' },
    { index: 4, count: 5, type: 'c5a.large', subnet: 'subnet-1a2b3c4d' },
    { index: 8, count: 12, type: 'm5.large', subnet: 'subnet-2a3b4c5d' },
    { index: 10, count: 12, type: 'c5.large', subnet: 'subnet-1a2b3c4d' },
  ])('shard index $index of $count: the first attempt asks $type in $subnet first (subnet k, then the next type once every subnet has a shard)', async ({ index, count, type, subnet }) => {
    // Prepare
    ec2.on(RunInstancesCommand).resolves({ Instances: [NEW_INSTANCE] });
    const pool = poolOf(type, subnet);

    // Act
    const result: LooseJob = await launchInstance(taskInput({ phase: { shard: { name: `s${index}`, index, count } } }));

    // Assess
    expect(launchedPoolIndexes()).toEqual([pool]);
    expect(result).toMatchObject({ status: 'booting', instance: { poolIndex: pool, instanceType: type, subnetId: subnet } });
  });

  it('the first three shards start in three different subnets', async () => {
    // Prepare
    ec2.on(RunInstancesCommand).resolves({ Instances: [NEW_INSTANCE] });

    // Act
    for (const index of [0, 1, 2]) await launchInstance(taskInput({ phase: { shard: { name: `s${index}`, index, count: 3 } } }));

    // Assess
    const subnets = ec2.commandCalls(RunInstancesCommand).map((c) => c.args[0].input.SubnetId);
    expect(new Set(subnets).size).toBe(3);
  });

  it('a capacity error in the shard\'s first pool rotates on to the next pool', async () => {
    // Prepare
    ec2.on(RunInstancesCommand).rejectsOnce(ec2Error('InsufficientInstanceCapacity')).resolves({ Instances: [NEW_INSTANCE] });

    // Act
    const result: LooseJob = await launchInstance(taskInput({ phase: { shard: { name: 'bnb', index: 3, count: 5 } } }));

    // Assess: shard 3 starts at c5a.large in the first subnet, then the pool after it.
    const start = poolOf('c5a.large', 'subnet-0a1b2c3d');
    expect(launchedPoolIndexes()).toEqual([start, (start + 1) % POOLS.length]);
    expect(result.instance?.poolIndex).toBe((start + 1) % POOLS.length);
  });

  it('attempt 2 of a shard goes on from the cursor HandleFailure left: no offset by the shard index again', async () => {
    // Prepare: attempt 1 ran in pool 4; HandleFailure moved the cursor to 5.
    ec2.on(RunInstancesCommand).resolves({ Instances: [NEW_INSTANCE] });
    const input = taskInput({ phase: { shard: { name: 'bnb', index: 3, count: 5 } }, job: job({ attempt: 2, poolCursor: 5 }) });

    // Act
    const result: LooseJob = await launchInstance(input);

    // Assess
    expect(launchedPoolIndexes()).toEqual([5]);
    expect(result.instance?.poolIndex).toBe(5);
    expect(sentTags().instance).toContainEqual({ Key: 'Name', Value: 'saturday-pipeline-DataPhase1-bnb-attempt-2' });
  });
});

describe('SendWorkload: a shard', () => {
  beforeEach(() => clockAt(at(1000)));

  const readyInput = (phase: Partial<PhaseSpec>, run: Partial<RunContext> = {}) =>
    taskInput({ phase, run, job: job({ status: 'ready', attemptStartedAt: iso(at(0)), instance: instanceRef() }) });

  /** The `commands` SendCommand was given. */
  const sentCommands = (): string[] => ssm.commandCalls(SendCommandCommand)[0]?.args[0].input.Parameters?.commands ?? [];
  const exportsOf = (commands: string[], prefix: string) => commands.filter((c) => c.startsWith(`export ${prefix}`));

  it('exports the shard, its index and the shard count, and outputs and a checkpoint under <phase>/<shard>/', async () => {
    // Act
    await sendWorkload(readyInput({ shard: ETH }));

    // Assess
    const commands = sentCommands();
    expect(commands).toEqual(
      expect.arrayContaining([
        "export PIPELINE_SHARD='eth'",
        "export PIPELINE_SHARD_INDEX='1'",
        "export PIPELINE_SHARD_COUNT='5'",
        `export PIPELINE_OUTPUT_URI='${BUCKET_URI}/runs/2026-05-30/exec-1/DataPhase1/eth/'`,
        `export PIPELINE_CHECKPOINT_URI='${BUCKET_URI}/checkpoints/2026-05-30/exec-1/DataPhase1/eth/'`,
        // The run's earlier outputs are the run's, shared by every shard.
        `export PIPELINE_RUN_URI='${BUCKET_URI}/runs/2026-05-30/exec-1/'`,
      ]),
    );
    expect(exportsOf(commands, 'PIPELINE_OUTPUT_URI=')).toHaveLength(1);
    expect(exportsOf(commands, 'PIPELINE_CHECKPOINT_URI=')).toHaveLength(1);
  });

  it('shard 0 of a counted phase exports index 0 (the first shard is not "no shard")', async () => {
    // Act
    await sendWorkload(readyInput({ shard: { name: '0', index: 0, count: 64 } }));

    // Assess
    expect(sentCommands()).toEqual(
      expect.arrayContaining([
        "export PIPELINE_SHARD='0'",
        "export PIPELINE_SHARD_INDEX='0'",
        "export PIPELINE_SHARD_COUNT='64'",
        `export PIPELINE_OUTPUT_URI='${BUCKET_URI}/runs/2026-05-30/exec-1/DataPhase1/0/'`,
      ]),
    );
  });

  it('two shards of one phase write to different places', async () => {
    // Act
    await sendWorkload(readyInput({ shard: ETH }));
    await sendWorkload(readyInput({ shard: { name: 'sol', index: 2, count: 5 } }));

    // Assess
    const [first, second] = ssm.commandCalls(SendCommandCommand).map((c) => c.args[0].input.Parameters?.commands ?? []);
    const uris = (commands: string[]) => [...exportsOf(commands, 'PIPELINE_OUTPUT_URI='), ...exportsOf(commands, 'PIPELINE_CHECKPOINT_URI=')];
    expect(uris(first!).some((u) => uris(second!).includes(u))).toBe(false);
  });

  it('a preflight of a shard exports the shard but no checkpoint', async () => {
    // Act
    await sendWorkload(readyInput({ shard: { name: 'btc', index: 0, count: 5 } }, { mode: 'preflight' }));

    // Assess
    const commands = sentCommands();
    expect(commands).toContain("export PIPELINE_SHARD='btc'");
    expect(commands).toContain(`export PIPELINE_OUTPUT_URI='${BUCKET_URI}/runs/2026-05-30/exec-1/DataPhase1/btc/'`);
    expect(exportsOf(commands, 'PIPELINE_CHECKPOINT_URI=')).toEqual([]);
  });

  it('an unsharded phase exports no shard variables, and its outputs and checkpoint are the phase\'s', async () => {
    // Act
    await sendWorkload(readyInput({}));

    // Assess
    const commands = sentCommands();
    expect(exportsOf(commands, 'PIPELINE_SHARD')).toEqual([]);
    expect(commands).toContain(`export PIPELINE_OUTPUT_URI='${BUCKET_URI}/runs/2026-05-30/exec-1/DataPhase1/'`);
    expect(commands).toContain(`export PIPELINE_CHECKPOINT_URI='${BUCKET_URI}/checkpoints/2026-05-30/exec-1/DataPhase1/'`);
  });
});

describe('HandleFailure: a shard interrupted', () => {
  /** GetObject's answer for a body, as the SDK hands it (a stream with the SDK's transformToString). */
  const objectBody = (text: string) => ({
    $metadata: { httpStatusCode: 200 },
    ContentType: 'text/plain',
    ContentLength: text.length,
    ETag: '"9b2cf535f27731c974343645a3985328"',
    Body: Object.assign(Readable.from([Buffer.from(text)]), { transformToString: async () => text }) as never,
  });
  const noSuchKey = () => new S3ServiceException({ name: 'NoSuchKey', $fault: 'client', $metadata: { httpStatusCode: 404 }, message: 'The specified key does not exist.' });

  const SHARD_PROGRESS = 'saturday-pipeline/checkpoints/2026-05-30/exec-1/DataPhase1/eth/.pipeline-progress';
  const PHASE_PROGRESS = 'saturday-pipeline/checkpoints/2026-05-30/exec-1/DataPhase1/.pipeline-progress';

  const firstInterruption: AttemptRecord = {
    attempt: 1,
    instanceId: 'i-0first0000000001',
    pool: 'm5.large/us-east-1c',
    outcome: 'interrupted',
    reasonCode: 'instance-terminated-no-capacity',
    startedAt: iso(at(0)),
    endedAt: iso(at(1500)),
  };

  /**
   * Attempt 2 of shard eth interrupted 3000 s in: 2100 s to the deadline, less the 60 s backoff
   * and 110 s to count the relaunch, is too little for a whole 2400 s attempt, enough for 30% of one.
   */
  const interrupted = () => {
    clockAt(at(3000));
    return taskInput({
      phase: { shard: ETH },
      job: job({
        status: 'failed',
        attempt: 2,
        history: [firstInterruption],
        attemptStartedAt: iso(at(1600)),
        instance: instanceRef({ poolIndex: 1 }),
        failure: { kind: 'interruption', reasonCode: 'marked-for-termination', detail: 'spot request status marked-for-termination' },
      }),
    });
  };

  beforeEach(() => {
    s3.on(GetObjectCommand).rejects(noSuchKey());
  });

  it("reads the progress file under the shard's checkpoint prefix, and relaunches for the rest of the work", async () => {
    // Prepare: the shard's checkpoint says 70% done.
    s3.on(GetObjectCommand, { Bucket: 'saturday-pipeline-bucket', Key: SHARD_PROGRESS }).resolves(objectBody('0.7\n'));

    // Act
    const result: LooseJob = await handleFailure(interrupted());

    // Assess
    expect(s3).toHaveReceivedCommandWith(GetObjectCommand, { Bucket: 'saturday-pipeline-bucket', Key: SHARD_PROGRESS });
    expect(s3).not.toHaveReceivedCommandWith(GetObjectCommand, { Key: PHASE_PROGRESS });
    expect(result).toMatchObject({ status: 'launching', attempt: 3, verdict: { action: 'relaunch' } });
  });

  it("ignores a progress file at the phase's own prefix (another shard's, or an unsharded run's): a whole attempt is needed", async () => {
    // Prepare: only the phase-level key holds progress.
    s3.on(GetObjectCommand, { Bucket: 'saturday-pipeline-bucket', Key: PHASE_PROGRESS }).resolves(objectBody('0.7\n'));

    // Act
    const result: LooseJob = await handleFailure(interrupted());

    // Assess
    expect(result.verdict).toMatchObject({ action: 'fail', error: 'SpotRetryBudgetExhausted' });
  });
});
