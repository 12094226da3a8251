/**
 * The built-in pipeline's real workloads (workloads/saturday/), run as an instance runs them: the
 * directory packed as synth packs it (lib/constructs/code-asset.ts), fetched and verified by the real
 * runner (instance/pipeline-runner.sh) under bash, with a stub `aws` command serving a fake S3 from a
 * directory and a fake instance metadata service on 127.0.0.1 (fake-instance.ts). Each
 * phase is a new instance: a fresh work directory; only the fake S3 carries anything between them.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RUNNER_EXIT } from '../../contract/runner';
import { allPhases } from '../../contract/config';
import { SATURDAY_PIPELINE } from '../../lib/config/defaults';
import { loadPipelineConfig } from '../../lib/config/load';
import { packDirectory } from '../../lib/constructs/code-asset';
import { installAwsStub, putFakeObject, RUNNER, startFakeImds } from './fake-instance';

const ROOT = path.join(__dirname, '..', '..');
const BUCKET = 'pipeline-bucket';
const PIPELINE = SATURDAY_PIPELINE.pipelineName;


interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

interface PhaseRun {
  /** The phase (PIPELINE_PHASE), and the script of workloads/saturday/ it runs. */
  readonly phase: string;
  readonly runDate: string;
  readonly execution: string;
  readonly universeSize?: number;
  readonly stepSeconds?: number;
  readonly env?: Record<string, string>;
}

/** The script each phase of the built-in config runs, read from the config itself. */
const WORKLOAD_COMMAND: Record<string, string> = Object.fromEntries(allPhases(loadPipelineConfig()).map((p) => [p.name, p.workloadCommand]));

const runUri = (runDate: string, execution: string) => `s3://${BUCKET}/${PIPELINE}/runs/${runDate}/${execution}/`;
const checkpointUri = (runDate: string, execution: string, phase: string) => `s3://${BUCKET}/${PIPELINE}/checkpoints/${runDate}/${execution}/${phase}/`;

/** Parse a CSV of plain fields (no quoting: the workloads write none) into a header and rows. */
function parseCsv(text: string): { header: string[]; rows: string[][] } {
  const lines = text.trimEnd().split('\n');
  return { header: lines[0].split(','), rows: lines.slice(1).map((l) => l.split(',')) };
}

