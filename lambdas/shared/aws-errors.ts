/** Reading AWS SDK errors without depending on a particular client's exception classes. */

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
]);

/** Throttling and service-side failures: worth retrying, never a verdict on the workload. */
export function isTransient(err: unknown): boolean {
  if (!isAwsError(err)) return false;
  if (TRANSIENT_CODES.has(err.name)) return true;
  const status = err.$metadata?.httpStatusCode;
  return status !== undefined && status >= 500;
}
