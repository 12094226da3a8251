#!/usr/bin/env node
/**
 * Complete package-lock.json with the platform-specific optional packages the registry mirror of
 * this workplace does not serve (e.g. @rollup/rollup-android-arm64 answers 404 here). npm cannot
 * record what it cannot resolve, and `npm ci` then refuses the lockfile as "out of sync".
 * A normal lockfile lists every such package with its os/cpu, so that other platforms skip it;
 * this adds those entries, inferring os/cpu/libc from the package name.
 *
 * Run after `npm install` changes the lockfile:  node scripts/complete-lockfile.mjs
 */
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const packages = lock.packages;

const OS = ['android', 'darwin', 'freebsd', 'linux', 'win32', 'openharmony', 'netbsd', 'openbsd', 'sunos', 'aix', 'cygwin'];
const CPU = { arm64: 'arm64', x64: 'x64', ia32: 'ia32', arm: 'arm', loong64: 'loong64', ppc64: 'ppc64', riscv64: 'riscv64', s390x: 's390x', mips64el: 'mips64el', wasm32: 'wasm32' };

function platformOf(name) {
  const base = name.split('/').pop();
  const parts = base.split('-');
  const os = parts.find((p) => OS.includes(p));
  const cpu = parts.map((p) => (p === 'gnueabihf' || p === 'musleabihf' || p === 'eabi' ? 'arm' : p)).find((p) => p in CPU);
  const libc = parts.includes('musl') || parts.includes('musleabihf') ? 'musl' : parts.includes('gnu') || parts.includes('gnueabihf') ? 'glibc' : undefined;
  return { os, cpu: cpu && CPU[cpu], libc };
}

let added = 0;
for (const [location, pkg] of Object.entries(packages)) {
  for (const [dep, range] of Object.entries(pkg.optionalDependencies ?? {})) {
    const parent = location === '' ? '' : `${location}/`;
    const candidates = [`${parent}node_modules/${dep}`, `node_modules/${dep}`];
    if (candidates.some((c) => c in packages)) continue;
    const { os, cpu, libc } = platformOf(dep);
    if (!os || !cpu) continue; // not a platform package: leave it to npm
    packages[`node_modules/${dep}`] = {
      version: String(range).replace(/^[~^=]/, ''),
      cpu: [cpu],
      ...(pkg.dev ? { dev: true } : {}),
      ...(libc ? { libc: [libc] } : {}),
      license: pkg.license ?? 'MIT',
      optional: true,
      os: [os],
    };
    added += 1;
  }
}
lock.packages = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`complete-lockfile: added ${added} platform package entr${added === 1 ? 'y' : 'ies'}`);
