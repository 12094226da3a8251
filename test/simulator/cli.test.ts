/**
 * `npm run simulate` as a user runs it (bin/simulate.ts through tsx): the demo story, a failing
 * scenario as JSON, and two invalid scenarios. Exit status per the simulator contract:
 * 0 SUCCEEDED, 1 any other ending, 2 invalid scenario; --html writes the run's picture. Five child
 * processes in all.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const PROJECT_ROOT = path.resolve(__dirname, '..', '..');
const SCENARIOS = path.join(__dirname, 'scenarios');
const SPAWN_TIMEOUT_MS = 150_000;

function simulate(...args: string[]): SpawnSyncReturns<string> {
  const result = spawnSync('npx', ['tsx', 'bin/simulate.ts', ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
    encoding: 'utf8',
    timeout: SPAWN_TIMEOUT_MS,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  return result;
}

const explain = (r: SpawnSyncReturns<string>) => `exit ${String(r.status)} (signal ${String(r.signal)})\nstdout:\n${r.stdout.slice(-4000)}\nstderr:\n${r.stderr.slice(-4000)}`;

describe('npm run simulate (bin/simulate.ts)', () => {
  it('without arguments tells the seed story and exits 0', () => {
    const r = simulate();
    expect(r.status, explain(r)).toBe(0);
    expect(r.stdout).toContain('instance-terminated-no-capacity');
    expect(r.stdout).toContain('SpotInterruptionRetry');
    expect(r.stdout).toContain('VERDICT: SUCCEEDED');
  }, SPAWN_TIMEOUT_MS + 10_000);

  it('--scenario with a genuine error --json: exit 1, stdout is the JSON report and nothing else', () => {
    const r = simulate('--scenario', path.join(SCENARIOS, 'genuine-error-dataphase1.json'), '--json');
    expect(r.status, explain(r)).toBe(1);
    const report = JSON.parse(r.stdout) as { status: string; error: string; phases: { name: string; status: string; error: string; attempts: number }[]; metrics: { name: string; value: number }[] };
    expect(report.status).toBe('FAILED');
    expect(report.error).toBe('States.TaskFailed');
    expect(report.phases.map((p) => [p.name, p.status])).toEqual([
      ['DataPhase1', 'FAILED'],
      ['Research', 'NOT_RUN'],
      ['PredictorTraining', 'NOT_RUN'],
      ['Backtester', 'NOT_RUN'],
    ]);
    expect(report.phases[0]).toMatchObject({ error: 'WorkloadFailed', attempts: 1 });
    expect(report.metrics.filter((m) => m.name === 'SpotInterruptionRetry')).toEqual([]);
    // Besides the run's cost (PipelineCostUsd) and the failed phase's duration, only empty orphan sweeps.
    expect(report.metrics.filter((m) => m.name === 'PhaseDurationSeconds').map((m) => (m as { dimensions?: { Phase?: string } }).dimensions?.Phase)).toEqual(['DataPhase1']);
    expect(report.metrics.filter((m) => !['PipelineCostUsd', 'PhaseDurationSeconds'].includes(m.name)).every((m) => m.name === 'OrphansReaped' && m.value === 0)).toBe(true);
    expect(report.metrics.filter((m) => m.name === 'PipelineCostUsd')).toHaveLength(1);
  }, SPAWN_TIMEOUT_MS + 10_000);

  it('--html FILE with --json: the picture is written, stdout is still the JSON report alone', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cli-html-'));
    try {
      const file = path.join(dir, 'run.html');
      const r = simulate('--json', '--html', file);
      expect(r.status, explain(r)).toBe(0);
      const report = JSON.parse(r.stdout) as { scenario: string; phases: { launches: unknown[] }[] };
      const html = readFileSync(file, 'utf8');
      expect(html).toMatch(/^<!DOCTYPE html>/);
      expect(html).toMatch(/<div id="verdict"[^>]*><span class="status">SUCCEEDED<\/span>/);
      expect([...html.matchAll(/<rect class="bar /g)]).toHaveLength(report.phases.reduce((n, p) => n + p.launches.length, 0));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, SPAWN_TIMEOUT_MS + 10_000);

  it('a negative interruptAtMinute: exit 2, stderr names the field', () => {
    const r = simulate('--scenario', path.join(SCENARIOS, 'invalid', 'negative-interrupt-minute.json'));
    expect(r.status, explain(r)).toBe(2);
    expect(r.stderr).toContain('phases.DataPhase1.attempts[0].interruptAtMinute');
    expect(r.stdout).not.toContain('VERDICT');
  }, SPAWN_TIMEOUT_MS + 10_000);

  it('an unknown phase: exit 2, stderr names the phase', () => {
    const r = simulate('--scenario', path.join(SCENARIOS, 'invalid', 'unknown-phase.json'), '--json');
    expect(r.status, explain(r)).toBe(2);
    expect(r.stderr).toContain('phases.DataPhase9');
    expect(r.stdout).toBe('');
  }, SPAWN_TIMEOUT_MS + 10_000);
});