describe('the Saturday workloads under the real runner', () => {
  let code: { uri: string; sha256: string };
  let codeBytes: Buffer;
  let dir: string;
  let fakeS3: string;
  let imds: Awaited<ReturnType<typeof startFakeImds>>;
  let imdsUrl: string;
  /** Whether the fake metadata service answers instance-action with 200 (the spot notice) now. */
  let noticeNow: () => boolean = () => false;

  beforeAll(() => {
    const { file, sha256 } = packDirectory(path.join(ROOT, SATURDAY_PIPELINE.code!));
    codeBytes = readFileSync(file);
    code = { uri: `s3://cdk-assets-bucket/${sha256}.tar.gz`, sha256 };
  });

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'saturday-'));
    fakeS3 = path.join(dir, 's3');
    installAwsStub(path.join(dir, 'bin'));
    writeFileSync(path.join(dir, 'aws-calls.log'), '');
    putObject(code.uri, codeBytes);
    noticeNow = () => false;
    imds = await startFakeImds(() => noticeNow());
    imdsUrl = imds.url;
  });

  afterEach(async () => {
    await imds.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const putObject = (uri: string, data: Buffer | string) => putFakeObject(fakeS3, uri, data);

  const objectPath = (uri: string) => path.join(fakeS3, uri.replace(/^s3:\/\//, ''));
  const readObject = (uri: string) => readFileSync(objectPath(uri), 'utf8');

  let instances = 0;
  /** A fresh work directory: a new instance. */
  const newWorkDir = () => path.join(dir, `instance-${++instances}`);

  /** Run one phase through the runner, on a new instance (work directory), as SendWorkload does. */
  function runPhase(run: PhaseRun, workDir = newWorkDir()): Promise<Run> {
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PIPELINE_')));
    const runUriOf = runUri(run.runDate, run.execution);
    return new Promise((resolve) => {
      const child = spawn('bash', [RUNNER, 'bash', '-c', WORKLOAD_COMMAND[run.phase]], {
        env: {
          ...inherited,
          PATH: `${path.join(dir, 'bin')}:${process.env.PATH}`,
          AWS_CALLS: path.join(dir, 'aws-calls.log'),
          FAKE_S3: fakeS3,
          PIPELINE_NAME: PIPELINE,
          PIPELINE_PHASE: run.phase,
          PIPELINE_RUN_DATE: run.runDate,
          PIPELINE_EXECUTION: run.execution,
          PIPELINE_MODE: 'full',
          PIPELINE_CODE_URI: code.uri,
          PIPELINE_CODE_SHA256: code.sha256,
          PIPELINE_RUN_URI: runUriOf,
          PIPELINE_OUTPUT_URI: `${runUriOf}${run.phase}/`,
          PIPELINE_CHECKPOINT_URI: checkpointUri(run.runDate, run.execution, run.phase),
          PIPELINE_PARAM_UNIVERSE_SIZE: String(run.universeSize ?? 5),
          PIPELINE_PARAM_STEP_SECONDS: String(run.stepSeconds ?? 0),
          PIPELINE_WORK_DIR: workDir,
          PIPELINE_IMDS_ENDPOINT: imdsUrl,
          PIPELINE_NOTICE_POLL_SECONDS: '0.2',
          ...run.env,
        },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (exitCode) => resolve({ code: exitCode, stdout, stderr }));
    });
  }

  /** Expect a run to have exited 0, showing its output if it did not. */
  function expectSucceeded(result: Run): void {
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
  }

  it('the four phases run in order, each on its own instance, reading earlier outputs and writing their own', async () => {
    // Prepare
    const runDate = '2026-05-30';
    const execution = 'exec-1';
    const outputs = (phase: string, file: string) => `${runUri(runDate, execution)}${phase}/${file}`;

    // Act
    const results: Record<string, Run> = {};
    for (const phase of ['DataPhase1', 'Research', 'PredictorTraining', 'Backtester']) {
      results[phase] = await runPhase({ phase, runDate, execution });
    }

    // Assess: every phase succeeded, the code verified by the runner, and each printed its progress.
    for (const [phase, result] of Object.entries(results)) {
      expectSucceeded(result);
      expect(result.stderr).toContain(`verified code (${code.sha256})`);
      expect(result.stdout).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d ${phase}: step 1 of \\d+ done$`, 'm'));
      expect(result.stdout).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d ${phase}: done`, 'm'));
      expect(result.stdout).not.toContain('resuming after');
    }
    expect(results.DataPhase1.stdout).toContain('DataPhase1: step 5 of 5 done');

    // DataPhase1: 5 symbols x 60 days, each day once, and a header.
    const prices = parseCsv(readObject(outputs('DataPhase1', 'prices.csv')));
    expect(prices.header).toEqual(['symbol', 'day', 'close']);
    expect(prices.rows).toHaveLength(5 * 60);
    expect(new Set(prices.rows.map(([s, d]) => `${s}/${d}`)).size).toBe(300);
    expect([...new Set(prices.rows.map(([s]) => s))]).toEqual(['S001', 'S002', 'S003', 'S004', 'S005']);
    for (const [, , close] of prices.rows) expect(Number(close)).toBeGreaterThan(0);

    // Research: 20-day features from those prices (days 20..58 of each symbol's 60), next_return from the prices.
    const features = parseCsv(readObject(outputs('Research', 'features.csv')));
    expect(features.header).toEqual(['symbol', 'day', 'momentum', 'volatility', 'next_return']);
    expect(features.rows).toHaveLength(5 * 39);
    const closes = (symbol: string) => prices.rows.filter(([s]) => s === symbol).map(([, , c]) => Number(c));
    const [symbol, day, , , nextReturn] = features.rows[10];
    const s = closes(symbol);
    expect(Number(nextReturn)).toBeCloseTo(s[Number(day) + 1] / s[Number(day)] - 1, 5);

    // PredictorTraining: a least-squares fit (its residuals are orthogonal to each regressor) and its accuracy.
    const model = JSON.parse(readObject(outputs('PredictorTraining', 'model.json'))) as { intercept: number; momentum: number; volatility: number };
    const x = features.rows.map(([, , m, v, y]) => ({ m: Number(m), v: Number(v), y: Number(y) }));
    const predict = (r: { m: number; v: number }) => model.intercept + model.momentum * r.m + model.volatility * r.v;
    for (const weight of [() => 1, (r: { m: number }) => r.m, (r: { v: number }) => r.v]) {
      const scale = x.reduce((sum, r) => sum + Math.abs(weight(r) * r.y), 0);
      expect(Math.abs(x.reduce((sum, r) => sum + weight(r) * (r.y - predict(r)), 0))).toBeLessThan(1e-6 * scale);
    }
    const metrics = JSON.parse(readObject(outputs('PredictorTraining', 'metrics.json'))) as { accuracy: number; samples: number };
    expect(metrics.samples).toBe(5 * 39);
    expect(metrics.accuracy).toBeGreaterThan(0);
    expect(metrics.accuracy).toBeLessThan(1);
    const hits = x.filter((r) => predict(r) >= 0 === r.y >= 0).length;
    expect(metrics.accuracy).toBeCloseTo(hits / x.length, 4);

    // Backtester: the model's sign traded on each feature row's next return, compounded.
    const backtest = JSON.parse(readObject(outputs('Backtester', 'backtest.json'))) as { finalEquity: number; maxDrawdown: number; trades: number };
    expect(Object.keys(backtest).sort()).toEqual(['finalEquity', 'maxDrawdown', 'trades']);
    expect(backtest.trades).toBe(5 * 39);
    let equity = 1;
    let peak = 1;
    let drawdown = 0;
    for (const r of x) {
      equity *= 1 + (predict(r) >= 0 ? 1 : -1) * r.y;
      peak = Math.max(peak, equity);
      drawdown = Math.max(drawdown, 1 - equity / peak);
    }
    expect(backtest.finalEquity).toBeCloseTo(equity, 5);
    expect(backtest.maxDrawdown).toBeCloseTo(drawdown, 5);
    expect(backtest.maxDrawdown).toBeGreaterThan(0);
    expect(backtest.maxDrawdown).toBeLessThan(1);

    // Each phase wrote under its own prefix of this run, and saved a checkpoint under its own.
    const phases = ['Backtester', 'DataPhase1', 'PredictorTraining', 'Research'];
    expect(readdirSync(objectPath(runUri(runDate, execution))).sort()).toEqual(phases);
    expect(readdirSync(objectPath(checkpointUri(runDate, execution, '').slice(0, -1))).sort()).toEqual(phases);
    for (const phase of phases) expect(readObject(`${checkpointUri(runDate, execution, phase)}progress`).trim()).toMatch(/^[1-9]\d*$/);
  }, 60_000);

  it('an instance relaunched after a spot notice resumes from the checkpoint and builds the same prices as an uninterrupted run', async () => {
    // Prepare: the notice comes ~2.5 s after the first instance starts, once it has finished a step
    // (so the test does not depend on how fast a loaded machine starts the runner).
    const runDate = '2026-05-30';
    const interruptedWorkDir = newWorkDir();
    const interruptedStart = Date.now();
    noticeNow = () => Date.now() - interruptedStart >= 2500 && existsSync(path.join(interruptedWorkDir, 'checkpoint', 'progress'));
    const run = { phase: 'DataPhase1', runDate, execution: 'exec-relaunch', universeSize: 6 };

    // Act: the first instance is stopped by the notice; the interruption never comes, so its
    // runner gives up waiting at once. Then a new instance runs the same phase, and, for
    // comparison, a single uninterrupted run of another execution.
    const interrupted = await runPhase({ ...run, stepSeconds: 1, env: { PIPELINE_NOTICE_GRACE_SECONDS: '0' } }, interruptedWorkDir);
    const savedProgress = readObject(`${checkpointUri(runDate, 'exec-relaunch', 'DataPhase1')}progress`).trim();
    const pricesUri = `${runUri(runDate, 'exec-relaunch')}DataPhase1/prices.csv`;
    const pricesAfterInterruption = existsSync(objectPath(pricesUri));
    noticeNow = () => false;
    const relaunched = await runPhase({ ...run, stepSeconds: 0 });
    const uninterrupted = await runPhase({ ...run, execution: 'exec-whole', stepSeconds: 0 });

    // Assess: the first instance stopped part-way, saved its checkpoint, and wrote no prices.
    expect(interrupted.code, `${interrupted.stdout}\n${interrupted.stderr}`).toBe(RUNNER_EXIT.noticeWithoutInterruption);
    expect(interrupted.stderr).toContain('spot interruption notice');
    expect(interrupted.stdout).toContain(`DataPhase1: stopping: progress saved at step ${savedProgress}`);
    expect(pricesAfterInterruption, `${interrupted.stdout}\n${interrupted.stderr}`).toBe(false);

    // The relaunch resumed after the saved step (at least one, not all six) and did only the rest.
    expectSucceeded(relaunched);
    const resumed = /DataPhase1: resuming after step (\d+) of 6/.exec(relaunched.stdout);
    expect(resumed, relaunched.stdout).not.toBeNull();
    const n = Number(resumed![1]);
    expect(String(n)).toBe(savedProgress);
    expect(n).toBeGreaterThanOrEqual(1);
    expect(n).toBeLessThan(6);
    expect(relaunched.stdout).not.toContain(`step ${n} of 6 done`);
    expect(relaunched.stdout).toContain(`step ${n + 1} of 6 done`);
    expect(relaunched.stdout).toContain('step 6 of 6 done');

    // Its prices are complete, each symbol and day once, and the same as an uninterrupted run's.
    const prices = readObject(pricesUri);
    const { rows } = parseCsv(prices);
    expect(rows).toHaveLength(6 * 60);
    expect(new Set(rows.map(([s, d]) => `${s}/${d}`)).size).toBe(6 * 60);
    expectSucceeded(uninterrupted);
    expect(uninterrupted.stdout).not.toContain('resuming after');
    expect(prices).toBe(readObject(`${runUri(runDate, 'exec-whole')}DataPhase1/prices.csv`));
  }, 60_000);

  it('the prices are a function of the run date: the same date gives the same table, another date another', async () => {
    // Prepare: separate executions, so no checkpoint is shared and each run builds its table afresh.
    const phase = 'DataPhase1';

    // Act
    const first = await runPhase({ phase, runDate: '2026-05-30', execution: 'exec-a' });
    const again = await runPhase({ phase, runDate: '2026-05-30', execution: 'exec-b' });
    const nextWeek = await runPhase({ phase, runDate: '2026-06-06', execution: 'exec-c' });

    // Assess
    for (const result of [first, again, nextWeek]) {
      expectSucceeded(result);
      expect(result.stdout).not.toContain('resuming after');
    }
    const prices = (runDate: string, execution: string) => readObject(`${runUri(runDate, execution)}${phase}/prices.csv`);
    const [a, b, c] = [prices('2026-05-30', 'exec-a'), prices('2026-05-30', 'exec-b'), prices('2026-06-06', 'exec-c')];
    expect(a.trimEnd().split('\n')).toHaveLength(5 * 60 + 1);
    expect(b).toBe(a);
    expect(c.trimEnd().split('\n')).toHaveLength(5 * 60 + 1);
    expect(c).not.toBe(a);
    // Another date changes the closes, not the shape: same symbols and days.
    const keys = (csv: string) => parseCsv(csv).rows.map(([s, d]) => `${s}/${d}`);
    expect(keys(c)).toEqual(keys(a));
  }, 60_000);
});
