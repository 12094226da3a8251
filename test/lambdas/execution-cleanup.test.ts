import { DescribeInstancesCommand, DescribeSpotInstanceRequestsCommand, EC2Client, TerminateInstancesCommand, type DescribeInstancesCommandInput } from '@aws-sdk/client-ec2';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler } from '../../lambdas/execution-cleanup';
import { InvalidTaskInput } from '../../contract/errors';
import { ALIVE } from '../../lambdas/aws/instances';
import { TAG } from '../../contract/tags';
import { describedInstance, ec2Error, EXECUTION_ID, stubHandlerEnv } from './fixtures';

const ec2 = mockClient(EC2Client);
const sfn = mockClient(SFNClient);
const s3 = mockClient(S3Client);
const cloudwatch = mockClient(CloudWatchClient);

const SPOT_PHASE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:saturday-pipeline-spot-phase';
const PIPELINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:saturday-pipeline';
const PIPELINE_EXECUTION_ARN = 'arn:aws:states:us-east-1:123456789012:execution:saturday-pipeline:exec-1';

/** The EventBridge event Step Functions emits when an execution ends. */
function statusChange(executionArn = EXECUTION_ID, stateMachineArn = SPOT_PHASE_ARN, status = 'ABORTED') {
  return {
    version: '0',
    id: '315c1398-40ff-a850-213b-158f73e60175',
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    account: '123456789012',
    time: '2026-05-30T10:00:00Z',
    region: 'us-east-1',
    resources: [executionArn],
    detail: {
      executionArn,
      stateMachineArn,
      name: executionArn.split(':').pop(),
      status,
      startDate: 1780131600000,
      stopDate: 1780135200000,
      input: '{}',
      output: null,
    },
  };
}

/** The tag filter (tag:key -> value) of a DescribeInstances call. */
function tagFilter(input: DescribeInstancesCommandInput, key: string): string[] | undefined {
  return input.Filters?.find((f) => f.Name === `tag:${key}`)?.Values;
}

/** Answer DescribeInstances by which tag it filters on (launch times: `launched`, by id). */
function instancesByTag(asPhase: string[], asPipeline: string[], launched: Record<string, Date> = {}): void {
  const answer = (ids: string[]) => ({ Reservations: ids.map((id) => ({ Instances: describedInstance('running', { id, launchTime: launched[id] }).Reservations[0]!.Instances })) });
  ec2.on(DescribeInstancesCommand).callsFake((input: DescribeInstancesCommandInput) => {
    if (tagFilter(input, TAG.execution)) return answer(asPhase);
    if (tagFilter(input, TAG.run)) return answer(asPipeline);
    return { Reservations: [] };
  });
}

