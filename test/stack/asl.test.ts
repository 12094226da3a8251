/**
 * The deployed ASL of both state machines (tokens resolved as in the simulated account): valid
 * per asl-validator, JSONPath only, and shaped so that a failed phase fails the pipeline at that
 * phase (redrive resumes there) while SpotPhase always cleans up after a task error.
 */
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { SATURDAY_PIPELINE } from '../../lib/config/defaults';
import { allPhases, type PhaseConfig, type PipelineConfig } from '../../contract/config';
import { loadPipelineConfig, parsePipelineConfig } from '../../lib/config/load';
import { synthTemplate } from '../../simulator/synth';
import { deployedStateMachines, type DeployedStateMachine } from '../../simulator/template';

/** asl-validator 4 ships no type declarations: module.exports = validator(definition, opts?). */
type AslValidator = (
  definition: unknown,
  opts?: { checkPaths?: boolean; checkArn?: boolean },
) => { isValid: boolean; errorsText: (separator?: string) => string };
const validateAsl = createRequire(__filename)('asl-validator') as AslValidator;

type AslState = Record<string, unknown>;
type Asl = DeployedStateMachine['definition'];

const START_EXECUTION_SYNC = 'arn:aws:states:::states:startExecution.sync:2';

/** Validate a copy: asl-validator writes a QueryLanguage into every state it checks. */
const validate = (definition: Asl) => validateAsl(structuredClone(definition));

/** Every key anywhere in a JSON value. */
function allKeys(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(allKeys);
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => [k, ...allKeys(v)]);
}

/** State names from StartAt along Next, until a state without Next. */
function mainPath(definition: { StartAt: string; States: Record<string, AslState> }): string[] {
  const path: string[] = [];
  for (let name: string | undefined = definition.StartAt; name !== undefined; name = definition.States[name]?.Next as string | undefined) {
    if (path.includes(name)) throw new Error(`cycle at ${name}`);
    path.push(name);
  }
  return path;
}

function machines(config: PipelineConfig) {
  const deployed = deployedStateMachines(synthTemplate(config));
  const pipeline = deployed.find((m) => m.name === config.pipelineName);
  const spotPhase = deployed.find((m) => m.name === `${config.pipelineName}-spot-phase`);
  if (!pipeline || !spotPhase || deployed.length !== 2) throw new Error(`unexpected state machines: ${deployed.map((m) => m.name).join(', ')}`);
  return { pipeline, spotPhase };
}

/** Assess one phase task: starts SpotPhase synchronously for this phase, outlasts its budget, never catches or retries a phase failure. */
function expectPhaseTask(state: AslState | undefined, phase: PhaseConfig, spotPhaseArn: string): void {
  expect(state, phase.name).toBeDefined();
  expect(state!.Type).toBe('Task');
  expect(state!.Resource).toBe(START_EXECUTION_SYNC);
  const parameters = state!.Parameters as { StateMachineArn: string; Input: { phase: { name: string; budgetSeconds: number } } };
  expect(parameters.StateMachineArn).toBe(spotPhaseArn);
  expect(parameters.Input.phase.name).toBe(phase.name);
  expect(parameters.Input.phase.budgetSeconds).toBe(phase.budgetSeconds);
  expect(state!.TimeoutSeconds).toBeGreaterThanOrEqual(phase.budgetSeconds);
  expect(state!.Catch, `${phase.name} must not catch: a redrive must resume at the failed phase`).toBeUndefined();
  const retried = ((state!.Retry ?? []) as { ErrorEquals: string[] }[]).flatMap((r) => r.ErrorEquals);
  expect(retried).not.toContain('States.ALL');
  expect(retried).not.toContain('States.TaskFailed');
}

