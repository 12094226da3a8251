/**
 * The layers, as README's "How it is built" draws them: contract at the bottom (schemas and
 * types, imports nothing of ours), pure decisions on it, then the Lambda handlers, the CDK side
 * and the simulator, each importing downwards only. Read from the source files' import
 * statements, followed transitively.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.join(__dirname, '..', '..');

function tsFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir)).flatMap((name) => {
    const rel = path.join(dir, name);
    if (statSync(path.join(ROOT, rel)).isDirectory()) return tsFiles(rel);
    return rel.endsWith('.ts') ? [rel] : [];
  });
}

/** Module specifiers a file imports or re-exports (static and literal dynamic imports). */
function specifiers(file: string): string[] {
  const source = readFileSync(path.join(ROOT, file), 'utf8');
  const found: string[] = [];
  for (const m of source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/g)) found.push(m[1]!);
  for (const m of source.matchAll(/(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g)) found.push(m[1]!);
  for (const m of source.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push(m[1]!);
  return found;
}

/** A relative specifier as a repo-relative file path; a package name as itself. */
function resolveSpecifier(from: string, spec: string): string {
  if (!spec.startsWith('.')) return spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');
  const base = path.normalize(path.join(path.dirname(from), spec));
  for (const candidate of [`${base}.ts`, path.join(base, 'index.ts'), base]) if (existsSync(path.join(ROOT, candidate))) return candidate;
  return base;
}

const direct = (file: string) => specifiers(file).map((s) => resolveSpecifier(file, s));

/** Everything a file reaches through its imports: our files and the packages they import. */
function reach(file: string): Set<string> {
  const seen = new Set<string>();
  const queue = [file];
  while (queue.length > 0) {
    const next = queue.pop()!;
    for (const target of direct(next)) {
      if (seen.has(target)) continue;
      seen.add(target);
      if (target.endsWith('.ts')) queue.push(target);
    }
  }
  return seen;
}

const isOurs = (target: string) => target.endsWith('.ts');
const under = (folder: string) => (target: string) => target.startsWith(`${folder}/`);
const HANDLER = /^lambdas\/[^/]+\.ts$/;

describe('layers', () => {
  it('the scanner sees imports (a handler reaches the contract, the SDK and the decisions it uses)', () => {
    // Act
    const reached = reach('lambdas/launch-instance.ts');

    // Assess
    expect(reached).toContain('contract/job.ts');
    expect(reached).toContain('decisions/classify.ts');
    expect(reached).toContain('@aws-sdk/client-ec2');
    expect(reached).toContain('zod');
  });

  it('contract/ imports only zod and itself: no SDK, no CDK, nothing of lib/, lambdas/, state-machines/, simulator/', () => {
    // Act
    const offending = tsFiles('contract').flatMap((f) => direct(f).filter((t) => (isOurs(t) ? !under('contract')(t) : t !== 'zod')).map((t) => `${f} -> ${t}`));

    // Assess
    expect(offending).toEqual([]);
  });

  it('decisions/ are pure: they import only contract/ and decisions/', () => {
    // Act
    const offending = tsFiles('decisions').flatMap((f) =>
      direct(f)
        .filter((t) => !isOurs(t) || !(under('contract')(t) || under('decisions')(t)))
        .map((t) => `${f} -> ${t}`),
    );

    // Assess
    expect(offending).toEqual([]);
  });

  it('no file under lambdas/ reaches aws-cdk-lib or constructs, directly or through what it imports', () => {
    // Act
    const offending = tsFiles('lambdas').flatMap((f) => [...reach(f)].filter((t) => t === 'aws-cdk-lib' || t === 'constructs' || t === 'cdk-nag').map((t) => `${f} -> ${t}`));

    // Assess
    expect(offending).toEqual([]);
  });

  it('no file under lib/ or state-machines/ imports anything under lambdas/ (no handler module, no SDK client built at synth)', () => {
    // Act
    const offending = [...tsFiles('lib'), ...tsFiles('state-machines'), 'bin/app.ts'].flatMap((f) =>
      [...reach(f)].filter(under('lambdas')).map((t) => `${f} -> ${t}`),
    );

    // Assess
    expect(offending).toEqual([]);
  });

  it('the simulator imports no handler module: handlers run only through the Lambda runtime it simulates', () => {
    // Act
    const offending = [...tsFiles('simulator'), 'bin/simulate.ts'].flatMap((f) => [...reach(f)].filter((t) => HANDLER.test(t) || under('lambdas')(t)).map((t) => `${f} -> ${t}`));

    // Assess
    expect(offending).toEqual([]);
  });
});
