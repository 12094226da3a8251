#!/usr/bin/env node
/**
 * spot-pipeline: status, logs and cost of a deployed pipeline at the terminal (cli/main.ts).
 * Runs the TypeScript sources through tsx (a devDependency: for use from a clone).
 */
'use strict';
/* global require, process */
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS launcher: tsx registers through require */
require('tsx/cjs');
const { run } = require('../cli/main.ts');

run(process.argv.slice(2), {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`spot-pipeline: ${err && err.message ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
