/**
 * A sharded phase (config `shards`, seeds 000 and 003): every shard is its own SpotPhase execution
 * (its own attempts, budget, relaunches, tags, idempotency tokens and metric datum), at most
 * `maxConcurrency` at a time, in an inline Map state named after the phase.
 *
 *   <P>Preflight? -> <P>AllShards | <P>FirstShard (a preflight checks one shard)
 *   -> <P> (Map, one iteration per shard record):
 *        <P>ShardToRun? -> SUCCEEDED: <P>ShardKept
 *                       -> FAILED:    Settle<P>Shard -> <P>ShardRerun? -> <P>Shard | <P>ShardKept
 *                                     (ShardsFailed; or a redrive's re-run, the others kept meanwhile)
 *                       -> PENDING:   <P>Shard -> <P>ShardSucceeded
 *                                               catch: <P>ShardFailed (record) | <P>ShardFailedUnrecorded
 *   -> Tally<P> -> <P>ShardsSettled? -> more failed than tolerated: <P> again | <P>ShardsDone
 *
 * Why this shape. An iteration of an inline Map that fails stops its siblings ("Map state": "If any
 * iteration fails, the entire Map state fails, and all its iterations are stopped"), and only the
 * Distributed Map knows tolerated failures. So a shard's task catches its failure into the shard's
 * record and the iteration ends well: the siblings run on, their work not wasted. When every shard
 * has run, Tally<P> counts the failed; beyond `toleratedFailures` the Map runs once more over the
 * records, where each failed shard's iteration fails at Settle<P>Shard with ShardsFailed (naming
 * every failed shard): no shard runs in that pass, so the stop costs nothing, and the pipeline
 * fails in <P>. A redrive of the pipeline "reschedules and redrives only the iterations ... that
 * failed" (API reference, "RedriveExecution"): Settle<P>Shard sees a higher $$.Execution.RedriveCount
 * than the shard failed under and runs the shard again (whether the redriven iteration resumes at
 * its failed state or starts over, it reaches Settle<P>Shard with the same record); the shards
 * that succeeded keep their records and are not run again. A redriven run may also hold shards
 * that failed in it (an abort or a failed sibling branch had stopped them, and the redrive ran them
 * first): then the settling pass re-runs the earlier failures while these keep their records, and
 * only the pass after fails the phase, so no failure stops a sibling's re-run.
 *
 * The records are small (contract/shards.ts): the shards' outputs and launches stay in their own
 * executions. `$.phases.<P>` ends as the tally: every shard's record, the failed ones and the tolerance.
 */
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Duration } from 'aws-cdk-lib';
import { shardConcurrency, shardNames, shardStateNames, toleratedShardFailures, type PhaseConfig } from '../../contract/config';
import { SHARD_STATUS } from '../../contract/shards';
import { PHASE_TASK_SLACK_SECONDS, phaseSpec, spotPhaseTask } from './spot-phase-task';
import type { StageContext } from './types';

/** Lambda's own faults: the ShardVerdict bookkeeping is retried (it is pure: a repeat answers the same). */
const LAMBDA_RETRYABLE = ['Lambda.TooManyRequestsException', 'Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException'];
/** What the ShardVerdict tasks of one pass may take, retries included (the pipeline's timeout counts it). */
const VERDICT_SECONDS = 600;

/** Seconds a sharded phase may take: its shards in waves of maxConcurrency, each a budget long, and the bookkeeping. */
export function shardedPhaseSeconds(phase: PhaseConfig): number {
  const count = shardNames(phase)!.length;
  return Math.ceil(count / shardConcurrency(phase)) * (phase.budgetSeconds + PHASE_TASK_SLACK_SECONDS) + PHASE_TASK_SLACK_SECONDS + VERDICT_SECONDS;
}

