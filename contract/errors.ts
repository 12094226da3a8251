/**
 * Typed errors. A Lambda that throws one fails its Task state with the class name as the
 * Step Functions error, so state machines can Retry or Catch on it by name.
 */
abstract class NamedError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The pipeline's execution input is not what it accepts; nothing was launched. */
export class InvalidExecutionInput extends NamedError {}

/** A task received input its state machine should never send (a bug, or a hand-edited redrive). */
export class InvalidTaskInput extends NamedError {}

/** A throttling or service-side AWS error: the state machine retries it with backoff. */
export class TransientApiError extends NamedError {}

/** RunInstances refused for a reason that is not capacity (permissions, bad template, ...). */
export class LaunchFailed extends NamedError {}

/** The Lambda environment set by the stack is missing or malformed. */
export class InvalidEnvironment extends NamedError {}

/**
 * A task was handed a job in a status it cannot act on (no instance where one must exist, say):
 * a bug or a hand-edited input, never a spot interruption. The phase cleans up and fails with it.
 */
export class UnexpectedJobState extends NamedError {}

/** A value bound for the workload's environment does not match its pattern: nothing is sent. */
export class UnsafeWorkloadValue extends NamedError {}

/** A build stage cannot tell which version to build (its commit parameter is missing or not a commit SHA, its source object is missing). */
export class ArtifactVersionUnknown extends NamedError {}

/** A build ended well but its artifact is not in the bucket with its sha256: nothing downstream may use it. */
export class ArtifactMissing extends NamedError {}

/** A promotion gate's metrics file is missing or malformed (the message names the file and field): nothing is promoted. */
export class MetricsInvalid extends NamedError {}

/** Shards of a sharded phase failed beyond its toleratedFailures (the message names them); their siblings ran to the end. */
export class ShardsFailed extends NamedError {}
