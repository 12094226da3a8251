/**
 * A `phase` stage: one task that runs the phase as a SpotPhase execution (startExecution.sync:2)
 * and waits for it. The failed state of a failed phase is this task, so a redrive of the pipeline
 * re-runs exactly this phase, from a fresh attempt. A sharded phase (config `shards`) runs its
 * shards instead (shards.ts).
 */
import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { shardNames, type PhaseConfig, type PhaseSpec } from '../../contract/config';
import { shardedPhase, shardedPhaseSeconds } from './shards';
import { PHASE_TASK_SLACK_SECONDS, phaseSpec, spotPhaseTask } from './spot-phase-task';
import type { StageBuilder, StageContext } from './types';

export { PHASE_TASK_SLACK_SECONDS } from './spot-phase-task';

/** The task that runs one (unsharded) phase. */
export function phaseTask(context: StageContext, phase: PhaseConfig, build?: PhaseSpec['build']): sfn.TaskStateBase {
  return spotPhaseTask(context, phase.name, {
    comment: `Run phase ${phase.name} on spot (budget ${phase.budgetSeconds} s)`,
    // Deterministic per pipeline execution, phase and redrive: a task retried after its start
    // was already accepted starts no second phase execution (StartExecution is idempotent for a
    // running execution of the same name and input). 40 + 1 + 32 + 2 + 4 characters fit the
    // 80 a name may have (a redrive count is at most 1000).
    name: sfn.JsonPath.format(`${phase.name}-{}-r{}`, sfn.JsonPath.hash(sfn.JsonPath.executionId, 'MD5'), sfn.JsonPath.stringAt('$$.Execution.RedriveCount')),
    phase: phaseSpec(context, phase, build),
    budgetSeconds: phase.budgetSeconds,
    resultSelector: { 'summary.$': '$.Output', 'executionArn.$': '$.ExecutionArn' },
    resultPath: `$.phases.${phase.name}`,
  });
}

/** The states of one phase: its task, or its shards. Parallel groups use it for each branch. */
export function phaseStates(context: StageContext, phase: PhaseConfig): sfn.IChainable & sfn.INextable {
  return shardNames(phase) ? shardedPhase(context, phase) : phaseTask(context, phase);
}

/** The longest one phase's states may run: its budget, or its shards' waves of budgets. */
export function phaseSeconds(phase: PhaseConfig): number {
  return shardNames(phase) ? shardedPhaseSeconds(phase) : phase.budgetSeconds + 2 * PHASE_TASK_SLACK_SECONDS;
}

export const phaseStage: StageBuilder<'phase'> = {
  build: (context, stage) => phaseStates(context, stage),
  maxDuration: (stage) => Duration.seconds(phaseSeconds(stage)),
};
