/**
 * After a failed attempt: relaunch or fail loud. Pure: HandleFailure terminates the attempt's
 * instance, asks this, and applies the answer (the metric datum, the next job).
 */
import { relaunchGapSeconds, type PhaseBudget } from '../contract/budget';
import { RELAUNCHES_AT_ONCE } from '../contract/history';
import { JOB_STATUS, poolLabel, type AttemptRecord, type JobIn } from '../contract/job';
import { outcomeOf, PHASE_ERRORS, type ReasonCode } from '../contract/outcomes';
import { onDemandFallbackOf, type PhaseConfig } from '../contract/phase-config';
import { METRICS, type MetricDefinition } from '../contract/metrics';
import { CAPACITY_EXHAUSTED } from '../contract/outcomes';
import { NOTICE_SAVE_WINDOW_SECONDS } from './attempt';
import { nextMarket, type FallbackTrigger } from './market';
import { cursorAfter } from './pools';

/** What the relaunch decision needs to know about the phase right now. */
export interface RelaunchQuestion {
  readonly phase: PhaseBudget & { readonly bootTimeoutSeconds: number };
  readonly nowMs: number;
  readonly deadlineMs: number;
  /** The attempt that just ended, 1-based. */
  readonly attempt: number;
  /** The fraction of its work the workload reported done in its last checkpoint (contract/runner.ts, PROGRESS_FILE). */
  readonly savedProgress?: number;
}

/**
 * What the next attempt needs: a whole attempt, or, when the workload's checkpoint reports part of
 * its work done, the boot (bootTimeoutSeconds, its longest) plus the rest of the work in proportion.
 */
export function secondsNeeded(phase: RelaunchQuestion['phase'], savedProgress = 0): number {
  const done = Math.min(1, Math.max(0, savedProgress));
  if (done === 0) return phase.attemptSeconds;
  const work = Math.max(0, phase.attemptSeconds - phase.bootTimeoutSeconds);
  // At least MIN_RESUME_WORK_SECONDS of work: restoring, the command's own minimum, a first poll.
  return Math.min(phase.attemptSeconds, Math.ceil(phase.bootTimeoutSeconds + Math.max(MIN_RESUME_WORK_SECONDS, work * (1 - done))));
}

/** The least a resumed attempt is given after its boot (SendWorkload needs 60 s for a command; the restore and a poll take more). */
export const MIN_RESUME_WORK_SECONDS = 180;

export type RelaunchAnswer =
  /** `lastAffordable`: no attempt after this one would fit (the budget, or maxAttempts). */
  | { readonly relaunch: true; readonly backoffSeconds: number; readonly lastAffordable: boolean }
  | { readonly relaunch: false; readonly why: string };

/**
 * May the phase relaunch after an interruption? Only if maxAttempts (when set) allows another
 * attempt and what remains before the deadline, after the backoff, still holds what the next
 * attempt needs (a whole attempt, less the work its checkpoint saved: secondsNeeded).
 */
export function mayRelaunch(q: RelaunchQuestion): RelaunchAnswer {
  const { phase } = q;
  if (phase.maxAttempts !== undefined && q.attempt >= phase.maxAttempts) {
    return { relaunch: false, why: `maxAttempts ${phase.maxAttempts} reached` };
  }
  // The backoff, then CountRelaunch (its worst case under CloudWatch throttling), then a whole attempt.
  const remainingSeconds = Math.floor((q.deadlineMs - q.nowMs) / 1000) - relaunchGapSeconds(phase);
  const needed = secondsNeeded(phase, q.savedProgress);
  if (remainingSeconds < needed) {
    const saved = needed < phase.attemptSeconds ? ` (${phase.attemptSeconds} s less the ${Math.round((q.savedProgress ?? 0) * 100)}% of the work its checkpoint saved)` : '';
    return {
      relaunch: false,
      why: `${Math.max(0, remainingSeconds)} s of budget left after the backoff and counting the relaunch, an attempt needs ${needed} s${saved}`,
    };
  }
  // After this attempt, another would need the gap and a whole attempt again.
  const afterNext = remainingSeconds - needed - relaunchGapSeconds(phase);
  const lastAffordable = afterNext < phase.attemptSeconds || (phase.maxAttempts !== undefined && q.attempt + 1 >= phase.maxAttempts);
  return { relaunch: true, backoffSeconds: phase.relaunchBackoffSeconds, lastAffordable };
}

