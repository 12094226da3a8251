/**
 * The data plane in the rehearsal: the built-in Saturday pipeline, synthesized once (its code
 * archive published to the simulated S3 as `cdk deploy` would), run with the real handlers against
 * the simulated cloud. Every assertion reads what the simulated cloud recorded: what the runner on
 * each instance restored, saved, refused and uploaded.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SATURDAY_PIPELINE, SATURDAY_PIPELINE_DIR } from '../../lib/config/defaults';
import { loadPipelineConfig } from '../../lib/config/load';
import { buildReport, type SimulationReport } from '../../simulator/report';
import { runSimulation, type Simulation } from '../../simulator/run';
import { parseScenario } from '../../simulator/scenario';
import { synthDeployment, type SimDeployment } from '../../simulator/synth';
import { runProblems } from '../simulator/report-checks';

let deployment: SimDeployment;
beforeAll(() => {
  deployment = synthDeployment(loadPipelineConfig());
});

async function rehearse(scenario: unknown): Promise<{ sim: Simulation; report: SimulationReport }> {
  const sim = await runSimulation(parseScenario(scenario), { deployment });
  const report = buildReport(sim);
  expect(runProblems(report, 'AlphaEngine', { reaperMayAct: true })).toEqual([]);
  return { sim, report };
}

const phase = (report: SimulationReport, name: string) => report.phases.find((p) => p.name === name)!;

describe('checkpoints make a relaunch resume', () => {
  it('interrupted at minute 40 of 60 with saves every 10 minutes: the relaunch resumes from at least minute 38, nothing lost', async () => {
    // Prepare
    const scenario = { phases: { DataPhase1: { workloadMinutes: 60, checkpointEveryMinutes: 10, attempts: [{ interruptAtMinute: 40 }] } } };

    // Act
    const { report } = await rehearse(scenario);

    // Assess
    const data = phase(report, 'DataPhase1');
    expect(data.status).toBe('SUCCEEDED');
    expect(data.launches.map((l) => l.resumedFromSeconds)).toEqual([0, expect.any(Number)]);
    expect(data.launches[1]!.resumedFromSeconds).toBeGreaterThanOrEqual(38 * 60);
    expect(data.launches[1]!.resumedFromSeconds).toBeLessThanOrEqual(41 * 60);
    expect(data.workLostSeconds).toBe(0);
    expect(data.launches[0]!.cloud.workload).toBe('cut-off');
  });

  it('without checkpointing the relaunch starts from 0, and the work done is reported lost', async () => {
    // Prepare
    const scenario = { phases: { DataPhase1: { workloadMinutes: 30, attempts: [{ interruptAtMinute: 20 }] } } };

    // Act
    const { report } = await rehearse(scenario);

    // Assess
    const data = phase(report, 'DataPhase1');
    expect(data.status).toBe('SUCCEEDED');
    expect(data.launches.map((l) => l.resumedFromSeconds)).toEqual([0, 0]);
    expect(data.workLostSeconds).toBeGreaterThanOrEqual(20 * 60);
    expect(data.workLostSeconds).toBeLessThanOrEqual(21 * 60);
  });

  it('the checkpoint lets a relaunch fit a budget a whole attempt no longer fits (the workload reported its progress)', async () => {
    // Prepare: DataPhase1 (budget 90 min, work deadline at 85, attempt 40 min) gets the notice at
    // minute 41 of 50 of its workload (43 of the phase) and loses the instance at 45: 37 minutes
    // are left after the backoff and counting, too few for a whole attempt, enough for the 9
    // minutes of work left.
    const withCheckpoint = { phases: { DataPhase1: { workloadMinutes: 50, checkpointEveryMinutes: 5, attempts: [{ interruptAtMinute: 41 }] } } };
    const without = { phases: { DataPhase1: { workloadMinutes: 50, attempts: [{ interruptAtMinute: 41 }] } } };

    // Act
    const resumed = await rehearse(withCheckpoint);
    const restarted = await rehearse(without);

    // Assess
    expect(phase(resumed.report, 'DataPhase1')).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
    expect(phase(restarted.report, 'DataPhase1')).toMatchObject({ status: 'FAILED', error: 'SpotRetryBudgetExhausted', attempts: 1 });
    expect(resumed.report.apiCalls['S3.GetObject']).toBeGreaterThanOrEqual(1);
  });

  it('a redrive after the phase gave up resumes from the same checkpoint (same pipeline execution, same location)', async () => {
    // Prepare: every attempt of DataPhase1 is reclaimed 15 minutes in until the budget is spent; the operator redrives.
    const reclaimed = Array.from({ length: 4 }, () => ({ interruptAtMinute: 15 }));
    const scenario = { redriveAfterMinutes: 30, phases: { DataPhase1: { workloadMinutes: 80, checkpointEveryMinutes: 10, attempts: reclaimed } } };

    // Act
    const { report } = await rehearse(scenario);

    // Assess: each attempt resumes further on; the redrive's first attempt picks up where the last save was.
    const launches = phase(report, 'DataPhase1').launches.filter((l) => l.resumedFromSeconds !== null);
    const resumed = launches.map((l) => l.resumedFromSeconds!);
    expect(resumed[0]).toBe(0);
    for (let i = 1; i < resumed.length; i++) expect(resumed[i]).toBeGreaterThan(resumed[i - 1]!);
    const redriven = phase(report, 'DataPhase1').launches.find((l) => l.execution.endsWith('-r1'));
    expect(redriven?.resumedFromSeconds).toBeGreaterThan(0);
    expect(report.status).toBe('SUCCEEDED');
  });
});

describe('code, secrets and outputs', () => {
  it('a corrupt code archive fails the phase as ArtifactIntegrityFailed: no workload ran, no relaunch', async () => {
    // Prepare
    const scenario = { artifacts: { code: { corrupt: true } } };

    // Act
    const { report } = await rehearse(scenario);

    // Assess
    const data = phase(report, 'DataPhase1');
    expect(data).toMatchObject({ status: 'FAILED', error: 'ArtifactIntegrityFailed', attempts: 1 });
    expect(data.launches[0]!.cloud).toMatchObject({ workload: 'not-run', workloadsStarted: 0 });
    expect(data.cause).toContain('ArtifactIntegrityFailed: code from s3://cdk-hnb659fds-assets-');
    expect(report.workloadsRun).toBe(0);
    expect(phase(report, 'Research').status).toBe('NOT_RUN');
  });

  it('a secret the instance cannot read fails the phase as SecretUnavailable, naming it, before anything runs', async () => {
    // Prepare: a config whose Research phase declares a secret the account does not hold.
    const raw = structuredClone(SATURDAY_PIPELINE);
    (raw.phases[1] as { secrets?: Record<string, string> }).secrets = { DB_PASSWORD: 'ssm:/alpha/db-password' };
    raw.code = path.join(SATURDAY_PIPELINE_DIR, 'workloads', 'saturday');
    const dir = mkdtempSync(path.join(tmpdir(), 'data-plane-'));
    const file = path.join(dir, 'pipeline.json');
    writeFileSync(file, JSON.stringify(raw));
    const scenario = { config: file, secretsUnavailable: ['ssm:/alpha/db-password'] };

    // Act
    const sim = await runSimulation(parseScenario(scenario), { deployment: synthDeployment(loadPipelineConfig(file)) });
    const report = buildReport(sim);
    rmSync(dir, { recursive: true, force: true });

    // Assess
    expect(phase(report, 'DataPhase1').status).toBe('SUCCEEDED');
    expect(phase(report, 'Research')).toMatchObject({ status: 'FAILED', error: 'SecretUnavailable', attempts: 1 });
    expect(phase(report, 'Research').cause).toContain('SecretUnavailable: DB_PASSWORD from ssm:/alpha/db-password');
    expect(runProblems(report)).toEqual([]);
  });

  it('a declared tool missing on the instance fails the phase at once, naming it, and the Friday preflight catches it first', async () => {
    // Prepare: the Saturday phases declare python3 (lib/config/defaults.ts).
    const scenario = { toolsMissing: ['python3'] };

    // Act
    const saturday = await rehearse(scenario);
    const friday = await rehearse({ ...scenario, mode: 'preflight' });

    // Assess
    expect(phase(saturday.report, 'DataPhase1')).toMatchObject({ status: 'FAILED', error: 'WorkloadFailed', attempts: 1 });
    expect(phase(saturday.report, 'DataPhase1').cause).toContain('MissingTool: the instance lacks python3');
    expect(saturday.report.workloadsRun).toBe(0);
    expect(friday.report.status).toBe('FAILED');
    expect(phase(friday.report, 'DataPhase1').cause).toContain('MissingTool: the instance lacks python3');
  });

  it('each phase leaves its outputs under runs/<runDate>/<execution>/<phase>/; a preflight proves the bucket writable', async () => {
    // Prepare
    const full = { phases: { PredictorTraining: { writes: { 'metrics.json': { accuracy: 0.61 } } }, Backtester: { writes: { 'backtest.json': { finalEquity: 1.04 } } } } };

    // Act
    const { report } = await rehearse(full);
    const preflight = await rehearse({ mode: 'preflight' });

    // Assess
    const keys = report.outputs.map((o) => o.key.replace(/^[^/]+\//, ''));
    expect(keys).toEqual(['saturday-pipeline/runs/2026-05-30/saturday-run/PredictorTraining/metrics.json', 'saturday-pipeline/runs/2026-05-30/saturday-run/Backtester/backtest.json']);
    expect(preflight.report.outputs.map((o) => o.key.split('/').slice(-2).join('/'))).toEqual([
      'DataPhase1/preflight-probe.txt',
      'Research/preflight-probe.txt',
      'PredictorTraining/preflight-probe.txt',
      'Backtester/preflight-probe.txt',
    ]);
  });

  it('every launch names its phase\'s own instance profile, which the stack created', async () => {
    // Act
    const { sim } = await rehearse({});

    // Assess
    for (const instance of sim.cloud.instances) {
      expect(instance.instanceProfileArn).toMatch(new RegExp(`:instance-profile/SimulatedStack-Workers${instance.phase}Profile`));
      expect(sim.cloud.instanceProfiles).toContain(instance.instanceProfileArn);
    }
  });
});
