/**
 * The simulated Lambda service: a function deployed by the template runs its real handler file
 * (named by the function's handler tag) with the environment the template gives it. Errors come
 * back as Lambda reports them: errorType as the error name, the JSON error document as cause.
 */
import * as path from 'node:path';
import { HANDLER_TAG } from '../contract/tags';
import { callerContext } from './caller';
import { resolve, resourcesOfType, tagsOf, type CfnTemplate, physicalId, SIM_REGION } from './template';

export interface DeployedFunction {
  readonly name: string;
  readonly arn: string;
  readonly handlerFile: string;
  readonly environment: Record<string, string>;
}

type Handler = (event: unknown) => Promise<unknown>;

/** The error a Task state sees when its Lambda function throws. */
export class LambdaFunctionError extends Error {
  constructor(errorType: string, errorMessage: string) {
    super(JSON.stringify({ errorType, errorMessage, trace: [] }));
    this.name = errorType;
  }
}

/** Where the handler files are: a function tagged with handler "launch-instance" runs lambdas/launch-instance.ts. */
const LAMBDAS_DIR = path.join(__dirname, '..', 'lambdas');

export function deployedFunctions(template: CfnTemplate): DeployedFunction[] {
  return resourcesOfType(template, 'AWS::Lambda::Function').flatMap(([logicalId, resource]) => {
    const handler = tagsOf(resource)[HANDLER_TAG];
    if (!handler) return [];
    const name = physicalId(logicalId, resource);
    const env = (resolve(template, (resource.Properties?.Environment as { Variables?: unknown } | undefined)?.Variables ?? {}) ?? {}) as Record<string, string>;
    return [{ name, arn: `arn:aws:lambda:${SIM_REGION}:123456789012:function:${name}`, handlerFile: path.join(LAMBDAS_DIR, `${handler}.ts`), environment: env }];
  });
}

export class SimulatedLambda {
  private readonly byArn = new Map<string, DeployedFunction>();
  private readonly modules = new Map<string, Handler>();
  /** Invocations per function name. */
  readonly invocations = new Map<string, number>();
  /**
   * Invocations still running. A task's Lambda goes on after its execution was stopped (Step
   * Functions does not stop a running invocation), and what it does then still happens.
   */
  inFlight = 0;

  /** Per handler file name: invocations whose response is lost after the work is done. */
  private readonly losses: Map<string, number>;

  constructor(functions: readonly DeployedFunction[], lostResponses: Readonly<Record<string, number>> = {}) {
    this.losses = new Map(Object.entries(lostResponses));
    for (const f of functions) this.byArn.set(f.arn, f);
  }

  has(arn: string): boolean {
    return this.byArn.has(arn);
  }

  /** The function name of a deployed function's ARN. */
  nameOf(arn: string): string | undefined {
    return this.byArn.get(arn)?.name;
  }

  /** Load every handler module up front, so no import happens while virtual time runs. */
  async load(): Promise<void> {
    for (const f of this.byArn.values()) {
      if (this.modules.has(f.handlerFile)) continue;
      const mod = (await import(f.handlerFile)) as { handler?: Handler };
      if (typeof mod.handler !== 'function') throw new Error(`${f.handlerFile} exports no handler`);
      this.modules.set(f.handlerFile, mod.handler);
    }
  }

  async invoke(arn: string, payload: unknown): Promise<unknown> {
    const fn = this.byArn.get(arn);
    if (!fn) throw new LambdaFunctionError('ResourceNotFoundException', `Function not found: ${arn}`);
    const handler = this.modules.get(fn.handlerFile);
    if (!handler) throw new Error(`handler of ${fn.name} not loaded`);
    this.invocations.set(fn.name, (this.invocations.get(fn.name) ?? 0) + 1);
    const event = JSON.parse(JSON.stringify(payload ?? null)) as unknown;
    this.inFlight += 1;
    try {
      return await this.run(fn, handler, event);
    } finally {
      this.inFlight -= 1;
    }
  }

  private async run(fn: DeployedFunction, handler: Handler, event: unknown): Promise<unknown> {
    // The function's environment is in place while the handler starts (it reads it synchronously);
    // only the keys it sets are saved and put back (process.env is slow to copy whole).
    const own = { ...fn.environment, AWS_REGION: SIM_REGION, AWS_LAMBDA_FUNCTION_NAME: fn.name, AWS_LAMBDA_LOG_LEVEL: 'ERROR' };
    const saved = Object.keys(own).map((key) => [key, process.env[key]] as const);
    Object.assign(process.env, own);
    const handlerName = path.basename(fn.handlerFile, '.ts');
    let pending: Promise<unknown>;
    try {
      pending = callerContext.run({ handler: handlerName }, () => Promise.resolve(handler(event)));
    } catch (err) {
      pending = Promise.reject(err);
    } finally {
      for (const [key, value] of saved) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
    try {
      const result = JSON.parse(JSON.stringify((await pending) ?? null)) as unknown;
      const losses = this.losses.get(handlerName) ?? 0;
      if (losses > 0) {
        this.losses.set(handlerName, losses - 1);
        throw new LambdaFunctionError('Lambda.ServiceException', `the response of ${fn.name} was lost (simulated fault)`);
      }
      return result;
    } catch (err) {
      if (err instanceof LambdaFunctionError) throw err;
      const e = err as Error;
      throw new LambdaFunctionError(e.name || 'Error', e.message);
    }
  }
}
