import { DescribeInstancesCommand, EC2Client, RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { clientToken, handler } from '../../lambdas/launch-instance';
import { InvalidEnvironment, InvalidTaskInput, LaunchFailed, TransientApiError } from '../../contract/errors';
import { poolOrder } from '../../decisions/pools';
import { TAG } from '../../contract/tags';
import {
  at,
  clockAt,
  describedInstance,
  ec2Error,
  ENV,
  EXECUTION_ID,
  INSTANCE_TYPES,
  job,
  START_MS,
  stubHandlerEnv,
  SUBNETS,
  taskInput, type LooseJob } from './fixtures';

const ec2 = mockClient(EC2Client);
const sfn = mockClient(SFNClient);
const s3 = mockClient(S3Client);
const POOLS = poolOrder(INSTANCE_TYPES, SUBNETS);
const NEW_INSTANCE = { InstanceId: 'i-0new0000000000001', Placement: { AvailabilityZone: 'us-east-1b' }, SpotInstanceRequestId: 'sir-new00001' };

/** The pools RunInstances was asked for, in order. */
function launchedPools(): { instanceType?: string; subnetId?: string }[] {
  return ec2.commandCalls(RunInstancesCommand).map((c) => ({ instanceType: c.args[0].input.InstanceType, subnetId: c.args[0].input.SubnetId }));
}

beforeEach(() => {
  ec2.reset();
  sfn.reset();
  s3.reset();
  // The pool memory: nothing remembered, and events accepted.
  s3.on(ListObjectsV2Command).resolves({ Contents: [], KeyCount: 0, IsTruncated: false });
  s3.on(PutObjectCommand).resolves({ ETag: '"d41d8cd98f00b204e9800998ecf8427e"' });
  sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' } as never);
  stubHandlerEnv();
  clockAt(at(5));
  ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

describe('LaunchInstance: looks after acting', () => {
  it('the phase execution was stopped while RunInstances was in flight: the new instance is terminated at once', async () => {
    // Prepare: an abort (or a sibling's failure) stopped the execution; its cleanup has already run.
    ec2.on(RunInstancesCommand).resolves({ Instances: [NEW_INSTANCE] });
    ec2.on(TerminateInstancesCommand).resolves({});
    sfn.on(DescribeExecutionCommand).resolves({ status: 'ABORTED' } as never);

    // Act
    await handler(taskInput());

    // Assess
    expect(sfn).toHaveReceivedCommandWith(DescribeExecutionCommand, { executionArn: EXECUTION_ID });
    expect(ec2).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: [NEW_INSTANCE.InstanceId] });
  });

  it('a running execution keeps its instance; a status that cannot be read leaves it to the cleanup rule', async () => {
    // Prepare
    ec2.on(RunInstancesCommand).resolves({ Instances: [NEW_INSTANCE] });
    sfn.on(DescribeExecutionCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }));

    // Act
    const result: LooseJob = await handler(taskInput());

    // Assess
    expect(result).toMatchObject({ status: 'booting', instance: { id: NEW_INSTANCE.InstanceId } });
    expect(ec2).not.toHaveReceivedCommand(TerminateInstancesCommand);
  });
});

