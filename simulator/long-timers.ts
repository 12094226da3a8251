/**
 * Timers longer than the clock can hold. Node.js (and @sinonjs/fake-timers, which copies it) keeps
 * a timer's delay in a signed 32-bit integer: a delay above 2^31-1 ms (about 24.8 days) is set to
 * 1 ms, with a TimeoutOverflowWarning (Node.js API reference, "Timers": setTimeout, "When delay is
 * larger than 2147483647 or less than 1 or NaN, the delay will be set to 1"). Step Functions has no
 * such limit: a Wait state or an execution may last up to a year (Step Functions developer guide,
 * "Step Functions service quotas": maximum execution time of a Standard workflow, one year).
 *
 * `installLongTimers()` replaces the global setTimeout/setInterval (and their clear functions) for
 * the duration of a simulation, after the fake clock is installed, by wrappers that pass short
 * delays straight through and chain a long one in chunks of at most 2^31-1 ms, each chunk aiming at
 * the absolute moment the timer is due. Whoever looks the timer functions up on the global object
 * when calling them (the simulator itself, aws-local-stepfunctions' Wait states, retries, task and
 * execution timeouts) gets the wrappers.
 */

/** The longest delay a timer holds: 2^31-1 ms. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

type TimerFn = (callback: (...args: unknown[]) => void, delay?: number, ...args: unknown[]) => unknown;
type ClearFn = (handle: unknown) => void;

/** The handle of a long timer: what the wrapped clearTimeout/clearInterval accept. */
class LongTimer {
  /** The chunk currently scheduled on the underlying clock. */
  current: unknown;
  cleared = false;
  private refed = true;
  ref(): this {
    this.refed = true;
    return this;
  }
  unref(): this {
    this.refed = false;
    return this;
  }
  hasRef(): boolean {
    return this.refed;
  }
}

const isLong = (delay: unknown): delay is number => typeof delay === 'number' && Number.isFinite(delay) && delay > MAX_TIMER_DELAY_MS;

/**
 * Install the long-timer wrappers over the current global timer functions (the fake clock's, in a
 * simulation). Returns the function that puts the previous ones back.
 */
export function installLongTimers(): () => void {
  const g = globalThis as unknown as Record<'setTimeout' | 'setInterval' | 'clearTimeout' | 'clearInterval', unknown>;
  const saved = { setTimeout: g.setTimeout, setInterval: g.setInterval, clearTimeout: g.clearTimeout, clearInterval: g.clearInterval };
  const baseSet = saved.setTimeout as TimerFn;
  const baseClear = saved.clearTimeout as ClearFn;

  /** Run `fire` at the absolute moment `dueAt`, in chunks the clock can hold. */
  const chain = (handle: LongTimer, dueAt: number, fire: () => void): void => {
    const left = dueAt - Date.now();
    handle.current = left > MAX_TIMER_DELAY_MS ? baseSet(() => chain(handle, dueAt, fire), MAX_TIMER_DELAY_MS) : baseSet(fire, Math.max(0, left));
  };

  const setTimeoutLong: TimerFn = (callback, delay, ...args) => {
    if (!isLong(delay)) return baseSet(callback, delay, ...args);
    const handle = new LongTimer();
    chain(handle, Date.now() + delay, () => {
      if (!handle.cleared) callback(...args);
    });
    return handle;
  };

  const setIntervalLong: TimerFn = (callback, delay, ...args) => {
    if (!isLong(delay)) return (saved.setInterval as TimerFn)(callback, delay, ...args);
    const handle = new LongTimer();
    const tick = (dueAt: number) =>
      chain(handle, dueAt, () => {
        if (handle.cleared) return;
        tick(dueAt + delay);
        callback(...args);
      });
    tick(Date.now() + delay);
    return handle;
  };

  // Node.js clears a timeout or an interval with either function (Node.js API reference, "Timers").
  const clearLong = (fallback: ClearFn) => (handle: unknown) => {
    if (handle instanceof LongTimer) {
      handle.cleared = true;
      baseClear(handle.current);
    } else fallback(handle);
  };

  Object.assign(g, {
    setTimeout: setTimeoutLong,
    setInterval: setIntervalLong,
    clearTimeout: clearLong(baseClear),
    clearInterval: clearLong(saved.clearInterval as ClearFn),
  });
  return () => {
    Object.assign(g, saved);
  };
}
