/**
 * The bundled SDK speaks to AWS exactly as the installed one does. lib/bundling/bundle-function.mjs
 * rewrites the generated schema modules of every AWS SDK client (the literal-trait-keys plugin): a
 * wrong rewrite would not fail to build, it would send another request (an EC2 list member named
 * `TagSpecifications.1` instead of `TagSpecification.1`) or read nothing of an answer (an XML list
 * under another name). So every command the functions in lambdas/ send (test/bundling/fixtures/
 * sdk-calls.ts) runs twice against one local endpoint answering in each service's protocol, with
 * the rich answers of the API references and one error per protocol: once with the SDK as installed
 * (in this process), once bundled as the functions are (in a child process, as Lambda loads it).
 * Both runs must send the same requests and read the same outputs.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFunction } from '../../lib/bundling/bundle-function.mjs';
import { callAll, MISSING } from './fixtures/sdk-calls';

const FIXTURE = path.join(__dirname, 'fixtures', 'sdk-calls.ts');
const LIMIT_BYTES = 600 * 1024;
/** Headers that differ from one request to the next whatever sends them: the signature and its time, the SDK's request ids, its user agent. */
const VARYING_HEADERS = new Set(['authorization', 'x-amz-date', 'amz-sdk-invocation-id', 'amz-sdk-request', 'user-agent', 'x-amz-user-agent']);

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

interface Answer {
  readonly status?: number;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** The Content-Length of a HEAD answer: that of the object, which the answer does not carry. */
  readonly length?: number;
}

// ---------------------------------------------------------------------------------------------
// The answers, as the API references show them.
// ---------------------------------------------------------------------------------------------

const XML = { 'content-type': 'text/xml;charset=UTF-8' };
const EC2_NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';
const LAST_MODIFIED = 'Sat, 28 Nov 2026 06:00:00 GMT';
const OBJECT_TEXT = 'token-of-the-wait\nsecond line — ünïcode\n';
const BLOB = Buffer.from([0, 1, 2, 253, 254, 255, 10, 13]);

/** The base64 CRC32 S3 answers for an object (x-amz-checksum-crc32): its big-endian bytes. */
function crc32Base64(data: Buffer | string): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(crc32(data));
  return bytes.toString('base64');
}

const tagSet = `<tagSet>
          <item><key>spot-pipeline:execution</key><value>exec-2026-11-28</value></item>
          <item><key>Name</key><value>saturday train &amp; &lt;co&gt; “ünïcode”</value></item>
        </tagSet>`;

function ec2Error(code: string, message: string): Answer {
  return {
    status: 400,
    headers: XML,
    body: `<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>ea966190-f9aa-478e-9ede-example</RequestID></Response>`,
  };
}

