import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeInstancesCommand, EC2Client, TerminateInstancesCommand, type Instance } from '@aws-sdk/client-ec2';
import { DescribeExecutionCommand, ExecutionDoesNotExist, SFNClient, SFNServiceException } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { METRICS } from '../../contract/metrics';
import { handler } from '../../lambdas/reap-orphans';
import { InvalidEnvironment } from '../../contract/errors';
import { ALIVE } from '../../lambdas/aws/instances';
import { TAG } from '../../contract/tags';
import { clockAt, ec2Error } from './fixtures';

const ec2 = mockClient(EC2Client);
const sfn = mockClient(SFNClient);
const cloudwatch = mockClient(CloudWatchClient);

const NOW = Date.parse('2026-05-30T12:00:00.000Z');
const PIPELINE_NAME = 'saturday-pipeline';
const NAMESPACE = 'ReaperTestNamespace';
const MAX_AGE_SECONDS = 12_900;
const EXEC_A = 'arn:aws:states:us-east-1:123456789012:execution:saturday-pipeline-spot-phase:a';
const EXEC_B = 'arn:aws:states:us-east-1:123456789012:execution:saturday-pipeline-spot-phase:b';

/** A pipeline instance as DescribeInstances returns it: tagged with its execution (unless null), launched `ageSeconds` ago. */
function pipelineInstance(id: string, execution: string | null, ageSeconds = 3600): Instance {
  return {
    InstanceId: id,
    InstanceType: 'c5.large',
    State: { Name: 'running' },
    LaunchTime: new Date(NOW - ageSeconds * 1000),
    Tags: [
      { Key: TAG.pipeline, Value: PIPELINE_NAME },
      { Key: TAG.phase, Value: 'DataPhase1' },
      ...(execution ? [{ Key: TAG.execution, Value: execution }] : []),
    ],
  };
}

function instancesFound(...instances: Instance[]): void {
  ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: instances }] });
}

function executionStatus(executionArn: string, status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED'): void {
  sfn.on(DescribeExecutionCommand, { executionArn }).resolves({ executionArn, status });
}

function sfnError(name: string, httpStatusCode = 400): SFNServiceException {
  return new SFNServiceException({ name, $fault: httpStatusCode >= 500 ? 'server' : 'client', $metadata: { httpStatusCode }, message: `${name} (test)` });
}

/** The ids TerminateInstances was asked to terminate, over every call, sorted. */
function terminatedIds(): string[] {
  return ec2
    .commandCalls(TerminateInstancesCommand)
    .flatMap((c) => c.args[0].input.InstanceIds ?? [])
    .sort();
}

/** The single OrphansReaped datum of the run. */
function reapedDatum() {
  expect(cloudwatch).toHaveReceivedCommandTimes(PutMetricDataCommand, 1);
  return cloudwatch.commandCalls(PutMetricDataCommand)[0]!.args[0].input.MetricData![0]!;
}

let consoleLog: MockInstance<typeof console.log>;

/** The structured log lines written during the test. */
function logLines(): { level: string; message: string; [key: string]: unknown }[] {
  return consoleLog.mock.calls.map((c) => JSON.parse(String(c[0])));
}

