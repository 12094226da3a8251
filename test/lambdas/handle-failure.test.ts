import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeInstancesCommand, EC2Client, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler } from '../../lambdas/handle-failure';
import { TransientApiError } from '../../contract/errors';
import type { AttemptRecord, Failure, Job } from '../../contract/job';
import { TAG } from '../../contract/tags';
import { at, clockAt, describedInstance, EXECUTION_ID, INSTANCE_ID, instanceRef, iso, job, stubHandlerEnv, taskInput, type LooseJob } from './fixtures';

const ec2 = mockClient(EC2Client);
const cloudwatch = mockClient(CloudWatchClient);
const s3 = mockClient(S3Client);

/** GetObject's answer for a body, as the SDK hands it (a stream with the SDK's transformToString). */
const objectBody = (text: string) => ({
  Body: Object.assign(Readable.from([Buffer.from(text)]), { transformToString: async () => text }) as never,
});
const noSuchKey = () => new S3ServiceException({ name: 'NoSuchKey', $fault: 'client', $metadata: { httpStatusCode: 404 }, message: 'The specified key does not exist.' });

/** An attempt that ended with `failure` on the instance of pool `poolIndex`. */
function failedInput(failure: Failure, extra: Partial<Job> = {}, poolIndex = 0) {
  return taskInput({
    job: job({
      status: 'failed',
      attemptStartedAt: iso(at(0)),
      instance: instanceRef({ poolIndex }),
      failure,
      ...extra,
    }),
  });
}

const firstInterruption: AttemptRecord = {
  attempt: 1,
  instanceId: 'i-0first0000000001',
  pool: 'm5.large/us-east-1c',
  outcome: 'interrupted',
  reasonCode: 'instance-terminated-no-capacity',
  startedAt: iso(at(0)),
  endedAt: iso(at(1500)),
};

