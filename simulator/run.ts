/**
 * One simulated run: synth the CDK app, deploy it into the simulated account, start the
 * pipeline with the scenario's input, and let virtual time run until every execution has ended.
 */
import './polyfills';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import FakeTimers from '@sinonjs/fake-timers';
import { loadPipelineConfig } from '../lib/config/load';
import { allPhases, buildStages, gateStages, shardNames, type PipelineConfig } from '../contract/config';
import { productionPrefix } from '../contract/storage';
import { SimulatedEventBus } from './event-bus';
import { deployedFunctions, SimulatedLambda } from './lambda-runtime';
import { installLongTimers } from './long-timers';
import { checkScenarioArtifacts, checkScenarioGates, checkScenarioHandlers, checkScenarioPhases, checkScenarioShards, type Scenario } from './scenario';
import { routeSdkToAccount } from './sdk-interceptor';
import { handleCall, type ServiceName } from './services';
import { SimulatedAccount } from './services/account';
import { sdkErrorPrefix, SimulatedStepFunctions, type SimExecution } from './step-functions';
import { synthDeployment, type SimDeployment } from './synth';
import { deployedLaunchTemplates, deployedStateMachines, physicalId, resolve, resourcesOfType, SIM_REGION, type CfnTemplate } from './template';

/** Saturday 2026-05-30, 02:00 in Los Angeles: when the seed's pipeline started. */
export const DEFAULT_START = Date.parse('2026-05-30T09:00:00Z');

/** After the executions have ended, how long the account keeps running while instances are still alive. */
export const AFTER_END_CAP_MS = 48 * 3_600_000;

/**
 * The simulated services (SERVICES keys) by the service name of an AWS SDK integration's Resource,
 * arn:aws:states:::aws-sdk:<service>:<action> (Step Functions developer guide, "Learning to use AWS
 * service SDK integrations": the service name is the SDK's, in lower case).
 */
const SDK_INTEGRATION_SERVICES: Readonly<Record<string, ServiceName>> = {
  cloudwatch: 'CloudWatch',
  cloudwatchlogs: 'CloudWatchLogs',
  ec2: 'EC2',
  sfn: 'SFN',
  ssm: 'SSM',
};

/**
 * Services whose API members are camelCase (Step Functions: taskToken, executionArn). "Parameters in
 * Step Functions are expressed in PascalCase, even if the native service API is in camelCase" (developer
 * guide, "Learning to use AWS service SDK integrations": startSyncExecution takes StateMachineArn);
 * Step Functions passes them to the API under the API's own names.
 */
const CAMEL_CASE_MEMBERS: ReadonlySet<string> = new Set<ServiceName>(['SFN']);

/** The input with every member name's first letter in lower case (values untouched). */
function camelCaseKeys(value: Record<string, unknown>): Record<string, unknown> {
  const convert = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(convert) : v !== null && typeof v === 'object' ? camelCaseKeys(v as Record<string, unknown>) : v;
  return Object.fromEntries(Object.entries(value).map(([key, v]) => [key.charAt(0).toLowerCase() + key.slice(1), convert(v)]));
}

/** The input an AWS SDK integration's Parameters make for the simulated service (SERVICES key). */
export function sdkIntegrationInput(service: string, parameters: unknown): Record<string, unknown> {
  const input = structuredClone((parameters ?? {}) as Record<string, unknown>);
  return CAMEL_CASE_MEMBERS.has(service) ? camelCaseKeys(input) : input;
}

