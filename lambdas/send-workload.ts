/**
 * SendWorkload: fire the phase's command (the workload, or the preflight in a shell run) with
 * SSM, wrapped by the on-instance runner (decisions/workload-script.ts): the command carries the
 * runner and the data plane's locations (decisions/data-plane.ts: outputs, checkpoint, code,
 * artifacts, secrets' names, a build's source) and the run's parameters. Its executionTimeout is
 * what remains of the phase budget, so the command can never outlive the phase; output goes to
 * CloudWatch Logs.
 */
import { ListCommandsCommand, SSMClient, SendCommandCommand } from '@aws-sdk/client-ssm';
import { EC2Client } from '@aws-sdk/client-ec2';
import { sendEnvSchema, type SendEnv } from '../contract/environment';
import { TransientApiError } from '../contract/errors';
import type { Job, PhaseTaskInputIn } from '../contract/job';
import { commandSent, commandTimeout, instanceUnreachable, outOfTime } from '../decisions/attempt';
import { classify } from '../decisions/classify';
import { phaseDeadline, readCallsUntil } from '../decisions/phase-clock';
import { phaseDataEnv } from '../decisions/data-plane';
import { workloadScript } from '../decisions/workload-script';
import { runnerScript } from '../instance/runner';
import { errorCode, isTransient, retryableUntil } from './aws/aws-errors';
import { CLIENT_CONFIG, withCallsUntil, type Ec2Send, type SsmSend } from './aws/clients';
import { readInstanceStatus } from './aws/instances';
import { readEnv } from './runtime/environment';
import { logger } from './runtime/logger';
import { parsePhaseTask } from './runtime/task-input';

const ec2 = new EC2Client(CLIENT_CONFIG);
const ssm = new SSMClient(CLIENT_CONFIG);

interface SentCommand {
  readonly id: string;
  readonly sentAtMs?: number;
  readonly executionTimeoutSeconds?: number;
}

/** The command with this comment already sent to the instance, if any (ListCommands, newest first). */
async function findSentCommand(client: SsmSend, instanceId: string, comment: string): Promise<SentCommand | undefined> {
  const out = await client.send(new ListCommandsCommand({ InstanceId: instanceId }));
  const found = (out.Commands ?? []).find((c) => c.Comment === comment && c.DocumentName === 'AWS-RunShellScript' && c.CommandId);
  if (!found?.CommandId) return undefined;
  const timeout = Number(found.Parameters?.executionTimeout?.[0]);
  return {
    id: found.CommandId,
    sentAtMs: found.RequestedDateTime ? new Date(found.RequestedDateTime).getTime() : undefined,
    executionTimeoutSeconds: Number.isInteger(timeout) && timeout > 0 ? timeout : undefined,
  };
}

export async function sendWorkload(clients: { ec2: Ec2Send; ssm: SsmSend }, env: SendEnv, input: PhaseTaskInputIn<'ready'>): Promise<Job> {
  const { phase, run, execution, job } = input;
  const { instance } = job;
  const t = { nowMs: Date.now(), deadlineMs: phaseDeadline(execution, phase) };
  const timeout = commandTimeout(job, t);
  if ('failed' in timeout) return timeout.failed;
  const executionTimeoutSeconds = timeout.seconds;
  const command = run.mode === 'preflight' ? phase.preflightCommand : phase.workloadCommand;
  const commands = workloadScript({
    env: {
      PIPELINE_NAME: phase.pipelineName,
      PIPELINE_PHASE: phase.name,
      PIPELINE_ATTEMPT: String(job.attempt),
      PIPELINE_EXECUTION: run.pipelineExecution,
      PIPELINE_RUN_DATE: run.runDate,
      PIPELINE_MODE: run.mode,
    },
    data: phaseDataEnv(env.PIPELINE_BUCKET, phase, run),
    params: run.params,
    runner: runnerScript(),
    command,
  });
  const comment = `${phase.pipelineName} ${phase.name} ${run.mode} attempt ${job.attempt}`.slice(0, 100);

  // Look before acting: a retried task (its first response lost) finds the command its first
  // try sent, and watches that one instead of starting the workload a second time. The instance
  // belongs to this attempt alone, so a command of ours on it is this attempt's.
  const sent = await findSentCommand(clients.ssm, instance.id, comment);
  if (sent) {
    logger.warn('adopting the command this attempt already sent', { phase: phase.name, attempt: job.attempt, instanceId: instance.id, commandId: sent.id });
    return commandSent(phase, job, sent.id, sent.executionTimeoutSeconds ?? executionTimeoutSeconds, { ...t, nowMs: sent.sentAtMs ?? t.nowMs });
  }

  try {
    const out = await clients.ssm.send(
      new SendCommandCommand({
        DocumentName: 'AWS-RunShellScript',
        InstanceIds: [instance.id],
        Comment: comment,
        Parameters: { commands, executionTimeout: [String(executionTimeoutSeconds)] },
        TimeoutSeconds: Math.max(30, Math.min(600, executionTimeoutSeconds)),
        CloudWatchOutputConfig: { CloudWatchOutputEnabled: true, CloudWatchLogGroupName: env.WORKLOAD_LOG_GROUP },
      }),
    );
    const commandId = out.Command?.CommandId;
    if (!commandId) throw new TransientApiError('SendCommand returned no command id');
    logger.info('command sent', { phase: phase.name, attempt: job.attempt, mode: run.mode, instanceId: instance.id, commandId, executionTimeoutSeconds });
    return commandSent(phase, job, commandId, executionTimeoutSeconds, t);
  } catch (err) {
    if (errorCode(err) === 'InvalidInstanceId') {
      // The instance is no longer one SSM can reach: find out why before deciding anything.
      const failed = instanceUnreachable(job, classify(await readInstanceStatus(clients.ec2, instance.id, instance.spotRequestId, instance.launchedAt)));
      if (failed) return failed;
    }
    if (isTransient(err) || errorCode(err) === 'InvalidInstanceId') {
      throw new TransientApiError(`SendCommand: ${errorCode(err)}: ${(err as Error).message}`, { cause: err });
    }
    throw err;
  }
}

export async function handler(event: unknown): Promise<Job> {
  const env = readEnv(sendEnvSchema);
  const input = parsePhaseTask(event, 'SendWorkload', ['ready']);
  const deadlineMs = phaseDeadline(input.execution, input.phase);
  return withCallsUntil({ ec2, ssm }, readCallsUntil(input.execution, input.phase), (c) =>
    retryableUntil(deadlineMs, () => sendWorkload(c, env, input), () => outOfTime(input.job, 'sending the command', { nowMs: Date.now(), deadlineMs })),
  );
}
