/**
 * A build stage in the synthesized stack (examples/build-once.json, bundling skipped): the
 * CheckArtifact function and its read-only grants, the build phase's role that alone may write its
 * artifact, the run workers' roles that may only read it, and the pipeline graph
 * (CheckBuildMoolloy -> BuildMoolloyPresent? -> BuildMoolloyAlreadyBuilt | BuildMoolloy ->
 * RecordBuildMoolloy, then the workers), valid per asl-validator, run in aws-local-stepfunctions
 * with the real ValidateInput and CheckArtifact handlers (S3 mocked) and a stand-in SpotPhase,
 * and clean under the cdk-nag AwsSolutions checks.
 */
import * as path from 'node:path';
import { HeadObjectCommand, NotFound, S3Client } from '@aws-sdk/client-s3';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ArtifactRef } from '../../contract/artifacts';
import type { PipelineConfig } from '../../contract/config';
import { loadPipelineConfig } from '../../lib/config/load';
import { lines, removeNagRuns, synthWithNag } from './nag-run';
import { SpotPipelineStack } from '../../lib/spot-pipeline-stack';
import { deployedFunctions } from '../../simulator/lambda-runtime';
import { SimulatedStepFunctions } from '../../simulator/step-functions';
import { deployedStateMachines, type CfnTemplate, type DeployedStateMachine } from '../../simulator/template';
import { pipelineTimeoutSeconds } from '../../state-machines/pipeline';
import { actionsOf, enteredStates, functionsOf, mainPath, phaseBucketStatements, roleStatements, validateAsl, type AslState, type Statement , pipelineWithStandInPhases, synthExample } from './statements';

const PROJECT_ROOT = path.resolve(__dirname, '..', '..');
const EXAMPLE = path.join(PROJECT_ROOT, 'examples', 'build-once.json');
const PIPELINE = 'moolloy-runs';
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const START_EXECUTION_SYNC = 'arn:aws:states:::states:startExecution.sync:2';

type Asl = DeployedStateMachine['definition'];
interface PhaseInput {
  phase: { name: string; workloadCommand: string; artifacts?: string[]; build?: unknown };
  run: { artifacts?: Record<string, ArtifactRef>; params?: Record<string, string> };
}

/** The logical id of the role named `Workers<phase>Role...` (a phase's instance role). */
function phaseRoleId(template: Template, phase: string): string {
  const ids = Object.keys(template.findResources('AWS::IAM::Role')).filter((id) => id.startsWith(`Workers${phase}Role`));
  expect(ids, phase).toHaveLength(1);
  return ids[0]!;
}

/** A role's statements on the pipeline bucket (not the code asset in the CDK assets bucket). */
const bucketStatements = (statements: Statement[]) => statements.filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')) && !JSON.stringify(s.Resource).includes('cdk-'));


let config: PipelineConfig;
let cfn: CfnTemplate;
let template: Template;
let bucketArn: unknown;

beforeAll(() => {
  ({ config, cfn, template, bucketArn } = synthExample(EXAMPLE));
});

