/**
 * The one wrapper around lambda.Function: every handler gets the same runtime, architecture,
 * bundling (lib/bundling/bundle-function.mjs: local esbuild, no Docker), JSON logs, log group
 * retention and tracing, and a role that may write its own log group only (no
 * AWSLambdaBasicExecutionRole, which allows writing to every log group of the account).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import * as path from 'node:path';
import { Aspects, AssetHashType, DockerImage, Duration, RemovalPolicy, Stack, Tags } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct, type IConstruct } from 'constructs';
import { HANDLER_TAG, TAG } from '../../contract/tags';
import { RUNNER_FILE } from '../../instance/runner';
import { acknowledgeNag, acknowledgeWildcardResource, NAG_PACK } from '../nag';

const ROOT = path.join(__dirname, '..', '..');
export const LAMBDAS_DIR = path.join(ROOT, 'lambdas');
/** Bundles one handler as every function is bundled (and as `npm run measure:functions` measures it). */
const BUNDLER = path.join(ROOT, 'lib', 'bundling', 'bundle-function.mjs');


export interface PipelineFunctionProps {
  /** The handler's file name in lambdas/, without extension, e.g. "launch-instance". */
  readonly handler: string;
  readonly description: string;
  /** @default - none */
  readonly environment?: Record<string, string>;
  /** @default 60 seconds */
  readonly timeout?: Duration;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** Caps concurrent runs of a function that could otherwise launch instances in a runaway. @default - unreserved */
  readonly reservedConcurrentExecutions?: number;
  /** Retries of an asynchronous invocation (EventBridge targets). @default 2 */
  readonly retryAttempts?: number;
  /** Where an asynchronous invocation goes when every retry failed. @default - dropped */
  readonly onFailure?: lambda.IDestination;
}

/** Pinned with the bundle's target (TARGET in lib/bundling/bundle-function.mjs) and the README. */
const RUNTIME = lambda.Runtime.NODEJS_22_X;

/**
 * A handler's code: lambdas/<handler>.ts bundled by lib/bundling/bundle-function.mjs into index.js,
 * with the on-instance runner beside it (SendWorkload sends it with every command; instance/runner.ts
 * reads it from there). CDK's local bundling is synchronous and esbuild's plugins are not, so the
 * bundler runs in a child process. It always bundles locally: a failure fails the synth (it never
 * falls back to Docker). The asset is hashed by its output, so an unchanged bundle is not uploaded again.
 */
function bundledHandler(handler: string): lambda.Code {
  const entry = path.join(LAMBDAS_DIR, `${handler}.ts`);
  return lambda.Code.fromAsset(ROOT, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // What the bundling would run in a container; never used (local bundling succeeds or throws),
      // but part of the asset's cache key, which must differ per handler.
      image: DockerImage.fromRegistry('public.ecr.aws/sam/build-nodejs22.x'),
      command: ['node', 'lib/bundling/bundle-function.mjs', `lambdas/${handler}.ts`, '/asset-output'],
      local: {
        tryBundle(outputDir: string): boolean {
          execFileSync(process.execPath, [BUNDLER, entry, outputDir], { stdio: ['ignore', 'inherit', 'inherit'] });
          copyFileSync(path.join(ROOT, 'instance', RUNNER_FILE), path.join(outputDir, RUNNER_FILE));
          return true;
        },
      },
    },
  });
}

