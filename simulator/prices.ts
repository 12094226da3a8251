/**
 * The prices of the simulated cloud (scenario `prices`, v2): what DescribeSpotPriceHistory answers
 * and what the report prices each launch at. Pools the scenario does not price use the built-in
 * table: on-demand, the pipeline's own table (contract/prices.ts: US East on-demand prices); spot, a
 * third of that, a typical spot discount, rounded to a ten-thousandth of a dollar. The rehearsal's
 * prices are illustrative; a real run reads its region's spot history.
 */
import { ON_DEMAND_USD_PER_HOUR } from '../contract/prices';
import { poolMatches, type Scenario } from './scenario';

export const BUILT_IN_SPOT_FRACTION = 1 / 3;

/** USD per hour of a pool ("type/zone") in a market, or undefined (unpriced). */
export function priceOf(scenario: Scenario, pool: string, market: 'spot' | 'on-demand'): number | undefined {
  const [type] = pool.split('/') as [string, string];
  const onDemand = scenario.prices?.onDemand && Object.hasOwn(scenario.prices.onDemand, type) ? scenario.prices.onDemand[type] : ON_DEMAND_USD_PER_HOUR[type];
  if (market === 'on-demand') return onDemand;
  const listed = Object.entries(scenario.prices?.spot ?? {}).find(([pattern]) => poolMatches(pattern, pool));
  if (listed) return listed[1];
  return onDemand === undefined ? undefined : Math.round(onDemand * BUILT_IN_SPOT_FRACTION * 1e4) / 1e4;
}
