#!/usr/bin/env node
/**
 * npm run simulate [-- --scenario FILE.json] [--json] [--html FILE.html]
 *
 * Rehearse the real pipeline (the state machines synthesized from this CDK app, the real Lambda
 * handlers) against a simulated AWS cloud on virtual time. Prints the timeline (or, with --json,
 * the JSON report); --html also writes a picture of the run, one self-contained HTML page
 * (simulator/html.ts). Exit 0 when the execution SUCCEEDED, 1 when it ended any other way or an
 * invariant broke, 2 when the scenario or config is invalid or the picture cannot be written.
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { PipelineConfigError } from '../lib/config/load';
import { checkInvariants } from '../simulator/invariants';
import { renderHtml } from '../simulator/html';
import { buildReport } from '../simulator/report';
import { runSimulation } from '../simulator/run';
import { loadScenario, ScenarioError, type Scenario } from '../simulator/scenario';
import { renderTimeline } from '../simulator/timeline';

const USAGE = 'usage: npm run simulate -- [--scenario FILE.json] [--json] [--html FILE.html]';
const DEMO_SCENARIO = path.join(__dirname, '..', 'scenarios', 'seed-001-dataphase1-reclaimed.json');

async function main(): Promise<number> {
  let args: { scenario?: string; json?: boolean; html?: string; help?: boolean };
  try {
    ({ values: args } = parseArgs({
      options: { scenario: { type: 'string' }, json: { type: 'boolean' }, html: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(
      `${USAGE}\n  no scenario: the seed story (DataPhase1 reclaimed mid-workload, relaunched)\n  --json: the JSON report instead of the timeline\n  --html FILE.html: also write a picture of the run (one self-contained HTML page)`,
    );
    return 0;
  }
  const file = args.scenario ?? DEMO_SCENARIO;
  let scenario: Scenario;
  let sim;
  try {
    scenario = loadScenario(file);
    sim = await runSimulation(scenario, { baseDir: path.dirname(path.resolve(file)) });
  } catch (err) {
    if (err instanceof ScenarioError || err instanceof PipelineConfigError) {
      console.error(err.message);
      return 2;
    }
    throw err;
  }
  const report = buildReport(sim);
  const invariants = checkInvariants(report);
  if (args.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else console.log(renderTimeline(sim, report, invariants));
  const broken = invariants.filter((i) => !i.holds);
  if (args.json) for (const i of broken) console.error(`invariant broken: ${i.name}${i.detail ? ` (${i.detail})` : ''}`);
  if (args.html !== undefined) {
    const htmlFile = path.resolve(args.html);
    try {
      writeFileSync(htmlFile, renderHtml(report));
    } catch (err) {
      console.error(`cannot write the HTML picture to ${htmlFile}: ${(err as Error).message}`);
      return 2;
    }
    if (!args.json) console.log(`Picture of the run: ${htmlFile}`); // with --json, stdout is the report alone
  }
  if (broken.length > 0) return 1;
  return report.status === 'SUCCEEDED' ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
