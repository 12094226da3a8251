import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadPipelineConfig } from '../../lib/config/load';
import { buildReport } from '../../simulator/report';
import { runSimulation } from '../../simulator/run';
import { loadScenario } from '../../simulator/scenario';
import { synthDeployment, type SimDeployment } from '../../simulator/synth';

let deployment: SimDeployment;
beforeAll(() => {
  deployment = synthDeployment(loadPipelineConfig());
});

describe('virtual time', () => {
  it('runs a full Saturday with two interruptions (hours of simulated time) in under 5 seconds', async () => {
    // Prepare
    const scenario = loadScenario(path.join(__dirname, '..', '..', 'scenarios', 'two-interruptions-long-saturday.json'));

    // Act
    const sim = await runSimulation(scenario, { deployment });
    const report = buildReport(sim);

    // Assess
    expect(report.status).toBe('SUCCEEDED');
    expect(report.phases.reduce((n, p) => n + p.interruptions, 0)).toBe(2);
    expect(report.simulatedSeconds).toBeGreaterThan(4 * 3600);
    expect(sim.realMs).toBeLessThan(5000);
  });
});
