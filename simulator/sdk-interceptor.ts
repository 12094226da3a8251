/**
 * Routes the handlers' ordinary AWS SDK clients to the simulated account, at the place AWS
 * answers: below the SDK's own retry middleware, where the request would be signed and sent.
 * Each command goes through the real SDK pipeline (serialization, endpoint resolution, the retry
 * strategy with its backoff and retry quota); where the SDK would send the HTTP request, the
 * simulated service answers instead. A throttling or service error
 * thrown there is therefore retried by the SDK exactly as it would be on AWS ("Retry behavior",
 * AWS SDKs and Tools reference guide: standard mode, maxAttempts, exponential backoff with
 * jitter, 500-token retry quota), before the handler ever sees it.
 *
 * The handlers' code is unchanged and carries no trace of it. Which client answers which
 * operations is the table in services/index.ts.
 */
import { Readable } from 'node:stream';
import { S3Client } from '@aws-sdk/client-s3';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import { handleCall, type ServiceName } from './services';
import type { SimulatedAccount } from './services/account';

/** What the interceptor needs of an SDK v3 client. */
interface SdkClient {
  readonly config: { maxAttempts: () => Promise<number>; retryStrategy: unknown };
  readonly middlewareStack: {
    addRelativeTo(middleware: unknown, options: { relation: 'before' | 'after'; toMiddleware: string; name: string }): void;
  };
}
type ClientClass = { new (config: { maxAttempts?: number }): SdkClient; prototype: { send: unknown } };

/** The SDK client class of every service in the table (a service missing here does not compile). */
const CLIENTS: Record<ServiceName, ClientClass> = {
  EC2: EC2Client as unknown as ClientClass,
  SSM: SSMClient as unknown as ClientClass,
  CloudWatch: CloudWatchClient as unknown as ClientClass,
  CloudWatchLogs: CloudWatchLogsClient as unknown as ClientClass,
  SFN: SFNClient as unknown as ClientClass,
  S3: S3Client as unknown as ClientClass,
};

/**
 * A GetObject Body as the SDK hands it over: a stream with the SDK's helpers (AWS SDK for
 * JavaScript v3, "GetObjectCommandOutput": Body is a StreamingBlobPayloadOutputTypes, read with
 * transformToString / transformToByteArray).
 */
function streamBody(text: string): Readable {
  const bytes = Buffer.from(text, 'utf8');
  return Object.assign(Readable.from([bytes]), {
    transformToString: async (encoding: BufferEncoding = 'utf8') => bytes.toString(encoding),
    transformToByteArray: async () => new Uint8Array(bytes),
  });
}

const MIDDLEWARE_NAME = 'simulatedAwsAnswers';

/** The account calls are routed to while a simulation runs (undefined: nothing routed). */
let routed: { account: SimulatedAccount; run: object } | undefined;
/** Clients whose stack carries the simulated answer. */
const answered = new WeakSet<SdkClient>();
/** The run each client's retry strategy was made for. */
const strategyRun = new WeakMap<SdkClient, object>();

/** The middleware that stands where the HTTP request would leave: it answers from the simulated account. */
function answerFromAccount(service: ServiceName) {
  return (next: (args: unknown) => Promise<unknown>, context: { commandName?: string; __smithy_context?: { abortSignal?: AbortSignal } }) =>
    async (args: { input?: Record<string, unknown> }) => {
      if (!routed) return next(args);
      // An aborted request is not sent: the HTTP handler throws AbortError ("Request aborted").
      if (context.__smithy_context?.abortSignal?.aborted) throw Object.assign(new Error('Request aborted'), { name: 'AbortError' });
      const operation = (context.commandName ?? '').replace(/Command$/, '');
      // A structured clone each way, as if the data had crossed the wire.
      const answer = structuredClone(await handleCall(routed.account, service, operation, structuredClone(args.input ?? {}))) as Record<string, unknown>;
      if (service === 'S3' && operation === 'GetObject' && typeof answer.Body === 'string') answer.Body = streamBody(answer.Body);
      return {
        response: { statusCode: 200, headers: {}, body: undefined },
        output: { ...answer, $metadata: { httpStatusCode: 200, requestId: routed.account.nextId('req-', 8) } },
      };
    };
}

/**
 * Ready a client for the run, synchronously (two sends may start on one cold client at once: a
 * parallel group's tasks). A simulated run is a fresh deployment: every Lambda container (and so
 * every SDK client with its retry quota) starts cold, so the client's retry strategy is replaced
 * by a fresh one built from the same configuration, and one run's throttling never drains the
 * next run's quota.
 */
function prepare(client: SdkClient, service: ServiceName): void {
  if (!routed) return;
  if (!answered.has(client)) {
    answered.add(client);
    // Right below the retry middleware, where the signed request would leave for AWS. (Signing is
    // skipped: the simulated services check no signatures, and it would only cost time.)
    client.middlewareStack.addRelativeTo(answerFromAccount(service), { relation: 'before', toMiddleware: 'httpSigningMiddleware', name: MIDDLEWARE_NAME });
  }
  if (strategyRun.get(client) !== routed.run) {
    strategyRun.set(client, routed.run);
    let fresh: Promise<unknown> | undefined;
    const Client = CLIENTS[service];
    client.config.retryStrategy = () => (fresh ??= client.config.maxAttempts().then((maxAttempts) => (new Client({ maxAttempts }).config.retryStrategy as () => Promise<unknown>)()));
  }
}

/** Process-wide settings the SDK reads at call time: a region and (fake, never sent) credentials to sign with. */
const SIM_ENV = { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'ASIASIMULATEDKEY0000', AWS_SECRET_ACCESS_KEY: 'simulated-secret', AWS_SESSION_TOKEN: 'simulated' };

/** Install the routing; returns the function that removes it. */
export function routeSdkToAccount(account: SimulatedAccount): () => void {
  if (routed) throw new Error('the SDK is already routed to a simulated account');
  routed = { account, run: {} };
  const savedEnv = Object.fromEntries(Object.keys(SIM_ENV).map((k) => [k, process.env[k]]));
  Object.assign(process.env, SIM_ENV);
  const originals = (Object.entries(CLIENTS) as [ServiceName, ClientClass][]).map(([service, Client]) => {
    const descriptor = Object.getOwnPropertyDescriptor(Client.prototype, 'send');
    const original = (descriptor?.value ?? (Client.prototype as { send: unknown }).send) as (this: SdkClient, ...a: unknown[]) => Promise<unknown>;
    Object.defineProperty(Client.prototype, 'send', {
      configurable: true,
      writable: true,
      value: function send(this: SdkClient, ...args: unknown[]) {
        prepare(this, service);
        return original.apply(this, args);
      },
    });
    return [Client, descriptor] as const;
  });
  return () => {
    routed = undefined;
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    for (const [Client, descriptor] of originals) {
      if (descriptor) Object.defineProperty(Client.prototype, 'send', descriptor);
      else delete (Client as unknown as { prototype: Record<string, unknown> }).prototype.send;
    }
  };
}
