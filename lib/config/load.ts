import { readFileSync } from 'node:fs';
import { SATURDAY_PIPELINE } from './defaults';
import { formatIssues, phaseLabel, pipelineConfigSchema, type PipelineConfig } from '../../contract/config';

/** A pipeline config that cannot be used; the message names every offending field. */
export class PipelineConfigError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PipelineConfigError';
  }
}

/** Validate a raw config object (already parsed JSON). */
export function parsePipelineConfig(raw: unknown, source = 'pipeline config'): PipelineConfig {
  const result = pipelineConfigSchema.safeParse(raw);
  if (!result.success) {
    throw new PipelineConfigError(`Invalid ${source}:\n${formatIssues(result.error, phaseLabel(raw))}`, { cause: result.error });
  }
  return result.data;
}

/** Load the config from a JSON file, or the built-in Saturday pipeline when no path is given. */
export function loadPipelineConfig(path?: string): PipelineConfig {
  if (!path) return parsePipelineConfig(SATURDAY_PIPELINE, 'built-in Saturday pipeline config');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new PipelineConfigError(`Cannot read pipeline config ${path}: ${(err as Error).message}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new PipelineConfigError(`Pipeline config ${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return parsePipelineConfig(raw, `pipeline config ${path}`);
}
