/**
 * A sharded phase in the synthesized stack: the ShardVerdict function (deployed only with shards,
 * no AWS permissions), the rendered states (the Map named after the phase, its iteration, the
 * tally and the loop that settles failed shards), valid per asl-validator; the SpotPhase's shard
 * relaunch path whose datum carries the shard; the pipeline's timeout counting the waves of
 * shards; and clean under the cdk-nag AwsSolutions checks.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shardStateNames, type PipelineConfig } from '../../contract/config';
import { loadPipelineConfig } from '../../lib/config/load';
import { synthTemplate } from '../../simulator/synth';
import { deployedStateMachines, type DeployedStateMachine } from '../../simulator/template';
import { pipelineTimeoutSeconds } from '../../state-machines/pipeline';
import { lines, removeNagRuns, synthWithNag, unusedAcknowledgements } from './nag-run';
import { functionsOf, roleStatements, validateAsl, type AslState } from './statements';

const RAW = {
  pipelineName: 'fanout',
  schedules: { enabled: false },
  phases: [
    {
      name: 'Research',
      workloadCommand: 'python3 research.py --symbol "$PIPELINE_SHARD"',
      instanceTypes: ['c5.large', 'c5a.large'],
      budgetSeconds: 7200,
      attemptSeconds: 4500,
      shards: ['btc', 'eth', 'sol', 'xrp', 'ada'],
      maxConcurrency: 2,
      toleratedFailures: '20%',
    },
    { parallel: [{ name: 'Chunks', workloadCommand: 'run-chunk', instanceTypes: ['c5.large'], budgetSeconds: 3600, attemptSeconds: 1800, shards: 64, maxConcurrency: 8 }, { name: 'Plain', workloadCommand: 'plain', instanceTypes: ['c5.large'], budgetSeconds: 1800, attemptSeconds: 900 }] },
  ],
};

type Asl = DeployedStateMachine['definition'];
let dir: string;
let config: PipelineConfig;
let template: Template;
let pipeline: Asl;
let spotPhase: Asl;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'shards-stack-'));
  const file = path.join(dir, 'fanout.json');
  writeFileSync(file, JSON.stringify(RAW));
  config = loadPipelineConfig(file);
  const cfn = synthTemplate(config);
  template = Template.fromJSON(cfn);
  const machines = deployedStateMachines(cfn);
  pipeline = machines.find((m) => m.name === 'fanout')!.definition;
  spotPhase = machines.find((m) => m.name === 'fanout-spot-phase')!.definition;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every state of a definition, nested ones (branches, iterations) included, by name. */
function allStates(scope: { States: Record<string, AslState> }): Record<string, AslState> {
  const out: Record<string, AslState> = {};
  for (const [name, state] of Object.entries(scope.States)) {
    out[name] = state;
    for (const branch of (state.Branches ?? []) as { States: Record<string, AslState> }[]) Object.assign(out, allStates(branch));
    const processor = (state.ItemProcessor ?? state.Iterator) as { States: Record<string, AslState> } | undefined;
    if (processor) Object.assign(out, allStates(processor));
  }
  return out;
}

describe('the ShardVerdict function', () => {
  it('is deployed for a pipeline with shards, and needs no AWS permission of its own', () => {
    // Act
    const fns = functionsOf(template, 'shard-verdict');

    // Assess
    expect(fns).toHaveLength(1);
    const roleId = (fns[0]![1].Properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]!;
    // Only its own logs and traces, as every function.
    expect(roleStatements(template, roleId).flatMap((s) => [s.Action].flat()).sort()).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
  });

  it('is not deployed for the built-in pipeline, which has no shards', () => {
    expect(functionsOf(Template.fromJSON(synthTemplate(loadPipelineConfig())), 'shard-verdict')).toEqual([]);
  });
});

