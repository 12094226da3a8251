/** The narrow client shapes helpers take: anything with the client's `send`. */
import { SDK_MAX_ATTEMPTS } from '../../contract/budget';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { SSMClient } from '@aws-sdk/client-ssm';

export type Ec2Send = Pick<EC2Client, 'send'>;
export type SsmSend = Pick<SSMClient, 'send'>;
export type LogsSend = Pick<CloudWatchLogsClient, 'send'>;
export type CloudWatchSend = Pick<CloudWatchClient, 'send'>;

/**
 * Every client's configuration: the SDK's standard retry mode with SDK_MAX_ATTEMPTS tries per
 * call, the figure the cleanup-margin arithmetic assumes (contract/budget.ts).
 */
export const CLIENT_CONFIG = { maxAttempts: SDK_MAX_ATTEMPTS } as const;
