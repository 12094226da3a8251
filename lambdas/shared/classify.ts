/**
 * Why did an attempt end? A pure, table-driven classification: a confirmed spot interruption
 * (relaunch if the budget allows) versus a genuine workload error (never retried).
 */

/** Spot request status codes that mean AWS took (or is taking) the instance back. */
export const SPOT_INTERRUPTION_STATUS_CODES: ReadonlySet<string> = new Set([
  'marked-for-termination',
  'marked-for-stop',
  'marked-for-hibernation',
  'instance-terminated-no-capacity',
  'instance-terminated-by-price',
  'instance-terminated-capacity-oversubscribed',
  'instance-terminated-launch-group-constraint',
  'instance-stopped-no-capacity',
  'instance-stopped-by-price',
  'instance-stopped-capacity-oversubscribed',
  'instance-hibernated-no-capacity',
  'instance-hibernated-by-price',
  'instance-terminated-by-service',
]);

/** Instance StateReason codes that mean the instance was taken by EC2, not by its workload. */
export const SPOT_INTERRUPTION_STATE_REASONS: ReadonlySet<string> = new Set([
  'Server.SpotInstanceTermination',
  'Server.SpotInstanceShutdown',
  'Server.InsufficientInstanceCapacity',
  'Server.InternalError',
  'Server.ScheduledStop',
]);

/** RunInstances error codes that mean "no spot capacity in this pool right now". */
export const LAUNCH_CAPACITY_ERROR_CODES: ReadonlySet<string> = new Set([
  'InsufficientInstanceCapacity',
  'InsufficientHostCapacity',
  'InsufficientReservedInstanceCapacity',
  'InsufficientCapacity',
  'InsufficientFreeAddressesInSubnet',
  'UnfulfillableCapacity',
  'MaxSpotInstanceCountExceeded',
  'SpotMaxPriceTooLow',
  'Unsupported',
]);

export function isCapacityError(code: string | undefined): boolean {
  return code !== undefined && LAUNCH_CAPACITY_ERROR_CODES.has(code);
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

export type FailureKind =
  /** Spot took the instance (or had no capacity to give one): relaunch while the budget allows. */
  | 'interruption'
  /** The workload failed on a healthy instance: never retried. */
  | 'workload-error'
  /** The workload stopped printing for longer than the silence timeout. */
  | 'hung'
  /** The phase budget ran out. */
  | 'budget'
  /** The instance never got its SSM agent online. */
  | 'boot-timeout';

export type Classification =
  | { readonly state: 'running' }
  | { readonly state: 'succeeded' }
  | { readonly state: 'failed'; readonly kind: FailureKind; readonly reason: string };

const GONE = new Set(['shutting-down', 'terminated', 'stopping', 'stopped']);
const COMMAND_FAILED = new Set(['Failed', 'Cancelled', 'Undeliverable', 'Terminated']);

/** The one table every poll goes through. Rows are checked top to bottom; the first match wins. */
const ROWS: ReadonlyArray<{ readonly when: (s: AttemptSignals) => boolean; readonly then: (s: AttemptSignals) => Classification }> = [
  // 0. The workload finished well: done, even if spot takes the instance right afterwards.
  { when: (s) => s.commandStatus === 'Success', then: () => ({ state: 'succeeded' }) },
  // 1. Spot says it is taking the instance: act now, even while SSM still says InProgress.
  {
    when: (s) => s.spotStatusCode !== undefined && SPOT_INTERRUPTION_STATUS_CODES.has(s.spotStatusCode),
    then: (s) => ({ state: 'failed', kind: 'interruption', reason: s.spotStatusCode! }),
  },
  // 2. The instance is gone and EC2 says it took it.
  {
    when: (s) => s.stateReasonCode !== undefined && SPOT_INTERRUPTION_STATE_REASONS.has(s.stateReasonCode),
    then: (s) => ({ state: 'failed', kind: 'interruption', reason: s.stateReasonCode! }),
  },
  // 4. The instance is gone for a reason that is not spot's (shutdown from inside, a user): genuine.
  {
    when: (s) => s.instanceState !== undefined && GONE.has(s.instanceState),
    then: (s) => ({
      state: 'failed',
      kind: 'workload-error',
      reason: `instance ${s.instanceState}${s.stateReasonCode ? ` (${s.stateReasonCode})` : ''} without a spot interruption`,
    }),
  },
  // 5. The command ran out of time: its timeout is the phase budget.
  { when: (s) => s.commandStatus === 'TimedOut', then: () => ({ state: 'failed', kind: 'budget', reason: 'command reached its executionTimeout (the phase budget)' }) },
  // 6. Non-zero exit, or a lost command, on a fulfilled, running instance: genuine error.
  {
    when: (s) => s.commandStatus !== undefined && COMMAND_FAILED.has(s.commandStatus),
    then: (s) => ({
      state: 'failed',
      kind: 'workload-error',
      reason:
        s.responseCode === -1 || s.responseCode === undefined
          ? `command ${s.commandStatus} without an exit code on a running instance`
          : `exit code ${s.responseCode}`,
    }),
  },
];

export function classify(signals: AttemptSignals): Classification {
  for (const row of ROWS) if (row.when(signals)) return row.then(signals);
  return { state: 'running' };
}
