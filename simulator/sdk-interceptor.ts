/**
 * Routes the handlers' ordinary AWS SDK clients to the simulated cloud. The simulator installs
 * it at each client class's `send`, the single door every command goes through; the handlers'
 * code is unchanged and carries no trace of it.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';

export interface CloudEndpoint {
  handle(service: string, operation: string, input: Record<string, unknown>): Promise<unknown>;
}

const CLIENTS = [
  ['EC2', EC2Client],
  ['SSM', SSMClient],
  ['CloudWatch', CloudWatchClient],
  ['CloudWatchLogs', CloudWatchLogsClient],
  ['SFN', SFNClient],
] as const;

type Sendable = { prototype: { send: unknown } };

/** Install the routing; returns the function that removes it. */
export function routeSdkToCloud(cloud: CloudEndpoint): () => void {
  const originals = CLIENTS.map(([, Client]) => [Client, Object.getOwnPropertyDescriptor((Client as Sendable).prototype, 'send')] as const);
  for (const [service, Client] of CLIENTS) {
    Object.defineProperty((Client as Sendable).prototype, 'send', {
      configurable: true,
      writable: true,
      value: async function send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
        const operation = command.constructor.name.replace(/Command$/, '');
        // A structured clone, as if the input had crossed the wire.
        return structuredClone(await cloud.handle(service, operation, structuredClone(command.input ?? {})));
      },
    });
  }
  return () => {
    for (const [Client, descriptor] of originals) {
      if (descriptor) Object.defineProperty((Client as Sendable).prototype, 'send', descriptor);
      else delete (Client as unknown as { prototype: Record<string, unknown> }).prototype.send;
    }
  };
}
