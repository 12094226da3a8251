/**
 * Sharded phases in the rehearsal (seeds 000 and 003): the synthesized state machines run in
 * aws-local-stepfunctions with the real handlers against the simulated cloud. Judged from what the
 * simulated cloud recorded (instances, when they lived, what each workload did, the objects
 * uploaded, the metric data) and the executions Step Functions ran, not from the pipeline's labels.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TAG } from '../../contract/tags';
import { loadPipelineConfig } from '../../lib/config/load';
import { buildReport, type SimulationReport } from '../../simulator/report';
import { runSimulation, type Simulation } from '../../simulator/run';
import { parseScenario } from '../../simulator/scenario';
import { shardOf } from '../../simulator/step-functions';
import { synthDeployment, type SimDeployment } from '../../simulator/synth';
import { runProblems } from '../simulator/report-checks';

const SHARDS = ['btc', 'eth', 'sol', 'xrp', 'ada'];
const research = (extra: Record<string, unknown>) => ({
  name: 'Research',
  workloadCommand: 'python3 research.py --symbol "$PIPELINE_SHARD"',
  instanceTypes: ['c5.large', 'c5a.large'],
  budgetSeconds: 7200,
  attemptSeconds: 4500,
  tools: ['python3'],
  shards: SHARDS,
  ...extra,
});
const report = { name: 'Report', workloadCommand: 'python3 report.py', instanceTypes: ['c5.large'], budgetSeconds: 1800, attemptSeconds: 900 };

const CONFIGS = {
  allAtOnce: { pipelineName: 'fanout', phases: [research({ maxConcurrency: 5 }), report] },
  twoAtATime: { pipelineName: 'fanout', phases: [research({ maxConcurrency: 2 }), report] },
  tolerant: { pipelineName: 'fanout', phases: [research({ maxConcurrency: 5, toleratedFailures: 1 }), report] },
  pairs: { pipelineName: 'fanout', phases: [research({ shards: ['a', 'b', 'c', 'd'], maxConcurrency: 2, budgetSeconds: 3600, attemptSeconds: 1500 })] },
};
type ConfigName = keyof typeof CONFIGS;

let dir: string;
const files = {} as Record<ConfigName, string>;
const deployments = {} as Record<ConfigName, SimDeployment>;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'shards-'));
  for (const [name, config] of Object.entries(CONFIGS) as [ConfigName, unknown][]) {
    files[name] = path.join(dir, `${name}.json`);
    writeFileSync(files[name], JSON.stringify({ ...(config as object), schedules: { enabled: false } }));
    deployments[name] = synthDeployment(loadPipelineConfig(files[name]));
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function rehearse(config: ConfigName, scenario: Record<string, unknown>): Promise<{ sim: Simulation; report: SimulationReport }> {
  const sim = await runSimulation(parseScenario({ config: files[config], ...scenario }), { deployment: deployments[config] });
  return { sim, report: buildReport(sim) };
}

const MINUTE = 60_000;
const hourLong = { Research: { workloadMinutes: 60 }, Report: { workloadMinutes: 5 } };

/** The most instances of a phase alive at one moment, from the cloud's launch and termination times. */
function mostAtOnce(sim: Simulation, phase: string): number {
  const spans = sim.cloud.instances.filter((i) => i.phase === phase).map((i) => [i.launchedAt, i.terminatedAt ?? Infinity] as const);
  return Math.max(...spans.map(([start]) => spans.filter(([s, e]) => s <= start && start < e).length));
}

/** Workload commands SSM ran, per shard of a phase (the instances' shard tags). */
function workloadsPerShard(sim: Simulation, phase: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const inv of sim.cloud.invocations.filter((i) => i.phase === phase && i.mode === 'full')) counts[inv.shard ?? '-'] = (counts[inv.shard ?? '-'] ?? 0) + 1;
  return counts;
}

