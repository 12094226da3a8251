/**
 * The promotion gate (seed 004) in the rehearsal: examples/train-and-promote.json, its TrainModel
 * phase writing the candidate's metrics, the PromoteModel gate deciding against what the scenario
 * put in production. Judged from the simulated S3 (what production holds after the run, the
 * decision record the gate wrote) and the metric data CloudWatch received.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPipelineConfig } from '../../lib/config/load';
import { buildReport, type SimulationReport } from '../../simulator/report';
import { runSimulation, type Simulation } from '../../simulator/run';
import { parseScenario } from '../../simulator/scenario';
import { synthDeployment, type SimDeployment } from '../../simulator/synth';
import { runProblems } from '../simulator/report-checks';

const ROOT = path.join(__dirname, '..', '..');
const EXAMPLE = path.join(ROOT, 'examples', 'train-and-promote.json');
const PRODUCTION = { accuracy: 0.58, maxDrawdown: 0.12, sharpe: 1.2 };

let deployment: SimDeployment;
let dir: string;
let dryRunConfig: string;
let dryRunDeployment: SimDeployment;
beforeAll(() => {
  deployment = synthDeployment(loadPipelineConfig(EXAMPLE));
  dir = mkdtempSync(path.join(tmpdir(), 'gate-'));
  const raw = JSON.parse(readFileSync(EXAMPLE, 'utf8')) as { code: string; phases: { kind?: string; dryRun?: boolean }[] };
  raw.code = path.join(ROOT, 'examples', raw.code);
  raw.phases[1]!.dryRun = true;
  dryRunConfig = path.join(dir, 'dry-run.json');
  writeFileSync(dryRunConfig, JSON.stringify(raw));
  dryRunDeployment = synthDeployment(loadPipelineConfig(dryRunConfig));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function rehearse(scenario: Record<string, unknown>, options: { config?: string; deployment?: SimDeployment } = {}): Promise<{ sim: Simulation; report: SimulationReport }> {
  const sim = await runSimulation(parseScenario({ config: options.config ?? EXAMPLE, ...scenario }), { deployment: options.deployment ?? deployment });
  return { sim, report: buildReport(sim) };
}

/** What production holds after the run: file name -> body. */
function production(sim: Simulation): Record<string, string> {
  return Object.fromEntries([...sim.cloud.objects].filter(([key]) => key.includes('/daily-training/production/PromoteModel/')).map(([key, o]) => [key.split('/').at(-1)!, o.body ?? '']));
}

const candidate = (metrics: Record<string, unknown>) => ({ TrainModel: { workloadMinutes: 20, writes: { 'metrics.json': metrics, 'model.json': { trees: 200 } } } });
const datum = (report: SimulationReport) => report.metrics.filter((m) => m.name === 'ModelPromoted').map((m) => m.value);

