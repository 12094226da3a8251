/**
 * The functions as deployed: each handler bundled by lib/bundling/bundle-function.mjs (what the stack
 * and `npm run measure:functions` use). Every bundle stays within issue 12's 600 KB, and the bundled
 * SDK, its shape schemas rewritten by the literal-trait-keys plugin, still speaks each protocol the
 * handlers use: bundled handlers run in a child process against a local HTTP endpoint answering as
 * EC2 (query protocol, XML), S3 (REST-XML) and Step Functions (JSON 1.0) answer, with the response
 * shapes of the API references.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFunction, withLiteralTraitKeys } from '../../lib/bundling/bundle-function.mjs';
import { App, Stack } from 'aws-cdk-lib';
import { LAMBDAS_DIR, PipelineFunction } from '../../lib/constructs/pipeline-function';
import { RUNNER_FILE } from '../../instance/runner';
import { TAG } from '../../contract/tags';
import { waitKey } from '../../contract/storage';

const LIMIT_BYTES = 600 * 1024;
const HANDLERS = readdirSync(LAMBDAS_DIR)
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.slice(0, -3))
  .sort();

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'bundles-'));
  await Promise.all(HANDLERS.map((h) => bundleFunction(path.join(LAMBDAS_DIR, `${h}.ts`), path.join(dir, h))));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('function bundles', () => {
  it.each(HANDLERS)('%s is at most 600 KB', (handler) => {
    // Act
    const bytes = statSync(path.join(dir, handler, 'index.js')).size;

    // Assess
    expect(bytes).toBeLessThanOrEqual(LIMIT_BYTES);
  });
});

describe('withLiteralTraitKeys', () => {
  it('rewrites computed keys naming the module string constants to those strings, and nothing else', () => {
    // Prepare
    const source = ['const _xN = "xmlName";', 'const _it = "item";', 'export var L = [1, n0, _L, 0, [0, { [_xN]: _it }]];', 'var M = { [other]: 1, [_xN]: _xN };'].join('\n');

    // Act
    const { contents, rewritten } = withLiteralTraitKeys(source);

    // Assess
    expect(rewritten).toBe(2);
    expect(contents).toContain('{ "xmlName": _it }');
    expect(contents).toContain('{ [other]: 1, "xmlName": _xN }');
  });
});

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** A local endpoint: `answer` gives each request's status, headers and body. */
interface Answer {
  readonly status?: number;
  readonly headers?: Record<string, string>;
  readonly body: string;
}

async function endpoint(answer: (req: Seen) => Answer): Promise<{ url: string; seen: Seen[]; server: Server }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const request = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() };
      seen.push(request);
      const { status = 200, headers = {}, body } = answer(request);
      res.writeHead(status, { 'content-length': Buffer.byteLength(body), ...headers });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
}

/** Load a bundle in a fresh Node process and call its handler with `event`: what Lambda does. */
async function invokeBundle(handler: string, event: unknown, endpointUrl: string, env: Record<string, string> = {}): Promise<unknown> {
  const script = `require(${JSON.stringify(path.join(dir, handler, 'index.js'))}).handler(JSON.parse(process.env.EVENT)).then((r) => process.stdout.write('\\nRESULT ' + JSON.stringify(r) + '\\n'), (e) => { console.error(e); process.exit(1); });`;
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], {
    env: {
      PATH: process.env.PATH,
      NODE_NO_WARNINGS: '1',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      AWS_SESSION_TOKEN: 'session-token',
      AWS_ENDPOINT_URL: endpointUrl,
      EVENT: JSON.stringify(event),
      ...env,
    },
  });
  // The handler's own log lines go to stdout too (as on Lambda): the result is the marked line.
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`${handler} printed no result:\n${stdout}`);
  return JSON.parse(line.slice('RESULT '.length));
}