function ec2Answer(action: string, params: URLSearchParams): Answer {
  const ok = (body: string): Answer => ({ headers: XML, body: `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${EC2_NS}">\n  <requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>\n${body}\n</${action}Response>` });
  switch (action) {
    case 'CreateFleet':
      return ok(`  <fleetId>fleet-12a34b55-67cd-8ef9-ba9b-9208dEXAMPLE</fleetId>
  <errorSet>
    <item>
      <launchTemplateAndOverrides>
        <launchTemplateSpecification><launchTemplateId>lt-0abcdef1234567890</launchTemplateId><version>7</version></launchTemplateSpecification>
        <overrides><instanceType>c5.large</instanceType><subnetId>subnet-0aaaaaaaaaaaaaaa1</subnetId><weightedCapacity>1.0</weightedCapacity><priority>0.5</priority><maxPrice>0.1</maxPrice></overrides>
      </launchTemplateAndOverrides>
      <lifecycle>spot</lifecycle>
      <errorCode>InsufficientInstanceCapacity</errorCode>
      <errorMessage>We currently do not have sufficient c5.large capacity in the Availability Zone you requested (us-east-1a).</errorMessage>
    </item>
    <item>
      <launchTemplateAndOverrides>
        <launchTemplateSpecification><launchTemplateName>saturday-train</launchTemplateName><version>$Latest</version></launchTemplateSpecification>
        <overrides><subnetId>subnet-0ccccccccccccccc3</subnetId>
          <instanceRequirements><vCpuCount><min>2</min><max>8</max></vCpuCount><memoryMiB><min>4096</min></memoryMiB>
            <cpuManufacturerSet><item>intel</item><item>amd</item></cpuManufacturerSet>
            <excludedInstanceTypeSet><item>t2.*</item><item>t3.*</item></excludedInstanceTypeSet>
          </instanceRequirements>
        </overrides>
      </launchTemplateAndOverrides>
      <lifecycle>spot</lifecycle>
      <errorCode>UnfulfillableCapacity</errorCode>
      <errorMessage>Unable to fulfill capacity due to your request configuration.</errorMessage>
    </item>
  </errorSet>
  <fleetInstanceSet>
    <item>
      <launchTemplateAndOverrides>
        <launchTemplateSpecification><launchTemplateId>lt-0abcdef1234567890</launchTemplateId><version>7</version></launchTemplateSpecification>
        <overrides><instanceType>c5a.large</instanceType><subnetId>subnet-0bbbbbbbbbbbbbbb2</subnetId><availabilityZone>us-east-1b</availabilityZone>
          <placement><groupName>batch</groupName><tenancy>default</tenancy></placement></overrides>
      </launchTemplateAndOverrides>
      <lifecycle>spot</lifecycle>
      <instanceIds><item>i-0abc000000000001</item><item>i-0abc000000000002</item></instanceIds>
      <instanceType>c5a.large</instanceType>
      <platform>Linux/UNIX</platform>
      <availabilityZone>us-east-1b</availabilityZone>
      <subnetId>subnet-0bbbbbbbbbbbbbbb2</subnetId>
    </item>
  </fleetInstanceSet>`);
    case 'RunInstances':
      return ok(`  <reservationId>r-1234567890abcdef0</reservationId>
  <ownerId>123456789012</ownerId>
  <groupSet/>
  <instancesSet>
    <item>
      <instanceId>i-0abc000000000001</instanceId>
      <imageId>ami-0abcdef1234567890</imageId>
      <instanceState><code>0</code><name>pending</name></instanceState>
      <privateDnsName>ip-10-0-1-17.ec2.internal</privateDnsName>
      <amiLaunchIndex>0</amiLaunchIndex>
      <productCodes/>
      <instanceType>c5.large</instanceType>
      <launchTime>2026-11-28T06:00:01.000Z</launchTime>
      <placement><availabilityZone>us-east-1a</availabilityZone><groupName/><tenancy>default</tenancy></placement>
      <monitoring><state>disabled</state></monitoring>
      <subnetId>subnet-0aaaaaaaaaaaaaaa1</subnetId>
      <vpcId>vpc-0123456789abcdef0</vpcId>
      <privateIpAddress>10.0.1.17</privateIpAddress>
      <sourceDestCheck>true</sourceDestCheck>
      <groupSet>
        <item><groupId>sg-0123456789abcdef0</groupId><groupName>batch</groupName></item>
        <item><groupId>sg-0fedcba9876543210</groupId><groupName>egress</groupName></item>
      </groupSet>
      <stateReason><code>pending</code><message>pending</message></stateReason>
      <architecture>x86_64</architecture>
      <rootDeviceType>ebs</rootDeviceType>
      <rootDeviceName>/dev/xvda</rootDeviceName>
      <blockDeviceMapping>
        <item><deviceName>/dev/xvda</deviceName><ebs><volumeId>vol-0123456789abcdef0</volumeId><status>attaching</status><attachTime>2026-11-28T06:00:02.000Z</attachTime><deleteOnTermination>true</deleteOnTermination></ebs></item>
      </blockDeviceMapping>
      <instanceLifecycle>spot</instanceLifecycle>
      <spotInstanceRequestId>sir-abcd1234</spotInstanceRequestId>
      <virtualizationType>hvm</virtualizationType>
      <clientToken>exec-2026-11-28-train-2-0-spot</clientToken>
      ${tagSet}
      <hypervisor>xen</hypervisor>
      <iamInstanceProfile><arn>arn:aws:iam::123456789012:instance-profile/saturday-train</arn><id>AIPAEXAMPLE1234567890</id></iamInstanceProfile>
      <ebsOptimized>false</ebsOptimized>
      <cpuOptions><coreCount>1</coreCount><threadsPerCore>2</threadsPerCore></cpuOptions>
      <networkInterfaceSet>
        <item>
          <networkInterfaceId>eni-0123456789abcdef0</networkInterfaceId>
          <subnetId>subnet-0aaaaaaaaaaaaaaa1</subnetId>
          <vpcId>vpc-0123456789abcdef0</vpcId>
          <ownerId>123456789012</ownerId>
          <status>in-use</status>
          <macAddress>0a:1b:2c:3d:4e:5f</macAddress>
          <privateIpAddress>10.0.1.17</privateIpAddress>
          <sourceDestCheck>true</sourceDestCheck>
          <groupSet><item><groupId>sg-0123456789abcdef0</groupId><groupName>batch</groupName></item></groupSet>
          <attachment><attachmentId>eni-attach-0123456789abcdef0</attachmentId><deviceIndex>0</deviceIndex><status>attaching</status><attachTime>2026-11-28T06:00:01.000Z</attachTime><deleteOnTermination>true</deleteOnTermination><networkCardIndex>0</networkCardIndex></attachment>
          <privateIpAddressesSet>
            <item><privateIpAddress>10.0.1.17</privateIpAddress><primary>true</primary></item>
            <item><privateIpAddress>10.0.1.18</privateIpAddress><primary>false</primary></item>
          </privateIpAddressesSet>
          <ipv6AddressesSet><item><ipv6Address>2600:1f18:aaaa:bbbb::17</ipv6Address><isPrimaryIpv6>true</isPrimaryIpv6></item></ipv6AddressesSet>
          <interfaceType>interface</interfaceType>
        </item>
      </networkInterfaceSet>
      <metadataOptions><state>pending</state><httpTokens>required</httpTokens><httpPutResponseHopLimit>2</httpPutResponseHopLimit><httpEndpoint>enabled</httpEndpoint><instanceMetadataTags>enabled</instanceMetadataTags></metadataOptions>
    </item>
  </instancesSet>`);
    case 'DescribeInstances':
      if (params.get('InstanceId.1') === MISSING.instanceId) return ec2Error('InvalidInstanceID.NotFound', `The instance ID '${MISSING.instanceId}' does not exist`);
      return ok(`  <reservationSet>
    <item>
      <reservationId>r-1234567890abcdef0</reservationId>
      <ownerId>123456789012</ownerId>
      <groupSet/>
      <instancesSet>
        <item>
          <instanceId>i-0abc000000000001</instanceId>
          <instanceType>c5.large</instanceType>
          <instanceState><code>16</code><name>running</name></instanceState>
          <subnetId>subnet-0aaaaaaaaaaaaaaa1</subnetId>
          <placement><availabilityZone>us-east-1a</availabilityZone><tenancy>default</tenancy></placement>
          <launchTime>2026-11-28T06:00:01.000Z</launchTime>
          <instanceLifecycle>spot</instanceLifecycle>
          <spotInstanceRequestId>sir-abcd1234</spotInstanceRequestId>
          ${tagSet}
        </item>
        <item>
          <instanceId>i-0abc000000000002</instanceId>
          <instanceType>c5a.large</instanceType>
          <instanceState><code>48</code><name>terminated</name></instanceState>
          <stateTransitionReason>Service initiated (2026-11-28 08:02:00 GMT)</stateTransitionReason>
          <stateReason><code>Server.SpotInstanceTermination</code><message>Server.SpotInstanceTermination: Spot instance termination</message></stateReason>
          <placement><availabilityZone>us-east-1b</availabilityZone></placement>
          <launchTime>2026-11-28T06:00:02.500Z</launchTime>
          <spotInstanceRequestId>sir-efgh5678</spotInstanceRequestId>
          <tagSet><item><key>spot-pipeline:attempt</key><value>1</value></item></tagSet>
        </item>
      </instancesSet>
    </item>
    <item>
      <reservationId>r-0fedcba9876543210</reservationId>
      <ownerId>123456789012</ownerId>
      <requesterId>226008221399</requesterId>
      <instancesSet>
        <item><instanceId>i-0abc000000000003</instanceId><instanceState><code>80</code><name>stopped</name></instanceState><stateReason><code>Client.UserInitiatedShutdown</code><message>Client.UserInitiatedShutdown: User initiated shutdown</message></stateReason></item>
      </instancesSet>
    </item>
  </reservationSet>
  <nextToken>page-3</nextToken>`);
    case 'DescribeSpotInstanceRequests':
      if (params.get('SpotInstanceRequestId.1') === MISSING.spotRequestId) return ec2Error('InvalidSpotInstanceRequestID.NotFound', `The spot instance request ID '${MISSING.spotRequestId}' does not exist`);
      return ok(`  <spotInstanceRequestSet>
    <item>
      <spotInstanceRequestId>sir-abcd1234</spotInstanceRequestId>
      <spotPrice>0.085000</spotPrice>
      <type>one-time</type>
      <state>active</state>
      <status><code>fulfilled</code><updateTime>2026-11-28T06:00:05.000Z</updateTime><message>Your spot request is fulfilled.</message></status>
      <launchSpecification>
        <imageId>ami-0abcdef1234567890</imageId>
        <instanceType>c5.large</instanceType>
        <placement><availabilityZone>us-east-1a</availabilityZone></placement>
        <monitoring><enabled>false</enabled></monitoring>
        <subnetId>subnet-0aaaaaaaaaaaaaaa1</subnetId>
        <iamInstanceProfile><arn>arn:aws:iam::123456789012:instance-profile/saturday-train</arn></iamInstanceProfile>
        <ebsOptimized>false</ebsOptimized>
      </launchSpecification>
      <instanceId>i-0abc000000000001</instanceId>
      <createTime>2026-11-28T06:00:00.000Z</createTime>
      <productDescription>Linux/UNIX</productDescription>
      ${tagSet}
      <launchedAvailabilityZone>us-east-1a</launchedAvailabilityZone>
      <instanceInterruptionBehavior>terminate</instanceInterruptionBehavior>
    </item>
    <item>
      <spotInstanceRequestId>sir-efgh5678</spotInstanceRequestId>
      <type>one-time</type>
      <state>closed</state>
      <status><code>instance-terminated-no-capacity</code><updateTime>2026-11-28T08:02:00.000Z</updateTime><message>Spot Instance terminated due to no available capacity.</message></status>
      <fault><code>capacity-not-available</code><message>There is no Spot capacity available that matches your request.</message></fault>
      <validUntil>2026-12-05T06:00:00.000Z</validUntil>
      <instanceInterruptionBehavior>terminate</instanceInterruptionBehavior>
    </item>
  </spotInstanceRequestSet>`);
    case 'TerminateInstances':
      return ok(`  <instancesSet>
    <item><instanceId>i-0abc000000000001</instanceId><currentState><code>32</code><name>shutting-down</name></currentState><previousState><code>16</code><name>running</name></previousState></item>
    <item><instanceId>i-0abc000000000002</instanceId><currentState><code>48</code><name>terminated</name></currentState><previousState><code>48</code><name>terminated</name></previousState></item>
  </instancesSet>`);
    case 'DescribeSpotPriceHistory':
      return ok(`  <spotPriceHistorySet>
    <item><instanceType>c5.large</instanceType><productDescription>Linux/UNIX</productDescription><spotPrice>0.038100</spotPrice><timestamp>2026-11-28T05:12:45.000Z</timestamp><availabilityZone>us-east-1a</availabilityZone></item>
    <item><instanceType>c5.large</instanceType><productDescription>Linux/UNIX</productDescription><spotPrice>0.041700</spotPrice><timestamp>2026-11-28T07:30:00.000Z</timestamp><availabilityZone>us-east-1a</availabilityZone><availabilityZoneId>use1-az4</availabilityZoneId></item>
    <item><instanceType>c5a.large</instanceType><productDescription>Linux/UNIX (Amazon VPC)</productDescription><spotPrice>0.0352</spotPrice><timestamp>2026-11-28T08:59:59.999Z</timestamp><availabilityZone>us-east-1a</availabilityZone></item>
  </spotPriceHistorySet>
  <nextToken/>`);
    default:
      return ec2Error('InvalidAction', `The action ${action} is not valid for this web service.`);
  }
}