beforeEach(() => {
  ec2.reset();
  sfn.reset();
  s3.reset();
  cloudwatch.reset();
  sfn.on(DescribeExecutionCommand).resolves({ status: 'FAILED', redriveCount: 0 } as never);
  // No cost records unless a test says so; the report marker is free; the datum is accepted.
  s3.on(ListObjectsV2Command).resolves({ Contents: [], IsTruncated: false });
  s3.on(PutObjectCommand).resolves({});
  cloudwatch.on(PutMetricDataCommand).resolves({});
  stubHandlerEnv();
  ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
  ec2.on(TerminateInstancesCommand).resolves({});
});

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('ExecutionCleanup after a redrive (same execution ARN)', () => {
  it('a late delivery of the earlier failure leaves the instances the redriven execution launched since, and terminates the older ones', async () => {
    // Prepare: the pipeline failed, was redriven at 11:00 and runs again; one instance is from before, one from after.
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING', redriveCount: 1, startDate: new Date('2026-05-30T09:00:00Z'), redriveDate: new Date('2026-05-30T11:00:00Z') } as never);
    instancesByTag([], ['i-0before000000001', 'i-0after0000000001'], {
      'i-0before000000001': new Date('2026-05-30T10:00:00Z'),
      'i-0after0000000001': new Date('2026-05-30T11:05:00Z'),
    });

    // Act
    const result = await handler(statusChange(PIPELINE_EXECUTION_ARN, PIPELINE_ARN, 'FAILED'));

    // Assess
    expect(result.terminated).toEqual(['i-0before000000001']);
    expect(ec2).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: ['i-0before000000001'] });
  });

  it('an execution that has not been redriven (still FAILED) loses every instance', async () => {
    // Prepare
    instancesByTag([], ['i-0one00000000001', 'i-0two00000000001'], { 'i-0one00000000001': new Date('2026-05-30T10:00:00Z') });

    // Act
    const result = await handler(statusChange(PIPELINE_EXECUTION_ARN, PIPELINE_ARN, 'FAILED'));

    // Assess
    expect(result.terminated).toEqual(['i-0one00000000001', 'i-0two00000000001']);
  });

  it('throttled DescribeExecution: judged by launch time, the ended run\'s instances go and a later one (a redrive\'s) stays', async () => {
    // Prepare: the event says the execution stopped at 10:00 (its stopDate); one instance from before, one from 10:05.
    sfn.on(DescribeExecutionCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }));
    instancesByTag([], ['i-0before000000001', 'i-0after0000000001'], {
      'i-0before000000001': new Date('2026-05-30T09:30:00Z'),
      'i-0after0000000001': new Date('2026-05-30T10:05:00Z'),
    });
    const event = statusChange(PIPELINE_EXECUTION_ARN, PIPELINE_ARN, 'FAILED');
    event.detail.stopDate = Date.parse('2026-05-30T10:00:00Z');

    // Act
    const result = await handler(event);

    // Assess
    expect(result.terminated).toEqual(['i-0before000000001']);
  });

  it('throttled DescribeExecution of a phase execution (never redriven): all its instances go', async () => {
    // Prepare
    sfn.on(DescribeExecutionCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }));
    instancesByTag(['i-0phase000000001'], [], { 'i-0phase000000001': new Date('2026-05-30T11:00:00Z') });

    // Act
    const result = await handler(statusChange(EXECUTION_ID, SPOT_PHASE_ARN, 'ABORTED'));

    // Assess
    expect(result.terminated).toEqual(['i-0phase000000001']);
  });
});

