/** The cost of an attempt from its price history (decisions/cost.ts), and a phase's cost split into useful and wasted. */
import { describe, expect, it } from 'vitest';
import { costBetween, phaseCost } from '../../decisions/cost';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-05-30T02:00:00Z');

describe('costBetween', () => {
  it('prices each second at the price in effect then: the one before the start, and each change after it', () => {
    // Prepare: 0.03 $/h from an hour before the start, 0.06 $/h from 30 minutes in.
    const segments = [
      { fromMs: T0 + HOUR / 2, usdPerHour: 0.06 },
      { fromMs: T0 - HOUR, usdPerHour: 0.03 },
    ];

    // Act: an instance that lived 90 minutes.
    const cost = costBetween(segments, T0, T0 + 1.5 * HOUR);

    // Assess: half an hour at 0.03, an hour at 0.06.
    expect(cost).toBeCloseTo(0.015 + 0.06, 6);
  });

  it('a price change after the end does not count; a change exactly at the start does', () => {
    expect(costBetween([{ fromMs: T0, usdPerHour: 0.1 }, { fromMs: T0 + 2 * HOUR, usdPerHour: 9 }], T0, T0 + HOUR)).toBe(0.1);
  });

  it('no price in effect at the start (or no history): unpriced, never a guess', () => {
    expect(costBetween([], T0, T0 + HOUR)).toBeUndefined();
    expect(costBetween([{ fromMs: T0 + 60_000, usdPerHour: 0.1 }], T0, T0 + HOUR)).toBeUndefined();
  });

  it('rounds to a millionth of a dollar', () => {
    expect(costBetween([{ fromMs: T0, usdPerHour: 0.085 }], T0, T0 + 1000)).toBe(0.000024);
  });
});

describe('phaseCost', () => {
  it('sums the priced attempts; what did not succeed is wasted; an attempt with an instance but no price is counted as unpriced', () => {
    // Act
    const cost = phaseCost([
      { outcome: 'interrupted', costUsd: 0.05 },
      { outcome: 'capacity-exhausted' },
      { outcome: 'failed' },
      { outcome: 'succeeded', costUsd: 0.2 },
    ]);

    // Assess
    expect(cost).toEqual({ costUsd: 0.25, wastedUsd: 0.05, unpriced: 1 });
  });
});
