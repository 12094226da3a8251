/**
 * How every Lambda function of the pipeline is bundled: by the stack at synth (PipelineFunction
 * runs this file in a child process: CDK's local bundling is synchronous, esbuild plugins are not)
 * and by `npm run measure:functions` and the bundle tests, so what is measured is what is deployed.
 *
 * One esbuild bundle per handler, CommonJS, minified, for the pinned Lambda runtime (Node.js 22),
 * no source map (Node reads one only with --enable-source-maps, which slows every cold start).
 *
 * Two things keep the AWS SDK's share small (issue 12, "lean functions"):
 * - packages resolve to their ES modules first (`module` before `main`), the build esbuild can
 *   tree-shake: only the commands a handler imports stay in its bundle;
 * - `literalTraitKeys` below. Since @aws-sdk 3.930 each client describes its shapes in one
 *   generated module (dist-es/schemas/schemas_0.js) whose trait objects use computed keys
 *   (`{ [_xN]: _it }`, `_xN` a module constant "xmlName"). esbuild must assume a computed key may
 *   run code (a getter, toString), so it keeps every such statement, and with them every shape of
 *   the service: the EC2 client alone stayed at 540 KB whatever a handler imported
 *   (aws/aws-sdk-js-v3#7607). The plugin rewrites those keys to the string literals they stand for
 *   (`{ "xmlName": _it }`), exactly the change proposed for the code generator upstream
 *   (smithy-lang/smithy-typescript#1889); the shapes mean the same, and unused ones tree-shake.
 *   Where a future SDK already writes literal keys, the plugin finds nothing to rewrite.
 *
 * Usage: node lib/bundling/bundle-function.mjs <entry.ts> <outdir>  (writes <outdir>/index.js)
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** The Lambda runtime's Node.js major version, which the bundle targets (PipelineFunction's RUNTIME). */
export const TARGET = 'node22';

/** A generated schema module of an AWS SDK client (also the nested STS/SSO clients of the credential chain). */
const SCHEMA_MODULE = /[\\/]node_modules[\\/]@aws-sdk[\\/].+[\\/]dist-es[\\/](?:.+[\\/])?schemas[\\/]schemas_\d+\.js$/;
/** `const _xN = "xmlName";`: the generated modules' string constants, one per line at top level. */
const STRING_CONSTANT = /^const (_\w+) = ("(?:[^"\\\n]|\\.)*");$/gm;
/** A computed object key naming one of them: `[_xN]:`. */
const COMPUTED_KEY = /\[(_\w+)\]:/g;

/** Rewrite the computed keys of a generated schema module to the string literals they name. */
export function withLiteralTraitKeys(source) {
  const constants = new Map();
  for (const m of source.matchAll(STRING_CONSTANT)) constants.set(m[1], m[2]);
  let rewritten = 0;
  const contents = source.replace(COMPUTED_KEY, (key, name) => {
    const literal = constants.get(name);
    if (literal === undefined) return key;
    rewritten += 1;
    return `${literal}:`;
  });
  return { contents, rewritten };
}

/** The esbuild plugin applying withLiteralTraitKeys to every generated schema module. */
export const literalTraitKeys = {
  name: 'aws-sdk-literal-trait-keys',
  setup(builder) {
    builder.onLoad({ filter: SCHEMA_MODULE }, async (args) => ({ contents: withLiteralTraitKeys(await readFile(args.path, 'utf8')).contents, loader: 'js' }));
  },
};

/** Bundle one handler file into `<outdir>/index.js`; returns esbuild's metafile (what went in). */
export async function bundleFunction(entry, outdir) {
  const result = await build({
    entryPoints: [entry],
    outfile: path.join(outdir, 'index.js'),
    bundle: true,
    platform: 'node',
    target: TARGET,
    format: 'cjs',
    mainFields: ['module', 'main'],
    minify: true,
    sourcemap: false,
    metafile: true,
    logLevel: 'warning',
    plugins: [literalTraitKeys],
  });
  return result.metafile;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [entry, outdir] = process.argv.slice(2);
  if (!entry || !outdir) {
    console.error('usage: node lib/bundling/bundle-function.mjs <entry.ts> <outdir>');
    process.exit(2);
  }
  await bundleFunction(entry, outdir);
}