describe('built-in config', () => {
  let config: PipelineConfig;
  let pipeline: DeployedStateMachine;
  let spotPhase: DeployedStateMachine;

  beforeAll(() => {
    config = loadPipelineConfig();
    ({ pipeline, spotPhase } = machines(config));
  });

  it.each(['pipeline', 'spotPhase'] as const)('%s ASL is valid per asl-validator', (which) => {
    // Prepare
    const definition = { pipeline, spotPhase }[which].definition;

    // Act
    const result = validate(definition);

    // Assess
    expect(result.errorsText()).toBe('');
    expect(result.isValid).toBe(true);
  });

  it.each(['pipeline', 'spotPhase'] as const)('%s ASL uses JSONPath only (no JSONata)', (which) => {
    // Prepare
    const definition = { pipeline, spotPhase }[which].definition;

    // Act
    const keys = allKeys(definition);
    const text = JSON.stringify(definition);

    // Assess
    expect(keys).not.toContain('QueryLanguage');
    expect(text).not.toContain('{%');
  });

  it('asl-validator does catch a broken definition (the check above is live)', () => {
    // Prepare
    const broken = structuredClone(spotPhase.definition);
    broken.States.Begin!.Next = 'NoSuchState';

    // Act
    const result = validate(broken);

    // Assess
    expect(result.isValid).toBe(false);
    expect(result.errorsText()).toContain('NoSuchState');
  });

  it('pipeline validates input, then chains the phases in config order, then succeeds', () => {
    // Prepare
    const phaseNames = allPhases(config).map((p) => p.name);

    // Act
    const path = mainPath(pipeline.definition);

    // Assess
    expect(pipeline.definition.StartAt).toBe('ValidateInput');
    expect(path.slice(0, 1 + phaseNames.length)).toEqual(['ValidateInput', ...phaseNames]);
    expect(path).toHaveLength(phaseNames.length + 2);
    expect(pipeline.definition.States[path.at(-1)!]!.Type).toBe('Succeed');
  });

  it('pipeline runs each phase as a synchronous SpotPhase execution, with no Catch and no failure retry', () => {
    // Prepare
    const phases = allPhases(config);

    // Act
    const states = phases.map((p) => pipeline.definition.States[p.name]);

    // Assess
    phases.forEach((phase, i) => expectPhaseTask(states[i], phase, spotPhase.arn));
  });

  it('each phase execution is named deterministically per pipeline execution and redrive, within the 80 characters a name may have', () => {
    // Prepare
    const phases = allPhases(config);

    // Act
    const named = phases.map((p) => (pipeline.definition.States[p.name] as { Parameters: Record<string, unknown> }).Parameters['Name.$']);

    // Assess: a retried start finds its running execution instead of starting a second one.
    phases.forEach((phase, i) => {
      expect(named[i]).toBe(`States.Format('${phase.name}-{}-r{}', States.Hash($$.Execution.Id, 'MD5'), $$.Execution.RedriveCount)`);
      expect(`${'P'.repeat(40)}-${'0'.repeat(32)}-r1000`.length).toBeLessThanOrEqual(80);
    });
    const timeouts = phases.map((p) => (pipeline.definition.States[p.name] as { TimeoutSeconds?: number }).TimeoutSeconds);
    expect(timeouts, 'the phase task is the hard wall: it times out at the budget').toEqual(phases.map((p) => p.budgetSeconds));
  });

  it('SpotPhase sends every task error except in CleanupPhase to CleanupPhase (a metric datum that cannot be put goes on instead)', () => {
    // Prepare
    const states = Object.entries(spotPhase.definition.States);

    // Act
    const tasks = states.filter(([, s]) => s.Type === 'Task');

    // Assess
    expect(spotPhase.definition.States.CleanupPhase?.Type).toBe('Task');
    expect(tasks.length).toBeGreaterThan(1);
    for (const [name, task] of tasks) {
      if (name === 'CleanupPhase') {
        expect(task.Catch, 'CleanupPhase must not catch into itself').toBeUndefined();
        continue;
      }
      if (name === 'AwaitWorkloadEvent') {
        // The callback wait: its timeout is the poll's turn, and a token S3 would not keep leaves the timer to wait; never an error of the phase.
        expect(task.Catch, name).toEqual([
          { ErrorEquals: ['States.Timeout'], Next: 'PollWorkload', ResultPath: null },
          { ErrorEquals: ['States.ALL'], Next: 'WaitToPoll', ResultPath: null },
        ]);
        continue;
      }
      if (String(task.Resource).endsWith(':aws-sdk:cloudwatch:putMetricData')) {
        // CountRelaunch, CountExhausted: a datum never stops the phase; the Catch goes where the state goes.
        expect(task.Catch, name).toEqual([expect.objectContaining({ ErrorEquals: ['States.ALL'], Next: task.Next, ResultPath: null })]);
        continue;
      }
      expect(task.Catch, name).toEqual(expect.arrayContaining([expect.objectContaining({ ErrorEquals: ['States.ALL'], Next: 'CleanupPhase' })]));
    }
  });

  it('SpotPhase fails a failed phase with the verdict error', () => {
    // Prepare
    const name = 'PhaseFailed';

    // Act
    const state = spotPhase.definition.States[name];

    // Assess
    expect(state).toBeDefined();
    expect(state!.Type).toBe('Fail');
    expect(state!.ErrorPath).toBe('$.job.verdict.error');
  });
});

describe('config with a parallel group', () => {
  let config: PipelineConfig;
  let pipeline: DeployedStateMachine;
  let spotPhase: DeployedStateMachine;

  beforeAll(() => {
    const raw = structuredClone(SATURDAY_PIPELINE);
    const [data, research, training, backtester] = raw.phases;
    raw.phases = [data!, { parallel: [research as PhaseConfig, training as PhaseConfig] }, backtester!];
    config = parsePipelineConfig(raw);
    ({ pipeline, spotPhase } = machines(config));
  });

  it('pipeline ASL is valid per asl-validator', () => {
    // Prepare
    const definition = pipeline.definition;

    // Act
    const result = validate(definition);

    // Assess
    expect(result.errorsText()).toBe('');
    expect(result.isValid).toBe(true);
    expect(JSON.stringify(definition)).not.toContain('{%');
    expect(allKeys(definition)).not.toContain('QueryLanguage');
  });

  it('runs the group as one Parallel state of two phase branches, between the phases around it', () => {
    // Prepare
    const [research, training] = allPhases(config).filter((p) => p.name === 'Research' || p.name === 'PredictorTraining');

    // Act
    const path = mainPath(pipeline.definition);
    const parallel = path.map((name) => [name, pipeline.definition.States[name]!] as const).filter(([, s]) => s.Type === 'Parallel');

    // Assess
    expect(parallel).toHaveLength(1);
    const [parallelName, group] = parallel[0]!;
    expect(path).toEqual(['ValidateInput', 'DataPhase1', parallelName, 'Backtester', path.at(-1)]);
    expect(group.Catch).toBeUndefined();
    const branches = group.Branches as { StartAt: string; States: Record<string, AslState> }[];
    expect(branches).toHaveLength(2);
    expect(branches.map((b) => b.StartAt)).toEqual(['Research', 'PredictorTraining']);
    expectPhaseTask(branches[0]!.States.Research, research!, spotPhase.arn);
    expectPhaseTask(branches[1]!.States.PredictorTraining, training!, spotPhase.arn);
  });

  it('SpotPhase ASL is valid per asl-validator', () => {
    // Prepare
    const definition = spotPhase.definition;

    // Act
    const result = validate(definition);

    // Assess
    expect(result.isValid, result.errorsText()).toBe(true);
  });
});
