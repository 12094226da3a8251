/**
 * The workload's output as CloudWatch Logs holds it (SSM streams it there while the command
 * runs): the last line, and when it was printed. GetCommandInvocation only returns the first
 * 24,000 characters, so a chatty workload's latest line is only found here.
 */
import { workloadOutputStream } from '../../contract/names';
import { GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { errorCode } from './aws-errors';
import type { LogsSend } from './clients';
import { lastLine } from '../../decisions/workload-script';

export interface OutputTail {
  readonly line: string;
  readonly printedAtMs: number;
}

/**
 * The log streams SSM writes a command's output to: <command id>/<instance id>/<plugin>/stdout
 * and .../stderr (Systems Manager user guide, "Configuring Amazon CloudWatch Logs for Run
 * Command"). A workload that logs to stderr (Python's logging does by default) is as alive as one
 * that prints to stdout.
 */
export const outputStream = workloadOutputStream;

async function streamTail(logs: LogsSend, logGroupName: string, logStreamName: string): Promise<OutputTail | undefined> {
  try {
    const out = await logs.send(new GetLogEventsCommand({ logGroupName, logStreamName, startFromHead: false, limit: 5 }));
    const events = (out.events ?? []).filter((e) => (e.message ?? '').trim() !== '');
    const last = events.at(-1);
    if (!last) return undefined;
    return { line: lastLine(last.message), printedAtMs: last.timestamp ?? last.ingestionTime ?? 0 };
  } catch (err) {
    // No stream until the command prints its first line there.
    if (errorCode(err) === 'ResourceNotFoundException') return undefined;
    throw err;
  }
}

/**
 * The latest line the workload printed on either stream, and when. stderr is read too unless
 * stdout alone already shows the workload alive: a line printed after `freshAfterMs` (both after
 * the last output the poll knew of and within the silence timeout). Then stderr could only hold a
 * newer line, which changes no verdict this poll; the next poll reads it if stdout falls quiet.
 */
export async function readOutputTail(logs: LogsSend, logGroupName: string, commandId: string, instanceId: string, freshAfterMs = Infinity): Promise<OutputTail | undefined> {
  const stdout = await streamTail(logs, logGroupName, outputStream(commandId, instanceId, 'stdout'));
  if (stdout && stdout.printedAtMs > freshAfterMs) return stdout;
  const stderr = await streamTail(logs, logGroupName, outputStream(commandId, instanceId, 'stderr'));
  if (!stdout || !stderr) return stdout ?? stderr;
  return stderr.printedAtMs > stdout.printedAtMs ? stderr : stdout;
}
