/**
 * A `phase` stage: one task that runs the phase as a SpotPhase execution (startExecution.sync:2)
 * and waits for it. The failed state of a failed phase is this task, so a redrive of the pipeline
 * re-runs exactly this phase, from a fresh attempt.
 */
import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { toPhaseSpec, type PhaseConfig, type PhaseSpec } from '../../contract/config';
import type { StageBuilder, StageContext } from './types';

/** Slack per phase in the pipeline's own timeout, beyond the phases' budgets (starting and watching each phase). */
export const PHASE_TASK_SLACK_SECONDS = 60;

/** The task that runs one phase; parallel groups use it for each branch. */
export function phaseTask(context: StageContext, phase: PhaseConfig, build?: PhaseSpec['build']): sfn.TaskStateBase {
  const spec = toPhaseSpec(
    phase,
    { subnetIds: context.subnetsFor(phase), cleanupMarginSeconds: context.config.cleanupMarginSeconds, pipelineName: context.config.pipelineName },
    { ...context.dataFor(phase), ...(build ? { build } : {}) },
  );
  return new tasks.StepFunctionsStartExecution(context.scope, phase.name, {
    comment: `Run phase ${phase.name} on spot (budget ${phase.budgetSeconds} s)`,
    stateMachine: context.spotPhase,
    integrationPattern: sfn.IntegrationPattern.RUN_JOB,
    associateWithParent: true,
    // Deterministic per pipeline execution, phase and redrive: a task retried after its start
    // was already accepted starts no second phase execution (StartExecution is idempotent for a
    // running execution of the same name and input). 40 + 1 + 32 + 2 + 4 characters fit the
    // 80 a name may have (a redrive count is at most 1000).
    name: sfn.JsonPath.format(`${phase.name}-{}-r{}`, sfn.JsonPath.hash(sfn.JsonPath.executionId, 'MD5'), sfn.JsonPath.stringAt('$$.Execution.RedriveCount')),
    input: sfn.TaskInput.fromObject({
      phase: spec,
      run: sfn.JsonPath.objectAt('$.run'),
      // Evaluated when the task runs: 0 at first, n when a redrive re-runs this task; instances carry it.
      redriveCount: sfn.JsonPath.numberAt('$$.Execution.RedriveCount'),
    }),
    resultSelector: { 'summary.$': '$.Output', 'executionArn.$': '$.ExecutionArn' },
    resultPath: `$.phases.${phase.name}`,
    // The hard wall: the phase execution ends itself within its budget (contract/budget.ts); should
    // Lambda service faults at the very end keep it past that, the task times out at budgetSeconds,
    // Step Functions stops the phase execution and the execution-cleanup rule terminates what is left.
    taskTimeout: sfn.Timeout.duration(Duration.seconds(phase.budgetSeconds)),
  }).addRetry({
    // Only failures to start or watch the phase; a phase that ran and failed is never retried here.
    errors: ['StepFunctions.ExecutionLimitExceededException', 'StepFunctions.SdkClientException', 'StepFunctions.AWSStepFunctionsException'],
    interval: Duration.seconds(5),
    backoffRate: 2,
    maxAttempts: 4,
    jitterStrategy: sfn.JitterType.FULL,
  });
}

export const phaseStage: StageBuilder<'phase'> = {
  build: (context, stage) => phaseTask(context, stage),
  maxDuration: (stage) => Duration.seconds(stage.budgetSeconds + 2 * PHASE_TASK_SLACK_SECONDS),
};
