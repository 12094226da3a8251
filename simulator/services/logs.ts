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
 * - FilterLogEvents (CloudWatch Logs API reference, "FilterLogEvents"): the events of the group's
 *   streams, sorted by time across streams, each { logStreamName, timestamp, message,
 *   ingestionTime, eventId }; logStreamNames or logStreamNamePrefix (both: InvalidParameterException)
 *   choose the streams, startTime and endTime (epoch ms, inclusive) the time range, limit (at most
 *   10,000, the default) and nextToken page them. filterPattern is simulated for plain terms only
 *   (every term must occur in the message).
 * - DescribeLogStreams (API reference, "DescribeLogStreams"): the group's streams, { logStreamName,
 *   creationTime, firstEventTimestamp, lastEventTimestamp, lastIngestionTime, arn, storedBytes },
 *   by logStreamNamePrefix, ordered by LogStreamName (default) or LastEventTime (not with a prefix:
 *   InvalidParameterException), descending, limit (default and at most 50) and nextToken.
 * - The log group is the workload log group whatever its name: the simulated account keeps no other
 *   (its name is not checked).
 */
import type { SimulatedAccount } from './account';
import { SIM_ACCOUNT, SIM_REGION } from '../template';
import { SimulatedAwsError } from './errors';
import type { SimInvocation } from './account';
import { outputLines } from './ssm';

export function getLogEvents(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const [commandId, instanceId, , stream] = String(input.logStreamName).split('/');
  const inv = account.invocations.find((i) => i.commandId === commandId && i.instanceId === instanceId);
  if (!inv || (stream !== 'stdout' && stream !== 'stderr') || outputLines(account, inv, stream).length === 0) throw new SimulatedAwsError('ResourceNotFoundException', 'The specified log stream does not exist.');
  const limit = Number(input.limit ?? 10000);
  const lines = outputLines(account, inv, stream).map((l) => ({ timestamp: l.at, ingestionTime: l.at, message: l.line }));
  return { events: input.startFromHead === false ? lines.slice(-limit) : lines.slice(0, limit) };
}

/** The plugin name in the stream names (SendCommand with AWS-RunShellScript). */
const PLUGIN = 'aws-runShellScript';

interface SimStream {
  readonly name: string;
  readonly events: { timestamp: number; ingestionTime: number; message: string; eventId: string }[];
}

/** Every stream SSM has written so far (a stream appears with its first line), in invocation order. */
function streams(account: SimulatedAccount): SimStream[] {
  return account.invocations.flatMap((inv: SimInvocation, i) =>
    (['stdout', 'stderr'] as const).flatMap((stream, s) => {
      const lines = outputLines(account, inv, stream);
      if (lines.length === 0) return [];
      const events = lines.map((l, n) => ({ timestamp: l.at, ingestionTime: l.at, message: l.line, eventId: `${String(i).padStart(6, '0')}${s}${String(n).padStart(8, '0')}` }));
      return [{ name: `${inv.commandId}/${inv.instanceId}/${PLUGIN}/${stream}`, events }];
    }),
  );
}

/** nextToken paging (the token is the offset, opaque to callers); a token not issued here is InvalidParameterException. */
function offsetOf(token: unknown, what: string): number {
  if (token === undefined) return 0;
  const decoded = /^(\w+):(\d+)$/.exec(Buffer.from(String(token), 'base64url').toString('utf8'));
  if (!decoded || decoded[1] !== what) throw new SimulatedAwsError('InvalidParameterException', 'The specified nextToken is invalid.');
  return Number(decoded[2]);
}
const tokenAt = (what: string, offset: number) => Buffer.from(`${what}:${offset}`).toString('base64url');

/** FilterLogEvents (see the header). */
export function filterLogEvents(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const names = input.logStreamNames as string[] | undefined;
  const prefix = input.logStreamNamePrefix as string | undefined;
  if (names !== undefined && prefix !== undefined) throw new SimulatedAwsError('InvalidParameterException', 'Cannot specify both logStreamNames and logStreamNamePrefix.');
  const terms = String(input.filterPattern ?? '').split(/\s+/).filter(Boolean).map((t) => t.replace(/^"|"$/g, ''));
  const from = input.startTime === undefined ? -Infinity : Number(input.startTime);
  const to = input.endTime === undefined ? Infinity : Number(input.endTime);
  const all = streams(account)
    .filter((st) => (names === undefined || names.includes(st.name)) && (prefix === undefined || st.name.startsWith(prefix)))
    .flatMap((st) => st.events.map((e) => ({ logStreamName: st.name, ...e })))
    .filter((e) => e.timestamp >= from && e.timestamp <= to && terms.every((t) => e.message.includes(t)))
    .sort((a, b) => a.timestamp - b.timestamp || a.eventId.localeCompare(b.eventId));
  const limit = Math.min(Number(input.limit ?? 10000), 10000);
  const offset = offsetOf(input.nextToken, 'events');
  const events = all.slice(offset, offset + limit);
  return { events, searchedLogStreams: [], ...(offset + limit < all.length ? { nextToken: tokenAt('events', offset + limit) } : {}) };
}

/** DescribeLogStreams (see the header). */
export function describeLogStreams(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const prefix = input.logStreamNamePrefix as string | undefined;
  const byTime = input.orderBy === 'LastEventTime';
  if (byTime && prefix !== undefined) throw new SimulatedAwsError('InvalidParameterException', 'Cannot order by LastEventTime with a logStreamNamePrefix.');
  const group = String(input.logGroupName ?? input.logGroupIdentifier ?? '');
  const all = streams(account)
    .filter((st) => prefix === undefined || st.name.startsWith(prefix))
    .map((st) => {
      const [first, last] = [st.events[0]!, st.events.at(-1)!];
      return {
        logStreamName: st.name,
        creationTime: first.timestamp,
        firstEventTimestamp: first.timestamp,
        lastEventTimestamp: last.timestamp,
        lastIngestionTime: last.ingestionTime,
        arn: `arn:aws:logs:${SIM_REGION}:${SIM_ACCOUNT}:log-group:${group}:log-stream:${st.name}`,
        storedBytes: 0,
      };
    })
    .sort((a, b) => (byTime ? a.lastEventTimestamp - b.lastEventTimestamp : a.logStreamName.localeCompare(b.logStreamName)));
  if (input.descending === true) all.reverse();
  const limit = Math.min(Number(input.limit ?? 50), 50);
  const offset = offsetOf(input.nextToken, 'streams');
  return { logStreams: all.slice(offset, offset + limit), ...(offset + limit < all.length ? { nextToken: tokenAt('streams', offset + limit) } : {}) };
}