describe('ExecutionCleanup', () => {
  it('looks for live instances of this pipeline tagged with the execution as phase execution and as pipeline execution', async () => {
    // Prepare
    const event = statusChange(PIPELINE_EXECUTION_ARN, PIPELINE_ARN);

    // Act
    await handler(event);

    // Assess
    expect(ec2).toHaveReceivedCommandTimes(DescribeInstancesCommand, 2);
    const inputs = ec2.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input);
    const asPhase = inputs.find((i) => tagFilter(i, TAG.execution));
    const asPipeline = inputs.find((i) => tagFilter(i, TAG.run));
    expect(tagFilter(asPhase!, TAG.execution)).toEqual([PIPELINE_EXECUTION_ARN]);
    expect(tagFilter(asPipeline!, TAG.run)).toEqual([PIPELINE_EXECUTION_ARN]);
    for (const input of inputs) {
      expect(input.InstanceIds).toBeUndefined();
      // Only the pipeline's own instances: they are the only ones its role may terminate.
      expect(tagFilter(input, TAG.pipeline)).toEqual(['saturday-pipeline']);
      const states = input.Filters?.find((f) => f.Name === 'instance-state-name')?.Values;
      expect(states).toEqual(expect.arrayContaining(['pending', 'running', 'stopping', 'stopped']));
      expect(states).not.toContain('terminated');
      expect(states).not.toContain('shutting-down');
      expect(states).toEqual(ALIVE);
    }
  });

  it('terminates the union of the instances found, each once, and reports them', async () => {
    // Prepare
    instancesByTag(['i-0phase000000000001', 'i-0both0000000000001'], ['i-0both0000000000001', 'i-0run00000000000001']);

    // Act
    const result = await handler(statusChange());

    // Assess
    expect(ec2).toHaveReceivedCommandTimes(TerminateInstancesCommand, 1);
    const ids = ec2.commandCalls(TerminateInstancesCommand)[0]!.args[0].input.InstanceIds;
    expect([...(ids ?? [])].sort()).toEqual(['i-0both0000000000001', 'i-0phase000000000001', 'i-0run00000000000001']);
    expect(result).toEqual({
      executionArn: EXECUTION_ID,
      status: 'ABORTED',
      terminated: expect.arrayContaining(['i-0both0000000000001', 'i-0phase000000000001', 'i-0run00000000000001']),
    });
    expect(result.terminated).toHaveLength(3);
  });

  it.each(['FAILED', 'TIMED_OUT', 'ABORTED'])('cleans up after a %s execution', async (status) => {
    // Prepare
    instancesByTag(['i-0phase000000000001'], []);

    // Act
    const result = await handler(statusChange(EXECUTION_ID, SPOT_PHASE_ARN, status));

    // Assess
    expect(ec2).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: ['i-0phase000000000001'] });
    expect(result).toEqual({ executionArn: EXECUTION_ID, status, terminated: ['i-0phase000000000001'] });
  });

  it('with nothing left running, terminates nothing and reports an empty list', async () => {
    // Prepare
    const event = statusChange();

    // Act
    const result = await handler(event);

    // Assess
    expect(ec2).toHaveReceivedCommandTimes(DescribeInstancesCommand, 2);
    expect(ec2).not.toHaveReceivedCommand(TerminateInstancesCommand);
    expect(result).toEqual({ executionArn: EXECUTION_ID, status: 'ABORTED', terminated: [] });
  });

  it('follows DescribeInstances pages', async () => {
    // Prepare
    ec2.on(DescribeInstancesCommand)
      .resolvesOnce({ ...describedInstance('running', { id: 'i-0page1000000000001' }), NextToken: 'page-2' })
      .resolvesOnce(describedInstance('stopped', { id: 'i-0page2000000000001' }))
      .resolves({ Reservations: [] });

    // Act
    const result = await handler(statusChange());

    // Assess
    expect(ec2).toHaveReceivedCommandWith(DescribeInstancesCommand, { NextToken: 'page-2' });
    expect(result.terminated.sort()).toEqual(['i-0page1000000000001', 'i-0page2000000000001']);
  });

  it('an instance already gone (InvalidInstanceID.NotFound) is not an error', async () => {
    // Prepare
    instancesByTag(['i-0gone0000000000001'], []);
    ec2.on(TerminateInstancesCommand).rejects(ec2Error('InvalidInstanceID.NotFound'));

    // Act
    const result = await handler(statusChange());

    // Assess
    expect(ec2).toHaveReceivedCommandTimes(TerminateInstancesCommand, 1);
    expect(result).toEqual({ executionArn: EXECUTION_ID, status: 'ABORTED', terminated: [] });
  });

  it('one unknown id among several does not keep the others running', async () => {
    // Prepare
    instancesByTag(['i-0gone0000000000001', 'i-0live0000000000001'], []);
    ec2.on(TerminateInstancesCommand).callsFake((input: { InstanceIds?: string[] }) => {
      if (input.InstanceIds?.includes('i-0gone0000000000001')) throw ec2Error('InvalidInstanceID.NotFound');
      return {};
    });

    // Act
    const result = await handler(statusChange());

    // Assess
    expect(ec2).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: ['i-0live0000000000001'] });
    expect(result.terminated).toEqual(['i-0live0000000000001']);
  });

  it('is idempotent: a second delivery of the same event succeeds', async () => {
    // Prepare: the first delivery terminates; by the second, EC2 no longer knows the instance.
    const event = statusChange();
    instancesByTag(['i-0phase000000000001'], []);
    ec2.on(TerminateInstancesCommand).resolvesOnce({}).rejects(ec2Error('InvalidInstanceID.NotFound'));

    // Act
    const first = await handler(event);
    const second = await handler(event);

    // Assess
    expect(first.terminated).toEqual(['i-0phase000000000001']);
    expect(second).toEqual({ executionArn: EXECUTION_ID, status: 'ABORTED', terminated: [] });
    expect(ec2).toHaveReceivedCommandTimes(TerminateInstancesCommand, 2);
  });

  it('is idempotent: a second delivery finding nothing left succeeds without terminating', async () => {
    // Prepare
    const event = statusChange();
    ec2.on(DescribeInstancesCommand)
      .resolvesOnce(describedInstance('running', { id: 'i-0phase000000000001' }))
      .resolves({ Reservations: [] });

    // Act
    const first = await handler(event);
    const second = await handler(event);

    // Assess
    expect(first.terminated).toEqual(['i-0phase000000000001']);
    expect(second.terminated).toEqual([]);
    expect(ec2).toHaveReceivedCommandTimes(TerminateInstancesCommand, 1);
  });

  it.each([
    { label: 'missing detail.executionArn', mutate: (e: Record<string, unknown>) => ({ ...e, detail: { status: 'ABORTED', stateMachineArn: SPOT_PHASE_ARN } }) },
    { label: 'empty detail.executionArn', mutate: (e: Record<string, unknown>) => ({ ...e, detail: { executionArn: '', status: 'ABORTED' } }) },
    { label: 'missing detail', mutate: (e: Record<string, unknown>) => ({ ...e, detail: undefined }) },
    { label: 'another detail-type', mutate: (e: Record<string, unknown>) => ({ ...e, 'detail-type': 'Scheduled Event' }) },
  ])('a malformed event ($label) is InvalidTaskInput and touches nothing', async ({ mutate }) => {
    // Prepare
    const event = mutate(statusChange() as unknown as Record<string, unknown>);

    // Act
    const run = handler(event);

    // Assess
    await expect(run).rejects.toBeInstanceOf(InvalidTaskInput);
    await expect(run).rejects.toMatchObject({ name: 'InvalidTaskInput' });
    expect(ec2).not.toHaveReceivedCommand(DescribeInstancesCommand);
    expect(ec2).not.toHaveReceivedCommand(TerminateInstancesCommand);
  });

  it('a transient DescribeInstances error propagates, so the invocation is retried', async () => {
    // Prepare
    ec2.on(DescribeInstancesCommand).rejects(ec2Error('RequestLimitExceeded', 503));

    // Act
    const run = handler(statusChange());

    // Assess
    await expect(run).rejects.toMatchObject({ name: 'RequestLimitExceeded' });
    expect(ec2).not.toHaveReceivedCommand(TerminateInstancesCommand);
  });

  it('a transient TerminateInstances error propagates, so the invocation is retried', async () => {
    // Prepare
    instancesByTag(['i-0phase000000000001'], []);
    ec2.on(TerminateInstancesCommand).rejects(ec2Error('InternalError', 500));

    // Act
    const run = handler(statusChange());

    // Assess
    await expect(run).rejects.toMatchObject({ name: 'InternalError' });
  });
});

