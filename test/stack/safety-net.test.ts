/**
 * The safety net of the synthesized SpotPipelineStack: the execution-cleanup rule, the orphan
 * reaper's schedule, environment and permissions, and the alarms on the SNS topic. The default
 * stack and one variant (dry-run reaper, alarm email) are each synthesized once.
 */
import { App, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { SATURDAY_PIPELINE } from '../../lib/config/defaults';
import { loadPipelineConfig, parsePipelineConfig } from '../../lib/config/load';
import { allPhases, type PipelineConfig } from '../../contract/config';
import { HANDLER_TAG } from '../../contract/tags';
import { SpotPipelineStack } from '../../lib/spot-pipeline-stack';

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Resource = { Type: string; Properties: Record<string, any> };

const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const resourcesOf = (s: Statement): unknown[] => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);

/** A CloudFormation string expression as readable text: Fn::Join flattened, Ref as ${Id}, Fn::GetAtt as ${Id.Attr}. */
function render(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if ('Ref' in v) return `\${${String(v.Ref)}}`;
    if ('Fn::GetAtt' in v) return `\${${(v['Fn::GetAtt'] as string[]).join('.')}}`;
    if ('Fn::Join' in v) {
      const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
      return parts.map(render).join(sep);
    }
  }
  return JSON.stringify(value);
}

function build(config: PipelineConfig): { stack: SpotPipelineStack; template: Template } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new SpotPipelineStack(app, 'SaturdaySpotPipeline', { config });
  return { stack, template: Template.fromStack(stack) };
}

/** The logical id and resource of the one Lambda function tagged spot-pipeline:handler = handler. */
function functionByHandler(template: Template, handler: string): [string, Resource] {
  const found = Object.entries(
    template.findResources('AWS::Lambda::Function', { Properties: { Tags: Match.arrayWith([{ Key: HANDLER_TAG, Value: handler }]) } }),
  ) as [string, Resource][];
  expect(found, `functions tagged ${HANDLER_TAG}=${handler}`).toHaveLength(1);
  return found[0]!;
}

/** Every statement granted to a function's role (attached policies and inline role policies). */
function roleStatements(template: Template, fn: Resource): Statement[] {
  const roleId = (fn.Properties.Role['Fn::GetAtt'] as string[])[0]!;
  const statements: Statement[] = [];
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy')) as Resource[]) {
    const roles = (policy.Properties.Roles ?? []) as { Ref?: string }[];
    if (roles.some((r) => r.Ref === roleId)) statements.push(...(policy.Properties.PolicyDocument.Statement as Statement[]));
  }
  const role = template.toJSON().Resources[roleId] as Resource;
  for (const p of (role.Properties.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[]) statements.push(...p.PolicyDocument.Statement);
  return statements;
}

/** The logical ids of the rules targeting a function. */
function rulesTargeting(template: Template, fnId: string): [string, Resource][] {
  return (Object.entries(template.findResources('AWS::Events::Rule')) as [string, Resource][]).filter(([, rule]) =>
    ((rule.Properties.Targets ?? []) as { Arn: unknown }[]).some((t) => JSON.stringify(t.Arn) === JSON.stringify({ 'Fn::GetAtt': [fnId, 'Arn'] })),
  );
}

const logicalId = (stack: SpotPipelineStack, element: { node: { defaultChild?: unknown } }): string => stack.getLogicalId(element.node.defaultChild as CfnElement);

let config: PipelineConfig;
let stack: SpotPipelineStack;
let template: Template;
let pipelineId: string;
let spotPhaseId: string;
let topicId: string;

beforeAll(() => {
  config = loadPipelineConfig();
  ({ stack, template } = build(config));
  pipelineId = logicalId(stack, stack.pipeline);
  spotPhaseId = logicalId(stack, stack.spotPhase);
  topicId = logicalId(stack, stack.safetyNet.alarmTopic);
});

