/**
 * The Saturday spot pipeline stack: from one validated config, the workers' launch template,
 * the Lambda tasks, the SpotPhase and pipeline state machines, and their schedules.
 */
import { CfnOutput, Duration, RemovalPolicy, Stack, TimeZone, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { affordableAttempts } from './config/budget';
import { allPhases, type PhaseConfig, type PipelineConfig } from './config/schema';
import { PipelineFunction } from './constructs/pipeline-function';
import { SafetyNet } from './constructs/safety-net';
import { SpotWorkers } from './constructs/spot-workers';
import { SpotPhaseDefinition } from '../state-machines/spot-phase';
import { pipelineTimeoutSeconds, SaturdayPipelineDefinition } from '../state-machines/saturday-pipeline';
import type { FailureEnv, LaunchEnv, SendEnv } from '../lambdas/shared/environment';
import { TAG } from '../lambdas/shared/tags';

/** An instance older than the longest phase budget plus this (and the cleanup margin) is an orphan. */
export const ORPHAN_AGE_SLACK_SECONDS = 1800;

export interface SpotPipelineStackProps extends StackProps {
  /** The validated pipeline config (see lib/config/schema.ts). */
  readonly config: PipelineConfig;
}

export class SpotPipelineStack extends Stack {
  readonly pipeline: sfn.StateMachine;
  readonly spotPhase: sfn.StateMachine;
  readonly safetyNet: SafetyNet;

  constructor(scope: Construct, id: string, props: SpotPipelineStackProps) {
    super(scope, id, props);
    const { config } = props;
    const retention = config.logRetentionDays as logs.RetentionDays;

    const workloadLogs = new logs.LogGroup(this, 'WorkloadLogs', {
      logGroupName: `/spot-pipeline/${config.pipelineName}/workloads`,
      retention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const workers = new SpotWorkers(this, 'Workers', { subnetIds: config.subnetIds, vpcId: config.vpcId, workloadLogGroup: workloadLogs });
    const subnetsFor = (phase: PhaseConfig) => phase.subnetIds ?? workers.defaultSubnetIds;

    // --- Lambda tasks -------------------------------------------------------------------
    const launchEnv: LaunchEnv = {
      LAUNCH_TEMPLATE_ID: workers.launchTemplate.launchTemplateId!,
      LAUNCH_TEMPLATE_VERSION: workers.launchTemplate.latestVersionNumber,
    };
    const sendEnv: SendEnv = { WORKLOAD_LOG_GROUP: workloadLogs.logGroupName };
    const failureEnv: FailureEnv = { METRIC_NAMESPACE: config.metricNamespace };
    const fn = (id: string, handler: string, description: string, extra: Partial<ConstructorParameters<typeof PipelineFunction>[2]> = {}) =>
      new PipelineFunction(this, id, { handler, description, logRetention: retention, ...extra });

    const validateInput = fn('ValidateInputFn', 'validate-input', 'Validate the pipeline execution input');
    const launchInstance = fn('LaunchInstanceFn', 'launch-instance', 'Launch one attempt of a phase on a spot instance', {
      environment: launchEnv,
      reservedConcurrentExecutions: 10,
    });
    const awaitAgent = fn('AwaitAgentFn', 'await-agent', 'Wait for the SSM agent of a phase instance');
    const sendWorkload = fn('SendWorkloadFn', 'send-workload', 'Send the phase workload with SSM', { environment: sendEnv });
    const pollWorkload = fn('PollWorkloadFn', 'poll-workload', 'Poll a running phase workload and classify its end', { environment: sendEnv });
    const handleFailure = fn('HandleFailureFn', 'handle-failure', 'Terminate a failed attempt; relaunch on spot interruption within budget', {
      environment: failureEnv,
    });
    const finishPhase = fn('FinishPhaseFn', 'finish-phase', 'Terminate the instance of a finished phase and report it');
    const cleanupPhase = fn('CleanupPhaseFn', 'cleanup-phase', 'Terminate every instance of a phase that failed with an error');

    this.grantWorkerPermissions({ config, workers, launchInstance, awaitAgent, sendWorkload, pollWorkload, handleFailure, finishPhase, cleanupPhase, workloadLogs });

    // --- State machines -----------------------------------------------------------------
    const longestBudget = Math.max(...allPhases(config).map((p) => p.budgetSeconds));
    const spotPhaseDefinition = new SpotPhaseDefinition(this, 'SpotPhaseDefinition', {
      launchInstance,
      awaitAgent,
      sendWorkload,
      pollWorkload,
      handleFailure,
      finishPhase,
      cleanupPhase,
    });
    this.spotPhase = new sfn.StateMachine(this, 'SpotPhase', {
      stateMachineName: `${config.pipelineName}-spot-phase`,
      comment: 'One phase of the pipeline on EC2 spot: launch, wait for SSM, run, poll, relaunch on interruption, always clean up',
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(spotPhaseDefinition.startState),
      timeout: Duration.seconds(longestBudget + 120),
      tracingEnabled: true,
      logs: {
        destination: new logs.LogGroup(this, 'SpotPhaseLogs', { retention, removalPolicy: RemovalPolicy.DESTROY }),
        level: sfn.LogLevel.ALL,
        includeExecutionData: false,
      },
    });

    const pipelineDefinition = new SaturdayPipelineDefinition(this, 'PipelineDefinition', {
      config,
      validateInput,
      spotPhase: this.spotPhase,
      subnetsFor,
    });
    this.pipeline = new sfn.StateMachine(this, 'Pipeline', {
      stateMachineName: config.pipelineName,
      comment: `The ${config.pipelineName}: ${allPhases(config).map((p) => p.name).join(', ')} on EC2 spot`,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(pipelineDefinition.startState),
      timeout: Duration.seconds(pipelineTimeoutSeconds(config)),
      tracingEnabled: true,
      logs: {
        destination: new logs.LogGroup(this, 'PipelineLogs', { retention, removalPolicy: RemovalPolicy.DESTROY }),
        level: sfn.LogLevel.ALL,
        includeExecutionData: false,
      },
    });

    // --- Cleanup whatever happens, orphan reaper, alarms -----------------------------------
    this.safetyNet = new SafetyNet(this, 'SafetyNet', {
      pipelineName: config.pipelineName,
      metricNamespace: config.metricNamespace,
      pipeline: this.pipeline,
      spotPhase: this.spotPhase,
      handleFailure,
      maxInstanceAgeSeconds: longestBudget + config.cleanupMarginSeconds + ORPHAN_AGE_SLACK_SECONDS,
      alarmEmail: config.alarmEmail,
      reaperDryRun: config.reaperDryRun,
      logRetention: retention,
    });

    // --- Schedules ----------------------------------------------------------------------
    const timeZone = TimeZone.of(config.schedules.timezone);
    const schedule = (id: string, expression: string, mode: 'full' | 'preflight', description: string) =>
      new scheduler.Schedule(this, id, {
        description,
        schedule: scheduler.ScheduleExpression.expression(expression, timeZone),
        enabled: config.schedules.enabled,
        target: new targets.StepFunctionsStartExecution(this.pipeline, {
          input: scheduler.ScheduleTargetInput.fromObject({ mode }),
          retryAttempts: config.schedules.retryAttempts,
          maxEventAge: Duration.hours(1),
        }),
      });
    schedule('FullRunSchedule', config.schedules.fullRun, 'full', `${config.pipelineName}: the weekly full run`);
    schedule('PreflightSchedule', config.schedules.preflight, 'preflight', `${config.pipelineName}: the preflight shell run (boot, validate, terminate)`);

    // --- Outputs ------------------------------------------------------------------------
    new CfnOutput(this, 'PipelineStateMachineArn', { value: this.pipeline.stateMachineArn });
    new CfnOutput(this, 'SpotPhaseStateMachineArn', { value: this.spotPhase.stateMachineArn });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.safetyNet.alarmTopic.topicArn });
    new CfnOutput(this, 'AffordableAttempts', {
      description: 'Attempts each phase can afford in the worst case (budget arithmetic at synth)',
      value: allPhases(config)
        .map((p) => `${p.name}=${affordableAttempts(p, config.cleanupMarginSeconds)}`)
        .join(' '),
    });
  }

  private grantWorkerPermissions(p: {
    config: PipelineConfig;
    workers: SpotWorkers;
    launchInstance: PipelineFunction;
    awaitAgent: PipelineFunction;
    sendWorkload: PipelineFunction;
    pollWorkload: PipelineFunction;
    handleFailure: PipelineFunction;
    finishPhase: PipelineFunction;
    cleanupPhase: PipelineFunction;
    workloadLogs: logs.LogGroup;
  }): void {
    const pipelineTag = { [`aws:ResourceTag/${TAG.pipeline}`]: p.config.pipelineName };
    const ec2Arn = (resource: string) => `arn:${this.partition}:ec2:${this.region}:${this.account}:${resource}`;

    // Describe* calls support no resource-level permissions: "*" is the only resource AWS accepts.
    const describe = new iam.PolicyStatement({
      actions: ['ec2:DescribeInstances', 'ec2:DescribeSpotInstanceRequests'],
      resources: ['*'],
    });
    for (const f of [p.launchInstance, p.awaitAgent, p.sendWorkload, p.pollWorkload, p.handleFailure, p.finishPhase, p.cleanupPhase]) f.addToRolePolicy(describe);

    // Launch: only from the pipeline's template, into the pipeline's subnets, tagged as the pipeline's.
    p.launchInstance.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ec2:RunInstances'],
        resources: [
          ec2Arn(`launch-template/${p.workers.launchTemplate.launchTemplateId}`),
          ...new Set(allPhases(p.config).flatMap((ph) => (ph.subnetIds ?? p.workers.defaultSubnetIds).map((s) => ec2Arn(`subnet/${s}`)))),
          ec2Arn(`security-group/*`),
          ec2Arn('network-interface/*'),
          `arn:${this.partition}:ec2:${this.region}::image/*`,
        ],
      }),
    );
    p.launchInstance.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ec2:RunInstances'],
        resources: [ec2Arn('instance/*'), ec2Arn('volume/*'), ec2Arn('spot-instances-request/*')],
        conditions: { StringEquals: { [`aws:RequestTag/${TAG.pipeline}`]: p.config.pipelineName } },
      }),
    );
    p.launchInstance.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ec2:CreateTags'],
        resources: [ec2Arn('instance/*'), ec2Arn('volume/*'), ec2Arn('spot-instances-request/*')],
        conditions: { StringEquals: { 'ec2:CreateAction': 'RunInstances' } },
      }),
    );
    p.launchInstance.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [p.workers.instanceRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
      }),
    );
    p.launchInstance.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['iam:CreateServiceLinkedRole'], resources: ['*'], conditions: { StringEquals: { 'iam:AWSServiceName': 'spot.amazonaws.com' } } }),
    );

    // SSM: the agent check has no resource-level permissions; commands only on the pipeline's instances.
    p.awaitAgent.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:DescribeInstanceInformation'], resources: ['*'] }));
    p.sendWorkload.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['ssm:SendCommand'], resources: [`arn:${this.partition}:ssm:${this.region}::document/AWS-RunShellScript`] }),
    );
    p.sendWorkload.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['ssm:SendCommand'], resources: [ec2Arn('instance/*')], conditions: { StringEquals: pipelineTag } }),
    );
    // GetCommandInvocation supports no resource-level permissions.
    p.pollWorkload.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:GetCommandInvocation'], resources: ['*'] }));
    p.pollWorkload.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['ssm:CancelCommand'], resources: ['*'] }), // CancelCommand takes a command id, which has no ARN
    );
    p.workloadLogs.grantRead(p.pollWorkload);

    // Terminate only the pipeline's own instances.
    const terminateOwn = new iam.PolicyStatement({ actions: ['ec2:TerminateInstances'], resources: [ec2Arn('instance/*')], conditions: { StringEquals: pipelineTag } });
    for (const f of [p.handleFailure, p.finishPhase, p.cleanupPhase]) f.addToRolePolicy(terminateOwn);

    p.handleFailure.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'], // PutMetricData has no resources; the namespace condition narrows it
        conditions: { StringEquals: { 'cloudwatch:namespace': p.config.metricNamespace } },
      }),
    );
  }
}
