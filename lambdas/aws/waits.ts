/** The stored tokens of waiting phases (contract/storage.ts, waits/<instanceId>), which the wake relay reads. */
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { waitKey } from '../../contract/storage';
import { errorCode } from './aws-errors';
import type { S3Send } from './clients';
import { logger } from '../runtime/logger';

/**
 * Nobody waits for this instance any more (its attempt has ended): its token goes, so a wake for it
 * (spot's warning arriving after the poll that saw the notice) finds none and stops at once, rather
 * than taking the old token for a phase between two waits and having Lambda retry the event. Best
 * effort: a token left behind costs only those retries, and expires with the waits/ lifecycle rule.
 */
export async function forgetWait(client: S3Send, bucket: string, pipelineName: string, instanceId: string): Promise<void> {
  try {
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: waitKey(pipelineName, instanceId) }));
  } catch (err) {
    logger.warn('could not remove the wait token of an ended attempt; a late wake for it is retried by Lambda, then dropped', { instanceId, error: errorCode(err) });
  }
}
