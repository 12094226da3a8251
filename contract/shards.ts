/**
 * What the pipeline keeps of each shard of a sharded phase while its shards run and after
 * (`$.phases.<phase>` of the pipeline's state; state-machines/stages/shards.ts): one record per
 * shard, in the config's order. Records stay small (no outputs, no launches: the shard's own
 * SpotPhase execution holds those), so even a phase of MAX_SHARDS shards keeps the state far
 * below Step Functions' 256 KiB.
 */
import * as z from 'zod';
import { MAX_SHARDS, SHARD_NAME } from './phase-config';

export const SHARD_STATUS = { pending: 'PENDING', succeeded: 'SUCCEEDED', failed: 'FAILED' } as const;

/** The longest cause a record keeps (the shard's SpotPhase execution keeps the whole). */
export const SHARD_CAUSE_CHARS = 600;

const shard = z.string().regex(SHARD_NAME);

export const shardRecordSchema = z.discriminatedUnion('status', [
  /** Not run yet (the shard list a sharded phase starts with). */
  z.object({ shard, status: z.literal(SHARD_STATUS.pending) }).strict(),
  z
    .object({
      shard,
      status: z.literal(SHARD_STATUS.succeeded),
      outcome: z.string().optional(),
      attempts: z.number().int().min(0).optional(),
      executionArn: z.string().optional(),
    })
    .strict(),
  z
    .object({
      shard,
      status: z.literal(SHARD_STATUS.failed),
      /** The shard's error: its SpotPhase execution's (WorkloadFailed, ...), or the task's own (States.Timeout, ...). */
      error: z.string(),
      cause: z.string().max(SHARD_CAUSE_CHARS).optional(),
      executionArn: z.string().optional(),
      /** The pipeline execution's redrive count when the shard failed: a later redrive runs it again. */
      failedAtRedrive: z.number().int().min(0),
    })
    .strict(),
]);
export type ShardRecord = z.output<typeof shardRecordSchema>;

/** The tally of a sharded phase's records: what failed, and whether that is more than it tolerates. */
export const shardTallySchema = z
  .object({
    shards: z.array(shardRecordSchema).min(1).max(MAX_SHARDS),
    failed: z.array(shard),
    failedCount: z.number().int().min(0),
    tolerated: z.number().int().min(0),
    /** More failed than tolerated: the failed shards fail the phase now (and a redrive re-runs them). */
    settle: z.boolean(),
    /**
     * With settle, in a redriven run that still holds shards which failed before it: the settling
     * pass first re-runs those (the others keep their records), and only a later pass fails the
     * phase, so that no shard's failure stops a sibling's re-run.
     */
    rerunPass: z.boolean(),
  })
  .strict();
export type ShardTally = z.output<typeof shardTallySchema>;
