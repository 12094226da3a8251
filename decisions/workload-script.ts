/**
 * The script SSM runs. Values from the execution travel only as environment variables, each
 * checked against a strict pattern and single-quoted, so no input reaches the shell as code.
 */
import { UnsafeWorkloadValue } from '../contract/errors';
import { WORKLOAD_ENV_PATTERNS, type WorkloadEnv } from '../contract/workload-env';

/** Single-quote a value for POSIX sh. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'"'"'`)}'`;
}

/** The lines SSM runs: the environment first, then the configured command unchanged. */
export function workloadScript(env: WorkloadEnv, command: string): string[] {
  const exports = (Object.keys(WORKLOAD_ENV_PATTERNS) as (keyof WorkloadEnv)[]).map((key) => {
    const value = env[key];
    if (!WORKLOAD_ENV_PATTERNS[key].test(value)) {
      throw new UnsafeWorkloadValue(`${key}: value ${JSON.stringify(value)} does not match ${WORKLOAD_ENV_PATTERNS[key]}`);
    }
    return `export ${key}=${shellQuote(value)}`;
  });
  return [...exports, command];
}

/** The last non-empty line of some output, trimmed to a readable length. */
export function lastLine(output: string | undefined, max = 500): string {
  const lines = (output ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
  const last = lines.at(-1) ?? '';
  return last.length > max ? `${last.slice(0, max)}…` : last;
}
