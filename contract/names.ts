/**
 * The names a pipeline's resources carry, derived from its pipelineName: the stack builds them from
 * here, and the operator CLI finds a deployed pipeline by them.
 */

/** The pipeline state machine is named after the pipeline; this is its phase state machine. */
export const spotPhaseName = (pipelineName: string): string => `${pipelineName}-spot-phase`;

/**
 * The CloudFormation stack of a pipeline: its name, as it is (a pipeline name is a valid stack name:
 * a letter, then letters, digits and dashes). Two pipelines, two stacks.
 */
export const pipelineStackName = (pipelineName: string): string => pipelineName;

/** The log group the workloads' output goes to (Run Command's CloudWatch output). */
export const workloadLogGroupName = (pipelineName: string): string => `/spot-pipeline/${pipelineName}/workloads`;

/**
 * The log stream Run Command writes a command's stdout or stderr to on one instance, in the workload
 * log group ("Configuring Amazon CloudWatch Logs for Run Command": <command id>/<instance id>/<plugin>/stdout|stderr).
 */
export const workloadOutputStream = (commandId: string, instanceId: string, stream: 'stdout' | 'stderr'): string => `${commandId}/${instanceId}/aws-runShellScript/${stream}`;
