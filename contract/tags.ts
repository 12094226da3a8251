/** Tag keys. IAM conditions, the cleanup, the reaper and the simulator all key on them. */
export const TAG = {
  /** Every pipeline instance: the pipeline's name. */
  pipeline: 'spot-pipeline:pipeline',
  /** The SpotPhase execution's ARN. */
  execution: 'spot-pipeline:execution',
  /** The pipeline execution's ARN. */
  run: 'spot-pipeline:run',
  phase: 'spot-pipeline:phase',
  attempt: 'spot-pipeline:attempt',
  /** The market the instance runs in: spot, or on-demand after a phase's fallback (IAM allows on-demand only for phases that opt in). */
  market: 'spot-pipeline:market',
  /** The shard of a sharded phase (config `shards`). */
  shard: 'spot-pipeline:shard',
  /** How many times the pipeline execution had been redriven when the instance launched ($$.Execution.RedriveCount). */
  redrive: 'spot-pipeline:redrive',
} as const;

/** Tag naming the handler file (lambdas/<name>.ts) a Lambda function runs; the simulator maps functions to code by it. */
export const HANDLER_TAG = 'spot-pipeline:handler';
