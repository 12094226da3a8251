/**
 * PollWorkload: one look at a running attempt (fire-and-poll, seed 000). Reads the command
 * invocation, the instance and its spot request, and answers running (with the last output
 * line), succeeded, or failed with a classification. A spot interruption is acted on at the
 * first poll that sees it, even while SSM still says InProgress. A poll that cannot read status
 * (throttling, service errors) leaves the job running; the phase deadline still bounds it.
 */
import { CancelCommandCommand, GetCommandInvocationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { EC2Client } from '@aws-sdk/client-ec2';
import { classify, type AttemptSignals } from './shared/classify';
import { errorCode, isTransient, retryableOnTransient } from './shared/aws-errors';
import { readEnv, sendEnvSchema, type SendEnv } from './shared/environment';
import { readInstanceStatus } from './shared/instance-status';
import { phaseTaskInputSchema, type Failure, type Job, type PhaseTaskInput } from './shared/job';
import { logger } from './shared/logger';
import { nextWait, phaseDeadline } from './shared/phase-clock';
import type { Ec2Send, LogsSend, SsmSend } from './shared/sends';
import { lastLine } from './shared/shell';
import { parseTaskInput } from './shared/task-input';
import { readOutputTail } from './shared/workload-output';

const ec2 = new EC2Client({ maxAttempts: 5 });
const ssm = new SSMClient({ maxAttempts: 5 });
const logs = new CloudWatchLogsClient({ maxAttempts: 5 });

export interface PollClients {
  readonly ec2: Ec2Send;
  readonly ssm: SsmSend;
  readonly logs: LogsSend;
}

interface Invocation {
  readonly status?: string;
  readonly responseCode?: number;
  readonly stdout?: string;
}

async function readInvocation(client: SsmSend, commandId: string, instanceId: string): Promise<Invocation> {
  try {
    const out = await client.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }));
    return { status: out.Status, responseCode: out.ResponseCode, stdout: out.StandardOutputContent };
  } catch (err) {
    // Right after SendCommand the invocation may not exist yet: still pending.
    if (errorCode(err) === 'InvocationDoesNotExist') return { status: 'Pending' };
    throw err;
  }
}

async function cancel(client: SsmSend, commandId: string, instanceId: string): Promise<void> {
  try {
    await client.send(new CancelCommandCommand({ CommandId: commandId, InstanceIds: [instanceId] }));
  } catch (err) {
    logger.warn('could not cancel command; the instance is terminated next anyway', { commandId, error: errorCode(err) });
  }
}

export async function pollAttempt(clients: PollClients, env: SendEnv, input: PhaseTaskInput): Promise<Job> {
  const { phase, execution, job } = input;
  const { instance, command } = job;
  if (!instance || !command) return { ...job, status: 'failed', failure: { kind: 'interruption', reason: 'no command to poll' } };
  const now = Date.now();
  const deadline = phaseDeadline(execution, phase);

  let signals: AttemptSignals;
  let invocation: Invocation;
  let tail: Awaited<ReturnType<typeof readOutputTail>>;
  try {
    invocation = await readInvocation(clients.ssm, command.id, instance.id);
    const status = await readInstanceStatus(clients.ec2, instance.id, instance.spotRequestId, instance.launchedAt);
    tail = await readOutputTail(clients.logs, env.WORKLOAD_LOG_GROUP, command.id, instance.id);
    signals = { ...status, commandStatus: invocation.status, responseCode: invocation.responseCode };
  } catch (err) {
    if (!isTransient(err)) throw err;
    logger.warn('could not read status this poll; the job keeps running', { error: errorCode(err), pollErrors: job.pollErrors + 1 });
    if (now >= deadline) {
      return { ...job, status: 'failed', failure: { kind: 'budget', reason: 'phase budget spent (status unreadable at the deadline)' } };
    }
    return { ...job, pollErrors: job.pollErrors + 1, nextWaitSeconds: nextWait(phase.pollIntervalSeconds, deadline, now) };
  }

  const output = tail?.line || lastLine(invocation.stdout) || command.lastOutput;
  const printedAt = tail ? Math.max(tail.printedAtMs, Date.parse(command.sentAt)) : Date.parse(command.lastOutputAt);
  const grew = tail !== undefined && tail.printedAtMs > Date.parse(command.lastOutputAt);
  const seen = {
    ...command,
    lastOutput: output,
    lastOutputAt: grew ? new Date(printedAt).toISOString() : command.lastOutputAt,
  };

  const verdict = classify(signals);
  const fail = (failure: Failure): Job => ({ ...job, command: seen, pollErrors: 0, status: 'failed', failure });
  if (verdict.state === 'succeeded') {
    logger.info('command succeeded', { phase: phase.name, attempt: job.attempt, lastOutput: output });
    return { ...job, command: seen, pollErrors: 0, status: 'succeeded' };
  }
  if (verdict.state === 'failed') {
    logger.warn('attempt failed', { phase: phase.name, attempt: job.attempt, ...signals, kind: verdict.kind, reason: verdict.reason });
    if (verdict.kind === 'interruption' && invocation.status && ['Pending', 'InProgress', 'Delayed'].includes(invocation.status)) {
      await cancel(clients.ssm, command.id, instance.id);
    }
    return fail({
      kind: verdict.kind,
      reason: verdict.reason,
      exitCode: invocation.responseCode !== undefined && invocation.responseCode >= 0 ? invocation.responseCode : undefined,
      lastOutput: output,
    });
  }

  // Still running: the watchdogs.
  if (now >= deadline) {
    await cancel(clients.ssm, command.id, instance.id);
    return fail({ kind: 'budget', reason: `still running at the phase deadline (budgetSeconds ${phase.budgetSeconds})`, lastOutput: output });
  }
  const silentSeconds = (now - Date.parse(seen.lastOutputAt)) / 1000;
  if (silentSeconds >= phase.silenceTimeoutSeconds) {
    await cancel(clients.ssm, command.id, instance.id);
    return fail({
      kind: 'hung',
      reason: `no output for ${Math.round(silentSeconds)} s (silenceTimeoutSeconds ${phase.silenceTimeoutSeconds})`,
      lastOutput: output,
    });
  }
  logger.info('command running', { phase: phase.name, attempt: job.attempt, lastOutput: output });
  return { ...job, command: seen, status: 'running', pollErrors: 0, nextWaitSeconds: nextWait(phase.pollIntervalSeconds, deadline, now) };
}

export async function handler(event: unknown): Promise<Job> {
  const env = readEnv(sendEnvSchema);
  const input = parseTaskInput(phaseTaskInputSchema, event, 'PollWorkload');
  return retryableOnTransient(() => pollAttempt({ ec2, ssm, logs }, env, input));
}
