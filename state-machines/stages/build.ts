/**
 * A `build` stage (seed 002): look for the artifact of this run's source version; if the bucket
 * has it, go on (nothing launched); otherwise run the build as a phase on spot (its runner fetches
 * the source, runs the build command, uploads the file with its sha256) and record what it
 * uploaded. Either way `$.run.artifacts.<artifact>` names the version, the object and its sha256,
 * for the phases after it.
 */
import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { buildPhase, buildStateNames, type BuildStage } from '../../contract/config';
import { phaseTask, PHASE_TASK_SLACK_SECONDS } from './phase';
import type { StageBuilder, StageContext } from './types';

/** Lambda's own faults and throttled S3 (TransientApiError): retried; anything else fails the stage. */
const RETRYABLE = ['Lambda.TooManyRequestsException', 'Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'TransientApiError'];
/** What the two CheckArtifact tasks may take, retries included (the pipeline's timeout counts it). */
const CHECK_SECONDS = 2 * 120;

function checkTask(context: StageContext, stage: BuildStage, name: string, mode: 'check' | 'record'): sfn.TaskStateBase {
  if (!context.checkArtifact) throw new Error(`build stage ${stage.name}: the stack passed no CheckArtifact function`);
  return new tasks.LambdaInvoke(context.scope, name, {
    comment:
      mode === 'check'
        ? `Which version of ${stage.artifact} this run needs, and is it built already?`
        : `The build of ${stage.artifact} uploaded it with its sha256: record it for the phases after`,
    lambdaFunction: context.checkArtifact,
    payloadResponseOnly: true,
    retryOnServiceExceptions: false,
    payload: sfn.TaskInput.fromObject({
      mode,
      build: { name: stage.name, artifact: stage.artifact, source: stage.source, pipelineName: context.config.pipelineName },
      run: sfn.JsonPath.objectAt('$.run'),
    }),
    resultPath: `$.run.artifacts.${stage.artifact}`,
    taskTimeout: sfn.Timeout.duration(Duration.seconds(60)),
  }).addRetry({ errors: RETRYABLE, interval: Duration.seconds(2), backoffRate: 2, maxAttempts: 5, maxDelay: Duration.seconds(20), jitterStrategy: sfn.JitterType.FULL });
}

export const buildStageBuilder: StageBuilder<'build'> = {
  build: (context, stage) => {
    const names = buildStateNames(stage.name);
    const check = checkTask(context, stage, names.check, 'check');
    const run = phaseTask(context, buildPhase(stage), { artifact: stage.artifact, source: stage.source, output: stage.output });
    const record = checkTask(context, stage, names.record, 'record');
    const skip = new sfn.Pass(context.scope, names.skip, { comment: `${stage.artifact} is built for this version: nothing to launch` });
    const present = new sfn.Choice(context.scope, names.present)
      .when(sfn.Condition.booleanEquals(`$.run.artifacts.${stage.artifact}.present`, true), skip)
      .otherwise(run.next(record))
      .afterwards();
    return sfn.Chain.start(check).next(present) as unknown as sfn.IChainable & sfn.INextable;
  },
  maxDuration: (stage) => Duration.seconds(stage.budgetSeconds + 2 * PHASE_TASK_SLACK_SECONDS + CHECK_SECONDS),
};
