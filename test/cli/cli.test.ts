/**
 * `spot-pipeline` (cli/main.ts) against the simulated account of a finished run, in-process
 * (serveSimulation routes the SDK clients to it), judged against the simulator's own view of the
 * same run: its report (phases, attempts, interruptions, pools, cost) and what the simulated SSM
 * wrote as the workload's output.
 */
import * as path from 'node:path';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../cli/main';
import { cliOn, historyTimeline, timelineOf, type Result } from './helpers';
import type { RunPicture } from '../../cli/picture';
import { buildReport, type PhaseReport, type SimulationReport } from '../../simulator/report';
import { runSimulation, type Simulation } from '../../simulator/run';
import { loadScenario, parseScenario, type Scenario } from '../../simulator/scenario';
import { outputLines } from '../../simulator/services/ssm';

const SCENARIOS = path.join(__dirname, '..', '..', 'scenarios');
const CRYPTO_CONFIG = path.join(__dirname, '..', '..', 'examples', 'crypto-fanout.json');

const shipped = (name: string): Scenario => loadScenario(path.join(SCENARIOS, `${name}.json`));
/** A shipped scenario with its operator's redrive taken out: the run ends FAILED and stays so. */
const notRedriven = (name: string): Scenario => {
  const { redriveAfterMinutes: _, ...rest } = shipped(name);
  return parseScenario({ ...rest, ...(rest.config ? { config: path.resolve(SCENARIOS, rest.config) } : {}) });
};

/** The CLI, in-process, against the run's simulated account. */
const cli = (sim: Simulation, ...argv: string[]): Promise<Result> => cliOn(sim, argv);

/**
 * The CLI's timeline, told from the execution histories, against the simulator's of the same run:
 * line for line (clock, elapsed and text, in order).
 */
function expectSameTimeline(cliOut: string, sim: Simulation): void {
  const mine = timelineOf(cliOut);
  expect(mine.length).toBeGreaterThan(0);
  expect(mine).toEqual(historyTimeline(sim));
}

/** A phase's pools as the simulator's timeline prints them ("c5a.large/us-east-1b interrupted, ..."). */
const poolsOf = (p: PhaseReport) => p.launches.map((l) => `${l.pool ?? '(none)'}${l.market === 'on-demand' ? ' on-demand' : ''} ${l.outcome}`).join(', ') || '-';

/** The CLI's "Phases:" line of a phase. */
const phaseLine = (out: string, phase: string) => out.split('\n').find((l) => l.startsWith(`  ${phase} `)) ?? '';

/** Every phase of the status picture agrees with the simulator's report of the same run. */
function expectSamePhases(picture: RunPicture, report: SimulationReport): void {
  for (const p of report.phases) {
    const mine = picture.phases.find((q) => q.name === p.name);
    expect(mine, p.name).toBeDefined();
    expect({ name: p.name, status: mine!.status, attempts: mine!.attempts, interruptions: mine!.interruptions }).toEqual({ name: p.name, status: p.status, attempts: p.attempts, interruptions: p.interruptions });
    expect(mine!.launches.map((l) => `${l.pool ?? '(none)'} ${l.outcome}`), p.name).toEqual(p.launches.map((l) => `${l.pool ?? '(none)'} ${l.outcome}`));
    expect(Math.abs(mine!.costUsd - p.costUsd), `${p.name} cost`).toBeLessThan(0.005);
  }
  expect(Math.abs(picture.costUsd - report.costUsd)).toBeLessThan(0.005);
}

