/**
 * SendWorkload: fire the phase's command (the workload, or the preflight in a shell run) with
 * SSM. Its executionTimeout is what remains of the phase budget, so the command can never
 * outlive the phase; output goes to CloudWatch Logs.
 */
import { SSMClient, SendCommandCommand } from '@aws-sdk/client-ssm';
import { EC2Client } from '@aws-sdk/client-ec2';
import { workloadLogEnvSchema, type WorkloadLogEnv } from '../contract/environment';
import { TransientApiError } from '../contract/errors';
import type { Job, PhaseTaskInputIn } from '../contract/job';
import { commandSent, commandTimeout, instanceUnreachable } from '../decisions/attempt';
import { classify } from '../decisions/classify';
import { phaseDeadline } from '../decisions/phase-clock';
import { workloadScript } from '../decisions/workload-script';
import { errorCode, isTransient, retryableOnTransient } from './aws/aws-errors';
import type { Ec2Send, SsmSend } from './aws/clients';
import { readInstanceStatus } from './aws/instances';
import { readEnv } from './runtime/environment';
import { logger } from './runtime/logger';
import { parsePhaseTask } from './runtime/task-input';

const ec2 = new EC2Client({ maxAttempts: 5 });
const ssm = new SSMClient({ maxAttempts: 5 });

export async function sendWorkload(clients: { ec2: Ec2Send; ssm: SsmSend }, env: WorkloadLogEnv, input: PhaseTaskInputIn<'ready'>): Promise<Job> {
  const { phase, run, execution, job } = input;
  const { instance } = job;
  const t = { nowMs: Date.now(), deadlineMs: phaseDeadline(execution, phase) };
  const timeout = commandTimeout(job, t);
  if ('failed' in timeout) return timeout.failed;
  const executionTimeoutSeconds = timeout.seconds;
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
  const env = readEnv(workloadLogEnvSchema);
  const input = parsePhaseTask(event, 'SendWorkload', ['ready']);
  return retryableOnTransient(() => sendWorkload({ ec2, ssm }, env, input));
}
