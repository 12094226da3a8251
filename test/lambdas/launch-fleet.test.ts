/**
 * LaunchInstance with `allocation: price-capacity-optimized`: one CreateFleet call (type instant)
 * over every allowed pool from the phase's own launch template. The answers are CreateFleet's real
 * shapes (EC2 API reference, "CreateFleet" Response Elements, "CreateFleetInstance",
 * "CreateFleetError"): HTTP 200 with the instances in `Instances` and what failed in `Errors`.
 */
import { CreateFleetCommand, DescribeInstancesCommand, EC2Client, RunInstancesCommand, type _InstanceType, type CreateFleetCommandOutput } from '@aws-sdk/client-ec2';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LaunchFailed, TransientApiError } from '../../contract/errors';
import { TAG } from '../../contract/tags';
import { poolOrder } from '../../decisions/pools';
import { fleetClientToken, handler } from '../../lambdas/launch-instance';
import { at, clockAt, ec2Error, EXECUTION_ID, INSTANCE_TYPES, job, stubHandlerEnv, SUBNETS, taskInput, type LooseJob } from './fixtures';

const ec2 = mockClient(EC2Client);
const sfn = mockClient(SFNClient);
const s3 = mockClient(S3Client);
const POOLS = poolOrder(INSTANCE_TYPES, SUBNETS);
const TEMPLATE = { id: 'lt-0phase00000000001', version: '3' };
const FLEET = { allocation: 'price-capacity-optimized' as const, launchTemplate: TEMPLATE };
const FLEET_ID = 'fleet-6f2e1c4b-1b2a-4c8d-9e3f-0a1b2c3d4e5f';

const spec = (o: { InstanceType: string; SubnetId: string }) => ({ LaunchTemplateSpecification: { LaunchTemplateId: TEMPLATE.id, Version: TEMPLATE.version }, Overrides: { ...o, InstanceType: o.InstanceType as _InstanceType } });
const launchedAnswer = (o: { InstanceType: string; SubnetId: string }, id = 'i-0fleet000000000001', lifecycle = 'spot'): Partial<CreateFleetCommandOutput> => ({
  FleetId: FLEET_ID,
  Errors: [],
  Instances: [{ LaunchTemplateAndOverrides: spec(o), Lifecycle: lifecycle as never, InstanceIds: [id], InstanceType: o.InstanceType as never }],
});
const capacityError = (o: { InstanceType: string; SubnetId: string }, code = 'InsufficientInstanceCapacity', lifecycle = 'spot') => ({
  LaunchTemplateAndOverrides: spec(o),
  Lifecycle: lifecycle as never,
  ErrorCode: code,
  ErrorMessage: `We currently do not have sufficient ${o.InstanceType} capacity in the Availability Zone you requested.`,
});
const override = (i: number) => ({ InstanceType: POOLS[i]!.instanceType, SubnetId: POOLS[i]!.subnetId });
/** The overrides each CreateFleet call asked for, as "type/subnet". */
const askedPools = () => ec2.commandCalls(CreateFleetCommand).map((c) => (c.args[0].input.LaunchTemplateConfigs?.[0]?.Overrides ?? []).map((o) => `${o.InstanceType}/${o.SubnetId}`));

