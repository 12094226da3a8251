/**
 * A gate stage in the synthesized stack (examples/train-and-promote.json, bundling skipped): the
 * PromotionGate function, deployed only when the config has a gate, and its S3 grants (read the
 * candidate phase's outputs, read and write its own production prefix and the decision records,
 * list those prefixes: nothing else); the pipeline's role, which may put metric data in the
 * pipeline's namespace only; the graph (PromoteModelPreflight? -> PromoteModel -> CountPromoteModel
 * -> PromoteModelDecided), valid per asl-validator, run in aws-local-stepfunctions with the real
 * ValidateInput and PromotionGate handlers (S3 mocked) and a stand-in SpotPhase; and clean under
 * the cdk-nag AwsSolutions checks.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { CopyObjectCommand, GetObjectCommand, ListObjectsV2Command, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Template } from 'aws-cdk-lib/assertions';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PipelineConfig } from '../../contract/config';
import type { RunContext } from '../../contract/job';
import { productionPrefix, runOutputPrefix } from '../../contract/storage';
import { parsePipelineConfig } from '../../lib/config/load';
import { lines, removeNagRuns, synthWithNag, unusedAcknowledgements } from './nag-run';
import { deployedFunctions } from '../../simulator/lambda-runtime';
import { SimulatedStepFunctions } from '../../simulator/step-functions';
import { synthTemplate } from '../../simulator/synth';
import { deployedStateMachines, type CfnTemplate, type DeployedStateMachine } from '../../simulator/template';
import { pipelineTimeoutSeconds } from '../../state-machines/pipeline';
import { actionsOf, enteredStates, functionsOf, mainPath, roleStatements, validateAsl , pipelineWithStandInPhases, synthExample } from './statements';

const PROJECT_ROOT = path.resolve(__dirname, '..', '..');
const EXAMPLE = path.join(PROJECT_ROOT, 'examples', 'train-and-promote.json');
const PIPELINE = 'daily-training';
const NAMESPACE = 'DailyTraining';

type Asl = DeployedStateMachine['definition'];

/** The logical id of the role whose id starts with `prefix` (the state machines' roles). */
function roleId(template: Template, prefix: string): string {
  const ids = Object.keys(template.findResources('AWS::IAM::Role')).filter((id) => id.startsWith(prefix));
  expect(ids, prefix).toHaveLength(1);
  return ids[0]!;
}

/** The example without its gate: the same pipeline, nothing to promote. */
function exampleWithoutGate(): PipelineConfig {
  const raw = JSON.parse(readFileSync(EXAMPLE, 'utf8')) as { phases: { kind?: string }[] };
  raw.phases = raw.phases.filter((s) => s.kind !== 'gate');
  return parsePipelineConfig(raw, EXAMPLE, path.dirname(EXAMPLE));
}

let config: PipelineConfig;
let cfn: CfnTemplate;
let template: Template;
let bucketArn: unknown;

beforeAll(() => {
  ({ config, cfn, template, bucketArn } = synthExample(EXAMPLE));
});

