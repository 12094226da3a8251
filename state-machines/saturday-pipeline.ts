/**
 * The Saturday pipeline: validate the execution input, then run each phase (in order, or side
 * by side for a parallel group) as a SpotPhase execution. A failed phase fails the pipeline
 * there; later phases do not run. The failed state is the phase's own task, so a console
 * redrive re-runs that phase from a fresh attempt and skips the phases that succeeded.
 */
import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { PhaseConfig, PipelineConfig, PhaseSpec } from '../lib/config/schema';

export interface SaturdayPipelineDefinitionProps {
  readonly config: PipelineConfig;
  readonly validateInput: IFunction;
  readonly spotPhase: sfn.IStateMachine;
  /** Subnets of a phase: its own, or the pipeline's default. */
  readonly subnetsFor: (phase: PhaseConfig) => string[];
}

/** Slack on a phase task beyond the phase budget: the phase ends itself first; this is a backstop. */
export const PHASE_TASK_SLACK_SECONDS = 60;

/** Builds the pipeline graph. */
export class SaturdayPipelineDefinition extends Construct {
  readonly startState: sfn.IChainable;

  constructor(scope: Construct, id: string, props: SaturdayPipelineDefinitionProps) {
    super(scope, id);
    const { config } = props;

    const validate = new tasks.LambdaInvoke(this, 'ValidateInput', {
      comment: 'Accept { mode, runDate? } or fail with InvalidExecutionInput before anything launches.',
      lambdaFunction: props.validateInput,
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      payload: sfn.TaskInput.fromObject({
        input: sfn.JsonPath.entirePayload,
        execution: { id: sfn.JsonPath.executionId, name: sfn.JsonPath.executionName, startTime: sfn.JsonPath.executionStartTime },
        timezone: config.schedules.timezone,
      }),
      // Replace the state with the validated run context. (ResultPath "$" would say the same, but
      // aws-local-stepfunctions mishandles it; ResultPath + OutputPath is equivalent everywhere.)
      resultPath: '$.validated',
      outputPath: '$.validated',
    }).addRetry({
      errors: ['Lambda.TooManyRequestsException', 'Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException'],
      interval: Duration.seconds(2),
      backoffRate: 2,
      maxAttempts: 6,
      jitterStrategy: sfn.JitterType.FULL,
    });

    let chain: sfn.Chain = sfn.Chain.start(validate);
    config.phases.forEach((stage, index) => {
      if ('parallel' in stage) {
        const group = new sfn.Parallel(this, `Parallel${index + 1}`, {
          comment: `Phases ${stage.parallel.map((p) => p.name).join(', ')} side by side`,
          resultSelector: {
            'run.$': '$[0].run',
            'phases.$': mergeExpression(stage.parallel.length),
          },
          resultPath: '$.merged',
          outputPath: '$.merged',
        });
        for (const phase of stage.parallel) group.branch(this.phaseTask(props, phase));
        chain = chain.next(group);
      } else {
        chain = chain.next(this.phaseTask(props, stage));
      }
    });
    this.startState = chain.next(new sfn.Succeed(this, 'PipelineSucceeded'));
  }

  private phaseTask(props: SaturdayPipelineDefinitionProps, phase: PhaseConfig): sfn.TaskStateBase {
    const spec: PhaseSpec = {
      ...phase,
      subnetIds: props.subnetsFor(phase),
      cleanupMarginSeconds: props.config.cleanupMarginSeconds,
      pipelineName: props.config.pipelineName,
    };
    return new tasks.StepFunctionsStartExecution(this, phase.name, {
      comment: `Run phase ${phase.name} on spot (budget ${phase.budgetSeconds} s)`,
      stateMachine: props.spotPhase,
      integrationPattern: sfn.IntegrationPattern.RUN_JOB,
      associateWithParent: true,
      input: sfn.TaskInput.fromObject({ phase: spec, run: sfn.JsonPath.objectAt('$.run') }),
      resultSelector: { 'summary.$': '$.Output', 'executionArn.$': '$.ExecutionArn' },
      resultPath: `$.phases.${phase.name}`,
      taskTimeout: sfn.Timeout.duration(Duration.seconds(phase.budgetSeconds + PHASE_TASK_SLACK_SECONDS)),
    }).addRetry({
      // Only failures to start or watch the phase; a phase that ran and failed is never retried here.
      errors: ['StepFunctions.ExecutionLimitExceededException', 'StepFunctions.SdkClientException', 'StepFunctions.AWSStepFunctionsException'],
      interval: Duration.seconds(5),
      backoffRate: 2,
      maxAttempts: 4,
      jitterStrategy: sfn.JitterType.FULL,
    });
  }
}

/** States.JsonMerge of every branch's `phases`, nested as the intrinsic takes two at a time. */
function mergeExpression(branches: number): string {
  let expr = '$[0].phases';
  for (let i = 1; i < branches; i++) expr = `States.JsonMerge(${expr}, $[${i}].phases, false)`;
  return expr;
}

/** Seconds the whole pipeline may take: each stage's longest budget, plus slack per stage. */
export function pipelineTimeoutSeconds(config: PipelineConfig): number {
  return config.phases.reduce((sum, stage) => {
    const budgets = 'parallel' in stage ? stage.parallel.map((p) => p.budgetSeconds) : [stage.budgetSeconds];
    return sum + Math.max(...budgets) + 2 * PHASE_TASK_SLACK_SECONDS;
  }, 300);
}