describe('a sharded phase runs its shards side by side', () => {
  it('five one-hour shards at maxConcurrency 5 finish within 1.1 x (one shard + boot), each on its own instance, spread over the AZs', async () => {
    // Act
    const { sim, report: r } = await rehearse('allAtOnce', { phases: hourLong });

    // Assess
    expect(r.status).toBe('SUCCEEDED');
    const instances = sim.cloud.instances.filter((i) => i.phase === 'Research');
    expect(instances.map((i) => i.tags[TAG.shard]).sort()).toEqual([...SHARDS].sort());
    const start = Math.min(...instances.map((i) => i.launchedAt));
    const end = Math.max(...instances.map((i) => i.terminatedAt!));
    const bootMinutes = 2; // the simulator's default boot
    expect((end - start) / MINUTE).toBeLessThanOrEqual(1.1 * (60 + bootMinutes));
    expect(mostAtOnce(sim, 'Research')).toBe(5);
    expect(new Set(instances.map((i) => i.availabilityZone)).size).toBeGreaterThan(1);
    expect(r.phases[0]!.shards!.map((s) => [s.name, s.status, s.attempts])).toEqual(SHARDS.map((s) => [s, 'SUCCEEDED', 1]));
    expect(runProblems(r)).toEqual([]);
  });

  it('maxConcurrency 2 never has more than two shards alive, and runs all five', async () => {
    // Act
    const { sim, report: r } = await rehearse('twoAtATime', { phases: { Research: { workloadMinutes: 30 }, Report: { workloadMinutes: 5 } } });

    // Assess
    expect(r.status).toBe('SUCCEEDED');
    expect(mostAtOnce(sim, 'Research')).toBe(2);
    expect(workloadsPerShard(sim, 'Research')).toEqual(Object.fromEntries(SHARDS.map((s) => [s, 1])));
    expect(runProblems(r)).toEqual([]);
  });

  it('each shard sees its own PIPELINE_SHARD and uploads its outputs under <phase>/<shard>/', async () => {
    // Act
    const { sim, report: r } = await rehearse('allAtOnce', { phases: { Research: { workloadMinutes: 10, writes: { 'signals.json': { ok: true } } }, Report: { workloadMinutes: 5 } } });

    // Assess: the commands exported the shard; the objects landed per shard.
    expect(r.status).toBe('SUCCEEDED');
    for (const shard of SHARDS) {
      const inv = sim.cloud.invocations.find((i) => i.shard === shard)!;
      expect(inv.commands).toContain(`export PIPELINE_SHARD='${shard}'`);
      expect(inv.commands).toContain(`export PIPELINE_SHARD_COUNT='5'`);
    }
    const uploaded = r.outputs.map((o) => o.key).filter((k) => k.includes('/Research/'));
    expect(uploaded.map((k) => k.split('/Research/')[1]).sort()).toEqual(SHARDS.map((s) => `${s}/signals.json`).sort());
  });

  it('a preflight checks the first shard only', async () => {
    // Act
    const { sim, report: r } = await rehearse('allAtOnce', { mode: 'preflight' });

    // Assess
    expect(r.status).toBe('SUCCEEDED');
    expect(sim.cloud.instances.filter((i) => i.phase === 'Research').map((i) => i.tags[TAG.shard])).toEqual(['btc']);
    expect(r.phases[0]!.shards!.filter((s) => s.status !== 'NOT_RUN').map((s) => s.name)).toEqual(['btc']);
  });

  it('a preflight whose one shard fails fails, even where the full run would tolerate a failure', async () => {
    // Act: the instances lack python3, which the phase declares: the preflight's runner refuses (MissingTool).
    const { report: r } = await rehearse('tolerant', { mode: 'preflight', toolsMissing: ['python3'] });

    // Assess
    expect(r.status).toBe('FAILED');
    expect(r.error).toBe('ShardsFailed');
    expect(r.cause).toContain('1 of 1 shards failed (btc); it tolerates 0');
  });

  it('a shard interrupted by spot is relaunched on its own, its datum carrying the shard', async () => {
    // Act
    const { report: r } = await rehearse('allAtOnce', { phases: { Research: { workloadMinutes: 30, shards: { sol: { attempts: [{ interruptAtMinute: 10 }] } } }, Report: { workloadMinutes: 5 } } });

    // Assess
    expect(r.status).toBe('SUCCEEDED');
    expect(r.phases[0]!.shards!.find((s) => s.name === 'sol')).toMatchObject({ attempts: 2, interruptions: 1, status: 'SUCCEEDED' });
    expect(r.metrics.filter((m) => m.name === 'SpotInterruptionRetry').map((m) => m.dimensions)).toEqual([{ Phase: 'Research', Shard: 'sol', Reason: 'instance-terminated-no-capacity' }]);
    expect(runProblems(r)).toEqual([]);
  });
});

