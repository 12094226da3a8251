import { GetLogEventsCommand, CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeInstancesCommand, DescribeSpotInstanceRequestsCommand, EC2Client, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { CancelCommandCommand, GetCommandInvocationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler } from '../../lambdas/poll-workload';
import { NOTICE_SAVE_WINDOW_SECONDS } from '../../decisions/attempt';
import { RUNNER_SAVED_LINE } from '../../contract/runner';
import {
  at,
  clockAt,
  COMMAND_ID,
  describedInstance,
  ENV,
  INSTANCE_ID,
  iso,
  logsError,
  runningJob,
  spotStatus,
  ssmError,
  stubHandlerEnv,
  taskInput, type LooseJob } from './fixtures';

const ec2 = mockClient(EC2Client);
const ssm = mockClient(SSMClient);
const logs = mockClient(CloudWatchLogsClient);

/** A running attempt: command sent at start + 300 s, last output at `lastOutputAtMs`. */
const pollInput = (lastOutputAtMs = at(300), pollErrors = 0) => taskInput({ job: runningJob({ pollErrors }, lastOutputAtMs) });

beforeEach(() => {
  ec2.reset();
  ssm.reset();
  logs.reset();
  stubHandlerEnv();
  clockAt(at(1200));
  ssm.on(GetCommandInvocationCommand).resolves({ Status: 'InProgress', ResponseCode: -1, StandardOutputContent: 'loading prices\n' });
  ssm.on(CancelCommandCommand).resolves({});
  ec2.on(DescribeInstancesCommand).resolves(describedInstance('running'));
  ec2.on(DescribeSpotInstanceRequestsCommand).resolves(spotStatus('fulfilled'));
  logs.on(GetLogEventsCommand).rejects(logsError('ResourceNotFoundException'));
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

describe('PollWorkload: AWS as the agent reports it', () => {
  it('a workload that logs to stderr only is alive: its stderr stream moves the silence watchdog', async () => {
    // Prepare: silent on stdout since 300 s; a stderr line at 1100 s (Python logging writes to stderr).
    const stream = (name: string) => `${COMMAND_ID}/${INSTANCE_ID}/aws-runShellScript/${name}`;
    logs.on(GetLogEventsCommand, { logStreamName: stream('stdout') }).rejects(logsError('ResourceNotFoundException'));
    logs.on(GetLogEventsCommand, { logStreamName: stream('stderr') }).resolves({ events: [{ timestamp: at(1100), message: 'INFO epoch 7 done' }] });
    clockAt(at(300 + 1900)); // past the 1800 s silence timeout, counted from stdout alone

    // Act
    const result: LooseJob = await handler(pollInput(at(300)));

    // Assess
    expect(result.status).toBe('running');
    expect(result.command).toMatchObject({ lastOutput: 'INFO epoch 7 done', lastOutputAt: iso(at(1100)) });
  });

  it('TimedOut with 137 long before the deadline: killed (out of memory?), a genuine WorkloadFailed, not the budget', async () => {
    // Prepare: the command was sent at 300 s with a 4800 s timeout; it ended at 1150 s.
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'TimedOut', StatusDetails: 'ExecutionTimedOut', ResponseCode: 137, ExecutionEndDateTime: iso(at(1150)), StandardOutputContent: 'allocating 64 GiB' });

    // Act
    const result: LooseJob = await handler(pollInput());

    // Assess
    expect(result.failure).toMatchObject({ kind: 'workload-error', reasonCode: 'killed', exitCode: 137 });
    expect(result.failure?.detail).toContain('killed (exit 137: out of memory?)');
  });

  it('TimedOut with 137 at its executionTimeout: the phase budget', async () => {
    // Prepare: sent at 300 s with a 4800 s timeout, so it ended at 5100 s.
    clockAt(at(5110));
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'TimedOut', StatusDetails: 'ExecutionTimedOut', ResponseCode: 137, ExecutionEndDateTime: iso(at(5100)) });

    // Act
    const result: LooseJob = await handler(pollInput());

    // Assess
    expect(result.failure).toMatchObject({ kind: 'budget', reasonCode: 'command-timed-out' });
  });

  it('exit 1 reported, then spot marked the instance before this poll: genuine, not relaunched', async () => {
    // Prepare
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Failed', StatusDetails: 'Failed', ResponseCode: 1, ExecutionEndDateTime: iso(at(1100)) });
    ec2.on(DescribeSpotInstanceRequestsCommand).resolves(spotStatus('marked-for-termination'));

    // Act
    const result: LooseJob = await handler(pollInput());

    // Assess
    expect(result.failure).toMatchObject({ kind: 'workload-error', reasonCode: 'exit-code', exitCode: 1 });
    expect(ssm).not.toHaveReceivedCommand(CancelCommandCommand);
  });
});

