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
