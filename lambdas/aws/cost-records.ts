/**
 * The cost records of a pipeline run (contract/storage.ts, runCostPrefix): one per attempt, written
 * by HandleFailure and FinishPhase as the attempt's record is made, summed by the execution-cleanup
 * rule when the run ends (its PipelineCostUsd datum). Best effort both ways: a record that cannot be
 * written is logged (the run's figure then misses it and says how many attempts it counted).
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import * as z from 'zod';
import type { AttemptRecord } from '../../contract/job';
import { attemptCostKey, costReportedKey, runCostPrefix } from '../../contract/storage';
import { phaseCost } from '../../decisions/cost';
import { errorCode } from './aws-errors';
import type { S3Send } from './clients';
import { logger } from '../runtime/logger';

const recordSchema = z.object({ costUsd: z.number().min(0).optional(), outcome: z.string() });

/** Keep one attempt's cost (its record's costUsd; absent when unpriced) under its run, phase (shard) and attempt. */
export async function recordAttemptCost(
  s3: S3Send,
  bucket: string | undefined,
  task: { readonly phase: { readonly name: string; readonly pipelineName: string; readonly shard?: { readonly name: string } }; readonly run: { readonly pipelineExecution: string }; readonly redriveCount: number },
  record: AttemptRecord,
): Promise<void> {
  if (!bucket) return;
  const key = attemptCostKey(runCostPrefix(task.phase.pipelineName, task.run.pipelineExecution, task.redriveCount), task.phase.name, task.phase.shard?.name, record.attempt);
  try {
    const body = JSON.stringify({ costUsd: record.costUsd, outcome: record.outcome, pool: record.pool, market: record.market ?? 'spot', startedAt: record.startedAt, endedAt: record.endedAt });
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json' }));
  } catch (err) {
    logger.warn('could not record the attempt\'s cost; the run\'s cost will miss it', { key, error: errorCode(err) });
  }
}

export interface RunCost {
  readonly costUsd: number;
  readonly wastedUsd: number;
  /** Attempt records read (priced or not). */
  readonly attempts: number;
  /** Attempts that had an instance but no price (not in costUsd). */
  readonly unpriced: number;
}

/** Sum a run's attempt records (at most 10 listing pages: 10,000 attempts), as a phase's summary sums its own (decisions/cost.ts). */
export async function runCost(s3: S3Send, bucket: string, prefix: string): Promise<RunCost> {
  const records: z.output<typeof recordSchema>[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of out.Contents ?? []) {
      if (!o.Key?.endsWith('.json')) continue;
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key }));
      const parsed = recordSchema.safeParse(JSON.parse((await got.Body?.transformToString()) || '{}'));
      if (parsed.success) records.push(parsed.data);
    }
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
    pages += 1;
  } while (token && pages < 10);
  return { ...phaseCost(records), attempts: records.length };
}

/**
 * Claim the run's cost report: true for the first caller (the marker written only if absent, S3's
 * conditional write: PutObject If-None-Match "*"), false once reported (a retried or repeated delivery).
 */
export async function claimCostReport(s3: S3Send, bucket: string, prefix: string): Promise<boolean> {
  try {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: costReportedKey(prefix), Body: '', IfNoneMatch: '*' }));
    return true;
  } catch (err) {
    // S3 user guide, "Conditional writes": 412 Precondition Failed when the key exists; 409 ConditionalRequestConflict when another write races it.
    if (errorCode(err) === 'PreconditionFailed' || errorCode(err) === 'ConditionalRequestConflict') return false;
    throw err;
  }
}