const cloudWatchOutputConfig = { CloudWatchOutputEnabled: true, CloudWatchLogGroupName: '/saturday/workloads' };
const command = {
  CommandId: 'a1b2c3d4-5678-90ab-cdef-EXAMPLE11111',
  DocumentName: 'AWS-RunShellScript',
  DocumentVersion: '$DEFAULT',
  Comment: 'saturday train run attempt 2',
  ExpiresAfter: 1795856400.123,
  Parameters: { commands: ['#!/bin/bash', 'set -euo pipefail', 'cd /opt/work && ./train.sh --epochs 3 "quoted arg"'], executionTimeout: ['3600'], workingDirectory: ['/opt/work'] },
  InstanceIds: ['i-0abc000000000001'],
  Targets: [],
  RequestedDateTime: 1795845600.5,
  Status: 'InProgress',
  StatusDetails: 'InProgress',
  OutputS3Region: 'us-east-1',
  OutputS3BucketName: 'pipeline-bucket',
  OutputS3KeyPrefix: 'ssm-output/',
  MaxConcurrency: '1',
  MaxErrors: '0',
  TargetCount: 1,
  CompletedCount: 0,
  ErrorCount: 0,
  DeliveryTimedOutCount: 0,
  ServiceRole: '',
  NotificationConfig: { NotificationArn: '', NotificationEvents: [], NotificationType: '' },
  CloudWatchOutputConfig: cloudWatchOutputConfig,
  TimeoutSeconds: 600,
  AlarmConfiguration: { IgnorePollAlarmFailure: false, Alarms: [{ Name: 'saturday-budget' }] },
  TriggeredAlarms: [],
};