describe('a run that succeeded after a reclaim (seed 001)', () => {
  let sim: Simulation;
  let report: SimulationReport;
  beforeAll(async () => {
    sim = await runSimulation(shipped('seed-001-dataphase1-reclaimed'), { baseDir: SCENARIOS });
    report = buildReport(sim);
  });

  it('status prints a line per phase with the attempts, interruptions, pools and cost the simulator reports', async () => {
    // Act
    const text = await cli(sim, 'status');
    const json = await cli(sim, 'status', 'saturday-run', '--json');

    // Assess
    expect(text.code).toBe(0);
    expect(text.err).toBe('');
    expect(text.out).toContain('Execution: saturday-run  SUCCEEDED');
    expectSameTimeline(text.out, sim);
    expect(timelineOf(text.out)).toEqual(expect.arrayContaining([expect.stringMatching(/DataPhase1 +attempt 1 {2}SPOT INTERRUPTION: instance-terminated-no-capacity$/), expect.stringMatching(/\+03:49 {2}pipeline SUCCEEDED$/)]));
    for (const p of report.phases) {
      const line = phaseLine(text.out, p.name);
      expect(line, p.name).toMatch(new RegExp(`^  ${p.name} +${p.status} +${p.attempts} +${p.interruptions} `));
      expect(line).toContain(`$${p.costUsd.toFixed(4)}`);
      expect(line.endsWith(poolsOf(p)), `${line}\n${poolsOf(p)}`).toBe(true);
    }
    expect(text.out).toContain(`Cost: $${report.costUsd.toFixed(4)}`);
    expect(text.out).toMatch(/VERDICT: SUCCEEDED in 3\.8 hours; 1 spot interruption\(s\) absorbed/);
    expectSamePhases(JSON.parse(json.out) as RunPicture, report);
  });

  it('runs lists the execution with its status and its cost, to the cent', async () => {
    // Act
    const text = await cli(sim, 'runs');
    const json = await cli(sim, 'runs', '--json', '--limit', '5');

    // Assess
    expect(text.code).toBe(0);
    expect(text.out.split('\n')[1]).toMatch(new RegExp(`^saturday-run +SUCCEEDED +2026-05-30T09:00:00Z +3h49m +\\$${report.costUsd.toFixed(4).replace('.', '\\.')}$`));
    const rows = JSON.parse(json.out) as { name: string; status: string; costUsd: number }[];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ name: 'saturday-run', status: 'SUCCEEDED' });
    expect(Math.abs(rows[0]!.costUsd - report.costUsd)).toBeLessThan(0.005);
  });

  it('logs prints the lines the simulated SSM wrote for the phase, stdout as is and stderr marked, attempt by attempt', async () => {
    // Prepare
    const invocations = sim.cloud.invocations.filter((i) => i.phase === 'DataPhase1');
    const expected = invocations.flatMap((inv) => [...outputLines(sim.cloud, inv, 'stdout'), ...outputLines(sim.cloud, inv, 'stderr').map((l) => ({ ...l, line: `[stderr] ${l.line}` }))].sort((a, b) => a.at - b.at).map((l) => l.line));

    // Act
    const result = await cli(sim, 'logs', 'DataPhase1', '--execution', 'saturday-run');

    // Assess
    expect(result.code).toBe(0);
    expect(invocations).toHaveLength(2);
    expect(expected.length).toBeGreaterThan(60);
    expect(result.out.split('\n').filter((l) => !l.startsWith('==> '))).toEqual(expected);
    expect(result.out).toContain(`==> DataPhase1 attempt 1 on ${invocations[0]!.instanceId} (command ${invocations[0]!.commandId}`);
    expect(result.out).toContain('DataPhase1 workload done');
  });

  it('logs --follow on an execution that has ended prints the output once and returns', async () => {
    // Act
    const result = await cli(sim, 'logs', 'Backtester', '--follow', '--json');

    // Assess
    expect(result.code).toBe(0);
    const lines = result.out.split('\n').map((l) => JSON.parse(l) as { phase: string; stream: string; message: string });
    expect(lines.every((l) => l.phase === 'Backtester')).toBe(true);
    expect(lines.at(-1)!.message).toBe('Backtester workload done');
  });

  it('an execution, a phase or a pipeline that does not exist is one clear line and a non-zero exit', async () => {
    // Act
    const noExecution = await cli(sim, 'status', 'no-such-run');
    const noPhase = await cli(sim, 'logs', 'NoSuchPhase');
    const noPipeline = await cli(sim, 'runs', '--pipeline', 'nobody-deployed-this');
    const badUsage = await cli(sim, 'runs', '--limit', 'many');

    // Assess
    expect(noExecution).toEqual({ code: 1, out: '', err: 'spot-pipeline: no execution no-such-run of saturday-pipeline (see: spot-pipeline runs)' });
    expect(noPhase.code).toBe(2);
    expect(noPhase.err).toBe('spot-pipeline: NoSuchPhase is not a phase of saturday-pipeline in execution saturday-run (its phases: DataPhase1, Research, PredictorTraining, Backtester)');
    expect(noPipeline.code).toBe(1);
    expect(noPipeline.err).toMatch(/^spot-pipeline: no state machine named nobody-deployed-this in us-east-1/);
    expect(badUsage.code).toBe(2);
    for (const r of [noExecution, noPhase, noPipeline, badUsage]) expect(r.err.split('\n')).toHaveLength(1);
  });

  it('start refuses a parameter the pipeline does not declare, naming it, and starts nothing', async () => {
    // Prepare
    const executions = sim.stepFunctions.executions.length;

    // Act
    const result = await cli(sim, 'start', '--param', 'badName=x');
    const badValue = await cli(sim, 'start', '--param', 'universeSize=many');

    // Assess
    expect(result.code).toBe(2);
    expect(result.err).toBe('spot-pipeline: params.badName: not a declared parameter (declared: universeSize, stepSeconds)');
    expect(badValue.code).toBe(2);
    expect(badValue.err).toContain('params.universeSize: must be a number');
    expect(sim.stepFunctions.executions).toHaveLength(executions);
    expect(sim.cloud.calls.has('SFN.StartExecution')).toBe(false);
  });

  it('start --preflight starts an execution with {"mode":"preflight"}; runs lists it first, RUNNING', async () => {
    // Act
    const started = await cli(sim, 'start', '--preflight', '--param', 'universeSize=30');
    const runs = await cli(sim, 'runs');

    // Assess
    expect(started.code).toBe(0);
    expect(started.out).toMatch(/^arn:aws:states:us-east-1:123456789012:execution:saturday-pipeline:[0-9a-f-]{36}$/);
    const execution = sim.stepFunctions.executions.find((e) => e.arn === started.out)!;
    expect(execution.input).toEqual({ mode: 'preflight', params: { universeSize: 30 } });
    const [, first, second] = runs.out.split('\n');
    expect(first).toMatch(new RegExp(`^${started.out.split(':').at(-1)!} +RUNNING .* -$`));
    expect(second).toMatch(/^saturday-run +SUCCEEDED/);
  });
});

