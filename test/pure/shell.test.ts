import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UnsafeWorkloadValue } from '../../contract/errors';
import { DATA_ENV_PATTERNS, WORKLOAD_ENV_PATTERNS, type DataEnv, type WorkloadEnv } from '../../contract/workload-env';
import { lastLine, MAX_SCRIPT_BYTES, RUNNER_DELIMITER, shellQuote, workloadScript, type WorkloadScriptInput } from '../../decisions/workload-script';
import { runnerScript } from '../../instance/runner';

const ENV: WorkloadEnv = {
  PIPELINE_NAME: 'saturday-pipeline',
  PIPELINE_PHASE: 'DataPhase1',
  PIPELINE_ATTEMPT: '2',
  PIPELINE_EXECUTION: 'exec-1',
  PIPELINE_RUN_DATE: '2026-05-30',
  PIPELINE_MODE: 'full',
};

const sh = (script: string): string => execFileSync('sh', ['-c', script], { encoding: 'utf8' });

/** The script as SendWorkload builds it, with the real runner. */
const build = (env: WorkloadEnv, command: string, more: Partial<WorkloadScriptInput> = {}) => workloadScript({ env, command, runner: runnerScript(), ...more });

/** Run a whole SSM script under bash as the agent does (its lines joined into one file), on a scratch work dir. */
function runOnInstance(lines: string[]): string {
  const work = mkdtempSync(path.join(tmpdir(), 'ssm-script-'));
  // The runner checks the instance has the AWS CLI (it uploads with it); this test has nothing to
  // upload, so a stand-in does, whatever this machine has installed.
  const bin = path.join(work, 'bin');
  mkdirSync(bin);
  writeFileSync(path.join(bin, 'aws'), '#!/usr/bin/env bash\nexit 0\n', { mode: 0o755 });
  try {
    return execFileSync('bash', ['-c', lines.join('\n')], {
      encoding: 'utf8',
      // No stdin, as the SSM agent runs a script: a socket there (Node's default) makes Debian's bash
      // read ~/.bashrc (its SSH_SOURCE_BASHRC), and this machine's rc file is no part of the test.
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: `${bin}:${process.env.PATH}`, PIPELINE_WORK_DIR: work, PIPELINE_IMDS_ENDPOINT: 'http://127.0.0.1:9', PIPELINE_NOTICE_POLL_SECONDS: '0.2' },
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

describe('workloadScript', () => {
  it('exports each value single-quoted, writes the runner, then hands it the command unchanged', () => {
    // Prepare
    const command = '/opt/alpha-engine/bin/spot_data_weekly.sh --date "$PIPELINE_RUN_DATE"';

    // Act
    const lines = build(ENV, command);

    // Assess
    expect(lines.slice(0, 6)).toEqual([
      "export PIPELINE_NAME='saturday-pipeline'",
      "export PIPELINE_PHASE='DataPhase1'",
      "export PIPELINE_ATTEMPT='2'",
      "export PIPELINE_EXECUTION='exec-1'",
      "export PIPELINE_RUN_DATE='2026-05-30'",
      "export PIPELINE_MODE='full'",
    ]);
    expect(lines.slice(6, 8)).toEqual(['pipeline_runner="$(mktemp /tmp/pipeline-runner.XXXXXX)"', `cat > "$pipeline_runner" <<'${RUNNER_DELIMITER}'`]);
    expect(lines.at(-2)).toBe(RUNNER_DELIMITER);
    expect(lines.at(-1)).toBe(`exec bash "$pipeline_runner" bash -c ${shellQuote(command)}`);
  });

  it('the command, run by the runner under bash, sees the values and its own quoting intact', () => {
    // Prepare
    const lines = build(ENV, `printf "%s|" "$PIPELINE_NAME" "$PIPELINE_PHASE" "$PIPELINE_ATTEMPT" "$PIPELINE_EXECUTION" "$PIPELINE_RUN_DATE" "$PIPELINE_MODE" 'it'"'"'s' "$PIPELINE_PARAM_UNIVERSE"`, {
      params: { PIPELINE_PARAM_UNIVERSE: "sp500 'large' $(id)" },
    });

    // Act
    const output = runOnInstance(lines);

    // Assess
    expect(output).toBe("saturday-pipeline|DataPhase1|2|exec-1|2026-05-30|full|it's|sp500 'large' $(id)|");
  });

  it('exports the data plane\'s locations when given, each checked', () => {
    // Prepare
    const data: DataEnv = {
      PIPELINE_OUTPUT_URI: 's3://pipeline-bucket/saturday-pipeline/runs/2026-05-30/exec-1/DataPhase1/',
      PIPELINE_CHECKPOINT_URI: 's3://pipeline-bucket/saturday-pipeline/checkpoints/2026-05-30/exec-1/DataPhase1/',
      PIPELINE_SECRETS: 'DB_PASSWORD|ssm:/alpha/db\nAPI_KEY|secretsmanager:alpha/api-key',
    };

    // Act
    const lines = build(ENV, 'true', { data });
    const hostile = () => build(ENV, 'true', { data: { PIPELINE_OUTPUT_URI: "s3://b/x'; reboot; '" } });
    const secretValue = () => build(ENV, 'true', { data: { PIPELINE_SECRETS: 'DB_PASSWORD|hunter2' } });

    // Assess
    expect(lines).toContain(`export PIPELINE_OUTPUT_URI='${data.PIPELINE_OUTPUT_URI}'`);
    expect(lines).toContain(`export PIPELINE_SECRETS='DB_PASSWORD|ssm:/alpha/db\nAPI_KEY|secretsmanager:alpha/api-key'`);
    expect(hostile).toThrow(/^PIPELINE_OUTPUT_URI: /);
    expect(secretValue).toThrow(/^PIPELINE_SECRETS: /);
    expect(Object.keys(DATA_ENV_PATTERNS)).toContain('PIPELINE_CODE_SHA256');
  });

  it('refuses a script larger than SSM takes, and takes the largest config allows', () => {
    // Act
    const huge = () => build(ENV, 'true', { params: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`PIPELINE_PARAM_P${i}`, 'x'.repeat(1024)])) });
    const largest = build(ENV, 'x'.repeat(8192), { params: Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`PIPELINE_PARAM_P${i}`, 'x'.repeat(1024)])) });

    // Assess
    expect(huge).toThrow(/more than the 61440 a command may carry/);
    expect(largest.join('\n').length).toBeLessThanOrEqual(MAX_SCRIPT_BYTES);
  });

  it('refuses a parameter variable that is not one, and a runner that would end its heredoc early', () => {
    // Act
    const notAParam = () => build(ENV, 'true', { params: { PATH: '/tmp' } });
    const nul = () => build(ENV, 'true', { params: { PIPELINE_PARAM_X: 'a\0b' } });
    const early = () => build(ENV, 'true', { runner: `echo one\n${RUNNER_DELIMITER}\nreboot\n` });

    // Assess
    expect(notAParam).toThrow(UnsafeWorkloadValue);
    expect(nul).toThrow(UnsafeWorkloadValue);
    expect(early).toThrow(UnsafeWorkloadValue);
  });

  const hostile = ['$(rm -rf /)', '`reboot`', 'a;reboot', 'a\nreboot', '../../etc/passwd', "it's", 'say "hi"', 'a b', 'a|b', 'a&b', '$HOME', ''];
  const rows = (Object.keys(WORKLOAD_ENV_PATTERNS) as (keyof WorkloadEnv)[]).flatMap((key) => hostile.map((value) => [key, value] as const));

  it.each(rows)('rejects %s = %j before anything reaches the shell', (key, value) => {
    // Prepare
    const env: WorkloadEnv = { ...ENV, [key]: value };

    // Act
    const attempt = () => build(env, 'true');

    // Assess
    expect(attempt).toThrow(UnsafeWorkloadValue);
    expect(attempt).toThrow(new RegExp(`^${key}: `));
  });

  const appended = (Object.keys(WORKLOAD_ENV_PATTERNS) as (keyof WorkloadEnv)[]).flatMap((key) =>
    [`${ENV[key]};reboot`, `${ENV[key]}\nreboot`, `${ENV[key]}$(id)`, `;${ENV[key]}`].map((value) => [key, value] as const),
  );

  it.each(appended)('rejects %s = %j (a valid value with something around it)', (key, value) => {
    // Prepare
    const env: WorkloadEnv = { ...ENV, [key]: value };

    // Act
    const attempt = () => build(env, 'true');

    // Assess
    expect(attempt).toThrow(UnsafeWorkloadValue);
  });

  it.each([
    ['PIPELINE_ATTEMPT', '0'],
    ['PIPELINE_ATTEMPT', '1000'],
    ['PIPELINE_MODE', 'fast'],
    ['PIPELINE_RUN_DATE', '2026-5-30'],
    ['PIPELINE_PHASE', 'Data-Phase'],
  ] as const)('rejects %s = %j (outside its pattern)', (key, value) => {
    // Prepare
    const env: WorkloadEnv = { ...ENV, [key]: value };

    // Act
    const attempt = () => build(env, 'true');

    // Assess
    expect(attempt).toThrow(UnsafeWorkloadValue);
  });
});