describe('execution cleanup', () => {
  it('a rule sends every end (SUCCEEDED too: a task may leave an instance to it) of both state machines to the execution-cleanup function', () => {
    // Prepare
    const [cleanupId] = functionByHandler(template, 'execution-cleanup');

    // Act
    const rules = rulesTargeting(template, cleanupId);

    // Assess
    expect(rules).toHaveLength(1);
    const [, rule] = rules[0]!;
    const pattern = rule.Properties.EventPattern;
    expect(pattern.source).toEqual(['aws.states']);
    expect(pattern['detail-type']).toEqual(['Step Functions Execution Status Change']);
    expect([...pattern.detail.status].sort()).toEqual(['ABORTED', 'FAILED', 'SUCCEEDED', 'TIMED_OUT']);
    expect(pattern.detail.stateMachineArn).toHaveLength(2);
    expect(pattern.detail.stateMachineArn).toEqual(expect.arrayContaining([{ Ref: pipelineId }, { Ref: spotPhaseId }]));
    expect(rule.Properties.State ?? 'ENABLED').toBe('ENABLED');
    expect(rule.Properties.ScheduleExpression).toBeUndefined();
  });

  it('EventBridge may invoke the execution-cleanup function', () => {
    // Prepare
    const [cleanupId] = functionByHandler(template, 'execution-cleanup');
    const [ruleId] = rulesTargeting(template, cleanupId)[0]!;

    // Act
    const permissions = template.findResources('AWS::Lambda::Permission', {
      Properties: { FunctionName: { 'Fn::GetAtt': [cleanupId, 'Arn'] }, Principal: 'events.amazonaws.com', SourceArn: { 'Fn::GetAtt': [ruleId, 'Arn'] } },
    });

    // Assess
    expect(Object.keys(permissions)).toHaveLength(1);
  });

  it("the execution-cleanup function may terminate only the pipeline's instances", () => {
    // Prepare
    const [, cleanup] = functionByHandler(template, 'execution-cleanup');

    // Act
    const statements = roleStatements(template, cleanup);

    // Assess
    const terminate = statements.filter((s) => actionsOf(s).includes('ec2:TerminateInstances'));
    expect(terminate).toHaveLength(1);
    expect(terminate[0]!.Condition?.StringEquals?.['aws:ResourceTag/spot-pipeline:pipeline']).toBe('saturday-pipeline');
    expect(resourcesOf(terminate[0]!).map(render)).toEqual(['arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:instance/*']);
    expect(statements.some((s) => actionsOf(s).includes('ec2:DescribeInstances'))).toBe(true);
  });
});