beforeEach(() => {
  ec2.reset();
  sfn.reset();
  cloudwatch.reset();
  vi.stubEnv('AWS_REGION', 'us-east-1');
  vi.stubEnv('AWS_LAMBDA_LOG_LEVEL', 'WARN');
  vi.stubEnv('PIPELINE_NAME', PIPELINE_NAME);
  vi.stubEnv('METRIC_NAMESPACE', NAMESPACE);
  vi.stubEnv('MAX_AGE_SECONDS', String(MAX_AGE_SECONDS));
  vi.stubEnv('DRY_RUN', 'false');
  clockAt(NOW);
  consoleLog = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  vi.spyOn(console, 'error').mockImplementation(() => undefined);
  ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
  ec2.on(TerminateInstancesCommand).resolves({});
  sfn.on(DescribeExecutionCommand).rejects(sfnError('UnexpectedDescribeExecution'));
  cloudwatch.on(PutMetricDataCommand).resolves({});
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe('ReapOrphans: finding the pipeline instances', () => {
  it('asks EC2 for live instances tagged with the pipeline name', async () => {
    // Prepare
    instancesFound();

    // Act
    await handler();

    // Assess
    expect(ec2).toHaveReceivedCommandWith(DescribeInstancesCommand, {
      Filters: expect.arrayContaining([
        { Name: `tag:${TAG.pipeline}`, Values: [PIPELINE_NAME] },
        { Name: 'instance-state-name', Values: ALIVE },
      ]),
    });
    const states = ec2.commandCalls(DescribeInstancesCommand)[0]!.args[0].input.Filters?.find((f) => f.Name === 'instance-state-name')?.Values;
    expect(states).not.toContain('terminated');
  });

  it('with no pipeline instances, terminates nothing and still reports 0', async () => {
    // Prepare
    instancesFound();

    // Act
    const result = await handler();

    // Assess
    expect(ec2).not.toHaveReceivedCommand(TerminateInstancesCommand);
    expect(sfn).not.toHaveReceivedCommand(DescribeExecutionCommand);
    expect(result).toEqual({ dryRun: false, orphans: [], terminated: [] });
    expect(reapedDatum().Value).toBe(0);
  });
});

describe('ReapOrphans: verdicts', () => {
  it('leaves alone an instance whose execution is RUNNING', async () => {
    // Prepare
    instancesFound(pipelineInstance('i-0run00000000000001', EXEC_A));
    executionStatus(EXEC_A, 'RUNNING');

    // Act
    const result = await handler();

    // Assess
    expect(sfn).toHaveReceivedCommandWith(DescribeExecutionCommand, { executionArn: EXEC_A });
    expect(ec2).not.toHaveReceivedCommand(TerminateInstancesCommand);
    expect(result).toEqual({ dryRun: false, orphans: [], terminated: [] });
    expect(reapedDatum().Value).toBe(0);
  });

  it.each(['SUCCEEDED', 'ABORTED', 'FAILED', 'TIMED_OUT'] as const)('terminates and logs an instance whose execution is %s', async (status) => {
    // Prepare
    instancesFound(pipelineInstance('i-0ended00000000001', EXEC_A));
    executionStatus(EXEC_A, status);

    // Act
    const result = await handler();

    // Assess
    expect(ec2).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: ['i-0ended00000000001'] });
    expect(result.terminated).toEqual(['i-0ended00000000001']);
    expect(result.orphans).toEqual([{ instanceId: 'i-0ended00000000001', why: expect.stringContaining(status) }]);
    const reaped = logLines().filter((l) => l.level === 'WARN' && l.instanceId === 'i-0ended00000000001');
    expect(reaped).toHaveLength(1);
    expect(reaped[0]).toMatchObject({ executionArn: EXEC_A, why: expect.stringContaining(status) });
    expect(reaped[0]!.message).toMatch(/reap/i);
  });

  it('terminates an instance whose execution no longer exists (ExecutionDoesNotExist)', async () => {
    // Prepare
    instancesFound(pipelineInstance('i-0nexec00000000001', EXEC_A));
    sfn.on(DescribeExecutionCommand, { executionArn: EXEC_A }).rejects(new ExecutionDoesNotExist({ $metadata: { httpStatusCode: 400 }, message: 'Execution Does Not Exist' }));

    // Act
    const result = await handler();

    // Assess
    expect(ec2).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: ['i-0nexec00000000001'] });
    expect(result.orphans).toEqual([{ instanceId: 'i-0nexec00000000001', why: expect.stringContaining('DOES_NOT_EXIST') }]);
    expect(result.terminated).toEqual(['i-0nexec00000000001']);
  });

  it('leaves an instance alone this round when its execution status cannot be read (throttled), and reaps the others', async () => {
    // Prepare
    instancesFound(pipelineInstance('i-0throt00000000001', EXEC_A), pipelineInstance('i-0ended00000000001', EXEC_B));
    sfn.on(DescribeExecutionCommand, { executionArn: EXEC_A }).rejects(sfnError('ThrottlingException'));
    executionStatus(EXEC_B, 'SUCCEEDED');

    // Act
    const result = await handler();

    // Assess
    expect(terminatedIds()).toEqual(['i-0ended00000000001']);
    expect(result.orphans.map((o) => o.instanceId)).toEqual(['i-0ended00000000001']);
    expect(reapedDatum().Value).toBe(1);
    const warned = logLines().filter((l) => l.level === 'WARN' && l.executionArn === EXEC_A);
    expect(warned.map((l) => l.error)).toContain('ThrottlingException');
  });

  it('a throttled status read alone terminates nothing', async () => {
    // Prepare
    instancesFound(pipelineInstance('i-0throt00000000001', EXEC_A));
    sfn.on(DescribeExecutionCommand, { executionArn: EXEC_A }).rejects(sfnError('ThrottlingException'));

    // Act
    const result = await handler();

    // Assess
    expect(ec2).not.toHaveReceivedCommand(TerminateInstancesCommand);
    expect(result).toEqual({ dryRun: false, orphans: [], terminated: [] });
  });

  it('terminates an instance without an execution tag, without asking Step Functions', async () => {
    // Prepare
    instancesFound(pipelineInstance('i-0notag00000000001', null));

    // Act
    const result = await handler();

    // Assess
    expect(sfn).not.toHaveReceivedCommand(DescribeExecutionCommand);
    expect(ec2).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: ['i-0notag00000000001'] });
    expect(result.orphans).toEqual([{ instanceId: 'i-0notag00000000001', why: expect.stringMatching(/no execution tag/) }]);
  });

  it('terminates an instance older than MAX_AGE_SECONDS even though its execution is RUNNING', async () => {
    // Prepare
    instancesFound(pipelineInstance('i-0old000000000001', EXEC_A, MAX_AGE_SECONDS + 60), pipelineInstance('i-0young0000000001', EXEC_A, MAX_AGE_SECONDS));
    executionStatus(EXEC_A, 'RUNNING');

    // Act
    const result = await handler();

    // Assess
    expect(terminatedIds()).toEqual(['i-0old000000000001']);
    expect(result.orphans).toEqual([{ instanceId: 'i-0old000000000001', why: expect.stringContaining(String(MAX_AGE_SECONDS)) }]);
  });

  it('reads MAX_AGE_SECONDS from the environment', async () => {
    // Prepare
    vi.stubEnv('MAX_AGE_SECONDS', '600');
    instancesFound(pipelineInstance('i-0old000000000001', EXEC_A, 601));
    executionStatus(EXEC_A, 'RUNNING');

    // Act
    const result = await handler();

    // Assess
    expect(result.terminated).toEqual(['i-0old000000000001']);
  });

  it('asks DescribeExecution once per distinct execution, even with two instances of the same execution', async () => {
    // Prepare
    instancesFound(pipelineInstance('i-0a10000000000001', EXEC_A), pipelineInstance('i-0a20000000000001', EXEC_A), pipelineInstance('i-0b10000000000001', EXEC_B));
    executionStatus(EXEC_A, 'ABORTED');
    executionStatus(EXEC_B, 'RUNNING');

    // Act
    const result = await handler();

    // Assess
    expect(sfn).toHaveReceivedCommandTimes(DescribeExecutionCommand, 2);
    expect(sfn).toHaveReceivedCommandWith(DescribeExecutionCommand, { executionArn: EXEC_A });
    expect(sfn).toHaveReceivedCommandWith(DescribeExecutionCommand, { executionArn: EXEC_B });
    expect(terminatedIds()).toEqual(['i-0a10000000000001', 'i-0a20000000000001']);
    expect(result.terminated.sort()).toEqual(['i-0a10000000000001', 'i-0a20000000000001']);
  });
});

