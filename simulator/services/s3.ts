/**
 * Simulated Amazon S3: the objects the account holds (simulator/services/account.ts, `objects`),
 * and what the runners on the instances save there (instance-runner.ts). GetObject answers an
 * object's body, or NoSuchKey (404) when there is none (S3 API reference, "GetObject": "If the
 * object you request doesn't exist, the error that Amazon S3 returns depends on whether you also
 * have the s3:ListBucket permission": with it, as the pipeline's roles have, 404 NoSuchKey).
 * Checkpoint progress files (contract/runner.ts, PROGRESS_FILE) are read as the last save under
 * their checkpoint location wrote them.
 */
import { PROGRESS_FILE } from '../../contract/runner';
import { latestCheckpoint, plannedMs } from '../instance-runner';
import type { SimulatedAccount } from './account';
import { SimulatedAwsError } from './errors';

/** The body of an object at this moment, or undefined. */
export function objectBody(account: SimulatedAccount, bucket: string, key: string, now = Date.now()): string | undefined {
  if (key.endsWith(`/${PROGRESS_FILE}`)) {
    const uri = `s3://${bucket}/${key.slice(0, -PROGRESS_FILE.length)}`;
    const inv = account.invocations.find((i) => i.runner?.checkpointUri === uri);
    const save = latestCheckpoint(account, uri, now);
    if (inv && save) return String(Math.min(1, save.progressMs / plannedMs(account, inv)));
  }
  return account.objects.get(`${bucket}/${key}`)?.body;
}

export function getObject(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const body = objectBody(account, String(input.Bucket), String(input.Key));
  if (body === undefined) throw new SimulatedAwsError('NoSuchKey', 'The specified key does not exist.', 404);
  // The interceptor hands the SDK a stream for Body, as the HTTP response would be.
  return { Body: body, ContentLength: Buffer.byteLength(body) };
}
