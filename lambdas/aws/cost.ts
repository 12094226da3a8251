/**
 * What an attempt's instance cost (contract/prices.ts, decisions/cost.ts): spot from the pool's
 * price history (DescribeSpotPriceHistory), on-demand from the price table. A cost is never a reason
 * to fail or delay a phase: when EC2 will not say, the attempt is left unpriced.
 */
import { DescribeSpotPriceHistoryCommand } from '@aws-sdk/client-ec2';
import type { InstanceRef } from '../../contract/job';
import { ON_DEMAND_USD_PER_HOUR, SPOT_PRODUCT_DESCRIPTION, type PriceSegment } from '../../contract/prices';
import { costBetween } from '../../decisions/cost';
import { errorCode } from './aws-errors';
import type { Ec2Send } from './clients';
import { logger } from '../runtime/logger';

/** The spot prices of one pool from `startMs` to `endMs` (and the one in effect at the start), oldest first. */
async function spotPrices(ec2: Ec2Send, instance: InstanceRef, startMs: number, endMs: number): Promise<PriceSegment[]> {
  const segments: PriceSegment[] = [];
  let token: string | undefined;
  do {
    const out = await ec2.send(
      new DescribeSpotPriceHistoryCommand({
        InstanceTypes: [instance.instanceType as never],
        AvailabilityZone: instance.availabilityZone,
        ProductDescriptions: [SPOT_PRODUCT_DESCRIPTION],
        StartTime: new Date(startMs),
        EndTime: new Date(endMs),
        NextToken: token,
      }),
    );
    for (const p of out.SpotPriceHistory ?? []) {
      const usdPerHour = Number(p.SpotPrice);
      if (p.Timestamp && Number.isFinite(usdPerHour)) segments.push({ fromMs: new Date(p.Timestamp).getTime(), usdPerHour });
    }
    token = out.NextToken || undefined;
  } while (token);
  return segments;
}

/** What the instance cost from its launch until `endMs`, or undefined (unpriced). */
export async function instanceCost(ec2: Ec2Send, instance: InstanceRef, endMs: number): Promise<number | undefined> {
  const startMs = Date.parse(instance.launchedAt);
  if (instance.market === 'on-demand') {
    const price = ON_DEMAND_USD_PER_HOUR[instance.instanceType];
    return price === undefined ? undefined : costBetween([{ fromMs: startMs, usdPerHour: price }], startMs, endMs);
  }
  try {
    return costBetween(await spotPrices(ec2, instance, startMs, endMs), startMs, endMs);
  } catch (err) {
    logger.warn('could not read the spot price history; the attempt stays unpriced', { instanceId: instance.id, error: errorCode(err) });
    return undefined;
  }
}