describe('PromotionGate', () => {
  it('is deployed for a pipeline with a gate, with the pipeline bucket in its environment', () => {
    // Act
    const functions = functionsOf(template, 'promotion-gate');

    // Assess
    expect(functions).toHaveLength(1);
    const [id, fn] = functions[0]!;
    expect(id).toMatch(/^PromotionGateFn/);
    expect(fn.Properties.Environment).toEqual({ Variables: { PIPELINE_BUCKET: { Ref: (bucketArn as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0] } } });
  });

  it('is not deployed, and the pipeline may put no metric data, for the same pipeline without its gate', () => {
    // Prepare
    const without = Template.fromJSON(synthTemplate(exampleWithoutGate()));

    // Act
    const functions = functionsOf(without, 'promotion-gate');
    const pipelineStatements = roleStatements(without, roleId(without, 'PipelineRole'));

    // Assess
    expect(functions).toEqual([]);
    expect(functionsOf(without, 'validate-input')).toHaveLength(1); // the search itself finds handlers
    expect(pipelineStatements.flatMap(actionsOf)).not.toContain('cloudwatch:PutMetricData');
  });

  it("may read TrainModel's outputs, read and write its production prefix and the decision records, delete in its production prefix only, and list those: exactly that on S3", () => {
    // Prepare
    const [, fn] = functionsOf(template, 'promotion-gate')[0]!;
    const role = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const objects = (pattern: string) => ({ 'Fn::Join': ['', [bucketArn, `/${PIPELINE}/${pattern}`]] });

    // Act
    const statements = roleStatements(template, role);

    // Assess
    expect(statements.filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')))).toEqual([
      { Action: 's3:GetObject', Effect: 'Allow', Resource: objects('runs/*/*/TrainModel/*') },
      { Action: ['s3:GetObject', 's3:PutObject'], Effect: 'Allow', Resource: [objects('production/PromoteModel/*'), objects('promotions/*')] },
      { Action: 's3:DeleteObject', Effect: 'Allow', Resource: objects('production/PromoteModel/*') },
      {
        Action: 's3:ListBucket',
        Effect: 'Allow',
        Resource: bucketArn,
        Condition: { StringLike: { 's3:prefix': [`${PIPELINE}/runs/*/*/TrainModel/*`, `${PIPELINE}/production/PromoteModel/*`, `${PIPELINE}/promotions/*`] } },
      },
    ]);
    for (const action of statements.flatMap(actionsOf)) expect(action).toMatch(/^(s3:(GetObject|PutObject|DeleteObject|ListBucket)|logs:(CreateLogStream|PutLogEvents)|xray:.+)$/);
  });

  it("is invoked by the pipeline's role, not the SpotPhase's", () => {
    // Prepare
    const [fnId] = functionsOf(template, 'promotion-gate')[0]!;

    // Act
    const invoke = roleStatements(template, roleId(template, 'PipelineRole')).filter((s) => actionsOf(s).includes('lambda:InvokeFunction'));

    // Assess
    expect(JSON.stringify(invoke)).toContain(`"Fn::GetAtt":["${fnId}","Arn"]`);
    expect(JSON.stringify(roleStatements(template, roleId(template, 'SpotPhaseRole')))).not.toContain(fnId);
  });

  it(`lets the pipeline's role put metric data only in the namespace ${NAMESPACE}`, () => {
    // Act
    const puts = roleStatements(template, roleId(template, 'PipelineRole')).filter((s) => actionsOf(s).some((a) => a.startsWith('cloudwatch:')));

    // Assess
    expect(puts).toEqual([{ Action: 'cloudwatch:PutMetricData', Effect: 'Allow', Resource: '*', Condition: { StringEquals: { 'cloudwatch:namespace': NAMESPACE } } }]);
  });
});

