/**
 * WakePhase: the target of the wake rule (contract/events.ts). An event about an instance whose
 * phase waits for its running workload (its task token under waits/<instanceId>, contract/storage.ts)
 * ends that wait with SendTaskSuccess, so the poll runs now: within seconds of spot's interruption
 * warning (the relaunch starts inside the notice's two minutes), of the command's end or of the
 * instance's end. A rebalance recommendation wakes nobody: the pool memory keeps it, so the next
 * launches try that pool last.
 *
 * Events for instances nobody waits for (another pipeline's, a phase that is not waiting) are
 * ignored. A token whose wait already ended (TaskTimedOut: the poll came first, or the execution
 * stopped) may have been replaced by the next wait's a moment later: the token is read again a few
 * times, and a new one is woken. Events are best effort and so is this: the wait's own timeout is the
 * poll that catches whatever is missed.
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { wakeEnvSchema, type WakeEnv } from '../contract/environment';
import { REBALANCE_RECOMMENDATION, SPOT_INTERRUPTION_WARNING, wakeEventSchema, wakes, type WakeEvent } from '../contract/events';
import { waitKey } from '../contract/storage';
import { errorCode } from './aws/aws-errors';
import { CLIENT_CONFIG, type S3Send, type SfnSend } from './aws/clients';
import { recordPoolEvent } from './aws/pool-memory';
import { readEnv } from './runtime/environment';
import { logger } from './runtime/logger';

const s3 = new S3Client(CLIENT_CONFIG);
const sfn = new SFNClient(CLIENT_CONFIG);

/**
 * How often, and how long apart, a token is read again when the wait it belongs to has just ended
 * (the poll came first): the next wait stores its token once the poll has answered, which throttled
 * reads may take seconds; or when the phase has moved on for good (its attempt ended), and no new
 * token comes. Spot's warning, the one event that must not be missed, is looked for longer (30 s,
 * well inside the function's 60 s; also when no token is stored yet, the workload's first wait being
 * set up) and, still stale, thrown for Lambda to retry in a minute; the others give up in 4 s.
 */
export const STALE_TOKEN_LOOKS = 3;
export const STALE_TOKEN_PAUSE_MS = 2000;
export const WARNING_LOOKS = 7;
export const WARNING_PAUSE_MS = 5000;

/** A wake that found only a wait that had ended: thrown, so Lambda retries the event (its asynchronous retries) for the next wait. */
export class WaitNotFoundYet extends Error {
  override readonly name = 'WaitNotFoundYet';
}

export type WakeResult =
  | { readonly woke: true; readonly instanceId: string }
  | { readonly woke: false; readonly instanceId?: string; readonly why: string };

interface Waiting {
  readonly token: string;
  readonly pool?: string;
}

/** The token (and pool) of the phase waiting for this instance, or undefined when none waits. */
async function waiting(client: S3Send, env: WakeEnv, instanceId: string): Promise<Waiting | undefined> {
  try {
    const out = await client.send(new GetObjectCommand({ Bucket: env.PIPELINE_BUCKET, Key: waitKey(env.PIPELINE_NAME, instanceId) }));
    const token = ((await out.Body?.transformToString()) ?? '').trim();
    return token ? { token, pool: out.Metadata?.pool } : undefined;
  } catch (err) {
    if (errorCode(err) === 'NoSuchKey') return undefined;
    throw err;
  }
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function wakePhase(clients: { s3: S3Send; sfn: SfnSend }, env: WakeEnv, raw: unknown): Promise<WakeResult> {
  const parsed = wakeEventSchema.safeParse(raw);
  if (!parsed.success) {
    logger.warn('an event the wake rule should not have matched: ignored', { detailType: (raw as { 'detail-type'?: unknown } | null)?.['detail-type'] });
    return { woke: false, why: 'not an instance event' };
  }
  const event: WakeEvent = parsed.data;
  const instanceId = event.detail['instance-id'];

  if (event['detail-type'] === REBALANCE_RECOMMENDATION) {
    const found = await waiting(clients.s3, env, instanceId);
    const [instanceType, subnetId] = found?.pool?.split('/') ?? [];
    if (instanceType && subnetId) {
      await recordPoolEvent(clients.s3, env.PIPELINE_BUCKET, env.PIPELINE_NAME, { instanceType, subnetId, atMs: Date.parse(event.time ?? '') || Date.now(), kind: 'rebalance' }, `${instanceId}|rebalance`);
      logger.info('rebalance recommendation: remembered for the pool; the workload runs on', { instanceId, pool: found?.pool });
    }
    return { woke: false, instanceId, why: 'a rebalance recommendation is advice' };
  }
  if (!wakes(event)) return { woke: false, instanceId, why: `${event['detail-type']} ${event.detail.state ?? event.detail.status ?? ''} ends nothing` };

  const warning = event['detail-type'] === SPOT_INTERRUPTION_WARNING;
  const looks = warning ? WARNING_LOOKS : STALE_TOKEN_LOOKS;
  let stale: string | undefined;
  for (let look = 0; look < looks; look++) {
    if (look > 0) await pause(warning ? WARNING_PAUSE_MS : STALE_TOKEN_PAUSE_MS);
    const found = await waiting(clients.s3, env, instanceId);
    // None stored: another pipeline's instance, or a workload whose first wait is being set up. Spot's
    // warning is worth a few more looks (the one event that must not be missed); the others are not.
    if (!found) {
      if (stale === undefined && warning && look < 2) continue;
      return { woke: false, instanceId, why: 'no phase waits for this instance' };
    }
    if (found.token === stale) continue;
    try {
      await clients.sfn.send(new SendTaskSuccessCommand({ taskToken: found.token, output: JSON.stringify({ event: event['detail-type'], time: event.time ?? null }) }));
      logger.info('woke the phase waiting for this instance', { instanceId, event: event['detail-type'] });
      return { woke: true, instanceId };
    } catch (err) {
      const code = errorCode(err);
      if (code !== 'TaskTimedOut' && code !== 'InvalidToken' && code !== 'TaskDoesNotExist') throw err;
      // That wait is over; the next one may store its token in a moment.
      stale = found.token;
    }
  }
  // Spot's warning met only a wait that had ended, for half a minute: the phase is busy (throttled)
  // between two waits. Thrown so Lambda tries the event again in a minute, when the next wait is stored.
  if (warning && stale !== undefined) throw new WaitNotFoundYet(`the wait for ${instanceId} had ended and no next one was stored within ${(WARNING_LOOKS * WARNING_PAUSE_MS) / 1000} s`);
  return { woke: false, instanceId, why: 'the wait had already ended' };
}

export async function handler(event: unknown): Promise<WakeResult> {
  return wakePhase({ s3, sfn }, readEnv(wakeEnvSchema), event);
}