describe('ReapOrphans: dry run', () => {
  it('DRY_RUN=true terminates nothing, lists the orphans and reports 0 reaped', async () => {
    // Prepare
    vi.stubEnv('DRY_RUN', 'true');
    instancesFound(pipelineInstance('i-0ended00000000001', EXEC_A), pipelineInstance('i-0notag00000000001', null), pipelineInstance('i-0run00000000000001', EXEC_B));
    executionStatus(EXEC_A, 'SUCCEEDED');
    executionStatus(EXEC_B, 'RUNNING');

    // Act
    const result = await handler();

    // Assess
    expect(ec2).not.toHaveReceivedCommand(TerminateInstancesCommand);
    expect(result.dryRun).toBe(true);
    expect(result.terminated).toEqual([]);
    expect(result.orphans.map((o) => o.instanceId).sort()).toEqual(['i-0ended00000000001', 'i-0notag00000000001']);
    const datum = reapedDatum();
    expect(datum).toMatchObject({ MetricName: METRICS.orphansReaped.name, Value: 0 });
    const reported = logLines().filter((l) => l.level === 'WARN' && typeof l.instanceId === 'string');
    expect(reported.map((l) => l.instanceId).sort()).toEqual(['i-0ended00000000001', 'i-0notag00000000001']);
    for (const line of reported) expect(line.message).toMatch(/dry run/i);
  });

  it('DRY_RUN unset defaults to terminating', async () => {
    // Prepare
    vi.stubEnv('DRY_RUN', undefined);
    instancesFound(pipelineInstance('i-0notag00000000001', null));

    // Act
    const result = await handler();

    // Assess
    expect(result.dryRun).toBe(false);
    expect(terminatedIds()).toEqual(['i-0notag00000000001']);
  });
});

