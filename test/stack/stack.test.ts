/**
 * The synthesized SpotPipelineStack for the built-in config: state machines, workers' launch
 * template and network, schedules, Lambda settings, outputs and the least-privilege IAM
 * statements. Synthesized once (bundling skipped); assertions use Match, not a snapshot.
 */
import { App, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadPipelineConfig } from '../../lib/config/load';
import { SpotPipelineStack } from '../../lib/spot-pipeline-stack';

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);

/** Every IAM policy statement of the template: policies, managed policies and inline role policies. */
function allStatements(template: Template): Statement[] {
  const docs: { Statement: Statement[] }[] = [];
  for (const r of Object.values(template.findResources('AWS::IAM::Policy'))) docs.push(r.Properties.PolicyDocument);
  for (const r of Object.values(template.findResources('AWS::IAM::ManagedPolicy'))) docs.push(r.Properties.PolicyDocument);
  for (const r of Object.values(template.findResources('AWS::IAM::Role'))) {
    for (const p of (r.Properties.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[]) docs.push(p.PolicyDocument);
  }
  return docs.flatMap((d) => d.Statement);
}

let stack: SpotPipelineStack;
let template: Template;

beforeAll(() => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  stack = new SpotPipelineStack(app, 'SaturdaySpotPipeline', { config: loadPipelineConfig() });
  template = Template.fromStack(stack);
});

describe('state machines', () => {
  it('are two STANDARD machines with X-Ray tracing and ALL-level logs without execution data', () => {
    // Prepare
    const type = 'AWS::StepFunctions::StateMachine';

    // Act
    const machines = template.findResources(type);

    // Assess
    expect(Object.keys(machines)).toHaveLength(2);
    template.allResourcesProperties(type, {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({
        Level: 'ALL',
        IncludeExecutionData: false,
        Destinations: Match.arrayWith([Match.objectLike({ CloudWatchLogsLogGroup: { LogGroupArn: Match.anyValue() } })]),
      }),
    });
    template.hasResourceProperties(type, { StateMachineName: 'saturday-pipeline' });
    template.hasResourceProperties(type, { StateMachineName: 'saturday-pipeline-spot-phase' });
  });
});

describe('workers', () => {
  it('launch from a template requiring IMDSv2, with encrypted EBS, an instance profile and no key pair', () => {
    // Prepare
    const type = 'AWS::EC2::LaunchTemplate';

    // Act
    const templates = Object.values(template.findResources(type));

    // Assess
    expect(templates).toHaveLength(1);
    template.hasResourceProperties(type, {
      LaunchTemplateData: Match.objectLike({
        MetadataOptions: Match.objectLike({ HttpTokens: 'required' }),
        IamInstanceProfile: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('.'), 'Arn'] } },
        KeyName: Match.absent(),
      }),
    });
    const mappings = templates[0]!.Properties.LaunchTemplateData.BlockDeviceMappings as { Ebs?: { Encrypted?: boolean } }[];
    expect(mappings.length).toBeGreaterThan(0);
    for (const m of mappings) expect(m.Ebs?.Encrypted).toBe(true);
  });

  it('use an instance profile holding the EC2 instance role', () => {
    // Prepare
    const lt = Object.values(template.findResources('AWS::EC2::LaunchTemplate'))[0]!;
    const profileId = (lt.Properties.LaunchTemplateData.IamInstanceProfile.Arn['Fn::GetAtt'] as string[])[0]!;

    // Act
    const profile = template.toJSON().Resources[profileId] as { Type: string; Properties: { Roles: { Ref: string }[] } };
    const role = template.toJSON().Resources[profile.Properties.Roles[0]!.Ref];

    // Assess
    expect(profile.Type).toBe('AWS::IAM::InstanceProfile');
    expect(role.Type).toBe('AWS::IAM::Role');
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual(
      expect.arrayContaining([expect.objectContaining({ Principal: { Service: 'ec2.amazonaws.com' } })]),
    );
  });

  it('sit in a security group with no ingress rules', () => {
    // Prepare
    const lt = Object.values(template.findResources('AWS::EC2::LaunchTemplate'))[0]!;
    const sgRefs = lt.Properties.LaunchTemplateData.SecurityGroupIds as { 'Fn::GetAtt': [string, string] }[];

    // Act
    const groups = template.findResources('AWS::EC2::SecurityGroup');

    // Assess
    expect(sgRefs).toHaveLength(1);
    expect(Object.keys(groups)).toContain(sgRefs[0]!['Fn::GetAtt'][0]);
    template.allResourcesProperties('AWS::EC2::SecurityGroup', { SecurityGroupIngress: Match.absent() });
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
  });

  it('get a minimal VPC: 3 public subnets, an internet route and no NAT gateway', () => {
    // Prepare
    const subnetType = 'AWS::EC2::Subnet';

    // Act
    const subnets = template.findResources(subnetType);

    // Assess
    template.resourceCountIs('AWS::EC2::VPC', 1);
    expect(Object.keys(subnets)).toHaveLength(3);
    template.allResourcesProperties(subnetType, { MapPublicIpOnLaunch: true });
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::EIP', 0);
    template.hasResourceProperties('AWS::EC2::Route', { DestinationCidrBlock: '0.0.0.0/0', GatewayId: { Ref: Match.anyValue() } });
  });
});

