/** Is a pipeline instance an orphan? Pure: the reaper's decision, table-tested. */

export interface OrphanQuestion {
  /** Status of the execution the instance is tagged with; undefined when the tag is missing; 'UNKNOWN' when it could not be read. */
  readonly executionStatus: string | undefined;
  readonly launchedAtMs: number | undefined;
  /** When the execution stopped, if it has. */
  readonly stoppedAtMs?: number;
  readonly nowMs: number;
  /** Older than this, an instance is an orphan whatever its execution says (longest budget + margin). */
  readonly maxAgeSeconds: number;
}

/**
 * After an execution stops, the execution-cleanup rule terminates its instances within moments
 * (EventBridge delivers the status change, with retries). The reaper leaves them to it this long,
 * so the two never race and a stopped execution's instances are not reported as orphans.
 */
export const CLEANUP_GRACE_SECONDS = 15 * 60;

export type OrphanVerdict = { readonly orphan: true; readonly why: string } | { readonly orphan: false; readonly why: string };

export function orphanVerdict(q: OrphanQuestion): OrphanVerdict {
  const ageSeconds = q.launchedAtMs === undefined ? undefined : (q.nowMs - q.launchedAtMs) / 1000;
  if (ageSeconds !== undefined && ageSeconds > q.maxAgeSeconds) {
    return { orphan: true, why: `running ${Math.round(ageSeconds)} s, longer than any phase may (${q.maxAgeSeconds} s)` };
  }
  if (q.executionStatus === undefined) return { orphan: true, why: 'carries no execution tag' };
  if (q.executionStatus === 'UNKNOWN') return { orphan: false, why: 'execution status unreadable this round; left alone' };
  if (q.executionStatus === 'RUNNING') return { orphan: false, why: 'its execution is running' };
  if (q.stoppedAtMs !== undefined && q.nowMs - q.stoppedAtMs < CLEANUP_GRACE_SECONDS * 1000) {
    return { orphan: false, why: `its execution ${q.executionStatus} ${Math.round((q.nowMs - q.stoppedAtMs) / 1000)} s ago; the execution-cleanup rule acts first` };
  }
  return { orphan: true, why: `its execution is ${q.executionStatus}` };
}
