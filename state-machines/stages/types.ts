/** What a stage builder gets and gives: one builder per stage kind (contract/config.ts, STAGE_KINDS). */
import type { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import type { PhaseConfig, PhaseSpec, PipelineConfig, Stage, StageKind } from '../../contract/config';

/** What every builder may use: the config, the SpotPhase state machine, and where each phase launches. */
export interface StageContext {
  readonly scope: Construct;
  readonly config: PipelineConfig;
  readonly spotPhase: sfn.IStateMachine;
  readonly validateInput: IFunction;
  /** Subnets of a phase: its own, or the pipeline's default. */
  readonly subnetsFor: (phase: PhaseConfig) => string[];
  /** What the stack decided for a phase's data plane: its code asset and instance profile. */
  readonly dataFor: (phase: PhaseConfig) => Pick<PhaseSpec, 'codeAsset' | 'instanceProfileArn' | 'launchTemplate'>;
  /** CheckArtifact (lambdas/check-artifact.ts), when the pipeline has build stages. */
  readonly checkArtifact?: IFunction;
  /** PromotionGate (lambdas/promotion-gate.ts), when the pipeline has gate stages. */
  readonly promotionGate?: IFunction;
  /** ShardVerdict (lambdas/shard-verdict.ts), when the pipeline has sharded phases. */
  readonly shardVerdict?: IFunction;
}

export interface StageBuilder<K extends StageKind> {
  /** The states of one stage: entered with the pipeline's state ({ run, phases }), leaving it with this stage's results merged in. */
  build(context: StageContext, stage: Extract<Stage, { kind: K }>, index: number): sfn.IChainable & sfn.INextable;
  /** The longest this stage may run (the pipeline's timeout adds them up). */
  maxDuration(stage: Extract<Stage, { kind: K }>): Duration;
}
