import { relaunchGapSeconds, type PhaseBudget } from '../contract/budget';

/**
 * Capacity pools (instance type x subnet) and the order a launch tries them in. Pure.
 * Successive pools differ in both instance type and subnet wherever the lists allow, so one
 * exhausted type or AZ is left behind at the next step.
 */
export interface Pool {
  readonly instanceType: string;
  readonly subnetId: string;
}

export function poolOrder(instanceTypes: readonly string[], subnetIds: readonly string[]): Pool[] {
  const pools: Pool[] = [];
  for (let shift = 0; shift < subnetIds.length; shift++) {
    instanceTypes.forEach((instanceType, t) => pools.push({ instanceType, subnetId: subnetIds[(t + shift) % subnetIds.length]! }));
  }
  return pools;
}

/** Indexes of every pool, starting at `cursor` and wrapping around. */
export function poolsFrom(cursor: number, count: number): number[] {
  const start = ((cursor % count) + count) % count;
  return Array.from({ length: count }, (_, k) => (start + k) % count);
}

/** Where the next attempt starts: the pool after the one just used, never straight back into it. */
export function cursorAfter(poolIndex: number, count: number): number {
  return (poolIndex + 1) % count;
}

/**
 * Where an attempt's launch starts. The first attempt of shard k of a sharded phase starts in
 * subnet k (wrapping), with instance type k / subnets (wrapping): the first shards spread over the
 * subnets (and their AZs) first, then over the instance types, instead of all asking one pool first.
 * Later attempts go on from the cursor HandleFailure left.
 */
export function firstPoolCursor(cursor: number, attempt: number, shard: { index: number; instanceTypes: readonly string[]; subnetIds: readonly string[] } | undefined): number {
  if (attempt !== 1 || shard === undefined) return cursor;
  const { index, instanceTypes, subnetIds } = shard;
  const subnetId = subnetIds[index % subnetIds.length];
  const instanceType = instanceTypes[Math.floor(index / subnetIds.length) % instanceTypes.length];
  return Math.max(0, poolOrder(instanceTypes, subnetIds).findIndex((p) => p.subnetId === subnetId && p.instanceType === instanceType));
}

/** How long the pool memory counts a pool's trouble (a week: last Saturday's reclaims weigh on this one's). */
export const POOL_MEMORY_MS = 7 * 24 * 3_600_000;

/**
 * The pools in the order a launch tries them, remembering trouble: the pools with none in the last
 * POOL_MEMORY_MS keep the rotation's order and come first; the others follow, the longest ago first,
 * so a pool spot reclaimed an hour ago is tried last. Every pool is still tried.
 */
export function rememberedOrder(order: readonly number[], pools: readonly Pool[], events: readonly PoolTrouble[], nowMs: number): number[] {
  const lastTrouble = (p: Pool) => lastTroubleAt(p, events, nowMs);
  const clear = order.filter((i) => lastTrouble(pools[i]!) === -Infinity);
  const troubled = order.filter((i) => lastTrouble(pools[i]!) !== -Infinity).sort((a, b) => lastTrouble(pools[a]!) - lastTrouble(pools[b]!));
  return [...clear, ...troubled];
}

/** A pool's trouble as the pool memory recorded it (a reclaim or a refusal), and when. */
export interface PoolTrouble {
  readonly instanceType: string;
  readonly subnetId: string;
  readonly atMs: number;
}

/** When the pool last had trouble within POOL_MEMORY_MS (-Infinity: none). */
export function lastTroubleAt(pool: Pool, events: readonly PoolTrouble[], nowMs: number): number {
  return Math.max(-Infinity, ...events.filter((e) => e.instanceType === pool.instanceType && e.subnetId === pool.subnetId && e.atMs > nowMs - POOL_MEMORY_MS && e.atMs <= nowMs).map((e) => e.atMs));
}

/** The pools (indexes) with trouble within POOL_MEMORY_MS. */
export function troubledPools(pools: readonly Pool[], events: readonly PoolTrouble[], nowMs: number): Set<number> {
  return new Set(pools.flatMap((p, i) => (lastTroubleAt(p, events, nowMs) === -Infinity ? [] : [i])));
}

/** The budget affording this many attempts or fewer from now: the secondary instance types join the ask. */
export const SECONDARY_TYPES_SLACK_ATTEMPTS = 2;

/**
 * Does slack shrink so far that the phase should widen to its secondary instance types (config
 * secondaryInstanceTypes)? When what is left before the deadline affords SECONDARY_TYPES_SLACK_ATTEMPTS
 * whole attempts or fewer (each after the one before, with its relaunch gap).
 */
export function widenToSecondary(phase: PhaseBudget, t: { readonly nowMs: number; readonly deadlineMs: number }): boolean {
  const left = (t.deadlineMs - t.nowMs) / 1000;
  if (left < phase.attemptSeconds) return true;
  const affordable = 1 + Math.floor((left - phase.attemptSeconds) / (phase.attemptSeconds + relaunchGapSeconds(phase)));
  return affordable <= SECONDARY_TYPES_SLACK_ATTEMPTS;
}