beforeEach(() => {
  ec2.reset();
  cloudwatch.reset();
  s3.reset();
  s3.on(GetObjectCommand).rejects(noSuchKey());
  stubHandlerEnv();
  clockAt(at(1200));
  ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
  ec2.on(TerminateInstancesCommand).resolves({});
  cloudwatch.on(PutMetricDataCommand).resolves({});
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

describe('HandleFailure: spot interruptions', () => {
  it('with budget left: terminates the instance, relaunches the next attempt in the next pool, naming the reason for the state machine to count', async () => {
    // Prepare: 1200 s in; 3900 s left before the deadline, an attempt needs 2400 s plus 60 s backoff.
    const input = failedInput({ kind: 'interruption', reasonCode: 'marked-for-termination', detail: 'spot request status marked-for-termination' }, {}, 3);

    // Act
    const result: LooseJob = await handler(input);

    // Assess: the Lambda puts no datum (CountRelaunch does, on the way to the launch).
    expect(ec2).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: [INSTANCE_ID] });
    expect(cloudwatch).not.toHaveReceivedCommand(PutMetricDataCommand);
    expect(result).toMatchObject({ attempt: 2, poolCursor: 4, status: 'launching', nextWaitSeconds: 60, verdict: { action: 'relaunch', reasonCode: 'marked-for-termination' } });
    expect(result.instance).toBeUndefined();
    expect(result.failure).toBeUndefined();
    expect(result.history).toEqual([
      expect.objectContaining({ attempt: 1, instanceId: INSTANCE_ID, pool: 'c5.large/us-east-1a', outcome: 'interrupted', reasonCode: 'marked-for-termination' }),
    ]);
  });

  it('retried after its response was lost, it decides the same and still puts no datum', async () => {
    // Prepare: the first try terminated the instance; EC2 now says it is gone.
    const input = failedInput({ kind: 'interruption', reasonCode: 'marked-for-termination', detail: 'spot request status marked-for-termination' });
    const first: LooseJob = await handler(input);

    // Act
    const second: LooseJob = await handler(input);

    // Assess
    expect(second).toEqual(first);
    expect(cloudwatch).not.toHaveReceivedCommand(PutMetricDataCommand);
  });

  it('throttled TerminateInstances well before the deadline: TransientApiError, for the state machine to retry', async () => {
    // Prepare
    ec2.on(TerminateInstancesCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'RequestLimitExceeded', $metadata: { httpStatusCode: 503 } }));

    // Act
    const handling = handler(failedInput({ kind: 'interruption', reasonCode: 'marked-for-termination', detail: 'x' }));

    // Assess
    await expect(handling).rejects.toMatchObject({ name: 'TransientApiError' });
  });

  it('throttled TerminateInstances at the deadline: no retry that would outlive the budget; the phase fails and leaves the instance to the safety net', async () => {
    // Prepare: the deadline is 5100 s in (5400 s budget, 300 s margin); a retry could come 30 s later.
    clockAt(at(5080));
    ec2.on(TerminateInstancesCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'RequestLimitExceeded', $metadata: { httpStatusCode: 503 } }));

    // Act
    const result: LooseJob = await handler(failedInput({ kind: 'budget', reasonCode: 'deadline', detail: 'still running at the phase deadline' }));

    // Assess
    expect(result.verdict).toMatchObject({ action: 'fail', error: 'PhaseBudgetExceeded' });
  });

  it('also terminates any other instance tagged with this execution and attempt', async () => {
    // Prepare
    ec2.on(DescribeInstancesCommand).resolves(describedInstance('running', { id: 'i-0stray0000000001' }));

    // Act
    await handler(failedInput({ kind: 'interruption', reasonCode: 'marked-for-termination', detail: 'spot request status marked-for-termination' }));

    // Assess
    expect(ec2).toHaveReceivedCommandWith(DescribeInstancesCommand, {
      Filters: expect.arrayContaining([
        { Name: `tag:${TAG.execution}`, Values: [EXECUTION_ID] },
        { Name: `tag:${TAG.attempt}`, Values: ['1'] },
      ]),
    });
    expect(ec2).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: [INSTANCE_ID, 'i-0stray0000000001'] });
  });

  it('an interruption in the last pool wraps the cursor to pool 0', async () => {
    // Prepare
    const input = failedInput({ kind: 'interruption', reasonCode: 'marked-for-termination', detail: 'spot request status marked-for-termination' }, {}, 8);

    // Act
    const result: LooseJob = await handler(input);

    // Assess
    expect(result.poolCursor).toBe(0);
  });

  it('capacity exhausted (no instance) relaunches from the pool after the cursor', async () => {
    // Prepare
    const input = taskInput({
      job: job({ status: 'failed', poolCursor: 2, attemptStartedAt: iso(at(0)), failure: { kind: 'interruption', reasonCode: 'capacity-exhausted', detail: 'every capacity pool refused the launch' } }),
    });

    // Act
    const result: LooseJob = await handler(input);

    // Assess
    expect(result).toMatchObject({ attempt: 2, poolCursor: 3, verdict: { action: 'relaunch' } });
    expect(result.history[0]).toMatchObject({ instanceId: null, pool: null, outcome: 'capacity-exhausted' });
    expect(ec2).not.toHaveReceivedCommand(TerminateInstancesCommand);
  });

  it('with too little budget left: fails SpotRetryBudgetExhausted naming the attempts and reasons, no metric, instance terminated', async () => {
    // Prepare: attempt 2 interrupted 3000 s in; 2100 s - 60 s backoff - 110 s to count the relaunch < 2400 s.
    clockAt(at(3000));
    const input = failedInput({ kind: 'interruption', reasonCode: 'marked-for-termination', detail: 'spot request status marked-for-termination' }, { attempt: 2, history: [firstInterruption] }, 1);

    // Act
    const result: LooseJob = await handler(input);

    // Assess
    expect(result.status).toBe('failed');
    expect(result.verdict?.action).toBe('fail');
    expect(result.verdict?.error).toBe('SpotRetryBudgetExhausted');
    expect(result.verdict?.cause).toContain('2 attempt(s)');
    expect(result.verdict?.cause).toContain('instance-terminated-no-capacity');
    expect(result.verdict?.cause).toContain('marked-for-termination');
    expect(result.verdict?.cause).toContain('1930 s of budget left'); // 2100 s less the backoff and counting the relaunch
    expect(result.verdict?.exhausted).toBe(true); // the state machine's CountExhausted puts the datum
    expect(cloudwatch).not.toHaveReceivedCommand(PutMetricDataCommand);
    expect(ec2).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: [INSTANCE_ID] });
    expect(result.history).toHaveLength(2);
  });

  it('the same interruption relaunches when the checkpoint reports 70% of the work done: the next attempt needs only the rest', async () => {
    // Prepare: as above, but the workload's last checkpoint says 0.7 (600 s boot + 1800 s x 0.3 = 1140 s needed).
    clockAt(at(3000));
    s3.on(GetObjectCommand, { Bucket: 'saturday-pipeline-bucket', Key: 'saturday-pipeline/checkpoints/2026-05-30/exec-1/DataPhase1/.pipeline-progress' }).resolves(objectBody('0.7\n'));
    const input = failedInput({ kind: 'interruption', reasonCode: 'marked-for-termination', detail: 'spot request status marked-for-termination' }, { attempt: 2, history: [firstInterruption] }, 1);

    // Act
    const result: LooseJob = await handler(input);

    // Assess
    expect(result).toMatchObject({ status: 'launching', attempt: 3 });
  });

  it.each([
    ['holds no fraction', () => s3.on(GetObjectCommand).resolves(objectBody('70 percent'))],
    ['is out of range', () => s3.on(GetObjectCommand).resolves(objectBody('1.5'))],
    ['cannot be read (access denied)', () => s3.on(GetObjectCommand).rejects(new S3ServiceException({ name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403 }, message: 'Access Denied' }))],
  ])('a progress file that %s counts as no progress: a whole attempt is needed', async (_name, arrange) => {
    // Prepare
    clockAt(at(3000));
    arrange();
    const input = failedInput({ kind: 'interruption', reasonCode: 'marked-for-termination', detail: 'spot request status marked-for-termination' }, { attempt: 2, history: [firstInterruption] }, 1);

    // Act
    const result: LooseJob = await handler(input);

    // Assess
    expect(result.verdict?.error).toBe('SpotRetryBudgetExhausted');
  });

  it('a throttled progress read is retried by the state machine (TransientApiError), never a verdict', async () => {
    // Prepare
    clockAt(at(3000));
    s3.on(GetObjectCommand).rejects(new S3ServiceException({ name: 'SlowDown', $fault: 'server', $metadata: { httpStatusCode: 503 }, message: 'Please reduce your request rate.' }));
    const input = failedInput({ kind: 'interruption', reasonCode: 'marked-for-termination', detail: 'spot request status marked-for-termination' }, { attempt: 2, history: [firstInterruption] }, 1);

    // Act
    const run = handler(input);

    // Assess: the instance went first; the retry repeats only what is idempotent.
    await expect(run).rejects.toThrow(TransientApiError);
    expect(ec2).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: [INSTANCE_ID] });
  });

  it('a genuine failure never reads the checkpoint', async () => {
    // Prepare
    const input = failedInput({ kind: 'workload-error', reasonCode: 'exit-code', detail: 'exit code 1', exitCode: 1 });

    // Act
    await handler(input);

    // Assess
    expect(s3).not.toHaveReceivedCommand(GetObjectCommand);
  });

  it('maxAttempts reached: fails even with budget left', async () => {
    // Prepare
    const input = taskInput({
      phase: { maxAttempts: 1 },
      job: job({ status: 'failed', attemptStartedAt: iso(at(0)), instance: instanceRef(), failure: { kind: 'interruption', reasonCode: 'marked-for-termination', detail: 'spot request status marked-for-termination' } }),
    });

    // Act
    const result: LooseJob = await handler(input);

    // Assess
    expect(result.verdict).toMatchObject({ action: 'fail', error: 'SpotRetryBudgetExhausted' });
    expect(result.verdict?.cause).toContain('maxAttempts 1 reached');
    expect(result.verdict?.exhausted).toBe(true);
  });
});