function jsonError(status: number, type: string, message?: string, headers: Record<string, string> = {}): Answer {
  return { status, headers: { 'x-amzn-requestid': 'c0ffee00-0000-4000-8000-example', ...headers }, body: JSON.stringify({ __type: type, ...(message === undefined ? {} : { message }) }) };
}

function ssmAnswer(operation: string, input: Record<string, unknown>): Answer {
  const ok = (body: unknown): Answer => ({ headers: { 'x-amzn-requestid': 'c0ffee00-0000-4000-8000-example' }, body: JSON.stringify(body) });
  switch (operation) {
    case 'SendCommand':
      if ((input.InstanceIds as string[])[0] === MISSING.instanceId) return jsonError(400, 'InvalidInstanceId', `Instances [[${MISSING.instanceId}]] not in a valid state for account 123456789012`);
      return ok({ Command: command });
    case 'GetCommandInvocation':
      if (input.CommandId === MISSING.commandId) return jsonError(400, 'InvocationDoesNotExist');
      return ok({
        CommandId: command.CommandId,
        InstanceId: 'i-0abc000000000001',
        Comment: command.Comment,
        DocumentName: 'AWS-RunShellScript',
        DocumentVersion: '$DEFAULT',
        PluginName: 'aws:runShellScript',
        ResponseCode: -1,
        ExecutionStartDateTime: '2026-11-28T06:05:00.123Z',
        ExecutionElapsedTime: 'PT12.5S',
        ExecutionEndDateTime: '',
        Status: 'InProgress',
        StatusDetails: 'InProgress',
        StandardOutputContent: 'epoch 1/3\nepoch 2/3\n',
        StandardOutputUrl: 'https://s3.us-east-1.amazonaws.com/pipeline-bucket/ssm-output/stdout',
        StandardErrorContent: '',
        StandardErrorUrl: '',
        CloudWatchOutputConfig: cloudWatchOutputConfig,
      });
    case 'ListCommands':
      return ok({ Commands: [command, { ...command, CommandId: 'b2c3d4e5-6789-01ab-cdef-EXAMPLE22222', Status: 'Cancelled', StatusDetails: 'Cancelled', CompletedCount: 1, ErrorCount: 1 }], NextToken: 'commands-2' });
    case 'CancelCommand':
      return ok({});
    case 'DescribeInstanceInformation':
      return ok({
        InstanceInformationList: [
          {
            InstanceId: 'i-0abc000000000001',
            PingStatus: 'Online',
            LastPingDateTime: 1795845900.817,
            AgentVersion: '3.3.1142.0',
            IsLatestVersion: false,
            PlatformType: 'Linux',
            PlatformName: 'Amazon Linux',
            PlatformVersion: '2023',
            ResourceType: 'EC2Instance',
            IPAddress: '10.0.1.17',
            ComputerName: 'ip-10-0-1-17.ec2.internal',
            AssociationStatus: 'Success',
            LastAssociationExecutionDate: 1795845700,
            LastSuccessfulAssociationExecutionDate: 1795845700,
            AssociationOverview: { DetailedStatus: 'Success', InstanceAssociationStatusAggregatedCount: { Success: 2, Failed: 0 } },
            SourceId: 'i-0abc000000000001',
            SourceType: 'AWS::EC2::Instance',
          },
        ],
        NextToken: 'info-2',
      });
    default:
      return jsonError(400, 'InvalidAction', operation);
  }
}

