/**
 * The `gate` stage kind in the config (seed 004): the example loads, a gate's defaults are filled,
 * and every bad gate is refused naming the field: a candidate that is not an earlier phase (a
 * later one, a build, an unknown name, the gate itself, another gate), rules that make no sense
 * (tolerance with improve, bad better/rule values, no rules), a name that collides with another
 * state of the pipeline graph, and a metricsFile that is no plain file name.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { allPhases, gateCountStateName, gateStages, gateStateNames, STAGE_KINDS, type GateStage, type PipelineConfigInput } from '../../contract/config';
import { loadPipelineConfig, parsePipelineConfig } from '../../lib/config/load';
import { refusal } from './refusal';

const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'train-and-promote.json');
const COMMIT = '0123456789abcdef0123456789abcdef01234567';

type RawStage = Record<string, unknown>;
type RawConfig = Omit<PipelineConfigInput, 'phases'> & { phases: RawStage[] };

const phase = (name: string, extra: RawStage = {}): RawStage => ({ name, workloadCommand: 'train.sh', instanceTypes: ['c5.large'], budgetSeconds: 3600, attemptSeconds: 1200, ...extra });
const gate = (name: string, candidate: string, extra: RawStage = {}): RawStage => ({
  kind: 'gate',
  name,
  candidate,
  rules: [{ metric: 'accuracy', better: 'higher', rule: 'improve' }],
  ...extra,
});
const build = (name: string, artifact: string): RawStage => ({
  kind: 'build',
  name,
  artifact,
  source: { git: { url: 'https://github.com/example/model.git', commit: COMMIT } },
  buildCommand: 'make',
  output: 'dist/model.bin',
  instanceTypes: ['c5.large'],
  budgetSeconds: 3600,
  attemptSeconds: 1200,
});
const pipeline = (...stages: RawStage[]): RawConfig => ({ pipelineName: 'daily-training', schedules: { enabled: false }, phases: stages });

/** A pipeline that trains, then gates TrainModel with `edit` applied to the gate. */
const withGate = (edit: (g: RawStage) => void = () => {}): RawConfig => {
  const g = gate('PromoteModel', 'TrainModel');
  edit(g);
  return pipeline(phase('TrainModel'), g);
};

describe('gate stages accepted', () => {
  it('examples/train-and-promote.json loads: TrainModel, then gate PromoteModel with the example\'s three rules', () => {
    // Act
    const config = loadPipelineConfig(EXAMPLE);

    // Assess
    expect(config.phases.map((s) => s.kind)).toEqual(['phase', 'gate']);
    expect(gateStages(config)).toEqual([
      {
        kind: 'gate',
        name: 'PromoteModel',
        candidate: 'TrainModel',
        metricsFile: 'metrics.json',
        rules: [
          { metric: 'accuracy', better: 'higher', rule: 'improve' },
          { metric: 'maxDrawdown', better: 'lower', rule: 'not-worse', tolerance: 0.1 },
          { metric: 'sharpe', better: 'higher', rule: 'improve', advisory: true },
        ],
        dryRun: false,
      },
    ]);
    expect(allPhases(config).map((p) => p.name)).toEqual(['TrainModel']);
    expect(config.code).toBe(path.join(path.dirname(EXAMPLE), 'train-and-promote'));
    expect(config.metricNamespace).toBe('DailyTraining');
  });

  it('fills the defaults: metricsFile metrics.json, dryRun false; a gate launches no phase and takes no code', () => {
    // Prepare
    const raw = pipeline(phase('TrainModel'), gate('PromoteModel', 'TrainModel'));

    // Act
    const config = parsePipelineConfig(raw);

    // Assess
    const [g] = gateStages(config);
    expect(g).toMatchObject({ metricsFile: 'metrics.json', dryRun: false });
    expect(g).not.toHaveProperty('code');
    expect(allPhases(config).map((p) => p.name)).toEqual(['TrainModel']);
  });

  it('a candidate in an earlier parallel group, a metricsFile of its own, a dry run, two gates in a row', () => {
    // Prepare
    const raw = pipeline(
      { parallel: [phase('TrainA'), phase('TrainB')] },
      gate('PromoteA', 'TrainA', { metricsFile: 'eval-v2.json', dryRun: true }),
      gate('PromoteB', 'TrainB', { rules: [{ metric: 'val.loss', better: 'lower', rule: 'not-worse' }, { metric: 'f1_macro', better: 'higher', rule: 'not-worse', tolerance: 0 }] }),
    );

    // Act
    const config = parsePipelineConfig(raw);

    // Assess
    expect(gateStages(config).map((g: GateStage) => [g.name, g.candidate, g.metricsFile, g.dryRun])).toEqual([
      ['PromoteA', 'TrainA', 'eval-v2.json', true],
      ['PromoteB', 'TrainB', 'metrics.json', false],
    ]);
  });

  it('names its states after the gate: <gate>Preflight?, Count<gate>, <gate>Decided', () => {
    // Act
    const names = gateStateNames('PromoteModel');

    // Assess
    expect({ ...names }).toMatchObject({ preflight: 'PromoteModelPreflight?', count: 'CountPromoteModel', decided: 'PromoteModelDecided' });
    expect([...names]).toEqual(['PromoteModelPreflight?', 'CountPromoteModel', 'PromoteModelDecided']);
    expect(gateCountStateName('PromoteModel')).toBe(names.count);
  });
});

