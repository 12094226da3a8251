/**
 * SpotPhase: one phase on spot capacity, as its own Standard state machine. Every phase of
 * every pipeline runs as an execution of it, so a redrive of the pipeline re-runs exactly the
 * phase that failed, on a fresh attempt.
 *
 *   Begin -> LaunchInstance -> (CountLaunchFallback) -> [WaitForAgent -> CheckAgent]* -> SendWorkload
 *         -> [AwaitWorkloadEvent | WaitForWorkload -> PollWorkload]* -> FinishPhase -> PhaseSucceeded
 *
 * A running workload is waited for by AwaitWorkloadEvent, a callback task (S3 PutObject of its task
 * token under waits/<instanceId>, .waitForTaskToken) that the wake relay (lambdas/wake-phase.ts) ends
 * when EventBridge brings spot's interruption warning, the command's end or the instance's end, and
 * that times out at $.job.nextWaitSeconds (the first moment a watchdog could trip): either way the
 * poll comes next. Events are best effort; the timeout is the poll that catches what they miss. A
 * token that cannot be stored falls back to the timer (WaitForWorkload), as does a phase whose job
 * says no wake (specs from before the relay).
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
import type * as s3 from 'aws-cdk-lib/aws-s3';
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

/** Where the SpotPhase state machine puts its metric data, and where it keeps a waiting workload's task token. */
export interface SpotPhaseMetrics {
  readonly metricNamespace: string;
  /** The pipeline bucket and the waits/ prefix of the pipeline (contract/storage.ts, waitKey). */
  readonly waits: { readonly bucket: s3.IBucket; readonly prefix: string };
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

/** A Lambda task's timeout: well past its function's (60 s), so a slow answer is the function's timeout, retried. */
const TASK_TIMEOUT_SECONDS = 120;
/** CheckAgent's: its function may wait for the agent for 100 s and times out at CHECK_AGENT_FUNCTION_TIMEOUT_SECONDS. */
export const CHECK_AGENT_FUNCTION_TIMEOUT_SECONDS = 130;
const CHECK_AGENT_TASK_TIMEOUT_SECONDS = 150;

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
    const guarded = (name: string, fn: IFunction, resultPath: string, timeoutSeconds?: number) =>
      this.task(name, fn, resultPath, timeoutSeconds).addCatch(cleanup, { errors: ['States.ALL'], resultPath: '$.caught' });

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
    // CheckAgent waits for the agent itself for up to AGENT_WAIT_IN_TASK_SECONDS (lambdas/await-agent.ts).
    const checkAgent = guarded('CheckAgent', fns.awaitAgent, '$.job', CHECK_AGENT_TASK_TIMEOUT_SECONDS);
    const send = guarded('SendWorkload', fns.sendWorkload, '$.job');
    const waitForWorkload = new sfn.Wait(this, 'WaitForWorkload', { time: sfn.WaitTime.secondsPath('$.job.nextWaitSeconds') });
    const poll = guarded('PollWorkload', fns.pollWorkload, '$.job');
    const awaitEvent = new tasks.CallAwsService(this, 'AwaitWorkloadEvent', {
      comment: 'Keep this wait\'s task token where the wake relay finds it by instance, then wait for an event or the timeout',
      service: 's3',
      action: 'putObject',
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      parameters: {
        Bucket: metrics.waits.bucket.bucketName,
        Key: sfn.JsonPath.format(`${metrics.waits.prefix}{}`, sfn.JsonPath.stringAt('$.job.instance.id')),
        Body: sfn.JsonPath.taskToken,
        // The instance's pool, for the relay to remember a rebalance recommendation by (events name only the instance).
        Metadata: { pool: sfn.JsonPath.format('{}/{}', sfn.JsonPath.stringAt('$.job.instance.instanceType'), sfn.JsonPath.stringAt('$.job.instance.subnetId')) },
      },
      iamResources: [metrics.waits.bucket.arnForObjects(`${metrics.waits.prefix}*`)],
      taskTimeout: sfn.Timeout.at('$.job.nextWaitSeconds'),
      resultPath: sfn.JsonPath.DISCARD,
    });
    // The timeout is the poll's turn; a token S3 would not keep leaves it to the timer, for a poll interval
    // (not the event wait's length: nothing would wake it early).
    const waitToPoll = new sfn.Wait(this, 'WaitToPoll', { time: sfn.WaitTime.secondsPath('$.phase.pollIntervalSeconds') });
    waitToPoll.next(poll);
    awaitEvent.addCatch(poll, { errors: ['States.Timeout'], resultPath: sfn.JsonPath.DISCARD });
    awaitEvent.addCatch(waitToPoll, { errors: ['States.ALL'], resultPath: sfn.JsonPath.DISCARD });
    awaitEvent.next(poll);
    const wakeByEvent = sfn.Condition.and(sfn.Condition.isPresent('$.job.wake'), sfn.Condition.stringEquals('$.job.wake', 'event'));
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
    send.next(new sfn.Choice(this, 'Sent?').when(failedAttempt, handleFailure).when(wakeByEvent, awaitEvent).otherwise(waitForWorkload));
    waitForWorkload.next(poll);
    poll.next(
      new sfn.Choice(this, 'WorkloadDone?')
        .when(is(JOB_STATUS.succeeded), finish)
        .when(failedAttempt, handleFailure)
        .when(wakeByEvent, awaitEvent)
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

  private task(name: string, fn: IFunction, resultPath: string, timeoutSeconds = TASK_TIMEOUT_SECONDS): sfn.TaskStateBase {
    return new tasks.LambdaInvoke(this, name, {
      lambdaFunction: fn,
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      resultPath,
      taskTimeout: sfn.Timeout.duration(Duration.seconds(timeoutSeconds)),
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
