import type { Metafile, Plugin } from 'esbuild';

export declare const TARGET: string;
export declare function withLiteralTraitKeys(source: string): { contents: string; rewritten: number };
export declare const literalTraitKeys: Plugin;
export declare function bundleFunction(entry: string, outdir: string): Promise<Metafile>;
