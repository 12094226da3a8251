/**
 * ShardVerdict: the bookkeeping of a sharded phase (decisions/shards.ts), no AWS calls.
 * - "record": a shard's task failed; its record keeps the shard's error and cause, briefly.
 * - "tally": every shard ran; which failed, and is that more than the phase tolerates?
 * - "settle": a failed shard of a phase beyond its tolerance: throw ShardsFailed (the run that saw
 *   it fail), or let a redrive run it again (keeping the others' records while it does).
 */
import * as z from 'zod';
import { MAX_SHARDS, SHARD_NAME } from '../contract/phase-config';
import { InvalidTaskInput } from '../contract/errors';
import { SHARD_STATUS, shardRecordSchema, type ShardRecord, type ShardTally } from '../contract/shards';
import { failedShardRecord, settleShard, tallyShards } from '../decisions/shards';
import { logger } from './runtime/logger';
import { parseTaskInput } from './runtime/task-input';

const phaseRef = z.object({ name: z.string().min(1), count: z.number().int().min(1).max(MAX_SHARDS), tolerated: z.number().int().min(0) }).strict();
const redriveCount = z.number().int().min(0);

export const shardVerdictInputSchema = z.discriminatedUnion('mode', [
  z
    .object({
      mode: z.literal('record'),
      phase: phaseRef,
      shard: z.string().regex(SHARD_NAME),
      caught: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).passthrough(),
      redriveCount,
    })
    .strict(),
  z.object({ mode: z.literal('tally'), phase: phaseRef, shards: z.array(shardRecordSchema).min(1).max(MAX_SHARDS), redriveCount: redriveCount.default(0) }).strict(),
  z.object({ mode: z.literal('settle'), phase: phaseRef, record: shardRecordSchema, failed: z.array(z.string()), redriveCount, rerunPass: z.boolean().default(false) }).strict(),
]);
export type ShardVerdictInput = z.output<typeof shardVerdictInputSchema>;

export function shardVerdict(input: ShardVerdictInput): ShardRecord | ShardTally | { rerun: boolean } {
  switch (input.mode) {
    case 'record': {
      const record = failedShardRecord(input.shard, input.caught, input.redriveCount);
      logger.warn('shard failed', { phase: input.phase.name, shard: input.shard, error: record.error });
      return record;
    }
    case 'tally': {
      const tally = tallyShards(input.shards, input.phase.tolerated, input.redriveCount);
      logger.info('shards tallied', { phase: input.phase.name, failed: tally.failed, tolerated: tally.tolerated, settle: tally.settle });
      return tally;
    }
    case 'settle': {
      const { record } = input;
      // Only a failed shard is settled (the graph routes the others past it): never re-run a shard that succeeded.
      if (record.status !== SHARD_STATUS.failed) throw new InvalidTaskInput(`ShardVerdict settles failed shards only; shard ${record.shard} is ${record.status}`);
      return settleShard(input.phase, record, input.failed, input.redriveCount, input.rerunPass);
    }
  }
}

export async function handler(event: unknown): Promise<ShardRecord | ShardTally | { rerun: boolean }> {
  return shardVerdict(parseTaskInput(shardVerdictInputSchema, event, 'ShardVerdict'));
}
