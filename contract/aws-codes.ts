/**
 * Codes AWS uses that the pipeline reads: spot request status codes, instance StateReason codes
 * and the error codes a spot launch answers when it cannot be served. Facts, not decisions: the
 * classification (decisions/classify.ts) and the simulator's scenario schema both read them.
 * Sources: EC2 User Guide, "Spot request status" and "Spot Instance interruptions"; EC2 API
 * reference, "Error codes" (RunInstances / CreateFleet).
 */

/** Spot request status codes that mean AWS took (or is taking) the instance back. */
export const SPOT_INTERRUPTION_STATUS_CODES = [
  'marked-for-termination',
  'marked-for-stop',
  'marked-for-hibernation',
  'instance-terminated-no-capacity',
  'instance-terminated-by-price',
  'instance-terminated-capacity-oversubscribed',
  'instance-terminated-launch-group-constraint',
  'instance-stopped-no-capacity',
  'instance-stopped-by-price',
  'instance-stopped-capacity-oversubscribed',
  'instance-hibernated-no-capacity',
  'instance-hibernated-by-price',
  'instance-terminated-by-service',
] as const;

/** Instance StateReason codes that mean the instance was taken by EC2, not by its workload. */
export const SPOT_INTERRUPTION_STATE_REASONS = [
  'Server.SpotInstanceTermination',
  'Server.SpotInstanceShutdown',
  'Server.InsufficientInstanceCapacity',
  'Server.InternalError',
  'Server.ScheduledStop',
] as const;

/** RunInstances error codes that mean "no spot capacity in this pool right now". */
export const LAUNCH_CAPACITY_ERROR_CODES = [
  'InsufficientInstanceCapacity',
  'InsufficientHostCapacity',
  'InsufficientReservedInstanceCapacity',
  'InsufficientCapacity',
  'InsufficientFreeAddressesInSubnet',
  'UnfulfillableCapacity',
  'SpotMaxPriceTooLow',
  'Unsupported',
] as const;

/**
 * RunInstances error codes that mean an account quota is reached: no other pool (and no relaunch)
 * helps until the quota is raised. EC2 API reference, "Error codes": MaxSpotInstanceCountExceeded
 * ("You've reached the limit on the number of Spot Instances that you can launch"),
 * VcpuLimitExceeded ("You've reached the limit on the number of vCPUs ... for the instance
 * family"), InstanceLimitExceeded ("You've reached the limit on the number of instances you can
 * run concurrently"). The quota each one names is in Service Quotas (EC2 user guide, "Amazon EC2
 * service quotas"; "Spot Instance quotas").
 */
export const LAUNCH_QUOTA_ERROR_CODES = {
  MaxSpotInstanceCountExceeded: 'the Spot Instance requests vCPU quota (Service Quotas, EC2: "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests", L-34B43A08, or the quota of the instance family)',
  VcpuLimitExceeded: 'the running instances vCPU quota of the instance family (Service Quotas, EC2: "Running On-Demand ... instances")',
  InstanceLimitExceeded: 'the running instances quota of the account',
} as const;
