/**
 * The synthesized SpotPipelineStack for the built-in config: state machines, workers' launch
 * template and network, schedules, Lambda settings, outputs and the least-privilege IAM
 * statements. Synthesized once (bundling skipped); assertions use Match, not a snapshot.
 */
import { App, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PipelineConfigInput } from '../../contract/config';
import { SATURDAY_PIPELINE } from '../../lib/config/defaults';
import { loadPipelineConfig, parsePipelineConfig } from '../../lib/config/load';
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

/** The template of the built-in config changed by `edit` (bundling skipped). */
function templateWith(edit: (raw: PipelineConfigInput) => void): Template {
  const raw = structuredClone(SATURDAY_PIPELINE);
  edit(raw);
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  return Template.fromStack(new SpotPipelineStack(app, 'SaturdaySpotPipeline', { config: parsePipelineConfig(raw) }));
}

/** The AZ index each subnet of the minimal VPC selects from Fn::GetAZs of the deploy region. */
function subnetAzIndices(t: Template): number[] {
  return Object.values(t.findResources('AWS::EC2::Subnet')).map((subnet) => {
    const az = subnet.Properties.AvailabilityZone as { 'Fn::Select'?: [number, unknown] };
    expect(az['Fn::Select']?.[1], 'the AZ is chosen by CloudFormation in the deploy region, not from CDK dummies').toEqual({ 'Fn::GetAZs': '' });
    return az['Fn::Select']![0];
  });
}

/** A Lambda function's properties, found by the handler tag PipelineFunction puts on it. */
function functionOf(t: Template, handler: string): { ReservedConcurrentExecutions?: number } {
  const functions = Object.values(t.findResources('AWS::Lambda::Function')) as { Properties: { Tags?: { Key: string; Value: string }[]; ReservedConcurrentExecutions?: number } }[];
  const found = functions.find((f) => f.Properties.Tags?.some((tag) => tag.Key === 'spot-pipeline:handler' && tag.Value === handler));
  expect(found, handler).toBeDefined();
  return found!.Properties;
}

let stack: SpotPipelineStack;
let template: Template;

