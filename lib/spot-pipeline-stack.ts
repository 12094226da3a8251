/**
 * The Saturday spot pipeline stack: from one validated config, the workers' launch template,
 * the Lambda tasks, the SpotPhase and pipeline state machines, and their schedules.
 */
import * as path from 'node:path';
import { ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, TimeZone, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { affordableAttempts } from '../contract/budget';
import { allPhases, buildStages, gateStages, launchProfile, onDemandFallbackOf, phaseWaits, type PhaseConfig, type PhaseSpec, type PipelineConfig } from '../contract/config';
import { parseSecretSource } from '../contract/secrets';
import { areaPrefix } from '../contract/storage';
import { CodeAsset } from './constructs/code-asset';
import { PipelineBucket } from './constructs/pipeline-bucket';
import { PipelineFunction } from './constructs/pipeline-function';
import { spotPhaseName, workloadLogGroupName } from '../contract/names';
import { PipelineDashboard } from './constructs/pipeline-dashboard';
import { SafetyNet } from './constructs/safety-net';
import { SpotWorkers } from './constructs/spot-workers';
import { WakeRelay } from './constructs/wake-relay';
import { metricsStatement } from '../state-machines/metric-datum';
import { CHECK_AGENT_FUNCTION_TIMEOUT_SECONDS, SpotPhaseDefinition } from '../state-machines/spot-phase';
import { pipelineTimeoutSeconds, PipelineDefinition } from '../state-machines/pipeline';
import type { BucketEnv, LaunchEnv, SendEnv, WorkloadLogEnv } from '../contract/environment';
import { TAG } from '../contract/tags';
import { acknowledgeNag, acknowledgeWildcardResource, NAG_PACK } from './nag';

/** What the stack decides for a phase's spec beyond its config: its code asset and instance profile. */
type PhaseData = Pick<PhaseSpec, 'codeAsset' | 'instanceProfileArn' | 'launchTemplate'>;

/** An instance older than the longest phase budget plus this (and the cleanup margin) is an orphan. */
export const ORPHAN_AGE_SLACK_SECONDS = 1800;

export interface SpotPipelineStackProps extends StackProps {
  /** The validated pipeline config (see contract/config.ts). */
  readonly config: PipelineConfig;
}

/** The SpotPhase state machine's name. */
export { pipelineStackName, spotPhaseName } from '../contract/names';

export class SpotPipelineStack extends Stack {
  readonly pipeline: sfn.StateMachine;
  readonly spotPhase: sfn.StateMachine;
  readonly safetyNet: SafetyNet;
  readonly dashboard: cloudwatch.Dashboard;
  /** The pipeline bucket: created, or the existing one named in config (storage.bucketName). */
  readonly bucket: s3.IBucket;

  constructor(scope: Construct, id: string, props: SpotPipelineStackProps) {
    super(scope, id, props);
    const { config } = props;
    const retention = config.logRetentionDays as logs.RetentionDays;

    const workloadLogs = new logs.LogGroup(this, 'WorkloadLogs', {
      logGroupName: workloadLogGroupName(config.pipelineName),
      retention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const workers = new SpotWorkers(this, 'Workers', {
      subnetIds: config.subnetIds,
      vpcId: config.vpcId,
      workloadLogGroup: workloadLogs,
      flowLogRetention: retention,
      azCount: config.vpcAzCount,
    });
    const subnetsFor = (phase: PhaseConfig) => phase.subnetIds ?? workers.defaultSubnetIds;

    // --- Pipeline bucket: artifacts, run outputs, checkpoints (contract/storage.ts) ---------
    const pipelineBucket = new PipelineBucket(this, 'PipelineBucket', { pipelineName: config.pipelineName, storage: config.storage });
    this.bucket = pipelineBucket.bucket;

    // --- Each phase's own role, code and secrets (the data plane) ---------------------------
    const phaseData = this.phaseDataPlane(config, workers, pipelineBucket);

    // --- Lambda tasks -------------------------------------------------------------------
    const launchEnv: LaunchEnv = {
      LAUNCH_TEMPLATE_ID: workers.launchTemplate.launchTemplateId!,
      LAUNCH_TEMPLATE_VERSION: workers.launchTemplate.latestVersionNumber,
      PIPELINE_BUCKET: this.bucket.bucketName,
    };
    const logEnv: WorkloadLogEnv = { WORKLOAD_LOG_GROUP: workloadLogs.logGroupName };
    const sendEnv: SendEnv = { ...logEnv, PIPELINE_BUCKET: this.bucket.bucketName };
    const fn = (id: string, handler: string, description: string, extra: Partial<ConstructorParameters<typeof PipelineFunction>[2]> = {}) =>
      new PipelineFunction(this, id, { handler, description, logRetention: retention, ...extra });

    const validateInput = fn('ValidateInputFn', 'validate-input', 'Validate the pipeline execution input');
    const launchInstance = fn('LaunchInstanceFn', 'launch-instance', 'Launch one attempt of a phase on a spot instance', {
      environment: launchEnv,
      reservedConcurrentExecutions: config.reservedConcurrency?.launchInstance, // opt-in: see reservedConcurrency in contract/config.ts
    });
    const awaitAgent = fn('AwaitAgentFn', 'await-agent', 'Wait for the SSM agent of a phase instance', { timeout: Duration.seconds(CHECK_AGENT_FUNCTION_TIMEOUT_SECONDS) });
    const sendWorkload = fn('SendWorkloadFn', 'send-workload', 'Send the phase workload with SSM', { environment: sendEnv });
    const pollWorkload = fn('PollWorkloadFn', 'poll-workload', 'Poll a running phase workload and classify its end', { environment: logEnv });
    const bucketEnv: BucketEnv = { PIPELINE_BUCKET: this.bucket.bucketName };
    const handleFailure = fn('HandleFailureFn', 'handle-failure', 'Terminate a failed attempt; relaunch on spot interruption within budget', { environment: bucketEnv });
    // HandleFailure reads a workload's reported progress from its checkpoint (contract/runner.ts, PROGRESS_FILE).
    pipelineBucket.grantReadCheckpoints(handleFailure.serviceRole);
    // The pool memory: LaunchInstance reads it and records refusals, HandleFailure records reclaims.
    pipelineBucket.grantPoolMemory(handleFailure.serviceRole);
    pipelineBucket.grantPoolMemory(launchInstance.serviceRole);
    // When an attempt ends, HandleFailure (or FinishPhase) removes its wait token (lambdas/aws/waits.ts).
    pipelineBucket.grantForgetWaits(handleFailure.serviceRole);
    const finishPhase = fn('FinishPhaseFn', 'finish-phase', 'Terminate the instance of a finished phase and report it', { environment: bucketEnv });
    // Each attempt's cost goes to its run's records (summed into PipelineCostUsd when the run ends).
    pipelineBucket.grantRecordRunCosts(handleFailure.serviceRole);
    pipelineBucket.grantRecordRunCosts(finishPhase.serviceRole);
    pipelineBucket.grantForgetWaits(finishPhase.serviceRole);
    const cleanupPhase = fn('CleanupPhaseFn', 'cleanup-phase', 'Terminate every instance of a phase that failed with an error');

    // Build stages (seed 002): CheckArtifact looks for each version before launching anything.
    const checkArtifact =
      buildStages(config).length > 0
        ? fn('CheckArtifactFn', 'check-artifact', 'Find the version a build stage needs in the pipeline bucket, or record what it built', { environment: bucketEnv })
        : undefined;
    if (checkArtifact) pipelineBucket.grantCheckArtifacts(checkArtifact.serviceRole);
    // Promotion gates (seed 004): one function decides for every gate, each gate granted its own prefixes.
    const promotionGate =
      gateStages(config).length > 0
        ? fn('PromotionGateFn', 'promotion-gate', 'Compare a candidate model with production and promote it when the rules pass', { environment: bucketEnv })
        : undefined;
    for (const gate of gateStages(config)) pipelineBucket.grantGate(promotionGate!.serviceRole, gate.name, gate.candidate);
    // Sharded phases (seeds 000 and 003): the bookkeeping of their shards; no AWS permissions.
    const shardVerdict = allPhases(config).some((p) => p.shards !== undefined)
      ? fn('ShardVerdictFn', 'shard-verdict', 'Record, tally and settle the shards of a sharded phase')
      : undefined;

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
    }, { metricNamespace: config.metricNamespace, waits: { bucket: this.bucket, prefix: areaPrefix(config.pipelineName, 'waits') } });
    this.spotPhase = new sfn.StateMachine(this, 'SpotPhase', {
      stateMachineName: spotPhaseName(config.pipelineName),
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
    // The metric data the SpotPhase state machine puts itself (CountRelaunch, CountExhausted).
    this.spotPhase.addToRolePolicy(spotPhaseDefinition.metricsStatement);
    // LaunchInstance looks after launching: is its phase execution still running?
    // (The name as configured, not the state machine's reference: its role already refers to this function.)
    const phaseExecutions = `arn:${this.partition}:states:${this.region}:${this.account}:execution:${spotPhaseName(config.pipelineName)}:*`;
    launchInstance.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:DescribeExecution'], resources: [phaseExecutions] }));
    acknowledgeWildcardResource(
      launchInstance.serviceRole,
      phaseExecutions,
      'LaunchInstance reads the status of its own phase execution after launching (a stopped one gets no instance); execution names are generated at run time, and the ARN prefix pins the SpotPhase state machine.',
    );

    const pipelineDefinition = new PipelineDefinition(this, 'PipelineDefinition', {
      config,
      validateInput,
      spotPhase: this.spotPhase,
      subnetsFor,
      dataFor: (phase) => phaseData.get(phase.name) ?? {},
      checkArtifact,
      promotionGate,
      shardVerdict,
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

    this.acknowledgeStateMachineGrants(this.spotPhase, [launchInstance, awaitAgent, sendWorkload, pollWorkload, handleFailure, finishPhase, cleanupPhase]);
    acknowledgeWildcardResource(
      this.spotPhase.role,
      this.bucket.arnForObjects(`${areaPrefix(config.pipelineName, 'waits')}*`),
      'AwaitWorkloadEvent stores its task token under waits/<instanceId> (the instance is known only at run time); the wildcard stays under this pipeline\'s waits/ prefix, write only.',
    );
    this.acknowledgeStateMachineGrants(this.pipeline, [validateInput, ...[checkArtifact, promotionGate, shardVerdict].filter((f) => f !== undefined)], this.spotPhase);
    // The gates' ModelPromoted data, put by the pipeline state machine itself.
    if (promotionGate) this.pipeline.addToRolePolicy(metricsStatement(config.metricNamespace));

    // --- Cleanup whatever happens, orphan reaper, alarms -----------------------------------
    this.safetyNet = new SafetyNet(this, 'SafetyNet', {
      pipelineName: config.pipelineName,
      metricNamespace: config.metricNamespace,
      pipeline: this.pipeline,
      spotPhase: this.spotPhase,
      maxInstanceAgeSeconds: longestBudget + config.cleanupMarginSeconds + ORPHAN_AGE_SLACK_SECONDS,
      alarmEmail: config.alarmEmail,
      reaperDryRun: config.reaperDryRun,
      reaperReservedConcurrency: config.reservedConcurrency?.reaper,
      logRetention: retention,
      bucket: pipelineBucket,
    });

    // --- The operator's dashboard (lib/constructs/pipeline-dashboard.ts) ---------------------
    this.dashboard = new PipelineDashboard(this, 'Dashboard', {
      pipelineName: config.pipelineName,
      metricNamespace: config.metricNamespace,
      pipeline: this.pipeline,
      phases: allPhases(config).map((p) => ({ name: p.name, budgetSeconds: p.budgetSeconds })),
      alarms: this.safetyNet.alarms,
    }).dashboard;

    // --- The wake relay: events end a running workload's wait (state-machines/spot-phase.ts) --------
    new WakeRelay(this, 'WakeRelay', { pipelineName: config.pipelineName, bucket: pipelineBucket, spotPhase: this.spotPhase, logRetention: retention });

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
    new CfnOutput(this, 'PipelineBucketName', { description: 'The pipeline bucket (artifacts, run outputs, checkpoints)', value: this.bucket.bucketName });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.safetyNet.alarmTopic.topicArn });
    new CfnOutput(this, 'WorkloadLogGroupName', { description: 'The workloads\' output (Run Command: stdout and stderr streams per command and instance)', value: workloadLogs.logGroupName });
    new CfnOutput(this, 'PipelineName', { value: config.pipelineName });
    new CfnOutput(this, 'DashboardUrl', { value: `https://${this.region}.console.aws.amazon.com/cloudwatch/home?region=${this.region}#dashboards/dashboard/${config.pipelineName}` });
    new CfnOutput(this, 'MetricNamespace', { value: config.metricNamespace });
    new CfnOutput(this, 'AffordableAttempts', {
      description: 'Attempts each phase can afford in the worst case (budget arithmetic at synth)',
      value: allPhases(config)
        .map((p) => `${p.name}=${affordableAttempts({ ...p, ...phaseWaits(p) }, config.cleanupMarginSeconds)}`)
        .join(' '),
    });
  }

  /**
   * Per phase: its own role and instance profile, granted its S3 prefixes, its code asset (that one
   * object) and its secrets (those parameters and secrets, no others); what its spec carries.
   */
  private phaseDataPlane(config: PipelineConfig, workers: SpotWorkers, bucket: PipelineBucket): Map<string, PhaseData> {
    const assets = new Map<string, CodeAsset>();
    const assetFor = (dir: string) => {
      const resolved = path.resolve(dir);
      let asset = assets.get(resolved);
      if (!asset) {
        asset = new CodeAsset(this, `Code${assets.size + 1}`, { directory: resolved });
        assets.set(resolved, asset);
      }
      return asset;
    };
    const data = new Map<string, PhaseData>();
    for (const phase of allPhases(config)) {
      const { role, profile } = workers.addPhaseRole(phase.name);
      bucket.grantPhase(role, phase.name);
      const build = buildStages(config).find((b) => b.name === phase.name);
      if (build) bucket.grantBuild(role, build.artifact);
      const dir = phase.code ?? config.code;
      const asset = dir === undefined ? undefined : assetFor(dir);
      if (asset) role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [asset.objectArn] }));
      const parameters: string[] = [];
      const secrets: string[] = [];
      for (const source of Object.values(phase.secrets ?? {})) {
        const parsed = parseSecretSource(source);
        if ('problem' in parsed) throw new Error(`phase ${phase.name}: ${parsed.problem}`); // the config schema refused it already
        if (parsed.service === 'ssm') parameters.push(this.formatArn({ service: 'ssm', resource: 'parameter', resourceName: parsed.name.replace(/^\//, '') }));
        // A secret's ARN ends in "-" and six random characters: "-??????" matches exactly those
        // (Secrets Manager user guide, "Permissions policy examples": secrets by name).
        else secrets.push(this.formatArn({ service: 'secretsmanager', resource: 'secret', arnFormat: ArnFormat.COLON_RESOURCE_NAME, resourceName: `${parsed.name}-??????` }));
      }
      // SecureString parameters and secrets encrypted with the AWS managed keys (aws/ssm,
      // aws/secretsmanager) need no KMS grant: those keys' policies allow use through the service
      // by principals of the account. A customer managed key needs kms:Decrypt granted by its owner.
      if (parameters.length > 0) role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['ssm:GetParameter'], resources: parameters }));
      if (secrets.length > 0) role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: secrets }));
      const template = workers.addPhaseTemplate(phase.name, {
        profile,
        launch: phase.image ? launchProfile(phase.image) : undefined,
        tags: { [TAG.pipeline]: config.pipelineName, [TAG.phase]: phase.name },
      });
      data.set(phase.name, {
        codeAsset: asset ? { uri: asset.uri, sha256: asset.sha256 } : undefined,
        instanceProfileArn: profile.instanceProfileArn,
        launchTemplate: { id: template.ref, version: template.attrLatestVersionNumber },
      });
    }
    return data;
  }

  /** The wildcards the StateMachine and task constructs grant a state machine's role, acknowledged one by one. */
  private acknowledgeStateMachineGrants(machine: sfn.StateMachine, invoked: PipelineFunction[], startsSync?: sfn.StateMachine): void {
    acknowledgeNag(
      machine.role,
      `${NAG_PACK}-IAM5[Resource::*]`,
      'Granted by the StateMachine construct for ALL-level logging and X-Ray tracing: the CloudWatch Logs vended-log delivery actions ' +
        '(logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, DeleteLogDelivery, ListLogDeliveries, PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups) ' +
        'and xray:PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets support no resource-level permissions; ' +
        'so does cloudwatch:PutMetricData (the metric data the state machine puts itself), which the cloudwatch:namespace condition limits to the pipeline\'s namespace.',
    );
    for (const f of invoked) {
      acknowledgeWildcardResource(
        machine.role,
        `${f.functionArn}:*`,
        `LambdaInvoke allows lambda:InvokeFunction on ${f.node.id} and its qualified ARNs (versions, aliases): the wildcard spans qualifiers of this one function only.`,
      );
    }
    if (startsSync) {
      acknowledgeWildcardResource(
        machine.role,
        this.formatArn({
          service: 'states',
          resource: 'execution',
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          resourceName: `${this.splitArn(startsSync.stateMachineArn, ArnFormat.COLON_RESOURCE_NAME).resourceName}*`,
        }),
        'StartExecution.sync polls and stops the child executions it starts (states:DescribeExecution, states:StopExecution); their names are generated at run time, and the ARN prefix pins the SpotPhase state machine.',
      );
    }
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
    const instances = ec2Arn('instance/*');

    // Describe* calls support no resource-level permissions: "*" is the only resource AWS accepts.
    for (const f of [p.launchInstance, p.awaitAgent, p.sendWorkload, p.pollWorkload, p.handleFailure, p.finishPhase, p.cleanupPhase]) {
      f.allowOnAnyResource(['ec2:DescribeInstances', 'ec2:DescribeSpotInstanceRequests'], 'EC2 Describe* calls support no resource-level permissions');
    }
    // The cost of each attempt: the spot price history of its pool, read when the attempt ends.
    for (const f of [p.handleFailure, p.finishPhase]) {
      f.allowOnAnyResource(['ec2:DescribeSpotPriceHistory'], 'EC2 Describe* calls support no resource-level permissions');
    }

    // Launch: only from the pipeline's templates, into the pipeline's subnets and security group, tagged as the pipeline's.
    // A fleet launch (CreateFleet, type instant) is authorized as CreateFleet on the same resources
    // and launches with the caller's own RunInstances permissions: an instant fleet needs no
    // service-linked role (EC2 user guide, "EC2 Fleet prerequisites"), so the RunInstances
    // statements below, the market condition among them, govern its instances too. (Karpenter's
    // controller policy grants its instant fleets the same pairs of actions.)
    const fleet = allPhases(p.config).some((ph) => (ph.allocation ?? p.config.allocation) === 'price-capacity-optimized');
    const launchActions = fleet ? ['ec2:RunInstances', 'ec2:CreateFleet'] : ['ec2:RunInstances'];
    p.launchInstance.addToRolePolicy(
      new iam.PolicyStatement({
        actions: launchActions,
        resources: [
          ec2Arn(`launch-template/${p.workers.launchTemplate.launchTemplateId}`),
          ...p.workers.phaseTemplates.map((t) => ec2Arn(`launch-template/${t.ref}`)),
          ...new Set(allPhases(p.config).flatMap((ph) => (ph.subnetIds ?? p.workers.defaultSubnetIds).map((s) => ec2Arn(`subnet/${s}`)))),
          ec2Arn(`security-group/${p.workers.securityGroup.securityGroupId}`),
          ec2Arn('network-interface/*'),
        ],
      }),
    );
    const images = `arn:${this.partition}:ec2:${this.region}::image/*`;
    p.launchInstance.addToRolePolicy(
      new iam.PolicyStatement({ actions: launchActions, resources: [images], conditions: { StringEquals: { 'ec2:Owner': 'amazon' } } }),
    );
    // Launch profiles: the AMIs phases name (yours may be private), and the SSM parameters that name
    // theirs (RunInstances resolve:ssm: reads them with the caller's ssm:GetParameters).
    const amis = [...new Set(allPhases(p.config).flatMap((ph) => (ph.image?.ami ? [ph.image.ami] : [])))];
    if (amis.length > 0) p.launchInstance.addToRolePolicy(new iam.PolicyStatement({ actions: launchActions, resources: amis.map((ami) => `arn:${this.partition}:ec2:${this.region}::image/${ami}`) }));
    const parameters = [
      ...new Set(allPhases(p.config).flatMap((ph) => (ph.image ? [launchProfile(ph.image).imageId] : [])).filter((id) => id.startsWith('resolve:ssm:')).map((id) => id.slice('resolve:ssm:'.length))),
    ];
    // A parameter of your own names an AMI of yours, known only at launch: images this account owns.
    if (parameters.some((name) => !name.startsWith('/aws/service/'))) {
      p.launchInstance.addToRolePolicy(new iam.PolicyStatement({ actions: launchActions, resources: [images], conditions: { StringEquals: { 'ec2:Owner': this.account } } }));
    }
    if (parameters.length > 0) {
      p.launchInstance.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['ssm:GetParameters'],
          resources: parameters.map((name) => this.formatArn({ service: 'ssm', resource: 'parameter', resourceName: name.replace(/^\//, ''), account: name.startsWith('/aws/service/') ? '' : undefined })),
        }),
      );
    }
    const created = [instances, ec2Arn('volume/*'), ec2Arn('spot-instances-request/*')];
    const tagged = { [`aws:RequestTag/${TAG.pipeline}`]: p.config.pipelineName };
    p.launchInstance.addToRolePolicy(
      new iam.PolicyStatement({ actions: launchActions, resources: created.filter((r) => r !== instances), conditions: { StringEquals: tagged } }),
    );
    if (fleet) {
      // The fleet itself (an instant fleet is a record of the request), tagged as the pipeline's; and its instances.
      p.launchInstance.addToRolePolicy(new iam.PolicyStatement({ actions: ['ec2:CreateFleet'], resources: [ec2Arn('fleet/*'), instances], conditions: { StringEquals: tagged } }));
    }
    // Instances on spot; on-demand only for the phases that opt in to the fallback (their instances
    // carry the phase tag). EC2 sets ec2:InstanceMarketType on every launch (Service Authorization
    // Reference, "Amazon EC2": condition keys of the instance resource: spot | on-demand | capacity-block).
    p.launchInstance.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['ec2:RunInstances'], resources: [instances], conditions: { StringEquals: { ...tagged, 'ec2:InstanceMarketType': 'spot' } } }),
    );
    const fallbackPhases = allPhases(p.config).filter((ph) => onDemandFallbackOf(ph) !== undefined).map((ph) => ph.name);
    if (fallbackPhases.length > 0) {
      p.launchInstance.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['ec2:RunInstances'],
          resources: [instances],
          conditions: { StringEquals: { ...tagged, 'ec2:InstanceMarketType': 'on-demand', [`aws:RequestTag/${TAG.phase}`]: fallbackPhases } },
        }),
      );
    }
    p.launchInstance.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ec2:CreateTags'],
        resources: fleet ? [...created, ec2Arn('fleet/*')] : created,
        conditions: { StringEquals: { 'ec2:CreateAction': fleet ? ['RunInstances', 'CreateFleet'] : 'RunInstances' } },
      }),
    );
    p.launchInstance.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [p.workers.instanceRole.roleArn, ...p.workers.phaseRoles.map((r) => r.roleArn)],
        conditions: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
      }),
    );
    p.launchInstance.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['iam:CreateServiceLinkedRole'],
        resources: [`arn:${this.partition}:iam::${this.account}:role/aws-service-role/spot.amazonaws.com/AWSServiceRoleForEC2Spot`],
        conditions: { StringEquals: { 'iam:AWSServiceName': 'spot.amazonaws.com' } },
      }),
    );
    const launchRole = p.launchInstance.serviceRole;
    acknowledgeWildcardResource(
      launchRole,
      ec2Arn('network-interface/*'),
      'RunInstances creates the primary network interface; its id does not exist before the call, and the subnet and security group it may use are pinned in the same statement.',
    );
    acknowledgeWildcardResource(
      launchRole,
      images,
      'The AMI is the latest Amazon Linux 2023, resolved from a public SSM parameter at deploy time and replaced by every release; the ec2:Owner=amazon condition admits Amazon-owned AMIs only.',
    );
    for (const [resource, what] of [
      [instances, 'instance'],
      [ec2Arn('volume/*'), 'root volume'],
      [ec2Arn('spot-instances-request/*'), 'spot request'],
      ...(fleet ? ([[ec2Arn('fleet/*'), 'instant fleet']] as const) : []),
    ] as const) {
      acknowledgeWildcardResource(
        launchRole,
        resource,
        `RunInstances (or CreateFleet) creates the ${what}, so its id does not exist before the call: launching requires the aws:RequestTag/${TAG.pipeline} tag of this pipeline, and CreateTags is allowed only as part of the launch (ec2:CreateAction).`,
      );
    }

    // SSM: the agent check has no resource-level permissions; commands only on the pipeline's instances.
    p.awaitAgent.allowOnAnyResource(['ssm:DescribeInstanceInformation'], 'a List call that supports no resource-level permissions');
    p.sendWorkload.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['ssm:SendCommand'], resources: [`arn:${this.partition}:ssm:${this.region}::document/AWS-RunShellScript`] }),
    );
    p.sendWorkload.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:SendCommand'], resources: [instances], conditions: { StringEquals: pipelineTag } }));
    acknowledgeWildcardResource(
      p.sendWorkload.serviceRole,
      instances,
      `SendCommand targets instances launched at run time, so no instance id is known at deploy; the aws:ResourceTag/${TAG.pipeline} condition admits this pipeline's instances only.`,
    );
    // ListCommands: a retried SendWorkload looks for the command its first try sent.
    p.sendWorkload.allowOnAnyResource(['ssm:ListCommands'], 'a List call that supports no resource-level permissions');
    p.pollWorkload.allowOnAnyResource(['ssm:GetCommandInvocation', 'ssm:CancelCommand'], 'they take a command id, which has no ARN: no resource-level permissions');
    p.workloadLogs.grantRead(p.pollWorkload);

    // Terminate only the pipeline's own instances.
    // (AwaitAgent: an instance left to spot on its notice that is still there past its save window.)
    for (const f of [p.handleFailure, p.finishPhase, p.cleanupPhase, p.awaitAgent]) f.allowTerminatingPipelineInstances(p.config.pipelineName);

  }
}
