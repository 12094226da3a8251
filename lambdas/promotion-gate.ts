/**
 * PromotionGate (seed 004): compare the candidate metrics a phase wrote with production's, by the
 * gate's rules (decisions/promotion.ts); promote by copying the candidate phase's outputs to the
 * gate's production prefix, or keep production; record the decision with every rule's values.
 * Missing or malformed metrics fail the gate (MetricsInvalid, naming the file and field) and
 * nothing is promoted. The state machine puts the ModelPromoted datum from what this returns.
 *
 * Retried after a lost response, a first try may already have copied the candidate to production
 * (deciding again would compare the candidate with itself): the decision record of that try, for
 * the same candidate, is read back instead.
 */
import { CopyObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
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

export async function promotionGate(client: S3Send, env: BucketEnv, input: GateInput): Promise<GateResult> {
  const { gate, run } = input;
  const bucket = env.PIPELINE_BUCKET;
  const candidatePrefix = runOutputPrefix(gate.pipelineName, run.runDate, run.pipelineExecution, gate.candidate);
  const production = productionPrefix(gate.pipelineName, gate.name);
  const record = promotionKey(gate.pipelineName, run.runDate, gate.name);
  const s3uri = (key: string) => `s3://${bucket}/${key}`;

  // A first try that lost its response already decided (and copied): its record says what.
  const earlier = await read(client, bucket, record);
  if (earlier !== undefined) {
    const parsed = JSON.parse(earlier) as GateResult;
    if (parsed.candidate === s3uri(candidatePrefix)) {
      logger.warn('adopting the decision an earlier try of this gate recorded', { gate: gate.name, record });
      return parsed;
    }
  }

  const candidateText = await read(client, bucket, `${candidatePrefix}${gate.metricsFile}`);
  if (candidateText === undefined) throw new MetricsInvalid(`${s3uri(candidatePrefix + gate.metricsFile)}: missing (phase ${gate.candidate} wrote no ${gate.metricsFile}); nothing was promoted`);
  const candidate = readMetrics(candidateText, s3uri(candidatePrefix + gate.metricsFile), gate.rules);
  if ('problem' in candidate) throw new MetricsInvalid(`${candidate.problem}; nothing was promoted`);
  const productionText = await read(client, bucket, `${production}${gate.metricsFile}`);
  const current = productionText === undefined ? undefined : readMetrics(productionText, s3uri(production + gate.metricsFile), gate.rules);
  if (current && 'problem' in current) throw new MetricsInvalid(`${current.problem}; nothing was promoted`);

  const decision = decidePromotion(gate.rules, candidate.metrics, current?.metrics);
  const copied: string[] = [];
  if (decision.decision === 'promoted' && !gate.dryRun) {
    // The metrics file last: production's metrics say what production holds only once every other
    // file is there, so a try cut short (a throttled copy, retried) decides again against the old
    // model's metrics and promotes again, rather than comparing the candidate with itself.
    const metricsKey = `${candidatePrefix}${gate.metricsFile}`;
    const keys = await keysUnder(client, bucket, candidatePrefix);
    for (const key of [...keys.filter((k) => k !== metricsKey), ...keys.filter((k) => k === metricsKey)]) {
      const target = `${production}${key.slice(candidatePrefix.length)}`;
      // CopySource is "bucket/key", the key URL-encoded (S3 API reference, "CopyObject"): each segment, so ? # + stay in the name.
      await client.send(new CopyObjectCommand({ Bucket: bucket, Key: target, CopySource: `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}` }));
      copied.push(s3uri(target));
    }
  }
  const result: GateResult = {
    gate: gate.name,
    pipeline: gate.pipelineName,
    dryRun: gate.dryRun,
    candidate: s3uri(candidatePrefix),
    production: s3uri(production),
    ...decision,
    copied,
    promotedValue: decision.decision === 'promoted' && !gate.dryRun ? 1 : 0,
    record: s3uri(record),
  };
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: record, Body: `${JSON.stringify(result, null, 2)}\n`, ContentType: 'application/json' }));
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
