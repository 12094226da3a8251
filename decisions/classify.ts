/**
 * Why did an attempt end? A pure, table-driven classification: a confirmed spot interruption
 * (relaunch if the budget allows) versus a genuine workload error (never retried).
 */
import { LAUNCH_CAPACITY_ERROR_CODES, LAUNCH_QUOTA_ERROR_CODES, SPOT_INTERRUPTION_STATE_REASONS, SPOT_INTERRUPTION_STATUS_CODES } from '../contract/aws-codes';
import type { FailureKind, ReasonCode } from '../contract/outcomes';
import { SPOT_NOTICE } from '../contract/outcomes';
import { RUNNER_EXIT, runnerFailure, type RUNNER_FAILURES } from '../contract/runner';

/** What each of the runner's own failures means, for people. */
const RUNNER_FAILURE_DETAIL: Record<(typeof RUNNER_FAILURES)[keyof typeof RUNNER_FAILURES], string> = {
  'artifact-integrity': 'ArtifactIntegrityFailed: a download did not match its sha256; nothing was run',
  'secret-unavailable': 'SecretUnavailable: a declared secret could not be read; nothing was run',
  'output-upload': 'OutputUploadFailed: the workload succeeded but its outputs could not be uploaded',
};

const INTERRUPTION_STATUS: ReadonlySet<string> = new Set(SPOT_INTERRUPTION_STATUS_CODES);
const INTERRUPTION_REASONS: ReadonlySet<string> = new Set(SPOT_INTERRUPTION_STATE_REASONS);
const CAPACITY_ERRORS: ReadonlySet<string> = new Set(LAUNCH_CAPACITY_ERROR_CODES);

export function isCapacityError(code: string | undefined): boolean {
  return code !== undefined && CAPACITY_ERRORS.has(code);
}

/** The account quota a launch error names, or undefined when the error is not a quota's. */
export function quotaOf(code: string | undefined): string | undefined {
  return code !== undefined && Object.hasOwn(LAUNCH_QUOTA_ERROR_CODES, code) ? LAUNCH_QUOTA_ERROR_CODES[code as keyof typeof LAUNCH_QUOTA_ERROR_CODES] : undefined;
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
  /** SSM command invocation StatusDetails (e.g. Undeliverable, DeliveryTimedOut, ExecutionTimedOut). */
  readonly statusDetails?: string;
  /** SSM ResponseCode: the exit code, or -1 when the command never ran to an end. */
  readonly responseCode?: number;
  /** The command ended before its executionTimeout could have stopped it. */
  readonly endedBeforeTimeout?: boolean;
  /**
   * False when the instance and its spot request were not read (the poll at the deadline reads the
   * command only): then a command that ended without an exit of the workload's own is no verdict.
   */
  readonly instanceLooked?: boolean;
}

export type Classification =
  | { readonly state: 'running' }
  | { readonly state: 'succeeded' }
  /** The command was cancelled and nothing else explains its end: the caller knows whether it cancelled it itself. */
  | { readonly state: 'cancelled' }
  | { readonly state: 'failed'; readonly kind: FailureKind; readonly reasonCode: ReasonCode; readonly detail: string };

const GONE = new Set(['shutting-down', 'terminated', 'stopping', 'stopped']);
const COMMAND_FAILED = new Set(['Failed', 'Undeliverable', 'Terminated', 'TimedOut']);
/**
 * 128 + SIGKILL. The Linux SSM agent maps this exit code to a status (amazon-ssm-agent,
 * agent/executers, GetStatus: CommandStoppedPreemptivelyExitCode = 137): Failed when the agent
 * itself is shutting down (the instance is going away), Cancelled when the command was cancelled,
 * and TimedOut otherwise: a command the agent killed at its executionTimeout, and equally a
 * workload the kernel killed (out of memory).
 */
export const SIGKILL_EXIT_CODE = 137;

/**
 * The agent reported how the workload ended, on a running instance: an exit code, except the
 * 137 it reports as Failed while shutting down with its instance.
 */
const exitReported = (s: AttemptSignals) =>
  s.responseCode !== undefined && s.responseCode >= 0 && !(s.commandStatus === 'Failed' && s.responseCode === SIGKILL_EXIT_CODE);

type Row = { readonly when: (s: AttemptSignals) => boolean; readonly then: (s: AttemptSignals) => Classification };

/**
 * The one table every poll goes through. Rows are checked top to bottom; the first match wins.
 * The order decides by what happened first: an exit the SSM agent reported happened on a running
 * instance, so it stands whatever spot does later; only a command that ended without an exit code
 * (lost with its instance, or still running when spot took the instance) can be an interruption.
 */
