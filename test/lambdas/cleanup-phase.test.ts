import { DescribeInstancesCommand, EC2Client, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler } from '../../lambdas/cleanup-phase';
import { InvalidTaskInput } from '../../contract/errors';
import { TAG } from '../../contract/tags';
import { describedInstance, ec2Error, EXECUTION_ID, INSTANCE_ID, stubHandlerEnv } from './fixtures';

const ec2 = mockClient(EC2Client);
const STRAY = 'i-0stray0000000001';
const GONE = 'i-0gone00000000001';

/** What the state machine hands CleanupPhase after a caught task error. */
const caughtInput = (instanceId?: string) => ({
  phase: { name: 'DataPhase1' },
  execution: { id: EXECUTION_ID, name: 'abc', startTime: '2026-05-30T09:00:00.000Z' },
  job: instanceId ? { attempt: 1, instance: { id: instanceId } } : undefined,
  caught: { Error: 'LaunchFailed', Cause: '{"errorMessage":"RunInstances failed"}' },
});

beforeEach(() => {
  ec2.reset();
  stubHandlerEnv();
  ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
  ec2.on(TerminateInstancesCommand).resolves({});
});

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('CleanupPhase', () => {
  it("terminates the job's instance and every instance tagged with this execution", async () => {
    // Prepare
    ec2.on(DescribeInstancesCommand).resolves(describedInstance('running', { id: STRAY }));

    // Act
    const result = await handler(caughtInput(INSTANCE_ID));

    // Assess
    expect(ec2).toHaveReceivedCommandWith(DescribeInstancesCommand, {
      Filters: expect.arrayContaining([{ Name: `tag:${TAG.execution}`, Values: [EXECUTION_ID] }]),
    });
    expect(ec2).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: [INSTANCE_ID, STRAY] });
    expect(result.terminated).toEqual([INSTANCE_ID, STRAY]);
  });

  it('finds tagged instances even when the job never recorded one', async () => {
    // Prepare
    ec2.on(DescribeInstancesCommand).resolves(describedInstance('pending', { id: STRAY }));

    // Act
    const result = await handler(caughtInput());

    // Assess
    expect(result.terminated).toEqual([STRAY]);
  });

  it('an instance EC2 no longer knows (InvalidInstanceID.NotFound) is not an error; the others still go', async () => {
    // Prepare
    ec2.on(DescribeInstancesCommand).resolves(describedInstance('running', { id: GONE }));
    ec2.on(TerminateInstancesCommand).callsFake((input: { InstanceIds?: string[] }) => {
      if (input.InstanceIds?.includes(GONE)) throw ec2Error('InvalidInstanceID.NotFound');
      return {};
    });

    // Act
    const result = await handler(caughtInput(INSTANCE_ID));

    // Assess
    expect(result.terminated).toEqual([INSTANCE_ID]);
    expect(ec2).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: [INSTANCE_ID] });
  });

  it('a lone NotFound instance: nothing to terminate, no error', async () => {
    // Prepare
    ec2.on(TerminateInstancesCommand).rejects(ec2Error('InvalidInstanceID.NotFound'));

    // Act
    const result = await handler(caughtInput(GONE));

    // Assess
    expect(result).toEqual({ terminated: [] });
  });

  it('nothing tagged and no instance: no TerminateInstances call', async () => {
    // Prepare: the defaults (no instances).

    // Act
    const result = await handler(caughtInput());

    // Assess
    expect(result).toEqual({ terminated: [] });
    expect(ec2).not.toHaveReceivedCommand(TerminateInstancesCommand);
  });

  it('other EC2 errors are not swallowed (the instances would leak)', async () => {
    // Prepare
    ec2.on(TerminateInstancesCommand).rejects(ec2Error('UnauthorizedOperation', 403));

    // Act
    const cleaning = handler(caughtInput(INSTANCE_ID));

    // Assess
    await expect(cleaning).rejects.toThrow(/UnauthorizedOperation/);
  });

  it('an input without the execution id is refused', async () => {
    // Prepare
    const input = { job: { instance: { id: INSTANCE_ID } } };

    // Act
    const cleaning = handler(input);

    // Assess
    await expect(cleaning).rejects.toThrow(InvalidTaskInput);
    await expect(cleaning).rejects.toThrow(/execution/);
  });
});
