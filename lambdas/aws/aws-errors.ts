/** Reading AWS SDK errors without depending on a particular client's exception classes. */
import { TransientApiError } from '../../contract/errors';
import { mayRetryTask } from '../../decisions/phase-clock';

export interface AwsErrorLike {
  readonly name: string;
  readonly message: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
  readonly $retryable?: unknown;
}

export function isAwsError(err: unknown): err is AwsErrorLike {
  return err instanceof Error;
}

/** The AWS error code of an SDK error (its name), or undefined for anything else. */
export function errorCode(err: unknown): string | undefined {
  return isAwsError(err) ? err.name : undefined;
}

const TRANSIENT_CODES = new Set([
  'RequestLimitExceeded',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestThrottled',
  'RequestThrottledException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'Unavailable',
  'InternalError',
  'InternalFailure',
  'InternalServerError',
  'InternalServerException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  // The task's own cut-off (lambdas/aws/clients.ts, callsUntil): AWS did not answer in the time
  // the task had, which is no verdict on the workload either.
  'AbortError',
]);

/** Throttling and service-side failures: worth retrying, never a verdict on the workload. */
export function isTransient(err: unknown): boolean {
  if (!isAwsError(err)) return false;
  if (TRANSIENT_CODES.has(err.name)) return true;
  const status = err.$metadata?.httpStatusCode;
  return status !== undefined && status >= 500;
}

/**
 * Run a handler's work so that a throttling or service-side AWS error reaches the state machine
 * as TransientApiError, which every task retries with backoff, instead of failing the phase.
 */
export async function retryableOnTransient<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!(err instanceof TransientApiError) && isTransient(err)) {
      throw new TransientApiError(`${errorCode(err)}: ${(err as Error).message}`, { cause: err });
    }
    throw err;
  }
}

/**
 * retryableOnTransient for a task that must not be retried past its deadline: a transient error
 * is the state machine's to retry while a retry surely comes before the deadline
 * (decisions/phase-clock.ts, mayRetryTask); after that the task answers `outOfTime` (a failed
 * attempt), so AWS throttling ends an attempt at the deadline, never the phase before it.
 */
export async function retryableUntil<T>(deadlineMs: number, work: () => Promise<T>, outOfTime: (err: TransientApiError) => T): Promise<T> {
  try {
    return await retryableOnTransient(work);
  } catch (err) {
    if (err instanceof TransientApiError && !mayRetryTask(Date.now(), deadlineMs)) return outOfTime(err);
    throw err;
  }
}
