/**
 * The workload's output as CloudWatch Logs holds it (SSM streams it there while the command
 * runs): the last line, and when it was printed. GetCommandInvocation only returns the first
 * 24,000 characters, so a chatty workload's latest line is only found here.
 */
import { GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { errorCode } from './aws-errors';
import type { LogsSend } from './clients';
import { lastLine } from '../../decisions/workload-script';

export interface OutputTail {
  readonly line: string;
  readonly printedAtMs: number;
}

/** The log stream SSM writes a command's stdout to. */
export function stdoutStream(commandId: string, instanceId: string): string {
  return `${commandId}/${instanceId}/aws-runShellScript/stdout`;
}

export async function readOutputTail(logs: LogsSend, logGroupName: string, commandId: string, instanceId: string): Promise<OutputTail | undefined> {
  try {
    const out = await logs.send(
      new GetLogEventsCommand({ logGroupName, logStreamName: stdoutStream(commandId, instanceId), startFromHead: false, limit: 5 }),
    );
    const events = (out.events ?? []).filter((e) => (e.message ?? '').trim() !== '');
    const last = events.at(-1);
    if (!last) return undefined;
    return { line: lastLine(last.message), printedAtMs: last.timestamp ?? last.ingestionTime ?? 0 };
  } catch (err) {
    // No stream until the command prints its first line.
    if (errorCode(err) === 'ResourceNotFoundException') return undefined;
    throw err;
  }
}
