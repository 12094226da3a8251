/**
 * The detail-types of the events the simulated account sends to EventBridge (services/events.ts),
 * as AWS names them (EC2 user guide, "Amazon EC2 instance state change events" and "Spot Instance
 * interruption notices"; Systems Manager user guide, "Amazon EventBridge event examples for Systems
 * Manager"). No imports: the scenario schema reads these too.
 */
export const INSTANCE_STATE_CHANGE = 'EC2 Instance State-change Notification';
export const SPOT_INTERRUPTION_WARNING = 'EC2 Spot Instance Interruption Warning';
export const COMMAND_INVOCATION_STATUS_CHANGE = 'EC2 Command Invocation Status-change Notification';

export const EMITTED_DETAIL_TYPES = [INSTANCE_STATE_CHANGE, SPOT_INTERRUPTION_WARNING, COMMAND_INVOCATION_STATUS_CHANGE] as const;
export type EmittedDetailType = (typeof EMITTED_DETAIL_TYPES)[number];