describe('the pipeline graph', () => {
  let pipeline: DeployedStateMachine;
  let gateArn: string;
  beforeAll(() => {
    pipeline = deployedStateMachines(cfn).find((m) => m.name === PIPELINE)!;
    gateArn = deployedFunctions(cfn).find((f) => f.handlerFile.endsWith('promotion-gate.ts'))!.arn;
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

  it('asl-validator catches a gate whose datum leads nowhere (the check above is live)', () => {
    // Prepare
    const broken: Asl = structuredClone(pipeline.definition);
    broken.States.CountPromoteModel!.Next = 'NoSuchState';

    // Act
    const result = validateAsl(broken);

    // Assess
    expect(result.isValid).toBe(false);
    expect(result.errorsText()).toContain('NoSuchState');
  });

  it('trains, then (unless a preflight) decides, puts the datum and goes on', () => {
    // Prepare
    const states = pipeline.definition.States;

    // Act
    const main = mainPath(pipeline.definition);

    // Assess
    expect(main).toEqual(['ValidateInput', 'TrainModel', 'PromoteModelPreflight?', 'PromoteModel', 'CountPromoteModel', 'PromoteModelDecided', 'PipelineSucceeded']);
    expect(states['PromoteModelPreflight?']).toMatchObject({
      Type: 'Choice',
      Choices: [{ Variable: '$.run.mode', StringEquals: 'preflight', Next: 'PromoteModelDecided' }],
      Default: 'PromoteModel',
    });
    expect(states.PromoteModelDecided).toMatchObject({ Type: 'Pass', Next: 'PipelineSucceeded' });
    expect(Object.keys(states).sort()).toEqual(['ValidateInput', 'TrainModel', 'PromoteModelPreflight?', 'PromoteModel', 'CountPromoteModel', 'PromoteModelDecided', 'PipelineSucceeded'].sort());
  });

  it('PromoteModel calls PromotionGate with the gate and the run, into $.phases.PromoteModel, retrying throttling but not bad metrics', () => {
    // Act
    const task = pipeline.definition.States.PromoteModel!;

    // Assess
    expect(task).toMatchObject({
      Type: 'Task',
      Resource: gateArn,
      Parameters: {
        gate: {
          name: 'PromoteModel',
          candidate: 'TrainModel',
          metricsFile: 'metrics.json',
          rules: [
            { metric: 'accuracy', better: 'higher', rule: 'improve' },
            { metric: 'maxDrawdown', better: 'lower', rule: 'not-worse', tolerance: 0.1 },
            { metric: 'sharpe', better: 'higher', rule: 'improve', advisory: true },
          ],
          dryRun: false,
          pipelineName: PIPELINE,
        },
        'run.$': '$.run',
      },
      ResultPath: '$.phases.PromoteModel',
      Next: 'CountPromoteModel',
    });
    const retried = (task.Retry as { ErrorEquals: string[] }[]).flatMap((r) => r.ErrorEquals);
    expect(retried).toContain('TransientApiError');
    expect(retried).not.toContain('States.ALL');
    expect(retried).not.toContain('MetricsInvalid');
    expect(task.Catch).toBeUndefined();
  });

  it("CountPromoteModel puts ModelPromoted (the gate's promotedValue) by Pipeline and Gate, and a datum that cannot be put does not stop the run", () => {
    // Act
    const count = pipeline.definition.States.CountPromoteModel!;

    // Assess
    expect(count).toMatchObject({
      Type: 'Task',
      Resource: expect.stringMatching(/^arn:aws[a-z-]*:states:::aws-sdk:cloudwatch:putMetricData$/),
      Parameters: {
        Namespace: NAMESPACE,
        MetricData: [
          {
            MetricName: 'ModelPromoted',
            Unit: 'Count',
            'Value.$': '$.phases.PromoteModel.promotedValue',
            Dimensions: [
              { Name: 'Pipeline', 'Value.$': '$.phases.PromoteModel.pipeline' },
              { Name: 'Gate', 'Value.$': '$.phases.PromoteModel.gate' },
            ],
          },
        ],
      },
      ResultPath: null,
      Next: 'PromoteModelDecided',
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: null, Next: 'PromoteModelDecided' }],
    });
    expect((count.Parameters as { MetricData: Record<string, unknown>[] }).MetricData[0]).not.toHaveProperty('Value');
    expect((count.Retry as { ErrorEquals: string[]; MaxAttempts: number }[])[0]).toMatchObject({ ErrorEquals: ['States.ALL'], MaxAttempts: 5 });
  });

  it('times out only after the training budget and the gate, as pipelineTimeoutSeconds says', () => {
    // Act
    const timeout = pipeline.definition.TimeoutSeconds as number;

    // Assess: 300 + (3600 training + 2 x 60) + 600 gate.
    expect(timeout).toBe(pipelineTimeoutSeconds(config));
    expect(timeout).toBe(4620);
  });
});

