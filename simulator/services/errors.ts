/**
 * Errors as the AWS SDK for JavaScript v3 throws a service's error response: the error code is
 * the error's name (AWS SDK for JavaScript v3 developer guide, "Handle service client responses":
 * `e.name === "ResourceNotFoundException"`), with the HTTP status in $metadata and $fault
 * "client" or "server", as on the SDK's ServiceException.
 */

/** An AWS service error, shaped as the SDK throws them (the code is the error's name). */
export class SimulatedAwsError extends Error {
  readonly $metadata: { httpStatusCode: number };
  readonly $fault: 'client' | 'server';
  constructor(code: string, message: string, httpStatusCode = 400) {
    super(message);
    this.name = code;
    this.$metadata = { httpStatusCode };
    this.$fault = httpStatusCode >= 500 ? 'server' : 'client';
  }
}
