import type { PipelineConfigInput } from '../../contract/config';

/** Interchangeable instance types of the Saturday pipeline: any of them runs any phase. */
const SATURDAY_INSTANCE_TYPES = ['c5.large', 'c5a.large', 'm5.large'];

/** The built-in Saturday pipeline (seed 001): four phases, one after the other. */
export const SATURDAY_PIPELINE: PipelineConfigInput = {
  pipelineName: 'saturday-pipeline',
  metricNamespace: 'AlphaEngine',
  phases: [
    {
      name: 'DataPhase1',
      workloadCommand: '/opt/alpha-engine/bin/spot_data_weekly.sh',
      instanceTypes: SATURDAY_INSTANCE_TYPES,
      budgetSeconds: 5400,
      attemptSeconds: 2400,
    },
    {
      name: 'Research',
      workloadCommand: '/opt/alpha-engine/bin/research_weekly.sh',
      instanceTypes: SATURDAY_INSTANCE_TYPES,
      budgetSeconds: 7200,
      attemptSeconds: 3000,
    },
    {
      name: 'PredictorTraining',
      workloadCommand: '/opt/alpha-engine/bin/predictor_training.sh',
      instanceTypes: SATURDAY_INSTANCE_TYPES,
      budgetSeconds: 10800,
      attemptSeconds: 4800,
    },
    {
      name: 'Backtester',
      workloadCommand: '/opt/alpha-engine/bin/backtester.sh',
      instanceTypes: SATURDAY_INSTANCE_TYPES,
      budgetSeconds: 7200,
      attemptSeconds: 3000,
    },
  ],
};
