/**
 * The decisions of a sharded phase (state-machines/stages/shards.ts runs them through the
 * ShardVerdict Lambda). Pure.
 *
 * - `failedShardRecord`: a shard's task failed; keep what its SpotPhase execution said, briefly.
 * - `tallyShards`: after every shard ran, how many failed, and is that more than the phase tolerates.
 * - `settleShard`: a failed shard in a phase that failed beyond its tolerance: on the run that saw it
 *   fail, fail the phase with ShardsFailed naming every failed shard; on a later redrive, run it
 *   again (and while such re-runs go on, keep the others' failures from stopping them).
 */
import { ShardsFailed } from '../contract/errors';
import { SHARD_CAUSE_CHARS, SHARD_STATUS, type ShardRecord, type ShardTally } from '../contract/shards';

const clip = (text: string, chars: number) => (text.length <= chars ? text : `${text.slice(0, chars - 1)}…`);

/**
 * A shard's failure as its record keeps it. A shard whose SpotPhase execution failed fails its
 * startExecution.sync:2 task with States.TaskFailed and the execution's description as the cause
 * (JSON: ExecutionArn, Status, Error, Cause, ...); anything else (the task's own timeout, a refused
 * start) is kept as the task saw it.
 */
export function failedShardRecord(shard: string, caught: { Error?: string; Cause?: string }, redriveCount: number): ShardRecord & { status: 'FAILED' } {
  const error = caught.Error ?? 'States.TaskFailed';
  let description: { ExecutionArn?: unknown; Error?: unknown; Cause?: unknown } | undefined;
  if (typeof caught.Cause === 'string' && caught.Cause.startsWith('{')) {
    try {
      description = JSON.parse(caught.Cause) as typeof description;
    } catch {
      description = undefined;
    }
  }
  const childError = typeof description?.Error === 'string' && description.Error.length > 0 ? description.Error : undefined;
  const childCause = typeof description?.Cause === 'string' ? description.Cause : undefined;
  const cause = childError ? childCause : caught.Cause;
  return {
    shard,
    status: SHARD_STATUS.failed,
    error: childError ?? error,
    ...(cause ? { cause: clip(cause, SHARD_CAUSE_CHARS) } : {}),
    ...(typeof description?.ExecutionArn === 'string' ? { executionArn: description.ExecutionArn } : {}),
    failedAtRedrive: redriveCount,
  };
}

/** A failed shard this run did not run: it failed under an earlier redrive count (a redrive re-runs it). */
const failedBefore = (record: ShardRecord, redriveCount: number) => record.status === SHARD_STATUS.failed && record.failedAtRedrive < redriveCount;

export function tallyShards(records: readonly ShardRecord[], tolerated: number, redriveCount = 0): ShardTally {
  const failed = records.filter((r) => r.status === SHARD_STATUS.failed).map((r) => r.shard);
  const pending = records.filter((r) => r.status === SHARD_STATUS.pending).map((r) => r.shard);
  // Every shard ran before the tally: a pending one means the graph went wrong; count it as failed, never as done.
  const notDone = [...failed, ...pending];
  const settle = notDone.length > tolerated;
  return { shards: [...records], failed: notDone, failedCount: notDone.length, tolerated, settle, rerunPass: settle && records.some((r) => failedBefore(r, redriveCount)) };
}

/**
 * A failed shard of a phase that failed beyond its tolerance. A shard that failed before this run
 * (a lower redrive count) runs again. Otherwise, in a pass that re-runs such shards (`rerunPass`)
 * it keeps its record, so its failure stops no sibling's re-run; in the pass after, it fails the
 * phase (ShardsFailed, naming every failed shard).
 */
export function settleShard(
  phase: { name: string; count: number; tolerated: number },
  record: ShardRecord & { status: 'FAILED' },
  failed: readonly string[],
  redriveCount: number,
  rerunPass = false,
): { rerun: boolean } {
  if (failedBefore(record, redriveCount)) return { rerun: true };
  if (rerunPass) return { rerun: false };
  const why = `${record.error}${record.cause ? `: ${record.cause}` : ''}`;
  throw new ShardsFailed(
    clip(
      `phase ${phase.name}: ${failed.length} of ${phase.count} shards failed (${failed.join(', ')}); it tolerates ${phase.tolerated}. ` +
        `Shard ${record.shard}: ${why}. The other shards ran to the end; a redrive of this execution re-runs the failed shards only.`,
      4000,
    ),
  );
}