function sfnAnswer(operation: string, input: Record<string, unknown>): Answer {
  const ok = (body: unknown): Answer => ({ headers: { 'x-amzn-requestid': 'c0ffee00-0000-4000-8000-example' }, body: JSON.stringify(body) });
  if (operation === 'DescribeExecution') {
    if (input.executionArn === MISSING.executionArn) return jsonError(400, 'com.amazonaws.sfn#ExecutionDoesNotExist', `Execution Does Not Exist: '${MISSING.executionArn}'`);
    return ok({
      executionArn: input.executionArn,
      stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:saturday',
      name: 'run-2026-11-28',
      status: 'FAILED',
      startDate: 1795845600.123,
      stopDate: 1795860000,
      input: '{"mode":"run"}',
      inputDetails: { included: true },
      output: '',
      outputDetails: { included: false },
      error: 'States.TaskFailed',
      cause: '{"errorType":"LaunchFailed","errorMessage":"no capacity"}',
      redriveCount: 2,
      redriveDate: 1795850000.5,
      redriveStatus: 'REDRIVABLE',
      traceHeader: 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1',
    });
  }
  if (operation === 'SendTaskSuccess') {
    if (input.taskToken === MISSING.taskToken) return jsonError(400, 'com.amazonaws.sfn#TaskTimedOut', `Task Timed Out: '${MISSING.taskToken}'`);
    return ok({});
  }
  return jsonError(400, 'UnknownOperationException', operation);
}

function logsAnswer(operation: string, input: Record<string, unknown>): Answer {
  if (operation !== 'GetLogEvents') return jsonError(400, 'UnknownOperationException', operation);
  if (input.logStreamName === MISSING.logStream) return jsonError(400, 'ResourceNotFoundException', 'The specified log stream does not exist.');
  return {
    headers: { 'x-amzn-requestid': 'c0ffee00-0000-4000-8000-example' },
    body: JSON.stringify({
      events: [
        { timestamp: 1795845900000, message: 'epoch 1/3 loss=0.41\n', ingestionTime: 1795845900512 },
        { timestamp: 1795845960000, message: '', ingestionTime: 1795845960300 },
        { timestamp: 1795846020123, message: 'epoch 2/3 loss=0.29 — ünïcode\n', ingestionTime: 1795846021000 },
      ],
      nextForwardToken: 'f/39310293413580424523618945427624659447214327474733662208/s',
      nextBackwardToken: 'b/39310290068719487036117283137399508010022034220843974656/s',
    }),
  };
}

function cloudWatchAnswer(operation: string, input: Record<string, unknown>): Answer {
  // A JSON 1.0 service compatible with its former query protocol: the error's query code in x-amzn-query-error.
  if (operation !== 'PutMetricData') return jsonError(400, 'UnknownOperationException', operation);
  if (input.Namespace === MISSING.namespace) {
    return jsonError(400, 'com.amazonaws.cloudwatch#InvalidParameterValueException', 'The value Invalid::Namespace for parameter Namespace is invalid.', { 'x-amzn-query-error': 'InvalidParameterValue;Sender' });
  }
  return { headers: { 'x-amzn-requestid': 'c0ffee00-0000-4000-8000-example' }, body: '' };
}