describe('LaunchInstance', () => {
  it('launches a one-time spot instance in the first pool from the stack launch template, tagged for this execution', async () => {
    // Prepare
    ec2.on(RunInstancesCommand).resolves({ Instances: [NEW_INSTANCE] });

    // Act
    const result: LooseJob = await handler(taskInput());

    // Assess
    expect(ec2).toHaveReceivedCommandTimes(RunInstancesCommand, 1);
    expect(ec2).toHaveReceivedCommandWith(RunInstancesCommand, {
      LaunchTemplate: { LaunchTemplateId: ENV.LAUNCH_TEMPLATE_ID, Version: ENV.LAUNCH_TEMPLATE_VERSION },
      InstanceType: 'c5.large',
      SubnetId: SUBNETS[0],
      MinCount: 1,
      MaxCount: 1,
      InstanceMarketOptions: { MarketType: 'spot', SpotOptions: expect.objectContaining({ SpotInstanceType: 'one-time' }) },
      ClientToken: expect.stringMatching(/^[0-9a-f]{16,64}$/),
    });
    const tagSpecs = ec2.commandCalls(RunInstancesCommand)[0]!.args[0].input.TagSpecifications ?? [];
    const instanceTags = tagSpecs.find((t) => t.ResourceType === 'instance')?.Tags;
    expect(instanceTags).toEqual(
      expect.arrayContaining([
        { Key: TAG.pipeline, Value: 'saturday-pipeline' },
        { Key: TAG.execution, Value: EXECUTION_ID },
        { Key: TAG.phase, Value: 'DataPhase1' },
        { Key: TAG.attempt, Value: '1' },
      ]),
    );
    expect(result).toMatchObject({
      status: 'booting',
      attempt: 1,
      instance: {
        id: NEW_INSTANCE.InstanceId,
        instanceType: 'c5.large',
        subnetId: SUBNETS[0],
        availabilityZone: 'us-east-1b',
        spotRequestId: 'sir-new00001',
        poolIndex: 0,
      },
    });
    expect(result.nextWaitSeconds).toBeGreaterThan(0);
    expect(result.failure).toBeUndefined();
  });

  it('launches with the phase\'s own profile, image and root volume when its spec names them', async () => {
    // Prepare
    ec2.on(RunInstancesCommand).resolves({ Instances: [NEW_INSTANCE] });
    const input = taskInput();
    input.phase = {
      ...input.phase,
      instanceProfileArn: 'arn:aws:iam::123456789012:instance-profile/train-profile',
      launch: { imageId: 'resolve:ssm:/aws/service/deeplearning/ami/x86_64/base/latest/ami-id', rootVolumeGiB: 200, rootDeviceName: '/dev/xvda' },
    };

    // Act
    await handler(input);

    // Assess
    expect(ec2).toHaveReceivedCommandWith(RunInstancesCommand, {
      IamInstanceProfile: { Arn: 'arn:aws:iam::123456789012:instance-profile/train-profile' },
      ImageId: 'resolve:ssm:/aws/service/deeplearning/ami/x86_64/base/latest/ami-id',
      BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeSize: 200, VolumeType: 'gp3', Encrypted: true, DeleteOnTermination: true } }],
    });
  });

  it('a spec without a launch profile leaves image and volumes to the launch template', async () => {
    // Prepare
    ec2.on(RunInstancesCommand).resolves({ Instances: [NEW_INSTANCE] });

    // Act
    await handler(taskInput());

    // Assess
    const sent = ec2.commandCalls(RunInstancesCommand)[0]!.args[0].input;
    expect(sent.ImageId).toBeUndefined();
    expect(sent.BlockDeviceMappings).toBeUndefined();
  });

  it('looks for an instance of this attempt before launching (describe before launch)', async () => {
    // Prepare
    ec2.on(RunInstancesCommand).resolves({ Instances: [NEW_INSTANCE] });

    // Act
    await handler(taskInput({ job: job({ attempt: 2 }) }));

    // Assess
    expect(ec2).toHaveReceivedNthCommandWith(DescribeInstancesCommand, 1, {
      Filters: expect.arrayContaining([
        { Name: `tag:${TAG.execution}`, Values: [EXECUTION_ID] },
        { Name: `tag:${TAG.attempt}`, Values: ['2'] },
      ]),
    });
    const describeFirst = ec2.calls()[0]!.args[0];
    expect(describeFirst).toBeInstanceOf(DescribeInstancesCommand);
  });

  it('adopts the instance a previous try of this attempt started, and does not launch another', async () => {
    // Prepare
    const firstTry = new Date(START_MS - 45_000);
    ec2.on(DescribeInstancesCommand).resolves(
      describedInstance('pending', { id: 'i-0adopt00000000001', instanceType: 'c5a.large', subnetId: SUBNETS[1], az: 'us-east-1b', launchTime: firstTry }),
    );
    ec2.on(RunInstancesCommand).resolves({ Instances: [NEW_INSTANCE] });

    // Act
    const result: LooseJob = await handler(taskInput());

    // Assess
    expect(ec2).not.toHaveReceivedCommand(RunInstancesCommand);
    expect(result).toMatchObject({
      status: 'booting',
      instance: { id: 'i-0adopt00000000001', instanceType: 'c5a.large', subnetId: SUBNETS[1], poolIndex: 1, launchedAt: firstTry.toISOString() },
    });
  });

  it('a capacity error in pool 0 rotates to pool 1, a different instance type AND subnet', async () => {
    // Prepare
    ec2.on(RunInstancesCommand).rejectsOnce(ec2Error('InsufficientInstanceCapacity')).resolves({ Instances: [NEW_INSTANCE] });

    // Act
    const result: LooseJob = await handler(taskInput());

    // Assess
    const [first, second] = launchedPools();
    expect(first).toEqual({ instanceType: 'c5.large', subnetId: SUBNETS[0] });
    expect(second!.instanceType).not.toBe(first!.instanceType);
    expect(second!.subnetId).not.toBe(first!.subnetId);
    expect(result).toMatchObject({ status: 'booting', instance: { poolIndex: 1, instanceType: second!.instanceType, subnetId: second!.subnetId } });
  });

  it('every pool refusing is a result (capacity-exhausted interruption), not a crash', async () => {
    // Prepare
    ec2.on(RunInstancesCommand).rejects(ec2Error('InsufficientInstanceCapacity'));

    // Act
    const result: LooseJob = await handler(taskInput());

    // Assess
    expect(result.status).toBe('failed');
    expect(result.failure).toMatchObject({ kind: 'interruption', reasonCode: 'capacity-exhausted' });
    expect(result.instance).toBeUndefined();
    const tried = launchedPools().map((p) => `${p.instanceType}|${p.subnetId}`);
    expect(tried).toHaveLength(9);
    expect(new Set(tried).size).toBe(9);
  });

  it.each(['MaxSpotInstanceCountExceeded', 'VcpuLimitExceeded'])('%s is an account quota: the attempt fails naming the quota, and no other pool is tried', async (code) => {
    // Prepare
    ec2.on(RunInstancesCommand).rejects(ec2Error(code));

    // Act
    const result: LooseJob = await handler(taskInput());

    // Assess
    expect(result.status).toBe('failed');
    expect(result.failure).toMatchObject({ kind: 'quota', reasonCode: 'quota' });
    expect(result.failure?.detail).toContain(code);
    expect(result.failure?.detail).toMatch(/quota/);
    expect(ec2).toHaveReceivedCommandTimes(RunInstancesCommand, 1);
  });

  it('a relaunch with poolCursor 4 starts at pool 4', async () => {
    // Prepare
    ec2.on(RunInstancesCommand).resolves({ Instances: [NEW_INSTANCE] });

    // Act
    const result: LooseJob = await handler(taskInput({ job: job({ attempt: 2, poolCursor: 4 }) }));

    // Assess
    expect(launchedPools()).toEqual([{ instanceType: POOLS[4]!.instanceType, subnetId: POOLS[4]!.subnetId }]);
    expect(result.instance?.poolIndex).toBe(4);
  });

  it('a non-capacity error (UnauthorizedOperation) fails with LaunchFailed and tries no other pool', async () => {
    // Prepare
    ec2.on(RunInstancesCommand).rejects(ec2Error('UnauthorizedOperation', 403));

    // Act
    const launching = handler(taskInput());

    // Assess
    await expect(launching).rejects.toThrow(LaunchFailed);
    await expect(launching).rejects.toThrow(/UnauthorizedOperation/);
    expect(ec2).toHaveReceivedCommandTimes(RunInstancesCommand, 1);
  });

  it('throttling (RequestLimitExceeded) fails with TransientApiError for the state machine to retry', async () => {
    // Prepare
    ec2.on(RunInstancesCommand).rejects(ec2Error('RequestLimitExceeded', 503));

    // Act
    const launching = handler(taskInput());

    // Assess
    await expect(launching).rejects.toThrow(TransientApiError);
    await expect(launching).rejects.toHaveProperty('name', 'TransientApiError');
  });

  it('the same inputs give the same ClientToken; another attempt gives another', async () => {
    // Prepare
    ec2.on(RunInstancesCommand).resolves({ Instances: [NEW_INSTANCE] });
    const tokens: (string | undefined)[] = [];

    // Act
    for (const attempt of [1, 1, 2]) {
      ec2.resetHistory();
      await handler(taskInput({ job: job({ attempt }) }));
      tokens.push(ec2.commandCalls(RunInstancesCommand)[0]!.args[0].input.ClientToken);
    }

    // Assess
    expect(tokens[0]).toBeDefined();
    expect(tokens[1]).toBe(tokens[0]);
    expect(tokens[2]).not.toBe(tokens[0]);
    expect(tokens[0]).toBe(clientToken(EXECUTION_ID, 'DataPhase1', 1, 0));
  });

  it('each pool of one attempt gets its own ClientToken', () => {
    // Prepare
    const pools = POOLS.map((_, i) => i);

    // Act
    const tokens = pools.map((i) => clientToken(EXECUTION_ID, 'DataPhase1', 1, i));

    // Assess
    expect(new Set(tokens).size).toBe(POOLS.length);
    expect(tokens.every((t) => t.length <= 64)).toBe(true);
  });

  it('phase budget already spent: fails as budget without launching', async () => {
    // Prepare
    clockAt(at(5100));

    // Act
    const result: LooseJob = await handler(taskInput());

    // Assess
    expect(result).toMatchObject({ status: 'failed', failure: { kind: 'budget' } });
    expect(ec2).not.toHaveReceivedCommand(RunInstancesCommand);
  });

  it('invalid input (phase.budgetSeconds missing) fails with InvalidTaskInput naming the field, before any AWS call', async () => {
    // Prepare
    const input = taskInput() as unknown as { phase: Record<string, unknown> };
    delete input.phase.budgetSeconds;

    // Act
    const launching = handler(input);

    // Assess
    await expect(launching).rejects.toThrow(InvalidTaskInput);
    await expect(launching).rejects.toThrow(/phase\.budgetSeconds/);
    expect(ec2).not.toHaveReceivedAnyCommand();
  });

  it('a missing launch template setting fails with InvalidEnvironment naming it', async () => {
    // Prepare
    vi.stubEnv('LAUNCH_TEMPLATE_ID', undefined);

    // Act
    const launching = handler(taskInput());

    // Assess
    await expect(launching).rejects.toThrow(InvalidEnvironment);
    await expect(launching).rejects.toThrow(/LAUNCH_TEMPLATE_ID/);
    expect(ec2).not.toHaveReceivedAnyCommand();
  });
});