describe('a run that failed in a phase (combined faults, not redriven)', () => {
  let sim: Simulation;
  let report: SimulationReport;
  beforeAll(async () => {
    sim = await runSimulation(notRedriven('combined-faults'), { baseDir: SCENARIOS });
    report = buildReport(sim);
  });

  it('status names the failed phase and why, the phases not run, the cost and a verdict', async () => {
    // Act
    const text = await cli(sim, 'status');
    const json = await cli(sim, 'status', '--json');

    // Assess
    expect(report.status).toBe('FAILED');
    expect(text.code).toBe(0);
    expect(phaseLine(text.out, 'Research')).toMatch(/^ {2}Research +FAILED +1 +0 /);
    expect(text.out).toContain('    WorkloadFailed: phase Research attempt 1: exit code 2');
    expect(phaseLine(text.out, 'Backtester')).toMatch(/^ {2}Backtester +NOT_RUN +0 +0 .* - +-$/);
    expect(text.out).toMatch(/VERDICT: FAILED \(States\.TaskFailed\) after 0\.9 hours in Research; 1 spot interruption\(s\); cost \$0\.02\d\d; redrive with: spot-pipeline redrive saturday-run/);
    expectSamePhases(JSON.parse(json.out) as RunPicture, report);
    expectSameTimeline(text.out, sim);
  });

  it('logs shows a workload that prints to stderr', async () => {
    // Act
    const result = await cli(sim, 'logs', 'Research');

    // Assess
    expect(result.code).toBe(0);
    expect(result.out).toContain('[stderr] Research workload failed: exit 2');
  });

  it('redrive says what it keeps and what runs again, and redrives only with --yes', async () => {
    // Act
    const dry = await cli(sim, 'redrive', 'saturday-run');
    const callsBefore = sim.cloud.calls.get('SFN.RedriveExecution') ?? 0;
    const done = await cli(sim, 'redrive', 'saturday-run', '--yes');
    const again = await cli(sim, 'redrive', 'saturday-run');

    // Assess
    expect(dry.code).toBe(0);
    expect(dry.out).toContain('kept, not re-run (succeeded): DataPhase1');
    expect(dry.out).toContain('re-run: Research in a new SpotPhase execution (-r1), from attempt 1 with its full budget; it ended WorkloadFailed (phase Research attempt 1: exit code 2');
    expect(dry.out).toContain('then, as never run before: PredictorTraining, Backtester');
    expect(dry.out.split('\n').at(-1)).toBe('Nothing redriven: run again with --yes to redrive.');
    expect(callsBefore).toBe(0);
    expect(done.code).toBe(0);
    expect(done.out).toContain('Redriven: arn:aws:states:us-east-1:123456789012:execution:saturday-pipeline:saturday-run at ');
    expect(sim.cloud.calls.get('SFN.RedriveExecution')).toBe(1);
    expect(sim.stepFunctions.executions.filter((e) => e.name === 'saturday-run').map((e) => [e.redriveCount, e.status])).toEqual([
      [0, 'FAILED'],
      [1, 'RUNNING'],
    ]);
    expect(again).toMatchObject({ code: 1, err: 'spot-pipeline: saturday-run is RUNNING: only a FAILED, TIMED_OUT or ABORTED execution can be redriven' });
  });
});