export interface SimulationOptions {
  /** Directory a relative scenario `config` path is resolved from. */
  readonly baseDir?: string;
  /** Virtual start of the execution (epoch ms). */
  readonly startAt?: number;
  /** A deployment synthesized earlier for the same config (saves the synth). */
  readonly deployment?: SimDeployment;
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
  /** When the executions had all ended (and the account had reacted to them). */
  readonly endedAt: number;
  /**
   * When the last instance was gone (epoch ms): the account keeps running after the executions end
   * (its scheduled rules, such as the orphan reaper, keep firing) until no instance is alive, for
   * at most AFTER_END_CAP_MS; undefined if some were still alive then. The start when none launched.
   */
  readonly instancesGoneAt?: number;
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
  checkScenarioArtifacts(scenario, artifactNames(config));
  checkScenarioGates(scenario, gateStages(config).map((g) => g.name));
  checkScenarioShards(scenario, (name) => {
    const phase = allPhases(config).find((p) => p.name === name);
    return phase ? shardNames(phase) : undefined;
  });
  const deployment = options.deployment ?? synthDeployment(config);
  const { template } = deployment;
  const launchTemplates = deployedLaunchTemplates(template);
  if (launchTemplates.size === 0) throw new Error('the synthesized template has no launch template');
  const functions = deployedFunctions(template);
  checkScenarioHandlers(
    scenario,
    functions.map((f) => path.basename(f.handlerFile, '.ts')),
  );
  const lambda = new SimulatedLambda(functions, scenario.lostResponses);
  await lambda.load();
  const stepFunctions = new SimulatedStepFunctions(deployedStateMachines(template), lambda);
  const instanceProfiles = resourcesOfType(template, 'AWS::IAM::InstanceProfile').map(([id]) => String(resolve(template, { 'Fn::GetAtt': [id, 'Arn'] })));
  const startedAt = options.startAt ?? DEFAULT_START;
  const cloud = new SimulatedAccount({ scenario, subnetZones: subnetZones(template, config), launchTemplates, stepFunctions, instanceProfiles, startedAt });
  // AWS SDK integration tasks call the simulated account, as the handlers' SDK clients do. The
  // parameters arrive as the state evaluated them, PascalCase as the SDK's input; the action is the
  // API operation in camelCase (developer guide, "Learning to use AWS service SDK integrations").
  stepFunctions.sdkIntegration = (service, action, parameters) => {
    const target = Object.hasOwn(SDK_INTEGRATION_SERVICES, service) ? SDK_INTEGRATION_SERVICES[service]! : sdkErrorPrefix(service);
    return handleCall(cloud, target, action.charAt(0).toUpperCase() + action.slice(1), sdkIntegrationInput(target, parameters));
  };
  const pipelineMachine = stepFunctions.byName(config.pipelineName);
  const eventBus = new SimulatedEventBus(template, lambda);
  stepFunctions.onEnded.push((execution) => eventBus.executionEnded(execution));
  // What EC2 and SSM send to EventBridge (services/events.ts) reaches the deployed rules too.
  cloud.events = (event) => eventBus.publish(event);
  const realStart = performance.now();
  publishAssets(cloud, deployment, scenario, startedAt);
  seedProduction(cloud, template, config, scenario, startedAt);
  const clock = FakeTimers.install({ now: startedAt, toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'], loopLimit: 1_000_000 });
  // Over the fake clock: delays beyond 2^31-1 ms (abort, redrive, Wait states, timeouts) run in chunks.
  const uninstallLongTimers = installLongTimers();
  const unroute = routeSdkToAccount(cloud);
  const restoreRandom = seedRandom(scenario);
  const restoreConsole = silenceConsole();
  try {
    const input = 'input' in scenario ? scenario.input : { mode: scenario.mode ?? 'full' };
    const pipeline = stepFunctions.startExecution(pipelineMachine.arn, input ?? {}, { name: 'saturday-run' });
    const pipelineRuns = [pipeline];
    eventBus.startSchedules();
    // The operator stops the execution (its ARN): after a redrive, that is the redriven run.
    let abortTimer: ReturnType<typeof setTimeout> | undefined;
    if (scenario.abortAtMinute !== undefined) abortTimer = setTimeout(() => pipelineRuns.at(-1)!.abort(), scenario.abortAtMinute * 60_000);
    // Until every execution has ended and the account has finished reacting to it.
    // (A task's Lambda may still be at work after its execution stopped: that counts too.)
    const settled = () => stepFunctions.executions.every((e) => e.status !== 'RUNNING') && eventBus.inFlight === 0 && lambda.inFlight === 0;
    await driveUntil(clock, () => pipeline.status !== 'RUNNING');
    if (scenario.redriveAfterMinutes !== undefined && pipeline.status !== 'SUCCEEDED') {
      // Minutes after the execution ended, whatever the account is still doing about that end
      // (its cleanup may race the redrive, as it would on AWS).
      let waited = false;
      setTimeout(() => (waited = true), Math.max(0, pipeline.stoppedAt! + scenario.redriveAfterMinutes * 60_000 - Date.now()));
      await driveUntil(clock, () => waited);
      pipelineRuns.push(stepFunctions.redrive(pipeline));
    }
    await driveUntil(clock, settled);
    clearTimeout(abortTimer);
    await Promise.all(stepFunctions.executions.map((e) => e.done));
    const endedAt = Date.now();
    const instancesGoneAt = await untilInstancesGone(clock, cloud, eventBus, startedAt);
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
      endedAt,
      instancesGoneAt,
      realMs: performance.now() - realStart,
    };
  } finally {
    restoreConsole();
    restoreRandom();
    unroute();
    uninstallLongTimers();
    clock.uninstall();
  }
}

/**
 * After a run: the simulated account answers the AWS SDK again (sdk-interceptor.ts) while
 * `callback` runs, as the deployed pipeline would answer a tool that reads it (the CLI: its
 * executions, their histories, the workload's logs). Real timers, and a clock that goes on from the
 * run's end: nothing runs any more; StartExecution and RedriveExecution are accepted and recorded, RUNNING, not run
 * (SimulatedStepFunctions.acceptOnly), and the account's events reach no EventBridge rule. All of
 * that is undone when it settles.
 */
export async function serveSimulation<T>(sim: Simulation, callback: () => Promise<T>, options: { at?: number } = {}): Promise<T> {
  // The account's clock goes on from the run's end (or `at`, e.g. weeks later), not from today's date:
  // answers are dated after the run, and "now" means the same to the caller and to the account (a
  // redrive's 14 days count from there). Only Date is faked, moving with real time: timers stay real.
  const clock = FakeTimers.install({ now: options.at ?? sim.endedAt, toFake: ['Date'], shouldAdvanceTime: true });
  const unroute = routeSdkToAccount(sim.cloud);
  sim.stepFunctions.acceptOnly = true;
  // What the account would send EventBridge now (on the real clock, far past the run) reaches no rule.
  const events = sim.cloud.events;
  sim.cloud.events = undefined;
  try {
    return await callback();
  } finally {
    sim.cloud.events = events;
    sim.stepFunctions.acceptOnly = false;
    unroute();
    clock.uninstall();
  }
}

/** The artifacts a scenario may name for this config: `code` when some phase has a code directory, and each build stage's. */
export function artifactNames(config: PipelineConfig): string[] {
  const code = config.code !== undefined || allPhases(config).some((p) => p.code !== undefined) ? ['code'] : [];
  return [...code, ...buildStages(config).map((b) => b.artifact)];
}

/**
 * What `cdk deploy` does before the stack: publish the file assets (the code archives) to the
 * bootstrap bucket, byte for byte. A scenario may have the stored code corrupted after that
 * (`artifacts.code.corrupt`): its bytes, and so their sha256, are no longer what synth recorded.
 */
function publishAssets(cloud: SimulatedAccount, deployment: SimDeployment, scenario: Scenario, at: number): void {
  const corrupt = scenario.artifacts?.code?.corrupt === true;
  for (const file of deployment.files) {
    const sha256 = corrupt ? createHash('sha256').update(`${file.sha256} with a flipped byte`).digest('hex') : file.sha256;
    cloud.objects.set(`${file.bucket}/${file.key}`, { sha256, size: file.size, writtenAt: at, writtenBy: 'cdk deploy' });
  }
}

/** What each gate finds in production before the run (scenario `production`), in the pipeline bucket. */
function seedProduction(cloud: SimulatedAccount, template: CfnTemplate, config: PipelineConfig, scenario: Scenario, at: number): void {
  const buckets = resourcesOfType(template, 'AWS::S3::Bucket');
  const bucket = config.storage.bucketName ?? (buckets[0] ? physicalId(buckets[0][0], buckets[0][1]) : undefined);
  for (const [gate, files] of Object.entries(scenario.production ?? {})) {
    if (!files || !bucket) continue;
    for (const [name, content] of Object.entries(files)) {
      const body = typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`;
      cloud.objects.set(`${bucket}/${productionPrefix(config.pipelineName, gate)}${name}`, { sha256: createHash('sha256').update(body).digest('hex'), size: Buffer.byteLength(body), writtenAt: at, writtenBy: 'before the run', body });
    }
  }
}

/**
 * After the executions: keep the account running on virtual time (its scheduled rules keep firing)
 * until no instance is alive or AFTER_END_CAP_MS has passed; when the last instance was gone, or
 * undefined. Costs nothing when no instance is left.
 */
async function untilInstancesGone(clock: ReturnType<typeof FakeTimers.install>, cloud: SimulatedAccount, eventBus: SimulatedEventBus, startedAt: number): Promise<number | undefined> {
  const gone = () => cloud.runningInstances().length === 0;
  if (!gone()) {
    let capped = false;
    const cap = setTimeout(() => (capped = true), AFTER_END_CAP_MS);
    await driveUntil(clock, () => (gone() && eventBus.inFlight === 0) || capped);
    clearTimeout(cap);
    if (!gone()) return undefined;
  }
  return cloud.instances.reduce((last, i) => Math.max(last, i.terminatedAt ?? last), startedAt);
}

/**
 * The jitter of the SDK's retry backoff, of the state machines' retries (JitterStrategy FULL) and
 * every other random draw come from Math.random. Seeded from the scenario for the run, so a
 * scenario replays exactly (a chaos seed fails the same way every time); returns the undo.
 */
function seedRandom(scenario: Scenario): () => void {
  const saved = Math.random;
  let a = 0;
  // The config by its file name only: the same scenario over a config written to another temporary
  // directory (the test suites, the chaos campaign) draws the same numbers.
  const seedText = JSON.stringify({ ...scenario, ...(scenario.config === undefined ? {} : { config: path.basename(scenario.config) }) });
  for (const ch of seedText) a = (Math.imul(a, 31) + ch.charCodeAt(0)) >>> 0;
  // mulberry32
  Math.random = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => {
    Math.random = saved;
  };
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
