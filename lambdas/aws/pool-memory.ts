/**
 * The pool memory (contract/storage.ts, pools/): what went wrong in which capacity pool, in this
 * run and the runs before. Best-effort both ways: a launch that cannot read it tries the pools in
 * rotation order; an event that cannot be written is only logged. Never a reason to fail or wait.
 */
import { createHash } from 'node:crypto';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { areaPrefix, parsePoolEventKey, poolEventKey, type PoolEvent } from '../../contract/storage';
import { POOL_MEMORY_MS } from '../../decisions/pools';
import { errorCode } from './aws-errors';
import type { S3Send } from './clients';
import { logger } from '../runtime/logger';

/** At most this many listing pages are read (1,000 events each): the memory of a busy week. */
const MAX_PAGES = 5;

/** The pool events of the last POOL_MEMORY_MS (none when the memory cannot be read). */
export async function recentPoolEvents(s3: S3Send, bucket: string | undefined, pipeline: string, nowMs: number): Promise<PoolEvent[]> {
  if (!bucket) return [];
  const events: PoolEvent[] = [];
  try {
    let token: string | undefined;
    let pages = 0;
    do {
      const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: areaPrefix(pipeline, 'pools'), ContinuationToken: token }));
      for (const o of out.Contents ?? []) {
        const event = o.Key ? parsePoolEventKey(pipeline, o.Key) : undefined;
        if (event && event.atMs > nowMs - POOL_MEMORY_MS) events.push(event);
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
      pages += 1;
    } while (token && pages < MAX_PAGES);
  } catch (err) {
    logger.warn('could not read the pool memory; trying the pools in rotation order', { error: errorCode(err) });
    return [];
  }
  return events;
}

/** Record that a pool reclaimed an instance or refused capacity (`source`: who saw it, e.g. execution and attempt). */
export async function recordPoolEvent(s3: S3Send, bucket: string | undefined, pipeline: string, event: PoolEvent, source: string): Promise<void> {
  if (!bucket) return;
  const key = poolEventKey(pipeline, event, createHash('sha256').update(source).digest('hex').slice(0, 16));
  try {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: '', ContentType: 'text/plain' }));
  } catch (err) {
    logger.warn('could not record a pool event', { key, error: errorCode(err) });
  }
}
