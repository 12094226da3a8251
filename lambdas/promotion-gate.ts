/**
 * PromotionGate (seed 004): compare the candidate metrics a phase wrote with production's, by the
 * gate's rules (decisions/promotion.ts); promote by copying the candidate phase's outputs to the
 * gate's production prefix, or keep production; record the decision with every rule's values.
 * Missing or malformed metrics fail the gate (MetricsInvalid, naming the file and field) and
 * nothing is promoted. The state machine puts the ModelPromoted datum from what this returns.
 *
 * The decision is recorded before production changes. Retried after a lost response, a first try
 * may already have copied part or all of the candidate to production (deciding again would compare
 * the candidate with itself): the decision record of that try, for the same candidate, is read back
 * instead, and a promotion it recorded is finished (the copies are idempotent). Production ends
 * holding exactly the candidate's files: files the old model had and the new one has not are deleted
 * (the bucket keeps every replaced and deleted version).
 */
import { CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import * as z from 'zod';
import { gateRuleSchema } from '../contract/config';
import { bucketEnvSchema, type BucketEnv } from '../contract/environment';
import { MetricsInvalid, TransientApiError } from '../contract/errors';
import { runContextSchema } from '../contract/job';
import { productionPrefix, promotionKey, runOutputPrefix } from '../contract/storage';
import { decidePromotion, readMetrics, type PromotionDecision } from '../decisions/promotion';
import { errorCode, isTransient } from './aws/aws-errors';
import { CLIENT_CONFIG, type S3Send } from './aws/clients';
import { readEnv } from './runtime/environment';
import { logger } from './runtime/logger';
import { parseTaskInput } from './runtime/task-input';

const s3 = new S3Client(CLIENT_CONFIG);

export const gateInputSchema = z
  .object({
    gate: z
      .object({
        name: z.string().min(1),
        candidate: z.string().min(1),
        metricsFile: z.string().min(1),
        rules: z.array(gateRuleSchema).min(1),
        dryRun: z.boolean(),
        pipelineName: z.string().min(1),
      })
      .strict(),
    run: runContextSchema,
  })
  .strict();
export type GateInput = z.output<typeof gateInputSchema>;

/** What the gate hands the pipeline (at `$.phases.<gate>`), the record it writes, and the datum's value. */
export interface GateResult extends PromotionDecision {
  readonly gate: string;
  readonly pipeline: string;
  readonly dryRun: boolean;
  readonly candidate: string;
  readonly production: string;
  /** The objects copied to production (none when kept or in a dry run). */
  readonly copied: string[];
  /** ModelPromoted's value: 1 promoted (and not a dry run), else 0. */
  readonly promotedValue: 0 | 1;
  readonly record: string;
}

async function read(client: S3Send, bucket: string, key: string): Promise<string | undefined> {
  try {
    const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return (await out.Body?.transformToString()) ?? '';
  } catch (err) {
    if (errorCode(err) === 'NoSuchKey') return undefined;
    if (isTransient(err)) throw new TransientApiError(`GetObject ${key}: ${errorCode(err)}`, { cause: err });
    throw err;
  }
}

async function keysUnder(client: S3Send, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const out = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    keys.push(...(out.Contents ?? []).flatMap((o) => (o.Key ? [o.Key] : [])));
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/**
 * The decision an earlier try of this gate recorded for the same candidate, or undefined (none, or
 * a record that is not one: it is decided afresh and overwritten).
 */
function earlierDecision(text: string | undefined, candidate: string, key: string): GateResult | undefined {
  if (text === undefined) return undefined;
  let parsed: Partial<GateResult> | undefined;
  try {
    parsed = JSON.parse(text) as Partial<GateResult>;
  } catch {
    parsed = undefined;
  }
  const usable = parsed && (parsed.decision === 'promoted' || parsed.decision === 'kept') && Array.isArray(parsed.copied) && Array.isArray(parsed.reasons);
  if (!usable) {
    logger.warn('the decision record there is no decision record; deciding afresh and replacing it', { key });
    return undefined;
  }
  return parsed!.candidate === candidate ? (parsed as GateResult) : undefined;
}

/**
 * Make production hold exactly the candidate's files: copy every other file, delete what production
 * holds besides them (a file the old model had and the new one has not), and copy the metrics file
 * last: production's metrics say what production holds only once the rest is in place. Idempotent:
 * a retry (or a redrive) that finds the decision recorded does it all again, to the same end.
 */
async function promote(client: S3Send, bucket: string, candidatePrefix: string, production: string, metricsFile: string): Promise<void> {
  const metricsKey = `${candidatePrefix}${metricsFile}`;
  const keys = await keysUnder(client, bucket, candidatePrefix);
  const copy = async (key: string) =>
    // CopySource is "bucket/key", the key URL-encoded (S3 API reference, "CopyObject"): each segment, so ? # + stay in the name.
    client.send(new CopyObjectCommand({ Bucket: bucket, Key: `${production}${key.slice(candidatePrefix.length)}`, CopySource: `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}` }));
  for (const key of keys.filter((k) => k !== metricsKey)) await copy(key);
  const wanted = new Set(keys.map((k) => `${production}${k.slice(candidatePrefix.length)}`));
  // The bucket keeps the replaced and deleted versions (versioning), so an earlier model can be restored.
  for (const stale of (await keysUnder(client, bucket, production)).filter((k) => !wanted.has(k))) {
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: stale }));
  }
  if (keys.includes(metricsKey)) await copy(metricsKey);
}