describe('CheckArtifact', () => {
  it('is deployed for a pipeline with a build stage, with the pipeline bucket in its environment', () => {
    // Act
    const functions = functionsOf(template, 'check-artifact');

    // Assess
    expect(functions).toHaveLength(1);
    const [, fn] = functions[0]!;
    expect(fn.Properties.Environment).toEqual({ Variables: { PIPELINE_BUCKET: { Ref: (bucketArn as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0] } } });
  });

  it('is not deployed for the built-in config, which has no build stage', () => {
    // Prepare
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
    const builtIn = Template.fromStack(new SpotPipelineStack(app, 'SaturdaySpotPipeline', { config: loadPipelineConfig() }));

    // Act
    const functions = functionsOf(builtIn, 'check-artifact');

    // Assess
    expect(functions).toEqual([]);
    expect(functionsOf(builtIn, 'validate-input')).toHaveLength(1); // the search itself finds handlers
  });

  it('may read artifacts and build sources of this pipeline and list those prefixes: exactly that on S3', () => {
    // Prepare
    const [, fn] = functionsOf(template, 'check-artifact')[0]!;
    const roleId = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const objects = (pattern: string) => ({ 'Fn::Join': ['', [bucketArn, `/${PIPELINE}/${pattern}`]] });

    // Act
    const statements = roleStatements(template, roleId);

    // Assess: HeadObject is authorized by s3:GetObject; ListBucket makes a missing key 404, not 403.
    expect(statements.filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')))).toEqual([
      { Action: 's3:GetObject', Effect: 'Allow', Resource: [objects('artifacts/*'), objects('sources/*')] },
      { Action: 's3:ListBucket', Effect: 'Allow', Resource: bucketArn, Condition: { StringLike: { 's3:prefix': [`${PIPELINE}/artifacts/*`, `${PIPELINE}/sources/*`] } } },
    ]);
    for (const action of statements.flatMap(actionsOf)) expect(action).toMatch(/^(s3:(GetObject|ListBucket)|logs:(CreateLogStream|PutLogEvents)|xray:.+)$/);
  });

  it("is invoked by the pipeline's role, that function only", () => {
    // Prepare
    const [fnId] = functionsOf(template, 'check-artifact')[0]!;
    const pipelineRole = Object.keys(template.findResources('AWS::IAM::Role')).find((id) => id.startsWith('PipelineRole'));
    expect(pipelineRole).toBeDefined();

    // Act
    const invoke = roleStatements(template, pipelineRole!).filter((s) => actionsOf(s).includes('lambda:InvokeFunction'));

    // Assess
    expect(JSON.stringify(invoke)).toContain(`"Fn::GetAtt":["${fnId}","Arn"]`);
    const spotPhaseRole = Object.keys(template.findResources('AWS::IAM::Role')).find((id) => id.startsWith('SpotPhaseRole'));
    expect(JSON.stringify(roleStatements(template, spotPhaseRole!))).not.toContain(fnId);
  });
});

describe('the data plane of a build', () => {
  it("the build's role writes only its own artifact's versions in artifacts/ and reads the build sources, besides its phase prefixes", () => {
    // Act
    const statements = bucketStatements(roleStatements(template, phaseRoleId(template, 'BuildMoolloy')));

    // Assess
    const objects = (pattern: string) => ({ 'Fn::Join': ['', [bucketArn, `/${PIPELINE}/${pattern}`]] });
    expect(statements).toEqual([
      ...phaseBucketStatements(bucketArn, 'BuildMoolloy', PIPELINE),
      { Action: 's3:PutObject', Effect: 'Allow', Resource: objects('artifacts/moolloy/*') },
      { Action: 's3:GetObject', Effect: 'Allow', Resource: objects('sources/*') },
    ]);
  });

  it.each(['RunWorkerA', 'RunWorkerB'])("%s's role reads the artifacts but may not write them, nor read the sources", (phase) => {
    // Act
    const statements = bucketStatements(roleStatements(template, phaseRoleId(template, phase)));

    // Assess
    expect(statements).toEqual(phaseBucketStatements(bucketArn, phase, PIPELINE));
    const writes = statements.filter((s) => actionsOf(s).includes('s3:PutObject'));
    expect(JSON.stringify(writes)).not.toContain('/artifacts/');
    expect(JSON.stringify(statements)).not.toContain('/sources/');
  });

  it("no role but the build's may put an object under artifacts/", () => {
    // Act
    const writers = Object.entries(template.findResources('AWS::IAM::Policy')).filter(([, p]) =>
      (p.Properties.PolicyDocument.Statement as Statement[]).some((s) => actionsOf(s).some((a) => a === 's3:PutObject' || a === 's3:*') && JSON.stringify(s.Resource).includes('/artifacts/')),
    );

    // Assess
    expect(writers).toHaveLength(1);
    expect((writers[0]![1].Properties.Roles as { Ref: string }[]).map((r) => r.Ref)).toEqual([phaseRoleId(template, 'BuildMoolloy')]);
  });
});

