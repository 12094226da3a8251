/**
 * HandleFailure: an attempt ended badly. Terminate its instance, then decide. A confirmed spot
 * interruption relaunches (after one SpotInterruptionRetry datum) while the phase budget still
 * holds a whole attempt; anything else, or an interruption with no budget left, fails loud.
 */
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { mayRelaunch } from '../lib/config/budget';
import type { FailureKind } from './shared/classify';
import { failureEnvSchema, readEnv, type FailureEnv } from './shared/environment';
import { terminateExecutionInstances } from './shared/instance-status';
import { phaseTaskInputSchema, poolLabel, type AttemptRecord, type Failure, type Job, type PhaseTaskInput } from './shared/job';
import { retryableOnTransient } from './shared/aws-errors';
import { logger } from './shared/logger';
import { isoNow, phaseDeadline } from './shared/phase-clock';
import { cursorAfter } from './shared/pools';
import type { CloudWatchSend, Ec2Send } from './shared/sends';
import { parseTaskInput } from './shared/task-input';

const ec2 = new EC2Client({ maxAttempts: 5 });
const cloudwatch = new CloudWatchClient({ maxAttempts: 5 });

export const SPOT_INTERRUPTION_METRIC = 'SpotInterruptionRetry';

/** The error each kind of failure ends the phase with. */
export const PHASE_ERRORS: Record<FailureKind, string> = {
  interruption: 'SpotRetryBudgetExhausted',
  'workload-error': 'WorkloadFailed',
  hung: 'WorkloadHung',
  budget: 'PhaseBudgetExceeded',
  'boot-timeout': 'InstanceBootTimeout',
};

/** How the report and the history name an attempt's end. */
export function outcomeOf(failure: Failure): string {
  switch (failure.kind) {
    case 'interruption':
      return failure.reason === 'capacity-exhausted' ? 'capacity-exhausted' : 'interrupted';
    case 'budget':
      return 'timed-out';
    case 'hung':
      return 'hung';
    default:
      return 'failed';
  }
}

export function describeFailure(phase: string, attempt: number, failure: Failure): string {
  const parts = [`phase ${phase} attempt ${attempt}: ${failure.reason}`];
  if (failure.exitCode !== undefined && !failure.reason.includes(`exit code ${failure.exitCode}`)) parts.push(`exit code ${failure.exitCode}`);
  if (failure.lastOutput) parts.push(`last output: ${JSON.stringify(failure.lastOutput)}`);
  return parts.join('; ');
}

export async function handleFailure(clients: { ec2: Ec2Send; cloudwatch: CloudWatchSend }, env: FailureEnv, input: PhaseTaskInput): Promise<Job> {
  const { phase, execution, job } = input;
  const failure: Failure = job.failure ?? { kind: 'workload-error', reason: 'attempt ended without a classification' };
  const now = Date.now();

  // 1. The attempt's instance goes, whatever comes next.
  const terminated = await terminateExecutionInstances(clients.ec2, execution.id, { instanceId: job.instance?.id, attempt: job.attempt });

  const record: AttemptRecord = {
    attempt: job.attempt,
    instanceId: job.instance?.id ?? null,
    pool: job.instance ? poolLabel(job.instance) : null,
    outcome: outcomeOf(failure),
    reason: failure.reason,
    startedAt: job.attemptStartedAt ?? isoNow(),
    endedAt: new Date(now).toISOString(),
  };
  const history = [...job.history, record];
  logger.info('attempt ended', { phase: phase.name, ...record, terminated });

  // 2. Relaunch, or fail loud.
  if (failure.kind === 'interruption') {
    const answer = mayRelaunch({ phase, nowMs: now, deadlineMs: phaseDeadline(execution, phase), attempt: job.attempt });
    if (answer.relaunch) {
      await clients.cloudwatch.send(
        new PutMetricDataCommand({
          Namespace: env.METRIC_NAMESPACE,
          MetricData: [
            {
              MetricName: SPOT_INTERRUPTION_METRIC,
              Value: 1,
              Unit: 'Count',
              Timestamp: new Date(now),
              Dimensions: [
                { Name: 'Phase', Value: phase.name },
                { Name: 'Reason', Value: failure.reason },
              ],
            },
          ],
        }),
      );
      const pools = phase.instanceTypes.length * phase.subnetIds.length;
      logger.warn('spot interruption: relaunching', { phase: phase.name, attempt: job.attempt, reason: failure.reason, backoffSeconds: answer.backoffSeconds });
      return {
        attempt: job.attempt + 1,
        poolCursor: cursorAfter(job.instance?.poolIndex ?? job.poolCursor, pools),
        history,
        status: 'launching',
        nextWaitSeconds: answer.backoffSeconds,
        pollErrors: 0,
        verdict: { action: 'relaunch' },
      };
    }
    const reasons = history.filter((h) => h.outcome === 'interrupted' || h.outcome === 'capacity-exhausted').map((h) => h.reason);
    // The SpotRetryBudgetExhausted alarm counts this line (a metric filter on this function's logs).
    logger.error(`${PHASE_ERRORS.interruption}: phase ${phase.name} gives up after ${history.length} attempt(s)`, { phase: phase.name, reasons, why: answer.why });
    return {
      ...job,
      history,
      status: 'failed',
      failure,
      verdict: {
        action: 'fail',
        error: PHASE_ERRORS.interruption,
        cause: `phase ${phase.name}: ${history.length} attempt(s), interrupted by ${reasons.join(', ')}; no relaunch: ${answer.why}`,
      },
    };
  }
  return {
    ...job,
    history,
    status: 'failed',
    failure,
    verdict: { action: 'fail', error: PHASE_ERRORS[failure.kind], cause: describeFailure(phase.name, job.attempt, failure) },
  };
}

export async function handler(event: unknown): Promise<Job> {
  const env = readEnv(failureEnvSchema);
  const input = parseTaskInput(phaseTaskInputSchema, event, 'HandleFailure');
  return retryableOnTransient(() => handleFailure({ ec2, cloudwatch }, env, input));
}
