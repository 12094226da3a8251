import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { SATURDAY_PIPELINE, SATURDAY_PIPELINE_DIR } from './defaults';
import { allPhases, formatIssues, formatPath, phaseLabel, pipelineConfigSchema, type PipelineConfig } from '../../contract/config';
import { pipelineTimeoutSeconds } from '../../state-machines/pipeline';

/** A pipeline config that cannot be used; the message names every offending field. */
export class PipelineConfigError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PipelineConfigError';
  }
}

/**
 * Validate a raw config object (already parsed JSON). Code directories (`code`) are resolved
 * against `baseDir` (the config file's directory) and must exist: synth packs them.
 */
export function parsePipelineConfig(raw: unknown, source = 'pipeline config', baseDir = process.cwd()): PipelineConfig {
  const result = pipelineConfigSchema.safeParse(raw);
  if (!result.success) {
    throw new PipelineConfigError(`Invalid ${source}:\n${formatIssues(result.error, phaseLabel(raw))}`, { cause: result.error });
  }
  const config = result.data;
  const problems: string[] = [];
  const resolve = (code: string | undefined, at: (string | number)[]): string | undefined => {
    if (code === undefined) return undefined;
    const resolved = path.resolve(baseDir, code);
    if (!statSync(resolved, { throwIfNoEntry: false })?.isDirectory()) {
      const label = phaseLabel(raw)(at);
      problems.push(`${formatPath(at)}${label ? ` (${label})` : ''}: code directory ${resolved} does not exist or is not a directory`);
    }
    return resolved;
  };
  config.code = resolve(config.code, ['code']);
  config.phases.forEach((stage, i) => {
    if (stage.kind === 'parallel') stage.parallel.forEach((p, j) => (p.code = resolve(p.code, ['phases', i, 'parallel', j, 'code'])));
    else if (stage.kind !== 'gate') stage.code = resolve(stage.code, ['phases', i, 'code']);
  });
  // Step Functions developer guide, "Step Functions service quotas": a Standard execution runs at most one year.
  const timeout = pipelineTimeoutSeconds(config);
  if (timeout > MAX_STANDARD_EXECUTION_SECONDS) {
    const sharded = allPhases(config).filter((p) => p.shards !== undefined).map((p) => p.name);
    problems.push(
      `phases: the pipeline may run ${Math.ceil(timeout / 86_400)} days (every stage's longest run added up; a sharded phase runs its shards in waves of maxConcurrency), ` +
        `more than the 365 days a Standard Step Functions execution may last; lower the budgets${sharded.length > 0 ? ` or raise maxConcurrency of ${sharded.join(', ')}` : ''}`,
    );
  }
  if (problems.length > 0) throw new PipelineConfigError(`Invalid ${source}:\n${problems.join('\n')}`);
  return config;
}

/** The longest a Standard workflow execution may run: one year. */
const MAX_STANDARD_EXECUTION_SECONDS = 365 * 86_400;

/** Load the config from a JSON file, or the built-in Saturday pipeline when no path is given. */
export function loadPipelineConfig(file?: string): PipelineConfig {
  if (!file) return parsePipelineConfig(SATURDAY_PIPELINE, 'built-in Saturday pipeline config', SATURDAY_PIPELINE_DIR);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PipelineConfigError(`Cannot read pipeline config ${file}: ${(err as Error).message}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new PipelineConfigError(`Pipeline config ${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return parsePipelineConfig(raw, `pipeline config ${file}`, path.dirname(path.resolve(file)));
}
