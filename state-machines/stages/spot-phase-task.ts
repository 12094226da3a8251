/**
 * The task that starts one SpotPhase execution (startExecution.sync:2) and waits for it: a phase's
 * own task, and the task of each shard of a sharded phase.
 */
import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { toPhaseSpec, type PhaseConfig, type PhaseSpec } from '../../contract/config';
import type { StageContext } from './types';

/** Slack per phase in the pipeline's own timeout, beyond the phases' budgets (starting and watching each phase). */
export const PHASE_TASK_SLACK_SECONDS = 60;

/** The spec a phase's executions get: the config plus what the stack decided for it. */
export function phaseSpec(context: StageContext, phase: PhaseConfig, build?: PhaseSpec['build']): PhaseSpec {
  return toPhaseSpec(
    phase,
    { subnetIds: context.subnetsFor(phase), cleanupMarginSeconds: context.config.cleanupMarginSeconds, pipelineName: context.config.pipelineName, allocation: context.config.allocation, waitFor: context.config.waitFor },
    { ...context.dataFor(phase), ...(build ? { build } : {}) },
  );
}

export interface SpotPhaseTaskProps {
  readonly comment: string;
  /** The execution's name, deterministic per pipeline execution, phase (shard) and redrive. */
  readonly name: string;
  /** The phase spec: a literal, or an expression building it when the task runs. */
  readonly phase: unknown;
  readonly budgetSeconds: number;
  readonly resultSelector: Record<string, unknown>;
  readonly resultPath: string;
}

export function spotPhaseTask(context: StageContext, id: string, props: SpotPhaseTaskProps): sfn.TaskStateBase {
  return new tasks.StepFunctionsStartExecution(context.scope, id, {
    comment: props.comment,
    stateMachine: context.spotPhase,
    integrationPattern: sfn.IntegrationPattern.RUN_JOB,
    associateWithParent: true,
    name: props.name,
    input: sfn.TaskInput.fromObject({
      phase: props.phase,
      run: sfn.JsonPath.objectAt('$.run'),
      // Evaluated when the task runs: 0 at first, n when a redrive re-runs this task; instances carry it.
      redriveCount: sfn.JsonPath.numberAt('$$.Execution.RedriveCount'),
    }),
    resultSelector: props.resultSelector,
    resultPath: props.resultPath,
    // The hard wall: the phase execution ends itself within its budget (contract/budget.ts); should
    // Lambda service faults at the very end keep it past that, the task times out at budgetSeconds,
    // Step Functions stops the phase execution and the execution-cleanup rule terminates what is left.
    taskTimeout: sfn.Timeout.duration(Duration.seconds(props.budgetSeconds)),
  }).addRetry({
    // Only failures to start or watch the phase; a phase that ran and failed is never retried here.
    errors: ['StepFunctions.ExecutionLimitExceededException', 'StepFunctions.SdkClientException', 'StepFunctions.AWSStepFunctionsException'],
    interval: Duration.seconds(5),
    backoffRate: 2,
    maxAttempts: 4,
    jitterStrategy: sfn.JitterType.FULL,
  });
}
