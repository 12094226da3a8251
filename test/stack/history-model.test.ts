/**
 * The models of the synthesized graphs that the config checks rely on stay true to the graphs:
 * the SpotPhase states and paths the history arithmetic counts (contract/history.ts), and the
 * pipeline state names a phase may not take (RESERVED_PHASE_NAMES in contract/config.ts). A
 * state added to either graph without updating its model fails here.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { allPhases, RESERVED_PHASE_NAMES, type PipelineConfig, type PipelineConfigInput } from '../../contract/config';
import { SPOT_PHASE_PATHS, SPOT_PHASE_STATES } from '../../contract/history';
import { SATURDAY_PIPELINE } from '../../lib/config/defaults';
import { parsePipelineConfig } from '../../lib/config/load';
import { synthTemplate } from '../../simulator/synth';
import { deployedStateMachines, type DeployedStateMachine } from '../../simulator/template';

interface AslState {
  Type: string;
  Next?: string;
  Default?: string;
  Choices?: { Next: string }[];
  Catch?: { Next: string }[];
  Branches?: { States: Record<string, AslState> }[];
}
type Definition = DeployedStateMachine['definition'] & { States: Record<string, AslState> };

/** Every state of a definition, those inside Parallel branches included. */
function statesOf(states: Record<string, AslState>): [string, AslState][] {
  return Object.entries(states).flatMap(([name, state]) => [[name, state] as [string, AslState], ...(state.Branches ?? []).flatMap((b) => statesOf(b.States))]);
}

/** The states a state may go to next. */
const successors = (state: AslState): string[] => [state.Next, state.Default, ...(state.Choices ?? []).map((c) => c.Next), ...(state.Catch ?? []).map((c) => c.Next)].filter((s): s is string => s !== undefined);

/** The built-in config with a parallel group in the middle, so the pipeline graph holds every kind of state. */
function configWithGroup(): PipelineConfig {
  const raw: PipelineConfigInput = structuredClone(SATURDAY_PIPELINE);
  const [data, research, training, backtester] = raw.phases;
  raw.phases = [data!, { parallel: [research as never, training as never] }, backtester!];
  return parsePipelineConfig(raw);
}

let config: PipelineConfig;
let spotPhase: Definition;
let pipeline: Definition;
beforeAll(() => {
  config = configWithGroup();
  const deployed = deployedStateMachines(synthTemplate(config));
  spotPhase = deployed.find((m) => m.name === `${config.pipelineName}-spot-phase`)!.definition as Definition;
  pipeline = deployed.find((m) => m.name === config.pipelineName)!.definition as Definition;
});

describe('the SpotPhase model the history arithmetic counts', () => {
  it('names every state of the synthesized SpotPhase graph, with its type, and no other', () => {
    // Prepare
    const modelled = Object.entries(SPOT_PHASE_STATES).sort();

    // Act
    const synthesized = statesOf(spotPhase.States)
      .map(([name, state]) => [name, state.Type])
      .sort();

    // Assess
    expect(modelled).toEqual(synthesized);
  });

  /** Every path of the model by name, the ways out as ends[0], ends[1], ... */
  const paths: [string, readonly string[]][] = Object.entries(SPOT_PHASE_PATHS).flatMap(([name, path]): [string, readonly string[]][] =>
    name === 'ends' ? (path as readonly (readonly string[])[]).map((p, i): [string, readonly string[]] => [`ends[${i}]`, p]) : [[name, path as readonly string[]]],
  );

  it.each(paths)(
    'path %s is a walk of the graph: each state leads to the next',
    (_name, path) => {
      // Prepare
      const states = spotPhase.States;

      // Act
      const missing = path.slice(1).flatMap((to, i) => (successors(states[path[i]!]!).includes(to) ? [] : [`${path[i]} -> ${to}`]));

      // Assess
      expect(missing).toEqual([]);
    },
  );

  it.each([
    ['agentCheck', SPOT_PHASE_PATHS.agentCheck],
    ['poll', SPOT_PHASE_PATHS.poll],
  ] as const)('loop %s closes on itself with no state in between', (_name, loop) => {
    // Prepare
    const last = spotPhase.States[loop.at(-1)!]!;

    // Act
    const back = successors(last);

    // Assess
    expect(back).toContain(loop[0]);
  });

  it('a relaunch path ends where a refused launch starts the next one (Launched? -> HandleFailure)', () => {
    // Prepare
    const relaunch = SPOT_PHASE_PATHS.relaunch;

    // Act
    const back = successors(spotPhase.States[relaunch.at(-1)!]!);

    // Assess
    expect(back).toContain(relaunch[0]);
  });
});

describe('the pipeline state names a phase may not take', () => {
  it('cover every state of the synthesized pipeline graph that is not a phase task', () => {
    // Prepare
    const phaseNames = new Set(allPhases(config).map((p) => p.name));

    // Act
    const ownStates = statesOf(pipeline.States)
      .map(([name]) => name)
      .filter((name) => !phaseNames.has(name));

    // Assess
    expect(ownStates.length).toBeGreaterThanOrEqual(3); // ValidateInput, Parallel2, PipelineSucceeded
    for (const name of ownStates) expect(RESERVED_PHASE_NAMES, name).toContain(name);
  });
});
