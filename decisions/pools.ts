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
