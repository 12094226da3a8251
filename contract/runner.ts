/**
 * What the on-instance runner (instance/pipeline-runner.sh) and the pipeline agree on: the exit
 * codes the runner reserves for its own failures, and the environment it reads. The runner is
 * bash, so it repeats these numbers; test/instance/runner.test.ts holds the two together.
 *
 * A workload that itself exits with one of the reserved codes is reported as exit 1 by the runner
 * (it says so in its output), so a reserved code always means what this table says.
 */
export const RUNNER_EXIT = {
  /** The code asset or an artifact did not match its sha256: nothing ran (sysexits EX_DATAERR). */
  artifactIntegrity: 65,
  /** A declared secret could not be read: nothing ran (sysexits EX_NOINPUT). */
  secretUnavailable: 66,
  /** The workload succeeded but its outputs could not be uploaded (sysexits EX_IOERR). */
  outputUpload: 74,
  /**
   * The spot notice came, the workload was stopped and its checkpoint saved, but the instance was
   * still running five minutes later (sysexits EX_TEMPFAIL). After a notice the runner waits for
   * the interruption instead of exiting, so that the command ends as an interruption, not as the
   * workload's SIGTERM exit.
   */
  noticeWithoutInterruption: 75,
  /** A tool the phase declares (config `tools`), or one the runner needs, is not on the instance: nothing ran (sysexits EX_UNAVAILABLE). */
  toolMissing: 69,
} as const;

/** The reserved codes the pipeline classifies as failures of their own (contract/outcomes.ts). */
export const RUNNER_FAILURES = {
  [RUNNER_EXIT.artifactIntegrity]: 'artifact-integrity',
  [RUNNER_EXIT.secretUnavailable]: 'secret-unavailable',
  [RUNNER_EXIT.outputUpload]: 'output-upload',
} as const;

/** The failure kind a reserved exit code stands for, if it is one. */
export function runnerFailure(exitCode: number): (typeof RUNNER_FAILURES)[keyof typeof RUNNER_FAILURES] | undefined {
  return Object.hasOwn(RUNNER_FAILURES, exitCode) ? RUNNER_FAILURES[exitCode as keyof typeof RUNNER_FAILURES] : undefined;
}

/**
 * How a workload reports its progress: a file of this name in its checkpoint directory, holding
 * the fraction of its work done as of that checkpoint (a number from 0 to 1). It is saved with the
 * checkpoint, and after an interruption HandleFailure reads it, so the relaunch rule asks the
 * budget only for the work still to do (decisions/relaunch.ts).
 */
export const PROGRESS_FILE = '.pipeline-progress';

/** The fraction a progress file holds, or undefined when it holds none (a workload's file is read defensively). */
export function parseProgress(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^(0(\.\d+)?|1(\.0+)?|\.\d+)$/.test(trimmed)) return undefined;
  return Number(trimmed);
}

/**
 * The line the runner prints (on stderr) when the spot notice reaches it and it stops the
 * workload: the pipeline reads it as the notice, so the silence that follows is not a hang.
 */
export const RUNNER_NOTICE_LINE = 'pipeline-runner: spot interruption notice: stopping the workload to save its checkpoint';

/**
 * The line the runner prints (on stderr) once the workload it stopped on the notice has exited and
 * its checkpoint (and outputs) reached S3; from then on it only waits for spot to take the instance
 * (instance/pipeline-runner.sh). The pipeline relaunches at once when it reads this line: nothing the
 * old instance still does can change the attempt's end, and what it saved is what the relaunch resumes from.
 */
export const RUNNER_SAVED_LINE = 'pipeline-runner: checkpoint saved; waiting for the spot interruption';

/** Where the runner keeps the workload's files on the instance (PIPELINE_WORK_DIR). */
export const RUNNER_WORK_DIR = '/opt/spot-pipeline/work';