export class PipelineFunction extends lambda.Function {
  /** The function's role: its own log group, X-Ray, and whatever the stack grants. */
  readonly serviceRole: iam.Role;
  /** Why each grant on Resource "*" needs it, for the cdk-nag IAM5 acknowledgement. */
  private readonly anyResourceGrants: { actions: string[]; why: string }[] = [];

  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const serviceRole = new iam.Role(scope, `${id}ServiceRole`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${props.handler} Lambda function: writes its own log group, plus what the stack grants`,
    });
    logGroup.grantWrite(serviceRole); // logs:CreateLogStream, logs:PutLogEvents on this group only
    super(scope, id, {
      code: bundledHandler(props.handler),
      handler: 'index.handler',
      description: props.description,
      runtime: RUNTIME,
      role: serviceRole,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: props.timeout ?? Duration.seconds(60),
      environment: props.environment,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      retryAttempts: props.retryAttempts,
      onFailure: props.onFailure,
      tracing: lambda.Tracing.ACTIVE,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      logGroup,
    });
    this.serviceRole = serviceRole;
    Tags.of(this).add(HANDLER_TAG, props.handler);
    Tags.of(serviceRole).add(HANDLER_TAG, props.handler);

    acknowledgeNag(
      this.node.defaultChild!,
      `${NAG_PACK}-L1`,
      `The runtime is pinned to ${RUNTIME.name} (an LTS Lambda runtime) together with the esbuild target and the README; ` +
        'L1 compares against the newest runtime the installed aws-cdk-lib knows, so moving to it is a deliberate change, not a side effect of a dependency bump.',
    );
    // Active tracing grants these on "*" (set by the Function construct above).
    this.anyResourceGrants.push({ actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], why: 'active X-Ray tracing; X-Ray has no resource-level permissions' });
    // At synth, when every grant is in: acknowledge Resource "*" with the reasons given for it.
    Aspects.of(this).add({
      visit: (node: IConstruct) => {
        if (node === this) this.acknowledgeAnyResourceGrants();
      },
    });
  }

  /**
   * Allow actions that support no resource-level permissions, on Resource "*" (the only resource
   * AWS accepts for them). `why` says so for these actions; it becomes part of the reason of the
   * cdk-nag acknowledgement. Any other grant on "*" is left unacknowledged, so cdk-nag reports it.
   */
  allowOnAnyResource(actions: string[], why: string, conditions?: Record<string, Record<string, unknown>>): void {
    this.addToRolePolicy(new iam.PolicyStatement({ actions, resources: ['*'], conditions }));
    this.anyResourceGrants.push({ actions, why });
  }

  /** Allow TerminateInstances on the instances tagged as the pipeline's, and no others. */
  allowTerminatingPipelineInstances(pipelineName: string): void {
    const stack = Stack.of(this);
    const instances = `arn:${stack.partition}:ec2:${stack.region}:${stack.account}:instance/*`;
    this.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ec2:TerminateInstances'],
        resources: [instances],
        conditions: { StringEquals: { [`aws:ResourceTag/${TAG.pipeline}`]: pipelineName } },
      }),
    );
    acknowledgeWildcardResource(
      this.serviceRole,
      instances,
      `Instances are launched at run time, so no instance id is known at deploy; the aws:ResourceTag/${TAG.pipeline} condition lets TerminateInstances touch this pipeline's instances only.`,
    );
  }

  private acknowledgeAnyResourceGrants(): void {
    const policy = this.serviceRole.node.tryFindChild('DefaultPolicy') as iam.Policy | undefined;
    const statements = (policy ? Stack.of(this).resolve(policy.document.toJSON())?.Statement : undefined) ?? [];
    const justified = new Set(this.anyResourceGrants.flatMap((g) => g.actions));
    const onAnyResource = (statements as { Effect: string; Action: string | string[]; Resource: unknown }[])
      .filter((s) => s.Effect === 'Allow' && [s.Resource].flat().includes('*'))
      .flatMap((s) => [s.Action].flat());
    if (onAnyResource.some((a) => !justified.has(a))) return; // an unexplained "*": let cdk-nag report it
    acknowledgeNag(
      this.serviceRole,
      `${NAG_PACK}-IAM5[Resource::*]`,
      'Resource "*" only for actions that support no resource-level permissions: ' + this.anyResourceGrants.map((g) => `${g.actions.join(', ')} (${g.why})`).join('; '),
    );
  }
}
