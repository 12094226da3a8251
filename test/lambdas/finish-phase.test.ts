import { DescribeInstancesCommand, DescribeSpotPriceHistoryCommand, EC2Client, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler } from '../../lambdas/finish-phase';
import type { AttemptRecord } from '../../contract/job';
import { TAG } from '../../contract/tags';
import { at, clockAt, describedInstance, ec2Error, EXECUTION_ID, INSTANCE_ID, iso, runningJob, stubHandlerEnv, taskInput } from './fixtures';

const ec2 = mockClient(EC2Client);
const s3 = mockClient(S3Client);

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
  s3.reset();
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

    // Prepare: no spot price history for the pool: the attempts stay unpriced.
    ec2.on(DescribeSpotPriceHistoryCommand).resolves({ SpotPriceHistory: [], NextToken: '' });

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
      costUsd: 0,
      wastedUsd: 0,
      unpricedAttempts: 2,
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

describe('FinishPhase: the wait token', () => {
  it('removes the instance\'s token when the phase waits on events: spot\'s warning arriving now finds none', async () => {
    // Prepare
    const input = succeededInput();

    // Act
    await handler({ ...input, phase: { ...input.phase, wakeOnEvents: true } });

    // Assess
    expect(s3).toHaveReceivedCommandWith(DeleteObjectCommand, { Bucket: 'saturday-pipeline-bucket', Key: `saturday-pipeline/waits/${INSTANCE_ID}` });
  });
});

describe('FinishPhase: the cost of the phase', () => {
  /** DescribeSpotPriceHistory's answer: the price in effect at the start, then a change. */
  const history = {
    SpotPriceHistory: [
      { AvailabilityZone: 'us-east-1a', InstanceType: 'c5.large' as const, ProductDescription: 'Linux/UNIX' as const, SpotPrice: '0.036000', Timestamp: new Date(at(-3600)) },
      { AvailabilityZone: 'us-east-1a', InstanceType: 'c5.large' as const, ProductDescription: 'Linux/UNIX' as const, SpotPrice: '0.048000', Timestamp: new Date(at(60 + 1800)) },
    ],
    NextToken: '',
  };

  it("prices the last attempt's instance from its pool's spot history, and sums it with the earlier attempts' costs (the interrupted one wasted)", async () => {
    // Prepare: the instance launched at +60 s; now +3100 s. The earlier attempt cost 0.02.
    ec2.on(DescribeSpotPriceHistoryCommand).resolves(history);
    const input = succeededInput();
    (input.job as { history: AttemptRecord[] }).history = [{ ...interrupted, costUsd: 0.02 }];

    // Act
    const summary = await handler(input);

    // Assess: 1800 s at 0.036 and 1240 s at 0.048.
    const last = 0.5 * 0.036 + (1240 / 3600) * 0.048;
    expect(ec2).toHaveReceivedCommandWith(DescribeSpotPriceHistoryCommand, { InstanceTypes: ['c5.large'], AvailabilityZone: 'us-east-1a', ProductDescriptions: ['Linux/UNIX'], StartTime: new Date(at(60)), EndTime: new Date(at(3100)) });
    expect(summary.launches.at(-1)!.costUsd).toBeCloseTo(last, 6);
    expect(summary.costUsd).toBeCloseTo(0.02 + last, 6);
    expect(summary.wastedUsd).toBe(0.02);
    expect(summary.unpricedAttempts).toBe(0);
  });

  it('an on-demand instance is priced from the on-demand table, without asking EC2', async () => {
    // Prepare
    const input = succeededInput();
    (input.job as { instance: { market?: string } }).instance.market = 'on-demand';

    // Act
    const summary = await handler(input);

    // Assess: c5.large, 3040 s at 0.085 $/h.
    expect(ec2).not.toHaveReceivedCommand(DescribeSpotPriceHistoryCommand);
    expect(summary.launches.at(-1)).toMatchObject({ market: 'on-demand', costUsd: Math.round((3040 / 3600) * 0.085 * 1e6) / 1e6 });
  });

  it('a price history EC2 will not give (throttled) leaves the attempt unpriced; the phase still finishes', async () => {
    // Prepare
    ec2.on(DescribeSpotPriceHistoryCommand).rejects(ec2Error('RequestLimitExceeded', 503));

    // Act
    const summary = await handler(succeededInput());

    // Assess
    expect(summary.outcome).toBe('succeeded');
    expect(summary.launches.at(-1)!.costUsd).toBeUndefined();
    // (The earlier attempt carries no cost either.)
    expect(summary.unpricedAttempts).toBe(2);
    expect(ec2).toHaveReceivedCommand(TerminateInstancesCommand);
  });
});
