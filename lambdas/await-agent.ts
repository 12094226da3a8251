/**
 * AwaitAgent: is the instance's SSM agent online yet? Bounded by the phase's boot timeout; an
 * instance that disappears while booting is classified like any other attempt.
 */
import { DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { EC2Client } from '@aws-sdk/client-ec2';
import { classify } from './shared/classify';
import { isTransient, retryableOnTransient } from './shared/aws-errors';
import { readInstanceStatus } from './shared/instance-status';
import { phaseTaskInputSchema, type Job, type PhaseTaskInput } from './shared/job';
import { logger } from './shared/logger';
import { AGENT_CHECK_SECONDS, nextWait, phaseDeadline } from './shared/phase-clock';
import type { Ec2Send, SsmSend } from './shared/sends';
import { parseTaskInput } from './shared/task-input';

const ec2 = new EC2Client({ maxAttempts: 5 });
const ssm = new SSMClient({ maxAttempts: 5 });

export async function checkAgent(clients: { ec2: Ec2Send; ssm: SsmSend }, input: PhaseTaskInput): Promise<Job> {
  const { phase, execution, job } = input;
  const instance = job.instance;
  if (!instance) return { ...job, status: 'failed', failure: { kind: 'interruption', reason: 'no instance to wait for' } };
  const now = Date.now();
  const deadline = phaseDeadline(execution, phase);
  try {
    const info = await clients.ssm.send(
      new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [instance.id] }] }),
    );
    if (info.InstanceInformationList?.[0]?.PingStatus === 'Online') {
      logger.info('ssm agent online', { phase: phase.name, attempt: job.attempt, instanceId: instance.id });
      return { ...job, status: 'ready', nextWaitSeconds: 0, pollErrors: 0 };
    }
    const status = await readInstanceStatus(clients.ec2, instance.id, instance.spotRequestId, instance.launchedAt);
    const verdict = classify(status);
    if (verdict.state === 'failed') {
      logger.warn('instance lost while booting', { phase: phase.name, attempt: job.attempt, instanceId: instance.id, ...status });
      return { ...job, status: 'failed', failure: { kind: verdict.kind, reason: verdict.reason } };
    }
  } catch (err) {
    if (!isTransient(err)) throw err;
    logger.warn('could not read boot status, will look again', { error: (err as Error).name, pollErrors: job.pollErrors + 1 });
    if (now >= deadline) {
      return { ...job, status: 'failed', failure: { kind: 'budget', reason: 'phase budget spent while the instance booted (status unreadable)' } };
    }
    return { ...job, pollErrors: job.pollErrors + 1, nextWaitSeconds: nextWait(AGENT_CHECK_SECONDS, deadline, now) };
  }
  if (now >= deadline) {
    return { ...job, status: 'failed', failure: { kind: 'budget', reason: 'phase budget spent while the instance booted' } };
  }
  const bootedFor = (now - Date.parse(instance.launchedAt)) / 1000;
  if (bootedFor >= phase.bootTimeoutSeconds) {
    return {
      ...job,
      status: 'failed',
      failure: { kind: 'boot-timeout', reason: `SSM agent not online ${Math.round(bootedFor)} s after launch (bootTimeoutSeconds ${phase.bootTimeoutSeconds})` },
    };
  }
  return { ...job, status: 'booting', pollErrors: 0, nextWaitSeconds: nextWait(AGENT_CHECK_SECONDS, deadline, now) };
}

export async function handler(event: unknown): Promise<Job> {
  const input = parseTaskInput(phaseTaskInputSchema, event, 'AwaitAgent');
  return retryableOnTransient(() => checkAgent({ ec2, ssm }, input));
}
