/**
 * One simulated run: synth the CDK app, deploy it into the simulated account, start the
 * pipeline with the scenario's input, and let virtual time run until every execution has ended.
 */
import './polyfills';
import * as path from 'node:path';
import FakeTimers from '@sinonjs/fake-timers';
import { loadPipelineConfig } from '../lib/config/load';
import { allPhases, type PipelineConfig } from '../contract/config';
import { SimulatedEventBus } from './event-bus';
import { deployedFunctions, SimulatedLambda } from './lambda-runtime';
import { checkScenarioPhases, type Scenario } from './scenario';
import { routeSdkToAccount } from './sdk-interceptor';
import { SimulatedAccount } from './services/account';
import { SimulatedStepFunctions, type SimExecution } from './step-functions';
import { synthTemplate } from './synth';
import { deployedStateMachines, physicalId, resolve, resourcesOfType, SIM_REGION, type CfnTemplate } from './template';

/** Saturday 2026-05-30, 02:00 in Los Angeles: when the seed's pipeline started. */
export const DEFAULT_START = Date.parse('2026-05-30T09:00:00Z');

export interface SimulationOptions {
  /** Directory a relative scenario `config` path is resolved from. */
  readonly baseDir?: string;
  /** Virtual start of the execution (epoch ms). */
  readonly startAt?: number;
  /** A template synthesized earlier for the same config (saves the synth). */
  readonly template?: CfnTemplate;
}

export interface Simulation {
  readonly scenario: Scenario;
  readonly config: PipelineConfig;
  /** The simulated account's AWS state: instances, commands, metrics, every API call. */
  readonly cloud: SimulatedAccount;
  readonly stepFunctions: SimulatedStepFunctions;
  readonly eventBus: SimulatedEventBus;
  /** The pipeline execution as it ended (after its redrive, when the scenario redrives). */
  readonly pipeline: SimExecution;
  /** The original run, then each redrive of it. */
  readonly pipelineRuns: SimExecution[];
  readonly startedAt: number;
  readonly endedAt: number;
  /** Real milliseconds the virtual run took (synth excluded). */
  readonly realMs: number;
}

/** The pipeline config a scenario runs against. */
export function scenarioConfig(scenario: Scenario, baseDir = process.cwd()): PipelineConfig {
  return loadPipelineConfig(scenario.config ? path.resolve(baseDir, scenario.config) : undefined);
}

function subnetZones(template: CfnTemplate, config: PipelineConfig): Map<string, string> {
  const zones = new Map<string, string>();
  for (const [id, subnet] of resourcesOfType(template, 'AWS::EC2::Subnet')) {
    zones.set(physicalId(id, subnet), String(resolve(template, subnet.Properties?.AvailabilityZone)));
  }
  const configured = [...new Set([...(config.subnetIds ?? []), ...allPhases(config).flatMap((p) => p.subnetIds ?? [])])];
  configured.forEach((s, i) => zones.set(s, `${SIM_REGION}${'abcdef'[i % 6]}`));
  return zones;
}

export async function runSimulation(scenario: Scenario, options: SimulationOptions = {}): Promise<Simulation> {
  const config = scenarioConfig(scenario, options.baseDir);
  checkScenarioPhases(
    scenario,
    allPhases(config).map((p) => p.name),
  );
  const template = options.template ?? synthTemplate(config);
  const [lt] = resourcesOfType(template, 'AWS::EC2::LaunchTemplate');
  if (!lt) throw new Error('the synthesized template has no launch template');
  const lambda = new SimulatedLambda(deployedFunctions(template), scenario.lostResponses);
  await lambda.load();
  const stepFunctions = new SimulatedStepFunctions(deployedStateMachines(template), lambda);
  const cloud = new SimulatedAccount({ scenario, subnetZones: subnetZones(template, config), launchTemplateId: physicalId(lt[0], lt[1]), stepFunctions });
  const pipelineMachine = stepFunctions.byName(config.pipelineName);
  const eventBus = new SimulatedEventBus(template, lambda);
  stepFunctions.onEnded.push((execution) => eventBus.executionEnded(execution));
  const realStart = performance.now();
  const startedAt = options.startAt ?? DEFAULT_START;
  const clock = FakeTimers.install({ now: startedAt, toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'], loopLimit: 1_000_000 });
  const unroute = routeSdkToAccount(cloud);
  const restoreConsole = silenceConsole();
  try {
    const input = 'input' in scenario ? scenario.input : { mode: scenario.mode ?? 'full' };
    const pipeline = stepFunctions.startExecution(pipelineMachine.arn, input ?? {}, { name: 'saturday-run' });
    eventBus.startSchedules();
    if (scenario.abortAtMinute !== undefined) setTimeout(() => pipeline.abort(), scenario.abortAtMinute * 60_000);
    // Until every execution has ended and the account has finished reacting to it.
    const settled = () => stepFunctions.executions.every((e) => e.status !== 'RUNNING') && eventBus.inFlight === 0;
    await driveUntil(clock, settled);
    const pipelineRuns = [pipeline];
    if (scenario.redriveAfterMinutes !== undefined && pipeline.status !== 'SUCCEEDED') {
      let waited = false;
      setTimeout(() => (waited = true), scenario.redriveAfterMinutes * 60_000);
      await driveUntil(clock, () => waited);
      pipelineRuns.push(stepFunctions.redrive(pipeline));
      await driveUntil(clock, settled);
    }
    await Promise.all(stepFunctions.executions.map((e) => e.done));
    eventBus.stopSchedules();
    return {
      scenario,
      config,
      cloud,
      stepFunctions,
      eventBus,
      pipeline: pipelineRuns.at(-1)!,
      pipelineRuns,
      startedAt,
      endedAt: Date.now(),
      realMs: performance.now() - realStart,
    };
  } finally {
    restoreConsole();
    unroute();
    clock.uninstall();
  }
}

/** The handlers' JSON logs stay out of the terminal while the simulation runs; returns the undo. */
function silenceConsole(): () => void {
  const saved = { log: console.log, info: console.info, warn: console.warn, error: console.error };
  const discard = () => undefined;
  Object.assign(console, { log: discard, info: discard, warn: discard, error: discard });
  return () => Object.assign(console, saved);
}

const realTick = () => new Promise<void>((r) => setImmediate(r));

/** Run virtual time forward, timer by timer, until `finished()` holds. */
async function driveUntil(clock: ReturnType<typeof FakeTimers.install>, finished: () => boolean): Promise<void> {
  let idle = 0;
  while (!finished()) {
    await realTick();
    if (finished()) break;
    if (clock.countTimers() === 0) {
      if (++idle > 1000) throw new Error('simulation stalled: executions are running but nothing is scheduled');
      continue;
    }
    idle = 0;
    // Fire the next timer; the real setImmediate above lets every promise it starts settle first.
    clock.next();
  }
}