describe('LaunchInstance: the pool memory', () => {
  /** A pool memory key, as contract/storage.ts writes it. */
  const event = (pool: { instanceType: string; subnetId: string }, atMs: number, kind = 'interrupted') =>
    `saturday-pipeline/pools/${pool.instanceType}/${pool.subnetId}/${new Date(atMs).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z')}_${kind}_0123456789abcdef`;

  it('tries last the pools that reclaimed or refused lately, the most recent last; the others in rotation order', async () => {
    // Prepare: pool 0 reclaimed an instance an hour ago, pool 1 refused capacity two days ago, pool 5 ten days ago (forgotten).
    s3.on(ListObjectsV2Command).resolves({
      Contents: [{ Key: event(POOLS[0]!, at(5) - 3_600_000) }, { Key: event(POOLS[1]!, at(5) - 2 * 86_400_000, 'refused') }, { Key: event(POOLS[5]!, at(5) - 10 * 86_400_000) }, { Key: 'saturday-pipeline/pools/README' }],
      IsTruncated: false,
    });
    ec2.on(RunInstancesCommand).rejects(ec2Error('InsufficientInstanceCapacity'));

    // Act
    await handler(taskInput());

    // Assess
    expect(s3).toHaveReceivedCommandWith(ListObjectsV2Command, { Bucket: 'saturday-pipeline-bucket', Prefix: 'saturday-pipeline/pools/' });
    const order = launchedPools().map((p) => POOLS.findIndex((q) => q.instanceType === p.instanceType && q.subnetId === p.subnetId));
    expect(order).toEqual([2, 3, 4, 5, 6, 7, 8, 1, 0]);
  });

  it('records each refusal in the pool memory (an empty object whose key names the pool, the time and the kind)', async () => {
    // Prepare: the first two pools refuse.
    ec2.on(RunInstancesCommand).rejectsOnce(ec2Error('InsufficientInstanceCapacity')).rejectsOnce(ec2Error('InsufficientInstanceCapacity')).resolves({ Instances: [NEW_INSTANCE] });

    // Act
    await handler(taskInput());

    // Assess
    const keys = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key);
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(new RegExp(`^saturday-pipeline/pools/${POOLS[0]!.instanceType}/${POOLS[0]!.subnetId}/\\d{8}T\\d{6}Z_refused_[0-9a-f]{16}$`));
    expect(keys[1]).toContain(`/pools/${POOLS[1]!.instanceType}/${POOLS[1]!.subnetId}/`);
  });

  it('a pool memory S3 will not give (throttled) leaves the rotation order; the launch goes on', async () => {
    // Prepare
    s3.on(ListObjectsV2Command).rejects(new S3ServiceException({ name: 'SlowDown', $fault: 'server', $metadata: { httpStatusCode: 503 }, message: 'Please reduce your request rate.' }));
    ec2.on(RunInstancesCommand).resolves({ Instances: [NEW_INSTANCE] });

    // Act
    const result = await handler(taskInput());

    // Assess
    expect(result).toMatchObject({ status: 'booting', instance: { poolIndex: 0 } });
  });
});