describe('HandleFailure: anything else fails the phase loud', () => {
  it('workload-error -> WorkloadFailed with the exit code and last output in the cause, no metric', async () => {
    // Prepare
    const input = failedInput({ kind: 'workload-error', reasonCode: 'exit-code', detail: 'exit code 2', exitCode: 2, lastOutput: 'boom: disk full' });

    // Act
    const result: LooseJob = await handler(input);

    // Assess
    expect(result.status).toBe('failed');
    expect(result.verdict).toMatchObject({ action: 'fail', error: 'WorkloadFailed' });
    expect(result.verdict?.cause).toContain('exit code 2');
    expect(result.verdict?.cause).toContain('boom: disk full');
    expect(result.verdict?.cause).toContain('DataPhase1');
    expect(cloudwatch).not.toHaveReceivedCommand(PutMetricDataCommand);
    expect(ec2).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: [INSTANCE_ID] });
    expect(result.history.at(-1)).toMatchObject({ outcome: 'failed', reasonCode: 'exit-code', detail: 'exit code 2' });
  });

  it.each<[Failure['kind'], string, string]>([
    ['hung', 'WorkloadHung', 'hung'],
    ['budget', 'PhaseBudgetExceeded', 'timed-out'],
    ['boot-timeout', 'InstanceBootTimeout', 'failed'],
  ])('%s -> %s, instance terminated, no metric, no relaunch', async (kind, error, outcome) => {
    // Prepare
    const input = failedInput({ kind, reasonCode: 'deadline', detail: `the ${kind} reason`, lastOutput: 'last words' });

    // Act
    const result: LooseJob = await handler(input);

    // Assess
    expect(result.verdict).toMatchObject({ action: 'fail', error });
    expect(result.verdict?.cause).toContain(`the ${kind} reason`);
    expect(result.attempt).toBe(1);
    expect(result.history.at(-1)).toMatchObject({ outcome });
    expect(cloudwatch).not.toHaveReceivedCommand(PutMetricDataCommand);
    expect(ec2).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: [INSTANCE_ID] });
  });

  it('an account quota -> AccountQuotaExceeded naming the quota, no relaunch, never exhausted-after-interruptions', async () => {
    // Prepare
    const input = failedInput({ kind: 'quota', reasonCode: 'quota', detail: 'MaxSpotInstanceCountExceeded launching in c5.large/subnet-a: the Spot Instance requests vCPU quota is reached' });

    // Act
    const result: LooseJob = await handler(input);

    // Assess
    expect(result.verdict).toMatchObject({ action: 'fail', error: 'AccountQuotaExceeded' });
    expect(result.verdict?.exhausted).toBeUndefined();
    expect(result.verdict?.cause).toContain('MaxSpotInstanceCountExceeded');
  });
});

