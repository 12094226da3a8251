/**
 * On-demand fallback (config onDemandFallback): the config, the market decision after a failed
 * attempt (decisions/market.ts, decideAfterFailure), the relaunch's metric data.
 */
import { describe, expect, it } from 'vitest';
import { onDemandFallbackOf } from '../../contract/config';
import type { Failure, JobIn } from '../../contract/job';
import { nextMarket } from '../../decisions/market';
import { decideAfterFailure } from '../../decisions/relaunch';
import { parsePipelineConfig } from '../../lib/config/load';
import { at, instanceRef, iso, phaseSpec, START_MS } from '../lambdas/fixtures';
import { refusal } from '../config/refusal';

const interruption: Failure = { kind: 'interruption', reasonCode: 'instance-terminated-no-capacity', detail: 'spot reclaimed it' };
const exhausted: Failure = { kind: 'interruption', reasonCode: 'capacity-exhausted', detail: 'every pool refused' };
const DEADLINE = START_MS + 5100 * 1000;

/** A failed attempt (attempt `attempt`, on `market`), its history holding `earlier` interruptions before it. */
function failedJob(failure: Failure, attempt = 1, market?: 'on-demand', earlier = 0): JobIn<'failed'> {
  const history = Array.from({ length: earlier }, (_, i) => ({ attempt: i + 1, instanceId: 'i-0', pool: 'c5.large/us-east-1a', outcome: 'interrupted' as const, reasonCode: 'instance-terminated-no-capacity' as const, startedAt: iso(at(0)), endedAt: iso(at(60)) }));
  return {
    v: 1,
    status: 'failed',
    attempt,
    poolCursor: 0,
    history,
    nextWaitSeconds: 0,
    pollErrors: 0,
    attemptStartedAt: iso(at(0)),
    instance: failure.reasonCode === 'capacity-exhausted' ? undefined : instanceRef(market ? { market } : {}),
    failure,
    ...(market ? { market } : {}),
  };
}

describe('onDemandFallback in the config', () => {
  const config = (onDemandFallback: unknown) => ({ schedules: { enabled: false }, phases: [{ name: 'Train', workloadCommand: 'run', instanceTypes: ['c5.large'], budgetSeconds: 3600, attemptSeconds: 1200, onDemandFallback }] });

  it('true means every trigger but the count; an object keeps what it sets; false or absent: spot only', () => {
    const phaseOf = (raw: unknown) => parsePipelineConfig(config(raw)).phases[0] as { onDemandFallback?: unknown };
    expect(onDemandFallbackOf(phaseOf(true) as never)).toEqual({ lastAttempt: true, whenCapacityExhausted: true });
    expect(onDemandFallbackOf(phaseOf({ afterInterruptions: 2, lastAttempt: false }) as never)).toEqual({ lastAttempt: false, whenCapacityExhausted: true, afterInterruptions: 2 });
    expect(onDemandFallbackOf(phaseOf(false) as never)).toBeUndefined();
    expect(onDemandFallbackOf({})).toBeUndefined();
  });

  it.each([
    { raw: 'yes', message: 'phases[0].onDemandFallback (phase Train): must be true, false or' },
    { raw: { afterInterruptions: 0 }, message: 'phases[0].onDemandFallback.afterInterruptions (phase Train): must be >= 1' },
    { raw: { always: true }, message: 'phases[0].onDemandFallback' },
    { raw: { afterInterruptions: 1.5 }, message: 'phases[0].onDemandFallback.afterInterruptions (phase Train): must be a whole number' },
    { raw: { lastAttempt: 'true' }, message: 'phases[0].onDemandFallback.lastAttempt (phase Train): must be true or false' },
    { raw: [true], message: 'phases[0].onDemandFallback (phase Train): must be true, false or' },
  ])('refuses $raw, naming the field', ({ raw, message }) => {
    expect(refusal(config(raw))).toContain(message);
  });
});