describe('orphan reaper', () => {
  it('runs every 30 minutes', () => {
    // Prepare
    const [reaperId] = functionByHandler(template, 'reap-orphans');

    // Act
    const rules = rulesTargeting(template, reaperId);

    // Assess
    expect(rules).toHaveLength(1);
    expect(rules[0]![1].Properties.ScheduleExpression).toBe('rate(30 minutes)');
    expect(rules[0]![1].Properties.EventPattern).toBeUndefined();
    template.hasResourceProperties('AWS::Lambda::Permission', {
      FunctionName: { 'Fn::GetAtt': [reaperId, 'Arn'] },
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [rules[0]![0], 'Arn'] },
    });
  });

  it('is configured: not a dry run, the pipeline name, the metric namespace, and the longest phase budget + margin + 1800 s as maximum age', () => {
    // Prepare
    const longestBudget = Math.max(...allPhases(config).map((p) => p.budgetSeconds));
    const expectedMaxAge = longestBudget + config.cleanupMarginSeconds + 1800;

    // Act
    const [, reaper] = functionByHandler(template, 'reap-orphans');

    // Assess
    expect(longestBudget).toBe(10_800);
    expect(expectedMaxAge).toBe(12_900);
    expect(reaper.Properties.Environment.Variables).toEqual({
      DRY_RUN: 'false',
      PIPELINE_NAME: 'saturday-pipeline',
      METRIC_NAMESPACE: 'AlphaEngine',
      MAX_AGE_SECONDS: String(expectedMaxAge),
    });
  });

  it('may describe only executions of the two state machines (no "*" resource)', () => {
    // Prepare
    const [, reaper] = functionByHandler(template, 'reap-orphans');

    // Act
    const describe = roleStatements(template, reaper).filter((s) => actionsOf(s).some((a) => a === 'states:DescribeExecution' || a === 'states:*' || a === '*'));

    // Assess
    expect(describe).toHaveLength(1);
    expect(actionsOf(describe[0]!)).toEqual(['states:DescribeExecution']);
    expect(describe[0]!.Effect).toBe('Allow');
    const resources = resourcesOf(describe[0]!).map(render).sort();
    expect(resources).toEqual(
      [
        `arn:\${AWS::Partition}:states:\${AWS::Region}:\${AWS::AccountId}:execution:\${${pipelineId}.Name}:*`,
        `arn:\${AWS::Partition}:states:\${AWS::Region}:\${AWS::AccountId}:execution:\${${spotPhaseId}.Name}:*`,
      ].sort(),
    );
    for (const r of resources) expect(r).not.toBe('*');
  });

  it("may terminate only the pipeline's instances", () => {
    // Prepare
    const [, reaper] = functionByHandler(template, 'reap-orphans');

    // Act
    const terminate = roleStatements(template, reaper).filter((s) => actionsOf(s).includes('ec2:TerminateInstances'));

    // Assess
    expect(terminate).toHaveLength(1);
    expect(terminate[0]!.Condition?.StringEquals?.['aws:ResourceTag/spot-pipeline:pipeline']).toBe('saturday-pipeline');
    expect(resourcesOf(terminate[0]!).map(render)).toEqual(['arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:instance/*']);
  });

  it('may put metrics only in the pipeline namespace', () => {
    // Prepare
    const [, reaper] = functionByHandler(template, 'reap-orphans');

    // Act
    const putMetric = roleStatements(template, reaper).filter((s) => actionsOf(s).includes('cloudwatch:PutMetricData'));

    // Assess
    expect(putMetric).toHaveLength(1);
    expect(putMetric[0]!.Condition?.StringEquals?.['cloudwatch:namespace']).toBe('AlphaEngine');
  });
});

