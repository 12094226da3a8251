/**
 * How an attempt ends, in the pipeline's words: the failure kinds, the closed set of reason
 * codes (the `Reason` dimension of SpotInterruptionRetry), the outcomes the history and the
 * report name, and the error each kind ends a phase with.
 */
import { SPOT_INTERRUPTION_STATE_REASONS, SPOT_INTERRUPTION_STATUS_CODES } from './aws-codes';

export const FAILURE_KINDS = [
  /** Spot took the instance (or had no capacity to give one): relaunch while the budget allows. */
  'interruption',
  /** The workload failed on a healthy instance: never retried. */
  'workload-error',
  /** The workload stopped printing for longer than the silence timeout. */
  'hung',
  /** The phase budget ran out. */
  'budget',
  /** The instance never got its SSM agent online. */
  'boot-timeout',
  /** An account quota refused the launch: nothing helps until it is raised. Never retried. */
  'quota',
  /** The code asset or an artifact did not match its sha256 (contract/runner.ts): nothing ran. Never retried. */
  'artifact-integrity',
  /** A declared secret could not be read on the instance: nothing ran. Never retried. */
  'secret-unavailable',
  /** The workload succeeded but its outputs could not be uploaded. Never retried. */
  'output-upload',
] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];

/** Why an attempt failed when it was not spot's doing. */
export const GENUINE_REASON_CODES = [
  /** The workload exited non-zero. */
  'exit-code',
  /** The workload was killed with SIGKILL before its timeout (exit 137: typically out of memory). */
  'killed',
  /** The command was cancelled, and not by the pipeline (an operator, another tool). */
  'command-cancelled',
  /** SSM reports the command failed without an exit code while the instance was running. */
  'command-lost',
  /** The instance went away for a reason that is not spot's (shutdown from inside, a user). */
  'instance-gone',
  /** The command reached its executionTimeout (the phase budget). */
  'command-timed-out',
  /** The phase deadline came first (before a launch, while booting, or while running). */
  'deadline',
  /** The workload printed nothing for silenceTimeoutSeconds. */
  'silence',
  /** The SSM agent did not come online within bootTimeoutSeconds. */
  'boot-timeout',
  /** An account quota (spot instances, vCPUs) refused the launch. */
  'quota',
  /** The runner found a download whose sha256 did not match (contract/runner.ts). */
  'artifact-integrity',
  /** The runner could not read a declared secret. */
  'secret-unavailable',
  /** The runner could not upload the outputs of a workload that succeeded. */
  'output-upload',
] as const;

/** Every pool refused the launch: an interruption of its own kind. */
export const CAPACITY_EXHAUSTED = 'capacity-exhausted';

/**
 * The runner saw spot's instance-action notice, stopped the workload and saved its checkpoint, but
 * the instance was still there five minutes later (runner exit 75, contract/runner.ts): the attempt
 * is lost to spot all the same.
 */
export const SPOT_NOTICE = 'spot-instance-action';

/** The closed set of reason codes: spot's own codes for interruptions, ours for the rest. */
export const REASON_CODES = [...SPOT_INTERRUPTION_STATUS_CODES, ...SPOT_INTERRUPTION_STATE_REASONS, CAPACITY_EXHAUSTED, SPOT_NOTICE, ...GENUINE_REASON_CODES] as const;
export type ReasonCode = (typeof REASON_CODES)[number];

/** How the history and the report name an attempt's end. */
export const ATTEMPT_OUTCOMES = ['succeeded', 'preflight-ok', 'interrupted', 'capacity-exhausted', 'failed', 'timed-out', 'hung'] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

/** The outcome of an attempt that failed. */
export function outcomeOf(failure: { readonly kind: FailureKind; readonly reasonCode: ReasonCode }): AttemptOutcome {
  switch (failure.kind) {
    case 'interruption':
      return failure.reasonCode === CAPACITY_EXHAUSTED ? 'capacity-exhausted' : 'interrupted';
    case 'budget':
      return 'timed-out';
    case 'hung':
      return 'hung';
    default:
      return 'failed';
  }
}

/** The error each kind of failure ends the phase with (the SpotPhase execution's error name). */
export const PHASE_ERRORS = {
  interruption: 'SpotRetryBudgetExhausted',
  'workload-error': 'WorkloadFailed',
  hung: 'WorkloadHung',
  budget: 'PhaseBudgetExceeded',
  'boot-timeout': 'InstanceBootTimeout',
  quota: 'AccountQuotaExceeded',
  'artifact-integrity': 'ArtifactIntegrityFailed',
  'secret-unavailable': 'SecretUnavailable',
  'output-upload': 'OutputUploadFailed',
} as const satisfies Record<FailureKind, string>;
