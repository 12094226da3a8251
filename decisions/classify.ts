/**
 * Why did an attempt end? A pure, table-driven classification: a confirmed spot interruption
 * (relaunch if the budget allows) versus a genuine workload error (never retried).
 */
import { LAUNCH_CAPACITY_ERROR_CODES, SPOT_INTERRUPTION_STATE_REASONS, SPOT_INTERRUPTION_STATUS_CODES } from '../contract/aws-codes';
import type { FailureKind, ReasonCode } from '../contract/outcomes';

const INTERRUPTION_STATUS: ReadonlySet<string> = new Set(SPOT_INTERRUPTION_STATUS_CODES);
const INTERRUPTION_REASONS: ReadonlySet<string> = new Set(SPOT_INTERRUPTION_STATE_REASONS);
const CAPACITY_ERRORS: ReadonlySet<string> = new Set(LAUNCH_CAPACITY_ERROR_CODES);

export function isCapacityError(code: string | undefined): boolean {
  return code !== undefined && CAPACITY_ERRORS.has(code);
}

/** What the poll saw of one attempt. Every field is optional: AWS may not have said yet. */
export interface AttemptSignals {
  /** Spot request Status.Code. */
  readonly spotStatusCode?: string;
  /** Instance State.Name: pending | running | shutting-down | terminated | stopping | stopped. */
  readonly instanceState?: string;
  /** Instance StateReason.Code. */
  readonly stateReasonCode?: string;
  /** SSM command invocation Status. */
  readonly commandStatus?: string;
  /** SSM ResponseCode: the exit code, or -1 when the command never ran to an end. */
  readonly responseCode?: number;
}

export type Classification =
  | { readonly state: 'running' }
  | { readonly state: 'succeeded' }
  | { readonly state: 'failed'; readonly kind: FailureKind; readonly reasonCode: ReasonCode; readonly detail: string };

const GONE = new Set(['shutting-down', 'terminated', 'stopping', 'stopped']);
const COMMAND_FAILED = new Set(['Failed', 'Cancelled', 'Undeliverable', 'Terminated']);

type Row = { readonly when: (s: AttemptSignals) => boolean; readonly then: (s: AttemptSignals) => Classification };

/** The one table every poll goes through. Rows are checked top to bottom; the first match wins. */
const ROWS: readonly Row[] = [
  // 0. The workload finished well: done, even if spot takes the instance right afterwards.
  { when: (s) => s.commandStatus === 'Success', then: () => ({ state: 'succeeded' }) },
  // 1. Spot says it is taking the instance: act now, even while SSM still says InProgress.
  {
    when: (s) => s.spotStatusCode !== undefined && INTERRUPTION_STATUS.has(s.spotStatusCode),
    then: (s) => ({ state: 'failed', kind: 'interruption', reasonCode: s.spotStatusCode as ReasonCode, detail: `spot request status ${s.spotStatusCode}` }),
  },
  // 2. The instance is gone and EC2 says it took it.
  {
    when: (s) => s.stateReasonCode !== undefined && INTERRUPTION_REASONS.has(s.stateReasonCode),
    then: (s) => ({ state: 'failed', kind: 'interruption', reasonCode: s.stateReasonCode as ReasonCode, detail: `instance state reason ${s.stateReasonCode}` }),
  },
  // 3. The instance is gone for a reason that is not spot's (shutdown from inside, a user): genuine.
  {
    when: (s) => s.instanceState !== undefined && GONE.has(s.instanceState),
    then: (s) => ({
      state: 'failed',
      kind: 'workload-error',
      reasonCode: 'instance-gone',
      detail: `instance ${s.instanceState}${s.stateReasonCode ? ` (${s.stateReasonCode})` : ''} without a spot interruption`,
    }),
  },
  // 4. The command ran out of time: its timeout is the phase budget.
  {
    when: (s) => s.commandStatus === 'TimedOut',
    then: () => ({ state: 'failed', kind: 'budget', reasonCode: 'command-timed-out', detail: 'command reached its executionTimeout (the phase budget)' }),
  },
  // 5. Non-zero exit, or a lost command, on a fulfilled, running instance: genuine error.
  {
    when: (s) => s.commandStatus !== undefined && COMMAND_FAILED.has(s.commandStatus),
    then: (s) =>
      s.responseCode === -1 || s.responseCode === undefined
        ? { state: 'failed', kind: 'workload-error', reasonCode: 'command-lost', detail: `command ${s.commandStatus} without an exit code on a running instance` }
        : { state: 'failed', kind: 'workload-error', reasonCode: 'exit-code', detail: `exit code ${s.responseCode}` },
  },
];

export function classify(signals: AttemptSignals): Classification {
  for (const row of ROWS) if (row.when(signals)) return row.then(signals);
  return { state: 'running' };
}
