/**
 * The cost of a run in the rehearsal: the report prices every instance-second by the scenario's
 * `prices` (judged from the simulated EC2's launch and termination times), and the pipeline's own
 * figures (FinishPhase's summary, HandleFailure's attempt records, read from the spot price history
 * the simulated EC2 answers) agree with it.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PhaseSummary } from '../../lambdas/finish-phase';
import { buildReport } from '../../simulator/report';
import { runSimulation } from '../../simulator/run';
import { parseScenario } from '../../simulator/scenario';
import { runProblems } from '../simulator/report-checks';

const ROOT = path.join(__dirname, '..', '..');
const CONFIG = path.join(ROOT, 'examples', 'on-demand-fallback.json');
const HOUR = 3_600_000;

describe('the cost of a run', () => {
  it('is every instance-second at the scenario prices; the pipeline\'s own phase cost agrees; the interrupted attempt is wasted', async () => {
    // Act: Features clean; TrainModel reclaimed at minute 40, then its last attempt on-demand.
    const sim = await runSimulation(
      parseScenario({
        config: CONFIG,
        prices: { spot: { 'c5.large/*': 0.03, 'c5a.large/*': 0.034, 'm5.large/*': 0.04, 'c5.2xlarge/*': 0.12, 'c5a.2xlarge/*': 0.11, 'm5.2xlarge/*': 0.13 }, onDemand: { 'c5a.2xlarge': 0.308 } },
        phases: { Features: { workloadMinutes: 30 }, TrainModel: { workloadMinutes: 60, attempts: [{ interruptAtMinute: 40 }] } },
      }),
    );
    const report = buildReport(sim);

    // Assess: the report, from the cloud's record.
    const lived = (id: string) => {
      const i = sim.cloud.instances.find((x) => x.id === id)!;
      return (i.terminatedAt! - i.launchedAt) / HOUR;
    };
    const [features, train] = report.phases;
    expect(features!.launches.map((l) => l.costUsd)).toEqual([expect.closeTo(lived(features!.launches[0]!.instanceId!) * price(features!.launches[0]!.pool!), 5)]);
    const [reclaimed, onDemand] = train!.launches;
    expect(reclaimed!.market).toBe('spot');
    expect(onDemand).toMatchObject({ market: 'on-demand', pool: expect.stringMatching(/^c5a\.2xlarge\//) });
    expect(onDemand!.costUsd).toBeCloseTo(lived(onDemand!.instanceId!) * 0.308, 5);
    expect(report.wastedUsd).toBeCloseTo(reclaimed!.costUsd!, 6);
    expect(report.costUsd).toBeCloseTo(features!.costUsd + train!.costUsd, 6);
    expect(runProblems(report, 'WeeklyTraining')).toEqual([]);

    // Assess: the pipeline's own figures, from the spot price history and the on-demand table.
    const output = sim.pipeline.output as { phases: Record<string, { summary: PhaseSummary }> };
    expect(output.phases.Features!.summary.costUsd).toBeCloseTo(features!.costUsd, 3);
    const trainSummary = output.phases.TrainModel!.summary;
    expect(trainSummary.launches.at(-1)!.costUsd).toBeCloseTo(onDemand!.costUsd!, 3);
    // HandleFailure prices the reclaimed attempt up to when it saw it end: at least what the cloud counted.
    expect(trainSummary.wastedUsd).toBeGreaterThanOrEqual(reclaimed!.costUsd! - 1e-6);
    expect(trainSummary.wastedUsd).toBeLessThan(reclaimed!.costUsd! + (5 / 60) * price(reclaimed!.pool!));
  });
});

/** The spot prices the scenario above sets, by pool. */
function price(pool: string): number {
  const table: Record<string, number> = { 'c5.large': 0.03, 'c5a.large': 0.034, 'm5.large': 0.04, 'c5.2xlarge': 0.12, 'c5a.2xlarge': 0.11, 'm5.2xlarge': 0.13 };
  return table[pool.split('/')[0]!]!;
}