describe('the pipeline graph', () => {
  let pipeline: DeployedStateMachine;
  let spotPhase: DeployedStateMachine;
  let checkArtifactArn: string;
  beforeAll(() => {
    const deployed = deployedStateMachines(cfn);
    pipeline = deployed.find((m) => m.name === PIPELINE)!;
    spotPhase = deployed.find((m) => m.name === `${PIPELINE}-spot-phase`)!;
    checkArtifactArn = deployedFunctions(cfn).find((f) => f.handlerFile.endsWith('check-artifact.ts'))!.arn;
  });

  it('is valid per asl-validator, JSONPath only', () => {
    // Prepare: asl-validator writes a QueryLanguage into every state it checks.
    const definition = structuredClone(pipeline.definition);

    // Act
    const result = validateAsl(definition);

    // Assess
    expect(result.errorsText()).toBe('');
    expect(result.isValid).toBe(true);
    expect(JSON.stringify(pipeline.definition)).not.toContain('{%');
  });

  it('asl-validator catches a build graph whose Choice leads nowhere (the check above is live)', () => {
    // Prepare
    const broken: Asl = structuredClone(pipeline.definition);
    broken.States['BuildMoolloyPresent?']!.Default = 'NoSuchState';

    // Act
    const result = validateAsl(broken);

    // Assess
    expect(result.isValid).toBe(false);
    expect(result.errorsText()).toContain('NoSuchState');
  });

  it('checks, then builds and records only when the artifact is missing, and joins before the workers', () => {
    // Prepare
    const states = pipeline.definition.States;

    // Act
    const main = mainPath(pipeline.definition, { throughChoices: false });

    // Assess: the main path (Choice's Default) is the build; the skip joins it at the group.
    expect(main).toEqual(['ValidateInput', 'CheckBuildMoolloy', 'BuildMoolloyPresent?']);
    expect(states['BuildMoolloyPresent?']).toEqual({
      Type: 'Choice',
      Choices: [{ Variable: '$.run.artifacts.moolloy.present', BooleanEquals: true, Next: 'BuildMoolloyAlreadyBuilt' }],
      Default: 'BuildMoolloy',
    });
    expect(states.BuildMoolloy).toMatchObject({ Type: 'Task', Resource: START_EXECUTION_SYNC, Next: 'RecordBuildMoolloy' });
    expect(states.RecordBuildMoolloy!.Next).toBe('Parallel2');
    expect(states.BuildMoolloyAlreadyBuilt).toMatchObject({ Type: 'Pass', Next: 'Parallel2' });
    expect(states.Parallel2).toMatchObject({ Type: 'Parallel', Next: 'PipelineSucceeded' });
    expect(states.PipelineSucceeded!.Type).toBe('Succeed');
    expect(Object.keys(states).sort()).toEqual(
      ['ValidateInput', 'CheckBuildMoolloy', 'BuildMoolloyPresent?', 'BuildMoolloyAlreadyBuilt', 'BuildMoolloy', 'RecordBuildMoolloy', 'Parallel2', 'PipelineSucceeded'].sort(),
    );
  });

  it.each([
    { state: 'CheckBuildMoolloy', mode: 'check' },
    { state: 'RecordBuildMoolloy', mode: 'record' },
  ])('$state calls CheckArtifact ($mode) with the build and the run, into $.run.artifacts.moolloy, retrying throttling', ({ state, mode }) => {
    // Act
    const task = pipeline.definition.States[state]!;

    // Assess
    expect(task).toMatchObject({
      Type: 'Task',
      Resource: checkArtifactArn,
      Parameters: {
        mode,
        build: { name: 'BuildMoolloy', artifact: 'moolloy', source: { git: { url: 'https://github.com/AlloyTools/org.alloytools.alloy.git', commitParam: 'commit' } }, pipelineName: PIPELINE },
        'run.$': '$.run',
      },
      ResultPath: '$.run.artifacts.moolloy',
    });
    const retried = (task.Retry as { ErrorEquals: string[] }[]).flatMap((r) => r.ErrorEquals);
    expect(retried).toContain('TransientApiError');
    expect(retried).not.toContain('States.ALL');
    expect(retried).not.toContain('ArtifactMissing');
    expect(retried).not.toContain('ArtifactVersionUnknown');
    expect(task.Catch).toBeUndefined();
  });

  it('BuildMoolloy runs the build command on SpotPhase, its spec carrying what to build, from where, and the file to upload', () => {
    // Act
    const parameters = pipeline.definition.States.BuildMoolloy!.Parameters as { StateMachineArn: string; Input: PhaseInput };

    // Assess
    expect(parameters.StateMachineArn).toBe(spotPhase.arn);
    expect(parameters.Input.phase).toMatchObject({ name: 'BuildMoolloy', workloadCommand: 'ant deps configure dist', tools: ['java', 'ant'] });
    expect(parameters.Input.phase.build).toEqual({
      artifact: 'moolloy',
      source: { git: { url: 'https://github.com/AlloyTools/org.alloytools.alloy.git', commitParam: 'commit' } },
      output: 'dist/moolloy.jar',
    });
    expect(parameters.Input.phase.artifacts).toBeUndefined();
    expect(pipeline.definition.States.BuildMoolloy!.Catch).toBeUndefined();
  });

  it("the workers' specs list the artifact they download, and carry no build", () => {
    // Prepare
    const branches = pipeline.definition.States.Parallel2!.Branches as { StartAt: string; States: Record<string, AslState> }[];

    // Act
    const specs = branches.map((b) => (b.States[b.StartAt]!.Parameters as { Input: PhaseInput }).Input.phase);

    // Assess
    expect(specs.map((s) => s.name)).toEqual(['RunWorkerA', 'RunWorkerB']);
    for (const spec of specs) {
      expect(spec.artifacts).toEqual(['moolloy']);
      expect(spec.build).toBeUndefined();
    }
  });

  it("times out only after the build's budget and the workers' (plus the checks), as pipelineTimeoutSeconds says", () => {
    // Act
    const timeout = pipeline.definition.TimeoutSeconds as number;

    // Assess: 300 + (3600 build + 2 x 60 + 2 x 120 checks) + (3600 workers + 2 x 60).
    expect(timeout).toBe(pipelineTimeoutSeconds(config));
    expect(timeout).toBe(7980);
  });
});

