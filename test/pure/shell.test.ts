import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { UnsafeWorkloadValue } from '../../contract/errors';
import { WORKLOAD_ENV_PATTERNS, type WorkloadEnv } from '../../contract/workload-env';
import { lastLine, shellQuote, workloadScript } from '../../decisions/workload-script';

const ENV: WorkloadEnv = {
  PIPELINE_NAME: 'saturday-pipeline',
  PIPELINE_PHASE: 'DataPhase1',
  PIPELINE_ATTEMPT: '2',
  PIPELINE_EXECUTION: 'exec-1',
  PIPELINE_RUN_DATE: '2026-05-30',
  PIPELINE_MODE: 'full',
};

const sh = (script: string): string => execFileSync('sh', ['-c', script], { encoding: 'utf8' });

describe('workloadScript', () => {
  it('exports each value single-quoted, then runs the command unchanged', () => {
    // Prepare
    const command = '/opt/alpha-engine/bin/spot_data_weekly.sh --date "$PIPELINE_RUN_DATE"';

    // Act
    const lines = workloadScript(ENV, command);

    // Assess
    expect(lines).toEqual([
      "export PIPELINE_NAME='saturday-pipeline'",
      "export PIPELINE_PHASE='DataPhase1'",
      "export PIPELINE_ATTEMPT='2'",
      "export PIPELINE_EXECUTION='exec-1'",
      "export PIPELINE_RUN_DATE='2026-05-30'",
      "export PIPELINE_MODE='full'",
      command,
    ]);
  });

  it('the command sees the values when sh runs the script', () => {
    // Prepare
    const lines = workloadScript(ENV, 'printf "%s|" "$PIPELINE_NAME" "$PIPELINE_PHASE" "$PIPELINE_ATTEMPT" "$PIPELINE_EXECUTION" "$PIPELINE_RUN_DATE" "$PIPELINE_MODE"');

    // Act
    const output = sh(lines.join('\n'));

    // Assess
    expect(output).toBe('saturday-pipeline|DataPhase1|2|exec-1|2026-05-30|full|');
  });

  const hostile = ['$(rm -rf /)', '`reboot`', 'a;reboot', 'a\nreboot', '../../etc/passwd', "it's", 'say "hi"', 'a b', 'a|b', 'a&b', '$HOME', ''];
  const rows = (Object.keys(WORKLOAD_ENV_PATTERNS) as (keyof WorkloadEnv)[]).flatMap((key) => hostile.map((value) => [key, value] as const));

  it.each(rows)('rejects %s = %j before anything reaches the shell', (key, value) => {
    // Prepare
    const env: WorkloadEnv = { ...ENV, [key]: value };

    // Act
    const build = () => workloadScript(env, 'true');

    // Assess
    expect(build).toThrow(UnsafeWorkloadValue);
    expect(build).toThrow(new RegExp(`^${key}: `));
  });

  const appended = (Object.keys(WORKLOAD_ENV_PATTERNS) as (keyof WorkloadEnv)[]).flatMap((key) =>
    [`${ENV[key]};reboot`, `${ENV[key]}\nreboot`, `${ENV[key]}$(id)`, `;${ENV[key]}`].map((value) => [key, value] as const),
  );

  it.each(appended)('rejects %s = %j (a valid value with something around it)', (key, value) => {
    // Prepare
    const env: WorkloadEnv = { ...ENV, [key]: value };

    // Act
    const build = () => workloadScript(env, 'true');

    // Assess
    expect(build).toThrow(UnsafeWorkloadValue);
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
    const build = () => workloadScript(env, 'true');

    // Assess
    expect(build).toThrow(UnsafeWorkloadValue);
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
