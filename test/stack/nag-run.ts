/** The cdk-nag AwsSolutions checks as `cdk synth -c nag=true` runs them, for the stack tests (in process, bundling skipped, cdk.json context). */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import type { PipelineConfig } from '../../contract/config';
import { addNagChecks, NAG_PACK } from '../../lib/nag';
import { SpotPipelineStack } from '../../lib/spot-pipeline-stack';

export const CDK_JSON_CONTEXT = (JSON.parse(readFileSync(join(resolve(__dirname, '..', '..'), 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;

/** One finding in CDK's validation-report.json; acknowledged ones carry the acknowledgement. */
export interface Finding {
  ruleName: string;
  violatingConstructs: { constructPath: string }[];
  acknowledgedId?: string;
  acknowledgedAt?: string;
  reason?: string;
}
export interface PluginReport {
  pluginName: string;
  violations: Finding[];
  suppressedViolations?: Finding[];
}

export interface NagRun {
  /** What synth threw: CDK throws when a plugin reports an unacknowledged finding. */
  error?: Error;
  /** The AwsSolutions report: undefined when the plugin did not run or found nothing at all. */
  report?: PluginReport;
  /** Every acknowledgement in the construct tree: id, construct path, reason. */
  acknowledgements: { id: string; path: string; reason: string }[];
  /** The synthesized template (written before the checks run). */
  template: { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
}

const outdirs: string[] = [];

/** A fresh directory for a cloud assembly, removed with the nag runs. */
export function nagOutdir(prefix = 'nag-'): string {
  const outdir = mkdtempSync(join(tmpdir(), prefix));
  outdirs.push(outdir);
  return outdir;
}

/** Remove the cloud assemblies synthWithNag wrote (a test file's afterAll). */
export function removeNagRuns(): void {
  for (const dir of outdirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Synthesize the stack with the AwsSolutions checks; `tweak` changes the stack first. */
export function synthWithNag(config: PipelineConfig, tweak?: (stack: SpotPipelineStack) => void, stackId = 'SaturdaySpotPipeline'): NagRun {
  const outdir = nagOutdir();
  const app = new App({ outdir, context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
  addNagChecks(app);
  const stack = new SpotPipelineStack(app, stackId, { config });
  tweak?.(stack);
  let error: Error | undefined;
  try {
    app.synth();
  } catch (err) {
    error = err as Error;
  }
  const report = (JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as { pluginReports: PluginReport[] }).pluginReports.find((r) => r.pluginName === NAG_PACK);
  const acknowledgements = app.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) => Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({ id, path: c.node.path, reason }))),
  );
  const template = JSON.parse(readFileSync(join(outdir, `${stack.artifactId}.template.json`), 'utf8')) as NagRun['template'];
  return { error, report, acknowledgements, template };
}

/** Findings as `rule @ construct path` lines: what a failure message should show. */
export const lines = (findings: Finding[] | undefined): string[] => (findings ?? []).flatMap((f) => f.violatingConstructs.map((c) => `${f.ruleName} @ ${c.constructPath}`));

/** The acknowledgements no finding used, as `id @ path` (stale ones). */
export function unusedAcknowledgements(run: NagRun): string[] {
  const used = new Set((run.report?.suppressedViolations ?? []).map((f) => `${f.acknowledgedId} @ ${f.acknowledgedAt}`));
  return run.acknowledgements.map((a) => `${a.id} @ ${a.path}`).filter((a) => !used.has(a));
}
