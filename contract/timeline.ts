/**
 * A phase execution told as timeline lines: what its task states' outputs (the job, contract/job.ts)
 * say as each state exits. One telling for the simulator's timeline (from the executions it ran) and
 * for the operator CLI's `status` (from GetExecutionHistory of a deployed pipeline), so the two read
 * the same for the same run.
 */

/** A state of the SpotPhase state machine exiting: its name, when, and its output. */
export interface StateExit {
  readonly state: string;
  readonly at: number;
  readonly output: unknown;
}

export interface TimelineLine {
  readonly at: number;
  readonly text: string;
}

/** The phase execution the lines are about. */
export interface TimelinePhaseExecution {
  /** The phase, with its shard in brackets for a shard's execution: "Fetch[eth]". */
  readonly label: string;
  readonly name: string;
  readonly startedAt: number;
  /** Undefined while it runs (the line of its end is then left out). */
  readonly stoppedAt?: number;
  readonly status: string;
  readonly error?: string;
}

export const padRight = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));

interface JobView {
  attempt?: number;
  status?: string;
  fallback?: { trigger: string };
  instance?: { id: string; instanceType: string; availabilityZone: string; market?: string };
  failure?: { reasonCode: string; detail: string; kind: string };
  verdict?: { action: string; error?: string; fallback?: string };
  nextWaitSeconds?: number;
}

/** The lines of one phase execution: its start, what its states did, its end. */
export function phaseTimeline(execution: TimelinePhaseExecution, exits: readonly StateExit[], mode: 'full' | 'preflight'): TimelineLine[] {
  const phase = padRight(execution.label, 18);
  const lines: TimelineLine[] = [{ at: execution.startedAt, text: `${phase} phase started (execution ${execution.name})` }];
  for (const exit of exits) {
    const job = (exit.output as { job?: JobView } | null | undefined)?.job;
    const at = exit.at;
    const who = `${phase} attempt ${job?.attempt ?? '?'}`;
    // An interruption is named by spot's own code; anything else by what was seen.
    const why = job?.failure ? (job.failure.kind === 'interruption' ? job.failure.reasonCode : job.failure.detail) : undefined;
    switch (exit.state) {
      case 'LaunchInstance':
        if (job?.instance) lines.push({ at, text: `${who}  launched ${job.instance.instanceType}/${job.instance.availabilityZone} (${job.instance.id})${job.instance.market === 'on-demand' ? ' ON-DEMAND' : ''}${job.fallback ? ` (fallback: ${job.fallback.trigger})` : ''}` });
        else lines.push({ at, text: `${who}  no spot capacity in any pool (${why ?? 'launch failed'})` });
        break;
      case 'SendWorkload':
        if (job?.status === 'running') lines.push({ at, text: `${who}  ${mode === 'preflight' ? 'preflight' : 'workload'} started via SSM` });
        break;
      case 'PollWorkload':
        if (job?.status === 'failed') lines.push({ at, text: `${who}  ${job.failure?.kind === 'interruption' ? 'SPOT INTERRUPTION' : 'FAILED'}: ${why}` });
        break;
      case 'CheckAgent':
        if (job?.status === 'failed') lines.push({ at, text: `${who}  lost while booting: ${why}` });
        break;
      case 'HandleFailure':
        lines.push({
          at,
          text:
            job?.verdict?.action === 'relaunch'
              ? `${phase} instance terminated; relaunching in ${job.nextWaitSeconds} s as attempt ${job.attempt}${job.verdict.fallback ? `, ON-DEMAND (fallback: ${job.verdict.fallback})` : ''}`
              : `${phase} instance terminated; no relaunch: ${job?.verdict?.error}`,
        });
        break;
      case 'CountRelaunch':
        lines.push({ at, text: `${phase} SpotInterruptionRetry put (after the backoff, on the way to attempt ${job?.attempt})` });
        break;
      case 'FinishPhase':
        lines.push({ at, text: `${phase} done, instance terminated` });
        break;
      default:
        break;
    }
  }
  if (execution.stoppedAt !== undefined) lines.push({ at: execution.stoppedAt, text: `${phase} phase ${execution.status}${execution.error ? `: ${execution.error}` : ''}` });
  return lines;
}

/**
 * What the build stages decided, from the pipeline's own states: each stage's check (is its artifact
 * version built already?) and record (built now), by their outputs' `run.artifacts`.
 */
export function buildTimeline(stages: readonly { readonly name: string; readonly artifact: string; readonly check: string; readonly record: string }[], exits: readonly StateExit[]): TimelineLine[] {
  const lines: TimelineLine[] = [];
  for (const stage of stages) {
    for (const exit of exits) {
      if (exit.state !== stage.check && exit.state !== stage.record) continue;
      const ref = (exit.output as { run?: { artifacts?: Record<string, { version: string; present: boolean; sha256?: string }> } } | null | undefined)?.run?.artifacts?.[stage.artifact];
      if (!ref) continue;
      const who = padRight(stage.name, 18);
      const text =
        exit.state === stage.record
          ? `${who} artifact ${stage.artifact} ${ref.version} built and recorded (sha256 ${ref.sha256?.slice(0, 12)}…)`
          : ref.present
            ? `${who} artifact ${stage.artifact} ${ref.version} is already built: nothing launched`
            : `${who} artifact ${stage.artifact} ${ref.version} is not built yet: building it on spot`;
      lines.push({ at: exit.at, text });
    }
  }
  return lines;
}

/**
 * The order phase executions are told in: by start, then by name. Lines at the same moment keep it
 * (the timelines sort stably by time), so two tellings of the same run read alike, line for line.
 */
export function byStart<E extends { readonly startedAt: number; readonly name: string }>(executions: readonly E[]): E[] {
  return [...executions].sort((a, b) => a.startedAt - b.startedAt || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** "+hh:mm" from the run's start. */
export function elapsedLabel(at: number, startedAt: number): string {
  const minutes = Math.round((at - startedAt) / 60000);
  return `+${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}
