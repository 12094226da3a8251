/** Time arithmetic of one SpotPhase execution, anchored on its start time. Pure. */
import { workDeadline } from '../contract/budget';
import type { PhaseSpec } from '../contract/config';
import type { ExecutionRef } from '../contract/job';

/** Seconds between checks of the SSM agent while an instance boots. */
export const AGENT_CHECK_SECONDS = 20;

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
