/** What the stack tests expect of the workers' roles on the pipeline bucket (lib/constructs/pipeline-bucket.ts). */

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

