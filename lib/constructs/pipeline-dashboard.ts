/**
 * The pipeline's CloudWatch dashboard (named after the pipeline): its runs and their outcomes, each
 * phase's duration against its budget, spot interruptions by phase and reason, on-demand fallbacks,
 * what each run cost, orphans reaped, and the alarms.
 *
 * Every custom metric comes from the catalogue (contract/metrics.ts): a widget per metric name, its
 * dimensions and statistic read from the definition, so a metric added there shows here without
 * retyping a name. Metrics with more dimensions than the pipeline's are shown by a SEARCH
 * expression over the catalogue's dimension set (a line per phase and reason, whatever values the
 * runs put), narrowed to this pipeline (its Pipeline dimension, or its phase names).
 *
 * Built on aws-cdk-lib's own aws-cloudwatch constructs rather than a monitoring library such as
 * cdk-monitoring-constructs: that library's facades monitor AWS resources by kind (Lambda, Step
 * Functions, queues) with their own metric and alarm conventions, while what the operator needs here
 * is the pipeline's own catalogue of custom metrics read its way (SEARCH by dimension, budgets as
 * annotations); a dependency whose aws-cdk-lib peer range must follow ours would buy little.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRICS, type MetricDefinition } from '../../contract/metrics';

export interface PipelineDashboardProps {
  readonly pipelineName: string;
  readonly metricNamespace: string;
  readonly pipeline: sfn.StateMachine;
  /** Every phase (build stages' included) with its budget, in pipeline order. */
  readonly phases: readonly { readonly name: string; readonly budgetSeconds: number }[];
  readonly alarms: readonly cloudwatch.IAlarm[];
}

/** Runs are weekly: a day per point shows each run as one. */
const RUN_PERIOD = Duration.days(1);
const WIDTH = 24;
const HALF = 12;

/** How a catalogued metric is read: a count summed over the period; a duration at its longest (a repeated datum changes nothing). */
const statisticOf = (definition: MetricDefinition): string => (definition.unit === 'Seconds' ? 'Maximum' : 'Sum');