describe('a failed shard', () => {
  it('without tolerance: its siblings run to the end, then the pipeline fails with ShardsFailed naming it; the next phase never runs', async () => {
    // Act
    const { sim, report: r } = await rehearse('allAtOnce', { phases: { Research: { workloadMinutes: 40, shards: { eth: { workloadMinutes: 5, exitCode: 1 } } }, Report: { workloadMinutes: 5 } } });

    // Assess: eth exited at minute 5; the others' workloads all ran their 40 minutes.
    expect(r.status).toBe('FAILED');
    expect(r.error).toBe('ShardsFailed');
    expect(r.cause).toContain('phase Research: 1 of 5 shards failed (eth)');
    expect(r.cause).toContain('WorkloadFailed');
    const siblings = r.phases[0]!.launches.filter((l) => l.shard !== 'eth');
    expect(siblings.map((l) => l.cloud.workload)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    expect(r.phases.find((p) => p.name === 'Report')!.status).toBe('NOT_RUN');
    expect(sim.stepFunctions.executions.filter((e) => e.stateMachine.name.endsWith('spot-phase') && e.status === 'ABORTED')).toEqual([]);
    expect(runProblems(r)).toEqual([]);
  });

  it('within toleratedFailures: the phase succeeds, names the failed shard, and the pipeline goes on', async () => {
    // Act
    const { sim, report: r } = await rehearse('tolerant', { phases: { Research: { workloadMinutes: 20, shards: { eth: { exitCode: 1 } } }, Report: { workloadMinutes: 5 } } });

    // Assess
    expect(r.status).toBe('SUCCEEDED');
    expect(r.phases.map((p) => [p.name, p.status])).toEqual([
      ['Research', 'SUCCEEDED'],
      ['Report', 'SUCCEEDED'],
    ]);
    const state = sim.pipeline.output as { phases: { Research: { failed: string[]; failedCount: number; tolerated: number } } };
    expect(state.phases.Research).toMatchObject({ failed: ['eth'], failedCount: 1, tolerated: 1 });
  });

  it('two failures beyond a tolerance of one fail the phase, naming both', async () => {
    // Act
    const { report: r } = await rehearse('tolerant', { phases: { Research: { workloadMinutes: 20, shards: { eth: { exitCode: 1 }, ada: { exitCode: 2 } } }, Report: { workloadMinutes: 5 } } });

    // Assess
    expect(r.error).toBe('ShardsFailed');
    expect(r.cause).toContain('2 of 5 shards failed (eth, ada); it tolerates 1');
  });

  it('a redrive re-runs only the failed shard: the others keep their results, the pipeline then succeeds', async () => {
    // Act: eth's first attempt exits 1; the redrive's run of eth is its second attempt, which succeeds.
    const { sim, report: r } = await rehearse('allAtOnce', {
      redriveAfterMinutes: 30,
      phases: { Research: { workloadMinutes: 20, shards: { eth: { attempts: [{ exitCode: 1 }] } } }, Report: { workloadMinutes: 5 } },
    });

    // Assess
    expect(r.status).toBe('SUCCEEDED');
    expect(workloadsPerShard(sim, 'Research')).toEqual({ btc: 1, eth: 2, sol: 1, xrp: 1, ada: 1 });
    const ethRuns = sim.stepFunctions.executions.filter((e) => shardOf(e) === 'eth').map((e) => [e.name.slice(-2), e.status]);
    expect(ethRuns).toEqual([
      ['r0', 'FAILED'],
      ['r1', 'SUCCEEDED'],
    ]);
    expect(sim.stepFunctions.executions.filter((e) => shardOf(e) !== undefined && shardOf(e) !== 'eth').every((e) => e.name.endsWith('-r0'))).toBe(true);
    expect(runProblems(r)).toEqual([]);
  });

  it('an abort while shards run stops them all and leaves nothing running; the redrive re-runs the unfinished shards only', async () => {
    // Act: btc finishes at minute ~12, the others run 60 minutes; the operator aborts at minute 30 and redrives.
    const { sim, report: r } = await rehearse('allAtOnce', {
      abortAtMinute: 30,
      redriveAfterMinutes: 10,
      phases: { Research: { workloadMinutes: 60, shards: { btc: { workloadMinutes: 10 } } }, Report: { workloadMinutes: 5 } },
    });

    // Assess
    expect(r.status).toBe('SUCCEEDED');
    expect(workloadsPerShard(sim, 'Research')).toEqual({ btc: 1, eth: 2, sol: 2, xrp: 2, ada: 2 });
    expect(r.instances.runningAtEnd).toBe(0);
    expect(runProblems(r)).toEqual([]);
  });

  it("a redrive's re-run of an earlier failure is not stopped by a shard that fails in the redrive: both end, then the phase fails", async () => {
    // Act: b fails before the abort; c and d are stopped by it; in the redrive c fails, while b's re-run succeeds.
    const { sim, report: r } = await rehearse('pairs', {
      abortAtMinute: 16,
      redriveAfterMinutes: 5,
      phases: { Research: { workloadMinutes: 10, shards: { b: { attempts: [{ exitCode: 1 }] }, c: { attempts: [{}, { exitCode: 1 }] } } } },
    });

    // Assess: b ran again to the end and succeeded; only c is named.
    const runsOf = (shard: string) => sim.stepFunctions.executions.filter((e) => shardOf(e) === shard).map((e) => e.status);
    expect(runsOf('b')).toEqual(['FAILED', 'SUCCEEDED']);
    expect(runsOf('c')).toEqual(['ABORTED', 'FAILED']);
    expect(r.error).toBe('ShardsFailed');
    expect(r.cause).toContain('1 of 4 shards failed (c)');
    expect(sim.stepFunctions.executions.filter((e) => e.status === 'ABORTED' && e.startedAt > sim.pipelineRuns[0]!.stoppedAt!)).toEqual([]);
    expect(runProblems(r)).toEqual([]);
  });

  it('a lost ShardVerdict response while recording a failure changes nothing: the record is made again, the verdict stands', async () => {
    // Act
    const { report: r } = await rehearse('allAtOnce', {
      lostResponses: { 'shard-verdict': 2 },
      phases: { Research: { workloadMinutes: 20, shards: { eth: { exitCode: 1 } } }, Report: { workloadMinutes: 5 } },
    });

    // Assess
    expect(r.error).toBe('ShardsFailed');
    expect(r.cause).toContain('1 of 5 shards failed (eth)');
    expect(runProblems(r)).toEqual([]);
  });
});