function s3Error(status: number, code: string, message: string, extra = ''): Answer {
  return {
    status,
    headers: { 'content-type': 'application/xml', 'x-amz-request-id': '4442587FB7D0A2F9', 'x-amz-id-2': 'vlR7PnpV2Ce81l0PRw6jlUpck7Jo5ZsQjryTjKlc5aLWGVHPZLj5NeC6qMa0emYBDXOo6QBU0Wo=' },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>${extra}<RequestId>4442587FB7D0A2F9</RequestId><HostId>vlR7PnpV2Ce81l0PRw6jlUpck7Jo5ZsQjryTjKlc5aLWGVHPZLj5NeC6qMa0emYBDXOo6QBU0Wo=</HostId></Error>`,
  };
}

function s3Answer(req: Seen): Answer {
  const url = new URL(req.url, 'http://localhost');
  const key = decodeURIComponent(url.pathname.replace(/^\/pipeline-bucket\/?/, ''));
  const ids = { 'x-amz-request-id': '4442587FB7D0A2F9', 'x-amz-id-2': 'vlR7PnpV2Ce81l0PRw6jlUpck7Jo5ZsQjryTjKlc5aLWGVHPZLj5NeC6qMa0emYBDXOo6QBU0Wo=' };
  const object = (body: Buffer | string, contentType: string) => ({
    ...ids,
    'content-type': contentType,
    'last-modified': LAST_MODIFIED,
    etag: '"9b2cf535f27731c974343645a3985328"',
    'accept-ranges': 'bytes',
    'cache-control': 'no-store',
    'x-amz-version-id': '3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo',
    'x-amz-server-side-encryption': 'AES256',
    'x-amz-meta-pool': 'c5.large/subnet-0aaaaaaaaaaaaaaa1',
    'x-amz-meta-attempt': '2',
    'x-amz-tagging-count': '2',
    'x-amz-checksum-crc32': crc32Base64(body),
    'x-amz-checksum-type': 'FULL_OBJECT',
  });
  if (req.method === 'GET' && url.searchParams.get('list-type') === '2') {
    return {
      headers: { ...ids, 'content-type': 'application/xml' },
      body: `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>pipeline-bucket</Name>
  <Prefix>pipelines/saturday/</Prefix>
  <Delimiter>/</Delimiter>
  <StartAfter>pipelines/saturday/a</StartAfter>
  <MaxKeys>2</MaxKeys>
  <KeyCount>4</KeyCount>
  <IsTruncated>true</IsTruncated>
  <ContinuationToken>token+1/=</ContinuationToken>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
  <Contents>
    <Key>pipelines/saturday/config.json</Key>
    <LastModified>2026-11-28T06:00:00.000Z</LastModified>
    <ETag>&quot;70ee1738b6b21e2c8a43f3a5ab0eee71&quot;</ETag>
    <ChecksumAlgorithm>CRC32</ChecksumAlgorithm>
    <ChecksumType>FULL_OBJECT</ChecksumType>
    <Size>1234</Size>
    <Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID><DisplayName>pipeline</DisplayName></Owner>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <Contents>
    <Key>pipelines/saturday/notes &amp; &lt;draft&gt; ünïcode.txt</Key>
    <LastModified>2026-11-28T06:30:15.250Z</LastModified>
    <ETag>&quot;d41d8cd98f00b204e9800998ecf8427e-2&quot;</ETag>
    <Size>10485760</Size>
    <StorageClass>STANDARD_IA</StorageClass>
    <RestoreStatus><IsRestoreInProgress>false</IsRestoreInProgress><RestoreExpiryDate>2026-12-01T00:00:00.000Z</RestoreExpiryDate></RestoreStatus>
  </Contents>
  <CommonPrefixes><Prefix>pipelines/saturday/cost/</Prefix></CommonPrefixes>
  <CommonPrefixes><Prefix>pipelines/saturday/waits/</Prefix></CommonPrefixes>
</ListBucketResult>`,
    };
  }
  if (req.method === 'GET') {
    if (key === MISSING.key) return s3Error(404, 'NoSuchKey', 'The specified key does not exist.', `<Key>${MISSING.key}</Key>`);
    return { headers: object(OBJECT_TEXT, 'text/plain; charset=utf-8'), body: OBJECT_TEXT };
  }
  if (req.method === 'HEAD') {
    // A HEAD answer has no body, so an error has no code: the SDK names it from the status.
    if (key === MISSING.key) return { status: 404, headers: ids, length: 0 };
    return { headers: { ...object(BLOB, 'application/octet-stream'), 'x-amz-storage-class': 'STANDARD_IA', 'x-amz-restore': 'ongoing-request="false", expiry-date="Fri, 01 Dec 2026 00:00:00 GMT"', expires: 'Thu, 01 Jan 2027 00:00:00 GMT' }, length: BLOB.length };
  }
  if (req.method === 'PUT' && req.headers['x-amz-copy-source']) {
    return {
      headers: { ...ids, 'content-type': 'application/xml', 'x-amz-version-id': 'QUpfdndhfd8438MNFDN93jdnJFkdmqnh893', 'x-amz-copy-source-version-id': '3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo', 'x-amz-server-side-encryption': 'AES256' },
      body: `<?xml version="1.0" encoding="UTF-8"?>\n<CopyObjectResult><ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><LastModified>2026-11-28T09:00:00.000Z</LastModified><ChecksumType>FULL_OBJECT</ChecksumType><ChecksumCRC32>${crc32Base64(BLOB)}</ChecksumCRC32></CopyObjectResult>`,
    };
  }
  if (req.method === 'PUT') {
    if (key === MISSING.claimedKey) return s3Error(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', '<Condition>If-None-Match</Condition>');
    const checksum = req.headers['x-amz-checksum-crc32'];
    return { headers: { ...ids, etag: '"6805f2cfc46c0f04559748bb039d69ae"', 'x-amz-version-id': 'Ri.vC6qVlA4dEnjgRV4ZHsHoFIjqEMNt', 'x-amz-server-side-encryption': 'AES256', ...(typeof checksum === 'string' ? { 'x-amz-checksum-crc32': checksum, 'x-amz-checksum-type': 'FULL_OBJECT' } : {}) } };
  }
  if (req.method === 'DELETE') return { status: 204, headers: { ...ids, 'x-amz-delete-marker': 'true', 'x-amz-version-id': 'UIORUnfndfiufdisojhr398493jfdkjFJjkndnqUifhnw89493jJFJ' } };
  return s3Error(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
}

/** Which service a request is for, and its answer. */
function answer(req: Seen): Answer {
  const target = req.headers['x-amz-target'];
  if (typeof target === 'string') {
    const [service, operation] = target.split('.') as [string, string];
    const input = JSON.parse(req.body.toString() || '{}') as Record<string, unknown>;
    const json = (a: Answer, version: string): Answer => ({ ...a, headers: { 'content-type': `application/x-amz-json-${version}`, ...a.headers } });
    if (service === 'AmazonSSM') return json(ssmAnswer(operation, input), '1.1');
    if (service === 'AWSStepFunctions') return json(sfnAnswer(operation, input), '1.0');
    if (service === 'Logs_20140328') return json(logsAnswer(operation, input), '1.1');
    if (service === 'GraniteServiceVersion20100801') return json(cloudWatchAnswer(operation, input), '1.0');
    return json(jsonError(400, 'UnknownOperationException', target), '1.0');
  }
  const form = req.headers['content-type']?.startsWith('application/x-www-form-urlencoded') ? new URLSearchParams(req.body.toString()) : undefined;
  if (form?.get('Version') === '2016-11-15') return ec2Answer(form.get('Action') ?? '', form);
  return s3Answer(req);
}

// ---------------------------------------------------------------------------------------------
// The endpoint, the two runs, and what they are compared on.
// ---------------------------------------------------------------------------------------------

async function endpoint(): Promise<{ url: string; seen: Seen[]; server: Server }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const request: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      seen.push(request);
      const { status = 200, headers = {}, body = '', length } = answer(request);
      res.writeHead(status, { date: 'Sat, 28 Nov 2026 09:00:00 GMT', 'content-length': length ?? Buffer.byteLength(body), ...headers });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
}

/** A request as compared: all but the headers that vary whatever sends them; a text body as text, split at `&` when a form. */
function comparable(req: Seen) {
  const url = new URL(req.url, 'http://localhost');
  const type = String(req.headers['content-type'] ?? '');
  const text = req.body.toString();
  const body = type.startsWith('application/x-www-form-urlencoded') ? text.split('&') : Buffer.from(text).equals(req.body) ? text : `base64:${req.body.toString('base64')}`;
  const headers = Object.fromEntries(
    Object.entries(req.headers)
      .filter(([name]) => !VARYING_HEADERS.has(name))
      .sort(([a], [b]) => a.localeCompare(b)),
  );
  return { method: req.method, path: url.pathname, query: [...url.searchParams], headers, body };
}

/** Load the bundle in a fresh Node process (as Lambda does) and run its callAll against the endpoint. */
async function runBundle(bundle: string, url: string): Promise<Record<string, unknown>> {
  const script = `require(${JSON.stringify(bundle)}).callAll(${JSON.stringify(url)}).then((r) => process.stdout.write('\\nRESULT ' + JSON.stringify(r) + '\\n'), (e) => { console.error(e); process.exit(1); });`;
  const aws = Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('AWS_')));
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { env: { PATH: process.env.PATH, NODE_NO_WARNINGS: '1', ...aws }, maxBuffer: 16 * 1024 * 1024 });
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`the bundle printed no result:\n${stdout}`);
  return JSON.parse(line.slice('RESULT '.length)) as Record<string, unknown>;
}

describe('the bundled AWS SDK against the installed one', () => {
  let dir: string;
  let server: Server | undefined;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sdk-equivalence-'));
  });
  afterAll(() => {
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends the same requests and reads the same outputs, for every command the functions send', async () => {
    // Prepare: the endpoint, and the calls bundled as the functions are.
    const ep = await endpoint();
    server = ep.server;
    await bundleFunction(FIXTURE, dir);
    const bundle = path.join(dir, 'index.js');

    // Act: the calls with the SDK as installed, then bundled, against the same endpoint.
    const installedOutputs = JSON.parse(JSON.stringify(await callAll(ep.url))) as Record<string, unknown>;
    const installedRequests = ep.seen.splice(0).map(comparable);
    const bundledOutputs = await runBundle(bundle, ep.url);
    const bundledRequests = ep.seen.splice(0).map(comparable);

    // Assess: the bundle is the small one (the plugin ran: without it the EC2 schemas alone are 540 KB).
    expect(statSync(bundle).size).toBeLessThan(LIMIT_BYTES);
    // The installed SDK read the rich answers (so that equal outputs mean something)...
    expect(Object.keys(installedOutputs)).toHaveLength(34);
    expect(installedOutputs).toMatchObject({
      CreateFleet: {
        FleetId: 'fleet-12a34b55-67cd-8ef9-ba9b-9208dEXAMPLE',
        Errors: [
          { ErrorCode: 'InsufficientInstanceCapacity', LaunchTemplateAndOverrides: { Overrides: { InstanceType: 'c5.large', WeightedCapacity: 1, Priority: 0.5 } } },
          { ErrorCode: 'UnfulfillableCapacity', LaunchTemplateAndOverrides: { Overrides: { InstanceRequirements: { CpuManufacturers: ['intel', 'amd'], VCpuCount: { Min: 2, Max: 8 } } } } },
        ],
        Instances: [{ InstanceIds: ['i-0abc000000000001', 'i-0abc000000000002'], Lifecycle: 'spot', LaunchTemplateAndOverrides: { Overrides: { Placement: { GroupName: 'batch' } } } }],
      },
      RunInstances: { Instances: [{ SpotInstanceRequestId: 'sir-abcd1234', Tags: [{ Key: 'spot-pipeline:execution' }, { Value: 'saturday train & <co> “ünïcode”' }], SecurityGroups: [{}, { GroupName: 'egress' }], BlockDeviceMappings: [{ Ebs: { DeleteOnTermination: true } }], NetworkInterfaces: [{ PrivateIpAddresses: [{ Primary: true }, { PrivateIpAddress: '10.0.1.18' }], Ipv6Addresses: [{ Ipv6Address: '2600:1f18:aaaa:bbbb::17' }] }] }] },
      DescribeInstances: { NextToken: 'page-3', Reservations: [{ Instances: [{ State: { Name: 'running' } }, { StateReason: { Code: 'Server.SpotInstanceTermination' } }] }, {}] },
      'DescribeInstances (InvalidInstanceID.NotFound)': { error: { name: 'InvalidInstanceID.NotFound', httpStatusCode: 400 } },
      DescribeSpotInstanceRequests: { SpotInstanceRequests: [{ Status: { Code: 'fulfilled', UpdateTime: '2026-11-28T06:00:05.000Z' } }, { Fault: { Code: 'capacity-not-available' } }] },
      DescribeSpotPriceHistory: { SpotPriceHistory: [{ Timestamp: '2026-11-28T05:12:45.000Z' }, { AvailabilityZoneId: 'use1-az4' }, { SpotPrice: '0.0352' }] },
      TerminateInstances: { TerminatingInstances: [{ CurrentState: { Code: 32 } }, {}] },
      SendCommand: { Command: { Parameters: { executionTimeout: ['3600'] }, RequestedDateTime: '2026-11-28T06:00:00.500Z' } },
      'SendCommand (InvalidInstanceId)': { error: { name: 'InvalidInstanceId', httpStatusCode: 400 } },
      DescribeInstanceInformation: { InstanceInformationList: [{ IsLatestVersion: false, AssociationOverview: { InstanceAssociationStatusAggregatedCount: { Success: 2 } } }] },
      GetObject: { Body: OBJECT_TEXT, Metadata: { pool: 'c5.large/subnet-0aaaaaaaaaaaaaaa1', attempt: '2' }, LastModified: '2026-11-28T06:00:00.000Z' },
      'GetObject (NoSuchKey)': { error: { name: 'NoSuchKey', httpStatusCode: 404 } },
      'PutObject (PreconditionFailed)': { error: { name: 'PreconditionFailed', httpStatusCode: 412 } },
      'HeadObject (NotFound)': { error: { name: 'NotFound', httpStatusCode: 404 } },
      ListObjectsV2: { Contents: [{ Size: 1234 }, { Key: 'pipelines/saturday/notes & <draft> ünïcode.txt' }], CommonPrefixes: [{ Prefix: 'pipelines/saturday/cost/' }, {}], IsTruncated: true },
      CopyObject: { CopyObjectResult: { ChecksumCRC32: crc32Base64(BLOB) } },
      'PutMetricData (InvalidParameterValue)': { error: { name: 'InvalidParameterValueException', httpStatusCode: 400, members: { Code: 'InvalidParameterValue' } } },
      DescribeExecution: { status: 'FAILED', redriveCount: 2, startDate: '2026-11-28T06:00:00.123Z' },
      'DescribeExecution (ExecutionDoesNotExist)': { error: { name: 'ExecutionDoesNotExist' } },
      'SendTaskSuccess (TaskTimedOut)': { error: { name: 'TaskTimedOut' } },
      GetLogEvents: { events: [{ timestamp: 1795845900000 }, {}, { message: 'epoch 2/3 loss=0.29 — ünïcode\n' }] },
      'GetLogEvents (ResourceNotFoundException)': { error: { name: 'ResourceNotFoundException' } },
    });
    // ...and sent the protocols' forms (the EC2 query names differ from the members').
    const ec2Body = installedRequests.find((r) => Array.isArray(r.body) && r.body.includes('Action=CreateFleet'))!.body;
    expect(ec2Body).toEqual(expect.arrayContaining(['TagSpecification.1.Tag.1.Key=spot-pipeline%3Aexecution', 'LaunchTemplateConfigs.2.Overrides.1.InstanceRequirements.CpuManufacturer.2=amd']));
    const networkInterface = installedRequests.find((r) => Array.isArray(r.body) && r.body.includes('NetworkInterface.1.DeviceIndex=0'))!.body;
    expect(networkInterface).toEqual(expect.arrayContaining(['NetworkInterface.1.Ipv6Addresses.1.Ipv6Address=2600%3A1f18%3Aaaaa%3Abbbb%3A%3A17', 'NetworkInterface.1.SecurityGroupId.1=sg-0123456789abcdef0']));
    // The bundle did the same: request for request, output for output.
    expect(bundledRequests).toHaveLength(installedRequests.length);
    bundledRequests.forEach((request, i) => expect(request, `request ${i + 1} (${installedRequests[i]!.method} ${installedRequests[i]!.path})`).toEqual(installedRequests[i]));
    for (const name of Object.keys(installedOutputs)) expect(bundledOutputs[name], name).toEqual(installedOutputs[name]);
    expect(Object.keys(bundledOutputs)).toEqual(Object.keys(installedOutputs));
  });
});
