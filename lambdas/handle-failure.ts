/**
 * HandleFailure: an attempt ended badly. Terminate its instance, then apply the decision
 * (decisions/relaunch.ts): a confirmed spot interruption relaunches while the phase budget still
 * holds a whole attempt; anything else, or an interruption with no budget left, fails loud. It
 * puts no metric datum: the state machine counts a relaunch on its way to the launch, so a
 * retried HandleFailure (its response lost) cannot count one twice.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import type { Job, PhaseTaskInputIn } from '../contract/job';
import { PHASE_ERRORS } from '../contract/outcomes';
import { cleanupCallsUntil, mayRetryTask, phaseDeadline } from '../decisions/phase-clock';
import { decideAfterFailure } from '../decisions/relaunch';
import { retryableOnTransient } from './aws/aws-errors';
import { CLIENT_CONFIG, withCallsUntil, type Ec2Send } from './aws/clients';
import { terminateOrLeaveToSafetyNet } from './aws/instances';
import { logger } from './runtime/logger';
import { parsePhaseTask } from './runtime/task-input';

const ec2 = new EC2Client(CLIENT_CONFIG);

export async function handleFailure(clients: { ec2: Ec2Send }, input: PhaseTaskInputIn<'failed'>): Promise<Job> {
  const { phase, execution, job } = input;
  const now = Date.now();
  const deadlineMs = phaseDeadline(execution, phase);

  // 1. The attempt's instance goes, whatever comes next.
  const { terminated } = await terminateOrLeaveToSafetyNet(clients.ec2, execution.id, { instanceId: job.instance?.id, attempt: job.attempt }, mayRetryTask(now, deadlineMs));

  // 2. Relaunch, or fail loud.
  const answer = decideAfterFailure({ phase, job, nowMs: now, deadlineMs });
  logger.info('attempt ended', { phase: phase.name, ...answer.record, terminated });
  if (answer.relaunch) {
    logger.warn('spot interruption: relaunching', { phase: phase.name, attempt: job.attempt, reasonCode: answer.reasonCode, backoffSeconds: answer.next.nextWaitSeconds });
  } else if (answer.exhausted) {
    logger.error(`${PHASE_ERRORS.interruption}: phase ${phase.name} gives up after ${answer.next.history.length} attempt(s)`, { phase: phase.name, why: answer.why });
  }
  return answer.next;
}

export async function handler(event: unknown): Promise<Job> {
  const input = parsePhaseTask(event, 'HandleFailure', ['failed']);
  return withCallsUntil({ ec2 }, cleanupCallsUntil(input.execution, input.phase), (c) => retryableOnTransient(() => handleFailure(c, input)));
}
