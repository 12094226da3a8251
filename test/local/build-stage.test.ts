/**
 * The build stage (seed 002) in the rehearsal: examples/build-once.json (a moolloy commit built
 * once on spot, then two run workers that download and verify the jar), synthesized once and run
 * with the real handlers against the simulated cloud. Every verdict is read from what the
 * simulated cloud recorded: the instances launched, the commands and what their runner refused,
 * the artifact object the build uploaded (who wrote it, when, with which sha256).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHA256_METADATA } from '../../contract/artifacts';
import { METRICS } from '../../contract/metrics';
import { artifactKey } from '../../contract/storage';
import { loadPipelineConfig } from '../../lib/config/load';
import { buildReport, type PhaseReport, type SimulationReport } from '../../simulator/report';
import { runSimulation, type Simulation } from '../../simulator/run';
import { parseScenario } from '../../simulator/scenario';
import { objectAt } from '../../simulator/services/s3';
import { synthDeployment, type SimDeployment } from '../../simulator/synth';
import { physicalId, resourcesOfType } from '../../simulator/template';
import { runProblems } from '../simulator/report-checks';

const ROOT = path.join(__dirname, '..', '..');
const CONFIG = 'examples/build-once.json';
const COMMIT = '3f1c2a9d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39';
const BUILD = 'BuildMoolloy';
const RUN_WORKERS = ['RunWorkerA', 'RunWorkerB'] as const;
const NAMESPACE = 'Moolloy';

let deployment: SimDeployment;
let dir: string;
/** The example with its commit parameter's pattern taken out (only CheckArtifact stands between a branch name and the build). */
let noPatternConfig: string;
let noPatternDeployment: SimDeployment;

