/**
 * SpotPhase: one phase on spot capacity, as its own Standard state machine. Every phase of
 * every pipeline runs as an execution of it, so a redrive of the pipeline re-runs exactly the
 * phase that failed, on a fresh attempt.
 *
 *   Begin -> LaunchInstance -> (CountLaunchFallback) -> [WaitForAgent -> CheckAgent]* -> SendWorkload
 *         -> [WaitForWorkload -> PollWorkload]* -> FinishPhase -> PhaseSucceeded
 *   any failed attempt -> HandleFailure -> RelaunchBackoff -> CountRelaunch -> LaunchInstance   (spot, in budget)
 *                                       -> CountExhausted -> PhaseFailed        (spot, out of budget)
 *                                       -> PhaseFailed                          (anything else)
 *
 * The metric data are put by the state machine itself (CloudWatch PutMetricData through the AWS
 * SDK integration), in their own states on the path where what they count happens: a relaunch
 * is counted after its backoff, on its way to LaunchInstance, so an abort, a sibling's failure or
 * a timeout during the backoff leaves no datum without its launch, and a Lambda task retried
 * after a lost response cannot put a datum twice.
 *   any task error (after retries) -> CleanupPhase -> PhaseErrored
 */
import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { TransientApiError } from '../contract/errors';
import { initialJob, JOB_STATUS } from '../contract/job';
import { METRICS } from '../contract/metrics';
import { COUNT_EXHAUSTED_RETRY, COUNT_RELAUNCH_RETRY } from '../contract/budget';
import { TASK_RETRY_MAX_DELAY_SECONDS } from '../decisions/phase-clock';
import { metricsStatement, putData, putDatum } from './metric-datum';

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

/** Where the SpotPhase state machine puts its metric data. */
export interface SpotPhaseMetrics {
  readonly metricNamespace: string;
}

/** Lambda's own transient faults, as Step Functions names them ("Handle Lambda service exceptions"). */
export const LAMBDA_SERVICE_ERRORS = [
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
  /** What the state machine's role needs for the data it puts itself (PutMetricData, the pipeline's namespace only). */
  readonly metricsStatement: iam.PolicyStatement;

  constructor(scope: Construct, id: string, fns: SpotPhaseFunctions, metrics: SpotPhaseMetrics) {
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
    // The relaunch's data as HandleFailure built them from the catalogue: SpotInterruptionRetry (a
    // shard's with its shard), and OnDemandFallback when the relaunch falls back (decisions/relaunch.ts).
    const countRelaunch = putData(
      this,
      'CountRelaunch',
      metrics.metricNamespace,
      '$.job.verdict.metricData',
      `The relaunch's ${METRICS.spotInterruptionRetry.name} datum (and ${METRICS.onDemandFallback.name} when it falls back to on-demand)`,
      COUNT_RELAUNCH_RETRY,
    );
    const countExhausted = putDatum(this, 'CountExhausted', metrics.metricNamespace, METRICS.spotRetryBudgetExhausted, { Pipeline: '$.phase.pipelineName' }, COUNT_EXHAUSTED_RETRY);
    this.metricsStatement = metricsStatement(metrics.metricNamespace);
    const finish = guarded('FinishPhase', fns.finishPhase, '$.summary');
    const succeeded = new sfn.Succeed(this, 'PhaseSucceeded', { outputPath: '$.summary' });
    const failed = new sfn.Fail(this, 'PhaseFailed', { errorPath: '$.job.verdict.error', causePath: '$.job.verdict.cause' });

    const is = (status: (typeof JOB_STATUS)[keyof typeof JOB_STATUS]) => sfn.Condition.stringEquals(STATUS, status);
    const failedAttempt = is(JOB_STATUS.failed);

    begin.next(launch);
    // A launch that fell back to on-demand itself (spot refused in every pool, or the phase's only
    // affordable attempt) is counted on its way to the agent checks, by the state machine as every datum.
    const countLaunchFallback = putData(
      this,
      'CountLaunchFallback',
      metrics.metricNamespace,
      '$.job.fallback.metricData',
      `The launch's ${METRICS.onDemandFallback.name} datum: it fell back to on-demand`,
      COUNT_RELAUNCH_RETRY,
    );
    countLaunchFallback.addCatch(waitForAgent, { errors: ['States.ALL'], resultPath: sfn.JsonPath.DISCARD }).next(waitForAgent);
    launch.next(
      new sfn.Choice(this, 'Launched?')
        .when(failedAttempt, handleFailure)
        .when(sfn.Condition.isPresent('$.job.fallback'), countLaunchFallback)
        .otherwise(waitForAgent),
    );
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
      new sfn.Choice(this, 'Relaunch?')
        .when(is(JOB_STATUS.launching), backoff)
        .when(sfn.Condition.and(sfn.Condition.isPresent('$.job.verdict.exhausted'), sfn.Condition.booleanEquals('$.job.verdict.exhausted', true)), countExhausted)
        .otherwise(failed),
    );
    backoff.next(countRelaunch);
    countRelaunch.addCatch(launch, { errors: ['States.ALL'], resultPath: sfn.JsonPath.DISCARD }).next(launch);
    countExhausted.addCatch(failed, { errors: ['States.ALL'], resultPath: sfn.JsonPath.DISCARD }).next(failed);
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
    })
      .addRetry({
        // Lambda's own faults (a lost response among them): the work may be done; retried quickly.
        errors: LAMBDA_SERVICE_ERRORS,
        interval: Duration.seconds(1),
        backoffRate: 2,
        maxAttempts: 6,
        maxDelay: Duration.seconds(5),
        jitterStrategy: sfn.JitterType.FULL,
      })
      .addRetry({
        // AWS kept throttling a task's calls past the SDK's own retries: retried until the deadline,
        // where the task stops asking (decisions/phase-clock.ts, mayRetryTask) and fails the attempt.
        errors: [TransientApiError.name],
        interval: Duration.seconds(5),
        backoffRate: 2,
        maxAttempts: 100,
        // Short enough that a retry scheduled before the phase deadline runs well inside the cleanup margin.
        maxDelay: Duration.seconds(TASK_RETRY_MAX_DELAY_SECONDS),
        jitterStrategy: sfn.JitterType.FULL,
      });
  }
}