describe('a sharded phase, failed then redriven (crypto fan-out)', () => {
  it('status shows each shard and its executions across the redrive; cost and attempts as the simulator reports', async () => {
    // Prepare
    const sim = await runSimulation(shipped('crypto-fanout-redrive'), { baseDir: SCENARIOS });
    const report = buildReport(sim);

    // Act
    const text = await cli(sim, 'status', '--config', CRYPTO_CONFIG);
    const json = await cli(sim, 'status', '--config', CRYPTO_CONFIG, '--json');
    const runs = await cli(sim, 'runs', '--config', CRYPTO_CONFIG);
    const logs = await cli(sim, 'logs', 'FactorRun', '--config', CRYPTO_CONFIG);

    // Assess
    expect(text.code).toBe(0);
    expect(phaseLine(text.out, 'FactorRun')).toMatch(/^ {2}FactorRun +SUCCEEDED +7 +0 +\d+ min end to end +\$\d\.\d{4} +5 shards$/);
    expect(text.out).toMatch(/\n {4}\[eth\] +SUCCEEDED +2 +0 .* c5a\.xlarge\/us-east-1a failed, c5a\.xlarge\/us-east-1a succeeded/);
    expect(text.out).toContain('redriven 1 time(s)');
    expectSameTimeline(text.out, sim);
    expectSamePhases(JSON.parse(json.out) as RunPicture, report);
    expect(runs.out.split('\n')[1]).toMatch(new RegExp(`SUCCEEDED .*\\$${report.costUsd.toFixed(4).replace('.', '\\.')}  \\(redriven 1x\\)$`));
    // Each shard's attempts, the failed ones and their redrives included.
    for (const shard of ['btc', 'eth', 'sol', 'xrp', 'ada']) expect(logs.out).toContain(`==> FactorRun[${shard}] attempt 1 on `);
    expect(logs.out.split('\n').filter((l) => l.startsWith('==> FactorRun[eth]'))).toHaveLength(2);
  });
});