beforeAll(() => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
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
  it('launch from templates (the stack template, and one per phase with its own profile) requiring IMDSv2, with encrypted EBS, an instance profile and no key pair', () => {
    // Prepare
    const type = 'AWS::EC2::LaunchTemplate';

    // Act
    const templates = Object.entries(template.findResources(type));

    // Assess: the stack's template and one per phase of the Saturday pipeline (a fleet launch names the phase's).
    expect(templates.map(([id]) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual(
      ['WorkersBacktesterLaunchTemplate', 'WorkersDataPhase1LaunchTemplate', 'WorkersLaunchTemplate', 'WorkersPredictorTrainingLaunchTemplate', 'WorkersResearchLaunchTemplate'],
    );
    for (const [id, lt] of templates) {
      const data = lt.Properties.LaunchTemplateData;
      expect(data.MetadataOptions, id).toMatchObject({ HttpTokens: 'required' });
      expect(data.IamInstanceProfile.Arn['Fn::GetAtt'][1], id).toBe('Arn');
      expect(data.KeyName, id).toBeUndefined();
      const mappings = data.BlockDeviceMappings as { Ebs?: { Encrypted?: boolean } }[];
      expect(mappings.length).toBeGreaterThan(0);
      for (const m of mappings) expect(m.Ebs?.Encrypted, id).toBe(true);
    }
    // A phase's template launches with that phase's own profile, and tags what the fleet cannot (volumes, spot requests).
    const [, research] = templates.find(([id]) => id.startsWith('WorkersResearchLaunchTemplate'))!;
    expect(research.Properties.LaunchTemplateData.IamInstanceProfile.Arn['Fn::GetAtt'][0]).toMatch(/^WorkersResearchProfile/);
    expect(research.Properties.LaunchTemplateData.TagSpecifications).toEqual([
      { ResourceType: 'volume', Tags: [{ Key: 'spot-pipeline:pipeline', Value: 'saturday-pipeline' }, { Key: 'spot-pipeline:phase', Value: 'Research' }] },
      { ResourceType: 'spot-instances-request', Tags: [{ Key: 'spot-pipeline:pipeline', Value: 'saturday-pipeline' }, { Key: 'spot-pipeline:phase', Value: 'Research' }] },
    ]);
  });

  it('use an instance profile holding the EC2 instance role', () => {
    // Prepare
    const [, lt] = Object.entries(template.findResources('AWS::EC2::LaunchTemplate')).find(([id]) => id.startsWith('WorkersLaunchTemplate'))!;
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
    const [, lt] = Object.entries(template.findResources('AWS::EC2::LaunchTemplate')).find(([id]) => id.startsWith('WorkersLaunchTemplate'))!;
    const sgRefs = lt.Properties.LaunchTemplateData.SecurityGroupIds as { 'Fn::GetAtt': [string, string] }[];

    // Act
    const groups = template.findResources('AWS::EC2::SecurityGroup');

    // Assess
    expect(sgRefs).toHaveLength(1);
    expect(Object.keys(groups)).toContain(sgRefs[0]!['Fn::GetAtt'][0]);
    template.allResourcesProperties('AWS::EC2::SecurityGroup', { SecurityGroupIngress: Match.absent() });
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
  });

  it('get a minimal VPC: public subnets in the first 2 AZs of the deploy region, an internet route and no NAT gateway', () => {
    // Prepare
    const subnetType = 'AWS::EC2::Subnet';

    // Act
    const azIndices = subnetAzIndices(template);

    // Assess
    template.resourceCountIs('AWS::EC2::VPC', 1);
    expect(azIndices.sort()).toEqual([0, 1]); // every region offers two AZs
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

  it("lets iam:PassRole pass only the workers' roles: the launch template's and one per phase", () => {
    // Prepare
    const instanceRoles = template.findResources('AWS::IAM::Role', {
      Properties: {
        AssumeRolePolicyDocument: {
          Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'ec2.amazonaws.com' } })]),
        },
      },
    });
    const kinds = Object.keys(instanceRoles).map((id) => /^Workers(InstanceRole|DataPhase1Role|ResearchRole|PredictorTrainingRole|BacktesterRole)/.exec(id)?.[1]);
    expect(kinds.sort()).toEqual(['BacktesterRole', 'DataPhase1Role', 'InstanceRole', 'PredictorTrainingRole', 'ResearchRole']);

    // Act
    const passRole = allStatements(template).filter((s) => actionsOf(s).some((a) => a === 'iam:PassRole' || a === 'iam:*' || a === '*'));

    // Assess
    expect(passRole.length).toBeGreaterThan(0);
    for (const s of passRole) {
      expect(actionsOf(s)).toEqual(['iam:PassRole']);
      const resources = Array.isArray(s.Resource) ? s.Resource : [s.Resource];
      expect(resources).toEqual(expect.arrayContaining(Object.keys(instanceRoles).map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] }))));
      expect(resources).toHaveLength(Object.keys(instanceRoles).length);
    }
  });

  it("lets every worker role send Run Command output to the workload log group, as the SSM guide lists", () => {
    // Prepare: one managed policy, attached to each worker role.
    const workerRoles = template.findResources('AWS::IAM::Role', {
      Properties: { AssumeRolePolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'ec2.amazonaws.com' } })]) } },
    });
    const [[basePolicyId, basePolicy]] = Object.entries(template.findResources('AWS::IAM::ManagedPolicy')) as [[string, { Properties: { PolicyDocument: { Statement: Statement[] } } }]];
    for (const role of Object.values(workerRoles)) expect(role.Properties.ManagedPolicyArns).toContainEqual({ Ref: basePolicyId });
    const instanceRoleId = Object.keys(workerRoles)[0];
    const workloadLogsId = Object.keys(template.findResources('AWS::Logs::LogGroup', { Properties: { LogGroupName: '/spot-pipeline/saturday-pipeline/workloads' } }))[0]!;
    const statements = basePolicy.Properties.PolicyDocument.Statement;
    const resourcesOf = (action: string) => statements.filter((s) => actionsOf(s).includes(action)).flatMap((s) => [s.Resource].flat());
    const groupArn = {
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':logs:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':log-group:', { Ref: workloadLogsId }]],
    };
    const streamsArn = { 'Fn::GetAtt': [workloadLogsId, 'Arn'] }; // arn:...:log-group:NAME:*

    // Act
    const granted = ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:DescribeLogGroups', 'logs:DescribeLogStreams', 'logs:PutLogEvents'].map((action) => ({
      action,
      resources: resourcesOf(action),
    }));

    // Assess
    expect(instanceRoleId).toBeDefined();
    expect(workloadLogsId).toBeDefined();
    for (const { action, resources } of granted) {
      if (action === 'logs:DescribeLogGroups') expect(resources, action).toEqual(['*']); // a List call without resource-level permissions
      else expect(resources, action).toEqual(expect.arrayContaining([groupArn, streamsArn]));
      if (action !== 'logs:DescribeLogGroups') expect(resources, `${action} is scoped to the workload log group`).toHaveLength(2);
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

describe('deploys in any account and region', () => {
  it('reserves no Lambda concurrency by default (an account must keep 100 unreserved; new accounts may have 10 in all)', () => {
    // Prepare
    const type = 'AWS::Lambda::Function';

    // Act
    const functions = Object.entries(template.findResources(type));

    // Assess
    expect(functions.length).toBeGreaterThanOrEqual(8);
    for (const [id, fn] of functions) expect(fn.Properties.ReservedConcurrentExecutions, id).toBeUndefined();
  });

  it('reserves concurrency for the functions that launch or reap instances when the config opts in, so a runaway cannot fan out', () => {
    // Prepare
    const reserved = { launchInstance: 10, reaper: 1 };

    // Act
    const t = templateWith((raw) => {
      raw.reservedConcurrency = reserved;
    });

    // Assess
    expect(functionOf(t, 'launch-instance').ReservedConcurrentExecutions).toBe(10);
    expect(functionOf(t, 'reap-orphans').ReservedConcurrentExecutions).toBe(1);
    const others = Object.values(t.findResources('AWS::Lambda::Function')).filter((f) => f.Properties.ReservedConcurrentExecutions !== undefined);
    expect(others).toHaveLength(2);
  });

  it('spreads the minimal VPC over vpcAzCount AZs, selecting only indices below the count', () => {
    // Prepare
    const vpcAzCount = 4;

    // Act
    const t = templateWith((raw) => {
      raw.vpcAzCount = vpcAzCount;
    });

    // Assess
    expect(subnetAzIndices(t).sort()).toEqual([0, 1, 2, 3]);
    const cidrs = Object.values(t.findResources('AWS::EC2::Subnet')).map((s) => (s.Properties.CidrBlock as { 'Fn::Select': [number, { 'Fn::Cidr': [unknown, number, string] }] })['Fn::Select']);
    for (const [, cidr] of cidrs) expect(cidr['Fn::Cidr'][1]).toBe(vpcAzCount);
  });
});