describe('the pipeline graph, run (aws-local-stepfunctions; real ValidateInput and PromotionGate, S3 mocked, SpotPhase stood in for)', () => {
  const s3 = mockClient(S3Client);
  /** The simulated bucket: "bucket/key" -> body. */
  let objects: Map<string, string>;
  /** What the stand-in TrainModel writes to its outputs (none when undefined). */
  let candidate: Record<string, string> | undefined;
  /** The AWS SDK integration calls of the pipeline (PutMetricData). */
  let sdkCalls: { service: string; action: string; parameters: unknown }[];
  let sfn: SimulatedStepFunctions;
  let pipeline: DeployedStateMachine;
  let bucket: string;

  beforeAll(async () => {
    bucket = deployedFunctions(cfn).find((f) => f.handlerFile.endsWith('promotion-gate.ts'))!.environment.PIPELINE_BUCKET!;
    // A SpotPhase execution that ran its phase: it uploads its files to its run output prefix.
    const worker = async (input: { phase: { name: string }; run: RunContext }) => {
      const prefix = runOutputPrefix(PIPELINE, input.run.runDate, input.run.pipelineExecution, input.phase.name);
      for (const [file, body] of Object.entries(candidate ?? {})) objects.set(`${bucket}/${prefix}${file}`, body);
      return { phase: input.phase.name, outcome: input.run.mode === 'preflight' ? 'preflight-ok' : 'succeeded' };
    };
    ({ sfn, pipeline } = await pipelineWithStandInPhases(cfn, PIPELINE, worker, {
      sdkIntegration: async (service, action, parameters) => {
        sdkCalls.push({ service, action, parameters });
        return {};
      },
    }));
  });

  beforeEach(() => {
    vi.stubEnv('AWS_LAMBDA_LOG_LEVEL', 'ERROR'); // quiet handler logs (they log after SimulatedLambda puts its environment back)
    objects = new Map();
    candidate = undefined;
    sdkCalls = [];
    s3.reset();
    s3.on(GetObjectCommand).callsFake((input: { Bucket: string; Key: string }) => {
      const body = objects.get(`${input.Bucket}/${input.Key}`);
      if (body === undefined) throw new NoSuchKey({ $metadata: { httpStatusCode: 404 }, message: 'The specified key does not exist.' });
      return { Body: Object.assign(Readable.from([Buffer.from(body)]), { transformToString: async () => body }) };
    });
    s3.on(ListObjectsV2Command).callsFake((input: { Bucket: string; Prefix: string }) => {
      const keys = [...objects.keys()].filter((k) => k.startsWith(`${input.Bucket}/${input.Prefix}`)).map((k) => k.slice(input.Bucket.length + 1));
      return { Contents: keys.sort().map((Key) => ({ Key, Size: objects.get(`${input.Bucket}/${Key}`)!.length })), KeyCount: keys.length, IsTruncated: false };
    });
    s3.on(CopyObjectCommand).callsFake((input: { Bucket: string; Key: string; CopySource: string }) => {
      const body = objects.get(decodeURIComponent(input.CopySource));
      if (body === undefined) throw new NoSuchKey({ $metadata: { httpStatusCode: 404 }, message: 'The specified key does not exist.' });
      objects.set(`${input.Bucket}/${input.Key}`, body);
      return { CopyObjectResult: { ETag: '"9b2cf535f27731c974343645a3985328"' } };
    });
    s3.on(PutObjectCommand).callsFake((input: { Bucket: string; Key: string; Body: string }) => {
      objects.set(`${input.Bucket}/${input.Key}`, input.Body);
      return { ETag: '"9b2cf535f27731c974343645a3985328"' };
    });
  });

  afterAll(() => {
    s3.restore();
    vi.unstubAllEnvs();
  });

  const production = (file: string) => `${bucket}/${productionPrefix(PIPELINE, 'PromoteModel')}${file}`;
  const run = (name: string, mode: 'full' | 'preflight' = 'full') => sfn.startExecution(pipeline.arn, { mode }, { name }).done;
  /** The ModelPromoted data the pipeline put: their values and dimensions. */
  const data = () =>
    sdkCalls.map((c) => {
      expect([c.service, c.action]).toEqual(['cloudwatch', 'putMetricData']);
      const p = c.parameters as { Namespace: string; MetricData: { MetricName: string; Value: number; Dimensions: { Name: string; Value: string }[] }[] };
      return { namespace: p.Namespace, name: p.MetricData[0]!.MetricName, value: p.MetricData[0]!.Value, dimensions: p.MetricData[0]!.Dimensions };
    });
  const dimensions = [
    { Name: 'Pipeline', Value: PIPELINE },
    { Name: 'Gate', Value: 'PromoteModel' },
  ];

  it('a better candidate: promoted to production, ModelPromoted 1, the decision at $.phases.PromoteModel', async () => {
    // Prepare
    objects.set(production('metrics.json'), JSON.stringify({ accuracy: 0.58, maxDrawdown: 0.12, sharpe: 1.2 }));
    candidate = { 'metrics.json': JSON.stringify({ accuracy: 0.61, maxDrawdown: 0.125, sharpe: 1.1 }), 'model.json': '{"trees": 200}' };

    // Act
    const execution = await run('promotes');

    // Assess
    expect(execution.status, `${execution.error}: ${execution.cause}`).toBe('SUCCEEDED');
    expect(enteredStates(execution)).toEqual(['ValidateInput', 'TrainModel', 'PromoteModelPreflight?', 'PromoteModel', 'CountPromoteModel', 'PromoteModelDecided', 'PipelineSucceeded']);
    expect(data()).toEqual([{ namespace: NAMESPACE, name: 'ModelPromoted', value: 1, dimensions }]);
    expect(objects.get(production('model.json'))).toBe('{"trees": 200}');
    expect(objects.get(production('metrics.json'))).toBe(candidate['metrics.json']);
    expect((execution.output as { phases: { PromoteModel: unknown } }).phases.PromoteModel).toMatchObject({ decision: 'promoted', promotedValue: 1, gate: 'PromoteModel', pipeline: PIPELINE });
  });

  it('a worse candidate: production kept, ModelPromoted 0, the run succeeds', async () => {
    // Prepare
    objects.set(production('metrics.json'), JSON.stringify({ accuracy: 0.58, maxDrawdown: 0.12, sharpe: 1.2 }));
    candidate = { 'metrics.json': JSON.stringify({ accuracy: 0.57, maxDrawdown: 0.1, sharpe: 1.3 }), 'model.json': '{"trees": 50}' };

    // Act
    const execution = await run('keeps');

    // Assess
    expect(execution.status, `${execution.error}: ${execution.cause}`).toBe('SUCCEEDED');
    expect(data()).toEqual([{ namespace: NAMESPACE, name: 'ModelPromoted', value: 0, dimensions }]);
    expect(objects.has(production('model.json'))).toBe(false);
    expect((execution.output as { phases: { PromoteModel: unknown } }).phases.PromoteModel).toMatchObject({ decision: 'kept', promotedValue: 0 });
  });

  it('malformed candidate metrics fail the pipeline at PromoteModel with MetricsInvalid naming the field; no datum, nothing promoted', async () => {
    // Prepare
    candidate = { 'metrics.json': JSON.stringify({ accuracy: 'high', maxDrawdown: 0.1, sharpe: 1 }) };

    // Act
    const execution = await run('bad-metrics');

    // Assess
    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe('MetricsInvalid');
    expect(execution.cause).toContain('metrics.json: accuracy: must be a finite number, got \\"high\\"');
    expect(enteredStates(execution).at(-1)).toBe('PromoteModel');
    expect(sdkCalls).toEqual([]);
    expect([...objects.keys()].filter((k) => k.includes('/production/'))).toEqual([]);
  });

  it('a preflight skips the gate (its candidate ran the preflight command only): no decision, no datum, S3 not asked', async () => {
    // Prepare: what a preflight uploads is no candidate.
    candidate = { 'preflight-probe.txt': 'ok\n' };

    // Act
    const execution = await run('preflight', 'preflight');

    // Assess
    expect(execution.status, `${execution.error}: ${execution.cause}`).toBe('SUCCEEDED');
    expect(enteredStates(execution)).toEqual(['ValidateInput', 'TrainModel', 'PromoteModelPreflight?', 'PromoteModelDecided', 'PipelineSucceeded']);
    expect(sdkCalls).toEqual([]);
    expect(s3.calls()).toHaveLength(0);
  });
});

describe('cdk-nag AwsSolutions checks on the train-and-promote example', () => {
  afterAll(removeNagRuns);

  it('leave no unacknowledged finding, and every acknowledgement is used (PromotionGate and the pipeline role included)', () => {
    // Act: as `cdk synth -c nag=true`.
    const run = synthWithNag(config, undefined, 'TrainAndPromotePipeline');

    // Assess
    expect(lines(run.report?.violations)).toEqual([]);
    expect(run.error).toBeUndefined();
    expect(lines(run.report?.suppressedViolations).some((l) => l.includes('/PromotionGateFnServiceRole/')), 'the checks ran over PromotionGate').toBe(true);
    expect(run.acknowledgements.filter((a) => a.path.includes('PromotionGateFn')).length).toBeGreaterThan(0);
    expect(unusedAcknowledgements(run), 'stale acknowledgements').toEqual([]);
  });
});
