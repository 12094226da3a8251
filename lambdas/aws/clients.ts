/** The narrow client shapes helpers take: anything with the client's `send`. */
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { SSMClient } from '@aws-sdk/client-ssm';

export type Ec2Send = Pick<EC2Client, 'send'>;
export type SsmSend = Pick<SSMClient, 'send'>;
export type LogsSend = Pick<CloudWatchLogsClient, 'send'>;
export type CloudWatchSend = Pick<CloudWatchClient, 'send'>;
export type SfnSend = Pick<SFNClient, 'send'>;
export type S3Send = Pick<S3Client, 'send'>;

/**
 * Every client's configuration: the SDK's standard retry mode ("Retry behavior", AWS SDKs and
 * Tools reference guide) with 5 tries per call. A task bounds how long its calls may take with an
 * abort signal (callsUntil below), whatever the retries would add up to.
 */
export const CLIENT_CONFIG = { maxAttempts: 5 } as const;

/** Any SDK client's send, as far as callsUntil needs it. */
interface Sender {
  send(command: never, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
}

/**
 * The clients, each call of which is cut off at `untilMs`: an abort signal stops the SDK's
 * retries and the request there (an AbortError), so a task's AWS work ends when the phase's time
 * arithmetic says it must (contract/budget.ts), however long AWS keeps throttling. `release`
 * clears the timer when the task is done.
 */
function callsUntil<C extends Record<string, Sender>>(clients: C, untilMs: number): { clients: C; release: () => void } {
  const controller = new AbortController();
  const timer = Number.isFinite(untilMs) ? setTimeout(() => controller.abort(), Math.max(0, untilMs - Date.now())) : undefined;
  const bounded = Object.fromEntries(
    Object.entries(clients).map(([name, client]) => [name, { send: (command: never, options?: object) => client.send(command, { ...options, abortSignal: controller.signal }) }]),
  );
  return { clients: bounded as unknown as C, release: () => clearTimeout(timer) };
}

/** Run a task's work with its clients cut off at `untilMs`. */
export async function withCallsUntil<C extends Record<string, Sender>, T>(clients: C, untilMs: number, work: (bounded: C) => Promise<T>): Promise<T> {
  const { clients: bounded, release } = callsUntil(clients, untilMs);
  try {
    return await work(bounded);
  } finally {
    release();
  }
}
