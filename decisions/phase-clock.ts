/** Time arithmetic of one SpotPhase execution, anchored on its start time. Pure. */
import { END_RESERVE_SECONDS, READ_OVERRUN_SECONDS, relaunchGapSeconds, workDeadline } from '../contract/budget';
import type { PhaseSpec } from '../contract/config';
import type { ExecutionRef } from '../contract/job';

/** Epoch ms by which the phase's work must be over (budget minus the cleanup margin). */
export function phaseDeadline(execution: ExecutionRef, phase: PhaseSpec): number {
  return workDeadline(Date.parse(execution.startTime), phase.budgetSeconds, phase.cleanupMarginSeconds);
}

export function secondsUntil(deadlineMs: number, nowMs: number): number {
  return Math.floor((deadlineMs - nowMs) / 1000);
}

/** The next Wait: the poll interval, clipped so a poll lands on the deadline, never past it. */
export function nextWait(intervalSeconds: number, deadlineMs: number, nowMs: number): number {
  return Math.max(1, Math.min(intervalSeconds, secondsUntil(deadlineMs, nowMs)));
}

/**
 * The longest a running workload is left without a poll when the wake relay is deployed: events
 * (spot's interruption warning, the command's end, the instance's end) cut the wait short, and this
 * bounds what a lost event can cost. 30 minutes keeps a clean run far below 30 state transitions per
 * workload-hour.
 */
export const EVENT_WAIT_MAX_SECONDS = 1800;

/** How the next wait of a running workload ends, and its length (see EVENT_WAIT_MAX_SECONDS). */
export interface WorkloadWait {
  readonly nextWaitSeconds: number;
  readonly wake?: 'event';
}

/**
 * The next wait of a running workload. Without the wake relay: the poll interval, clipped at the
 * deadline. With it: until the first moment a watchdog could trip (the deadline; the silence timeout
 * counted from the last output) or EVENT_WAIT_MAX_SECONDS, never shorter than the poll interval; a
 * wait of at least two poll intervals is a callback task that events may end sooner, a shorter one
 * (near the deadline or the silence timeout; `brief`, while spot's notice window runs) the timer.
 * So a callback wait, which records more history events than a Wait state, never loops faster than
 * every two poll intervals (contract/history.ts).
 */
export function workloadWait(
  phase: { readonly pollIntervalSeconds: number; readonly silenceTimeoutSeconds: number; readonly wakeOnEvents?: boolean; readonly attemptSeconds?: number; readonly relaunchBackoffSeconds?: number },
  lastOutputAtMs: number,
  t: { readonly nowMs: number; readonly deadlineMs: number },
  brief = false,
): WorkloadWait {
  if (!phase.wakeOnEvents || brief) return { nextWaitSeconds: nextWait(phase.pollIntervalSeconds, t.deadlineMs, t.nowMs) };
  const silenceDue = Math.ceil((lastOutputAtMs + phase.silenceTimeoutSeconds * 1000 - t.nowMs) / 1000);
  // Should the events be lost, an interruption found when the wait times out must still leave a whole
  // attempt and its relaunch gap: while one fits, the wait ends before the last moment it does.
  const fitsFor =
    phase.attemptSeconds === undefined || phase.relaunchBackoffSeconds === undefined
      ? Infinity
      : secondsUntil(t.deadlineMs, t.nowMs) - phase.attemptSeconds - relaunchGapSeconds({ relaunchBackoffSeconds: phase.relaunchBackoffSeconds });
  const until = fitsFor > 0 ? Math.min(silenceDue, fitsFor) : silenceDue;
  const seconds = nextWait(Math.max(phase.pollIntervalSeconds, Math.min(EVENT_WAIT_MAX_SECONDS, until)), t.deadlineMs, t.nowMs);
  return seconds >= 2 * phase.pollIntervalSeconds ? { nextWaitSeconds: seconds, wake: 'event' } : { nextWaitSeconds: seconds };
}

/**
 * The longest the state machine waits between two tries of a task (its Retry maxDelay). What the
 * cleanup margin must cover after the deadline is one such wait plus one task's own run (its SDK
 * calls with the SDK's retries: a few seconds each).
 */
export const TASK_RETRY_MAX_DELAY_SECONDS = 30;

/**
 * A task hit a transient AWS error (throttling that outlasted the SDK's own retries). May it
 * hand the error to the state machine to be retried, or must it finish now and leave what it
 * could not do (terminating an instance) to the safety net? Retried only while the retry surely
 * comes before the deadline, so no retry runs into the cleanup margin and the phase never
 * outlives its budget.
 */
export function mayRetryTask(nowMs: number, deadlineMs: number): boolean {
  return nowMs + TASK_RETRY_MAX_DELAY_SECONDS * 1000 < deadlineMs;
}

/** The moment a cleanup task's AWS calls are cut off: END_RESERVE_SECONDS before the phase's hard end (contract/budget.ts). */
export function cleanupCallsUntil(execution: Pick<ExecutionRef, 'startTime'>, phase: Pick<PhaseSpec, 'budgetSeconds'>): number {
  return Date.parse(execution.startTime) + (phase.budgetSeconds - END_RESERVE_SECONDS) * 1000;
}

/** The moment the AWS calls of a task that launches or reads are cut off: READ_OVERRUN_SECONDS after the work deadline. */
export function readCallsUntil(execution: ExecutionRef, phase: PhaseSpec): number {
  return phaseDeadline(execution, phase) + READ_OVERRUN_SECONDS * 1000;
}
