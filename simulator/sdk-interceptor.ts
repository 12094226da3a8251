/**
 * Routes the handlers' ordinary AWS SDK clients to the simulated account. The simulator installs
 * it at each client class's `send`, the single door every command goes through; the handlers'
 * code is unchanged and carries no trace of it. Which client answers which operations is the
 * table in services/index.ts.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import { handleCall, type ServiceName } from './services';
import type { SimulatedAccount } from './services/account';

type Sendable = { prototype: { send: unknown } };

/** The SDK client class of every service in the table (a service missing here does not compile). */
const CLIENTS: Record<ServiceName, Sendable> = {
  EC2: EC2Client,
  SSM: SSMClient,
  CloudWatch: CloudWatchClient,
  CloudWatchLogs: CloudWatchLogsClient,
  SFN: SFNClient,
};

/** Install the routing; returns the function that removes it. */
export function routeSdkToAccount(account: SimulatedAccount): () => void {
  const clients = Object.entries(CLIENTS);
  const originals = clients.map(([, Client]) => [Client, Object.getOwnPropertyDescriptor(Client.prototype, 'send')] as const);
  for (const [service, Client] of clients) {
    Object.defineProperty(Client.prototype, 'send', {
      configurable: true,
      writable: true,
      value: async function send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
        const operation = command.constructor.name.replace(/Command$/, '');
        // A structured clone, as if the input had crossed the wire.
        return structuredClone(await handleCall(account, service, operation, structuredClone(command.input ?? {})));
      },
    });
  }
  return () => {
    for (const [Client, descriptor] of originals) {
      if (descriptor) Object.defineProperty(Client.prototype, 'send', descriptor);
      else delete (Client as unknown as { prototype: Record<string, unknown> }).prototype.send;
    }
  };
}
