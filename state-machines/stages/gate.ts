/**
 * A `gate` stage (seed 004): the PromotionGate Lambda decides, copies and records
 * (lambdas/promotion-gate.ts), its result at `$.phases.<gate>`; then the ModelPromoted datum (1 or
 * 0), put by Step Functions itself. Missing or malformed metrics fail the pipeline here, with
 * MetricsInvalid naming the file and field. A preflight skips the gate: its candidate phase ran
 * the preflight command only, so there are no metrics to compare and nothing to promote.
 *   <gate>Preflight? -> (preflight) <gate>Decided | <gate> -> Count<gate> -> <gate>Decided
 */
import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { gateStateNames } from '../../contract/config';
import { METRICS } from '../../contract/metrics';
import { putDatum } from '../metric-datum';
import type { StageBuilder } from './types';

const RETRYABLE = ['Lambda.TooManyRequestsException', 'Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'TransientApiError'];
/** The datum's retries: a few quick tries; a datum that cannot be put never fails the run. */
const COUNT_RETRY = { intervalSeconds: 2, backoffRate: 2, maxAttempts: 5, maxDelaySeconds: 20 } as const;
/** What the gate may take, retries included (the pipeline's timeout counts it). */
const GATE_SECONDS = 600;

export const gateStageBuilder: StageBuilder<'gate'> = {
  build: (context, stage) => {
    if (!context.promotionGate) throw new Error(`gate ${stage.name}: the stack passed no PromotionGate function`);
    const names = gateStateNames(stage.name);
    const result = `$.phases.${stage.name}`;
    const decide = new tasks.LambdaInvoke(context.scope, stage.name, {
      comment: `Promote ${stage.candidate}'s outputs to production if its ${stage.metricsFile} passes the rules${stage.dryRun ? ' (dry run: decide and record only)' : ''}`,
      lambdaFunction: context.promotionGate,
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      payload: sfn.TaskInput.fromObject({
        gate: { name: stage.name, candidate: stage.candidate, metricsFile: stage.metricsFile, rules: stage.rules, dryRun: stage.dryRun, pipelineName: context.config.pipelineName },
        run: sfn.JsonPath.objectAt('$.run'),
      }),
      resultPath: result,
      taskTimeout: sfn.Timeout.duration(Duration.seconds(120)),
    }).addRetry({ errors: RETRYABLE, interval: Duration.seconds(2), backoffRate: 2, maxAttempts: 6, maxDelay: Duration.seconds(30), jitterStrategy: sfn.JitterType.FULL });
    const count = putDatum(
      context.scope,
      names.count,
      context.config.metricNamespace,
      METRICS.modelPromoted,
      { Pipeline: `${result}.pipeline`, Gate: `${result}.gate` },
      COUNT_RETRY,
      { path: `${result}.promotedValue` },
    );
    const after = new sfn.Pass(context.scope, names.decided);
    count.addCatch(after, { errors: ['States.ALL'], resultPath: sfn.JsonPath.DISCARD });
    decide.next(count).next(after);
    const preflight = new sfn.Choice(context.scope, names.preflight, { comment: `A preflight ran ${stage.candidate}'s preflight command only: nothing to decide or promote` })
      .when(sfn.Condition.stringEquals('$.run.mode', 'preflight'), after)
      .otherwise(decide);
    return sfn.Chain.custom(preflight, [after], after) as unknown as sfn.IChainable & sfn.INextable;
  },
  maxDuration: () => Duration.seconds(GATE_SECONDS),
};