beforeEach(() => {
  ec2.reset();
  sfn.reset();
  s3.reset();
  s3.on(ListObjectsV2Command).resolves({ Contents: [], KeyCount: 0, IsTruncated: false });
  s3.on(PutObjectCommand).resolves({ ETag: '"d41d8cd98f00b204e9800998ecf8427e"' });
  sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' } as never);
  stubHandlerEnv();
  clockAt(at(5));
  // Nothing launched by this attempt before; the new instance described after the fleet.
  ec2.on(DescribeInstancesCommand).callsFake((input: { InstanceIds?: string[] }) =>
    input.InstanceIds?.[0] === 'i-0fleet000000000001'
      ? { Reservations: [{ Instances: [{ InstanceId: 'i-0fleet000000000001', Placement: { AvailabilityZone: 'us-east-1c' }, SpotInstanceRequestId: 'sir-fleet001', SubnetId: POOLS[4]!.subnetId }] }] }
      : { Reservations: [] },
  );
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

describe('LaunchInstance: a fleet launch asks once', () => {
  it('one instant, price-capacity-optimized spot fleet over every pool, from the phase template, tagged, with a token per attempt', async () => {
    // Prepare
    ec2.on(CreateFleetCommand).resolves(launchedAnswer(override(4)));

    // Act
    const result: LooseJob = await handler(taskInput({ phase: FLEET }));

    // Assess
    expect(ec2).toHaveReceivedCommandTimes(CreateFleetCommand, 1);
    expect(ec2).not.toHaveReceivedCommand(RunInstancesCommand);
    const input = ec2.commandCalls(CreateFleetCommand)[0]!.args[0].input;
    expect(input).toMatchObject({
      Type: 'instant',
      TargetCapacitySpecification: { TotalTargetCapacity: 1, SpotTargetCapacity: 1, OnDemandTargetCapacity: 0, DefaultTargetCapacityType: 'spot' },
      SpotOptions: { AllocationStrategy: 'price-capacity-optimized', InstanceInterruptionBehavior: 'terminate' },
      ClientToken: fleetClientToken(EXECUTION_ID, 'DataPhase1', 1, POOLS.map((_, i) => i), 'spot'),
    });
    expect(askedPools()).toEqual([POOLS.map((p) => `${p.instanceType}/${p.subnetId}`)]);
    expect(input.LaunchTemplateConfigs![0]!.LaunchTemplateSpecification).toEqual({ LaunchTemplateId: TEMPLATE.id, Version: TEMPLATE.version });
    for (const type of ['fleet', 'instance']) {
      const tags = input.TagSpecifications!.find((t) => t.ResourceType === type)!.Tags!;
      expect(tags).toEqual(expect.arrayContaining([{ Key: TAG.execution, Value: EXECUTION_ID }, { Key: TAG.attempt, Value: '1' }, { Key: TAG.market, Value: 'spot' }]));
    }
    expect(result).toMatchObject({
      status: 'booting',
      instance: { id: 'i-0fleet000000000001', instanceType: POOLS[4]!.instanceType, subnetId: POOLS[4]!.subnetId, poolIndex: 4, availabilityZone: 'us-east-1c', spotRequestId: 'sir-fleet001' },
    });
  });

  it('launched, with Errors for the pools it could not use: the instance counts, the refusals go to the pool memory', async () => {
    // Prepare
    ec2.on(CreateFleetCommand).resolves({ ...launchedAnswer(override(4)), Errors: [capacityError(override(0)), capacityError(override(1), 'InsufficientInstanceCapacity')] });

    // Act
    const result: LooseJob = await handler(taskInput({ phase: FLEET }));

    // Assess
    expect(result).toMatchObject({ status: 'booting', instance: { poolIndex: 4 } });
    const remembered = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key);
    expect(remembered).toEqual([expect.stringContaining(`/pools/${POOLS[0]!.instanceType}/${POOLS[0]!.subnetId}/`), expect.stringContaining(`/pools/${POOLS[1]!.instanceType}/${POOLS[1]!.subnetId}/`)]);
  });

  it('empty Instances and only capacity errors: the attempt found no capacity (a relaunchable interruption), naming every pool', async () => {
    // Prepare
    ec2.on(CreateFleetCommand).resolves({ FleetId: FLEET_ID, Instances: [], Errors: POOLS.map((_, i) => capacityError(override(i), i % 2 ? 'UnfulfillableCapacity' : 'InsufficientInstanceCapacity')) });

    // Act
    const result: LooseJob = await handler(taskInput({ phase: FLEET }));

    // Assess
    expect(result).toMatchObject({ status: 'failed', failure: { kind: 'interruption', reasonCode: 'capacity-exhausted' } });
    expect(result.failure!.lastOutput!.split('; ')).toHaveLength(POOLS.length);
    expect(ec2).toHaveReceivedCommandTimes(CreateFleetCommand, 1);
  });

  it('empty Instances and no Errors at all: still no capacity, never a crash', async () => {
    // Prepare
    ec2.on(CreateFleetCommand).resolves({ FleetId: FLEET_ID, Instances: [], Errors: [] });

    // Act
    const result: LooseJob = await handler(taskInput({ phase: FLEET }));

    // Assess
    expect(result).toMatchObject({ status: 'failed', failure: { reasonCode: 'capacity-exhausted' } });
  });

  it('a quota in Errors fails the phase fast naming the quota; never relaunched as capacity', async () => {
    // Prepare
    ec2.on(CreateFleetCommand).resolves({ FleetId: FLEET_ID, Instances: [], Errors: [capacityError(override(0)), { ...capacityError(override(1)), ErrorCode: 'MaxSpotInstanceCountExceeded', ErrorMessage: 'Max spot instance count exceeded' }] });

    // Act
    const result: LooseJob = await handler(taskInput({ phase: FLEET }));

    // Assess
    expect(result).toMatchObject({ status: 'failed', failure: { kind: 'quota', reasonCode: 'quota' } });
    expect(result.failure!.detail).toContain('MaxSpotInstanceCountExceeded');
  });

  it('the spot service-linked role missing is a setup error whose message says how to fix it', async () => {
    // Prepare: as an entry of Errors, and as an exception of the whole call.
    ec2
      .on(CreateFleetCommand)
      .resolvesOnce({
        FleetId: FLEET_ID,
        Instances: [],
        Errors: [{ ...capacityError(override(0)), ErrorCode: 'AuthFailure.ServiceLinkedRoleCreationNotPermitted', ErrorMessage: 'The provided credentials do not have permission to create the service-linked role for EC2 Spot Instances.' }],
      })
      .rejects(ec2Error('AuthFailure.ServiceLinkedRoleCreationNotPermitted'));

    // Act / Assess
    for (const source of ['Errors', 'exception']) {
      const err = await handler(taskInput({ phase: FLEET })).catch((e: unknown) => e);
      expect((err as Error).message, source).toContain('AuthFailure.ServiceLinkedRoleCreationNotPermitted');
      expect(err).toBeInstanceOf(LaunchFailed);
      expect((err as Error).message).toMatch(/create-service-linked-role --aws-service-name spot\.amazonaws\.com/);
      expect((err as Error).message).toContain('"allocation": "rotation"');
    }
  });

  it('a configuration error in Errors (an unknown template) fails loud, not as capacity', async () => {
    // Prepare
    ec2.on(CreateFleetCommand).resolves({ FleetId: FLEET_ID, Instances: [], Errors: [{ ...capacityError(override(0)), ErrorCode: 'InvalidLaunchTemplateId.NotFound', ErrorMessage: 'The specified launch template does not exist' }] });

    // Act
    const err = await handler(taskInput({ phase: FLEET })).catch((e: unknown) => e);

    // Assess
    expect(err).toBeInstanceOf(LaunchFailed);
    expect((err as Error).message).toContain('InvalidLaunchTemplateId.NotFound');
  });

  it('throttled past the SDK retries: a transient error the state machine retries (same token: no second instance)', async () => {
    // Prepare
    ec2.on(CreateFleetCommand).rejects(ec2Error('RequestLimitExceeded', 503));

    // Act
    const err = await handler(taskInput({ phase: FLEET })).catch((e: unknown) => e);

    // Assess
    expect(err).toBeInstanceOf(TransientApiError);
  });
});

describe('LaunchInstance: which pools a fleet asks', () => {
  it('a relaunch leaves out the pool spot just reclaimed', async () => {
    // Prepare
    ec2.on(CreateFleetCommand).resolves(launchedAnswer(override(4)));
    const relaunch = job({ status: 'launching', attempt: 2, poolCursor: 3, verdict: { action: 'relaunch', reasonCode: 'instance-terminated-no-capacity', leavePool: 2 } as never });

    // Act
    await handler(taskInput({ phase: FLEET, job: relaunch }));

    // Assess
    const [asked] = askedPools();
    expect(asked).toHaveLength(POOLS.length - 1);
    expect(asked).not.toContain(`${POOLS[2]!.instanceType}/${POOLS[2]!.subnetId}`);
    expect(ec2.commandCalls(CreateFleetCommand)[0]!.args[0].input.ClientToken).toBe(fleetClientToken(EXECUTION_ID, 'DataPhase1', 2, POOLS.map((_, i) => i).filter((i) => i !== 2), 'spot'));
  });

  it('with a single pool, the relaunch goes back into it (there is nowhere else)', async () => {
    // Prepare
    const one = { InstanceType: 'c5.large', SubnetId: SUBNETS[0] };
    ec2.on(CreateFleetCommand).resolves(launchedAnswer(one));
    const relaunch = job({ status: 'launching', attempt: 2, verdict: { action: 'relaunch', reasonCode: 'instance-terminated-no-capacity', leavePool: 0 } as never });

    // Act
    const result: LooseJob = await handler(taskInput({ phase: { ...FLEET, instanceTypes: ['c5.large'], subnetIds: [SUBNETS[0]] }, job: relaunch }));

    // Assess
    expect(askedPools()).toEqual([[`c5.large/${SUBNETS[0]}`]]);
    expect(result.status).toBe('booting');
  });

  it('pools with recent trouble are asked only when the others have no capacity, in a second call', async () => {
    // Prepare: the pool memory holds a reclaim of pool 0 an hour ago.
    const hourAgo = new Date(at(5) - 3_600_000).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: `saturday-pipeline/pools/${POOLS[0]!.instanceType}/${POOLS[0]!.subnetId}/${hourAgo}_interrupted_0123456789abcdef` }], KeyCount: 1, IsTruncated: false });
    ec2
      .on(CreateFleetCommand)
      .resolvesOnce({ FleetId: FLEET_ID, Instances: [], Errors: POOLS.slice(1).map((_, i) => capacityError(override(i + 1))) })
      .resolves(launchedAnswer(override(0)));

    // Act
    const result: LooseJob = await handler(taskInput({ phase: FLEET }));

    // Assess
    const asked = askedPools();
    expect(asked).toHaveLength(2);
    expect(asked[0]).not.toContain(`${POOLS[0]!.instanceType}/${POOLS[0]!.subnetId}`);
    expect(asked[1]).toEqual([`${POOLS[0]!.instanceType}/${POOLS[0]!.subnetId}`]);
    expect(result).toMatchObject({ status: 'booting', instance: { poolIndex: 0 } });
  });

  it('spot gone from every pool, with the on-demand fallback: the same attempt asks an on-demand fleet', async () => {
    // Prepare
    ec2.on(CreateFleetCommand).callsFake((input: { TargetCapacitySpecification?: { DefaultTargetCapacityType?: string } }) =>
      input.TargetCapacitySpecification?.DefaultTargetCapacityType === 'on-demand'
        ? launchedAnswer(override(4), 'i-0fleet000000000001', 'on-demand')
        : { FleetId: FLEET_ID, Instances: [], Errors: POOLS.map((_, i) => capacityError(override(i))) },
    );

    // Act
    const result: LooseJob = await handler(taskInput({ phase: { ...FLEET, onDemandFallback: true } }));

    // Assess
    expect(ec2).toHaveReceivedCommandTimes(CreateFleetCommand, 2);
    const second = ec2.commandCalls(CreateFleetCommand)[1]!.args[0].input;
    expect(second).toMatchObject({ OnDemandOptions: { AllocationStrategy: 'lowest-price' }, ClientToken: fleetClientToken(EXECUTION_ID, 'DataPhase1', 1, POOLS.map((_, i) => i), 'on-demand') });
    expect(second.SpotOptions).toBeUndefined();
    expect(result).toMatchObject({ status: 'booting', instance: { market: 'on-demand' }, fallback: { trigger: 'capacity-exhausted' } });
  });

  it('a phase with allocation rotation launches by RunInstances, pool by pool', async () => {
    // Prepare
    ec2.on(RunInstancesCommand).resolves({ Instances: [{ InstanceId: 'i-0rot0000000000001', Placement: { AvailabilityZone: 'us-east-1a' } }] });

    // Act
    await handler(taskInput({ phase: { allocation: 'rotation', launchTemplate: TEMPLATE } }));

    // Assess
    expect(ec2).not.toHaveReceivedCommand(CreateFleetCommand);
    expect(ec2).toHaveReceivedCommandTimes(RunInstancesCommand, 1);
  });
});

