/**
 * AwaitAgent: is the instance's SSM agent online yet? Bounded by the phase's boot timeout; an
 * instance that disappears while booting is classified like any other attempt
 * (decisions/attempt.ts, afterAgentCheck).
 */
import { DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { EC2Client } from '@aws-sdk/client-ec2';
import type { Job, PhaseTaskInputIn } from '../contract/job';
import { afterAgentCheck, type AgentLook } from '../decisions/attempt';
import { classify } from '../decisions/classify';
import { phaseDeadline, readCallsUntil } from '../decisions/phase-clock';
import { isTransient, retryableOnTransient } from './aws/aws-errors';
import { CLIENT_CONFIG, withCallsUntil, type Ec2Send, type SsmSend } from './aws/clients';
import { readInstanceStatus } from './aws/instances';
import { logger } from './runtime/logger';
import { parsePhaseTask } from './runtime/task-input';

const ec2 = new EC2Client(CLIENT_CONFIG);
const ssm = new SSMClient(CLIENT_CONFIG);

async function lookAtAgent(clients: { ec2: Ec2Send; ssm: SsmSend }, instance: PhaseTaskInputIn<'booting'>['job']['instance']): Promise<AgentLook> {
  try {
    const info = await clients.ssm.send(new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [instance.id] }] }));
    if (info.InstanceInformationList?.[0]?.PingStatus === 'Online') return { online: true };
    return { online: false, instance: classify(await readInstanceStatus(clients.ec2, instance.id, instance.spotRequestId, instance.launchedAt)) };
  } catch (err) {
    if (!isTransient(err)) throw err;
    logger.warn('could not read boot status, will look again', { error: (err as Error).name });
    return { unreadable: true };
  }
}

export async function checkAgent(clients: { ec2: Ec2Send; ssm: SsmSend }, input: PhaseTaskInputIn<'booting'>): Promise<Job> {
  const { phase, execution, job } = input;
  const t = { nowMs: Date.now(), deadlineMs: phaseDeadline(execution, phase) };
  // At the deadline nothing the agent or EC2 could say changes the verdict: read nothing, so what
  // runs after the deadline stays inside the cleanup margin (contract/budget.ts).
  const look: AgentLook = t.nowMs >= t.deadlineMs ? { online: false, instance: { state: 'running' } } : await lookAtAgent(clients, job.instance);
  const next = afterAgentCheck(phase, job, look, t);
  if (next.status === 'ready') logger.info('ssm agent online', { phase: phase.name, attempt: job.attempt, instanceId: job.instance.id });
  if (next.status === 'failed') logger.warn('attempt failed while booting', { phase: phase.name, attempt: job.attempt, instanceId: job.instance.id, ...next.failure });
  return next;
}

export async function handler(event: unknown): Promise<Job> {
  const input = parsePhaseTask(event, 'CheckAgent', ['booting']);
  const untilMs = readCallsUntil(input.execution, input.phase);
  return withCallsUntil({ ec2, ssm }, untilMs, (c) => retryableOnTransient(() => checkAgent(c, input)));
}
