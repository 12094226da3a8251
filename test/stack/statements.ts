/** What the stack tests share: the expected bucket statements of the workers' roles, and readers of a template. */
import { createRequire } from 'node:module';
import type { Template } from 'aws-cdk-lib/assertions';
import { HANDLER_TAG } from '../../contract/tags';
import type { SimExecution } from '../../simulator/step-functions';

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