/** A search-expression string literal: double quotes, with backslashes and double quotes escaped. */
const quoted = (value: string): string => `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
/**
 * A name in a search's metric schema ({Namespace,Dimension,...}): as it is, or quoted when it holds
 * characters other than those of the documented unquoted examples (letters, digits, _ . - /); the
 * "CloudWatch search expression syntax" page asks for quotes around names with spaces or other characters.
 */
const schemaName = (name: string): string => (/^[A-Za-z0-9_./-]+$/.test(name) ? name : quoted(name));

export class PipelineDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: PipelineDashboardProps) {
    super(scope, id);
    const { pipelineName, metricNamespace: namespace } = props;
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: pipelineName,
      defaultInterval: Duration.days(35),
      periodOverride: cloudwatch.PeriodOverride.INHERIT,
    });

    const metric = (definition: MetricDefinition, dimensionsMap: Record<string, string>, label?: string) =>
      new cloudwatch.Metric({ namespace, metricName: definition.name, dimensionsMap, statistic: statisticOf(definition), period: RUN_PERIOD, label });
    /** Every series of a catalogued metric with this dimension set that belongs to this pipeline. */
    const search = (definition: MetricDefinition, label: string) => {
      const dimensions = [namespace, ...definition.dimensions].map(schemaName).join(',');
      const mine = definition.dimensions.includes('Pipeline')
        ? `Pipeline=${quoted(pipelineName)}`
        : `(${props.phases.map((p) => `Phase=${quoted(p.name)}`).join(' OR ')})`;
      return new cloudwatch.SearchExpression({
        expression: `SEARCH('{${dimensions}} MetricName=${quoted(definition.name)} ${mine}', '${statisticOf(definition)}', ${RUN_PERIOD.toSeconds()})`,
        label,
        period: RUN_PERIOD,
      });
    };

    // The catalogue, grouped by metric name (one metric may be put with more than one dimension set).
    const byName = new Map<string, MetricDefinition[]>();
    for (const definition of Object.values(METRICS) as MetricDefinition[]) byName.set(definition.name, [...(byName.get(definition.name) ?? []), definition]);
    const catalogueWidget = (name: string, title: string, height = 6, width = HALF): cloudwatch.IWidget => {
      const definitions = byName.get(name) ?? [];
      byName.delete(name);
      const series = definitions.map((d) => (d.dimensions.length === 1 && d.dimensions[0] === 'Pipeline' ? metric(d, { Pipeline: pipelineName }, name) : search(d, `${name} by ${d.dimensions.filter((x) => x !== 'Pipeline').join(', ')}`)));
      return new cloudwatch.GraphWidget({ title, left: series, width, height, view: cloudwatch.GraphWidgetView.TIME_SERIES, statistic: statisticOf(definitions[0]!), leftYAxis: { min: 0 }, stacked: definitions[0]!.unit === 'Count' });
    };

    const executions = (stat: 'Started' | 'Succeeded' | 'Failed' | 'TimedOut' | 'Aborted') => {
      const options = { period: RUN_PERIOD, statistic: 'Sum', label: stat };
      switch (stat) {
        case 'Started':
          return props.pipeline.metricStarted(options);
        case 'Succeeded':
          return props.pipeline.metricSucceeded(options);
        case 'Failed':
          return props.pipeline.metricFailed(options);
        case 'TimedOut':
          return props.pipeline.metricTimedOut(options);
        case 'Aborted':
          return props.pipeline.metricAborted(options);
      }
    };
    const region = Stack.of(this).region;

    // Phase durations against their budgets: one line per phase, each budget a horizontal wall.
    const durations = byName.get(METRICS.phaseDurationSeconds.name) ?? [];
    byName.delete(METRICS.phaseDurationSeconds.name);
    const durationWidget = new cloudwatch.GraphWidget({
      title: 'Phase durations (longest run or shard per day) against their budgets, seconds',
      left: durations.flatMap((d) => props.phases.map((p) => metric(d, { Pipeline: pipelineName, Phase: p.name }, p.name))),
      leftAnnotations: props.phases.map((p) => ({ value: p.budgetSeconds, label: `${p.name} budget (${Math.round(p.budgetSeconds / 60)} min)` })),
      leftYAxis: { min: 0 },
      width: WIDTH,
      height: 8,
    });

    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown:
          `# ${pipelineName}\n` +
          `Runs of the [${pipelineName} state machine](https://${region}.console.aws.amazon.com/states/home?region=${region}#/statemachines), ` +
          `its phases against their budgets, spot interruptions absorbed, on-demand fallbacks and cost. Metrics in namespace \`${namespace}\`.`,
        width: WIDTH,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Runs and their outcomes (per day)',
        left: (['Started', 'Succeeded', 'Failed', 'TimedOut', 'Aborted'] as const).map(executions),
        view: cloudwatch.GraphWidgetView.BAR,
        width: HALF,
        height: 6,
      }),
      catalogueWidget(METRICS.pipelineCostUsd.name, 'What each run cost, USD (instances: spot price history or on-demand)'),
    );
    this.dashboard.addWidgets(durationWidget);
    this.dashboard.addWidgets(
      catalogueWidget(METRICS.spotInterruptionRetry.name, 'Spot interruptions absorbed (relaunches), by phase and reason'),
      catalogueWidget(METRICS.onDemandFallback.name, 'Fallbacks to on-demand, by phase and trigger'),
    );
    this.dashboard.addWidgets(
      catalogueWidget(METRICS.spotRetryBudgetExhausted.name, 'Phases that gave up after spot interruptions', 6, 8),
      catalogueWidget(METRICS.orphansReaped.name, 'Orphaned instances reaped', 6, 8),
      catalogueWidget(METRICS.modelPromoted.name, 'Promotion gate decisions (1 promoted, 0 kept)', 6, 8),
    );
    // Whatever the catalogue holds beyond these (a metric added later) still gets its widget.
    for (const name of [...byName.keys()]) this.dashboard.addWidgets(catalogueWidget(name, name, 6, WIDTH));
    this.dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: [...props.alarms], width: WIDTH, height: 3 }));
  }
}