export async function promotionGate(client: S3Send, env: BucketEnv, input: GateInput): Promise<GateResult> {
  const { gate, run } = input;
  const bucket = env.PIPELINE_BUCKET;
  const candidatePrefix = runOutputPrefix(gate.pipelineName, run.runDate, run.pipelineExecution, gate.candidate);
  const production = productionPrefix(gate.pipelineName, gate.name);
  const record = promotionKey(gate.pipelineName, run.runDate, gate.name);
  const s3uri = (key: string) => `s3://${bucket}/${key}`;

  // A first try that lost its response (or a run redriven after the gate failed) already decided: its record says what.
  const earlier = earlierDecision(await read(client, bucket, record), s3uri(candidatePrefix), record);
  if (earlier) {
    logger.warn('adopting the decision an earlier try of this gate recorded', { gate: gate.name, record });
    if (earlier.promotedValue === 1) await promote(client, bucket, candidatePrefix, production, gate.metricsFile);
    return earlier;
  }

  const candidateText = await read(client, bucket, `${candidatePrefix}${gate.metricsFile}`);
  if (candidateText === undefined) throw new MetricsInvalid(`${s3uri(candidatePrefix + gate.metricsFile)}: missing (phase ${gate.candidate} wrote no ${gate.metricsFile}); nothing was promoted`);
  const candidate = readMetrics(candidateText, s3uri(candidatePrefix + gate.metricsFile), gate.rules);
  if ('problem' in candidate) throw new MetricsInvalid(`${candidate.problem}; nothing was promoted`);
  const productionText = await read(client, bucket, `${production}${gate.metricsFile}`);
  const current = productionText === undefined ? undefined : readMetrics(productionText, s3uri(production + gate.metricsFile), gate.rules);
  if (current && 'problem' in current) throw new MetricsInvalid(`${current.problem}; nothing was promoted`);

  const decision = decidePromotion(gate.rules, candidate.metrics, current?.metrics);
  const promoting = decision.decision === 'promoted' && !gate.dryRun;
  // What a promotion copies, in the order it copies (the metrics file last).
  const metricsKey = `${candidatePrefix}${gate.metricsFile}`;
  const keys = promoting ? await keysUnder(client, bucket, candidatePrefix) : [];
  const copied = [...keys.filter((k) => k !== metricsKey), ...keys.filter((k) => k === metricsKey)].map((key) => s3uri(`${production}${key.slice(candidatePrefix.length)}`));
  const result: GateResult = {
    gate: gate.name,
    pipeline: gate.pipelineName,
    dryRun: gate.dryRun,
    candidate: s3uri(candidatePrefix),
    production: s3uri(production),
    ...decision,
    copied,
    promotedValue: promoting ? 1 : 0,
    record: s3uri(record),
  };
  // The decision first, then the copies: a try cut short anywhere after the record is finished by
  // the next, which adopts the recorded decision instead of comparing a half-copied production.
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: record, Body: `${JSON.stringify(result, null, 2)}\n`, ContentType: 'application/json' }));
  if (promoting) await promote(client, bucket, candidatePrefix, production, gate.metricsFile);
  logger.info(`gate ${gate.name}: ${decision.decision}${gate.dryRun ? ' (dry run: nothing copied)' : ''}`, { reasons: decision.reasons });
  return result;
}

export async function handler(event: unknown): Promise<GateResult> {
  const env = readEnv(bucketEnvSchema);
  const input = parseTaskInput(gateInputSchema, event, 'PromotionGate');
  try {
    return await promotionGate(s3, env, input);
  } catch (err) {
    if (!(err instanceof MetricsInvalid) && !(err instanceof TransientApiError) && isTransient(err)) throw new TransientApiError(`${errorCode(err)}: ${(err as Error).message}`, { cause: err });
    throw err;
  }
}
