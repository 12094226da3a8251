/**
 * Budget arithmetic for one phase: what makes a phase's budget settings valid (the config schema
 * enforces it at synth) and when its work must be over. Pure. The run-time relaunch decision
 * built on it is decisions/relaunch.ts. Replaces the seed's "bump MAX_SPOT_ATTEMPTS and
 * executionTimeout in lockstep".
 */

/** The budget-related settings of a phase, all in seconds. */
export interface PhaseBudget {
  readonly budgetSeconds: number;
  readonly attemptSeconds: number;
  readonly relaunchBackoffSeconds: number;
  readonly maxAttempts?: number;
}

/** A Retry policy as the state machine states it (seconds). */
export interface RetryPolicy {
  readonly intervalSeconds: number;
  readonly backoffRate: number;
  readonly maxDelaySeconds: number;
  readonly maxAttempts: number;
}

/** The longest all the waits of a Retry policy can add up to (full jitter only shortens them). */
export function retryWorstWaitSeconds(r: RetryPolicy): number {
  let seconds = 0;
  for (let i = 0; i < r.maxAttempts; i++) seconds += Math.min(r.maxDelaySeconds, r.intervalSeconds * r.backoffRate ** i);
  return seconds;
}

/** An allowance for one call Step Functions or a Lambda makes to an AWS service, answer included. */
export const SERVICE_CALL_SECONDS = 1;

/**
 * CountRelaunch: the state machine's own PutMetricData on the way to a relaunch. Retried long
 * enough to ride out CloudWatch throttling (15 tries); its worst case is reserved before every
 * relaunch (mayRelaunch, affordableAttempts), so a relaunch still has attemptSeconds after it.
 */
export const COUNT_RELAUNCH_RETRY: RetryPolicy = { intervalSeconds: 1, backoffRate: 2, maxDelaySeconds: 8, maxAttempts: 14 };
export const COUNT_RELAUNCH_WORST_SECONDS = retryWorstWaitSeconds(COUNT_RELAUNCH_RETRY) + (COUNT_RELAUNCH_RETRY.maxAttempts + 1) * SERVICE_CALL_SECONDS;

/**
 * CountExhausted: the SpotRetryBudgetExhausted datum, which may come after the deadline: three
 * quick tries, so it fits END_RESERVE_SECONDS; under heavier throttling the datum is dropped
 * (the pipeline-failed alarm still fires) rather than let the phase outlive its budget.
 */
export const COUNT_EXHAUSTED_RETRY: RetryPolicy = { intervalSeconds: 1, backoffRate: 2, maxDelaySeconds: 2, maxAttempts: 2 };
export const COUNT_EXHAUSTED_WORST_SECONDS = retryWorstWaitSeconds(COUNT_EXHAUSTED_RETRY) + (COUNT_EXHAUSTED_RETRY.maxAttempts + 1) * SERVICE_CALL_SECONDS;

/**
 * The attempts a phase can afford in the worst case: every attempt but the last is interrupted
 * just before it finishes, each relaunch waits its backoff and CountRelaunch's worst case, and the
 * cleanup margin stays free.
 */
export function affordableAttempts(phase: PhaseBudget, cleanupMarginSeconds: number): number {
  const usable = phase.budgetSeconds - cleanupMarginSeconds;
  if (usable < phase.attemptSeconds) return 0;
  const perRelaunch = relaunchGapSeconds(phase);
  return Math.floor((usable + perRelaunch) / (phase.attemptSeconds + perRelaunch));
}

/** What a relaunch may take before its launch in the worst case: the backoff, then CountRelaunch's retries. */
export function relaunchGapSeconds(phase: Pick<PhaseBudget, 'relaunchBackoffSeconds'>): number {
  return phase.relaunchBackoffSeconds + COUNT_RELAUNCH_WORST_SECONDS;
}

/** Why a phase's budget settings cannot work, or undefined when they can. */
export function budgetProblem(phase: PhaseBudget, cleanupMarginSeconds: number): string | undefined {
  if (phase.attemptSeconds > phase.budgetSeconds) {
    return `attemptSeconds ${phase.attemptSeconds} exceeds budgetSeconds ${phase.budgetSeconds}`;
  }
  const affordable = affordableAttempts(phase, cleanupMarginSeconds);
  if (affordable < 1) {
    return (
      `budgetSeconds ${phase.budgetSeconds} cannot hold one attempt of attemptSeconds ${phase.attemptSeconds} ` +
      `plus the cleanup margin of ${cleanupMarginSeconds} s`
    );
  }
  if (phase.maxAttempts !== undefined && phase.maxAttempts > affordable) {
    return (
      `maxAttempts ${phase.maxAttempts} cannot fit: budgetSeconds ${phase.budgetSeconds} holds at most ` +
      `${affordable} attempt(s) of attemptSeconds ${phase.attemptSeconds} ` +
      `(with ${phase.relaunchBackoffSeconds} s relaunch backoff, up to ${COUNT_RELAUNCH_WORST_SECONDS} s to count the relaunch, and ${cleanupMarginSeconds} s cleanup margin)`
    );
  }
  return undefined;
}

/** The moment (epoch ms) by which the phase's workload must be over, leaving the cleanup margin. */
export function workDeadline(startedAtMs: number, budgetSeconds: number, cleanupMarginSeconds: number): number {
  return startedAtMs + (budgetSeconds - cleanupMarginSeconds) * 1000;
}

/**
 * What runs after a phase's deadline, and how it stays inside the cleanup margin whatever AWS
 * answers. Every phase task's AWS calls are cut off at a fixed moment (an abort signal; the SDK
 * stops its retries there): the tasks that read and launch (LaunchInstance, CheckAgent,
 * SendWorkload, PollWorkload) READ_OVERRUN_SECONDS after the deadline, the tasks that clean up
 * (HandleFailure, FinishPhase, CleanupPhase) END_RESERVE_SECONDS before the hard end
 * (budgetSeconds). No task past the deadline asks the state machine for a retry
 * (decisions/phase-clock.ts, mayRetryTask); what a cleanup task could not terminate by then is the
 * safety net's. The reserve holds CountExhausted and the last transitions. The pipeline's task
 * for the phase times out at budgetSeconds: the hard wall, even under Lambda service faults.
 */
export const READ_OVERRUN_SECONDS = 10;
export const END_RESERVE_SECONDS = 15;
/** What a cleanup task needs at least between the two (DescribeInstances and TerminateInstances, each with a throttled try or two). */
export const MIN_CLEANUP_WINDOW_SECONDS = 20;