describe('nextMarket', () => {
  const fallback = { lastAttempt: true, whenCapacityExhausted: true };
  it.each([
    { what: 'no fallback: spot, whatever happens', q: { fallback: undefined, current: 'spot', interruptions: 9, capacityExhausted: true, lastAffordable: true }, want: { market: 'spot' } },
    { what: 'capacity exhausted', q: { fallback, current: 'spot', interruptions: 1, capacityExhausted: true, lastAffordable: false }, want: { market: 'on-demand', trigger: 'capacity-exhausted' } },
    { what: 'the last affordable attempt', q: { fallback, current: 'spot', interruptions: 1, capacityExhausted: false, lastAffordable: true }, want: { market: 'on-demand', trigger: 'last-attempt' } },
    { what: 'neither: spot again', q: { fallback, current: 'spot', interruptions: 1, capacityExhausted: false, lastAffordable: false }, want: { market: 'spot' } },
    { what: 'after two interruptions', q: { fallback: { ...fallback, afterInterruptions: 2 }, current: 'spot', interruptions: 2, capacityExhausted: false, lastAffordable: false }, want: { market: 'on-demand', trigger: 'interruptions' } },
    { what: 'exhausted, but that trigger is off', q: { fallback: { lastAttempt: false, whenCapacityExhausted: false }, current: 'spot', interruptions: 1, capacityExhausted: true, lastAffordable: true }, want: { market: 'spot' } },
    { what: 'on-demand stays on-demand, no second trigger', q: { fallback, current: 'on-demand', interruptions: 3, capacityExhausted: false, lastAffordable: true }, want: { market: 'on-demand' } },
    { what: 'on-demand had no capacity either: spot again, as without the fallback', q: { fallback, current: 'on-demand', interruptions: 3, capacityExhausted: true, lastAffordable: true }, want: { market: 'spot' } },
  ] as const)('$what', ({ q, want }) => {
    expect(nextMarket(q)).toEqual(want);
  });
});

describe('decideAfterFailure with onDemandFallback', () => {
  it('relaunches the last affordable attempt on-demand, and its data count the interruption and the fallback', () => {
    // Act: DataPhase1 affords two attempts: the one after the first interruption is the last.
    const answer = decideAfterFailure({ phase: phaseSpec({ onDemandFallback: true }), job: failedJob(interruption), nowMs: at(900), deadlineMs: DEADLINE });

    // Assess
    expect(answer.relaunch).toBe(true);
    expect(answer.next).toMatchObject({ status: 'launching', attempt: 2, market: 'on-demand', verdict: { action: 'relaunch', fallback: 'last-attempt' } });
    expect((answer.next as JobIn<'launching'>).verdict!.metricData).toEqual([
      { MetricName: 'SpotInterruptionRetry', Unit: 'Count', Value: 1, Dimensions: [{ Name: 'Phase', Value: 'DataPhase1' }, { Name: 'Reason', Value: 'instance-terminated-no-capacity' }] },
      { MetricName: 'OnDemandFallback', Unit: 'Count', Value: 1, Dimensions: [{ Name: 'Phase', Value: 'DataPhase1' }, { Name: 'Trigger', Value: 'last-attempt' }] },
    ]);
  });

  it('without the fallback: spot again, one datum; a shard\'s datum carries the shard', () => {
    // Act
    const answer = decideAfterFailure({ phase: phaseSpec({ shard: { name: 'eth', index: 1, count: 5 } }), job: failedJob(interruption), nowMs: at(900), deadlineMs: DEADLINE });

    // Assess
    expect(answer.next).not.toHaveProperty('market');
    expect((answer.next as JobIn<'launching'>).verdict!.metricData).toEqual([
      { MetricName: 'SpotInterruptionRetry', Unit: 'Count', Value: 1, Dimensions: [{ Name: 'Phase', Value: 'DataPhase1' }, { Name: 'Shard', Value: 'eth' }, { Name: 'Reason', Value: 'instance-terminated-no-capacity' }] },
    ]);
  });

  it('an on-demand attempt that found no capacity relaunches on spot (on-demand has none either), with no fallback datum', () => {
    // Act
    const answer = decideAfterFailure({ phase: phaseSpec({ onDemandFallback: true, budgetSeconds: 10800 }), job: failedJob(exhausted, 2, 'on-demand', 1), nowMs: at(900), deadlineMs: START_MS + 10500 * 1000 });

    // Assess
    expect(answer.next).not.toHaveProperty('market');
    expect((answer.next as JobIn<'launching'>).verdict!.fallback).toBeUndefined();
    expect((answer.next as JobIn<'launching'>).verdict!.metricData!.map((d) => d.MetricName)).toEqual(['SpotInterruptionRetry']);
  });

  it('an on-demand attempt that was not refused (it failed otherwise) keeps the phase on-demand', () => {
    // Act
    const answer = decideAfterFailure({
      phase: phaseSpec({ onDemandFallback: true, budgetSeconds: 10800 }),
      job: failedJob({ kind: 'interruption', reasonCode: 'instance-terminated-no-capacity', detail: 'x' }, 2, 'on-demand', 1),
      nowMs: at(900),
      deadlineMs: START_MS + 10500 * 1000,
    });

    // Assess
    expect(answer.next).toMatchObject({ market: 'on-demand' });
  });

  it('no budget for another attempt: the fallback cannot help, the phase gives up as before', () => {
    // Act
    const answer = decideAfterFailure({ phase: phaseSpec({ onDemandFallback: true }), job: failedJob(interruption), nowMs: at(3000), deadlineMs: DEADLINE });

    // Assess
    expect(answer).toMatchObject({ relaunch: false, exhausted: true });
  });
});
