/** What every command gets: the clients, where to write, the pipeline and its (local) config. */
import type { PipelineConfig } from '../contract/config';
import type { Clients } from './aws';

/** Where the CLI writes: lines of text (stdout, stderr). */
export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

export interface Context extends Io {
  readonly clients: Clients;
  readonly pipelineName: string;
  /** The local pipeline config (built-in or --config): phase order, budgets, declared params. */
  readonly config: PipelineConfig;
  readonly json: boolean;
}
