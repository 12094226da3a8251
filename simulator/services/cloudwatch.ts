/**
 * Simulated Amazon CloudWatch metrics. The AWS behaviour it follows: PutMetricData records each
 * datum of MetricData under the request's Namespace, with its MetricName, Value and Dimensions,
 * timestamped when received, and answers an empty result (CloudWatch API reference,
 * "PutMetricData" and "MetricDatum": Timestamp defaults to the time the data was received).
 * Not simulated: a datum's own Timestamp, Values/Counts, StatisticValues, units; a datum without
 * a Value is recorded as 0.
 */
import type { SimulatedAccount } from './account';

export function putMetricData(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const data = (input.MetricData ?? []) as { MetricName?: string; Value?: number; Dimensions?: { Name?: string; Value?: string }[] }[];
  for (const d of data) {
    account.metrics.push({
      namespace: String(input.Namespace),
      name: String(d.MetricName),
      value: d.Value ?? 0,
      dimensions: Object.fromEntries((d.Dimensions ?? []).map((x) => [x.Name!, x.Value!])),
      at: Date.now(),
    });
  }
  return {};
}
