/**
 * The wake relay: EventBridge rules for the EC2 and SSM events that end a running workload's wait
 * (contract/events.ts), and the function they invoke (lambdas/wake-phase.ts), which finds the phase
 * waiting for the instance by its task token in the pipeline bucket and ends the wait. Events carry no
 * tags, so the rules match every instance of the account and region; the function ignores the others.
 */
import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { WakeEnv } from '../../contract/environment';
import { COMMAND_STATUS_CHANGE, ENDING_INSTANCE_STATES, FINAL_COMMAND_STATUSES, INSTANCE_STATE_CHANGE, REBALANCE_RECOMMENDATION, SPOT_INTERRUPTION_WARNING } from '../../contract/events';
import type { PipelineBucket } from './pipeline-bucket';
import { PipelineFunction } from './pipeline-function';

export interface WakeRelayProps {
  readonly pipelineName: string;
  readonly bucket: PipelineBucket;
  /** The SpotPhase state machine, whose callback tasks the relay ends. */
  readonly spotPhase: sfn.StateMachine;
  readonly logRetention: logs.RetentionDays;
}

/** A wake older than this is worth nothing: the wait has timed out into its poll by then, or soon will. */
const MAX_EVENT_AGE = Duration.minutes(5);

export class WakeRelay extends Construct {
  readonly function: PipelineFunction;

  constructor(scope: Construct, id: string, props: WakeRelayProps) {
    super(scope, id);
    const environment: WakeEnv = { PIPELINE_BUCKET: props.bucket.bucket.bucketName, PIPELINE_NAME: props.pipelineName };
    this.function = new PipelineFunction(this, 'WakePhaseFn', {
      handler: 'wake-phase',
      description: 'Wake the phase waiting for an instance when spot warns, the command ends or the instance ends',
      environment,
      logRetention: props.logRetention,
      retryAttempts: 1,
    });
    props.bucket.grantReadWaits(this.function.serviceRole);
    // A rebalance recommendation goes to the pool memory.
    props.bucket.grantPoolMemory(this.function.serviceRole);
    // SendTaskSuccess on the SpotPhase state machine's tasks (CDK's grant for callback task responses).
    props.spotPhase.grantTaskResponse(this.function);

    const target = new eventTargets.LambdaFunction(this.function, { retryAttempts: 2, maxEventAge: MAX_EVENT_AGE });
    const rule = (ruleId: string, description: string, eventPattern: events.EventPattern) =>
      new events.Rule(this, ruleId, { description: `${props.pipelineName}: ${description}`, eventPattern, targets: [target] });
    rule('SpotWarning', 'spot interruption warnings and rebalance recommendations, to the phase waiting for the instance', {
      source: ['aws.ec2'],
      detailType: [SPOT_INTERRUPTION_WARNING, REBALANCE_RECOMMENDATION],
    });
    rule('InstanceEnding', 'instances ending, to the phase waiting for the instance', {
      source: ['aws.ec2'],
      detailType: [INSTANCE_STATE_CHANGE],
      detail: { state: [...ENDING_INSTANCE_STATES] },
    });
    rule('CommandEnded', 'Run Command invocations that ended, to the phase waiting for the instance', {
      source: ['aws.ssm'],
      detailType: [COMMAND_STATUS_CHANGE],
      detail: { status: [...FINAL_COMMAND_STATUSES], 'document-name': ['AWS-RunShellScript'] },
    });
  }
}
