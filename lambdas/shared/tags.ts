/** Tag keys every pipeline instance carries. IAM conditions and the reaper key on them. */
export const TAG = {
  pipeline: 'spot-pipeline:pipeline',
  /** The SpotPhase execution's ARN. */
  execution: 'spot-pipeline:execution',
  /** The pipeline execution's ARN. */
  run: 'spot-pipeline:run',
  phase: 'spot-pipeline:phase',
  attempt: 'spot-pipeline:attempt',
} as const;
