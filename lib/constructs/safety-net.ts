/**
 * What keeps the pipeline from leaking instances and from failing silently, whatever happens
 * outside the state machines' own paths: a cleanup on every failed, timed-out or aborted
 * execution, an orphan reaper every 30 minutes, and alarms on an SNS topic.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as lambdaDestinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { CleanupEnv, ReaperEnvInput } from '../../contract/environment';
import { METRICS, type MetricDefinition } from '../../contract/metrics';
import { acknowledgeNag, acknowledgeWildcardResource } from '../nag';
import type { PipelineBucket } from './pipeline-bucket';
import { PipelineFunction } from './pipeline-function';

export interface SafetyNetProps {
  readonly pipelineName: string;
  readonly metricNamespace: string;
  readonly pipeline: sfn.StateMachine;
  readonly spotPhase: sfn.StateMachine;
  /** Instances older than this are orphans whatever their execution says. */
  readonly maxInstanceAgeSeconds: number;
  /** @default - no email subscription */
  readonly alarmEmail?: string;
  /** Report orphans without terminating them. @default false */
  readonly reaperDryRun?: boolean;
  /** Reserved concurrency of the reaper (1: sweeps never overlap). @default - unreserved (opt-in: reservedConcurrency in contract/config.ts) */
  readonly reaperReservedConcurrency?: number;
  readonly logRetention: logs.RetentionDays;
  /** The pipeline bucket: the runs' cost records the cleanup sums into PipelineCostUsd. */
  readonly bucket: PipelineBucket;
}

