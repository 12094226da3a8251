import { describe, expect, it } from 'vitest';
import { cursorAfter, poolOrder, poolsFrom, rememberedOrder } from '../../decisions/pools';

const TYPES = ['c5.large', 'c5a.large', 'm5.large'];
const SUBNETS = ['subnet-0a1b2c3d', 'subnet-1a2b3c4d', 'subnet-2a3b4c5d'];

describe('poolOrder', () => {
  it.each([
    ['3 types x 3 subnets', TYPES, SUBNETS],
    ['2 types x 3 subnets', TYPES.slice(0, 2), SUBNETS],
    ['3 types x 2 subnets', TYPES, SUBNETS.slice(0, 2)],
    ['3 types x 1 subnet', TYPES, SUBNETS.slice(0, 1)],
    ['1 type x 3 subnets', TYPES.slice(0, 1), SUBNETS],
  ])('%s: every instance type x subnet exactly once', (_name, types, subnets) => {
    // Prepare
    const expected = types.flatMap((t) => subnets.map((s) => `${t}|${s}`)).sort();

    // Act
    const pools = poolOrder(types, subnets);

    // Assess
    expect(pools.map((p) => `${p.instanceType}|${p.subnetId}`).sort()).toEqual(expected);
  });

  it('3x3: successive pools differ in both type and subnet, wrap-around included', () => {
    // Prepare
    const pools = poolOrder(TYPES, SUBNETS);

    // Act
    const sameTypeOrSubnet = pools
      .map((p, i) => [p, pools[(i + 1) % pools.length]!] as const)
      .filter(([a, b]) => a.instanceType === b.instanceType || a.subnetId === b.subnetId);

    // Assess
    expect(sameTypeOrSubnet).toEqual([]);
  });

  it('starts with the first type in the first subnet', () => {
    // Prepare: the lists.

    // Act
    const [first, second] = poolOrder(TYPES, SUBNETS);

    // Assess
    expect(first).toEqual({ instanceType: 'c5.large', subnetId: 'subnet-0a1b2c3d' });
    expect(second).toEqual({ instanceType: 'c5a.large', subnetId: 'subnet-1a2b3c4d' });
  });
});

describe('poolsFrom', () => {
  it.each([
    [0, 9, [0, 1, 2, 3, 4, 5, 6, 7, 8]],
    [4, 9, [4, 5, 6, 7, 8, 0, 1, 2, 3]],
    [8, 9, [8, 0, 1, 2, 3, 4, 5, 6, 7]],
    [9, 9, [0, 1, 2, 3, 4, 5, 6, 7, 8]],
    [13, 9, [4, 5, 6, 7, 8, 0, 1, 2, 3]],
    [0, 1, [0]],
  ])('cursor %i of %i pools -> %j (wraps, each pool once)', (cursor, count, expected) => {
    // Prepare: the cursor.

    // Act
    const order = poolsFrom(cursor, count);

    // Assess
    expect(order).toEqual(expected);
  });
});

describe('cursorAfter', () => {
  it.each([2, 3, 6, 9])('with %i pools it never sends the next attempt back into the pool just used', (count) => {
    // Prepare
    const used = Array.from({ length: count }, (_, i) => i);

    // Act
    const next = used.map((i) => cursorAfter(i, count));

    // Assess
    for (const [i, n] of next.entries()) {
      expect(n).not.toBe(i);
      expect(n).toBeGreaterThanOrEqual(0);
      expect(n).toBeLessThan(count);
    }
  });

  it('moves on from the last pool to the first', () => {
    // Prepare: nine pools.

    // Act
    const next = cursorAfter(8, 9);

    // Assess
    expect(next).toBe(0);
  });
});

describe('rememberedOrder: the pool memory', () => {
  const pools = poolOrder(['c5.large', 'm5.large'], ['subnet-0a1b2c3d', 'subnet-1a2b3c4d']);
  const NOW = Date.parse('2026-05-30T02:00:00Z');
  const at = (i: number, hoursAgo: number) => ({ ...pools[i]!, atMs: NOW - hoursAgo * 3_600_000 });

  it('keeps the rotation order when nothing went wrong lately', () => {
    expect(rememberedOrder([2, 3, 0, 1], pools, [], NOW)).toEqual([2, 3, 0, 1]);
  });

  it('moves the troubled pools last, the most recent trouble last of all; a week-old event is forgotten', () => {
    expect(rememberedOrder([0, 1, 2, 3], pools, [at(0, 1), at(2, 30), at(3, 24 * 8)], NOW)).toEqual([1, 3, 2, 0]);
  });

  it('every pool troubled: every pool is still tried, the longest ago first; a pool counts its latest trouble', () => {
    expect(rememberedOrder([0, 1, 2, 3], pools, [at(0, 5), at(1, 4), at(2, 3), at(3, 2), at(0, 1)], NOW)).toEqual([1, 2, 3, 0]);
  });
});
