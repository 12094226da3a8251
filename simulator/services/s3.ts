/**
 * Simulated Amazon S3: the objects the account holds (account.ts, `objects`: what `cdk deploy`
 * published, what was there before the run), and what the runners on the instances write there
 * (instance-runner.ts: checkpoints, build artifacts), read at the moment of the call.
 * - GetObject answers an object's body, or NoSuchKey (404) when there is none; HeadObject its
 *   ETag, size and user metadata, or NotFound (404): with s3:ListBucket, as the pipeline's roles
 *   have, a missing key is 404 rather than 403 (S3 API reference, "GetObject", "HeadObject").
 * - Checkpoint progress files (contract/runner.ts, PROGRESS_FILE) read as the last save under their
 *   checkpoint location wrote them.
 * - A scenario's artifact marked `present` was built before the run: the first look at any version
 *   of it finds it (and it stays); `corrupt` bytes no longer match the sha256 its build recorded.
 * - A build source under `<pipeline>/sources/` is there (you uploaded it), with an ETag from its key.
 */
import { createHash } from 'node:crypto';
import { SHA256_METADATA } from '../../contract/artifacts';
import { PROGRESS_FILE } from '../../contract/runner';
import { currentCaller } from '../caller';
import { builtArtifact, latestCheckpoint, plannedMs, uploadedOutputs } from '../instance-runner';
import { invocationStatus } from './ssm';
import type { SimObject, SimulatedAccount } from './account';
import { SimulatedAwsError } from './errors';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

/** The sha256 of a stored artifact's bytes, and the one its build recorded (they differ when the scenario corrupts it). */
export function artifactSha256(account: SimulatedAccount, name: string, version: string): { bytes: string; recorded: string } {
  const recorded = sha(`artifact ${name} ${version}`);
  return { recorded, bytes: account.scenario.artifacts?.[name]?.corrupt ? sha(`artifact ${name} ${version}, one byte flipped`) : recorded };
}

/** What the runners have uploaded to their outputs by `now` ("bucket/key" -> object). */
function runnerOutputs(account: SimulatedAccount, now: number): Map<string, SimObject> {
  const out = new Map<string, SimObject>();
  for (const inv of account.invocations) {
    for (const o of uploadedOutputs(account, inv, invocationStatus(account, inv, now), now)) {
      out.set(o.key, { sha256: sha(o.body), size: Buffer.byteLength(o.body), writtenAt: o.at, writtenBy: inv.instanceId, body: o.body });
    }
  }
  return out;
}

/** The object at "bucket/key" at this moment, or undefined. */
export function objectAt(account: SimulatedAccount, bucket: string, key: string, now = Date.now()): SimObject | undefined {
  const stored = account.objects.get(`${bucket}/${key}`);
  if (stored) return stored;
  const output = runnerOutputs(account, now).get(`${bucket}/${key}`);
  if (output) return output;
  const built = builtArtifact(account, `s3://${bucket}/${key}`, now);
  if (built) return built;
  const artifact = /^[^/]+\/artifacts\/([^/]+)\/([^/]+)$/.exec(key);
  if (artifact && account.scenario.artifacts?.[artifact[1]!]?.present) {
    const { bytes, recorded } = artifactSha256(account, artifact[1]!, artifact[2]!);
    const before: SimObject = { sha256: bytes, size: 1 << 20, writtenAt: account.startedAt, writtenBy: 'before the run', metadata: { [SHA256_METADATA]: recorded } };
    account.objects.set(`${bucket}/${key}`, before);
    return before;
  }
  if (/^[^/]+\/sources\/.+/.test(key)) return { sha256: sha(key), size: 1 << 20, writtenAt: account.startedAt, writtenBy: 'before the run' };
  return undefined;
}

/** The body of an object at this moment, or undefined. */
export function objectBody(account: SimulatedAccount, bucket: string, key: string, now = Date.now()): string | undefined {
  if (key.endsWith(`/${PROGRESS_FILE}`)) {
    const uri = `s3://${bucket}/${key.slice(0, -PROGRESS_FILE.length)}`;
    const inv = account.invocations.find((i) => i.runner?.checkpointUri === uri);
    const save = latestCheckpoint(account, uri, now);
    if (inv && save) return String(Math.min(1, save.progressMs / plannedMs(inv)));
  }
  return objectAt(account, bucket, key, now)?.body;
}

