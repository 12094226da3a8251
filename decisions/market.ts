/**
 * The market of the next attempt (config `onDemandFallback`). Pure.
 *
 * A phase that opts in launches on-demand rather than fail when spot will not do: when the budget
 * affords only the attempt about to launch (`lastAttempt`: its failure to spot would leave no time
 * for another), when every spot pool refused capacity (`whenCapacityExhausted`), or after
 * `afterInterruptions` interruptions. Once on-demand, it stays on-demand (spot does not reclaim it;
 * going back would risk the deadline again), unless on-demand has no capacity either: then it
 * tries spot again, as it would without the fallback. A phase that does not opt in never leaves spot.
 */
import type { OnDemandFallback } from '../contract/config';

export type Market = 'spot' | 'on-demand';
export type FallbackTrigger = 'last-attempt' | 'capacity-exhausted' | 'interruptions';

export interface MarketQuestion {
  readonly fallback: OnDemandFallback | undefined;
  /** The market of the attempt that just ended. */
  readonly current: Market;
  /** Interruptions (capacity exhaustion included) so far, the one just ended included. */
  readonly interruptions: number;
  /** The attempt just ended found no spot capacity in any pool. */
  readonly capacityExhausted: boolean;
  /** The attempt about to launch is the last the budget (or maxAttempts) affords. */
  readonly lastAffordable: boolean;
}

export function nextMarket(q: MarketQuestion): { market: Market; trigger?: FallbackTrigger } {
  // On-demand had no capacity either: spot may have it again (without the fallback the phase would be on spot).
  if (q.current === 'on-demand') return q.capacityExhausted ? { market: 'spot' } : { market: 'on-demand' };
  const f = q.fallback;
  if (!f) return { market: 'spot' };
  if (f.whenCapacityExhausted && q.capacityExhausted) return { market: 'on-demand', trigger: 'capacity-exhausted' };
  if (f.afterInterruptions !== undefined && q.interruptions >= f.afterInterruptions) return { market: 'on-demand', trigger: 'interruptions' };
  if (f.lastAttempt && q.lastAffordable) return { market: 'on-demand', trigger: 'last-attempt' };
  return { market: 'spot' };
}

/**
 * The market of an attempt's launch when no failure decided it (the first attempt): on-demand when
 * the phase's `lastAttempt` trigger is on and this attempt is the only one its budget (or
 * maxAttempts) affords; spot otherwise.
 */
export function firstMarket(fallback: OnDemandFallback | undefined, onlyAttempt: boolean): { market: Market; trigger?: FallbackTrigger } {
  return fallback?.lastAttempt && onlyAttempt ? { market: 'on-demand', trigger: 'last-attempt' } : { market: 'spot' };
}
