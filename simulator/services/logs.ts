/**
 * Simulated Amazon CloudWatch Logs, as far as Run Command writes to it: the workload's output,
 * read with GetLogEvents. The AWS behaviours it follows:
 * - Run Command sends a command's output to log streams named
 *   <command id>/<instance id>/<plugin>/stdout and .../stderr (Systems Manager user guide,
 *   "Configuring Amazon CloudWatch Logs for Run Command"); the events here are the lines the
 *   simulated workload printed so far on that stream (ssm.ts), each timestamped when printed. A
 *   stream appears with its first line.
 * - A stream that does not exist (yet) is ResourceNotFoundException, "The specified log stream
 *   does not exist." (CloudWatch Logs API reference, "GetLogEvents" errors).
 * - limit caps the events returned (at most 10,000 when absent); startFromHead false returns the
 *   latest events (CloudWatch Logs API reference, "GetLogEvents"). AWS's default for an absent
 *   startFromHead is false; here an absent startFromHead reads from the head (the pipeline
 *   always passes false). Paging tokens and the time range are not simulated.
 */
import type { SimulatedAccount } from './account';
import { SimulatedAwsError } from './errors';
import { outputLines } from './ssm';

export function getLogEvents(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const [commandId, instanceId, , stream] = String(input.logStreamName).split('/');
  const inv = account.invocations.find((i) => i.commandId === commandId && i.instanceId === instanceId);
  if (!inv || (stream !== 'stdout' && stream !== 'stderr') || outputLines(account, inv, stream).length === 0) throw new SimulatedAwsError('ResourceNotFoundException', 'The specified log stream does not exist.');
  const limit = Number(input.limit ?? 10000);
  const lines = outputLines(account, inv, stream).map((l) => ({ timestamp: l.at, ingestionTime: l.at, message: l.line }));
  return { events: input.startFromHead === false ? lines.slice(-limit) : lines.slice(0, limit) };
}