describe('the promotion gate', () => {
  it('promotes a better candidate: production now holds its files, the record and the datum say promoted', async () => {
    // Act
    const { sim, report } = await rehearse({ phases: candidate({ accuracy: 0.61, maxDrawdown: 0.125, sharpe: 1.1 }), production: { PromoteModel: { 'metrics.json': PRODUCTION } } });

    // Assess
    expect(report.gates).toEqual([expect.objectContaining({ name: 'PromoteModel', decision: 'promoted', dryRun: false, copied: 2 })]);
    expect(JSON.parse(production(sim)['metrics.json']!)).toEqual({ accuracy: 0.61, maxDrawdown: 0.125, sharpe: 1.1 });
    expect(Object.keys(production(sim)).sort()).toEqual(['metrics.json', 'model.json']);
    expect(datum(report)).toEqual([1]);
    expect(runProblems(report, 'DailyTraining')).toEqual([]);
  });

  it("leaves production holding exactly the promoted candidate's files: the old model's other files are deleted", async () => {
    // Act
    const { sim, report } = await rehearse({
      phases: candidate({ accuracy: 0.61, maxDrawdown: 0.125, sharpe: 1.1 }),
      production: { PromoteModel: { 'metrics.json': PRODUCTION, 'old-features.json': { columns: 12 } } },
    });

    // Assess
    expect(report.gates[0]).toMatchObject({ decision: 'promoted' });
    expect(Object.keys(production(sim)).sort()).toEqual(['metrics.json', 'model.json']);
    // One file deleted from production, the old model's extra one (the others were replaced, not deleted).
    expect(sim.cloud.objectDeletions.map((d) => d.key).filter((k) => k.includes('/production/'))).toEqual([expect.stringMatching(/\/production\/PromoteModel\/old-features\.json$/)]);
  });

  it('keeps production when a blocking rule fails (an advisory one never blocks): nothing copied, datum 0, the reasons recorded', async () => {
    // Act
    const { sim, report } = await rehearse({ phases: candidate({ accuracy: 0.58, maxDrawdown: 0.1, sharpe: 1.5 }), production: { PromoteModel: { 'metrics.json': PRODUCTION } } });

    // Assess: equal accuracy is no improvement.
    expect(report.gates[0]).toMatchObject({ decision: 'kept', copied: 0 });
    expect(report.gates[0]!.reasons.join('\n')).toContain('accuracy 0.58 = 0.58 (higher is better; must improve): failed');
    expect(JSON.parse(production(sim)['metrics.json']!)).toEqual(PRODUCTION);
    expect(datum(report)).toEqual([0]);
    expect(report.status).toBe('SUCCEEDED');
  });

  it('a drawdown worse by more than 10 % keeps production even with better accuracy', async () => {
    // Act
    const { report } = await rehearse({ phases: candidate({ accuracy: 0.7, maxDrawdown: 0.1321, sharpe: 1.3 }), production: { PromoteModel: { 'metrics.json': PRODUCTION } } });

    // Assess: 0.12 x 1.1 = 0.132 is the most it may be.
    expect(report.gates[0]!.decision).toBe('kept');
  });

  it('promotes the first candidate when production holds nothing yet', async () => {
    // Act
    const { sim, report } = await rehearse({ phases: candidate({ accuracy: 0.5, maxDrawdown: 0.3, sharpe: 0.1 }), production: { PromoteModel: null } });

    // Assess
    expect(report.gates[0]).toMatchObject({ decision: 'promoted', reasons: ['production holds no model yet: the first candidate is promoted'] });
    expect(Object.keys(production(sim)).sort()).toEqual(['metrics.json', 'model.json']);
  });

  it('malformed candidate metrics fail the pipeline with MetricsInvalid naming the file and field; production untouched, no datum', async () => {
    // Act
    const { sim, report } = await rehearse({ phases: candidate({ accuracy: '0.61', maxDrawdown: 0.1, sharpe: 1 }), production: { PromoteModel: { 'metrics.json': PRODUCTION } } });

    // Assess
    expect(report.status).toBe('FAILED');
    expect(report.error).toBe('MetricsInvalid');
    expect(report.cause).toMatch(/TrainModel\/metrics\.json: accuracy: must be a finite number, got \\"0\.61\\"/);
    expect(JSON.parse(production(sim)['metrics.json']!)).toEqual(PRODUCTION);
    expect(report.gates).toEqual([]);
    expect(datum(report)).toEqual([]);
  });

  it('a dry run decides and records, copies nothing, and puts 0', async () => {
    // Act
    const { sim, report } = await rehearse(
      { phases: candidate({ accuracy: 0.7, maxDrawdown: 0.1, sharpe: 2 }), production: { PromoteModel: { 'metrics.json': PRODUCTION } } },
      { config: dryRunConfig, deployment: dryRunDeployment },
    );

    // Assess
    expect(report.gates[0]).toMatchObject({ decision: 'promoted', dryRun: true, copied: 0 });
    expect(JSON.parse(production(sim)['metrics.json']!)).toEqual(PRODUCTION);
    expect(datum(report)).toEqual([0]);
  });

  it('the gate losing its response after promoting: the retry adopts its own record, one decision, one datum', async () => {
    // Act
    const { report } = await rehearse({ lostResponses: { 'promotion-gate': 2 }, throttle: { 'S3.CopyObject': 2 }, phases: candidate({ accuracy: 0.61, maxDrawdown: 0.11, sharpe: 1.3 }), production: { PromoteModel: { 'metrics.json': PRODUCTION } } });

    // Assess: deciding again would have compared the promoted candidate with itself and kept it.
    expect(report.gates[0]).toMatchObject({ decision: 'promoted' });
    expect(datum(report)).toEqual([1]);
    expect(runProblems(report, 'DailyTraining')).toEqual([]);
  });
});