describe('HandleFailure: the pool memory', () => {
  it("records spot's reclaim of the instance's pool, for the next launches to try it last", async () => {
    // Act
    await handler(failedInput({ kind: 'interruption', reasonCode: 'marked-for-termination', detail: 'spot request status marked-for-termination' }));

    // Assess: pool 0 is c5.large in the first subnet.
    const keys = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key).filter((k) => k?.includes('/pools/'));
    expect(keys).toEqual([expect.stringMatching(/^saturday-pipeline\/pools\/c5\.large\/subnet-0a1b2c3d\/\d{8}T\d{6}Z_interrupted_[0-9a-f]{16}$/)]);
  });

  it.each([
    { what: 'a workload error', failure: { kind: 'workload-error', reasonCode: 'exit-code', detail: 'exit code 1', exitCode: 1 } as Failure, extra: {} },
    { what: 'an on-demand instance', failure: { kind: 'interruption', reasonCode: 'instance-terminated-no-capacity', detail: 'x' } as Failure, extra: { instance: instanceRef({ market: 'on-demand' }) } },
  ])('records nothing for $what', async ({ failure, extra }) => {
    // Act
    await handler(failedInput(failure, extra));

    // Assess
    expect(s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key).filter((k) => k?.includes('/pools/'))).toEqual([]);
  });
});

