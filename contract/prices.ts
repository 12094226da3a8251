/**
 * What an instance-hour costs, for the cost of every attempt (decisions/cost.ts).
 *
 * - Spot: the pool's own price history, from EC2 DescribeSpotPriceHistory (ProductDescription
 *   "Linux/UNIX", the instance type in the attempt's Availability Zone), in the deploy region. "When
 *   you specify a start and end time, the operation returns the prices of the instance types within
 *   that time range. It also returns the last price change before the start time, which is the
 *   effective price as of the start time" (EC2 API reference, "DescribeSpotPriceHistory").
 * - On-demand: the Linux On-Demand prices of US East (N. Virginia) on the Amazon EC2 On-Demand
 *   pricing page (https://aws.amazon.com/ec2/pricing/on-demand/), for the types below. Other
 *   regions and types differ: an attempt on a type not listed has no on-demand cost (reported as
 *   unpriced), never a guess.
 */
export const ON_DEMAND_USD_PER_HOUR: Readonly<Record<string, number>> = {
  't3.medium': 0.0416,
  'c5.large': 0.085,
  'c5.xlarge': 0.17,
  'c5.2xlarge': 0.34,
  'c5.4xlarge': 0.68,
  'c5a.large': 0.077,
  'c5a.xlarge': 0.154,
  'c5a.2xlarge': 0.308,
  'c6i.large': 0.085,
  'c6i.xlarge': 0.17,
  'c6i.2xlarge': 0.34,
  'm5.large': 0.096,
  'm5.xlarge': 0.192,
  'm5.2xlarge': 0.384,
  'm5.4xlarge': 0.768,
  'r5.2xlarge': 0.504,
  'r6i.2xlarge': 0.504,
  'c7g.large': 0.0725,
  'c7g.xlarge': 0.145,
  'm6g.large': 0.077,
  'g4dn.xlarge': 0.526,
  'g5.xlarge': 1.006,
  'p3.2xlarge': 3.06,
};

/** The Linux/UNIX product description spot prices are read for (the pipeline's images run Linux). */
export const SPOT_PRODUCT_DESCRIPTION = 'Linux/UNIX';

/** One price in effect from `fromMs` until the next segment's (or for good). */
export interface PriceSegment {
  readonly fromMs: number;
  readonly usdPerHour: number;
}