describe('ExecutionCleanup leaves to spot an instance spot has given its notice to', () => {
  it('a sibling\'s failure stops the phase while its instance saves on the notice: that one is left to spot, the others go', async () => {
    // Prepare: two instances of the phase; the first one's spot request says spot is taking it.
    instancesByTag(['i-0noticed00000000001', 'i-0healthy00000000002'], []);
    ec2.on(DescribeSpotInstanceRequestsCommand).resolves({
      SpotInstanceRequests: [
        { SpotInstanceRequestId: 'sir-abc12345', InstanceId: 'i-0noticed00000000001', State: 'active', Status: { Code: 'marked-for-termination' } },
        { SpotInstanceRequestId: 'sir-abc12345', InstanceId: 'i-0healthy00000000002', State: 'active', Status: { Code: 'fulfilled' } },
      ],
    });
    ec2.on(TerminateInstancesCommand).resolves({});

    // Act
    const result = await handler(statusChange());

    // Assess
    expect(result.terminated).toEqual(['i-0healthy00000000002']);
    expect(ec2).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: ['i-0healthy00000000002'] });
  });

  it('spot requests that cannot be read spare nothing: every instance goes', async () => {
    // Prepare
    instancesByTag(['i-0noticed00000000001'], []);
    ec2.on(DescribeSpotInstanceRequestsCommand).rejects(ec2Error('RequestLimitExceeded', 503));
    ec2.on(TerminateInstancesCommand).resolves({});

    // Act
    const result = await handler(statusChange());

    // Assess
    expect(result.terminated).toEqual(['i-0noticed00000000001']);
  });
});

