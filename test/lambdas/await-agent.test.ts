import { DescribeInstancesCommand, DescribeSpotInstanceRequestsCommand, EC2Client, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AGENT_WAIT_IN_TASK_SECONDS, handler as awaitAgent } from '../../lambdas/await-agent';
import { at, clockAt, describedInstance, ec2Error, INSTANCE_ID, instanceRef, job, spotStatus, ssmError, stubHandlerEnv, taskInput, type LooseJob } from './fixtures';

/**
 * The handler, on a clock whose timers run too: a check may wait for the agent itself
 * (AGENT_WAIT_IN_TASK_SECONDS), looking every few seconds; those seconds pass at once here.
 */
async function handler(input: unknown): Promise<LooseJob> {
  // (Re-installed: the clock the other tests freeze fakes Date only.)
  const now = Date.now();
  vi.useRealTimers();
  vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'], now });
  let settled = false;
  const result = awaitAgent(input).finally(() => (settled = true));
  // (Handled at once: a rejection the test awaits only after the clock loop must not count as unhandled meanwhile.)
  result.catch(() => undefined);
  for (let waited = 0; !settled && waited <= (AGENT_WAIT_IN_TASK_SECONDS + 10) * 1000; waited += 1000) await vi.advanceTimersByTimeAsync(1000);
  return result as Promise<LooseJob>;
}

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

describe('AwaitAgent waits for the agent itself, and for the instance spot noticed before', () => {
  it('an agent that comes online 40 s into the check: ready in that same check (one state transition, not a loop per 20 s)', async () => {
    // Prepare: SSM says offline for the first looks, online from the ninth (40 s later).
    let looks = 0;
    ssm.on(DescribeInstanceInformationCommand).callsFake(() => (++looks > 8 ? { InstanceInformationList: [{ InstanceId: INSTANCE_ID, PingStatus: 'Online' }] } : { InstanceInformationList: [] }));

    // Act
    const started = Date.now();
    const result = await handler(bootingInput());

    // Assess
    expect(result.status).toBe('ready');
    expect(Date.now() - started).toBe(40_000);
    // EC2 looked at after agentCheckSeconds (20 s) and once the agent is online: no notice on it.
    expect(ec2).toHaveReceivedCommandTimes(DescribeInstancesCommand, 2);
  });

  it('spot gives its notice while the instance boots: the check ends there, the attempt fails (no workload sent to it)', async () => {
    // Prepare
    ec2.on(DescribeSpotInstanceRequestsCommand).resolves(spotStatus('marked-for-termination'));

    // Act
    const started = Date.now();
    const result = await handler(bootingInput());

    // Assess
    expect(result).toMatchObject({ status: 'failed', failure: { kind: 'interruption', reasonCode: 'marked-for-termination' } });
    expect(Date.now() - started).toBeLessThanOrEqual(25_000);
  });

  it('never waits past the boot timeout: the check ends there and the boot times out', async () => {
    // Prepare: launched at start + 60 s, boot timeout 600 s; now start + 620 s.
    clockAt(at(620));

    // Act
    const result = await handler(bootingInput());

    // Assess
    expect(result).toMatchObject({ status: 'failed', failure: { kind: 'boot-timeout' } });
    expect(Date.now()).toBeLessThanOrEqual(at(660));
  });

  const withPredecessor = (savesUntilMs: number) =>
    taskInput({ job: job({ status: 'booting', attemptStartedAt: new Date(at(0)).toISOString(), instance: instanceRef(), nextWaitSeconds: 20, pollErrors: 0, predecessor: { instanceId: 'i-0noticed00000000001', savesUntil: new Date(savesUntilMs).toISOString() } } as never) });
  const online = () => ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [{ InstanceId: INSTANCE_ID, PingStatus: 'Online' }] });
  const predecessorIs = (state: string) =>
    ec2.on(DescribeInstancesCommand, { InstanceIds: ['i-0noticed00000000001'] }).resolves({ Reservations: [{ Instances: [{ InstanceId: 'i-0noticed00000000001', State: { Name: state as never } }] }] });

  it('the agent is online but the noticed instance still saves its checkpoint: still booting, the workload waits', async () => {
    // Prepare
    online();
    predecessorIs('running');

    // Act
    const result = await handler(withPredecessor(at(200)));

    // Assess
    expect(result).toMatchObject({ status: 'booting', predecessor: { instanceId: 'i-0noticed00000000001' } });
    expect(ec2).not.toHaveReceivedCommand(TerminateInstancesCommand);
  });

  it('the noticed instance is gone (spot took it after the save): ready, and the job forgets it', async () => {
    // Prepare
    online();
    predecessorIs('terminated');

    // Act
    const result = await handler(withPredecessor(at(200)));

    // Assess
    expect(result.status).toBe('ready');
    expect(result).not.toHaveProperty('predecessor');
    expect(ec2).not.toHaveReceivedCommand(TerminateInstancesCommand);
  });

  it('the noticed instance is still there past its save window: terminated, and the workload starts', async () => {
    // Prepare
    online();
    predecessorIs('running');
    ec2.on(TerminateInstancesCommand).resolves({});

    // Act
    const result = await handler(withPredecessor(at(100)));

    // Assess
    expect(result.status).toBe('ready');
    expect(ec2).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: ['i-0noticed00000000001'] });
  });
});
