#!/usr/bin/env node
/**
 * The edit loop's numbers, measured here and now (wall clock, on whatever else the machine is doing):
 * `npm run simulate` on the demo (target at most 3 s on an idle 2-core machine; the first run after an
 * install fills Node's compile cache, the next ones use it), `npm run test:quick`, and with `--full`
 * `npm test` (target at most 3 minutes). Exits 1 when a target is missed.
 * Usage: npm run loop-numbers [-- --full]
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const full = process.argv.includes('--full');

/** Wall seconds of one `npm run -s <script>`; its output is dropped, a failure stops the script. */
function timed(script) {
  const started = process.hrtime.bigint();
  const result = spawnSync('npm', ['run', '-s', script], { cwd: ROOT, stdio: 'ignore' });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status !== 0) {
    console.error(`npm run ${script} failed (exit ${result.status})`);
    process.exit(1);
  }
  return seconds;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
const first = timed('simulate');
const warm = median([timed('simulate'), timed('simulate'), timed('simulate')]);
rows.push({ what: 'npm run simulate (first run)', seconds: first });
rows.push({ what: 'npm run simulate (median of 3 more)', seconds: warm, target: 3 });
rows.push({ what: 'npm run test:quick', seconds: timed('test:quick') });
if (full) rows.push({ what: 'npm test', seconds: timed('test'), target: 180 });

const pad = (s, n) => String(s).padEnd(n);
console.log(`${pad('loop', 38)} ${pad('seconds', 9)} target`);
for (const r of rows) console.log(`${pad(r.what, 38)} ${pad(r.seconds.toFixed(1), 9)} ${r.target === undefined ? '-' : `<= ${r.target} ${r.seconds <= r.target ? 'met' : 'MISSED'}`}`);
if (rows.some((r) => r.target !== undefined && r.seconds > r.target)) process.exitCode = 1;
