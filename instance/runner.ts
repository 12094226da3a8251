/**
 * The runner's text, for SendWorkload to send with every command (decisions/workload-script.ts).
 * It is read from pipeline-runner.sh beside this module: in the repository, instance/; in a
 * deployed function, the bundle's root, where lib/constructs/pipeline-function.ts copies it.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

export const RUNNER_FILE = 'pipeline-runner.sh';

let cached: string | undefined;

export function runnerScript(): string {
  cached ??= readFileSync(path.join(__dirname, RUNNER_FILE), 'utf8');
  return cached;
}
