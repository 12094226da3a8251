import * as path from 'node:path';
import type { PipelineConfigInput } from '../../contract/config';

/** Interchangeable instance types of the Saturday pipeline: any of them runs any phase. */
const SATURDAY_INSTANCE_TYPES = ['c5.large', 'c5a.large', 'm5.large'];

/** What the built-in config's relative paths are relative to: this repository. */
export const SATURDAY_PIPELINE_DIR = path.join(__dirname, '..', '..');

/**
 * The built-in Saturday pipeline (seed 001): four phases, one after the other, running the small
 * real workloads in workloads/saturday/ (replace them with yours: see README, "Writing a workload").
 */
export const SATURDAY_PIPELINE: PipelineConfigInput = {
  pipelineName: 'saturday-pipeline',
  metricNamespace: 'AlphaEngine',
  code: 'workloads/saturday',
  params: {
    universeSize: { type: 'integer', description: 'Symbols DataPhase1 builds prices for', min: 1, max: 500, default: 20 },
    stepSeconds: { type: 'integer', description: 'Pause after each step, to make the demo run last a few minutes', min: 0, max: 600, default: 6 },
  },
  phases: [
    {
      name: 'DataPhase1',
      workloadCommand: 'bash "$PIPELINE_CODE_DIR/data_phase1.sh"',
      instanceTypes: SATURDAY_INSTANCE_TYPES,
      tools: ['python3', 'awk'],
      budgetSeconds: 5400,
      attemptSeconds: 2400,
    },
    {
      name: 'Research',
      workloadCommand: 'bash "$PIPELINE_CODE_DIR/research.sh"',
      instanceTypes: SATURDAY_INSTANCE_TYPES,
      tools: ['python3', 'awk'],
      budgetSeconds: 7200,
      attemptSeconds: 3000,
    },
    {
      name: 'PredictorTraining',
      workloadCommand: 'bash "$PIPELINE_CODE_DIR/predictor_training.sh"',
      instanceTypes: SATURDAY_INSTANCE_TYPES,
      tools: ['python3', 'awk'],
      budgetSeconds: 10800,
      attemptSeconds: 4800,
    },
    {
      name: 'Backtester',
      workloadCommand: 'bash "$PIPELINE_CODE_DIR/backtester.sh"',
      instanceTypes: SATURDAY_INSTANCE_TYPES,
      tools: ['python3', 'awk'],
      budgetSeconds: 7200,
      attemptSeconds: 3000,
    },
  ],
};
