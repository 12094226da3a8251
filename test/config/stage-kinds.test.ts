import { describe, expect, it } from 'vitest';
import { STAGE_KINDS } from '../../contract/config';
import { SATURDAY_PIPELINE } from '../../lib/config/defaults';
import { parsePipelineConfig } from '../../lib/config/load';
import { deployedStateMachines } from '../../simulator/template';
import { synthTemplate } from '../../simulator/synth';

const phase = (name: string) => ({ name, workloadCommand: 'run.sh', instanceTypes: ['c5.large'], budgetSeconds: 3600, attemptSeconds: 1200 });

describe('stage kinds', () => {
  it('a config written before stages had a kind keeps working: a phase is kind "phase", a { parallel } group kind "parallel"', () => {
    // Prepare
    const raw = { phases: [phase('A'), { parallel: [phase('B'), phase('C')] }] };

    // Act
    const config = parsePipelineConfig(raw);

    // Assess
    expect(config.phases.map((s) => s.kind)).toEqual(['phase', 'parallel']);
  });

  it('a stage may say its kind', () => {
    // Prepare
    const raw = { phases: [{ kind: 'phase', ...phase('A') }, { kind: 'parallel', parallel: [phase('B'), phase('C')] }] };

    // Act
    const config = parsePipelineConfig(raw);

    // Assess
    expect(config.phases.map((s) => s.kind)).toEqual(['phase', 'parallel']);
  });

  it('an unknown kind fails naming the stage and the kinds there are', () => {
    // Prepare
    const raw = { phases: [phase('A'), { kind: 'shards', ...phase('B') }] };

    // Act
    const parse = () => parsePipelineConfig(raw);

    // Assess
    expect(parse).toThrow(/phases\[1\]\.kind/);
    expect(parse).toThrow(new RegExp(STAGE_KINDS.map((k) => `"${k}"`).join(', ')));
  });

  it('a kind that does not match the stage fails naming the field to fix', () => {
    // Prepare
    const raw = { phases: [{ kind: 'parallel', ...phase('A') }] };

    // Act
    const parse = () => parsePipelineConfig(raw);

    // Assess
    expect(parse).toThrow(/phases\[0\]\.parallel/);
  });

  it('each kind is built by its own builder: the default pipeline synthesizes one task per phase, a group one Parallel state', () => {
    // Prepare
    const config = parsePipelineConfig({ ...SATURDAY_PIPELINE, phases: [phase('A'), { parallel: [phase('B'), phase('C')] }] });

    // Act
    const pipeline = deployedStateMachines(synthTemplate(config)).find((sm) => sm.name === config.pipelineName)!;
    const types = Object.fromEntries(Object.entries(pipeline.definition.States).map(([name, s]) => [name, s.Type]));

    // Assess
    expect(types).toEqual({ ValidateInput: 'Task', A: 'Task', Parallel2: 'Parallel', PipelineSucceeded: 'Succeed' });
  });
});