describe('ExecutionCleanup reports what a pipeline run cost (PipelineCostUsd)', () => {
  const record = (costUsd: number | undefined, outcome: string) => ({
    Body: Object.assign(Readable.from([Buffer.from(JSON.stringify({ costUsd, outcome }))]), { transformToString: async () => JSON.stringify({ costUsd, outcome }) }) as never,
  });
  const prefix = 'saturday-pipeline/costs/exec-1/r0/';

  it('sums the run\'s attempt records into one datum, claiming the report first', async () => {
    // Prepare: two phases, one reclaimed attempt (wasted) and three that succeeded, one unpriced.
    s3.on(ListObjectsV2Command).resolves({ Contents: ['A/attempt-1.json', 'A/attempt-2.json', 'B/attempt-1.json', 'C/attempt-1.json'].map((k) => ({ Key: `${prefix}${k}` })), IsTruncated: false });
    s3.on(GetObjectCommand, { Key: `${prefix}A/attempt-1.json` }).resolves(record(0.01, 'interrupted'));
    s3.on(GetObjectCommand, { Key: `${prefix}A/attempt-2.json` }).resolves(record(0.02, 'succeeded'));
    s3.on(GetObjectCommand, { Key: `${prefix}B/attempt-1.json` }).resolves(record(0.03, 'succeeded'));
    s3.on(GetObjectCommand, { Key: `${prefix}C/attempt-1.json` }).resolves(record(undefined, 'succeeded'));

    // Act
    const result = await handler(statusChange(PIPELINE_EXECUTION_ARN, PIPELINE_ARN, 'SUCCEEDED'));

    // Assess
    expect(result).toMatchObject({ costUsd: 0.06 });
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, { Key: `${prefix}_reported`, IfNoneMatch: '*' });
    const datum = cloudwatch.commandCalls(PutMetricDataCommand)[0]!.args[0].input;
    expect(datum).toMatchObject({ Namespace: 'AlphaEngine', MetricData: [{ MetricName: 'PipelineCostUsd', Value: 0.06, Unit: 'None', Dimensions: [{ Name: 'Pipeline', Value: 'saturday-pipeline' }] }] });
  });

  it('a repeated delivery (the report already claimed) puts no second datum', async () => {
    // Prepare
    s3.on(PutObjectCommand).rejects(new S3ServiceException({ name: 'PreconditionFailed', $fault: 'client', $metadata: { httpStatusCode: 412 }, message: 'At least one of the pre-conditions you specified did not hold' }));

    // Act
    const result = await handler(statusChange(PIPELINE_EXECUTION_ARN, PIPELINE_ARN, 'FAILED'));

    // Assess
    expect(result.costUsd).toBeUndefined();
    expect(cloudwatch).not.toHaveReceivedCommand(PutMetricDataCommand);
  });

  it('a redriven run reports its own records (r1), and a phase execution\'s end reports no cost', async () => {
    // Act
    sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED', redriveCount: 1 } as never);
    await handler(statusChange(PIPELINE_EXECUTION_ARN, PIPELINE_ARN, 'SUCCEEDED'));
    await handler(statusChange(EXECUTION_ID, SPOT_PHASE_ARN, 'SUCCEEDED'));

    // Assess
    expect(s3.commandCalls(ListObjectsV2Command).map((c) => c.args[0].input.Prefix)).toEqual(['saturday-pipeline/costs/exec-1/r1/']);
    const names = cloudwatch.commandCalls(PutMetricDataCommand).flatMap((c) => c.args[0].input.MetricData?.map((d) => d.MetricName) ?? []);
    expect(names.filter((n) => n === 'PipelineCostUsd')).toHaveLength(1);
  });
});

