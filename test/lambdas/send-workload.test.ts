import { DescribeInstancesCommand, DescribeSpotInstanceRequestsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { ListCommandsCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler } from '../../lambdas/send-workload';
import { TransientApiError } from '../../contract/errors';
import { shellQuote } from '../../decisions/workload-script';
import { runnerScript } from '../../instance/runner';
import type { RunContext } from '../../contract/job';
import {
  at,
  clockAt,
  COMMAND_ID,
  describedInstance,
  ENV,
  INSTANCE_ID,
  instanceRef,
  iso,
  job,
  PREFLIGHT_COMMAND,
  spotStatus,
  ssmError,
  stubHandlerEnv,
  taskInput,
  WORKLOAD_COMMAND, type LooseJob } from './fixtures';

const ec2 = mockClient(EC2Client);
const ssm = mockClient(SSMClient);

const readyInput = (run: Partial<RunContext> = {}) =>
  taskInput({ run, job: job({ status: 'ready', attemptStartedAt: iso(at(0)), instance: instanceRef() }) });

/** The `commands` SendCommand was given. */
function sentCommands(): string[] {
  return ssm.commandCalls(SendCommandCommand)[0]?.args[0].input.Parameters?.commands ?? [];
}

beforeEach(() => {
  ec2.reset();
  ssm.reset();
  stubHandlerEnv();
  clockAt(at(1000));
  ssm.on(SendCommandCommand).resolves({ Command: { CommandId: COMMAND_ID } });
  ssm.on(ListCommandsCommand).resolves({ Commands: [] });
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

describe('SendWorkload', () => {
  it('retried after its response was lost: adopts the command its first try sent, and sends nothing again', async () => {
    // Prepare: SSM already holds this attempt's command on the instance (sent at 990 s, 4110 s timeout).
    ssm.on(ListCommandsCommand, { InstanceId: INSTANCE_ID }).resolves({
      Commands: [
        {
          CommandId: 'cmd-first-try',
          DocumentName: 'AWS-RunShellScript',
          Comment: 'saturday-pipeline DataPhase1 full attempt 1',
          InstanceIds: [INSTANCE_ID],
          RequestedDateTime: new Date(at(990)),
          Status: 'InProgress',
          Parameters: { commands: ['...'], executionTimeout: ['4110'] },
        },
      ],
    });

    // Act
    const result: LooseJob = await handler(readyInput());

    // Assess
    expect(ssm).not.toHaveReceivedCommand(SendCommandCommand);
    expect(result).toMatchObject({ status: 'running', command: { id: 'cmd-first-try', sentAt: iso(at(990)), executionTimeoutSeconds: 4110 } });
  });

  it('a command of another attempt or mode on the instance is not this one: the workload is sent', async () => {
    // Prepare
    ssm.on(ListCommandsCommand).resolves({ Commands: [{ CommandId: 'cmd-other', DocumentName: 'AWS-RunShellScript', Comment: 'saturday-pipeline DataPhase1 preflight attempt 1' }] });

    // Act
    const result: LooseJob = await handler(readyInput());

    // Assess
    expect(ssm).toHaveReceivedCommandTimes(SendCommandCommand, 1);
    expect(result.command?.id).toBe(COMMAND_ID);
  });

  it('sends the workload with AWS-RunShellScript, timed out at the phase deadline, output to the log group', async () => {
    // Prepare: 1000 s in; deadline = start + (5400 - 300) s, so 4100 s remain.

    // Act
    const result: LooseJob = await handler(readyInput());

    // Assess
    expect(ssm).toHaveReceivedCommandExactlyOnceWith(SendCommandCommand, {
      DocumentName: 'AWS-RunShellScript',
      InstanceIds: [INSTANCE_ID],
      Parameters: expect.objectContaining({ executionTimeout: ['4100'] }),
      CloudWatchOutputConfig: { CloudWatchOutputEnabled: true, CloudWatchLogGroupName: ENV.WORKLOAD_LOG_GROUP },
    });
    expect(result).toMatchObject({
      status: 'running',
      command: { id: COMMAND_ID, executionTimeoutSeconds: 4100, lastOutput: '', sentAt: iso(at(1000)), lastOutputAt: iso(at(1000)) },
      pollErrors: 0,
    });
    expect(result.nextWaitSeconds).toBe(60);
  });

  it('exports the run as environment variables, then runs the configured workload command', async () => {
    // Prepare: a full run of attempt 1.

    // Act
    await handler(readyInput());

    // Assess
    const commands = sentCommands();
    expect(commands).toEqual(
      expect.arrayContaining([
        "export PIPELINE_NAME='saturday-pipeline'",
        "export PIPELINE_PHASE='DataPhase1'",
        "export PIPELINE_ATTEMPT='1'",
        "export PIPELINE_EXECUTION='exec-1'",
        "export PIPELINE_RUN_DATE='2026-05-30'",
        "export PIPELINE_MODE='full'",
      ]),
    );
    expect(commands.at(-1)).toBe(`exec bash "$pipeline_runner" bash -c ${shellQuote(WORKLOAD_COMMAND)}`);
    expect(commands.join('\n')).not.toContain(PREFLIGHT_COMMAND);
  });

  it('hands the runner the data plane: outputs and checkpoint of this run and phase, code with its sha256, secret names, parameters', async () => {
    // Prepare
    const sha256 = 'ab'.repeat(32);
    const input = readyInput({ params: { PIPELINE_PARAM_UNIVERSE_SIZE: '50' } });
    input.phase = { ...input.phase, codeAsset: { uri: 's3://cdk-assets-bucket/0123abcd.gz', sha256 }, secrets: { DB_PASSWORD: 'ssm:/alpha/db-password' } };

    // Act
    await handler(input);

    // Assess
    const commands = sentCommands();
    expect(commands).toEqual(
      expect.arrayContaining([
        "export PIPELINE_OUTPUT_URI='s3://saturday-pipeline-bucket/saturday-pipeline/runs/2026-05-30/exec-1/DataPhase1/'",
        "export PIPELINE_RUN_URI='s3://saturday-pipeline-bucket/saturday-pipeline/runs/2026-05-30/exec-1/'",
        "export PIPELINE_CHECKPOINT_URI='s3://saturday-pipeline-bucket/saturday-pipeline/checkpoints/2026-05-30/exec-1/DataPhase1/'",
        "export PIPELINE_CODE_URI='s3://cdk-assets-bucket/0123abcd.gz'",
        `export PIPELINE_CODE_SHA256='${sha256}'`,
        "export PIPELINE_SECRETS='DB_PASSWORD|ssm:/alpha/db-password'",
        "export PIPELINE_PARAM_UNIVERSE_SIZE='50'",
      ]),
    );
    expect(commands.join('\n')).toContain(runnerScript().trimEnd());
  });

  it('preflight mode sends the preflight command, not the workload', async () => {
    // Prepare
    const input = readyInput({ mode: 'preflight' });

    // Act
    await handler(input);

    // Assess
    const commands = sentCommands();
    expect(commands.at(-1)).toBe(`exec bash "$pipeline_runner" bash -c ${shellQuote(PREFLIGHT_COMMAND)}`);
    expect(commands.join('\n')).not.toContain(WORKLOAD_COMMAND);
    // A preflight writes a probe to its own outputs but never touches the checkpoint of a run.
    expect(commands.some((c) => c.startsWith('export PIPELINE_OUTPUT_URI='))).toBe(true);
    expect(commands.some((c) => c.startsWith('export PIPELINE_CHECKPOINT_URI='))).toBe(false);
    expect(commands).toContain("export PIPELINE_MODE='preflight'");
  });

  it('less than 60 s of budget left -> failed budget without sending anything', async () => {
    // Prepare: 59 s before the deadline.
    clockAt(at(5100 - 59));

    // Act
    const result: LooseJob = await handler(readyInput());

    // Assess
    expect(result).toMatchObject({ status: 'failed', failure: { kind: 'budget' } });
    expect(result.failure?.detail).toContain('59 s');
    expect(ssm).not.toHaveReceivedCommand(SendCommandCommand);
  });

  it('exactly 60 s left still sends, with a 60 s executionTimeout', async () => {
    // Prepare
    clockAt(at(5100 - 60));

    // Act
    const result: LooseJob = await handler(readyInput());

    // Assess
    expect(result.status).toBe('running');
    expect(ssm).toHaveReceivedCommandWith(SendCommandCommand, { Parameters: expect.objectContaining({ executionTimeout: ['60'] }) });
  });

  it('an unsafe run value never reaches SSM', async () => {
    // Prepare: a hand-edited redrive input with shell in the execution name.
    const input = readyInput({ pipelineExecution: 'x$(reboot)' });

    // Act
    const sending = handler(input);

    // Assess
    await expect(sending).rejects.toThrow(/PIPELINE_EXECUTION/);
    expect(ssm).not.toHaveReceivedCommand(SendCommandCommand);
  });

  it('SSM cannot reach an instance spot took away -> failed interruption, not an error', async () => {
    // Prepare
    ssm.on(SendCommandCommand).rejects(ssmError('InvalidInstanceId'));
    ec2.on(DescribeInstancesCommand).resolves(describedInstance('terminated', { stateReason: 'Server.SpotInstanceTermination' }));
    ec2.on(DescribeSpotInstanceRequestsCommand).resolves(spotStatus('instance-terminated-by-price'));

    // Act
    const result: LooseJob = await handler(readyInput());

    // Assess
    expect(result).toMatchObject({ status: 'failed', failure: { kind: 'interruption', reasonCode: 'instance-terminated-by-price' } });
  });

  it('throttled SendCommand -> TransientApiError for the state machine to retry', async () => {
    // Prepare
    ssm.on(SendCommandCommand).rejects(ssmError('ThrottlingException'));

    // Act
    const sending = handler(readyInput());

    // Assess
    await expect(sending).rejects.toThrow(TransientApiError);
  });
});
