/** What the stack tests share: the expected bucket statements of the workers' roles, readers of a template, and a synthesized pipeline run with stand-in phases. */
import { createRequire } from 'node:module';
import { Template } from 'aws-cdk-lib/assertions';
import { expect } from 'vitest';
import type { PipelineConfig } from '../../contract/config';
import { HANDLER_TAG } from '../../contract/tags';
import { loadPipelineConfig } from '../../lib/config/load';
import { deployedFunctions, SimulatedLambda } from '../../simulator/lambda-runtime';
import { SimulatedStepFunctions, type SimExecution, type SimulatedStepFunctionsOptions } from '../../simulator/step-functions';
import { synthTemplate } from '../../simulator/synth';
import { deployedStateMachines, type CfnTemplate, type DeployedStateMachine } from '../../simulator/template';

export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/** A phase role's statements on the pipeline bucket (grantPhase), whose ARN is the expression `arn`. */
export function phaseBucketStatements(arn: unknown, phase: string, pipeline = 'saturday-pipeline'): Statement[] {
  const objects = (pattern: string) => ({ 'Fn::Join': ['', [arn, `/${pipeline}/${pattern}`]] });
  return [
    { Action: 's3:GetObject', Effect: 'Allow', Resource: [objects('artifacts/*'), objects('runs/*')] },
    { Action: 's3:PutObject', Effect: 'Allow', Resource: objects(`runs/*/*/${phase}/*`) },
    { Action: ['s3:GetObject', 's3:PutObject'], Effect: 'Allow', Resource: objects(`checkpoints/*/*/${phase}/*`) },
    {
      Action: 's3:ListBucket',
      Effect: 'Allow',
      Resource: arn,
      Condition: { StringLike: { 's3:prefix': [`${pipeline}/artifacts/*`, `${pipeline}/runs/*`, `${pipeline}/checkpoints/*/*/${phase}/*`] } },
    },
  ];
}

/** asl-validator 4 ships no type declarations: module.exports = validator(definition, opts?). */
type AslValidator = (definition: unknown, opts?: { checkPaths?: boolean; checkArn?: boolean }) => { isValid: boolean; errorsText: (separator?: string) => string };
export const validateAsl = createRequire(__filename)('asl-validator') as AslValidator;

export type AslState = Record<string, unknown>;

export const actionsOf = (s: Statement): string[] => [s.Action].flat();

/** The statements of every policy attached to a role. */
export function roleStatements(template: Template, roleId: string): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

/** The Lambda functions of a handler (PipelineFunction tags each with its handler file), by logical id. */
export function functionsOf(template: Template, handler: string): [string, { Properties: Record<string, unknown> }][] {
  return Object.entries(template.findResources('AWS::Lambda::Function')).filter(([, f]) =>
    ((f.Properties.Tags ?? []) as { Key: string; Value: string }[]).some((t) => t.Key === HANDLER_TAG && t.Value === handler),
  ) as [string, { Properties: Record<string, unknown> }][];
}

/** State names from StartAt along Next (and, unless told not to, a Choice along its Default), until a state without either. */
export function mainPath(definition: { StartAt: string; States: Record<string, AslState> }, { throughChoices = true } = {}): string[] {
  const names: string[] = [];
  const next = (state: AslState | undefined) => (state?.Next ?? (throughChoices ? state?.Default : undefined)) as string | undefined;
  for (let name: string | undefined = definition.StartAt; name !== undefined; name = next(definition.States[name])) {
    if (names.includes(name)) throw new Error(`cycle at ${name}`);
    names.push(name);
  }
  return names;
}

/** The states an execution entered, in order. */
export const enteredStates = (execution: SimExecution): string[] => execution.events.filter((e) => e.type === 'StateEntered').map((e) => e.state!.name);

/** An example config synthesized (bundling skipped), with its template and the pipeline bucket's ARN expression. */
export function synthExample(file: string): { config: PipelineConfig; cfn: CfnTemplate; template: Template; bucketArn: unknown } {
  const config = loadPipelineConfig(file);
  const cfn = synthTemplate(config);
  const template = Template.fromJSON(cfn);
  const buckets = Object.keys(template.findResources('AWS::S3::Bucket'));
  expect(buckets).toHaveLength(1);
  return { config, cfn, template, bucketArn: { 'Fn::GetAtt': [buckets[0], 'Arn'] } };
}

/**
 * The synthesized pipeline state machine run in the local interpreter with its real Lambda
 * handlers, and a stand-in for the SpotPhase state machine: one task that `worker` answers (what
 * a phase execution would have done and returned).
 */
export async function pipelineWithStandInPhases(
  cfn: CfnTemplate,
  pipelineName: string,
  worker: (input: never) => Promise<unknown>,
  options: SimulatedStepFunctionsOptions = {},
): Promise<{ sfn: SimulatedStepFunctions; pipeline: DeployedStateMachine }> {
  const workerArn = 'arn:aws:lambda:us-east-1:123456789012:function:stand-in-spot-phase';
  const deployed = deployedStateMachines(cfn);
  const pipeline = deployed.find((m) => m.name === pipelineName)!;
  const realSpotPhase = deployed.find((m) => m.name === `${pipelineName}-spot-phase`)!;
  const standIn: DeployedStateMachine = { ...realSpotPhase, definition: { StartAt: 'Work', States: { Work: { Type: 'Task', Resource: workerArn, End: true } } } };
  const real = new SimulatedLambda(deployedFunctions(cfn));
  await real.load();
  const lambda = { invoke: (arn: string, payload: unknown) => (arn === workerArn ? worker(payload as never) : real.invoke(arn, payload)) } as unknown as SimulatedLambda;
  return { sfn: new SimulatedStepFunctions([pipeline, standIn], lambda, options), pipeline };
}