describe('schedules', () => {
  it.each([
    { mode: 'full', expression: 'cron(0 2 ? * SAT *)' },
    { mode: 'preflight', expression: 'cron(30 13 ? * FRI *)' },
  ])('start the pipeline in $mode mode at $expression Los Angeles time, with retries', ({ mode, expression }) => {
    // Prepare
    const pipelineId = stack.getLogicalId(stack.pipeline.node.defaultChild as CfnElement);

    // Act
    const matching = template.findResources('AWS::Scheduler::Schedule', { Properties: { ScheduleExpression: expression } });

    // Assess
    template.resourceCountIs('AWS::Scheduler::Schedule', 2);
    expect(Object.keys(matching)).toHaveLength(1);
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: expression,
      ScheduleExpressionTimezone: 'America/Los_Angeles',
      State: 'ENABLED',
      Target: Match.objectLike({
        Arn: { Ref: pipelineId },
        Input: Match.serializedJson({ mode }),
        RetryPolicy: Match.objectLike({ MaximumRetryAttempts: 3 }), // schedules.retryAttempts default
      }),
    });
  });
});

describe('Lambda functions', () => {
  it('all run Node.js 22 or later on arm64 with JSON logs', () => {
    // Prepare
    const type = 'AWS::Lambda::Function';

    // Act
    const functions = Object.entries(template.findResources(type));

    // Assess
    expect(functions.length).toBeGreaterThanOrEqual(8);
    for (const [id, fn] of functions) {
      const runtime = /^nodejs(\d+)\.x$/.exec(String(fn.Properties.Runtime));
      expect(runtime, `${id} runtime ${String(fn.Properties.Runtime)}`).not.toBeNull();
      expect(Number(runtime![1]), id).toBeGreaterThanOrEqual(22);
    }
    template.allResourcesProperties(type, {
      Architectures: ['arm64'],
      LoggingConfig: Match.objectLike({ LogFormat: 'JSON' }),
    });
  });
});

describe('outputs', () => {
  it('report the attempts each phase can afford', () => {
    // Prepare
    const expected = 'DataPhase1=2 Research=2 PredictorTraining=2 Backtester=2';

    // Act
    const outputs = template.findOutputs('AffordableAttempts');

    // Assess
    expect(Object.keys(outputs)).toHaveLength(1);
    template.hasOutput('AffordableAttempts', { Value: expected });
  });
});

describe('IAM', () => {
  it('lets TerminateInstances touch only instances tagged with the pipeline', () => {
    // Prepare
    const statements = allStatements(template);

    // Act
    const terminate = statements.filter((s) => actionsOf(s).includes('ec2:TerminateInstances'));

    // Assess
    expect(terminate.length).toBeGreaterThan(0);
    for (const s of terminate) {
      expect(s.Condition?.StringEquals?.['aws:ResourceTag/spot-pipeline:pipeline']).toBe('saturday-pipeline');
    }
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'ec2:TerminateInstances',
            Effect: 'Allow',
            Condition: { StringEquals: { 'aws:ResourceTag/spot-pipeline:pipeline': 'saturday-pipeline' } },
          }),
        ]),
      },
    });
  });

  it('lets PutMetricData write only the AlphaEngine namespace', () => {
    // Prepare
    const statements = allStatements(template);

    // Act
    const putMetric = statements.filter((s) => actionsOf(s).includes('cloudwatch:PutMetricData'));

    // Assess
    expect(putMetric.length).toBeGreaterThan(0);
    for (const s of putMetric) expect(s.Condition?.StringEquals?.['cloudwatch:namespace']).toBe('AlphaEngine');
  });

  it('lets iam:PassRole pass only the instance role', () => {
    // Prepare
    const instanceRoles = template.findResources('AWS::IAM::Role', {
      Properties: {
        AssumeRolePolicyDocument: {
          Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'ec2.amazonaws.com' } })]),
        },
      },
    });
    expect(Object.keys(instanceRoles)).toHaveLength(1);
    const instanceRoleId = Object.keys(instanceRoles)[0]!;

    // Act
    const passRole = allStatements(template).filter((s) => actionsOf(s).some((a) => a === 'iam:PassRole' || a === 'iam:*' || a === '*'));

    // Assess
    expect(passRole.length).toBeGreaterThan(0);
    for (const s of passRole) {
      expect(actionsOf(s)).toEqual(['iam:PassRole']);
      const resources = Array.isArray(s.Resource) ? s.Resource : [s.Resource];
      expect(resources).toEqual([{ 'Fn::GetAtt': [instanceRoleId, 'Arn'] }]);
    }
  });

  it('grants no wildcard ec2 actions', () => {
    // Prepare
    const statements = allStatements(template);

    // Act
    const wildcards = statements.flatMap(actionsOf).filter((a) => a === '*' || a === 'ec2:*');

    // Assess
    expect(wildcards).toEqual([]);
  });
});

describe('runaway protection', () => {
  it('the functions that launch or reap instances have reserved concurrency, so a runaway cannot fan out', () => {
    // Prepare
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as { Properties: { Tags?: { Key: string; Value: string }[]; ReservedConcurrentExecutions?: number } }[];
    const byHandler = (name: string) => functions.find((f) => f.Properties.Tags?.some((t) => t.Key === 'spot-pipeline:handler' && t.Value === name))!;

    // Act
    const launch = byHandler('launch-instance').Properties.ReservedConcurrentExecutions;
    const reaper = byHandler('reap-orphans').Properties.ReservedConcurrentExecutions;

    // Assess
    expect(launch).toBeGreaterThanOrEqual(1);
    expect(launch).toBeLessThanOrEqual(10);
    expect(reaper).toBe(1);
  });
});