const ROWS: readonly Row[] = [
  // 0. The workload finished well: done, even if spot takes the instance right afterwards.
  { when: (s) => s.commandStatus === 'Success', then: () => ({ state: 'succeeded' }) },
  // 1. Killed with SIGKILL before its timeout: on Linux the agent reports that as TimedOut/137
  //    (amazon-ssm-agent, executers: exit 137 is reported as timed out unless cancelled), but the
  //    timeout had not come: the kernel (out of memory) or someone killed it. Genuine.
  {
    when: (s) => s.commandStatus === 'TimedOut' && s.responseCode === SIGKILL_EXIT_CODE && s.endedBeforeTimeout === true,
    then: () => ({ state: 'failed', kind: 'workload-error', reasonCode: 'killed', detail: `killed (exit ${SIGKILL_EXIT_CODE}: out of memory?) before its timeout` }),
  },
  // 2. The agent stopped the command at its executionTimeout (the phase budget).
  {
    when: (s) => s.commandStatus === 'TimedOut' && exitReported(s),
    then: () => ({ state: 'failed', kind: 'budget', reasonCode: 'command-timed-out', detail: 'command reached its executionTimeout (the phase budget)' }),
  },
  // 3. The runner failed before or after the workload (a download that did not verify, a secret it
  //    could not read, outputs it could not upload): genuine, with the runner's own reason.
  {
    when: (s) => s.commandStatus === 'Failed' && exitReported(s) && runnerFailure(s.responseCode!) !== undefined,
    then: (s) => {
      const kind = runnerFailure(s.responseCode!)!;
      return { state: 'failed', kind, reasonCode: kind, detail: `${RUNNER_FAILURE_DETAIL[kind]} (runner exit ${s.responseCode})` };
    },
  },
  // 3b. The runner stopped the workload on spot's notice and waited, but spot never took the
  //     instance (runner exit 75): the attempt is spot's loss, relaunched like an interruption.
  {
    when: (s) => s.commandStatus === 'Failed' && exitReported(s) && s.responseCode === RUNNER_EXIT.noticeWithoutInterruption,
    then: () => ({ state: 'failed', kind: 'interruption', reasonCode: SPOT_NOTICE, detail: 'spot interruption notice, but the instance was not taken within 5 minutes (runner exit 75)' }),
  },
  // 4. The workload exited non-zero and the agent reported it: genuine, whatever spot does later.
  {
    when: (s) => s.commandStatus === 'Failed' && exitReported(s),
    then: (s) => ({ state: 'failed', kind: 'workload-error', reasonCode: 'exit-code', detail: `exit code ${s.responseCode}` }),
  },
  // 5. Spot says it is taking the instance: act now, even while SSM still says InProgress.
  {
    when: (s) => s.spotStatusCode !== undefined && INTERRUPTION_STATUS.has(s.spotStatusCode),
    then: (s) => ({ state: 'failed', kind: 'interruption', reasonCode: s.spotStatusCode as ReasonCode, detail: `spot request status ${s.spotStatusCode}` }),
  },
  // 6. The instance is gone and EC2 says it took it.
  {
    when: (s) => s.stateReasonCode !== undefined && INTERRUPTION_REASONS.has(s.stateReasonCode),
    then: (s) => ({ state: 'failed', kind: 'interruption', reasonCode: s.stateReasonCode as ReasonCode, detail: `instance state reason ${s.stateReasonCode}` }),
  },
  // 7. The instance is gone for a reason that is not spot's (shutdown from inside, a user): genuine.
  {
    when: (s) => s.instanceState !== undefined && GONE.has(s.instanceState),
    then: (s) => ({
      state: 'failed',
      kind: 'workload-error',
      reasonCode: 'instance-gone',
      detail: `instance ${s.instanceState}${s.stateReasonCode ? ` (${s.stateReasonCode})` : ''} without a spot interruption`,
    }),
  },
  // 8. Stopped by the agent's own shutdown, with no spot interruption to explain it.
  {
    when: (s) => s.instanceLooked !== false && s.commandStatus === 'Failed' && s.responseCode === SIGKILL_EXIT_CODE,
    then: () => ({ state: 'failed', kind: 'workload-error', reasonCode: 'exit-code', detail: `exit code ${SIGKILL_EXIT_CODE}: stopped as the SSM agent shut down, without a spot interruption` }),
  },
  // 9. Cancelled, with no interruption to explain it: whoever cancelled it decides (PollWorkload
  //    knows whether its own watchdog did).
  { when: (s) => s.commandStatus === 'Cancelled', then: () => ({ state: 'cancelled' }) },
  // 10. Ended without an exit code on a running instance (undeliverable, delivery timed out): genuine.
  {
    when: (s) => s.instanceLooked !== false && s.commandStatus !== undefined && COMMAND_FAILED.has(s.commandStatus),
    then: (s) => ({
      state: 'failed',
      kind: 'workload-error',
      reasonCode: 'command-lost',
      detail: `command ${s.commandStatus}${s.statusDetails && s.statusDetails !== s.commandStatus ? ` (${s.statusDetails})` : ''} without an exit code on a running instance`,
    }),
  },
];

/** Without a look at the instance, whatever the rows cannot decide is still running: the caller's watchdogs decide. */
export function classify(signals: AttemptSignals): Classification {
  for (const row of ROWS) if (row.when(signals)) return row.then(signals);
  return { state: 'running' };
}