describe('shellQuote', () => {
  it.each([
    "it's",
    "'; rm -rf / #",
    "'$(touch /tmp/pwned)'",
    '$(id)',
    '`id`',
    'a\nb',
    "'''",
    "\\'",
    '"$HOME"',
    '',
    '  spaces  ',
  ])('sh reads %j back exactly, without running any of it', (value) => {
    // Prepare
    const script = `printf %s ${shellQuote(value)}`;

    // Act
    const output = sh(script);

    // Assess
    expect(output).toBe(value);
  });

  it('wraps a plain value in single quotes', () => {
    // Prepare
    const value = 'DataPhase1';

    // Act
    const quoted = shellQuote(value);

    // Assess
    expect(quoted).toBe("'DataPhase1'");
  });
});

describe('lastLine', () => {
  it.each([
    ['the last non-empty line, trimmed', 'step 1\nstep 2\n  done  \n\n', 'done'],
    ['CRLF output', 'a\r\nb\r\n', 'b'],
    ['a single line', 'only', 'only'],
    ['empty output', '', ''],
    ['whitespace only', '  \n \n', ''],
    ['no output at all', undefined, ''],
  ])('%s', (_name, output, expected) => {
    // Prepare: the row's output.

    // Act
    const line = lastLine(output);

    // Assess
    expect(line).toBe(expected);
  });

  it('cuts a long line to max characters and marks the cut', () => {
    // Prepare
    const output = `short\n${'x'.repeat(600)}`;

    // Act
    const line = lastLine(output);
    const custom = lastLine('abcdef', 3);

    // Assess
    expect(line).toBe(`${'x'.repeat(500)}…`);
    expect(custom).toBe('abc…');
  });
});
