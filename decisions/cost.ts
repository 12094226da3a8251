/**
 * The cost of an attempt: the seconds its instance lived, priced by the segments of its price
 * history (contract/prices.ts). Pure.
 */
import type { PriceSegment } from '../contract/prices';

/** USD, rounded to a millionth (a cent's ten-thousandth: sums stay exact enough, JSON stays short). */
const usd = (value: number) => Math.round(value * 1e6) / 1e6;

/**
 * What an instance cost from `startMs` to `endMs` at these prices: each segment's price for the
 * seconds it was in effect. Undefined when no price was in effect at the start (unpriced).
 */
export function costBetween(segments: readonly PriceSegment[], startMs: number, endMs: number): number | undefined {
  const sorted = [...segments].sort((a, b) => a.fromMs - b.fromMs);
  if (sorted.length === 0 || sorted[0]!.fromMs > startMs || endMs < startMs) return undefined;
  let total = 0;
  sorted.forEach((segment, i) => {
    const from = Math.max(segment.fromMs, startMs);
    const to = Math.min(sorted[i + 1]?.fromMs ?? Infinity, endMs);
    if (to > from) total += ((to - from) / 3_600_000) * segment.usdPerHour;
  });
  return usd(total);
}

/** A phase's cost, split: what its attempts cost, and the part spent on attempts that did not succeed. */
export function phaseCost(records: readonly { outcome: string; costUsd?: number }[]): { costUsd: number; wastedUsd: number; unpriced: number } {
  const useful = (r: { outcome: string }) => r.outcome === 'succeeded' || r.outcome === 'preflight-ok';
  return {
    costUsd: usd(records.reduce((sum, r) => sum + (r.costUsd ?? 0), 0)),
    wastedUsd: usd(records.filter((r) => !useful(r)).reduce((sum, r) => sum + (r.costUsd ?? 0), 0)),
    unpriced: records.filter((r) => r.costUsd === undefined && r.outcome !== 'capacity-exhausted').length,
  };
}