/**
 * How many times one phase execution relaunches at once on spot's notice (leaving the noticed
 * instance to spot). Beyond it a notice is waited out as before (NOTICE_SAVE_WINDOW_SECONDS, then the
 * backoff): the bound keeps the history arithmetic (contract/history.ts) honest, as an immediate
 * relaunch skips the backoff the worst case counts on.
 */
export const MAX_RELAUNCHES_AT_ONCE = RELAUNCHES_AT_ONCE;

/**
 * May a spot notice seen now on a running attempt end it at once and relaunch (decisions/attempt.ts,
 * PollOptions)? Only while the phase surely relaunches: as mayRelaunch says with no checkpoint
 * counted (HandleFailure counts the checkpoint too, which only lowers what the next attempt needs),
 * on spot, and within MAX_RELAUNCHES_AT_ONCE.
 */
export function mayRelaunchAtOnce(q: { readonly phase: RelaunchQuestion['phase']; readonly job: JobIn<'running'>; readonly nowMs: number; readonly deadlineMs: number }): boolean {
  if (q.job.instance.market === 'on-demand') return false;
  if (q.job.history.filter((h) => h.leftToSpot).length >= MAX_RELAUNCHES_AT_ONCE) return false;
  return mayRelaunch({ phase: q.phase, nowMs: q.nowMs, deadlineMs: q.deadlineMs, attempt: q.job.attempt }).relaunch;
}

export function describeFailure(phase: string, attempt: number, failure: JobIn<'failed'>['failure']): string {
  const parts = [`phase ${phase} attempt ${attempt}: ${failure.detail}`];
  if (failure.exitCode !== undefined && !failure.detail.includes(`exit code ${failure.exitCode}`)) parts.push(`exit code ${failure.exitCode}`);
  if (failure.lastOutput) parts.push(`last output: ${JSON.stringify(failure.lastOutput)}`);
  return parts.join('; ');
}

export interface FailureQuestion {
  readonly phase: RelaunchQuestion['phase'] & {
    readonly name: string;
    readonly instanceTypes: readonly string[];
    readonly subnetIds: readonly string[];
    readonly shard?: { readonly name: string };
    readonly onDemandFallback?: PhaseConfig['onDemandFallback'];
  };
  readonly job: JobIn<'failed'>;
  readonly nowMs: number;
  readonly deadlineMs: number;
  /** See RelaunchQuestion. */
  readonly savedProgress?: number;
  /** What the attempt's instance cost (lambdas/aws/cost.ts); undefined: none, or unpriced. */
  readonly costUsd?: number;
}

export type FailureAnswer =
  /** Relaunch after the backoff (the state machine counts it, with this reason, on its way to the launch). */
  | { readonly relaunch: true; readonly next: JobIn<'launching'>; readonly reasonCode: ReasonCode; readonly record: AttemptRecord }
  /** The phase fails with `next.verdict`; `exhausted` (also in the verdict, for the state machine's datum) when it gives up after spot interruptions. */
  | { readonly relaunch: false; readonly next: JobIn<'failed'>; readonly exhausted: boolean; readonly why?: string; readonly record: AttemptRecord };