describe('LaunchInstance: secondary instance types', () => {
  const SECONDARY = { ...FLEET, secondaryInstanceTypes: ['c5.xlarge'] };

  it('with slack (a 3-hour budget: four attempts fit): the first ask is the phase\'s own types; when they have no capacity, a second ask goes to the secondary types, before any on-demand', async () => {
    // Prepare
    ec2
      .on(CreateFleetCommand)
      .resolvesOnce({ FleetId: FLEET_ID, Instances: [], Errors: POOLS.map((_, i) => capacityError(override(i))) })
      .resolves(launchedAnswer({ InstanceType: 'c5.xlarge', SubnetId: SUBNETS[1] }, 'i-0fleet000000000001'));

    // Act
    const result: LooseJob = await handler(taskInput({ phase: { ...SECONDARY, budgetSeconds: 10800, onDemandFallback: true } }));

    // Assess
    const asked = askedPools();
    expect(asked[0]!.every((p) => !p.startsWith('c5.xlarge/'))).toBe(true);
    expect(asked[1]).toEqual(SUBNETS.map((s) => `c5.xlarge/${s}`));
    expect(ec2.commandCalls(CreateFleetCommand)[1]!.args[0].input.TargetCapacitySpecification?.DefaultTargetCapacityType).toBe('spot');
    expect(result).toMatchObject({ status: 'booting', instance: { instanceType: 'c5.xlarge', poolIndex: POOLS.length + 1 } });
    expect((result as { fallback?: unknown }).fallback).toBeUndefined();
    // Another ask, another token (the same token would get the first ask's answer back: EC2's idempotency).
    const [firstToken, secondToken] = ec2.commandCalls(CreateFleetCommand).map((c) => c.args[0].input.ClientToken);
    expect(secondToken).not.toBe(firstToken);
  });

  it('slack shrunk (two attempts left at most): the first ask offers every type', async () => {
    // Prepare: 5100 s deadline, 2400 s attempts: at 2000 s only one whole attempt fits.
    clockAt(at(2000));
    ec2.on(CreateFleetCommand).resolves(launchedAnswer(override(4)));

    // Act
    await handler(taskInput({ phase: SECONDARY }));

    // Assess
    const [asked] = askedPools();
    expect(asked).toHaveLength(POOLS.length + SUBNETS.length);
    expect(asked!.filter((p) => p.startsWith('c5.xlarge/'))).toHaveLength(SUBNETS.length);
  });
});
