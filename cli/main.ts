/**
 * spot-pipeline: status, logs and cost of a deployed pipeline at the terminal, with the ordinary
 * AWS SDK clients and the default credential chain (region from AWS_REGION or the profile).
 *
 *   spot-pipeline runs [--limit N]
 *   spot-pipeline status [EXECUTION]
 *   spot-pipeline logs PHASE [--execution X] [--follow]
 *   spot-pipeline start [--preflight] [--param k=v ...] [--run-date YYYY-MM-DD] [--name NAME]
 *   spot-pipeline redrive EXECUTION [--yes]
 * common: --pipeline NAME | --config FILE, --json
 *
 * Exit codes: 0 ok, 1 an AWS or other error, 2 bad usage or input. Errors are one line on stderr.
 */
import { parseArgs } from 'node:util';
import type { PipelineConfig } from '../contract/config';
import { loadPipelineConfig, PipelineConfigError } from '../lib/config/load';
import { CliError, defaultClients, describeAwsError, type Clients } from './aws';
import type { Context, Io } from './context';
import { logsCommand } from './logs';
import { redriveCommand } from './redrive';
import { runsCommand } from './runs';
import { startCommand } from './start';
import { statusCommand } from './status';

/**
 * The clock the timeline is told on: --tz, else the config's schedules time zone when the config is
 * this pipeline's (the simulator's timeline reads the same), else UTC.
 */
function timeZone(tz: string | undefined, ctx: Context): string {
  const zone = tz ?? (ctx.config.pipelineName === ctx.pipelineName ? ctx.config.schedules.timezone : 'UTC');
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
  } catch {
    throw new CliError(`--tz: ${zone} is not a time zone (e.g. UTC, Europe/Berlin)`, 2);
  }
  return zone;
}

export const USAGE = `usage: spot-pipeline <command> [options]
  runs [--limit N]                    recent executions: status, start, duration, cost
  status [EXECUTION] [--tz ZONE]      the run's timeline, phases, attempts, interruptions, pools, cost (default: the
                                      latest execution; the clock of the config's schedules time zone, or ZONE)
  logs PHASE [--execution X] [--follow [--interval SECONDS]]
                                      the workload's stdout and stderr of a phase (default: the latest execution;
                                      --follow: until the phase ends, looking every 5 s or --interval, at most 3600)
  start [--preflight] [--param NAME=VALUE ...] [--run-date YYYY-MM-DD] [--name NAME]
                                      start an execution (prints its ARN)
  redrive EXECUTION [--yes]           what a redrive re-runs; with --yes, redrive it
options: --pipeline NAME (default: the config's pipelineName) | --config FILE, --json, --help
EXECUTION is an execution's name or ARN.`;

const OPTIONS = {
  pipeline: { type: 'string' },
  config: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  limit: { type: 'string' },
  execution: { type: 'string' },
  follow: { type: 'boolean', short: 'f' },
  interval: { type: 'string' },
  preflight: { type: 'boolean' },
  param: { type: 'string', multiple: true },
  'run-date': { type: 'string' },
  name: { type: 'string' },
  yes: { type: 'boolean', short: 'y' },
  tz: { type: 'string' },
} as const;

/** The options each command takes besides the common ones, and its positionals (min, max). */
const COMMANDS: Record<string, { options: string[]; positionals: [number, number] }> = {
  runs: { options: ['limit'], positionals: [0, 0] },
  status: { options: ['tz'], positionals: [0, 1] },
  logs: { options: ['execution', 'follow', 'interval'], positionals: [1, 1] },
  start: { options: ['preflight', 'param', 'run-date', 'name'], positionals: [0, 0] },
  redrive: { options: ['yes'], positionals: [1, 1] },
};
const COMMON = new Set(['pipeline', 'config', 'json', 'help']);

export interface RunOptions extends Io {
  /** SDK clients to use (default: new clients on the default credential chain). */
  readonly clients?: Clients;
}

function positiveInt(flag: string, text: string | undefined, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  if (text === undefined) return fallback;
  const n = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > max) throw new CliError(`--${flag}: must be a whole number ${max === Number.MAX_SAFE_INTEGER ? 'above 0' : `from 1 to ${max}`} (got ${JSON.stringify(text)})`, 2);
  return n;
}

/** Run the CLI on `argv` (without node and the script); resolves to the exit code. */
export async function run(argv: readonly string[], io: RunOptions): Promise<number> {
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
    } catch (err) {
      throw new CliError(`${(err as Error).message}; see spot-pipeline --help`, 2);
    }
    const { values, positionals } = parsed;
    const [command, ...args] = positionals;
    if (values.help || command === 'help') {
      io.out(USAGE);
      return 0;
    }
    if (!command) throw new CliError(`no command; see spot-pipeline --help`, 2);
    const spec = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
    if (!spec) throw new CliError(`unknown command ${command}; see spot-pipeline --help`, 2);
    for (const key of Object.keys(values)) {
      if (!COMMON.has(key) && !spec.options.includes(key)) throw new CliError(`${command} takes no --${key}; see spot-pipeline --help`, 2);
    }
    if (args.length < spec.positionals[0]) throw new CliError(`${command}: missing ${command === 'logs' ? 'PHASE' : 'EXECUTION'}; see spot-pipeline --help`, 2);
    if (args.length > spec.positionals[1]) throw new CliError(`${command}: unexpected ${args.slice(spec.positionals[1]).join(' ')}; see spot-pipeline --help`, 2);
    let config: PipelineConfig;
    try {
      config = loadPipelineConfig(values.config);
    } catch (err) {
      if (err instanceof PipelineConfigError) throw new CliError(err.message, 2);
      throw err;
    }
    const ctx: Context = { out: io.out, err: io.err, clients: io.clients ?? defaultClients(), pipelineName: values.pipeline ?? config.pipelineName, config, json: values.json === true };
    switch (command) {
      case 'runs':
        return await runsCommand(ctx, positiveInt('limit', values.limit, 10));
      case 'status':
        return await statusCommand(ctx, args[0], timeZone(values.tz, ctx));
      case 'logs':
        return await logsCommand(ctx, args[0]!, { execution: values.execution, follow: values.follow === true, intervalMs: positiveInt('interval', values.interval, 5, 3600) * 1000 });
      case 'start':
        return await startCommand(ctx, { preflight: values.preflight === true, params: values.param ?? [], runDate: values['run-date'], name: values.name });
      default:
        return await redriveCommand(ctx, args[0]!, values.yes === true);
    }
  } catch (err) {
    if (err instanceof CliError) {
      io.err(`spot-pipeline: ${err.message}`);
      return err.exitCode;
    }
    io.err(`spot-pipeline: ${describeAwsError(err)}`);
    if (process.env.SPOT_PIPELINE_DEBUG) io.err(String((err as Error).stack));
    return 1;
  }
}
