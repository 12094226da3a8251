/**
 * The one wrapper around NodejsFunction: every handler gets the same runtime, architecture,
 * bundling (local esbuild, no Docker), JSON logs, log group retention and tracing.
 */
import * as path from 'node:path';
import { Duration, RemovalPolicy, Tags } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export const LAMBDAS_DIR = path.join(__dirname, '..', '..', 'lambdas');

/** Tag naming the handler file a function runs (the simulator maps functions to code by it). */
export const HANDLER_TAG = 'spot-pipeline:handler';

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
}

export class PipelineFunction extends nodejs.NodejsFunction {
  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    super(scope, id, {
      entry: path.join(LAMBDAS_DIR, `${props.handler}.ts`),
      handler: 'handler',
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: props.timeout ?? Duration.seconds(60),
      environment: props.environment,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      tracing: lambda.Tracing.ACTIVE,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      logGroup,
      bundling: {
        target: 'node22',
        format: nodejs.OutputFormat.CJS,
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        externalModules: [],
      },
    });
    Tags.of(this).add(HANDLER_TAG, props.handler);
  }
}
