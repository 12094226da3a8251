/** Tag keys every pipeline instance carries. IAM conditions and the reaper key on them. */
export const TAG = {
  pipeline: 'spot-pipeline:pipeline',
  execution: 'spot-pipeline:execution',
  run: 'spot-pipeline:run',
  phase: 'spot-pipeline:phase',
  attempt: 'spot-pipeline:attempt',
} as const;