describe('the states of a sharded phase', () => {
  it('are valid per asl-validator', () => {
    const result = validateAsl(pipeline, { checkArn: true, checkPaths: true });
    expect(result.errorsText('\n')).toBe('');
    expect(result.isValid).toBe(true);
  });

  it('run the shards in a Map named after the phase, at most maxConcurrency at a time, from the shard list into $.phases.Research.shards', () => {
    // Act
    const names = shardStateNames('Research');
    const map = pipeline.States.Research as AslState;

    // Assess: the preflight runs the first shard only; a full run every shard, PENDING.
    expect(pipeline.States[names.preflight]).toMatchObject({ Type: 'Choice', Choices: [{ Variable: '$.run.mode', StringEquals: 'preflight', Next: names.firstShard }], Default: names.allShards });
    expect((pipeline.States[names.allShards] as { Result: { shards: unknown[] } }).Result.shards).toEqual(['btc', 'eth', 'sol', 'xrp', 'ada'].map((shard) => ({ shard, status: 'PENDING' })));
    expect((pipeline.States[names.firstShard] as { Result: { shards: unknown[] } }).Result.shards).toEqual([{ shard: 'btc', status: 'PENDING' }]);
    expect(map).toMatchObject({ Type: 'Map', ItemsPath: '$.phases.Research.shards', MaxConcurrency: 2, ResultPath: '$.phases.Research.shards', Next: names.tally });
    // The spec each shard gets: the phase's, without the shard fields, plus the shard's name, index and count.
    const selector = map.ItemSelector as { phase: Record<string, unknown>; shardSpec: unknown };
    expect(selector.phase).toMatchObject({ name: 'Research', budgetSeconds: 7200, pipelineName: 'fanout' });
    expect(Object.keys(selector.phase)).not.toEqual(expect.arrayContaining(['shards']));
    expect(selector.phase).not.toHaveProperty('maxConcurrency');
    expect(selector.phase).not.toHaveProperty('toleratedFailures');
    expect(selector.shardSpec).toEqual({ shard: { 'name.$': '$$.Map.Item.Value.shard', 'index.$': '$$.Map.Item.Index', count: 5 } });
  });

  it("run each shard as its own SpotPhase execution, named per execution, shard and redrive, whose failure is caught into the shard's record", () => {
    // Act
    const names = shardStateNames('Research');
    const states = allStates(pipeline);
    const run = states[names.run]!;

    // Assess
    expect(run.Resource).toMatch(/:states:::states:startExecution\.sync:2$/);
    const params = run.Parameters as Record<string, unknown>;
    expect(params['Name.$']).toBe("States.Format('Research-{}-r{}', States.Hash(States.Format('{}/{}', $$.Execution.Id, $.record.shard), 'MD5'), $$.Execution.RedriveCount)");
    expect((params.Input as Record<string, unknown>)['phase.$']).toBe('States.JsonMerge($.phase, $.shardSpec, false)');
    expect(run.TimeoutSeconds).toBe(7200);
    expect(run.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.caught', Next: names.record }]);
    expect(states[names.record]!.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.recordError', Next: names.unrecorded }]);
    // SUCCEEDED shards are kept, FAILED ones settled (fail, or re-run in a redrive), PENDING ones run.
    expect(states[names.next]).toMatchObject({
      Type: 'Choice',
      Choices: [
        { Variable: '$.record.status', StringEquals: 'SUCCEEDED', Next: names.kept },
        { Variable: '$.record.status', StringEquals: 'FAILED', Next: names.settle },
      ],
      Default: names.run,
    });
    // Settled: re-run (a redrive's), or kept while other shards re-run; ShardsFailed is never caught.
    expect(states[names.settle]).toMatchObject({ ResultPath: '$.settled', Next: names.rerun });
    expect(states[names.settle]!.Catch).toBeUndefined();
    expect(states[names.rerun]).toMatchObject({ Choices: [{ Variable: '$.settled.rerun', BooleanEquals: true, Next: names.run }], Default: names.kept });
  });

  it('tally the shards, and go round the Map once more to settle the failed ones when more failed than tolerated', () => {
    const names = shardStateNames('Research');
    expect(pipeline.States[names.tally]).toMatchObject({ ResultPath: '$.phases.Research', Next: names.settled });
    expect(pipeline.States[names.tally]!.Parameters).toMatchObject({ mode: 'tally', phase: { name: 'Research', 'count.$': 'States.ArrayLength($.phases.Research.shards)', 'tolerated.$': '$.phases.Research.tolerated' } });
    // A full run tolerates 20 % of 5 = 1; a preflight, which checks one shard, none.
    expect((pipeline.States[names.allShards] as { Result: { tolerated: number } }).Result.tolerated).toBe(1);
    expect((pipeline.States[names.firstShard] as { Result: { tolerated: number } }).Result.tolerated).toBe(0);
    expect(pipeline.States[names.settled]).toMatchObject({ Choices: [{ Variable: '$.phases.Research.settle', BooleanEquals: true, Next: 'Research' }], Default: names.done });
  });

  it('work inside a parallel group too: a counted phase of 64 shards, 8 at a time, beside a plain phase', () => {
    const group = pipeline.States.Parallel2 as { Branches: Asl[] };
    const chunks = group.Branches[0]!;
    expect(chunks.StartAt).toBe(shardStateNames('Chunks').preflight);
    expect(chunks.States.Chunks).toMatchObject({ Type: 'Map', MaxConcurrency: 8 });
    expect(((chunks.States[shardStateNames('Chunks').allShards] as { Result: { shards: { shard: string }[] } }).Result.shards).map((s) => s.shard)).toEqual(Array.from({ length: 64 }, (_, i) => String(i)));
    expect(group.Branches[1]!.StartAt).toBe('Plain');
  });
});

describe('the rest of the stack with shards', () => {
  it("puts each relaunch's data as HandleFailure built them (a shard's datum carries the shard: decisions/relaunch.ts)", () => {
    // Assess
    expect(spotPhase.States.CountRelaunch).toMatchObject({ Type: 'Task', Parameters: { Namespace: 'AlphaEngine', 'MetricData.$': '$.job.verdict.metricData' }, Next: 'LaunchInstance' });
    expect(spotPhase.States.ShardRelaunchBackoff).toBeUndefined();
  });

  it("gives the pipeline time for every wave of shards: 5 shards 2 at a time take three budgets", () => {
    // Act
    const timeout = pipelineTimeoutSeconds(config);

    // Assess: Research 3 x 7200 s, then the group's longest (Chunks: 64 / 8 = 8 waves of 3600 s).
    expect(timeout).toBeGreaterThanOrEqual(3 * 7200 + 8 * 3600);
    expect(timeout).toBeLessThan(3 * 7200 + 8 * 3600 + 3600);
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', { StateMachineName: 'fanout' });
  });
});

describe('cdk-nag AwsSolutions checks on a sharded pipeline', () => {
  afterAll(removeNagRuns);

  it('leave no unacknowledged finding, and every acknowledgement is used (ShardVerdict included)', () => {
    // Act: as `cdk synth -c nag=true`.
    const run = synthWithNag(config, undefined, 'FanoutPipeline');

    // Assess
    expect(lines(run.report?.violations)).toEqual([]);
    expect(run.error).toBeUndefined();
    expect(lines(run.report?.suppressedViolations).some((l) => l.includes('/ShardVerdictFnServiceRole/')), 'the checks ran over ShardVerdict').toBe(true);
    expect(unusedAcknowledgements(run), 'stale acknowledgements').toEqual([]);
  });
});
