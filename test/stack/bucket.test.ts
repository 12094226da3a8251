/**
 * The pipeline bucket in the synthesized stack: encryption, TLS only, public access blocked,
 * versioning, lifecycle rules with the configured days, removal policy, an existing bucket by
 * name, and the workers' instance role's exact S3 statements (only this pipeline's prefixes).
 */
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import type { PipelineConfigInput } from '../../contract/config';
import { SATURDAY_PIPELINE } from '../../lib/config/defaults';
import { parsePipelineConfig } from '../../lib/config/load';
import { SpotPipelineStack } from '../../lib/spot-pipeline-stack';
import { synthTemplate } from '../../simulator/synth';
import { physicalId, resolve, resourcesOfType, type CfnResource } from '../../simulator/template';
import { phaseBucketStatements, type Statement } from './statements';


function synth(edit: (raw: PipelineConfigInput) => void = () => {}): { stack: SpotPipelineStack; template: Template } {
  const raw = structuredClone(SATURDAY_PIPELINE);
  edit(raw);
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new SpotPipelineStack(app, 'SaturdaySpotPipeline', { config: parsePipelineConfig(raw) });
  return { stack, template: Template.fromStack(stack) };
}

/** The logical id of the only resource of a type. */
function onlyId(template: Template, type: string): string {
  const ids = Object.keys(template.findResources(type));
  expect(ids, type).toHaveLength(1);
  return ids[0]!;
}

/** The statements of every policy attached to a phase's role (or, with no phase, the launch template's role). */
function instanceRoleStatements(template: Template, phase?: string): Statement[] {
  const role = Object.keys(template.findResources('AWS::IAM::Role')).find((id) => id.startsWith(phase ? `Workers${phase}Role` : 'WorkersInstanceRole'));
  expect(role).toBeDefined();
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === role))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

/** Statements naming an s3: action, anywhere in the template. */
function s3Statements(template: Template): { id: string; s: Statement }[] {
  return Object.entries(template.findResources('AWS::IAM::Policy')).flatMap(([id, p]) =>
    (p.Properties.PolicyDocument.Statement as Statement[]).filter((s) => [s.Action].flat().some((a) => a.startsWith('s3:'))).map((s) => ({ id, s })),
  );
}

/** A role's statements on the pipeline bucket (not the code asset in the CDK assets bucket). */
const bucketStatements = (statements: Statement[]) => statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('s3:')) && !JSON.stringify(s.Resource).includes('cdk-'));

