/**
 * AwaitAgent: is the instance's SSM agent online yet? Bounded by the phase's boot timeout; an
 * instance that disappears while booting is classified like any other attempt
 * (decisions/attempt.ts, afterAgentCheck). After a relaunch on spot's notice, the workload waits
 * until the noticed instance is gone (its runner saved the checkpoint) or its save window has passed;
 * one still there then is terminated.
 */
import { DescribeInstanceInformationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { EC2Client } from '@aws-sdk/client-ec2';
import type { Job, PhaseTaskInputIn } from '../contract/job';
import { afterAgentCheck, awaitingPredecessor, type AgentLook } from '../decisions/attempt';
import { classify } from '../decisions/classify';
import { phaseDeadline, readCallsUntil } from '../decisions/phase-clock';
import { isTransient, retryableOnTransient } from './aws/aws-errors';
import { CLIENT_CONFIG, withCallsUntil, type Ec2Send, type SsmSend } from './aws/clients';
import { readInstanceStatus, terminate } from './aws/instances';
import { logger } from './runtime/logger';
import { parsePhaseTask } from './runtime/task-input';

const ec2 = new EC2Client(CLIENT_CONFIG);
const ssm = new SSMClient(CLIENT_CONFIG);

/**
 * How long one check may wait for the agent itself, looking every AGENT_LOOK_SECONDS (adaptive
 * polling: a boot costs one or two state transitions instead of one loop of three every
 * agentCheckSeconds). The function's timeout and the task's are sized for it (lib/spot-pipeline-stack.ts,
 * state-machines/spot-phase.ts), and it never waits past the phase deadline.
 */
export const AGENT_WAIT_IN_TASK_SECONDS = 100;
export const AGENT_LOOK_SECONDS = 5;

async function agentOnline(ssm: SsmSend, instanceId: string): Promise<boolean> {
  const info = await ssm.send(new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [instanceId] }] }));
  return info.InstanceInformationList?.[0]?.PingStatus === 'Online';
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function lookAtAgent(clients: { ec2: Ec2Send; ssm: SsmSend }, instance: PhaseTaskInputIn<'booting'>['job']['instance'], waitUntilMs: number, ec2EveryMs: number): Promise<AgentLook> {
  const status = async () => classify(await readInstanceStatus(clients.ec2, instance.id, instance.spotRequestId, instance.launchedAt));
  try {
    // The agent every AGENT_LOOK_SECONDS while this check may wait, and what EC2 says of the instance
    // every agentCheckSeconds (spot may reclaim it while it boots): a failed instance ends the check.
    let ec2LookedAt = Date.now();
    while (!(await agentOnline(clients.ssm, instance.id))) {
      if (Date.now() + AGENT_LOOK_SECONDS * 1000 > waitUntilMs) return { online: false, instance: await status() };
      if (Date.now() - ec2LookedAt >= ec2EveryMs) {
        ec2LookedAt = Date.now();
        const seen = await status();
        if (seen.state === 'failed') return { online: false, instance: seen };
      }
      await pause(AGENT_LOOK_SECONDS * 1000);
    }
    // Online: the workload goes to it only if spot has not given its notice meanwhile.
    const seen = await status();
    return seen.state === 'failed' ? { online: false, instance: seen } : { online: true };
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
  // Waits for the agent no longer than the boot timeout and the deadline allow.
  const waitUntilMs = Math.min(t.nowMs + AGENT_WAIT_IN_TASK_SECONDS * 1000, t.deadlineMs, Date.parse(job.instance.launchedAt) + phase.bootTimeoutSeconds * 1000);
  let look: AgentLook = t.nowMs >= t.deadlineMs ? { online: false, instance: { state: 'running' } } : await lookAtAgent(clients, job.instance, waitUntilMs, phase.agentCheckSeconds * 1000);
  t.nowMs = Date.now();
  if ('online' in look && look.online && job.predecessor) {
    const { instanceState } = await readInstanceStatus(clients.ec2, job.predecessor.instanceId);
    look = { online: true, predecessorGone: instanceState === 'terminated' || instanceState === 'shutting-down' };
    if (!awaitingPredecessor(job, look, t) && !look.predecessorGone) {
      logger.warn('the instance spot noticed is still there past its save window: terminating it', { phase: phase.name, instanceId: job.predecessor.instanceId });
      await terminate(clients.ec2, [job.predecessor.instanceId]);
    }
  }
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
