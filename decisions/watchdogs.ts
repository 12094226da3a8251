/** The watchdogs of a running command: the phase deadline and the silence timeout. Pure. */
import type { Failure } from '../contract/job';

export interface WatchdogQuestion {
  readonly nowMs: number;
  readonly deadlineMs: number;
  /** When the workload last printed (or the command was sent). */
  readonly lastOutputAtMs: number;
  readonly silenceTimeoutSeconds: number;
  readonly budgetSeconds: number;
}

/** The failure a still-running command ends with, or undefined while neither watchdog trips. The deadline wins. */
export function watchdog(q: WatchdogQuestion): Failure | undefined {
  if (q.nowMs >= q.deadlineMs) {
    return { kind: 'budget', reasonCode: 'deadline', detail: `still running at the phase deadline (budgetSeconds ${q.budgetSeconds})` };
  }
  const silentSeconds = (q.nowMs - q.lastOutputAtMs) / 1000;
  if (silentSeconds >= q.silenceTimeoutSeconds) {
    return { kind: 'hung', reasonCode: 'silence', detail: `no output for ${Math.round(silentSeconds)} s (silenceTimeoutSeconds ${q.silenceTimeoutSeconds})` };
  }
  return undefined;
}