export class SafetyNet extends Construct {
  readonly alarmTopic: sns.Topic;
  readonly executionCleanup: PipelineFunction;
  readonly reaper: PipelineFunction;
  /** Status-change events whose cleanup failed after every retry. */
  readonly cleanupFailures: sqs.Queue;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: SafetyNetProps) {
    super(scope, id);
    const stack = Stack.of(this);

    // 1. Cleanup on every execution that ends badly, however it ended.
    // An event whose cleanup still fails after Lambda's retries is kept here (and alarmed on), never dropped.
    this.cleanupFailures = new sqs.Queue(this, 'CleanupFailures', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledgeNag(
      this.cleanupFailures,
      'AwsSolutions-SQS3',
      'This queue is itself the dead end for failed cleanup invocations (a Lambda on-failure destination); it is alarmed on, and the orphan reaper terminates what it holds.',
    );
    const cleanupEnv: CleanupEnv = { PIPELINE_NAME: props.pipelineName, PIPELINE_BUCKET: props.bucket.bucket.bucketName, METRIC_NAMESPACE: props.metricNamespace };
    this.executionCleanup = new PipelineFunction(this, 'ExecutionCleanupFn', {
      handler: 'execution-cleanup',
      description: 'Terminate every instance of a pipeline or phase execution that ended (left over, failed, timed out, aborted)',
      environment: cleanupEnv,
      logRetention: props.logRetention,
      retryAttempts: 2,
      onFailure: new lambdaDestinations.SqsDestination(this.cleanupFailures),
    });
    this.executionCleanup.allowOnAnyResource(['ec2:DescribeInstances', 'ec2:DescribeSpotInstanceRequests'], 'EC2 Describe* calls support no resource-level permissions');
    this.executionCleanup.allowTerminatingPipelineInstances(props.pipelineName);
    // A pipeline run's end: its cost records summed into one PipelineCostUsd datum.
    props.bucket.grantReportRunCosts(this.executionCleanup.serviceRole);
    // The ended execution's wait tokens (lambdas/aws/waits.ts): nobody waits for its instances now.
    props.bucket.grantForgetWaits(this.executionCleanup.serviceRole);
    this.executionCleanup.allowOnAnyResource(['cloudwatch:PutMetricData'], 'it has no resources; the cloudwatch:namespace condition narrows it to the pipeline namespace', {
      StringEquals: { 'cloudwatch:namespace': props.metricNamespace },
    });
    const executions = [props.pipeline, props.spotPhase].map(
      (sm) => `arn:${stack.partition}:states:${stack.region}:${stack.account}:execution:${sm.stateMachineName}:*`,
    );
    /** states:DescribeExecution on the executions of the pipeline's two state machines. */
    const allowDescribingExecutions = (fn: PipelineFunction, why: string) => {
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:DescribeExecution'], resources: executions }));
      for (const arn of executions) {
        acknowledgeWildcardResource(fn.serviceRole, arn, `${why}; execution names are generated at run time, and the ARN prefix pins this pipeline's state machine.`);
      }
    };
    // It describes the execution first: a redriven one (same ARN) keeps the instances it launched since.
    allowDescribingExecutions(this.executionCleanup, 'The cleanup reads the status of the execution that ended (a redrive keeps its ARN)');
    // Every end, SUCCEEDED included: a task that could not terminate before its deadline leaves
    // the instance to this rule (lambdas/aws/instances.ts, terminateOrLeaveToSafetyNet).
    new events.Rule(this, 'ExecutionEnded', {
      description: `${props.pipelineName}: terminate whatever an ended execution left running`,
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          status: ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'],
          stateMachineArn: [props.pipeline.stateMachineArn, props.spotPhase.stateMachineArn],
        },
      },
      targets: [new eventTargets.LambdaFunction(this.executionCleanup, { retryAttempts: 8, maxEventAge: Duration.hours(2) })],
    });

    // 2. The orphan reaper.
    const reaperEnv: ReaperEnvInput = {
      PIPELINE_NAME: props.pipelineName,
      METRIC_NAMESPACE: props.metricNamespace,
      MAX_AGE_SECONDS: String(props.maxInstanceAgeSeconds),
      DRY_RUN: props.reaperDryRun ? 'true' : 'false',
    };
    this.reaper = new PipelineFunction(this, 'ReapOrphansFn', {
      handler: 'reap-orphans',
      description: 'Every 30 minutes: terminate pipeline instances whose execution is no longer running',
      environment: reaperEnv,
      logRetention: props.logRetention,
      timeout: Duration.minutes(2),
      reservedConcurrentExecutions: props.reaperReservedConcurrency,
    });
    this.reaper.allowOnAnyResource(['ec2:DescribeInstances'], 'EC2 Describe* calls support no resource-level permissions');
    this.reaper.allowTerminatingPipelineInstances(props.pipelineName);
    allowDescribingExecutions(this.reaper, "The reaper reads the status of the execution named in an instance's tag");
    this.reaper.allowOnAnyResource(['cloudwatch:PutMetricData'], 'it has no resources; the cloudwatch:namespace condition narrows it to the pipeline namespace', {
      StringEquals: { 'cloudwatch:namespace': props.metricNamespace },
    });
    new events.Rule(this, 'ReapOrphansEvery30Minutes', {
      description: `${props.pipelineName}: reap orphaned spot instances`,
      schedule: events.Schedule.rate(Duration.minutes(30)),
      targets: [new eventTargets.LambdaFunction(this.reaper, { retryAttempts: 2 })],
    });

    // 3. Alarms.
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', { displayName: `${props.pipelineName} alarms`, enforceSSL: true });
    if (props.alarmEmail) this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    const alarm = (alarmId: string, metric: cloudwatch.IMetric, description: string) => {
      const a = new cloudwatch.Alarm(this, alarmId, {
        alarmDescription: description,
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      a.addAlarmAction(new cwActions.SnsAction(this.alarmTopic));
      this.alarms.push(a);
    };
    const period = Duration.minutes(5);
    alarm('PipelineFailed', props.pipeline.metricFailed({ period, statistic: 'Sum' }), `${props.pipelineName}: an execution failed`);
    alarm('PipelineTimedOut', props.pipeline.metricTimedOut({ period, statistic: 'Sum' }), `${props.pipelineName}: an execution timed out`);
    const catalogued = (definition: MetricDefinition, dimensionsMap: Record<string, string>, metricPeriod = period) =>
      new cloudwatch.Metric({ namespace: props.metricNamespace, metricName: definition.name, dimensionsMap, period: metricPeriod, statistic: 'Sum' });
    alarm(
      'SpotRetryBudgetExhausted',
      catalogued(METRICS.spotRetryBudgetExhausted, { Pipeline: props.pipelineName }),
      `${props.pipelineName}: a phase gave up after spot interruptions`,
    );
    alarm(
      'CleanupFailed',
      this.cleanupFailures.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' }),
      `${props.pipelineName}: an execution's cleanup failed after every retry (see the CleanupFailures queue)`,
    );
    alarm(
      'OrphansReaped',
      catalogued(METRICS.orphansReaped, { Pipeline: props.pipelineName }, Duration.minutes(30)),
      `${props.pipelineName}: the reaper terminated orphaned instances`,
    );
  }
}