export function getObject(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  account.objectReads.push(`${String(input.Bucket)}/${String(input.Key)}`);
  const body = objectBody(account, String(input.Bucket), String(input.Key));
  if (body === undefined) throw new SimulatedAwsError('NoSuchKey', 'The specified key does not exist.', 404);
  const metadata = objectAt(account, String(input.Bucket), String(input.Key))?.metadata;
  // The interceptor hands the SDK a stream for Body, as the HTTP response would be; user metadata as sent (x-amz-meta-*).
  return { Body: body, ContentLength: Buffer.byteLength(body), ...(metadata ? { Metadata: { ...metadata } } : {}) };
}

/** PutObject: the body as sent (the simulated workloads' and Lambdas' objects are small text), and its user metadata. */
export function putObject(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  // A conditional write (If-None-Match: *) of a key that exists: 412 Precondition Failed, nothing written
  // (S3 user guide, "Add preconditions to S3 operations with conditional requests": conditional writes).
  if (input.IfNoneMatch === '*' && objectAt(account, String(input.Bucket), String(input.Key)) !== undefined) {
    throw new SimulatedAwsError('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 412);
  }
  const body = typeof input.Body === 'string' ? input.Body : Buffer.from(input.Body as Uint8Array).toString('utf8');
  const metadata = input.Metadata && typeof input.Metadata === 'object' ? Object.fromEntries(Object.entries(input.Metadata as Record<string, unknown>).map(([k, v]) => [k.toLowerCase(), String(v)])) : undefined;
  const object: SimObject = { sha256: sha(body), size: Buffer.byteLength(body), writtenAt: Date.now(), writtenBy: currentCaller() ?? 'unknown', body, ...(metadata ? { metadata } : {}) };
  account.objects.set(`${String(input.Bucket)}/${String(input.Key)}`, object);
  return { ETag: `"${object.sha256.slice(0, 32)}"` };
}

/** CopyObject: CopySource is "bucket/key", URL-encoded (S3 API reference, "CopyObject"); a missing source is NoSuchKey. */
export function copyObject(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const source = decodeURIComponent(String(input.CopySource)).replace(/^\//, '');
  const [bucket, ...key] = source.split('/');
  const object = objectAt(account, bucket!, key.join('/'));
  if (!object) throw new SimulatedAwsError('NoSuchKey', 'The specified key does not exist.', 404);
  account.objects.set(`${String(input.Bucket)}/${String(input.Key)}`, { ...object, writtenAt: Date.now(), writtenBy: currentCaller() ?? 'unknown' });
  return { CopyObjectResult: { ETag: `"${object.sha256.slice(0, 32)}"` } };
}

/**
 * DeleteObject: the key is gone (a versioned bucket keeps the version behind a delete marker); a
 * key that is not there is no error (S3 API reference, "DeleteObject": 204 either way).
 */
export function deleteObject(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const key = `${String(input.Bucket)}/${String(input.Key)}`;
  if (account.objects.delete(key)) account.objectDeletions.push({ key, at: Date.now(), by: currentCaller() ?? 'unknown' });
  return {};
}

/** ListObjectsV2 by Prefix: every key at this moment, in UTF-8 binary order, in one page (at most 1,000: the simulated runs hold fewer). */
export function listObjectsV2(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const bucket = String(input.Bucket);
  const prefix = typeof input.Prefix === 'string' ? input.Prefix : '';
  const now = Date.now();
  const keys = new Set([...account.objects.keys(), ...runnerOutputs(account, now).keys()].filter((k) => k.startsWith(`${bucket}/${prefix}`)).map((k) => k.slice(bucket.length + 1)));
  const contents = [...keys].sort().map((Key) => ({ Key, Size: objectAt(account, bucket, Key, now)?.size ?? 0 }));
  return { Contents: contents, KeyCount: contents.length, IsTruncated: false };
}

export function headObject(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const object = objectAt(account, String(input.Bucket), String(input.Key));
  if (!object) throw new SimulatedAwsError('NotFound', 'Not Found', 404);
  return { ETag: `"${object.sha256.slice(0, 32)}"`, ContentLength: object.size, Metadata: { ...(object.metadata ?? {}) }, LastModified: new Date(object.writtenAt) };
}