describe('HandleFailure: an attempt ended at once on spot\'s notice (left to spot)', () => {
  const leftToSpot: Failure = { kind: 'interruption', reasonCode: 'marked-for-termination', detail: 'spot request status marked-for-termination; relaunched at once', leftToSpot: true };

  it('relaunches at once (no backoff) and does not terminate the instance its runner waits on; the next workload waits for it', async () => {
    // Act
    const result: LooseJob = await handler(failedInput(leftToSpot, { failedAt: iso(at(1200)) } as Partial<Job>, 2));

    // Assess
    expect(ec2).not.toHaveReceivedCommand(TerminateInstancesCommand);
    expect(result).toMatchObject({ status: 'launching', attempt: 2, nextWaitSeconds: 0, predecessor: { instanceId: INSTANCE_ID }, verdict: { action: 'relaunch', leavePool: 2 } });
    expect(result.history![0]).toMatchObject({ outcome: 'interrupted', leftToSpot: true });
  });

  it('no relaunch after all (maxAttempts reached): the instance goes now', async () => {
    // Act
    const input = failedInput(leftToSpot, { failedAt: iso(at(1200)) } as Partial<Job>);
    const result: LooseJob = await handler({ ...input, phase: { ...input.phase, maxAttempts: 1 } });

    // Assess
    expect(result).toMatchObject({ status: 'failed', verdict: { action: 'fail', exhausted: true } });
    expect(ec2).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: [INSTANCE_ID] });
  });
});

describe('HandleFailure: the attempt\'s wait token', () => {
  it('is removed when the phase waits on events, so a late wake for the instance finds none (and stops at once)', async () => {
    // Prepare
    const input = failedInput({ kind: 'interruption', reasonCode: 'marked-for-termination', detail: 'spot request status marked-for-termination' });

    // Act
    await handler({ ...input, phase: { ...input.phase, wakeOnEvents: true } });

    // Assess
    expect(s3).toHaveReceivedCommandWith(DeleteObjectCommand, { Bucket: 'saturday-pipeline-bucket', Key: `saturday-pipeline/waits/${INSTANCE_ID}` });
  });

  it('a failed removal never fails the attempt\'s end: the relaunch goes on', async () => {
    // Prepare
    s3.on(DeleteObjectCommand).rejects(new S3ServiceException({ name: 'SlowDown', $fault: 'server', $metadata: { httpStatusCode: 503 }, message: 'Please reduce your request rate.' }));
    const input = failedInput({ kind: 'interruption', reasonCode: 'marked-for-termination', detail: 'spot request status marked-for-termination' });

    // Act
    const result: LooseJob = await handler({ ...input, phase: { ...input.phase, wakeOnEvents: true } });

    // Assess
    expect(result).toMatchObject({ status: 'launching', attempt: 2 });
  });

  it('is left alone by a phase that polls (it stored none)', async () => {
    // Act
    await handler(failedInput({ kind: 'workload-error', reasonCode: 'exit-code', detail: 'exit 1', exitCode: 1 }));

    // Assess
    expect(s3).not.toHaveReceivedCommand(DeleteObjectCommand);
  });
});

describe('HandleFailure: the run\'s cost records', () => {
  it('keeps the attempt\'s record under the run (pipeline execution, redrive), phase and attempt, for the run\'s PipelineCostUsd', async () => {
    // Act
    await handler({ ...failedInput({ kind: 'workload-error', reasonCode: 'exit-code', detail: 'exit 1', exitCode: 1 }), redriveCount: 2 });

    // Assess
    const put = s3.commandCalls(PutObjectCommand).find((c) => c.args[0].input.Key?.includes('/costs/'))!.args[0].input;
    expect(put.Key).toBe('saturday-pipeline/costs/exec-1/r2/DataPhase1/attempt-1.json');
    expect(JSON.parse(String(put.Body))).toMatchObject({ outcome: 'failed' });
  });
});