describe('a run that failed before any launch (invalid input)', () => {
  it('status shows every phase not run; runs has no cost; logs says the phase has not run; redrive warns', async () => {
    // Prepare
    const sim = await runSimulation({ name: 'bad input', input: { mode: 'full', params: { universeSize: 'many' } } });

    // Act
    const status = await cli(sim, 'status');
    const runs = await cli(sim, 'runs');
    const logs = await cli(sim, 'logs', 'DataPhase1');
    const redrive = await cli(sim, 'redrive', 'saturday-run');

    // Assess
    expect(status.code).toBe(0);
    expect(status.out).toContain('cause: params.universeSize: must be a number');
    for (const phase of ['DataPhase1', 'Research', 'PredictorTraining', 'Backtester']) expect(phaseLine(status.out, phase)).toMatch(new RegExp(`^  ${phase} +NOT_RUN +0 +0 `));
    expect(status.out).toContain('VERDICT: FAILED (InvalidExecutionInput) after 0.0 hours; 0 spot interruption(s); cost $0.0000; fix the input and start a new execution');
    expect(runs.out.split('\n')[1]).toMatch(/^saturday-run +FAILED +2026-05-30T09:00:00Z +0s +-$/);
    expect(logs).toEqual({ code: 1, out: '', err: 'spot-pipeline: DataPhase1 has not run in execution saturday-run (FAILED)' });
    expect(redrive.out).toContain('warning: the same input fails validation again');
  });
});

describe('a pipeline with no executions yet', () => {
  it('runs says so (exit 0); status has no latest execution (exit 1)', async () => {
    // Prepare: Step Functions answering for a deployed pipeline that never ran.
    const machine = (name: string) => ({ name, stateMachineArn: `arn:aws:states:us-east-1:123456789012:stateMachine:${name}` });
    const sfn = {
      send: async (command: { constructor: { name: string } }) => {
        if (command.constructor.name === 'ListStateMachinesCommand') return { stateMachines: [machine('saturday-pipeline'), machine('saturday-pipeline-spot-phase')] };
        if (command.constructor.name === 'ListExecutionsCommand') return { executions: [] };
        throw new Error(`unexpected ${command.constructor.name}`);
      },
    } as unknown as SFNClient;
    const io = () => {
      const lines = { out: [] as string[], err: [] as string[] };
      return { lines, io: { out: (t: string) => lines.out.push(t), err: (t: string) => lines.err.push(t), clients: { sfn, logs: undefined as never } } };
    };
    const [runs, status] = [io(), io()];

    // Act
    const runsCode = await run(['runs'], runs.io);
    const statusCode = await run(['status'], status.io);

    // Assess
    expect(runsCode).toBe(0);
    expect(runs.lines.out).toEqual(['no executions of saturday-pipeline yet']);
    expect(statusCode).toBe(1);
    expect(status.lines.err).toEqual(['spot-pipeline: no executions of saturday-pipeline yet (start one: spot-pipeline start)']);
  });
});

describe('an aborted run, and a build stage skipped', () => {
  it('an attempt cut short by the abort shows as aborted, its cost marked unknown (the pipeline never recorded it)', async () => {
    // Prepare
    const sim = await runSimulation(loadScenario(path.join(__dirname, '..', 'simulator', 'scenarios', 'operator-abort.json')));
    const report = buildReport(sim);

    // Act
    const status = await cli(sim, 'status');
    const runs = await cli(sim, 'runs');

    // Assess
    const aborted = report.phases.find((p) => p.name === 'PredictorTraining')!;
    expect(aborted.launches.map((l) => l.outcome)).toEqual(['aborted']);
    expect(phaseLine(status.out, 'PredictorTraining')).toMatch(new RegExp(`^ {2}PredictorTraining +FAILED +1 +0 .* \\$0\\.0000\\+ +${poolsOf(aborted)}$`));
    expect(status.out).toContain('1 launch(es) whose cost is not known');
    expect(status.out).toContain('VERDICT: ABORTED');
    expect(runs.out.split('\n')[1]).toMatch(/^saturday-run +ABORTED .* \$\d\.\d{4}\+$/);
  });

  it('a build stage whose artifact was already built is SKIPPED, as the simulator reports it', async () => {
    // Prepare
    const scenario = shipped('build-once-already-built');
    const sim = await runSimulation(scenario, { baseDir: SCENARIOS });
    const report = buildReport(sim);

    // Act
    const json = await cli(sim, 'status', '--json', '--config', path.resolve(SCENARIOS, scenario.config!));

    // Assess
    expect(report.phases[0]).toMatchObject({ kind: 'build', status: 'SKIPPED' });
    expectSamePhases(JSON.parse(json.out) as RunPicture, report);
  });
});