function verdictTask(context: StageContext, id: string, comment: string, payload: Record<string, unknown>, paths: { resultPath?: string; outputPath?: string }): sfn.TaskStateBase {
  if (!context.shardVerdict) throw new Error(`${id}: the stack passed no ShardVerdict function`);
  return new tasks.LambdaInvoke(context.scope, id, {
    comment,
    lambdaFunction: context.shardVerdict,
    payloadResponseOnly: true,
    retryOnServiceExceptions: false,
    payload: sfn.TaskInput.fromObject(payload),
    resultPath: paths.resultPath ?? sfn.JsonPath.DISCARD,
    outputPath: paths.outputPath,
    taskTimeout: sfn.Timeout.duration(Duration.seconds(30)),
  }).addRetry({ errors: LAMBDA_RETRYABLE, interval: Duration.seconds(2), backoffRate: 2, maxAttempts: 6, maxDelay: Duration.seconds(20), jitterStrategy: sfn.JitterType.FULL });
}

export function shardedPhase(context: StageContext, phase: PhaseConfig): sfn.IChainable & sfn.INextable {
  const { scope } = context;
  const shards = shardNames(phase)!;
  const s = shardStateNames(phase.name);
  const at = `$.phases.${phase.name}`;
  const tolerated = toleratedShardFailures(phase);
  // The phase as ShardVerdict takes it: the shards this run runs and the tolerance come from the state (see `pending`).
  const verdictPhase = (at: string) => ({ name: phase.name, 'count.$': `States.ArrayLength(${at}.shards)`, 'tolerated.$': `${at}.tolerated` });
  const spec = phaseSpec(context, phase);
  // A full run tolerates `toleratedFailures`; a preflight, which checks one shard, tolerates none.
  const pending = (names: string[], tolerating: number) => ({ shards: names.map((shard) => ({ shard, status: SHARD_STATUS.pending })), failed: [], failedCount: 0, tolerated: tolerating, settle: false, rerunPass: false });

  // --- one iteration: a shard record in, the shard's record out ---------------------------------
  const run = spotPhaseTask(context, s.run, {
    comment: `Run one shard of ${phase.name} on spot (budget ${phase.budgetSeconds} s)`,
    // Deterministic per pipeline execution, shard and redrive, as a phase's (stages/phase.ts); the
    // shard goes into the hash so the name keeps to 80 characters whatever the shard is called.
    name: sfn.JsonPath.format(
      `${phase.name}-{}-r{}`,
      sfn.JsonPath.hash(sfn.JsonPath.format('{}/{}', sfn.JsonPath.executionId, sfn.JsonPath.stringAt('$.record.shard')), 'MD5'),
      sfn.JsonPath.stringAt('$$.Execution.RedriveCount'),
    ),
    phase: sfn.JsonPath.jsonMerge(sfn.JsonPath.objectAt('$.phase'), sfn.JsonPath.objectAt('$.shardSpec')),
    budgetSeconds: phase.budgetSeconds,
    resultSelector: { 'outcome.$': '$.Output.outcome', 'attempts.$': '$.Output.attempts', 'executionArn.$': '$.ExecutionArn' },
    resultPath: '$.result',
  });
  const succeeded = new sfn.Pass(scope, s.succeeded, {
    parameters: {
      'shard.$': '$.record.shard',
      status: SHARD_STATUS.succeeded,
      'outcome.$': '$.result.outcome',
      'attempts.$': '$.result.attempts',
      'executionArn.$': '$.result.executionArn',
    },
  });
  const record = verdictTask(
    context,
    s.record,
    'The shard failed: keep its error and cause in its record (its siblings run on)',
    { mode: 'record', phase: { name: phase.name, count: shards.length, tolerated }, 'shard.$': '$.record.shard', 'caught.$': '$.caught', 'redriveCount.$': '$$.Execution.RedriveCount' },
    { resultPath: '$.recorded', outputPath: '$.recorded' },
  );
  const unrecorded = new sfn.Pass(scope, s.unrecorded, {
    comment: 'The shard failed and ShardVerdict could not be reached: keep the bare error',
    parameters: { 'shard.$': '$.record.shard', status: SHARD_STATUS.failed, 'error.$': '$.caught.Error', 'failedAtRedrive.$': '$$.Execution.RedriveCount' },
  });
  record.addCatch(unrecorded, { errors: ['States.ALL'], resultPath: '$.recordError' });
  run.addCatch(record, { errors: ['States.ALL'], resultPath: '$.caught' });
  run.next(succeeded);
  const kept = new sfn.Pass(scope, s.kept, { comment: 'Succeeded before: kept, not run again', outputPath: '$.record' });
  const settle = verdictTask(
    context,
    s.settle,
    'A failed shard of a phase beyond its tolerance: fail with ShardsFailed, or (in a redrive) run it again',
    { mode: 'settle', phase: { name: phase.name, 'count.$': '$.count', 'tolerated.$': '$.tolerated' }, 'record.$': '$.record', 'failed.$': '$.failed', 'redriveCount.$': '$$.Execution.RedriveCount', 'rerunPass.$': '$.rerunPass' },
    { resultPath: '$.settled' },
  );
  settle.next(new sfn.Choice(scope, s.rerun).when(sfn.Condition.booleanEquals('$.settled.rerun', true), run).otherwise(kept));
  const next = new sfn.Choice(scope, s.next)
    .when(sfn.Condition.stringEquals('$.record.status', SHARD_STATUS.succeeded), kept)
    .when(sfn.Condition.stringEquals('$.record.status', SHARD_STATUS.failed), settle)
    .otherwise(run);

  // --- the phase ----------------------------------------------------------------------------------
  const map = new sfn.Map(scope, phase.name, {
    comment: `The ${shards.length} shards of ${phase.name}, ${shardConcurrency(phase)} at a time (tolerates ${tolerated} failed)`,
    itemsPath: `${at}.shards`,
    maxConcurrency: shardConcurrency(phase),
    itemSelector: {
      'record.$': '$$.Map.Item.Value',
      phase: spec,
      shardSpec: { shard: { 'name.$': '$$.Map.Item.Value.shard', 'index.$': '$$.Map.Item.Index', count: shards.length } },
      'run.$': '$.run',
      'failed.$': `${at}.failed`,
      'tolerated.$': `${at}.tolerated`,
      'count.$': `States.ArrayLength(${at}.shards)`,
      'rerunPass.$': `${at}.rerunPass`,
    },
    resultPath: `${at}.shards`,
  });
  map.itemProcessor(next);
  const tally = verdictTask(context, s.tally, `Which shards of ${phase.name} failed, and more than it tolerates (${tolerated})?`, { mode: 'tally', phase: verdictPhase(at), 'shards.$': `${at}.shards`, 'redriveCount.$': '$$.Execution.RedriveCount' }, { resultPath: at });
  const done = new sfn.Pass(scope, s.done, { comment: `${phase.name}: its shards ran; no more failed than tolerated` });
  map.next(tally).next(new sfn.Choice(scope, s.settled).when(sfn.Condition.booleanEquals(`${at}.settle`, true), map).otherwise(done));

  const all = new sfn.Pass(scope, s.allShards, { result: sfn.Result.fromObject(pending(shards, tolerated)), resultPath: at });
  const first = new sfn.Pass(scope, s.firstShard, {
    comment: `A preflight checks one shard (${shards[0]}), tolerating no failure: the shards differ only in PIPELINE_SHARD`,
    result: sfn.Result.fromObject(pending(shards.slice(0, 1), 0)),
    resultPath: at,
  });
  all.next(map);
  first.next(map);
  const preflight = new sfn.Choice(scope, s.preflight).when(sfn.Condition.stringEquals('$.run.mode', 'preflight'), first).otherwise(all);
  return sfn.Chain.custom(preflight, [done], done) as unknown as sfn.IChainable & sfn.INextable;
}
