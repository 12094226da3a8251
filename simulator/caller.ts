/**
 * Which deployed function is making an API call. The simulated Lambda service runs each handler
 * inside this context (AsyncLocalStorage follows it across every await), so the simulated cloud
 * can record who did what: which task terminated an instance, say, as CloudTrail would.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface Caller {
  /** The handler file name of the function ("handle-failure"). */
  readonly handler: string;
}

export const callerContext = new AsyncLocalStorage<Caller>();

/** The function making the current call, if a function is. */
export function currentCaller(): string | undefined {
  return callerContext.getStore()?.handler;
}
