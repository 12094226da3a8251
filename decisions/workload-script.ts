/**
 * The script SSM runs. Values from the execution travel only as environment variables, each
 * checked against a strict pattern (or, for parameter values, refused when they hold NUL) and
 * single-quoted, so no input reaches the shell as code. The script writes the runner
 * (instance/pipeline-runner.sh) to a file and hands it the configured command, unchanged: the
 * runner downloads and verifies the code, resolves the secrets, restores the checkpoint, runs the
 * command, watches for the spot notice, and uploads the outputs.
 */
import { UnsafeWorkloadValue } from '../contract/errors';
import { DATA_ENV_PATTERNS, PARAM_ENV_NAME, WORKLOAD_ENV_PATTERNS, type DataEnv, type WorkloadEnv } from '../contract/workload-env';

/** Single-quote a value for POSIX sh. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'"'"'`)}'`;
}

/**
 * The most bytes the script may have. SSM counts a command's runtime parameters against the 64 KB
 * of its document (SSM API reference, CreateDocument Content: "This quota also includes the content
 * specified for input parameters at runtime"); AWS-RunShellScript itself takes about 1 KB.
 */
export const MAX_SCRIPT_BYTES = 60 * 1024;

/** The heredoc delimiter the runner's text is written with; the runner must not hold this line. */
export const RUNNER_DELIMITER = 'PIPELINE_RUNNER_EOF';

export interface WorkloadScriptInput {
  readonly env: WorkloadEnv;
  readonly data?: DataEnv;
  /** PIPELINE_PARAM_* -> value (contract/params.ts). */
  readonly params?: Readonly<Record<string, string>>;
  /** The runner's text (instance/pipeline-runner.sh). */
  readonly runner: string;
  /** The configured command (the workload, or the preflight), run by the runner under bash -c. */
  readonly command: string;
}

function checked(key: string, value: string, pattern: RegExp): string {
  if (!pattern.test(value)) throw new UnsafeWorkloadValue(`${key}: value ${JSON.stringify(value)} does not match ${pattern}`);
  return `export ${key}=${shellQuote(value)}`;
}

/** The lines SSM runs: the environment first, then the runner written to a file, then the runner with the command. */
export function workloadScript(input: WorkloadScriptInput): string[] {
  const exports = (Object.keys(WORKLOAD_ENV_PATTERNS) as (keyof WorkloadEnv)[]).map((key) => checked(key, input.env[key], WORKLOAD_ENV_PATTERNS[key]));
  for (const key of Object.keys(DATA_ENV_PATTERNS) as (keyof DataEnv)[]) {
    const value = input.data?.[key];
    if (value !== undefined) exports.push(checked(key, value, DATA_ENV_PATTERNS[key]));
  }
  for (const [key, value] of Object.entries(input.params ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    if (!PARAM_ENV_NAME.test(key)) throw new UnsafeWorkloadValue(`${key}: not a parameter variable (${PARAM_ENV_NAME})`);
    if (value.includes('\0')) throw new UnsafeWorkloadValue(`${key}: value holds a NUL character`);
    exports.push(`export ${key}=${shellQuote(value)}`);
  }
  if (input.runner.split('\n').some((line) => line === RUNNER_DELIMITER)) {
    throw new UnsafeWorkloadValue(`the runner holds the line ${RUNNER_DELIMITER}, which would end its heredoc early`);
  }
  const lines = [
    ...exports,
    'pipeline_runner="$(mktemp /tmp/pipeline-runner.XXXXXX)"',
    `cat > "$pipeline_runner" <<'${RUNNER_DELIMITER}'`,
    input.runner.replace(/\n$/, ''),
    RUNNER_DELIMITER,
    `exec bash "$pipeline_runner" bash -c ${shellQuote(input.command)}`,
  ];
  const bytes = lines.reduce((n, line) => n + Buffer.byteLength(line, 'utf8') + 1, 0);
  if (bytes > MAX_SCRIPT_BYTES) {
    throw new UnsafeWorkloadValue(`the script SSM would run is ${bytes} bytes, more than the ${MAX_SCRIPT_BYTES} a command may carry: shorten the command or the parameters`);
  }
  return lines;
}

/** The last non-empty line of some output, trimmed to a readable length. */
export function lastLine(output: string | undefined, max = 500): string {
  const lines = (output ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
  const last = lines.at(-1) ?? '';
  return last.length > max ? `${last.slice(0, max)}…` : last;
}
