/**
 * The metrics catalogue: every CloudWatch metric the pipeline puts, its dimensions and unit,
 * defined once. The handlers build their data from it, the stack builds its alarms from it, and
 * the simulator's checks read the same names.
 */
export interface MetricDefinition<D extends string = string> {
  readonly name: string;
  /** Dimension names, in the order every datum carries them. */
  readonly dimensions: readonly D[];
  readonly unit: 'Count' | 'None' | 'Seconds';
  readonly description: string;
}

/** A metric of the catalogue, its unit kept exact (the relaunch data's schema admits counts only). */
const metric = <D extends string, U extends MetricDefinition['unit']>(definition: MetricDefinition<D> & { readonly unit: U }): MetricDefinition<D> & { readonly unit: U } => definition;

export const METRICS = {
  /** One datum per relaunch after a spot interruption (launch-time exhaustion included). */
  spotInterruptionRetry: metric({
    name: 'SpotInterruptionRetry',
    dimensions: ['Phase', 'Reason'],
    unit: 'Count',
    description: 'a spot interruption absorbed by relaunching the phase on fresh capacity',
  }),
  /** The same metric for a shard of a sharded phase: its datum carries the shard too. */
  spotInterruptionRetryByShard: metric({
    name: 'SpotInterruptionRetry',
    dimensions: ['Phase', 'Shard', 'Reason'],
    unit: 'Count',
    description: 'a spot interruption absorbed by relaunching a shard of the phase on fresh capacity',
  }),
  /** One datum when a phase's attempts fall back from spot to on-demand (config onDemandFallback), by what made it. */
  onDemandFallback: metric({
    name: 'OnDemandFallback',
    dimensions: ['Phase', 'Trigger'],
    unit: 'Count',
    description: 'a phase fell back to on-demand: the last attempt its budget affords, spot capacity exhausted, or too many interruptions',
  }),
  /** One datum when a phase gives up after spot interruptions (its budget cannot hold another attempt). */
  spotRetryBudgetExhausted: metric({
    name: 'SpotRetryBudgetExhausted',
    dimensions: ['Pipeline'],
    unit: 'Count',
    description: 'a phase gave up after spot interruptions: its budget could not hold another attempt',
  }),
  /** One datum per promotion gate decision: 1 promoted, 0 kept (dry runs included). */
  modelPromoted: metric({
    name: 'ModelPromoted',
    dimensions: ['Pipeline', 'Gate'],
    unit: 'Count',
    description: 'a promotion gate decided: 1 the candidate was promoted, 0 production was kept',
  }),
  /** One datum per end of a pipeline run (the original run and each redrive): what its instances cost, USD (contract/prices.ts). */
  pipelineCostUsd: metric({
    name: 'PipelineCostUsd',
    dimensions: ['Pipeline'],
    unit: 'None',
    description: 'what the instances of a pipeline run cost, in USD, from the spot price history of their pools or the on-demand price',
  }),
  /**
   * One datum per end of a phase execution (a shard's too, a redriven phase's again): how long it ran,
   * start to stop as Step Functions reports it, for the dashboard to set against the phase's budget.
   * A delivery of the same end twice puts the same value again: read it with the Maximum statistic.
   */
  phaseDurationSeconds: metric({
    name: 'PhaseDurationSeconds',
    dimensions: ['Pipeline', 'Phase'],
    unit: 'Seconds',
    description: 'how long a phase execution ran, start to end, whatever its end',
  }),
  /** One datum per orphan sweep: the instances it terminated. */
  orphansReaped: metric({
    name: 'OrphansReaped',
    dimensions: ['Pipeline'],
    unit: 'Count',
    description: 'pipeline instances the reaper terminated because no running execution owned them',
  }),
} as const;

type DimensionsOf<M> = M extends MetricDefinition<infer D> ? D : never;

/** A datum as PutMetricData takes it (structurally the SDK's MetricDatum). */
export interface MetricDatum {
  readonly MetricName: string;
  readonly Value: number;
  readonly Unit: 'Count' | 'None' | 'Seconds';
  readonly Timestamp: Date;
  readonly Dimensions: { Name: string; Value: string }[];
}

/** A datum of a catalogued metric, its dimensions in catalogue order. */
export function metricDatum<M extends MetricDefinition>(definition: M, dimensions: Record<DimensionsOf<M>, string>, value: number, at: Date): MetricDatum {
  return {
    MetricName: definition.name,
    Value: value,
    Unit: definition.unit,
    Timestamp: at,
    Dimensions: definition.dimensions.map((name) => ({ Name: name, Value: (dimensions as Record<string, string>)[name]! })),
  };
}
