/**
 * The pipeline graph: validate the execution input, then run each stage in order, each built by
 * the builder of its kind (stages/). A failed phase fails the pipeline there; later stages do not
 * run. The failed state is the phase's own task, so a console redrive re-runs that phase from a
 * fresh attempt and skips the phases that succeeded.
 */
import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { PIPELINE_STATE_NAMES, type PhaseConfig, type PipelineConfig } from '../contract/config';
import { buildStage, stageMaxDuration } from './stages';
import type { StageContext } from './stages/types';

export interface PipelineDefinitionProps {
  readonly config: PipelineConfig;
  readonly validateInput: IFunction;
  readonly spotPhase: sfn.IStateMachine;
  /** Subnets of a phase: its own, or the pipeline's default. */
  readonly subnetsFor: (phase: PhaseConfig) => string[];
  /** What the stack decided for a phase's data plane: its code asset and instance profile. */
  readonly dataFor: StageContext['dataFor'];
  /** CheckArtifact, when the config has build stages. */
  readonly checkArtifact?: IFunction;
  /** PromotionGate, when the config has gate stages. */
  readonly promotionGate?: IFunction;
  /** ShardVerdict, when the config has sharded phases. */
  readonly shardVerdict?: IFunction;
}

export { PHASE_TASK_SLACK_SECONDS } from './stages';

/** Builds the pipeline graph. */
export class PipelineDefinition extends Construct {
  readonly startState: sfn.IChainable;

  constructor(scope: Construct, id: string, props: PipelineDefinitionProps) {
    super(scope, id);
    const { config } = props;

    const validate = new tasks.LambdaInvoke(this, PIPELINE_STATE_NAMES.validateInput, {
      comment: 'Accept { mode, runDate?, params? } or fail with InvalidExecutionInput before anything launches.',
      lambdaFunction: props.validateInput,
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      payload: sfn.TaskInput.fromObject({
        input: sfn.JsonPath.entirePayload,
        execution: { id: sfn.JsonPath.executionId, name: sfn.JsonPath.executionName, startTime: sfn.JsonPath.executionStartTime },
        timezone: config.schedules.timezone,
        params: config.params,
      }),
      // No resultPath: the validated run context ({ run }) replaces the state.
    }).addRetry({
      errors: ['Lambda.TooManyRequestsException', 'Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException'],
      interval: Duration.seconds(2),
      backoffRate: 2,
      maxAttempts: 6,
      jitterStrategy: sfn.JitterType.FULL,
    });

    const context: StageContext = { scope: this, config, spotPhase: props.spotPhase, validateInput: props.validateInput, subnetsFor: props.subnetsFor, dataFor: props.dataFor, checkArtifact: props.checkArtifact, promotionGate: props.promotionGate, shardVerdict: props.shardVerdict };
    let chain: sfn.Chain = sfn.Chain.start(validate);
    config.phases.forEach((stage, index) => {
      chain = chain.next(buildStage(context, stage, index));
    });
    this.startState = chain.next(new sfn.Succeed(this, PIPELINE_STATE_NAMES.succeeded));
  }
}

/** Seconds the whole pipeline may take: each stage's longest run, plus five minutes. */
export function pipelineTimeoutSeconds(config: PipelineConfig): number {
  return config.phases.reduce((sum, stage) => sum + stageMaxDuration(stage).toSeconds(), 300);
}
