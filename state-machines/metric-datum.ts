/**
 * One datum of a catalogued metric (contract/metrics.ts), put by Step Functions itself: the AWS SDK
 * integration arn:aws:states:::aws-sdk:cloudwatch:putMetricData, parameters as the PutMetricData
 * API takes them. A custom state rather than CallAwsService, so the state machine's role can be
 * granted PutMetricData for the pipeline's namespace only (metricsStatement). Throttling is retried
 * with backoff as the `retry` policy says (for the SpotPhase, what the budget arithmetic reserves
 * time for: contract/budget.ts); the caller adds a Catch so a datum that still cannot be put never
 * stops the run.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import type { RetryPolicy } from '../contract/budget';
import type { MetricDefinition } from '../contract/metrics';

/**
 * @param dimensions each dimension's value as a JSONPath into the state's input
 * @param value 1, or a JSONPath to the datum's value (a number in the input)
 */
export function putDatum<D extends string>(
  scope: Construct,
  name: string,
  namespace: string,
  metric: MetricDefinition<D>,
  dimensions: Record<D, string>,
  retry: RetryPolicy,
  value: 1 | { readonly path: string } = 1,
): sfn.CustomState {
  const state = new sfn.CustomState(scope, name, {
    stateJson: {
      Type: 'Task',
      Comment: `One ${metric.name} datum: ${metric.description}`,
      Resource: `arn:${Stack.of(scope).partition}:states:::aws-sdk:cloudwatch:putMetricData`,
      Parameters: {
        Namespace: namespace,
        MetricData: [
          {
            MetricName: metric.name,
            Unit: metric.unit,
            ...(value === 1 ? { Value: 1 } : { 'Value.$': value.path }),
            Dimensions: metric.dimensions.map((d) => ({ Name: d, 'Value.$': dimensions[d] })),
          },
        ],
      },
      ResultPath: null,
      TimeoutSeconds: 60,
    },
  });
  return retried(state, retry);
}

/** The datum's retries (every error: a datum that still cannot be put is the caller's Catch to drop). */
function retried(state: sfn.CustomState, retry: RetryPolicy): sfn.CustomState {
  state.addRetry({
    errors: ['States.ALL'],
    interval: Duration.seconds(retry.intervalSeconds),
    backoffRate: retry.backoffRate,
    maxAttempts: retry.maxAttempts,
    maxDelay: Duration.seconds(retry.maxDelaySeconds),
    jitterStrategy: sfn.JitterType.FULL,
  });
  return state;
}

/** What a state machine's role needs for putDatum: PutMetricData in the pipeline's namespace only. */
export function metricsStatement(namespace: string): iam.PolicyStatement {
  return new iam.PolicyStatement({ actions: ['cloudwatch:PutMetricData'], resources: ['*'], conditions: { StringEquals: { 'cloudwatch:namespace': namespace } } });
}

/**
 * The data a task decided, put by Step Functions itself: PutMetricData with MetricData taken from
 * `dataPath` (a list built from the catalogue, e.g. HandleFailure's relaunch data: decisions/relaunch.ts).
 */
export function putData(scope: Construct, name: string, namespace: string, dataPath: string, comment: string, retry: RetryPolicy): sfn.CustomState {
  const state = new sfn.CustomState(scope, name, {
    stateJson: {
      Type: 'Task',
      Comment: comment,
      Resource: `arn:${Stack.of(scope).partition}:states:::aws-sdk:cloudwatch:putMetricData`,
      Parameters: { Namespace: namespace, 'MetricData.$': dataPath },
      ResultPath: null,
      TimeoutSeconds: 60,
    },
  });
  return retried(state, retry);
}