describe('ExecutionCleanup: the phase\'s duration, for the dashboard', () => {
  it('puts how long a phase execution ran (the event\'s start to stop), by pipeline and phase, whatever its end', async () => {
    // Prepare: an hour from start to stop, a DataPhase1 execution of the SpotPhase state machine.
    const arn = 'arn:aws:states:us-east-1:123456789012:execution:saturday-pipeline-spot-phase:DataPhase1-0557ff3b25b545bf921ff8059e3b4ef3-r0';

    // Act
    await handler(statusChange(arn, SPOT_PHASE_ARN, 'FAILED'));

    // Assess
    expect(cloudwatch).toHaveReceivedCommandWith(PutMetricDataCommand, {
      Namespace: 'AlphaEngine',
      MetricData: [expect.objectContaining({ MetricName: 'PhaseDurationSeconds', Value: 3600, Unit: 'Seconds', Dimensions: [{ Name: 'Pipeline', Value: 'saturday-pipeline' }, { Name: 'Phase', Value: 'DataPhase1' }] })],
    });
  });

  it('puts none for the pipeline\'s own executions, and a refused put never fails the cleanup', async () => {
    // Prepare
    cloudwatch.on(PutMetricDataCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));

    // Act
    const phase = await handler(statusChange('arn:aws:states:us-east-1:123456789012:execution:saturday-pipeline-spot-phase:Research-abc-r0', SPOT_PHASE_ARN, 'SUCCEEDED'));
    cloudwatch.resetHistory();
    await handler(statusChange(PIPELINE_EXECUTION_ARN, PIPELINE_ARN, 'SUCCEEDED'));

    // Assess
    expect(phase.status).toBe('SUCCEEDED');
    const names = cloudwatch.commandCalls(PutMetricDataCommand).flatMap((c) => c.args[0].input.MetricData?.map((d) => d.MetricName) ?? []);
    expect(names).not.toContain('PhaseDurationSeconds');
  });
});

describe('ExecutionCleanup: the wait tokens of the ended run', () => {
  it('removes the token of every instance of the execution that ended (an abort stopped its phase in a wait), and leaves the current run\'s alone', async () => {
    // Prepare: a redriven pipeline execution runs again since 10:30; i-old is the ended run's, i-new the redrive's.
    instancesByTag(['i-0old000000000001'], ['i-0new000000000002'], { 'i-0old000000000001': new Date('2026-05-30T10:00:00Z'), 'i-0new000000000002': new Date('2026-05-30T10:45:00Z') });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING', redriveCount: 1, startDate: new Date('2026-05-30T09:00:00Z'), redriveDate: new Date('2026-05-30T10:30:00Z') } as never);

    // Act
    await handler(statusChange(PIPELINE_EXECUTION_ARN, PIPELINE_ARN, 'ABORTED'));

    // Assess
    const keys = s3.commandCalls(DeleteObjectCommand).map((c) => c.args[0].input.Key);
    expect(keys).toEqual(['saturday-pipeline/waits/i-0old000000000001']);
  });
});