describe('the created pipeline bucket (defaults)', () => {
  let template: Template;
  let stack: SpotPipelineStack;
  let bucketId: string;
  beforeAll(() => {
    ({ stack, template } = synth());
    bucketId = onlyId(template, 'AWS::S3::Bucket');
  });

  it('is encrypted with SSE-S3, blocks all public access, disables ACLs and is versioned', () => {
    // Act
    const bucket = template.findResources('AWS::S3::Bucket')[bucketId]!;

    // Assess
    expect(bucket.Properties.BucketEncryption).toEqual({ ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] });
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket.Properties.OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
    expect(bucket.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
  });

  it('denies every request not made over TLS', () => {
    // Act, Assess
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Resource: [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/*']] }],
          },
        ]),
      },
    });
  });

  it('expires runs after 90 days, checkpoints after 14, pool memory events after 30 and waiting phases\' tokens after 1, under the pipeline prefix, with noncurrent versions', () => {
    // Act
    const rules = template.findResources('AWS::S3::Bucket')[bucketId]!.Properties.LifecycleConfiguration.Rules as Record<string, unknown>[];

    // Assess
    expect(rules).toEqual([
      {
        Id: 'runs',
        Prefix: 'saturday-pipeline/runs/',
        Status: 'Enabled',
        ExpirationInDays: 90,
        NoncurrentVersionExpiration: { NoncurrentDays: 1 },
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
      },
      {
        Id: 'checkpoints',
        Prefix: 'saturday-pipeline/checkpoints/',
        Status: 'Enabled',
        ExpirationInDays: 14,
        NoncurrentVersionExpiration: { NoncurrentDays: 1 },
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
      },
      {
        Id: 'pools',
        Prefix: 'saturday-pipeline/pools/',
        Status: 'Enabled',
        ExpirationInDays: 30,
        NoncurrentVersionExpiration: { NoncurrentDays: 1 },
      },
      {
        Id: 'waits',
        Prefix: 'saturday-pipeline/waits/',
        Status: 'Enabled',
        ExpirationInDays: 1,
        NoncurrentVersionExpiration: { NoncurrentDays: 1 },
      },
      {
        Id: 'costs',
        Prefix: 'saturday-pipeline/costs/',
        Status: 'Enabled',
        ExpirationInDays: 90,
        NoncurrentVersionExpiration: { NoncurrentDays: 1 },
      },
      {
        Id: 'artifacts',
        Prefix: 'saturday-pipeline/artifacts/',
        Status: 'Enabled',
        NoncurrentVersionExpiration: { NoncurrentDays: 30 },
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
      },
    ]);
  });

  it('is retained on cdk destroy, with no auto-delete custom resource', () => {
    // Act, Assess
    template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });

  it('is exposed on the stack and as the PipelineBucketName output', () => {
    // Act, Assess
    expect(stack.resolve(stack.bucket.bucketName)).toEqual({ Ref: bucketId });
    template.hasOutput('PipelineBucketName', { Value: { Ref: bucketId } });
  });

  it.each(['DataPhase1', 'Research', 'PredictorTraining', 'Backtester'])(
    "grants %s's role exactly: read artifacts and every phase's run outputs, write its own outputs and checkpoints only, list those prefixes",
    (phase) => {
      // Act
      const statements = bucketStatements(instanceRoleStatements(template, phase));

      // Assess
      expect(statements).toEqual(phaseBucketStatements({ 'Fn::GetAtt': [bucketId, 'Arn'] }, phase));
    },
  );

  it("grants each phase's role its code archive, that one object of the CDK assets bucket", () => {
    // Act
    const code = instanceRoleStatements(template, 'Research').filter((s) => JSON.stringify(s.Resource).includes('cdk-'));

    // Assess
    expect(code).toHaveLength(1);
    expect(code[0]!.Action).toBe('s3:GetObject');
    const resource = JSON.stringify(code[0]!.Resource);
    expect(resource).toContain('"cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"');
    expect(resource).toMatch(/"\/[0-9a-f]{64}\.gz"\]\]\}$/);
  });

  it("gives the launch template's role no S3 access, HandleFailure read access to the checkpoints, LaunchInstance and HandleFailure the pool memory only, the waits/ tokens to SpotPhase (write), the wake relay (read) and HandleFailure, FinishPhase and the execution-cleanup rule (delete), and no other role any", () => {
    // Act
    const all = s3Statements(template).filter(({ s }) => !JSON.stringify(s.Resource).includes('cdk-'));
    const handleFailure = all.filter(({ id }) => id.startsWith('HandleFailureFn')).map(({ s }) => s);
    const launchInstance = all.filter(({ id }) => id.startsWith('LaunchInstanceFn')).map(({ s }) => s);
    const spotPhase = all.filter(({ id }) => id.startsWith('SpotPhaseRole')).map(({ s }) => s);
    const relay = all.filter(({ id }) => id.startsWith('WakeRelay')).map(({ s }) => s);

    // Assess
    expect(bucketStatements(instanceRoleStatements(template))).toEqual([]);
    for (const { id } of all) expect(id).toMatch(/^(Workers(DataPhase1|Research|PredictorTraining|Backtester)Role|HandleFailureFnServiceRole|LaunchInstanceFnServiceRole|FinishPhaseFnServiceRole|SafetyNetExecutionCleanupFnServiceRole|SpotPhaseRole|WakeRelayWakePhaseFnServiceRole)/);
    const costs = { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/saturday-pipeline/costs/*']] };
    const finish = all.filter(({ id }) => id.startsWith('FinishPhaseFn')).map(({ s }) => s);
    const waits = { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/saturday-pipeline/waits/*']] };
    expect(finish).toEqual([
      { Action: 's3:PutObject', Effect: 'Allow', Resource: costs },
      { Action: 's3:DeleteObject', Effect: 'Allow', Resource: waits },
    ]);
    const cleanup = all.filter(({ id }) => id.startsWith('SafetyNetExecutionCleanupFn')).map(({ s }) => s);
    expect(cleanup).toContainEqual({ Action: 's3:DeleteObject', Effect: 'Allow', Resource: waits });
    expect(spotPhase).toEqual([{ Action: 's3:putObject', Effect: 'Allow', Resource: waits }]);
    expect(relay[0]).toEqual({ Action: 's3:GetObject', Effect: 'Allow', Resource: waits });
    const poolMemory = [
      { Action: 's3:PutObject', Effect: 'Allow', Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/saturday-pipeline/pools/*']] } },
      { Action: 's3:ListBucket', Effect: 'Allow', Resource: { 'Fn::GetAtt': [bucketId, 'Arn'] }, Condition: { StringLike: { 's3:prefix': ['saturday-pipeline/pools/*'] } } },
    ];
    expect(handleFailure).toEqual([
      { Action: 's3:GetObject', Effect: 'Allow', Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/saturday-pipeline/checkpoints/*']] } },
      { Action: 's3:ListBucket', Effect: 'Allow', Resource: { 'Fn::GetAtt': [bucketId, 'Arn'] }, Condition: { StringLike: { 's3:prefix': ['saturday-pipeline/checkpoints/*'] } } },
      ...poolMemory,
      { Action: 's3:DeleteObject', Effect: 'Allow', Resource: waits },
      { Action: 's3:PutObject', Effect: 'Allow', Resource: costs },
    ]);
    expect(launchInstance).toEqual(poolMemory);
    const resources = JSON.stringify(all.map(({ s }) => s.Resource));
    expect(resources).not.toMatch(/"\/\*"|"\*"/);
    for (const action of all.flatMap(({ s }) => [s.Action].flat())) expect(['s3:GetObject', 's3:PutObject', 's3:putObject', 's3:ListBucket', 's3:DeleteObject']).toContain(action);
  });
});

describe('secrets', () => {
  it("grants a phase's role exactly its own parameters and secrets, by ARN, and no other phase any", () => {
    // Prepare
    const { template } = synth((raw) => {
      (raw.phases[1] as { secrets?: Record<string, string> }).secrets = { DB_PASSWORD: 'ssm:/alpha/db-password', API_KEY: 'secretsmanager:alpha/api-key' };
    });
    const arn = (service: string, resource: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:${service}:`, { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, resource]] });

    // Act
    const research = instanceRoleStatements(template, 'Research').filter((s) => [s.Action].flat().some((a) => a.startsWith('ssm:') || a.startsWith('secretsmanager:')));
    const others = ['DataPhase1', 'PredictorTraining', 'Backtester'].flatMap((p) => instanceRoleStatements(template, p));

    // Assess
    expect(research).toEqual([
      { Action: 'ssm:GetParameter', Effect: 'Allow', Resource: arn('ssm', ':parameter/alpha/db-password') },
      { Action: 'secretsmanager:GetSecretValue', Effect: 'Allow', Resource: arn('secretsmanager', ':secret:alpha/api-key-??????') },
    ]);
    expect(JSON.stringify(others)).not.toMatch(/ssm:GetParameter|secretsmanager:/);
  });
});

describe('configured retention and removal', () => {
  it('uses the configured days', () => {
    // Prepare
    const { template } = synth((raw) => {
      raw.storage = { runRetentionDays: 365, checkpointRetentionDays: 3 };
    });

    // Act
    const rules = Object.values(template.findResources('AWS::S3::Bucket'))[0]!.Properties.LifecycleConfiguration.Rules as { Id: string; ExpirationInDays?: number }[];

    // Assess
    expect(rules.map((r) => [r.Id, r.ExpirationInDays])).toEqual([
      ['runs', 365],
      ['checkpoints', 3],
      ['pools', 30],
      ['waits', 1],
      ['costs', 365],
      ['artifacts', undefined],
    ]);
  });

  it('is destroyed with its objects when retainOnDestroy is false', () => {
    // Prepare
    const { template } = synth((raw) => {
      raw.storage = { retainOnDestroy: false };
    });

    // Act
    const bucketId = onlyId(template, 'AWS::S3::Bucket');

    // Assess
    template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
    template.hasResourceProperties('Custom::S3AutoDeleteObjects', { BucketName: { Ref: bucketId } });
  });
});

describe('an existing bucket named in config', () => {
  let template: Template;
  let stack: SpotPipelineStack;
  beforeAll(() => {
    ({ stack, template } = synth((raw) => {
      raw.storage = { bucketName: 'shared-pipelines.example' };
    }));
  });

  it('creates no bucket, bucket policy or auto-delete resource', () => {
    // Act, Assess
    template.resourceCountIs('AWS::S3::Bucket', 0);
    template.resourceCountIs('AWS::S3::BucketPolicy', 0);
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });

  it('names that bucket in the output and in the grants', () => {
    // Prepare
    const arn = (suffix = '') => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:s3:::shared-pipelines.example${suffix}`]] });

    // Act
    const statements = bucketStatements(instanceRoleStatements(template, 'DataPhase1'));

    // Assess
    expect(stack.resolve(stack.bucket.bucketName)).toBe('shared-pipelines.example');
    template.hasOutput('PipelineBucketName', { Value: 'shared-pipelines.example' });
    const objects = (pattern: string) => arn(`/saturday-pipeline/${pattern}`);
    expect(statements).toEqual([
      { Action: 's3:GetObject', Effect: 'Allow', Resource: [objects('artifacts/*'), objects('runs/*')] },
      { Action: 's3:PutObject', Effect: 'Allow', Resource: objects('runs/*/*/DataPhase1/*') },
      { Action: ['s3:GetObject', 's3:PutObject'], Effect: 'Allow', Resource: objects('checkpoints/*/*/DataPhase1/*') },
      {
        Action: 's3:ListBucket',
        Effect: 'Allow',
        Resource: arn(),
        Condition: { StringLike: { 's3:prefix': ['saturday-pipeline/artifacts/*', 'saturday-pipeline/runs/*', 'saturday-pipeline/checkpoints/*/*/DataPhase1/*'] } },
      },
    ]);
  });

  it("keeps a second pipeline's grants to its own prefix", () => {
    // Prepare
    const { template: other } = synth((raw) => {
      raw.pipelineName = 'other-pipeline';
      raw.storage = { bucketName: 'shared-pipelines.example' };
    });

    // Act
    const text = JSON.stringify(bucketStatements(instanceRoleStatements(other, 'Research')));

    // Assess
    expect(text).toContain('other-pipeline/runs/*');
    expect(text).not.toContain('saturday-pipeline');
  });
});

describe('the pipeline bucket in the simulated account', () => {
  it('gets a name and an ARN as CloudFormation gives them (lower-case, stack and logical id, unique suffix)', () => {
    // Prepare
    const template = synthTemplate(parsePipelineConfig(SATURDAY_PIPELINE));
    const [[logicalId, bucket]] = resourcesOfType(template, 'AWS::S3::Bucket') as [[string, CfnResource]];

    // Act
    const name = physicalId(logicalId, bucket);
    const arn = resolve(template, { 'Fn::GetAtt': [logicalId, 'Arn'] });

    // Assess
    expect(name).toMatch(/^simulatedstack-pipelinebucket[a-z0-9]*-[0-9a-f]{12}$/);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(arn).toBe(`arn:aws:s3:::${name}`);
  });
});
