/**
 * PollWorkload: one look at a running attempt (fire-and-poll, seed 000). Reads the command
 * invocation, the instance and its spot request, and the workload's latest output, then applies
 * the decision (decisions/attempt.ts, afterPoll): running, succeeded, or failed with a
 * classification, cancelling the command when the pipeline stops it. A spot interruption is
 * acted on at the first poll that sees it, even while SSM still says InProgress. A poll that
 * cannot read status (throttling, service errors) leaves the job running; the phase deadline
 * still bounds it.
 */
import { CancelCommandCommand, GetCommandInvocationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { EC2Client } from '@aws-sdk/client-ec2';
import { workloadLogEnvSchema, type WorkloadLogEnv } from '../contract/environment';
import type { Job, PhaseTaskInputIn } from '../contract/job';
import { afterPoll, type PollLook } from '../decisions/attempt';
import { classify } from '../decisions/classify';
import { phaseDeadline, readCallsUntil } from '../decisions/phase-clock';
import { mayRelaunchAtOnce } from '../decisions/relaunch';
import { lastLine } from '../decisions/workload-script';
import { errorCode, isTransient, retryableOnTransient } from './aws/aws-errors';
import { CLIENT_CONFIG, withCallsUntil, type Ec2Send, type LogsSend, type SsmSend } from './aws/clients';
import { readInstanceStatus } from './aws/instances';
import { readOutputTail } from './aws/workload-logs';
import { readEnv } from './runtime/environment';
import { logger } from './runtime/logger';
import { parsePhaseTask } from './runtime/task-input';

const ec2 = new EC2Client(CLIENT_CONFIG);
const ssm = new SSMClient(CLIENT_CONFIG);
const logs = new CloudWatchLogsClient(CLIENT_CONFIG);

/**
 * The agent starts the command a moment after SendCommand, so its timeout comes at or after
 * sentAt + executionTimeout: an end before that (less a second of clock skew) is not the timeout.
 */
const TIMEOUT_TOLERANCE_MS = 1_000;

export interface PollClients {
  readonly ec2: Ec2Send;
  readonly ssm: SsmSend;
  readonly logs: LogsSend;
}

interface Invocation {
  readonly status?: string;
  readonly statusDetails?: string;
  readonly responseCode?: number;
  readonly stdout?: string;
  readonly stderr?: string;
  /** When the command ended (ExecutionEndDateTime), if it did. */
  readonly endedAtMs?: number;
}

async function readInvocation(client: SsmSend, commandId: string, instanceId: string): Promise<Invocation> {
  try {
    const out = await client.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }));
    // ExecutionEndDateTime: ISO 8601, empty while the command has not ended (SSM API reference, GetCommandInvocation).
    const endedAtMs = out.ExecutionEndDateTime ? Date.parse(out.ExecutionEndDateTime) : undefined;
    return {
      status: out.Status,
      statusDetails: out.StatusDetails,
      responseCode: out.ResponseCode,
      stdout: out.StandardOutputContent,
      stderr: out.StandardErrorContent,
      endedAtMs: Number.isFinite(endedAtMs) ? endedAtMs : undefined,
    };
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

/**
 * Everything one poll reads, or `unreadable` when AWS would not say this time. At the deadline it
 * reads the command's own status only (did it just finish?): whatever else it would read cannot
 * change the verdict, and each call it saves keeps what runs after the deadline inside the cleanup
 * margin (see contract/budget.ts, POST_DEADLINE_WORST_CASE_SECONDS).
 */
async function look(clients: PollClients, env: WorkloadLogEnv, job: PhaseTaskInputIn<'running'>['job'], atDeadline: boolean, silenceTimeoutSeconds: number): Promise<PollLook> {
  const { instance, command } = job;
  try {
    const invocation = await readInvocation(clients.ssm, command.id, instance.id);
    const status = atDeadline ? {} : await readInstanceStatus(clients.ec2, instance.id, instance.spotRequestId, instance.launchedAt);
    const freshAfterMs = Math.max(Date.parse(command.lastOutputAt), Date.now() - silenceTimeoutSeconds * 1000);
    const tail = atDeadline ? undefined : await readOutputTail(clients.logs, env.WORKLOAD_LOG_GROUP, command.id, instance.id, freshAfterMs);
    const timeoutAtMs = Date.parse(command.sentAt) + command.executionTimeoutSeconds * 1000;
    return {
      signals: classify({
        ...status,
        commandStatus: invocation.status,
        statusDetails: invocation.statusDetails,
        responseCode: invocation.responseCode,
        // Without an end time, now bounds it: a command that already ended before its timeout could come ended early.
        endedBeforeTimeout: (invocation.endedAtMs ?? Date.now()) < timeoutAtMs - TIMEOUT_TOLERANCE_MS,
        instanceLooked: !atDeadline,
      }),
      commandStatus: invocation.status,
      responseCode: invocation.responseCode,
      tail,
      invocationLastLine: lastLine(invocation.stdout) || lastLine(invocation.stderr),
      instanceState: 'instanceState' in status ? status.instanceState : undefined,
      ...(invocation.endedAtMs === undefined ? {} : { commandEndedAtMs: invocation.endedAtMs }),
    };
  } catch (err) {
    if (!isTransient(err)) throw err;
    logger.warn('could not read status this poll; the job keeps running', { error: errorCode(err), pollErrors: job.pollErrors + 1 });
    return { unreadable: true };
  }
}

export async function pollAttempt(clients: PollClients, env: WorkloadLogEnv, input: PhaseTaskInputIn<'running'>): Promise<Job> {
  const { phase, execution, job } = input;
  const t = { nowMs: Date.now(), deadlineMs: phaseDeadline(execution, phase) };
  const decision = afterPoll(phase, job, await look(clients, env, job, t.nowMs >= t.deadlineMs, phase.silenceTimeoutSeconds), t, {
    relaunchAtOnce: mayRelaunchAtOnce({ phase, job, ...t }),
  });
  if (decision.cancel) await cancel(clients.ssm, job.command.id, job.instance.id);
  const next = decision.job;
  if (next.status === 'failed') logger.warn('attempt failed', { phase: phase.name, attempt: job.attempt, ...next.failure });
  else logger.info(next.status === 'succeeded' ? 'command succeeded' : 'command running', { phase: phase.name, attempt: job.attempt, lastOutput: next.command.lastOutput });
  return next;
}

export async function handler(event: unknown): Promise<Job> {
  const env = readEnv(workloadLogEnvSchema);
  const input = parsePhaseTask(event, 'PollWorkload', ['running']);
  const untilMs = readCallsUntil(input.execution, input.phase);
  return withCallsUntil({ ec2, ssm, logs }, untilMs, (c) => retryableOnTransient(() => pollAttempt(c, env, input)));
}
