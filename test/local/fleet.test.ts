/**
 * Fleet launches in the rehearsal (examples/nine-pools.json: three types in three zones), judged
 * from the simulated EC2's records: how many launch calls it answered, where the instances landed.
 * The same scenario under `allocation: rotation` is what the fleet is compared against.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildReport } from '../../simulator/report';
import { runSimulation } from '../../simulator/run';
import { loadScenario, parseScenario } from '../../simulator/scenario';
import { runProblems } from '../simulator/report-checks';

const ROOT = path.join(__dirname, '..', '..');
const SCENARIOS = path.join(ROOT, 'scenarios');
const dir = mkdtempSync(path.join(tmpdir(), 'fleet-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** examples/nine-pools.json, launching by rotation instead. */
function rotationConfig(): string {
  const file = path.join(dir, 'nine-pools-rotation.json');
  writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(path.join(ROOT, 'examples', 'nine-pools.json'), 'utf8')), allocation: 'rotation' }));
  return file;
}

describe('a fleet launch', () => {
  it('eight of nine pools gone: one CreateFleet call finds the ninth (rotation, whose last pool it is, needs nine RunInstances calls)', async () => {
    // Act
    const fleet = await runSimulation(loadScenario(path.join(SCENARIOS, 'fleet-eight-of-nine-gone.json')), { baseDir: SCENARIOS });
    const scenario = JSON.parse(readFileSync(path.join(SCENARIOS, 'fleet-eight-of-nine-gone.json'), 'utf8')) as Record<string, unknown>;
    const rotation = await runSimulation(parseScenario({ ...scenario, config: rotationConfig() }));

    // Assess
    const [f, r] = [buildReport(fleet), buildReport(rotation)];
    expect(f.status).toBe('SUCCEEDED');
    expect(f.apiCalls['EC2.CreateFleet']).toBe(1);
    expect(f.apiCalls['EC2.RunInstances']).toBeUndefined();
    expect(f.phases[0]!.launches.map((l) => l.pool)).toEqual(['m5.large/us-east-1b']);
    expect(r.status).toBe('SUCCEEDED');
    expect(r.apiCalls['EC2.RunInstances']).toBe(9);
    expect(r.apiCalls['EC2.CreateFleet']).toBeUndefined();
    expect(r.phases[0]!.launches.map((l) => l.pool)).toEqual(['m5.large/us-east-1b']);
    expect(runProblems(f, 'NinePools')).toEqual([]);
    expect(runProblems(r, 'NinePools')).toEqual([]);
  });

  it('a relaunch never goes back into the pool spot just reclaimed', async () => {
    // Act
    const sim = await runSimulation(loadScenario(path.join(SCENARIOS, 'fleet-relaunch-elsewhere.json')), { baseDir: SCENARIOS });

    // Assess
    const report = buildReport(sim);
    const [reclaimed, relaunch] = report.phases[0]!.launches;
    expect(reclaimed).toMatchObject({ outcome: 'interrupted' });
    expect(relaunch).toMatchObject({ outcome: 'succeeded' });
    expect(relaunch!.pool).not.toBe(reclaimed!.pool);
    // The relaunch's fleet did not even offer that pool: eight overrides, the reclaimed one left out.
    expect(sim.cloud.calls.get('EC2.CreateFleet')).toBe(2);
    expect(runProblems(report, 'NinePools')).toEqual([]);
  });

  it('chooses the cheapest pool that has capacity, by the scenario\'s prices', async () => {
    // Act
    const sim = await runSimulation(
      parseScenario({
        config: path.join(ROOT, 'examples', 'nine-pools.json'),
        prices: { spot: { 'c5.large/*': 0.05, 'c5a.large/*': 0.05, 'm5.large/us-east-1b': 0.02, 'm5.large/*': 0.04 } },
        phases: { Crunch: { workloadMinutes: 5, attempts: [{ unavailable: ['m5.large/us-east-1b'] }, {}] } },
      }),
    );

    // Assess: m5.large in 1b is cheapest but has no capacity; of the next cheapest (m5.large at 0.04 in 1a and 1c), the first the fleet lists (1c) launches.
    expect(buildReport(sim).phases[0]!.launches.map((l) => l.pool)).toEqual(['m5.large/us-east-1c']);
  });

  it('every pool of the phase\'s own types gone: its secondary types are asked next, in the same attempt, on spot (a call of its own)', async () => {
    // Prepare
    const file = path.join(dir, 'nine-pools-secondary.json');
    const raw = JSON.parse(readFileSync(path.join(ROOT, 'examples', 'nine-pools.json'), 'utf8')) as { phases: Record<string, unknown>[] };
    raw.phases[0] = { ...raw.phases[0], budgetSeconds: 14400, secondaryInstanceTypes: ['c5.xlarge'] };
    writeFileSync(file, JSON.stringify(raw));

    // Act
    const sim = await runSimulation(parseScenario({ config: file, phases: { Crunch: { workloadMinutes: 10, attempts: [{ unavailable: ['c5.large/*', 'c5a.large/*', 'm5.large/*'] }] } } }));

    // Assess
    const report = buildReport(sim);
    expect(report.status).toBe('SUCCEEDED');
    expect(report.phases[0]!.launches.map((l) => [l.outcome, l.pool?.split('/')[0], l.market])).toEqual([['succeeded', 'c5.xlarge', 'spot']]);
    expect(report.apiCalls['EC2.CreateFleet']).toBe(2);
    expect(runProblems(report, 'NinePools')).toEqual([]);
  });
});
