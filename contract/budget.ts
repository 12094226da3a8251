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

/**
 * The attempts a phase can afford in the worst case: every attempt but the last is interrupted
 * just before it finishes, each relaunch waits its backoff, and the cleanup margin stays free.
 */
export function affordableAttempts(phase: PhaseBudget, cleanupMarginSeconds: number): number {
  const usable = phase.budgetSeconds - cleanupMarginSeconds;
  if (usable < phase.attemptSeconds) return 0;
  return Math.floor((usable + phase.relaunchBackoffSeconds) / (phase.attemptSeconds + phase.relaunchBackoffSeconds));
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
      `(with ${phase.relaunchBackoffSeconds} s relaunch backoff and ${cleanupMarginSeconds} s cleanup margin)`
    );
  }
  return undefined;
}

/** The moment (epoch ms) by which the phase's workload must be over, leaving the cleanup margin. */
export function workDeadline(startedAtMs: number, budgetSeconds: number, cleanupMarginSeconds: number): number {
  return startedAtMs + (budgetSeconds - cleanupMarginSeconds) * 1000;
}

/**
 * What runs after a phase's deadline, in the worst case, and how long it can take: it must fit
 * the cleanup margin (the config's minimum, 60 s), so a phase never outlives its budget.
 *
 * At the deadline a task reads nothing it does not need (PollWorkload: the command's status;
 * CheckAgent, LaunchInstance, SendWorkload: nothing), then HandleFailure (or FinishPhase)
 * describes and terminates. That is at most four SDK calls: GetCommandInvocation and
 * CancelCommand, then DescribeInstances and TerminateInstances. A task past its deadline never
 * asks the state machine for a retry (decisions/phase-clock.ts, mayRetryTask): what it cannot
 * terminate is the safety net's. Each call may be throttled: the SDK's standard retry mode
 * tries it SDK_MAX_ATTEMPTS times, waiting a random part of min(20 s, 0.5 s x 2^i) before try
 * i + 1 for a throttling error ("Retry behavior", AWS SDKs and Tools reference guide; the
 * clients' maxAttempts is 5).
 */
export const POST_DEADLINE_SDK_CALLS = 4;
export const SDK_MAX_ATTEMPTS = 5;
/** An allowance for one try of one call, answer included (a Lambda in the same region: tens of ms). */
export const SDK_TRY_SECONDS = 1;

/** The longest one SDK call can take when every try but the last is throttled. */
export function sdkCallWorstSeconds(maxAttempts = SDK_MAX_ATTEMPTS): number {
  let seconds = maxAttempts * SDK_TRY_SECONDS;
  for (let i = 0; i < maxAttempts - 1; i++) seconds += Math.min(20, 0.5 * 2 ** i);
  return seconds;
}

/** The longest the work after a phase's deadline can take. */
export const POST_DEADLINE_WORST_CASE_SECONDS = POST_DEADLINE_SDK_CALLS * sdkCallWorstSeconds();
