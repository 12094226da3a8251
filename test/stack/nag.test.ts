/**
 * cdk-nag AwsSolutions checks, as `cdk synth -c nag=true` runs them: the stack synthesizes with
 * zero unacknowledged findings for the built-in config, a config with a parallel group and one
 * with its own network; every acknowledgement names a finding, says why, and is used; a finding
 * nobody acknowledged fails synth. In-process synths (bundling skipped, cdk.json context), plus
 * one run of bin/app.ts with `-c nag=true` as the CLI would run it.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SATURDAY_PIPELINE } from '../../lib/config/defaults';
import { parsePipelineConfig } from '../../lib/config/load';
import type { PhaseConfigInput, PipelineConfig, PipelineConfigInput } from '../../contract/config';
import { MIN_REASON_LENGTH, NAG_PACK, nagRequested } from '../../lib/nag';
import { CDK_JSON_CONTEXT, lines, nagOutdir, removeNagRuns, synthWithNag, type NagRun, type PluginReport } from './nag-run';

const PROJECT_ROOT = resolve(__dirname, '..', '..');

afterAll(removeNagRuns);

function configWith(edit: (raw: PipelineConfigInput) => void): PipelineConfig {
  const raw = structuredClone(SATURDAY_PIPELINE);
  edit(raw);
  return parsePipelineConfig(raw);
}

const CONFIGS: { name: string; config: PipelineConfig }[] = [
  { name: 'the built-in config', config: parsePipelineConfig(SATURDAY_PIPELINE) },
  {
    name: 'a config with a parallel group and an alarm email',
    config: configWith((raw) => {
      const [data, research, training, backtester] = raw.phases;
      raw.phases = [data!, { parallel: [research as PhaseConfigInput, training as PhaseConfigInput] }, backtester!];
      raw.alarmEmail = 'ops@example.com';
    }),
  },
  {
    name: 'a config with its own VPC and subnets',
    config: configWith((raw) => {
      raw.vpcId = 'vpc-0123abcd';
      raw.subnetIds = ['subnet-0123abcd', 'subnet-4567abcd'];
    }),
  },
];

describe.each(CONFIGS)('AwsSolutions checks on $name', ({ config }) => {
  let run: NagRun;
  beforeAll(() => {
    run = synthWithNag(config);
  });

  it('leave no unacknowledged finding, and synth succeeds', () => {
    // Prepare
    const { error, report } = run;

    // Act
    const unacknowledged = lines(report?.violations);

    // Assess
    expect(unacknowledged).toEqual([]);
    expect(error).toBeUndefined();
    expect(lines(report?.suppressedViolations).length, 'the checks ran and found the acknowledged findings').toBeGreaterThan(0);
  });

  it('acknowledge with a reason, by exact finding id, and only findings that exist', () => {
    // Prepare
    const { acknowledgements, report } = run;

    // Act
    const used = new Set((report?.suppressedViolations ?? []).map((f) => `${f.acknowledgedId} @ ${f.acknowledgedAt}`));
    const unused = acknowledgements.map((a) => `${a.id} @ ${a.path}`).filter((a) => !used.has(a));

    // Assess
    expect(acknowledgements.length).toBeGreaterThan(0);
    for (const a of acknowledgements) {
      expect(a.id, a.path).toMatch(new RegExp(`^${NAG_PACK}::${NAG_PACK}-[A-Z]+\\d+(\\[.+\\])?$`));
      expect(a.reason.trim().length, `${a.id} @ ${a.path}: "${a.reason}"`).toBeGreaterThanOrEqual(MIN_REASON_LENGTH);
    }
    expect(unused, 'stale acknowledgements').toEqual([]);
    for (const f of report?.suppressedViolations ?? []) expect(f.reason, f.acknowledgedId).toBeTruthy();
  });
});

describe('a finding nobody acknowledged', () => {
  let run: NagRun;
  beforeAll(() => {
    run = synthWithNag(parsePipelineConfig(SATURDAY_PIPELINE), (stack) => {
      new s3.Bucket(stack, 'UnsafeBucket'); // no SSL enforcement, no access logs
      const reaper = stack.safetyNet.reaper; // its role has acknowledged wildcards: new ones must still be reported
      reaper.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::some-bucket/*'] }));
      reaper.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:ListAllMyBuckets'], resources: ['*'] })); // "*" not granted through allowOnAnyResource
    });
  });
  const reaperPolicy = 'SaturdaySpotPipeline/SafetyNet/ReapOrphansFnServiceRole/DefaultPolicy/Resource';

  it('fails synth and is reported with its construct', () => {
    // Prepare
    const { error, report } = run;

    // Act
    const unacknowledged = lines(report?.violations);

    // Assess
    expect(error?.message).toMatch(/Validation failed|AwsSolutions/);
    expect(unacknowledged).toContain(`${NAG_PACK}-S10 @ SaturdaySpotPipeline/UnsafeBucket/Resource`);
    expect(unacknowledged).toContain(`${NAG_PACK}-IAM5[Resource::arn:aws:s3:::some-bucket/*] @ ${reaperPolicy}`);
    expect(unacknowledged).toContain(`${NAG_PACK}-IAM5[Resource::*] @ ${reaperPolicy}`);
    for (const line of unacknowledged) expect(line).toMatch(/@ SaturdaySpotPipeline\/(UnsafeBucket\/|SafetyNet\/ReapOrphansFnServiceRole\/DefaultPolicy\/)/);
  });
});

describe('least privilege behind the acknowledgements', () => {
  /** Actions AWS authorizes on Resource "*" only (no resource-level permissions), and the condition some of them need. */
  const ANY_RESOURCE_ACTIONS: Record<string, string | null> = {
    'ec2:DescribeInstances': null,
    'ec2:DescribeSpotInstanceRequests': null,
    'ec2:DescribeSpotPriceHistory': null,
    'ssm:DescribeInstanceInformation': null,
    'ssm:GetCommandInvocation': null,
    'ssm:CancelCommand': null,
    'ssm:ListCommands': null,
    'cloudwatch:PutMetricData': 'cloudwatch:namespace',
    'xray:PutTraceSegments': null,
    'xray:PutTelemetryRecords': null,
    'xray:GetSamplingRules': null,
    'xray:GetSamplingTargets': null,
    // CloudWatch Logs: vended-log delivery for the state machines, and the SSM agent's log group check.
    'logs:CreateLogDelivery': null,
    'logs:GetLogDelivery': null,
    'logs:UpdateLogDelivery': null,
    'logs:DeleteLogDelivery': null,
    'logs:ListLogDeliveries': null,
    'logs:PutResourcePolicy': null,
    'logs:DescribeResourcePolicies': null,
    'logs:DescribeLogGroups': null,
  };
  let resources: [string, NagRun['template']['Resources'][string]][];
  beforeAll(() => {
    resources = Object.entries(synthWithNag(parsePipelineConfig(SATURDAY_PIPELINE)).template.Resources);
  });

  it('grants Resource "*" only for actions that support nothing narrower', () => {
    // Prepare
    type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: Record<string, Record<string, unknown>> };
    const policies = resources.filter(([, r]) => r.Type === 'AWS::IAM::Policy');

    // Act
    const onAnyResource = policies
      .flatMap(([id, r]) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement.map((s) => ({ id, s })))
      .filter(({ s }) => s.Effect === 'Allow' && [s.Resource].flat().includes('*'));

    // Assess
    expect(onAnyResource.length).toBeGreaterThan(0);
    for (const { id, s } of onAnyResource) {
      for (const action of [s.Action].flat()) {
        expect(Object.keys(ANY_RESOURCE_ACTIONS), `${id}: ${action} on "*"`).toContain(action);
        const condition = ANY_RESOURCE_ACTIONS[action];
        if (condition) expect(s.Condition?.StringEquals?.[condition], `${id}: ${action} needs ${condition}`).toBeDefined();
      }
    }
  });

  it("attaches no AWS managed policy but the SSM agent's, and none to a Lambda function", () => {
    // Prepare
    const roles = resources.filter(([, r]) => r.Type === 'AWS::IAM::Role');

    // Act
    const attached = roles.filter(([, r]) => r.Properties.ManagedPolicyArns).map(([id, r]) => [id, JSON.stringify(r.Properties.ManagedPolicyArns)]);

    // Assess: the workers' roles only (the launch template's and one per phase), each with the
    // SSM agent's policy and the pipeline's own base policy (the workload log group).
    expect(attached.map(([id]) => id)).toHaveLength(5);
    for (const [id, arns] of attached) {
      expect(id).toMatch(/^Workers(InstanceRole|DataPhase1Role|ResearchRole|PredictorTrainingRole|BacktesterRole)/);
      const policies = JSON.parse(arns!) as unknown[];
      expect(policies).toHaveLength(2);
      expect(arns).toContain(':iam::aws:policy/AmazonSSMManagedInstanceCore');
      expect(arns).toContain('"Ref":"WorkersWorkerBasePolicy');
    }
  });
});

describe('bin/app.ts', () => {
  it.each([
    { value: 'true', expected: true },
    { value: true, expected: true },
    { value: 'false', expected: false },
    { value: undefined, expected: false },
  ])('reads the nag context $value as $expected', ({ value, expected }) => {
    // Prepare, Act
    const requested = nagRequested(value);

    // Assess
    expect(requested).toBe(expected);
  });

  it('runs the checks with -c nag=true and synthesizes', () => {
    // Prepare
    const outdir = nagOutdir('nag-cli-');

    // Act
    const result = spawnSync('npx', ['tsx', 'bin/app.ts'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ ...CDK_JSON_CONTEXT, nag: 'true', 'aws:cdk:bundling-stacks': [] }), CDK_OUTDIR: outdir },
      encoding: 'utf8',
      timeout: 60_000,
    });

    // Assess
    expect(result.status, result.stderr).toBe(0);
    const report = (JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as { pluginReports: PluginReport[] }).pluginReports.find(
      (r) => r.pluginName === NAG_PACK,
    );
    expect(lines(report?.violations)).toEqual([]);
    expect(lines(report?.suppressedViolations).length).toBeGreaterThan(0);
  });
});