describe('alarms', () => {
  it('there are five, each notifying the alarm topic', () => {
    // Prepare
    const type = 'AWS::CloudWatch::Alarm';

    // Act
    const alarms = Object.values(template.findResources(type)) as Resource[];

    // Assess
    expect(alarms).toHaveLength(5);
    template.resourceCountIs('AWS::SNS::Topic', 1);
    for (const a of alarms) expect(a.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
    expect(alarms.map((a) => a.Properties.MetricName).sort()).toEqual(['ApproximateNumberOfMessagesVisible', 'ExecutionsFailed', 'ExecutionsTimedOut', 'OrphansReaped', 'SpotRetryBudgetExhausted']);
  });

  it('a status-change event whose cleanup fails after every retry is kept in an encrypted queue, and alarmed on', () => {
    // Prepare
    const fn = Object.entries(template.findResources('AWS::Lambda::Function')).find(([, r]) =>
      ((r as Resource).Properties.Tags as { Key: string; Value: string }[] | undefined)?.some((t) => t.Key === 'spot-pipeline:handler' && t.Value === 'execution-cleanup'),
    )!;

    // Act
    const invokeConfigs = Object.values(template.findResources('AWS::Lambda::EventInvokeConfig')) as Resource[];
    const queues = template.findResources('AWS::SQS::Queue');

    // Assess
    const config = invokeConfigs.find((c) => JSON.stringify(c.Properties.FunctionName) === JSON.stringify({ Ref: fn[0] }))!;
    expect(config.Properties.MaximumRetryAttempts).toBe(2);
    const destination = (config.Properties.DestinationConfig as { OnFailure: { Destination: unknown } }).OnFailure.Destination;
    const [queueId, queue] = Object.entries(queues)[0]!;
    expect(destination).toEqual({ 'Fn::GetAtt': [queueId, 'Arn'] });
    expect((queue as Resource).Properties.SqsManagedSseEnabled).toBe(true);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } }],
      AlarmActions: [{ Ref: topicId }],
    });
  });

  it.each(['ExecutionsFailed', 'ExecutionsTimedOut'])('%s of the pipeline state machine raises an alarm', (metricName) => {
    // Prepare
    const type = 'AWS::CloudWatch::Alarm';

    // Act
    const alarms = template.findResources(type, { Properties: { MetricName: metricName } });

    // Assess
    expect(Object.keys(alarms)).toHaveLength(1);
    template.hasResourceProperties(type, {
      MetricName: metricName,
      Namespace: 'AWS/States',
      Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: pipelineId } }],
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [{ Ref: topicId }],
    });
  });

  it('SpotRetryBudgetExhausted alarms on the datum the SpotPhase state machine puts (the catalogue metric, per pipeline), not on log text', () => {
    // Prepare
    const spotPhase = template.toJSON().Resources[spotPhaseId];
    const roleOf = spotPhase.Properties.RoleArn['Fn::GetAtt'][0];

    // Act
    const filters = template.findResources('AWS::Logs::MetricFilter');
    const policies = Object.values(template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleOf }] } })) as Resource[];
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Condition?: unknown }[]);
    const definition = JSON.stringify(spotPhase.Properties.DefinitionString);

    // Assess
    expect(Object.keys(filters)).toEqual([]);
    expect(statements).toContainEqual(
      expect.objectContaining({ Action: 'cloudwatch:PutMetricData', Condition: { StringEquals: { 'cloudwatch:namespace': 'AlphaEngine' } } }),
    );
    expect(definition).toContain('aws-sdk:cloudwatch:putMetricData');
    expect(definition).toContain('SpotRetryBudgetExhausted');
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'SpotRetryBudgetExhausted',
      Namespace: 'AlphaEngine',
      Dimensions: [{ Name: 'Pipeline', Value: 'saturday-pipeline' }],
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [{ Ref: topicId }],
    });
  });

  it('OrphansReaped of the pipeline raises an alarm', () => {
    // Prepare
    const type = 'AWS::CloudWatch::Alarm';

    // Act
    const alarms = template.findResources(type, { Properties: { MetricName: 'OrphansReaped' } });

    // Assess
    expect(Object.keys(alarms)).toHaveLength(1);
    template.hasResourceProperties(type, {
      MetricName: 'OrphansReaped',
      Namespace: 'AlphaEngine',
      Dimensions: [{ Name: 'Pipeline', Value: 'saturday-pipeline' }],
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [{ Ref: topicId }],
    });
  });

  it('the topic has no email subscription by default', () => {
    // Prepare
    const type = 'AWS::SNS::Subscription';

    // Act
    const subscriptions = template.findResources(type);

    // Assess
    expect(Object.keys(subscriptions)).toHaveLength(0);
  });
});

describe('a config with reaperDryRun and alarmEmail', () => {
  let variant: { stack: SpotPipelineStack; template: Template };

  beforeAll(() => {
    variant = build(parsePipelineConfig({ ...SATURDAY_PIPELINE, alarmEmail: 'ops@example.com', reaperDryRun: true }));
  });

  it('runs the reaper as a dry run (DRY_RUN "true")', () => {
    // Prepare
    const { template: t } = variant;

    // Act
    const [, reaper] = functionByHandler(t, 'reap-orphans');

    // Assess
    expect(reaper.Properties.Environment.Variables.DRY_RUN).toBe('true');
  });

  it('subscribes the email address to the alarm topic', () => {
    // Prepare
    const { stack: s, template: t } = variant;
    const variantTopicId = logicalId(s, s.safetyNet.alarmTopic);

    // Act
    const subscriptions = t.findResources('AWS::SNS::Subscription');

    // Assess
    expect(Object.keys(subscriptions)).toHaveLength(1);
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com', TopicArn: { Ref: variantTopicId } });
  });
});
