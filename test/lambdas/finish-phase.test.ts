import { DescribeInstancesCommand, EC2Client, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler } from '../../lambdas/finish-phase';
import type { AttemptRecord } from '../../contract/job';
import { TAG } from '../../contract/tags';
import { at, clockAt, describedInstance, ec2Error, EXECUTION_ID, INSTANCE_ID, iso, runningJob, stubHandlerEnv, taskInput } from './fixtures';

const ec2 = mockClient(EC2Client);

const interrupted: AttemptRecord = {
  attempt: 1,
  instanceId: 'i-0first0000000001',
  pool: 'c5.large/us-east-1a',
  outcome: 'interrupted',
  reasonCode: 'marked-for-termination',
  startedAt: iso(at(0)),
  endedAt: iso(at(900)),
};

/** Attempt 2 succeeded on pool 0's instance after attempt 1 was interrupted. */
const succeededInput = (mode: 'full' | 'preflight' = 'full') =>
  taskInput({
    run: { mode },
    job: runningJob({
      attempt: 2,
      status: 'succeeded',
      history: [interrupted],
      attemptStartedAt: iso(at(960)),
      command: { id: 'cmd-2', sentAt: iso(at(1100)), executionTimeoutSeconds: 4000, lastOutput: 'wrote 1234 rows', lastOutputAt: iso(at(3000)) },
    }),
  });

beforeEach(() => {
  ec2.reset();
  stubHandlerEnv();
  clockAt(at(3100));
  ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
  ec2.on(TerminateInstancesCommand).resolves({});
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

describe('FinishPhase', () => {
  it('terminates the instance and any other instance tagged with this execution', async () => {
    // Prepare
    ec2.on(DescribeInstancesCommand).resolves(describedInstance('running', { id: 'i-0stray0000000001' }));

    // Act
    await handler(succeededInput());

    // Assess
    expect(ec2).toHaveReceivedCommandWith(DescribeInstancesCommand, {
      Filters: expect.arrayContaining([{ Name: `tag:${TAG.execution}`, Values: [EXECUTION_ID] }]),
    });
    expect(ec2).toHaveReceivedCommandExactlyOnceWith(TerminateInstancesCommand, { InstanceIds: [INSTANCE_ID, 'i-0stray0000000001'] });
  });

  it('reports the phase succeeded, with every launch in its history', async () => {
    // Prepare: a full run.

    // Act
    const summary = await handler(succeededInput());

    // Assess
    expect(summary).toEqual({
      phase: 'DataPhase1',
      mode: 'full',
      outcome: 'succeeded',
      attempts: 2,
      lastOutput: 'wrote 1234 rows',
      launches: [
        interrupted,
        { attempt: 2, instanceId: INSTANCE_ID, pool: 'c5.large/us-east-1a', outcome: 'succeeded', startedAt: iso(at(960)), endedAt: iso(at(3100)) },
      ],
    });
  });

  it('a preflight run reports preflight-ok', async () => {
    // Prepare
    const input = succeededInput('preflight');

    // Act
    const summary = await handler(input);

    // Assess
    expect(summary).toMatchObject({ mode: 'preflight', outcome: 'preflight-ok' });
    expect(summary.launches.at(-1)?.outcome).toBe('preflight-ok');
    expect(ec2).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: [INSTANCE_ID] });
  });

  it('an instance already gone is not an error', async () => {
    // Prepare
    ec2.on(TerminateInstancesCommand).rejects(ec2Error('InvalidInstanceID.NotFound'));

    // Act
    const summary = await handler(succeededInput());

    // Assess
    expect(summary.outcome).toBe('succeeded');
  });
});