beforeAll(() => {
  deployment = synthDeployment(loadPipelineConfig(path.join(ROOT, CONFIG)));
  dir = mkdtempSync(path.join(tmpdir(), 'build-stage-'));
  const raw = JSON.parse(readFileSync(path.join(ROOT, CONFIG), 'utf8')) as { code: string; params: { commit: { pattern?: string } } };
  delete raw.params.commit.pattern;
  raw.code = path.join(ROOT, 'examples', 'build-once');
  noPatternConfig = path.join(dir, 'no-pattern.json');
  writeFileSync(noPatternConfig, JSON.stringify(raw));
  noPatternDeployment = synthDeployment(loadPipelineConfig(noPatternConfig));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The example run for COMMIT, with the scenario's faults. */
async function rehearse(scenario: Record<string, unknown>, options: { deployment?: SimDeployment } = {}): Promise<{ sim: Simulation; report: SimulationReport }> {
  const parsed = parseScenario({ config: CONFIG, input: { mode: 'full', params: { commit: COMMIT } }, ...scenario });
  const sim = await runSimulation(parsed, { deployment: options.deployment ?? deployment, baseDir: ROOT });
  return { sim, report: buildReport(sim) };
}

const phase = (report: SimulationReport, name: string): PhaseReport => {
  const found = report.phases.find((p) => p.name === name);
  if (!found) throw new Error(`no phase ${name} in the report`);
  return found;
};

/** Where the artifact of COMMIT belongs (contract/storage.ts): the stack's one bucket, the pipeline's artifacts prefix. */
function artifactLocation(sim: Simulation): { bucket: string; key: string; uri: string } {
  const buckets = resourcesOfType(deployment.template, 'AWS::S3::Bucket');
  expect(buckets).toHaveLength(1);
  const bucket = physicalId(...buckets[0]!);
  const key = artifactKey(sim.config.pipelineName, 'moolloy', COMMIT);
  return { bucket, key, uri: `s3://${bucket}/${key}` };
}

/** The commands SSM ran for a phase, in order, as the simulated cloud recorded them. */
const commandsOf = (sim: Simulation, name: string) => sim.cloud.invocations.filter((i) => i.phase === name);

/** The states every run of the pipeline execution (the original, then each redrive) entered. */
const pipelineStates = (sim: Simulation) => sim.pipelineRuns.flatMap((run) => run.events.filter((e) => e.type === 'StateEntered').map((e) => e.state!.name));

/** Builds that ran to success in the cloud: each one uploaded the artifact. */
const successfulBuilds = (report: SimulationReport) => report.phases.flatMap((p) => p.launches.filter((l) => p.kind === 'build' && l.cloud.workload === 'succeeded'));

const interruptionData = (report: SimulationReport) => report.metrics.filter((m) => m.name === METRICS.spotInterruptionRetry.name);

describe('a new commit is built once, then the run workers use it', () => {
  it('builds the commit on spot, uploads it with its sha256, and both run workers start after the build and verify that jar', async () => {
    // Prepare
    const scenario = { artifacts: { moolloy: { buildMinutes: 12 } }, phases: { RunWorkerA: { workloadMinutes: 20 }, RunWorkerB: { workloadMinutes: 25 } } };

    // Act
    const { sim, report } = await rehearse(scenario);

    // Assess
    expect(runProblems(report, NAMESPACE)).toEqual([]);
    expect(report.status).toBe('SUCCEEDED');
    expect(report.artifacts).toEqual([{ name: 'moolloy', version: COMMIT, built: true, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    const build = phase(report, BUILD);
    expect(build).toMatchObject({ kind: 'build', status: 'SUCCEEDED', attempts: 1, relaunches: 0 });
    expect(build.launches[0]!.cloud).toMatchObject({ workload: 'succeeded', workloadsStarted: 1 });
    // The object in S3 is the one the build's instance uploaded, with the sha256 the report names.
    const where = artifactLocation(sim);
    const stored = objectAt(sim.cloud, where.bucket, where.key, sim.endedAt);
    expect(stored?.writtenBy).toBe(build.launches[0]!.instanceId);
    expect(stored?.metadata?.[SHA256_METADATA]).toBe(report.artifacts[0]!.sha256);
    expect(stored?.sha256, 'the bytes stored are the bytes whose sha256 was recorded').toBe(report.artifacts[0]!.sha256);
    const buildEnd = build.launches.at(-1)!.end;
    for (const name of RUN_WORKERS) {
      const worker = phase(report, name);
      expect(worker, name).toMatchObject({ kind: 'phase', status: 'SUCCEEDED', attempts: 1 });
      expect(worker.launches[0]!.start, `${name} launched before the build ended`).toBeGreaterThanOrEqual(buildEnd);
      expect(worker.launches[0]!.cloud).toMatchObject({ workload: 'succeeded', workloadsStarted: 1 });
      // Its instance came up after the jar was in S3, and its runner was handed that jar to verify.
      const instance = sim.cloud.instances.find((i) => i.id === worker.launches[0]!.instanceId)!;
      expect(instance.launchedAt).toBeGreaterThanOrEqual(stored!.writtenAt);
      const [command] = commandsOf(sim, name);
      expect(command!.runner?.failure).toBeUndefined();
      expect(command!.runner?.env.PIPELINE_ARTIFACTS).toBe(`moolloy|${where.uri}|${report.artifacts[0]!.sha256}`);
    }
    // Only the build built.
    expect(sim.cloud.invocations.filter((i) => i.runner?.build).map((i) => i.phase)).toEqual([BUILD]);
    expect(report.instances.launched).toBe(3);
  });
});

describe('a commit built by an earlier run', () => {
  it('skips the build stage (nothing launched for it) and the run workers use the stored jar', async () => {
    // Prepare
    const scenario = { artifacts: { moolloy: { present: true } } };

    // Act
    const { sim, report } = await rehearse(scenario);

    // Assess
    expect(runProblems(report, NAMESPACE)).toEqual([]);
    expect(report.status).toBe('SUCCEEDED');
    expect(phase(report, BUILD)).toMatchObject({ kind: 'build', status: 'SKIPPED', attempts: 0, launches: [] });
    expect(report.artifacts).toEqual([{ name: 'moolloy', version: COMMIT, built: false, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    expect(sim.cloud.instances.filter((i) => i.phase === BUILD)).toEqual([]);
    expect(sim.cloud.invocations.some((i) => i.runner?.build)).toBe(false);
    expect(report.instances.launched).toBe(2);
    for (const name of RUN_WORKERS) {
      const worker = phase(report, name);
      expect(worker, name).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
      expect(worker.launches[0]!.cloud).toMatchObject({ workload: 'succeeded', workloadsStarted: 1 });
      expect(commandsOf(sim, name)[0]!.runner?.env.PIPELINE_ARTIFACTS).toBe(`moolloy|${artifactLocation(sim).uri}|${report.artifacts[0]!.sha256}`);
    }
  });

  it('a stored jar whose bytes no longer match its sha256: the run workers refuse it, run nothing, are never relaunched, and the pipeline fails', async () => {
    // Prepare
    const scenario = { artifacts: { moolloy: { present: true, corrupt: true } } };

    // Act
    const { sim, report } = await rehearse(scenario);

    // Assess
    expect(runProblems(report, NAMESPACE)).toEqual([]);
    expect(report.status).toBe('FAILED');
    expect(report.cause).toContain('ArtifactIntegrityFailed');
    expect(phase(report, BUILD).status).toBe('SKIPPED');
    for (const name of RUN_WORKERS) {
      const worker = phase(report, name);
      // The first refusal fails the Parallel, which stops the other branch's execution (ABORTED) whichever came second.
      expect(worker.status, name).toBe('FAILED');
      expect(['ArtifactIntegrityFailed', 'ABORTED'], `${name}: ${String(worker.error)}`).toContain(worker.error);
      expect(worker.launches, name).toHaveLength(1);
      expect(worker.relaunches).toBe(0);
      expect(worker.launches[0]!.cloud).toMatchObject({ workload: 'not-run', workloadsStarted: 0 });
      // Every command the cloud ran for it was refused by the runner on the sha256.
      const commands = commandsOf(sim, name);
      expect(commands.length).toBeGreaterThanOrEqual(1);
      for (const c of commands) expect(c.runner?.failure?.line).toMatch(/^ArtifactIntegrityFailed: moolloy .* has sha256 [0-9a-f]{64}, expected [0-9a-f]{64}/);
    }
    expect(RUN_WORKERS.map((n) => phase(report, n).error)).toContain('ArtifactIntegrityFailed');
    expect(interruptionData(report)).toEqual([]);
  });
});

describe('a build that fails', () => {
  it('buildExitCode 1: the build phase fails WorkloadFailed, no artifact is recorded, the run workers never run', async () => {
    // Prepare
    const scenario = { artifacts: { moolloy: { buildExitCode: 1, buildMinutes: 5 } } };

    // Act
    const { sim, report } = await rehearse(scenario);

    // Assess
    expect(runProblems(report, NAMESPACE)).toEqual([]);
    expect(report.status).toBe('FAILED');
    const build = phase(report, BUILD);
    expect(build).toMatchObject({ kind: 'build', status: 'FAILED', error: 'WorkloadFailed', attempts: 1, relaunches: 0 });
    expect(build.launches[0]!.cloud).toMatchObject({ workload: 'exited', workloadsStarted: 1 });
    for (const name of RUN_WORKERS) expect(phase(report, name), name).toMatchObject({ status: 'NOT_RUN', attempts: 0 });
    expect(report.artifacts).toEqual([]);
    const where = artifactLocation(sim);
    expect(objectAt(sim.cloud, where.bucket, where.key, sim.endedAt)).toBeUndefined();
    expect(pipelineStates(sim)).not.toContain(`Record${BUILD}`);
    expect(report.instances.launched).toBe(1);
  });
});

describe('a commit that is not a commit', () => {
  it.each([
    ['a branch name', { commit: 'main' }, 'params.commit: must match'],
    ['no commit', {}, 'params.commit: is required'],
  ])('%s: ValidateInput refuses it (the declared pattern) with InvalidExecutionInput before anything launches', async (_what, params, cause) => {
    // Prepare
    const scenario = { input: { mode: 'full', params } };

    // Act
    const { sim, report } = await rehearse(scenario);

    // Assess
    expect(report.status).toBe('FAILED');
    expect(report.error).toBe('InvalidExecutionInput');
    expect(report.cause).toContain(cause);
    expect(report.instances.launched).toBe(0);
    expect(pipelineStates(sim)).toEqual(['ValidateInput']);
    expect(report.phases.map((p) => p.status)).toEqual(['NOT_RUN', 'NOT_RUN', 'NOT_RUN']);
    expect(report.apiCalls['S3.HeadObject'] ?? 0).toBe(0);
    expect(report.artifacts).toEqual([]);
  });

  it('with no pattern declared, a branch name passes ValidateInput and CheckArtifact fails ArtifactVersionUnknown: nothing launched', async () => {
    // Prepare
    const scenario = { config: noPatternConfig, input: { mode: 'full', params: { commit: 'main' } } };

    // Act
    const { sim, report } = await rehearse(scenario, { deployment: noPatternDeployment });

    // Assess
    expect(report.status).toBe('FAILED');
    expect(report.error).toBe('ArtifactVersionUnknown');
    expect((JSON.parse(report.cause!) as { errorMessage: string }).errorMessage).toBe('build BuildMoolloy: parameter commit must be a full commit SHA (40 hex characters), got "main"');
    expect(pipelineStates(sim)).toEqual(['ValidateInput', `Check${BUILD}`]);
    expect(report.instances.launched).toBe(0);
    expect(['EC2.RunInstances', 'EC2.CreateFleet'].filter((c) => sim.cloud.calls.has(c))).toEqual([]);
    // The build stage failed in its own state: the report says so, with the error.
    expect(report.phases.map((p) => p.status)).toEqual(['FAILED', 'NOT_RUN', 'NOT_RUN']);
    expect(report.phases[0]).toMatchObject({ kind: 'build', error: 'ArtifactVersionUnknown', attempts: 0 });
    expect(runProblems(report, NAMESPACE)).toEqual([]);
    expect(report.artifacts).toEqual([]);
  });

  it('a preflight of a pipeline whose build is not in the bucket builds nothing, records nothing, and passes (the tools are what it checks)', async () => {
    // Prepare
    const scenario = { input: { mode: 'preflight', params: { commit: COMMIT } } };

    // Act
    const { sim, report } = await rehearse(scenario);

    // Assess
    expect(report.status).toBe('SUCCEEDED');
    expect(report.artifacts).toEqual([]);
    expect(sim.cloud.invocations.every((i) => i.runner?.build === undefined && !(i.runner?.env.PIPELINE_ARTIFACTS ?? ''))).toBe(true);
    expect(runProblems(report, NAMESPACE)).toEqual([]);
  });

  it('a preflight with the build in the bucket verifies it on the run workers', async () => {
    // Prepare
    const scenario = { input: { mode: 'preflight', params: { commit: COMMIT } }, artifacts: { moolloy: { present: true, corrupt: true } } };

    // Act
    const { report } = await rehearse(scenario);

    // Assess: a corrupt stored jar is caught on Friday, before Saturday.
    expect(report.status).toBe('FAILED');
    expect(report.cause).toContain('ArtifactIntegrityFailed');
  });
});

describe('faults around the build', () => {
  it('the build instance reclaimed mid-build, CheckArtifact responses lost, HeadObject throttled: relaunched, built exactly once, the run workers succeed', async () => {
    // Prepare: the build (12 min) loses its instance at minute 6; two CheckArtifact responses are
    // lost after the work was done; the first three HeadObject calls are throttled.
    const scenario = {
      artifacts: { moolloy: { buildMinutes: 12 } },
      phases: { BuildMoolloy: { attempts: [{ interruptAtMinute: 6 }] }, RunWorkerA: { workloadMinutes: 20 }, RunWorkerB: { workloadMinutes: 20 } },
      lostResponses: { 'check-artifact': 2 },
      throttle: { 'S3.HeadObject': 3 },
    };

    // Act
    const { sim, report } = await rehearse(scenario);

    // Assess
    expect(runProblems(report, NAMESPACE)).toEqual([]);
    expect(report.status).toBe('SUCCEEDED');
    const build = phase(report, BUILD);
    expect(build).toMatchObject({ status: 'SUCCEEDED', attempts: 2, relaunches: 1, interruptions: 1 });
    expect(build.launches.map((l) => [l.outcome, l.cloud.workload, l.cloud.terminatedBy])).toEqual([
      ['interrupted', 'cut-off', 'spot'],
      ['succeeded', 'succeeded', 'pipeline'],
    ]);
    expect(interruptionData(report).map((m) => m.dimensions.Phase)).toEqual([BUILD]);
    // Built exactly once: one build ran to its upload, by the relaunched instance.
    expect(successfulBuilds(report)).toHaveLength(1);
    expect(report.artifacts).toEqual([{ name: 'moolloy', version: COMMIT, built: true, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    const where = artifactLocation(sim);
    expect(objectAt(sim.cloud, where.bucket, where.key, sim.endedAt)?.writtenBy).toBe(build.launches[1]!.instanceId);
    // The faults happened: 3 throttled HeadObjects, and at least 3 CheckArtifact checks + 1 record got through to S3.
    expect(report.throttledCalls['S3.HeadObject']).toBe(3);
    expect((report.apiCalls['S3.HeadObject'] ?? 0) - 3).toBeGreaterThanOrEqual(4);
    const checkRetries = sim.pipeline.events.filter((e) => e.type === 'StateRetried' && e.state?.name === `Check${BUILD}`);
    expect(checkRetries).toHaveLength(2);
    for (const name of RUN_WORKERS) {
      const worker = phase(report, name);
      expect(worker, name).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
      expect(worker.launches[0]!.start).toBeGreaterThanOrEqual(build.launches[1]!.end);
      expect(worker.launches[0]!.cloud.workload).toBe('succeeded');
    }
  });

  it('a redrive after a failed build rebuilds the commit, then the run workers run', async () => {
    // Prepare: the first build attempt exits 1 (a broken build environment, since fixed); the operator redrives 30 minutes later.
    const scenario = { artifacts: { moolloy: { buildMinutes: 12 } }, phases: { BuildMoolloy: { attempts: [{ exitCode: 1 }] } }, redriveAfterMinutes: 30 };

    // Act
    const { sim, report } = await rehearse(scenario);

    // Assess
    expect(runProblems(report, NAMESPACE)).toEqual([]);
    expect(sim.pipelineRuns.map((r) => r.status)).toEqual(['FAILED', 'SUCCEEDED']);
    const build = phase(report, BUILD);
    expect(build.runs.map((r) => [r.status, r.error])).toEqual([
      ['FAILED', 'WorkloadFailed'],
      ['SUCCEEDED', null],
    ]);
    expect(build.launches.map((l) => l.cloud.workload)).toEqual(['exited', 'succeeded']);
    expect(successfulBuilds(report)).toHaveLength(1);
    expect(report.artifacts).toEqual([{ name: 'moolloy', version: COMMIT, built: true, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    // The redrive resumed at the build: its version was not looked up again, and what it built was recorded.
    const redriven = sim.pipelineRuns[1]!.events.filter((e) => e.type === 'StateEntered').map((e) => e.state!.name);
    expect(redriven.slice(0, 3)).toEqual([BUILD, `Record${BUILD}`, 'Parallel2']);
    for (const name of RUN_WORKERS) {
      const worker = phase(report, name);
      expect(worker, name).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
      expect(worker.launches[0]!.start).toBeGreaterThanOrEqual(build.launches[1]!.end);
      expect(worker.launches[0]!.cloud).toMatchObject({ workload: 'succeeded', workloadsStarted: 1 });
    }
  });
});

describe('a run worker relaunched', () => {
  it('downloads and verifies the jar again on its new instance, and runs', async () => {
    // Prepare
    const scenario = { artifacts: { moolloy: { buildMinutes: 12 } }, phases: { RunWorkerA: { workloadMinutes: 20, attempts: [{ interruptAtMinute: 8 }] } } };

    // Act
    const { sim, report } = await rehearse(scenario);

    // Assess
    expect(runProblems(report, NAMESPACE)).toEqual([]);
    expect(report.status).toBe('SUCCEEDED');
    const worker = phase(report, 'RunWorkerA');
    expect(worker).toMatchObject({ status: 'SUCCEEDED', attempts: 2, relaunches: 1 });
    expect(worker.launches.map((l) => [l.outcome, l.cloud.workload, l.cloud.workloadsStarted])).toEqual([
      ['interrupted', 'cut-off', 1],
      ['succeeded', 'succeeded', 1],
    ]);
    expect(new Set(worker.launches.map((l) => l.instanceId)).size).toBe(2);
    // Each instance's runner was handed the jar, verified it and ran the workload.
    const commands = commandsOf(sim, 'RunWorkerA');
    expect(commands.map((c) => c.instanceId)).toEqual(worker.launches.map((l) => l.instanceId));
    for (const c of commands) {
      expect(c.runner?.failure).toBeUndefined();
      expect(c.runner?.env.PIPELINE_ARTIFACTS).toBe(`moolloy|${artifactLocation(sim).uri}|${report.artifacts[0]!.sha256}`);
    }
    expect(successfulBuilds(report)).toHaveLength(1);
    expect(interruptionData(report).map((m) => m.dimensions.Phase)).toEqual(['RunWorkerA']);
  });
});
