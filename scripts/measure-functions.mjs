#!/usr/bin/env node
/**
 * How lean each Lambda function is: its bundle as the stack builds it (lib/bundling/bundle-function.mjs,
 * which PipelineFunction runs) and the time Node takes to load it (module init: what a cold start
 * pays before the handler runs), measured in a fresh process per function, the median of three.
 * Issue 12 asks for at most 600 KB and 250 ms each: this prints where each function stands and
 * exits 1 when one is over. Usage: npm run measure:functions [-- --json]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleFunction } from '../lib/bundling/bundle-function.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LIMIT_BYTES = 600 * 1024;
const LIMIT_MS = 250;
const json = process.argv.includes('--json');

const handlers = readdirSync(path.join(ROOT, 'lambdas'))
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
  .map((f) => f.slice(0, -3))
  .sort();
const dir = mkdtempSync(path.join(tmpdir(), 'measure-'));
const rows = [];
try {
  for (const handler of handlers) {
    const outfile = path.join(dir, handler, 'index.js');
    await bundleFunction(path.join(ROOT, 'lambdas', `${handler}.ts`), path.join(dir, handler));
    const probe = path.join(dir, handler, 'probe.cjs');
    // The handlers read their environment when called, not when loaded: loading needs none.
    writeFileSync(probe, `const t=process.hrtime.bigint();require(${JSON.stringify(outfile)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6));`);
    const times = [0, 1, 2].map(() => Number(execFileSync(process.execPath, [probe], { env: { ...process.env, AWS_REGION: 'us-east-1', NODE_NO_WARNINGS: '1' } }).toString()));
    const initMs = Math.round(times.sort((a, b) => a - b)[1]);
    rows.push({ handler, bytes: statSync(outfile).size, initMs });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const within = (r) => r.bytes <= LIMIT_BYTES && r.initMs <= LIMIT_MS;
if (json) {
  process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
} else {
  const pad = (s, n) => String(s).padEnd(n);
  console.log(`${pad('function', 20)} ${pad('bundle', 10)} ${pad('init', 9)} within ${LIMIT_BYTES / 1024} KB / ${LIMIT_MS} ms`);
  for (const r of rows) {
    console.log(`${pad(r.handler, 20)} ${pad(`${Math.round(r.bytes / 1024)} KB`, 10)} ${pad(`${r.initMs} ms`, 9)} ${within(r) ? 'yes' : 'no'}`);
  }
}
if (!rows.every(within)) process.exitCode = 1;