describe('bundled handlers against AWS-shaped answers', () => {
  let server: Server | undefined;
  afterAll(() => server?.close());

  it('cleanup-phase (EC2 query protocol): finds the execution\'s instances by tag in the XML answer and terminates them', async () => {
    // Prepare: DescribeInstances and TerminateInstances answers as in the EC2 API reference's examples.
    const ep = await endpoint((req): Answer => {
      const action = new URLSearchParams(req.body).get('Action');
      if (action === 'DescribeInstances') {
        return {
          headers: { 'content-type': 'text/xml;charset=UTF-8' },
          body: `<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>8f7724cf-496f-496e-8fe3-example</requestId>
  <reservationSet>
    <item>
      <reservationId>r-1234567890abcdef0</reservationId>
      <ownerId>123456789012</ownerId>
      <instancesSet>
        <item>
          <instanceId>i-0tagged000000001</instanceId>
          <instanceType>c5.large</instanceType>
          <instanceState><code>16</code><name>running</name></instanceState>
          <subnetId>subnet-0123456789abcdef0</subnetId>
          <placement><availabilityZone>us-east-1a</availabilityZone></placement>
          <launchTime>2026-11-28T06:00:00.000Z</launchTime>
          <spotInstanceRequestId>sir-abcd1234</spotInstanceRequestId>
          <tagSet><item><key>${TAG.execution}</key><value>exec-1</value></item></tagSet>
        </item>
      </instancesSet>
    </item>
  </reservationSet>
</DescribeInstancesResponse>`,
        };
      }
      return {
        headers: { 'content-type': 'text/xml;charset=UTF-8' },
        body: `<?xml version="1.0" encoding="UTF-8"?>
<TerminateInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>
  <instancesSet>
    <item>
      <instanceId>i-0known0000000001</instanceId>
      <currentState><code>32</code><name>shutting-down</name></currentState>
      <previousState><code>16</code><name>running</name></previousState>
    </item>
  </instancesSet>
</TerminateInstancesResponse>`,
      };
    });
    server = ep.server;

    // Act
    const result = await invokeBundle('cleanup-phase', { execution: { id: 'exec-1' }, job: { instance: { id: 'i-0known0000000001' } }, caught: { Error: 'States.TaskFailed' } }, ep.url);
    ep.server.close();

    // Assess: the tag filter went out in the query protocol's form, the XML list was read.
    expect(result).toEqual({ terminated: ['i-0known0000000001', 'i-0tagged000000001'] });
    const [describe, terminate] = ep.seen.map((r) => new URLSearchParams(r.body));
    expect(describe.get('Action')).toBe('DescribeInstances');
    expect(describe.get('Filter.1.Name')).toBe(`tag:${TAG.execution}`);
    expect(describe.get('Filter.1.Value.1')).toBe('exec-1');
    expect(terminate.get('Action')).toBe('TerminateInstances');
    expect([terminate.get('InstanceId.1'), terminate.get('InstanceId.2')]).toEqual(['i-0known0000000001', 'i-0tagged000000001']);
    expect(ep.seen.every((r) => String(r.headers.authorization).startsWith('AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/'))).toBe(true);
  });

  it('wake-phase (S3 REST-XML, Step Functions JSON): reads the stored token and its metadata, then ends that wait', async () => {
    // Prepare: GetObject answers the token with its x-amz-meta- header; SendTaskSuccess answers {}.
    const ep = await endpoint((req): Answer => {
      if (req.method === 'GET') return { headers: { 'content-type': 'text/plain', 'x-amz-meta-pool': 'c5.large/subnet-0123456789abcdef0', etag: '"abc"' }, body: 'token-of-the-wait\n' };
      return { headers: { 'content-type': 'application/x-amz-json-1.0' }, body: '{}' };
    });
    server = ep.server;
    const event = {
      version: '0',
      id: 'e1',
      'detail-type': 'EC2 Spot Instance Interruption Warning',
      source: 'aws.ec2',
      time: '2026-11-28T08:00:00Z',
      region: 'us-east-1',
      resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-0abc000000000001'],
      detail: { 'instance-id': 'i-0abc000000000001', 'instance-action': 'terminate' },
    };

    // Act
    const result = await invokeBundle('wake-phase', event, ep.url, { PIPELINE_BUCKET: 'pipeline-bucket', PIPELINE_NAME: 'saturday' });
    ep.server.close();

    // Assess
    expect(result).toEqual({ woke: true, instanceId: 'i-0abc000000000001' });
    const [get, send] = ep.seen;
    expect(get.method).toBe('GET');
    expect(decodeURIComponent(get.url)).toContain(`pipeline-bucket/${waitKey('saturday', 'i-0abc000000000001')}`);
    expect(send.headers['x-amz-target']).toBe('AWSStepFunctions.SendTaskSuccess');
    expect(JSON.parse(send.body)).toMatchObject({ taskToken: 'token-of-the-wait' });
  });
});

describe('PipelineFunction bundling (what cdk synth runs)', () => {
  it('bundles the handler into index.js with the on-instance runner beside it, locally', () => {
    // Prepare: a stack with one function, bundling on (the stack tests skip it).
    const outdir = mkdtempSync(path.join(tmpdir(), 'bundled-stack-'));
    const app = new App({ outdir, builtinCloudFormationValidation: false, context: { 'aws:cdk:enable-asset-metadata': true } });
    const stack = new Stack(app, 'Bundled');
    new PipelineFunction(stack, 'ShardVerdictFn', { handler: 'shard-verdict', description: 'bundling test' });

    // Act
    const assembly = app.synth();

    // Assess
    const template = assembly.getStackByName('Bundled').template as { Resources: Record<string, { Type: string; Properties: { Handler?: string }; Metadata?: Record<string, string> }> };
    const fn = Object.values(template.Resources).find((r) => r.Type === 'AWS::Lambda::Function')!;
    expect(fn.Properties.Handler).toBe('index.handler');
    const assetDir = path.join(outdir, fn.Metadata!['aws:asset:path']!);
    expect(readdirSync(assetDir).sort()).toEqual(['index.js', RUNNER_FILE].sort());
    expect(statSync(path.join(assetDir, 'index.js')).size).toBeLessThanOrEqual(LIMIT_BYTES);
    rmSync(outdir, { recursive: true, force: true });
  });
});
