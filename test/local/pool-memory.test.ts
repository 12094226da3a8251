/**
 * The pool memory in the rehearsal (the built-in pipeline: every phase launches from the same three
 * types over the same subnets): a pool spot reclaimed an instance from is tried last by the phases after,
 * as the simulated EC2's launch records show.
 */
import { describe, expect, it } from 'vitest';
import { buildReport } from '../../simulator/report';
import { runSimulation } from '../../simulator/run';
import { parseScenario } from '../../simulator/scenario';
import { runProblems } from '../simulator/report-checks';

describe('the pool memory', () => {
  it('a pool that reclaimed DataPhase1 is the last pool Research asks; without the reclaim Research starts in it', async () => {
    // Act
    const reclaimed = await runSimulation(parseScenario({ phases: { DataPhase1: { workloadMinutes: 20, attempts: [{ interruptAtMinute: 5 }] }, Research: { workloadMinutes: 20 }, PredictorTraining: { workloadMinutes: 20 }, Backtester: { workloadMinutes: 20 } } }));
    const clean = await runSimulation(parseScenario({ phases: { DataPhase1: { workloadMinutes: 20 }, Research: { workloadMinutes: 20 }, PredictorTraining: { workloadMinutes: 20 }, Backtester: { workloadMinutes: 20 } } }));

    // Assess
    const firstPool = (sim: typeof clean, phase: string) => sim.cloud.poolOf(sim.cloud.instances.find((i) => i.phase === phase)!);
    const lostPool = firstPool(reclaimed, 'DataPhase1');
    expect(firstPool(clean, 'Research')).toBe(lostPool);
    expect(firstPool(reclaimed, 'Research')).not.toBe(lostPool);
    expect([...reclaimed.cloud.objects.keys()].filter((k) => k.includes('/pools/')).map((k) => k.replace(/\/\d{8}T\d{6}Z_/, '/<time>_').replace(/_[0-9a-f]{16}$/, ''))).toEqual([
      expect.stringMatching(new RegExp(`/saturday-pipeline/pools/${lostPool.split('/')[0]!.replace('.', '\\.')}/subnet-[0-9a-f]+/<time>_interrupted$`)),
    ]);
    expect(runProblems(buildReport(reclaimed))).toEqual([]);
  });
});
