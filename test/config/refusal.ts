/** Shared by the config tests: the message a config is refused with. */
import { parsePipelineConfig, PipelineConfigError } from '../../lib/config/load';

/** The message a config is refused with; fails the test when the config is accepted. */
export function refusal(raw: unknown): string {
  try {
    parsePipelineConfig(raw);
  } catch (err) {
    if (err instanceof PipelineConfigError) return err.message;
    throw err;
  }
  throw new Error('expected the config to be refused, but it was accepted');
}
