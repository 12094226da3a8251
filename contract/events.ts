/**
 * The EventBridge events that wake a phase waiting for its running workload (lambdas/wake-phase.ts),
 * as AWS sends them: the rule's pattern (lib/constructs/wake-relay.ts) and the shape the relay reads.
 * - "EC2 Spot Instance Interruption Warning", source aws.ec2, detail { "instance-id", "instance-action" },
 *   two minutes before spot takes the instance, best effort (EC2 user guide, "Spot Instance interruption notices").
 * - "EC2 Instance Rebalance Recommendation", detail { "instance-id" }: the instance is at elevated risk
 *   of interruption (EC2 user guide, "EC2 instance rebalance recommendations"). Advisory: no wake.
 * - "EC2 Instance State-change Notification", detail { "instance-id", "state" } (EC2 user guide,
 *   "Amazon EC2 instance state change events"): the states in which an instance is ending.
 * - "EC2 Command Invocation Status-change Notification", source aws.ssm, detail { "command-id",
 *   "instance-id", "status", ... } (Systems Manager user guide, "Amazon EventBridge event examples"):
 *   the statuses in which a command invocation has ended.
 * Events carry no tags: the relay finds the waiting phase by instance id, and ignores every other instance.
 */
import * as z from 'zod';

export const SPOT_INTERRUPTION_WARNING = 'EC2 Spot Instance Interruption Warning';
export const REBALANCE_RECOMMENDATION = 'EC2 Instance Rebalance Recommendation';
export const INSTANCE_STATE_CHANGE = 'EC2 Instance State-change Notification';
export const COMMAND_STATUS_CHANGE = 'EC2 Command Invocation Status-change Notification';

/** Instance states that end a workload. */
export const ENDING_INSTANCE_STATES = ['shutting-down', 'terminated', 'stopping', 'stopped'] as const;
/** Command invocation statuses that are final (SSM API reference, "CommandInvocation": Status). */
export const FINAL_COMMAND_STATUSES = ['Success', 'Failed', 'TimedOut', 'Cancelled', 'Undeliverable', 'Terminated', 'Delivery Timed Out', 'Execution Timed Out', 'Incomplete'] as const;

/** What the wake relay reads of an event. */
export const wakeEventSchema = z.object({
  'detail-type': z.string(),
  source: z.string(),
  time: z.string().optional(),
  detail: z.object({ 'instance-id': z.string().regex(/^i-[0-9a-f]{8,17}$/), state: z.string().optional(), status: z.string().optional() }).loose(),
});
export type WakeEvent = z.output<typeof wakeEventSchema>;

/** Does this event end the wait of a phase whose workload runs on its instance? (A rebalance recommendation does not: it is advice.) */
export function wakes(event: WakeEvent): boolean {
  switch (event['detail-type']) {
    case SPOT_INTERRUPTION_WARNING:
      return true;
    case INSTANCE_STATE_CHANGE:
      return (ENDING_INSTANCE_STATES as readonly string[]).includes(event.detail.state ?? '');
    case COMMAND_STATUS_CHANGE:
      return (FINAL_COMMAND_STATUSES as readonly string[]).includes(event.detail.status ?? '');
    default:
      return false;
  }
}
