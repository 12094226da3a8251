/**
 * SpotPhase: one phase on spot capacity, as its own Standard state machine. Every phase of
 * every pipeline runs as an execution of it, so a redrive of the pipeline re-runs exactly the
 * phase that failed, on a fresh attempt.
 *
 *   Begin -> LaunchInstance -> [WaitForAgent -> CheckAgent]* -> SendWorkload
 *         -> [WaitForWorkload -> PollWorkload]* -> FinishPhase -> PhaseSucceeded
 *   any failed attempt -> HandleFailure -> RelaunchBackoff -> LaunchInstance   (spot, in budget)
 *                                       -> PhaseFailed                          (anything else)
 *   any task error (after retries) -> CleanupPhase -> PhaseErrored
 */
import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { TransientApiError } from '../contract/errors';
import { initialJob, JOB_STATUS } from '../contract/job';

/** The Lambda functions the SpotPhase state machine calls, one per task. */
export interface SpotPhaseFunctions {
  readonly launchInstance: IFunction;
  readonly awaitAgent: IFunction;
  readonly sendWorkload: IFunction;
  readonly pollWorkload: IFunction;
  readonly handleFailure: IFunction;
  readonly finishPhase: IFunction;
  readonly cleanupPhase: IFunction;
}

/** Errors a task is retried on: Lambda's own transient faults and our TransientApiError. */
export const TRANSIENT_TASK_ERRORS = [
  TransientApiError.name,
  'Lambda.TooManyRequestsException',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.ClientExecutionTimeoutException',
];

const STATUS = '$.job.status';

/** Builds the SpotPhase graph. */
export class SpotPhaseDefinition extends Construct {
  /** The first state of the graph. */
  readonly startState: sfn.IChainable;

  constructor(scope: Construct, id: string, fns: SpotPhaseFunctions) {
    super(scope, id);

    const cleanup = this.task('CleanupPhase', fns.cleanupPhase, '$.cleanup').next(
      new sfn.Fail(this, 'PhaseErrored', { errorPath: '$.caught.Error', causePath: '$.caught.Cause' }),
    );
    const guarded = (name: string, fn: IFunction, resultPath: string) =>
      this.task(name, fn, resultPath).addCatch(cleanup, { errors: ['States.ALL'], resultPath: '$.caught' });

    const begin = new sfn.Pass(this, 'Begin', {
      comment: 'Capture the execution (its start time anchors the phase budget) and open attempt 1.',
      parameters: {
        'phase.$': '$.phase',
        'run.$': '$.run',
        'redriveCount.$': '$.redriveCount',
        execution: {
          'id.$': '$$.Execution.Id',
          'name.$': '$$.Execution.Name',
          'startTime.$': '$$.Execution.StartTime',
        },
        job: initialJob(),
      },
    });

    const launch = guarded('LaunchInstance', fns.launchInstance, '$.job');
    const waitForAgent = new sfn.Wait(this, 'WaitForAgent', { time: sfn.WaitTime.secondsPath('$.job.nextWaitSeconds') });
    const checkAgent = guarded('CheckAgent', fns.awaitAgent, '$.job');
    const send = guarded('SendWorkload', fns.sendWorkload, '$.job');
    const waitForWorkload = new sfn.Wait(this, 'WaitForWorkload', { time: sfn.WaitTime.secondsPath('$.job.nextWaitSeconds') });
    const poll = guarded('PollWorkload', fns.pollWorkload, '$.job');
    const handleFailure = guarded('HandleFailure', fns.handleFailure, '$.job');
    const backoff = new sfn.Wait(this, 'RelaunchBackoff', { time: sfn.WaitTime.secondsPath('$.job.nextWaitSeconds') });
    const finish = guarded('FinishPhase', fns.finishPhase, '$.summary');
    const succeeded = new sfn.Succeed(this, 'PhaseSucceeded', { outputPath: '$.summary' });
    const failed = new sfn.Fail(this, 'PhaseFailed', { errorPath: '$.job.verdict.error', causePath: '$.job.verdict.cause' });

    const is = (status: (typeof JOB_STATUS)[keyof typeof JOB_STATUS]) => sfn.Condition.stringEquals(STATUS, status);
    const failedAttempt = is(JOB_STATUS.failed);

    begin.next(launch);
    launch.next(new sfn.Choice(this, 'Launched?').when(failedAttempt, handleFailure).otherwise(waitForAgent));
    waitForAgent.next(checkAgent);
    checkAgent.next(
      new sfn.Choice(this, 'AgentOnline?')
        .when(is(JOB_STATUS.ready), send)
        .when(failedAttempt, handleFailure)
        .otherwise(waitForAgent),
    );
    send.next(new sfn.Choice(this, 'Sent?').when(failedAttempt, handleFailure).otherwise(waitForWorkload));
    waitForWorkload.next(poll);
    poll.next(
      new sfn.Choice(this, 'WorkloadDone?')
        .when(is(JOB_STATUS.succeeded), finish)
        .when(failedAttempt, handleFailure)
        .otherwise(waitForWorkload),
    );
    handleFailure.next(
      // HandleFailure hands back a launching job when it decided to relaunch, a failed one with its verdict otherwise.
      new sfn.Choice(this, 'Relaunch?').when(is(JOB_STATUS.launching), backoff).otherwise(failed),
    );
    backoff.next(launch);
    finish.next(succeeded);

    this.startState = begin;
  }

  private task(name: string, fn: IFunction, resultPath: string): sfn.TaskStateBase {
    return new tasks.LambdaInvoke(this, name, {
      lambdaFunction: fn,
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      resultPath,
      taskTimeout: sfn.Timeout.duration(Duration.seconds(120)),
    }).addRetry({
      errors: TRANSIENT_TASK_ERRORS,
      interval: Duration.seconds(5),
      backoffRate: 2,
      maxAttempts: 6,
      maxDelay: Duration.seconds(120),
      jitterStrategy: sfn.JitterType.FULL,
    });
  }
}
