import { DescribeInstancesCommand, DescribeSpotInstanceRequestsCommand, EC2Client, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler } from '../../lambdas/await-agent';
import { at, clockAt, describedInstance, ec2Error, INSTANCE_ID, instanceRef, job, spotStatus, ssmError, stubHandlerEnv, taskInput, type LooseJob } from './fixtures';

const ec2 = mockClient(EC2Client);
const ssm = mockClient(SSMClient);

/** Attempt 1's instance, launched at start + 60 s, waiting for its agent. */
const bootingInput = (pollErrors = 0) => taskInput({ job: job({ status: 'booting', attemptStartedAt: new Date(at(0)).toISOString(), instance: instanceRef(), nextWaitSeconds: 20, pollErrors }) });

beforeEach(() => {
  ec2.reset();
  ssm.reset();
  stubHandlerEnv();
  clockAt(at(120));
  ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [] });
  ec2.on(DescribeInstancesCommand).resolves(describedInstance('running'));
  ec2.on(DescribeSpotInstanceRequestsCommand).resolves(spotStatus('fulfilled'));
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

describe('AwaitAgent', () => {
  it('agent Online -> ready, asking SSM about this instance', async () => {
    // Prepare
    ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [{ InstanceId: INSTANCE_ID, PingStatus: 'Online' }] });

    // Act
    const result: LooseJob = await handler(bootingInput(2));

    // Assess
    expect(result).toMatchObject({ status: 'ready', pollErrors: 0, instance: { id: INSTANCE_ID } });
    expect(ssm).toHaveReceivedCommandWith(DescribeInstanceInformationCommand, { Filters: [{ Key: 'InstanceIds', Values: [INSTANCE_ID] }] });
  });

  it('agent not online yet on a running instance -> still booting, looks again later', async () => {
    // Prepare: not registered yet, instance running, spot request fulfilled (the defaults).

    // Act
    const result: LooseJob = await handler(bootingInput());

    // Assess
    expect(result.status).toBe('booting');
    expect(result.nextWaitSeconds).toBeGreaterThan(0);
    expect(result.failure).toBeUndefined();
    expect(ec2).not.toHaveReceivedCommand(TerminateInstancesCommand);
  });

  it('instance terminated by spot (instance-terminated-no-capacity) while booting -> failed interruption', async () => {
    // Prepare
    ec2.on(DescribeInstancesCommand).resolves(describedInstance('terminated', { stateReason: 'Server.SpotInstanceTermination' }));
    ec2.on(DescribeSpotInstanceRequestsCommand).resolves(spotStatus('instance-terminated-no-capacity'));

    // Act
    const result: LooseJob = await handler(bootingInput());

    // Assess
    expect(result).toMatchObject({ status: 'failed', failure: { kind: 'interruption', reasonCode: 'instance-terminated-no-capacity' } });
  });

  it('agent still offline after bootTimeoutSeconds -> failed boot-timeout', async () => {
    // Prepare: launched at start + 60 s, boot timeout 600 s.
    clockAt(at(60 + 600));

    // Act
    const result: LooseJob = await handler(bootingInput());

    // Assess
    expect(result.status).toBe('failed');
    expect(result.failure?.kind).toBe('boot-timeout');
    expect(result.failure?.detail).toContain('bootTimeoutSeconds 600');
  });

  it('just inside the boot timeout -> still booting', async () => {
    // Prepare
    clockAt(at(60 + 599));

    // Act
    const result: LooseJob = await handler(bootingInput());

    // Assess
    expect(result.status).toBe('booting');
  });

  it('throttled while reading status -> still booting, pollErrors counted, nothing torn down', async () => {
    // Prepare
    ssm.on(DescribeInstanceInformationCommand).rejects(ssmError('ThrottlingException'));

    // Act
    const result: LooseJob = await handler(bootingInput(2));

    // Assess
    expect(result.status).toBe('booting');
    expect(result.pollErrors).toBe(3);
    expect(result.nextWaitSeconds).toBeGreaterThan(0);
    expect(result.failure).toBeUndefined();
    expect(ec2).not.toHaveReceivedCommand(TerminateInstancesCommand);
  });

  it('throttled at the phase deadline -> failed budget instead of looking again forever', async () => {
    // Prepare: the work deadline is start + 5100 s.
    clockAt(at(5100));
    ssm.on(DescribeInstanceInformationCommand).rejects(ssmError('ThrottlingException'));

    // Act
    const result: LooseJob = await handler(bootingInput(7));

    // Assess
    expect(result).toMatchObject({ status: 'failed', failure: { kind: 'budget' } });
  });

  it('a non-transient SSM error is not swallowed', async () => {
    // Prepare
    ssm.on(DescribeInstanceInformationCommand).rejects(ssmError('AccessDeniedException', 403));

    // Act
    const checking = handler(bootingInput());

    // Assess
    await expect(checking).rejects.toThrow(/AccessDeniedException/);
  });
});

describe('AwaitAgent and EC2 eventual consistency', () => {
  it('a just-launched instance that EC2 does not know yet is still booting, not a lost instance', async () => {
    // Prepare: launched 60 s after start, it is now 120 s: EC2 answers NotFound for a moment.
    ec2.on(DescribeInstancesCommand).rejects(ec2Error('InvalidInstanceID.NotFound'));

    // Act
    const result: LooseJob = await handler(bootingInput());

    // Assess
    expect(result.status).toBe('booting');
    expect(result.failure).toBeUndefined();
  });

  it('an instance EC2 has not known for longer than the grace period is gone', async () => {
    // Prepare
    clockAt(at(60 + 400));
    ec2.on(DescribeInstancesCommand).rejects(ec2Error('InvalidInstanceID.NotFound'));

    // Act
    const result: LooseJob = await handler(bootingInput());

    // Assess
    expect(result.status).toBe('failed');
    expect(result.failure?.kind).toBe('workload-error');
  });
});