/** The attempt's record in the history, and what the phase does next. */
export function decideAfterFailure(q: FailureQuestion): FailureAnswer {
  const { phase, job } = q;
  const { failure } = job;
  const record: AttemptRecord = {
    attempt: job.attempt,
    instanceId: job.instance?.id ?? null,
    pool: job.instance ? poolLabel(job.instance) : null,
    outcome: outcomeOf(failure),
    reasonCode: failure.reasonCode,
    detail: failure.detail,
    startedAt: job.attemptStartedAt,
    endedAt: new Date(q.nowMs).toISOString(),
    ...(q.costUsd === undefined ? {} : { costUsd: q.costUsd }),
    ...(job.instance?.market === 'on-demand' ? { market: 'on-demand' as const } : {}),
    ...(failure.leftToSpot ? { leftToSpot: true as const } : {}),
  };
  const history = [...job.history, record];

  if (failure.kind !== 'interruption') {
    const error = PHASE_ERRORS[failure.kind];
    return { relaunch: false, exhausted: false, record, next: { ...job, history, verdict: { action: 'fail', error, cause: describeFailure(phase.name, job.attempt, failure) } } };
  }
  const answer = mayRelaunch({ phase, nowMs: q.nowMs, deadlineMs: q.deadlineMs, attempt: job.attempt, savedProgress: q.savedProgress });
  if (answer.relaunch) {
    const pools = phase.instanceTypes.length * phase.subnetIds.length;
    const interruptions = history.filter((h) => h.outcome === 'interrupted' || h.outcome === 'capacity-exhausted').length;
    const { market, trigger } = nextMarket({
      fallback: onDemandFallbackOf(phase),
      current: job.market ?? job.instance?.market ?? 'spot',
      interruptions,
      capacityExhausted: failure.reasonCode === CAPACITY_EXHAUSTED,
      lastAffordable: answer.lastAffordable,
    });
    return {
      relaunch: true,
      reasonCode: failure.reasonCode,
      record,
      next: {
        v: job.v,
        status: JOB_STATUS.launching,
        attempt: job.attempt + 1,
        poolCursor: cursorAfter(job.instance?.poolIndex ?? job.poolCursor, pools),
        history,
        // Relaunched at once on spot's notice: no backoff (the relaunch goes to another pool), and the
        // next workload waits for the noticed instance's checkpoint (decisions/attempt.ts, afterAgentCheck).
        nextWaitSeconds: failure.leftToSpot ? 0 : answer.backoffSeconds,
        pollErrors: 0,
        ...(failure.leftToSpot && job.instance
          ? { predecessor: { instanceId: job.instance.id, savesUntil: new Date(Date.parse(job.failedAt ?? new Date(q.nowMs).toISOString()) + NOTICE_SAVE_WINDOW_SECONDS * 1000).toISOString() } }
          : // An attempt that ran no workload (no capacity, a notice while booting) leaves the one before still saving.
            job.predecessor && Date.parse(job.predecessor.savesUntil) > q.nowMs
            ? { predecessor: job.predecessor }
            : {}),
        verdict: {
          action: 'relaunch',
          reasonCode: failure.reasonCode,
          metricData: relaunchData(phase, failure.reasonCode, trigger),
          ...(trigger ? { fallback: trigger } : {}),
          // Spot reclaimed this pool's instance: the relaunch goes elsewhere (a launch that found no capacity left no pool behind).
          ...(job.instance && failure.reasonCode !== CAPACITY_EXHAUSTED && job.instance.market !== 'on-demand' ? { leavePool: job.instance.poolIndex } : {}),
        },
        ...(market === 'on-demand' ? { market } : {}),
      },
    };
  }
  const reasons = history.filter((h) => h.outcome === 'interrupted' || h.outcome === 'capacity-exhausted').map((h) => h.reasonCode);
  return {
    relaunch: false,
    exhausted: true,
    why: answer.why,
    record,
    next: {
      ...job,
      history,
      verdict: {
        action: 'fail',
        exhausted: true,
        error: PHASE_ERRORS.interruption,
        cause: `phase ${phase.name}: ${history.length} attempt(s), interrupted by ${reasons.join(', ')}; no relaunch: ${answer.why}`,
      },
    },
  };
}

/** One datum of a catalogued metric as PutMetricData takes it, its dimensions in the catalogue's order. */
function datum<D extends string>(metric: MetricDefinition<D> & { readonly unit: 'Count' }, dimensions: Record<D, string>) {
  return { MetricName: metric.name, Unit: metric.unit, Value: 1, Dimensions: metric.dimensions.map((d) => ({ Name: d, Value: dimensions[d] })) };
}

/**
 * What CountRelaunch puts for a relaunch: one SpotInterruptionRetry datum (a shard's carries the
 * shard), and OnDemandFallback when this relaunch falls back to on-demand.
 */
export function relaunchData(phase: { readonly name: string; readonly shard?: { readonly name: string } }, reason: ReasonCode, fallback: FallbackTrigger | undefined) {
  const retry = phase.shard
    ? datum(METRICS.spotInterruptionRetryByShard, { Phase: phase.name, Shard: phase.shard.name, Reason: reason })
    : datum(METRICS.spotInterruptionRetry, { Phase: phase.name, Reason: reason });
  return fallback ? [retry, datum(METRICS.onDemandFallback, { Phase: phase.name, Trigger: fallback })] : [retry];
}

/** What CountLaunchFallback puts when a launch itself fell back to on-demand: one OnDemandFallback datum. */
export function launchFallbackData(phase: { readonly name: string }, trigger: FallbackTrigger) {
  return [datum(METRICS.onDemandFallback, { Phase: phase.name, Trigger: trigger })];
}
