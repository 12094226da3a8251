/**
 * HandleFailure: an attempt ended badly. Terminate its instance, then apply the decision
 * (decisions/relaunch.ts): a confirmed spot interruption relaunches (after one
 * SpotInterruptionRetry datum) while the phase budget still holds a whole attempt; anything
 * else, or an interruption with no budget left, fails loud.
 */
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { failureEnvSchema, type FailureEnv } from '../contract/environment';
import type { Job, PhaseTaskInputIn } from '../contract/job';
import { METRICS, metricDatum } from '../contract/metrics';
import { PHASE_ERRORS } from '../contract/outcomes';
import { phaseDeadline } from '../decisions/phase-clock';
import { decideAfterFailure } from '../decisions/relaunch';
import { retryableOnTransient } from './aws/aws-errors';
import type { CloudWatchSend, Ec2Send } from './aws/clients';
import { terminateExecutionInstances } from './aws/instances';
import { readEnv } from './runtime/environment';
import { logger } from './runtime/logger';
import { parsePhaseTask } from './runtime/task-input';

const ec2 = new EC2Client({ maxAttempts: 5 });
const cloudwatch = new CloudWatchClient({ maxAttempts: 5 });

export async function handleFailure(clients: { ec2: Ec2Send; cloudwatch: CloudWatchSend }, env: FailureEnv, input: PhaseTaskInputIn<'failed'>): Promise<Job> {
  const { phase, execution, job } = input;
  const now = Date.now();

  // 1. The attempt's instance goes, whatever comes next.
  const terminated = await terminateExecutionInstances(clients.ec2, execution.id, { instanceId: job.instance?.id, attempt: job.attempt });

  // 2. Relaunch, or fail loud.
  const answer = decideAfterFailure({ phase, job, nowMs: now, deadlineMs: phaseDeadline(execution, phase) });
  logger.info('attempt ended', { phase: phase.name, ...answer.record, terminated });
  if (answer.relaunch) {
    const datum = metricDatum(METRICS.spotInterruptionRetry, { Phase: phase.name, Reason: answer.reasonCode }, 1, new Date(now));
    await clients.cloudwatch.send(new PutMetricDataCommand({ Namespace: env.METRIC_NAMESPACE, MetricData: [datum] }));
    logger.warn('spot interruption: relaunching', { phase: phase.name, attempt: job.attempt, reasonCode: answer.reasonCode, backoffSeconds: answer.next.nextWaitSeconds });
  } else if (answer.exhausted) {
    // The SpotRetryBudgetExhausted alarm reads this datum.
    const datum = metricDatum(METRICS.spotRetryBudgetExhausted, { Pipeline: phase.pipelineName }, 1, new Date(now));
    await clients.cloudwatch.send(new PutMetricDataCommand({ Namespace: env.METRIC_NAMESPACE, MetricData: [datum] }));
    logger.error(`${PHASE_ERRORS.interruption}: phase ${phase.name} gives up after ${answer.next.history.length} attempt(s)`, { phase: phase.name, why: answer.why });
  }
  return answer.next;
}

export async function handler(event: unknown): Promise<Job> {
  const env = readEnv(failureEnvSchema);
  const input = parsePhaseTask(event, 'HandleFailure', ['failed']);
  return retryableOnTransient(() => handleFailure({ ec2, cloudwatch }, env, input));
}