describe('PollWorkload', () => {
  it('spot\'s notice on a still-running instance, the runner not done saving yet -> keeps polling, soon (15 s), nothing cancelled', async () => {
    // Prepare
    ec2.on(DescribeSpotInstanceRequestsCommand).resolves(spotStatus('marked-for-termination'));

    // Act
    const result: LooseJob = await handler(pollInput());

    // Assess
    expect(result).toMatchObject({ status: 'running', nextWaitSeconds: 15, command: { notice: { seenAt: iso(at(1200)) } } });
    expect(ssm).not.toHaveReceivedCommand(CancelCommandCommand);
  });

  it('spot\'s notice, and the runner says the checkpoint is saved, the phase sure to relaunch -> the attempt ends at once, the instance left to spot, nothing cancelled', async () => {
    // Prepare: the runner's last line on stderr.
    ec2.on(DescribeSpotInstanceRequestsCommand).resolves(spotStatus('marked-for-termination'));
    logs.on(GetLogEventsCommand, { logStreamName: `${COMMAND_ID}/${INSTANCE_ID}/aws-runShellScript/stderr` }).resolves({ events: [{ timestamp: at(1195), message: `${RUNNER_SAVED_LINE} (workload exit 143)` }] });

    // Act
    const result: LooseJob = await handler(pollInput());

    // Assess: the relaunch starts now, inside the notice's two minutes.
    expect(result).toMatchObject({ status: 'failed', failedAt: iso(at(1200)), failure: { kind: 'interruption', reasonCode: 'marked-for-termination', leftToSpot: true } });
    expect(ssm).not.toHaveReceivedCommand(CancelCommandCommand);
  });

  it('InProgress while spot marks a still-running instance, no relaunch possible (maxAttempts 1) -> keeps polling, nothing cancelled: the runner saves the checkpoint', async () => {
    // Prepare
    ec2.on(DescribeSpotInstanceRequestsCommand).resolves(spotStatus('marked-for-termination'));

    // Act
    const result: LooseJob = await handler(taskInput({ phase: { maxAttempts: 1 }, job: runningJob({}, at(300)) }));

    // Assess
    expect(result).toMatchObject({ status: 'running', command: { notice: { seenAt: iso(at(1200)), reasonCode: 'marked-for-termination' } } });
    expect(ssm).not.toHaveReceivedCommand(CancelCommandCommand);
  });

  it('still running 150 s after the notice was first seen -> failed interruption, command cancelled', async () => {
    // Prepare: the notice was seen 150 s ago; spot has still not taken the instance.
    ec2.on(DescribeSpotInstanceRequestsCommand).resolves(spotStatus('marked-for-termination'));
    const input = pollInput();
    (input.job as { command: { notice?: object } }).command.notice = { seenAt: iso(at(1200 - NOTICE_SAVE_WINDOW_SECONDS)), reasonCode: 'marked-for-termination', detail: 'spot request status marked-for-termination' };

    // Act
    const result: LooseJob = await handler(input);

    // Assess
    expect(result).toMatchObject({ status: 'failed', failure: { kind: 'interruption', reasonCode: 'marked-for-termination' } });
    expect(ssm).toHaveReceivedCommandWith(CancelCommandCommand, { CommandId: COMMAND_ID, InstanceIds: [INSTANCE_ID] });
  });

  it('the notice, then spot takes the instance -> failed interruption at once, nothing left to cancel', async () => {
    // Prepare
    ec2.on(DescribeSpotInstanceRequestsCommand).resolves(spotStatus('instance-terminated-no-capacity'));
    ec2.on(DescribeInstancesCommand).resolves(describedInstance('terminated', { stateReason: 'Server.SpotInstanceTermination' }));
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Failed', ResponseCode: 137, StatusDetails: 'Failed' });
    const input = pollInput();
    (input.job as { command: { notice?: object } }).command.notice = { seenAt: iso(at(1140)), reasonCode: 'marked-for-termination', detail: 'spot request status marked-for-termination' };

    // Act
    const result: LooseJob = await handler(input);

    // Assess
    expect(result).toMatchObject({ status: 'failed', failure: { kind: 'interruption', reasonCode: 'instance-terminated-no-capacity' } });
    expect(ssm).not.toHaveReceivedCommand(CancelCommandCommand);
  });

  it('the deadline comes while the runner saves after a notice: the interruption ends the attempt, not the budget', async () => {
    // Prepare: the notice was seen 60 s ago; the light poll at the deadline does not look at the instance.
    const input = pollInput();
    (input.job as { command: { notice?: object } }).command.notice = { seenAt: iso(at(1140)), reasonCode: 'marked-for-termination', detail: 'spot request status marked-for-termination' };
    clockAt(at(99_999));

    // Act
    const result: LooseJob = await handler(input);

    // Assess
    expect(result).toMatchObject({ status: 'failed', failure: { kind: 'interruption', reasonCode: 'marked-for-termination' } });
  });

  it('Success -> succeeded, nothing cancelled', async () => {
    // Prepare
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Success', ResponseCode: 0, StandardOutputContent: 'wrote 1234 rows\n' });

    // Act
    const result: LooseJob = await handler(pollInput());

    // Assess
    expect(result.status).toBe('succeeded');
    expect(result.failure).toBeUndefined();
    expect(result.command?.lastOutput).toBe('wrote 1234 rows');
    expect(ssm).not.toHaveReceivedCommand(CancelCommandCommand);
  });

  it('Failed with exit 2 on a running, fulfilled instance -> workload-error with the exit code and last output', async () => {
    // Prepare
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Failed', ResponseCode: 2, StandardOutputContent: 'loading prices\nboom: disk full\n' });

    // Act
    const result: LooseJob = await handler(pollInput());

    // Assess
    expect(result).toMatchObject({
      status: 'failed',
      failure: { kind: 'workload-error', reasonCode: 'exit-code', detail: 'exit code 2', exitCode: 2, lastOutput: 'boom: disk full' },
    });
    expect(ec2).not.toHaveReceivedCommand(TerminateInstancesCommand);
  });

  it('InProgress at the phase deadline -> failed budget and the command is cancelled, reading only the command (the margin is for cleanup)', async () => {
    // Prepare: deadline = start + 5100 s; the workload printed a minute ago.
    clockAt(at(5100));
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'InProgress', ResponseCode: -1, StandardOutputContent: 'loading prices\nstill crunching\n' });
    logs.on(GetLogEventsCommand).resolves({ events: [{ message: 'still crunching', timestamp: at(5040) }] });

    // Act
    const result: LooseJob = await handler(pollInput(at(5000)));

    // Assess
    expect(result).toMatchObject({ status: 'failed', failure: { kind: 'budget', lastOutput: 'still crunching' } });
    expect(logs).not.toHaveReceivedCommand(GetLogEventsCommand);
    expect(ec2).not.toHaveReceivedCommand(DescribeInstancesCommand);
    expect(result.failure?.detail).toContain('budgetSeconds 5400');
    expect(ssm).toHaveReceivedCommandWith(CancelCommandCommand, { CommandId: COMMAND_ID, InstanceIds: [INSTANCE_ID] });
  });

  it('no new output for silenceTimeoutSeconds -> failed hung and the command is cancelled', async () => {
    // Prepare: last output at start + 300 s, silence timeout 1800 s; the log's newest line is that old one.
    clockAt(at(300 + 1800));
    logs.on(GetLogEventsCommand).resolves({ events: [{ message: 'starting', timestamp: at(300) }] });

    // Act
    const result: LooseJob = await handler(pollInput(at(300)));

    // Assess
    expect(result).toMatchObject({ status: 'failed', failure: { kind: 'hung', lastOutput: 'starting' } });
    expect(result.failure?.detail).toContain('silenceTimeoutSeconds 1800');
    expect(ssm).toHaveReceivedCommand(CancelCommandCommand);
  });

  it('new output resets the silence watchdog: still running, with the new line and time', async () => {
    // Prepare
    clockAt(at(300 + 1800));
    logs.on(GetLogEventsCommand).resolves({ events: [{ message: 'step 7/9', timestamp: at(2050) }] });

    // Act
    const result: LooseJob = await handler(pollInput(at(300)));

    // Assess
    expect(result).toMatchObject({ status: 'running', command: { lastOutput: 'step 7/9', lastOutputAt: iso(at(2050)) } });
    expect(result.nextWaitSeconds).toBe(60);
    expect(ssm).not.toHaveReceivedCommand(CancelCommandCommand);
  });

  it('throttled GetCommandInvocation -> still running, pollErrors + 1, nothing cancelled', async () => {
    // Prepare
    ssm.on(GetCommandInvocationCommand).rejects(ssmError('ThrottlingException'));

    // Act
    const result: LooseJob = await handler(pollInput(at(300), 1));

    // Assess
    expect(result.status).toBe('running');
    expect(result.pollErrors).toBe(2);
    expect(result.nextWaitSeconds).toBeGreaterThan(0);
    expect(result.failure).toBeUndefined();
    expect(ssm).not.toHaveReceivedCommand(CancelCommandCommand);
  });

  it('the last output line comes from CloudWatch Logs when the stream exists', async () => {
    // Prepare: GetCommandInvocation only holds the first 24,000 characters of stdout.
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'InProgress', ResponseCode: -1, StandardOutputContent: 'line 1\nline 2\n' });
    logs.on(GetLogEventsCommand).resolves({
      events: [
        { message: 'line 998', timestamp: at(1150) },
        { message: 'line 999\n', timestamp: at(1190) },
        { message: '   ', timestamp: at(1191) },
      ],
    });

    // Act
    const result: LooseJob = await handler(pollInput());

    // Assess
    expect(result.command?.lastOutput).toBe('line 999');
    expect(logs).toHaveReceivedCommandWith(GetLogEventsCommand, {
      logGroupName: ENV.WORKLOAD_LOG_GROUP,
      logStreamName: `${COMMAND_ID}/${INSTANCE_ID}/aws-runShellScript/stdout`,
    });
  });

  it('without a log stream yet, the last line of GetCommandInvocation stdout is used', async () => {
    // Prepare: logs reject with ResourceNotFoundException (the default).

    // Act
    const result: LooseJob = await handler(pollInput());

    // Assess
    expect(result).toMatchObject({ status: 'running', command: { lastOutput: 'loading prices' } });
  });

  it('an instance shut down from inside (not by spot) -> workload-error, not a relaunch', async () => {
    // Prepare
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'InProgress', ResponseCode: -1 });
    ec2.on(DescribeInstancesCommand).resolves(describedInstance('terminated', { stateReason: 'Client.InstanceInitiatedShutdown' }));
    ec2.on(DescribeSpotInstanceRequestsCommand).resolves(spotStatus('instance-terminated-by-user'));

    // Act
    const result: LooseJob = await handler(pollInput());

    // Assess
    expect(result).toMatchObject({ status: 'failed', failure: { kind: 'workload-error' } });
    expect(result.failure?.detail).toContain('Client.InstanceInitiatedShutdown');
  });
});
