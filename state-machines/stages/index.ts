/** One graph builder per stage kind. A new kind: a member of the stage union in contract/config.ts, a builder file here, a line below. */
import type { Duration } from 'aws-cdk-lib';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Stage, StageKind } from '../../contract/config';
import { buildStageBuilder } from './build';
import { gateStageBuilder } from './gate';
import { parallelStage } from './parallel';
import { phaseStage } from './phase';
import type { StageBuilder, StageContext } from './types';

const BUILDERS: { readonly [K in StageKind]: StageBuilder<K> } = {
  phase: phaseStage,
  parallel: parallelStage,
  build: buildStageBuilder,
  gate: gateStageBuilder,
};

const builderOf = <K extends StageKind>(stage: Extract<Stage, { kind: K }>): StageBuilder<K> => BUILDERS[stage.kind as K];

export function buildStage(context: StageContext, stage: Stage, index: number): sfn.IChainable & sfn.INextable {
  return builderOf(stage).build(context, stage as never, index);
}

export function stageMaxDuration(stage: Stage): Duration {
  return builderOf(stage).maxDuration(stage as never);
}

export type { StageContext } from './types';
export { PHASE_TASK_SLACK_SECONDS } from './phase';
