/**
 * Test setup for every file: the files share their worker's modules (vitest.config.ts, isolate off),
 * so a file that replaces an AWS SDK client's `send` with aws-sdk-client-mock must not leave it
 * replaced for the next file (the simulator's tests use the real clients). After each file, every
 * client class a test may mock gets its own `send` back.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import { afterAll } from 'vitest';

afterAll(() => {
  for (const client of [CloudWatchClient, CloudWatchLogsClient, EC2Client, S3Client, SFNClient, SSMClient]) {
    const send = client.prototype.send as { restore?: () => void };
    send.restore?.();
  }
});
