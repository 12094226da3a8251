/**
 * The operator's dashboard in the synthesized template (every metric the pipeline puts, the phases'
 * budgets, the alarms), and several pipelines per account: two configs synthesize to two stacks
 * whose named resources do not collide.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { allPhases } from '../../contract/config';
import { METRICS } from '../../contract/metrics';
import { SATURDAY_PIPELINE } from '../../lib/config/defaults';
import { loadPipelineConfig, parsePipelineConfig } from '../../lib/config/load';
import { pipelineStackName, SpotPipelineStack } from '../../lib/spot-pipeline-stack';

interface Widget {
  readonly type: string;
  readonly properties: { title?: string; metrics?: unknown[][]; annotations?: { horizontal?: { value: number; label: string }[] }; alarms?: string[]; markdown?: string };
}

/** The dashboard body as CloudWatch reads it, every CloudFormation token in it standing as "TOKEN". */
function dashboardBody(template: Template): { widgets: Widget[] } {
  const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard')) as { Properties: { DashboardBody: unknown } }[];
  const body = dashboard!.Properties.DashboardBody as string | { 'Fn::Join': [string, unknown[]] };
  const text = typeof body === 'string' ? body : body['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : 'TOKEN')).join('');
  return JSON.parse(text) as { widgets: Widget[] };
}

const config = loadPipelineConfig();
let template: Template;
beforeAll(() => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  template = Template.fromStack(new SpotPipelineStack(app, pipelineStackName(config.pipelineName), { config }));
});

describe('the dashboard', () => {
  it('is named after the pipeline', () => {
    // Assess
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'saturday-pipeline' });
  });

  it('shows every metric of the catalogue, in the pipeline\'s namespace, and the runs\' outcomes', () => {
    // Act
    const text = JSON.stringify(dashboardBody(template));

    // Assess: each catalogued name (as a metric or in a SEARCH expression), and Step Functions' own execution metrics.
    for (const definition of Object.values(METRICS)) expect(text, definition.name).toContain(definition.name);
    for (const name of ['ExecutionsStarted', 'ExecutionsSucceeded', 'ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionsAborted']) expect(text).toContain(name);
    expect(text).toContain('AlphaEngine');
  });

  it('breaks spot interruptions down by phase and reason (shards too), for this pipeline\'s phases only', () => {
    // Act
    const widget = dashboardBody(template).widgets.find((w) => w.properties.title?.startsWith('Spot interruptions'));

    // Assess
    const expressions = (widget?.properties.metrics ?? []).map((m) => (m[0] as { expression?: string }).expression).filter(Boolean);
    expect(expressions).toEqual([
      `SEARCH('{AlphaEngine,Phase,Reason} MetricName="SpotInterruptionRetry" (Phase="DataPhase1" OR Phase="Research" OR Phase="PredictorTraining" OR Phase="Backtester")', 'Sum', 86400)`,
      `SEARCH('{AlphaEngine,Phase,Shard,Reason} MetricName="SpotInterruptionRetry" (Phase="DataPhase1" OR Phase="Research" OR Phase="PredictorTraining" OR Phase="Backtester")', 'Sum', 86400)`,
    ]);
  });

  it('quotes a namespace the search syntax cannot take bare, and narrows by the pipeline dimension where the metric has one', () => {
    // Prepare
    const odd = parsePipelineConfig({ ...structuredClone(SATURDAY_PIPELINE), metricNamespace: 'Alpha:Engine#1' });
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });

    // Act
    const text = JSON.stringify(dashboardBody(Template.fromStack(new SpotPipelineStack(app, 'Odd', { config: odd }))));

    // Assess
    expect(text).toContain(`SEARCH('{\\"Alpha:Engine#1\\",Phase,Reason} MetricName=\\"SpotInterruptionRetry\\"`);
    expect(text).toContain(`SEARCH('{\\"Alpha:Engine#1\\",Pipeline,Gate} MetricName=\\"ModelPromoted\\" Pipeline=\\"saturday-pipeline\\"`);
  });

  it('draws each phase\'s duration against its budget', () => {
    // Act
    const widget = dashboardBody(template).widgets.find((w) => w.properties.title?.startsWith('Phase durations'));

    // Assess: a line per phase (the longest run of the day), a wall at each budget.
    const lines = (widget?.properties.metrics ?? []).map((m) => m.filter((x) => typeof x === 'string'));
    expect(lines).toEqual(allPhases(config).map((p) => ['AlphaEngine', 'PhaseDurationSeconds', 'Phase', p.name, 'Pipeline', 'saturday-pipeline']));
    expect(widget?.properties.annotations?.horizontal).toEqual(allPhases(config).map((p) => expect.objectContaining({ value: p.budgetSeconds, label: `${p.name} budget (${Math.round(p.budgetSeconds / 60)} min)` })));
  });

  it('shows the state of every alarm of the pipeline', () => {
    // Act
    const widget = dashboardBody(template).widgets.find((w) => w.type === 'alarm');

    // Assess
    expect(widget?.properties.alarms).toHaveLength(Object.keys(template.findResources('AWS::CloudWatch::Alarm')).length);
  });
});

describe('several pipelines per account', () => {
  it('two configs synthesize to two stacks, named after their pipelines, whose named resources do not collide', () => {
    // Prepare
    const second = parsePipelineConfig({ ...structuredClone(SATURDAY_PIPELINE), pipelineName: 'nightly-etl' });
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });

    // Act
    const stacks = [config, second].map((c) => new SpotPipelineStack(app, pipelineStackName(c.pipelineName), { config: c }));
    const assembly = app.synth();

    // Assess: the physical names each stack sets (state machines, log groups, dashboard, ...) are its own.
    expect(assembly.stacks.map((s) => s.stackName).sort()).toEqual(['nightly-etl', 'saturday-pipeline']);
    const named = stacks.map((stack) => {
      const names: string[] = [];
      for (const resource of Object.values(Template.fromStack(stack).toJSON().Resources as Record<string, { Type: string; Properties?: Record<string, unknown> }>)) {
        for (const [key, value] of Object.entries(resource.Properties ?? {})) {
          if (/^(StateMachineName|LogGroupName|DashboardName|AlarmName|BucketName|TopicName|QueueName|FunctionName|RoleName|Name|LaunchTemplateName|ScheduleGroupName|GroupName)$/.test(key) && typeof value === 'string') names.push(`${resource.Type} ${value}`);
        }
      }
      return names;
    });
    expect(named[0]!.length).toBeGreaterThan(0);
    expect(named[0]!.filter((n) => named[1]!.includes(n))).toEqual([]);
  });
});