describe('ReapOrphans: the OrphansReaped metric', () => {
  it('puts exactly one datum per run: OrphansReaped = number terminated, dimension Pipeline, namespace from the environment', async () => {
    // Prepare
    instancesFound(
      pipelineInstance('i-0ended00000000001', EXEC_A),
      pipelineInstance('i-0ended00000000002', EXEC_A),
      pipelineInstance('i-0notag00000000001', null),
      pipelineInstance('i-0run00000000000001', EXEC_B),
    );
    executionStatus(EXEC_A, 'SUCCEEDED');
    executionStatus(EXEC_B, 'RUNNING');

    // Act
    const result = await handler();

    // Assess
    expect(result.terminated).toHaveLength(3);
    expect(cloudwatch).toHaveReceivedCommandTimes(PutMetricDataCommand, 1);
    const input = cloudwatch.commandCalls(PutMetricDataCommand)[0]!.args[0].input;
    expect(input.Namespace).toBe(NAMESPACE);
    expect(input.MetricData).toHaveLength(1);
    expect(input.MetricData![0]).toMatchObject({ MetricName: 'OrphansReaped', Value: 3, Dimensions: [{ Name: 'Pipeline', Value: PIPELINE_NAME }] });
  });

  it('counts only what was actually terminated: an orphan EC2 no longer knows is not counted', async () => {
    // Prepare
    instancesFound(pipelineInstance('i-0gone0000000000001', null));
    ec2.on(TerminateInstancesCommand).rejects(ec2Error('InvalidInstanceID.NotFound'));

    // Act
    const result = await handler();

    // Assess
    expect(result.terminated).toEqual([]);
    expect(reapedDatum().Value).toBe(0);
  });

  it('a transient TerminateInstances error fails the run (retried next time) before any datum is put', async () => {
    // Prepare
    instancesFound(pipelineInstance('i-0notag00000000001', null));
    ec2.on(TerminateInstancesCommand).rejects(ec2Error('RequestLimitExceeded', 503));

    // Act
    const run = handler();

    // Assess
    await expect(run).rejects.toMatchObject({ name: 'RequestLimitExceeded' });
    expect(cloudwatch).not.toHaveReceivedCommand(PutMetricDataCommand);
  });
});

describe('ReapOrphans: environment', () => {
  it.each(['PIPELINE_NAME', 'METRIC_NAMESPACE', 'MAX_AGE_SECONDS'])('without %s it fails with InvalidEnvironment and touches nothing', async (name) => {
    // Prepare
    vi.stubEnv(name, undefined);

    // Act
    const run = handler();

    // Assess
    await expect(run).rejects.toBeInstanceOf(InvalidEnvironment);
    expect(ec2).not.toHaveReceivedAnyCommand();
    expect(cloudwatch).not.toHaveReceivedAnyCommand();
  });

  it('a DRY_RUN other than true/false is InvalidEnvironment (never a silent real run)', async () => {
    // Prepare
    vi.stubEnv('DRY_RUN', 'yes');
    instancesFound(pipelineInstance('i-0notag00000000001', null));

    // Act
    const run = handler();

    // Assess
    await expect(run).rejects.toBeInstanceOf(InvalidEnvironment);
    expect(ec2).not.toHaveReceivedCommand(TerminateInstancesCommand);
  });
});
