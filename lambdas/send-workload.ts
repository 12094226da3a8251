/**
 * SendWorkload: fire the phase's command (the workload, or the preflight in a shell run) with
 * SSM. Its executionTimeout is what remains of the phase budget, so the command can never
 * outlive the phase; output goes to CloudWatch Logs.
 */
import { SSMClient, SendCommandCommand } from '@aws-sdk/client-ssm';
import { EC2Client } from '@aws-sdk/client-ec2';
import { classify } from './shared/classify';
import { errorCode, isTransient, retryableOnTransient } from './shared/aws-errors';
import { readEnv, sendEnvSchema, type SendEnv } from './shared/environment';
import { TransientApiError } from './shared/errors';
import { readInstanceStatus } from './shared/instance-status';
import { phaseTaskInputSchema, type Job, type PhaseTaskInput } from './shared/job';
import { logger } from './shared/logger';
import { isoNow, nextWait, phaseDeadline, secondsUntil } from './shared/phase-clock';
import type { Ec2Send, SsmSend } from './shared/sends';
import { workloadScript } from './shared/shell';
import { parseTaskInput } from './shared/task-input';

const ec2 = new EC2Client({ maxAttempts: 5 });
const ssm = new SSMClient({ maxAttempts: 5 });

/** Below this, a command has no real chance to do anything: the phase is out of budget. */
export const MIN_EXECUTION_SECONDS = 60;

export async function sendWorkload(clients: { ec2: Ec2Send; ssm: SsmSend }, env: SendEnv, input: PhaseTaskInput): Promise<Job> {
  const { phase, run, execution, job } = input;
  const instance = job.instance;
  if (!instance) return { ...job, status: 'failed', failure: { kind: 'interruption', reason: 'no instance to run on' } };
  const now = Date.now();
  const deadline = phaseDeadline(execution, phase);
  const executionTimeoutSeconds = secondsUntil(deadline, now);
  if (executionTimeoutSeconds < MIN_EXECUTION_SECONDS) {
    return { ...job, status: 'failed', failure: { kind: 'budget', reason: `only ${Math.max(0, executionTimeoutSeconds)} s of budget left to run the command` } };
  }
  const command = run.mode === 'preflight' ? phase.preflightCommand : phase.workloadCommand;
  const commands = workloadScript(
    {
      PIPELINE_NAME: phase.pipelineName,
      PIPELINE_PHASE: phase.name,
      PIPELINE_ATTEMPT: String(job.attempt),
      PIPELINE_EXECUTION: run.pipelineExecution,
      PIPELINE_RUN_DATE: run.runDate,
      PIPELINE_MODE: run.mode,
    },
    command,
  );
  try {
    const out = await clients.ssm.send(
      new SendCommandCommand({
        DocumentName: 'AWS-RunShellScript',
        InstanceIds: [instance.id],
        Comment: `${phase.pipelineName} ${phase.name} ${run.mode} attempt ${job.attempt}`.slice(0, 100),
        Parameters: { commands, executionTimeout: [String(executionTimeoutSeconds)] },
        TimeoutSeconds: Math.max(30, Math.min(600, executionTimeoutSeconds)),
        CloudWatchOutputConfig: { CloudWatchOutputEnabled: true, CloudWatchLogGroupName: env.WORKLOAD_LOG_GROUP },
      }),
    );
    const commandId = out.Command?.CommandId;
    if (!commandId) throw new TransientApiError('SendCommand returned no command id');
    const sentAt = isoNow();
    logger.info('command sent', { phase: phase.name, attempt: job.attempt, mode: run.mode, instanceId: instance.id, commandId, executionTimeoutSeconds });
    return {
      ...job,
      status: 'running',
      command: { id: commandId, sentAt, executionTimeoutSeconds, lastOutput: '', lastOutputAt: sentAt },
      pollErrors: 0,
      nextWaitSeconds: nextWait(phase.pollIntervalSeconds, deadline, now),
    };
  } catch (err) {
    if (errorCode(err) === 'InvalidInstanceId') {
      // The instance is no longer one SSM can reach: find out why before deciding anything.
      const verdict = classify(await readInstanceStatus(clients.ec2, instance.id, instance.spotRequestId, instance.launchedAt));
      if (verdict.state === 'failed') return { ...job, status: 'failed', failure: { kind: verdict.kind, reason: verdict.reason } };
    }
    if (isTransient(err) || errorCode(err) === 'InvalidInstanceId') {
      throw new TransientApiError(`SendCommand: ${errorCode(err)}: ${(err as Error).message}`, { cause: err });
    }
    throw err;
  }
}

export async function handler(event: unknown): Promise<Job> {
  const env = readEnv(sendEnvSchema);
  const input = parseTaskInput(phaseTaskInputSchema, event, 'SendWorkload');
  return retryableOnTransient(() => sendWorkload({ ec2, ssm }, env, input));
}