describe('gate stages refused naming the field', () => {
  it.each([
    { what: 'a later phase', raw: pipeline(phase('TrainModel'), gate('PromoteModel', 'Backtest'), phase('Backtest')), got: 'Backtest' },
    { what: 'a build stage', raw: pipeline(build('BuildModel', 'model'), gate('PromoteModel', 'BuildModel')), got: 'BuildModel' },
    { what: 'an unknown name', raw: pipeline(phase('TrainModel'), gate('PromoteModel', 'TrainModle')), got: 'TrainModle' },
    { what: 'the gate itself', raw: pipeline(phase('TrainModel'), gate('PromoteModel', 'PromoteModel')), got: 'PromoteModel' },
    { what: 'an earlier gate', raw: pipeline(phase('TrainModel'), gate('First', 'TrainModel'), gate('PromoteModel', 'First')), got: 'First' },
  ])('a candidate that is $what', ({ raw, got }) => {
    // Act
    const refused = refusal(raw);

    // Assess
    const at = raw.phases.findIndex((s) => s.name === 'PromoteModel');
    expect(refused).toContain(`phases[${at}].candidate (phase PromoteModel): must name a phase that runs before gate PromoteModel (got "${got}")`);
  });

  it('each gate takes a phase before it, even one that runs after an earlier gate', () => {
    // Prepare
    const raw = pipeline(phase('TrainModel'), gate('PromoteModel', 'TrainModel'), phase('Later'), gate('PromoteLater', 'Later'));

    // Act
    const config = parsePipelineConfig(raw);

    // Assess
    expect(gateStages(config).map((g) => g.candidate)).toEqual(['TrainModel', 'Later']);
  });

  it.each([
    {
      what: 'a tolerance with rule improve',
      edit: (g: RawStage) => (g.rules = [{ metric: 'accuracy', better: 'higher', rule: 'improve', tolerance: 0.1 }]),
      message: 'phases[1].rules[0].tolerance (phase PromoteModel): tolerance goes with rule "not-worse"',
    },
    {
      what: 'better "up"',
      edit: (g: RawStage) => (g.rules = [{ metric: 'accuracy', better: 'up', rule: 'improve' }]),
      message: 'phases[1].rules[0].better (phase PromoteModel): must be "higher" or "lower"',
    },
    {
      what: 'rule "better-than"',
      edit: (g: RawStage) => (g.rules = [{ metric: 'accuracy', better: 'higher', rule: 'better-than' }]),
      message: 'phases[1].rules[0].rule (phase PromoteModel): must be "improve" or "not-worse"',
    },
    {
      what: 'a negative tolerance',
      edit: (g: RawStage) => (g.rules = [{ metric: 'maxDrawdown', better: 'lower', rule: 'not-worse', tolerance: -0.1 }]),
      message: 'phases[1].rules[0].tolerance (phase PromoteModel): must be >= 0',
    },
    {
      what: 'a tolerance as a string',
      edit: (g: RawStage) => (g.rules = [{ metric: 'maxDrawdown', better: 'lower', rule: 'not-worse', tolerance: '10%' }]),
      message: 'phases[1].rules[0].tolerance (phase PromoteModel): must be a number',
    },
    {
      what: 'advisory as a string',
      edit: (g: RawStage) => (g.rules = [{ metric: 'sharpe', better: 'higher', rule: 'improve', advisory: 'yes' }]),
      message: 'phases[1].rules[0].advisory (phase PromoteModel): must be true or false',
    },
    {
      what: 'a metric name with a space',
      edit: (g: RawStage) => (g.rules = [{ metric: 'max drawdown', better: 'lower', rule: 'not-worse' }]),
      message: 'phases[1].rules[0].metric (phase PromoteModel): must be a metric name (letters, digits and _ . -)',
    },
    {
      what: 'an unknown field in a rule',
      edit: (g: RawStage) => (g.rules = [{ metric: 'accuracy', better: 'higher', rule: 'improve', weight: 2 }]),
      message: 'phases[1].rules[0] (phase PromoteModel): Unrecognized key: "weight"',
    },
    { what: 'no rules', edit: (g: RawStage) => (g.rules = []), message: 'phases[1].rules (phase PromoteModel): must hold at least one rule' },
    { what: 'rules left out', edit: (g: RawStage) => delete g.rules, message: 'phases[1].rules (phase PromoteModel): must be a list of rules' },
    { what: 'a metricsFile with a slash', edit: (g: RawStage) => (g.metricsFile = 'eval/metrics.json'), message: 'phases[1].metricsFile (phase PromoteModel): must be a file name of letters, digits and . _ - (at most 100)' },
    { what: 'a metricsFile ..', edit: (g: RawStage) => (g.metricsFile = '..'), message: 'phases[1].metricsFile (phase PromoteModel): must be a file name' },
    { what: 'dryRun as a string', edit: (g: RawStage) => (g.dryRun = 'true'), message: 'phases[1].dryRun (phase PromoteModel): must be true or false' },
    { what: 'a workloadCommand (a gate runs no workload)', edit: (g: RawStage) => (g.workloadCommand = 'promote.sh'), message: 'phases[1] (phase PromoteModel): Unrecognized key: "workloadCommand"' },
    { what: 'a reserved state name', edit: (g: RawStage) => (g.name = 'PipelineSucceeded'), message: 'phases[1].name (phase PipelineSucceeded): is the name of a state of the pipeline graph' },
    { what: 'a name with a dash', edit: (g: RawStage) => (g.name = 'Promote-Model'), message: 'phases[1].name (phase Promote-Model): must start with a letter and hold only letters and digits' },
  ])('$what', ({ edit, message }) => {
    // Prepare
    const raw = withGate(edit);

    // Act
    const refused = refusal(raw);

    // Assess
    expect(refused).toContain(message);
  });

  it.each([
    { what: "a phase's name (the gate after it)", stages: [phase('TrainModel'), phase('PromoteModel'), gate('PromoteModel', 'TrainModel')], at: 2, state: 'PromoteModel' },
    { what: "a phase's name (the gate before it)", stages: [phase('TrainModel'), gate('PromoteModel', 'TrainModel'), phase('PromoteModel')], at: 1, state: 'PromoteModel' },
    { what: 'a phase named as its Count state', stages: [phase('TrainModel'), gate('PromoteModel', 'TrainModel'), phase('CountPromoteModel')], at: 1, state: 'CountPromoteModel' },
    { what: 'a phase named as its Decided state', stages: [phase('TrainModel'), gate('PromoteModel', 'TrainModel'), phase('PromoteModelDecided')], at: 1, state: 'PromoteModelDecided' },
    { what: 'a state of a build', stages: [build('Model', 'model'), phase('TrainModel'), gate('CheckModel', 'TrainModel')], at: 2, state: 'CheckModel' },
  ])('a gate whose state collides with $what', ({ stages, at, state }) => {
    // Act
    const refused = refusal(pipeline(...stages));

    // Assess
    const name = (stages[at] as { name: string }).name;
    expect(refused).toContain(`phases[${at}].name (phase ${name}): gate ${name} names a state ${state}, which another stage uses; rename one`);
  });

  it.each([
    { what: "another gate's Count state", first: 'Promote', second: 'CountPromote' },
    { what: "another gate's Decided state", first: 'Promote', second: 'PromoteDecided' },
    { what: "another gate's name", first: 'Promote', second: 'Promote' },
  ])('a gate named as $what', ({ first, second }) => {
    // Prepare
    const raw = pipeline(phase('TrainModel'), gate(first, 'TrainModel'), gate(second, 'TrainModel'));

    // Act
    const refused = refusal(raw);

    // Assess
    expect(refused).toContain(`phases[2].name (phase ${second}): gate ${second} names a state ${second}, which another stage uses; rename one`);
    expect(refused).not.toContain('phases[1].name');
  });

  it('an unknown stage kind lists the kinds there are, gate among them', () => {
    // Prepare
    const raw = pipeline(phase('TrainModel'), { ...gate('PromoteModel', 'TrainModel'), kind: 'promote' });

    // Act
    const refused = refusal(raw);

    // Assess
    expect(STAGE_KINDS).toContain('gate');
    expect(refused).toContain('phases[1].kind (phase PromoteModel): kind must be one of "phase", "parallel", "build", "gate"');
  });
});
