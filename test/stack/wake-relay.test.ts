/**
 * The wake relay in the stack: the EventBridge rules (the events AWS documents, contract/events.ts),
 * their target, what the relay may do, and the callback wait it ends.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadPipelineConfig } from '../../lib/config/load';
import { SpotPipelineStack } from '../../lib/spot-pipeline-stack';
import { synthTemplate } from '../../simulator/synth';
import { deployedStateMachines } from '../../simulator/template';

type Statement = { Action: string | string[]; Resource: unknown; Condition?: unknown };
let template: Template;

beforeAll(() => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  template = Template.fromStack(new SpotPipelineStack(app, 'S', { config: loadPipelineConfig() }));
});

const relayRules = () =>
  Object.values(template.findResources('AWS::Events::Rule')).filter((r) => JSON.stringify(r.Properties.Targets).includes('WakeRelayWakePhaseFn'));

describe('the wake relay', () => {
  it('listens for spot\'s warning and rebalance advice, instances ending and Run Command invocations that ended', () => {
    // Act
    const patterns = relayRules().map((r) => r.Properties.EventPattern as Record<string, unknown>);

    // Assess
    expect(patterns).toEqual([
      { source: ['aws.ec2'], 'detail-type': ['EC2 Spot Instance Interruption Warning', 'EC2 Instance Rebalance Recommendation'] },
      { source: ['aws.ec2'], 'detail-type': ['EC2 Instance State-change Notification'], detail: { state: ['shutting-down', 'terminated', 'stopping', 'stopped'] } },
      {
        source: ['aws.ssm'],
        'detail-type': ['EC2 Command Invocation Status-change Notification'],
        detail: {
          status: ['Success', 'Failed', 'TimedOut', 'Cancelled', 'Undeliverable', 'Terminated', 'Delivery Timed Out', 'Execution Timed Out', 'Incomplete'],
          'document-name': ['AWS-RunShellScript'],
        },
      },
    ]);
    // A late wake is worthless: few retries, a short event age.
    for (const rule of relayRules()) expect(rule.Properties.Targets[0]).toMatchObject({ RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 300 } });
  });

  it('may read the waiting tokens, answer the SpotPhase state machine\'s tasks, and record pool events; nothing else', () => {
    // Act
    const statements = Object.entries(template.findResources('AWS::IAM::Policy'))
      .filter(([id]) => id.startsWith('WakeRelayWakePhaseFnServiceRole'))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Statement[]);

    // Assess
    const actions = statements.flatMap((s) => [s.Action].flat()).sort();
    // (Its own log stream and X-Ray traces, as every pipeline function.)
    expect(actions).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents', 's3:GetObject', 's3:ListBucket', 's3:ListBucket', 's3:PutObject', 'states:SendTaskFailure', 'states:SendTaskHeartbeat', 'states:SendTaskSuccess', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
    expect(JSON.stringify(statements.find((s) => s.Action === 's3:GetObject')!.Resource)).toContain('/saturday-pipeline/waits/*');
    // Listing the waits/ prefix makes a token nobody stored a 404 (NoSuchKey), not a 403, for the relay to ignore.
    expect(statements.filter((s) => s.Action === 's3:ListBucket').map((s) => JSON.stringify(s.Condition))).toContain(JSON.stringify({ StringLike: { 's3:prefix': ['saturday-pipeline/waits/*'] } }));
    expect(JSON.stringify(statements.find((s) => [s.Action].flat().includes('states:SendTaskSuccess'))!.Resource)).toContain('SpotPhase');
  });

  it('the SpotPhase wait it ends: a callback task storing its token by instance, timing out into the poll, falling back to the timer', () => {
    // Prepare, Act: the definition as deployed (references resolved as the simulator deploys them).
    const deployed = deployedStateMachines(synthTemplate(loadPipelineConfig()));
    const definition = deployed.find((m) => m.name === 'saturday-pipeline-spot-phase')!.definition;

    // Assess
    const wait = (definition as { States: Record<string, Record<string, unknown>> }).States.AwaitWorkloadEvent!;
    expect(wait).toMatchObject({
      Type: 'Task',
      Resource: 'arn:aws:states:::aws-sdk:s3:putObject.waitForTaskToken',
      TimeoutSecondsPath: '$.job.nextWaitSeconds',
      Next: 'PollWorkload',
      ResultPath: null,
      Catch: [
        { ErrorEquals: ['States.Timeout'], Next: 'PollWorkload' },
        { ErrorEquals: ['States.ALL'], Next: 'WaitToPoll' },
      ],
    });
    expect(wait.Parameters).toMatchObject({ 'Body.$': '$$.Task.Token', 'Key.$': "States.Format('saturday-pipeline/waits/{}', $.job.instance.id)" });
  });
});