describe('the pipeline graph, run (aws-local-stepfunctions; real ValidateInput and CheckArtifact, S3 mocked, SpotPhase stood in for)', () => {
  const s3 = mockClient(S3Client);
  /** Objects of the simulated bucket by "bucket/key": their user metadata. */
  let objects: Map<string, Record<string, string>>;
  /** What each SpotPhase execution was handed. */
  let phases: PhaseInput[];
  /** Whether the stand-in build uploads its artifact (with its sha256). */
  let buildUploads: boolean;
  let sfn: SimulatedStepFunctions;
  let pipeline: DeployedStateMachine;
  let bucket: string;

  beforeAll(async () => {
    bucket = deployedFunctions(cfn).find((f) => f.handlerFile.endsWith('check-artifact.ts'))!.environment.PIPELINE_BUCKET!;
    // A SpotPhase execution that ran its phase: a build uploads to the URI its check chose (PIPELINE_BUILD_ARTIFACT_URI).
    const worker = async (input: PhaseInput) => {
      phases.push(input);
      const build = input.phase.build as { artifact: string } | undefined;
      if (build && buildUploads) objects.set(input.run.artifacts![build.artifact]!.uri.replace('s3://', ''), { sha256: SHA256 });
      return { phase: input.phase.name, outcome: 'succeeded' };
    };
    ({ sfn, pipeline } = await pipelineWithStandInPhases(cfn, PIPELINE, worker));
  });

  beforeEach(() => {
    vi.stubEnv('AWS_LAMBDA_LOG_LEVEL', 'ERROR'); // quiet handler logs (they log after SimulatedLambda puts its environment back)
    objects = new Map();
    phases = [];
    buildUploads = true;
    s3.reset();
    s3.on(HeadObjectCommand).callsFake((input: { Bucket: string; Key: string }) => {
      const metadata = objects.get(`${input.Bucket}/${input.Key}`);
      if (!metadata) throw new NotFound({ $metadata: { httpStatusCode: 404 }, message: 'UnknownError' });
      return { ETag: '"9b2cf535f27731c974343645a3985328"', ContentLength: 1024, Metadata: metadata };
    });
  });

  afterAll(() => {
    s3.restore();
    vi.unstubAllEnvs();
  });

  const artifactKey = `${PIPELINE}/artifacts/moolloy/${COMMIT}`;
  const run = (name: string) => sfn.startExecution(pipeline.arn, { mode: 'full', params: { commit: COMMIT } }, { name }).done;

  it("not built yet: builds it on spot at the run's commit, records it, and the workers get it with its sha256", async () => {
    // Act
    const execution = await run('first-run');

    // Assess
    expect(execution.status, `${execution.error}: ${execution.cause}`).toBe('SUCCEEDED');
    expect(enteredStates(execution)).toEqual(['ValidateInput', 'CheckBuildMoolloy', 'BuildMoolloyPresent?', 'BuildMoolloy', 'RecordBuildMoolloy', 'Parallel2', 'RunWorkerA', 'RunWorkerB', 'PipelineSucceeded']);
    expect(phases.map((p) => p.phase.name)).toEqual(['BuildMoolloy', 'RunWorkerA', 'RunWorkerB']);
    const built: ArtifactRef = { name: 'moolloy', version: COMMIT, uri: `s3://${bucket}/${artifactKey}`, sha256: SHA256, present: false };
    expect(phases[0]!.run.artifacts!.moolloy).toEqual({ name: 'moolloy', version: COMMIT, uri: `s3://${bucket}/${artifactKey}`, present: false });
    expect(phases[0]!.run.params).toMatchObject({ PIPELINE_PARAM_COMMIT: COMMIT });
    for (const worker of phases.slice(1)) expect(worker.run.artifacts).toEqual({ moolloy: built });
    expect((execution.output as { run: { artifacts: unknown } }).run.artifacts).toEqual({ moolloy: built });
  });

  it('already built: launches nothing for the build, and the workers get the artifact found in the bucket', async () => {
    // Prepare
    objects.set(`${bucket}/${artifactKey}`, { sha256: SHA256 });

    // Act
    const execution = await run('second-run');

    // Assess
    expect(execution.status, `${execution.error}: ${execution.cause}`).toBe('SUCCEEDED');
    expect(enteredStates(execution)).toEqual(['ValidateInput', 'CheckBuildMoolloy', 'BuildMoolloyPresent?', 'BuildMoolloyAlreadyBuilt', 'Parallel2', 'RunWorkerA', 'RunWorkerB', 'PipelineSucceeded']);
    expect(phases.map((p) => p.phase.name)).toEqual(['RunWorkerA', 'RunWorkerB']);
    for (const worker of phases) expect(worker.run.artifacts).toEqual({ moolloy: { name: 'moolloy', version: COMMIT, uri: `s3://${bucket}/${artifactKey}`, sha256: SHA256, present: true } });
  });

  it('a build that ends well but uploads nothing fails the pipeline at RecordBuildMoolloy with ArtifactMissing; no worker starts', async () => {
    // Prepare
    buildUploads = false;

    // Act
    const execution = await run('broken-build');

    // Assess
    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe('ArtifactMissing');
    expect(enteredStates(execution).at(-1)).toBe('RecordBuildMoolloy');
    expect(phases.map((p) => p.phase.name)).toEqual(['BuildMoolloy']);
  });

  it('a run without the commit parameter fails before anything launches', async () => {
    // Act
    const execution = await sfn.startExecution(pipeline.arn, { mode: 'full' }, { name: 'no-commit' }).done;

    // Assess
    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe('InvalidExecutionInput');
    expect(phases).toEqual([]);
  });
});

describe('cdk-nag AwsSolutions checks on the build-once example', () => {
  afterAll(removeNagRuns);

  it('leave no unacknowledged finding (the new roles and function acknowledged where they need wildcards)', () => {
    // Act: as `cdk synth -c nag=true`.
    const run = synthWithNag(config, undefined, 'BuildOncePipeline');

    // Assess
    expect(lines(run.report?.violations)).toEqual([]);
    expect(run.error).toBeUndefined();
    const suppressed = lines(run.report?.suppressedViolations);
    expect(suppressed.some((l) => l.includes('/CheckArtifactFnServiceRole/')), 'the checks ran over CheckArtifact').toBe(true);
    expect(suppressed.some((l) => l.includes('/WorkersBuildMoolloyRole') || l.includes('/Workers/BuildMoolloyRole')), 'and over the build role').toBe(true);
  });
});
