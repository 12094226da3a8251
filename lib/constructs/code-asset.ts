/**
 * A phase's workload code as a CDK asset the instance can verify. Synth packs the directory into a
 * .tar.gz (the `tar` package: entries in sorted order, portable headers without owner names, one
 * fixed modification time, so the same files make the same bytes) and stages that file as a file
 * asset: `cdk deploy` uploads it byte for byte to the bootstrap assets bucket. Its sha256 is known
 * at synth and travels in the phase spec; the runner verifies it before anything runs
 * (instance/pipeline-runner.sh). CDK's own directory assets are zipped at publish time instead, so
 * their bytes, and hash, are not known at synth.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Stack } from 'aws-cdk-lib';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { create as createTar } from 'tar';

/** Every entry's modification time: 1980-01-01, as zip's epoch (tar's 1970 draws "implausibly old" warnings). */
const FIXED_MTIME = new Date(Date.UTC(1980, 0, 1));
/** Never packed: version control and editor litter. */
const SKIPPED = new Set(['.git', '.hg', '.svn', '.DS_Store', '__pycache__', 'node_modules']);

/** The files under `dir`, relative, sorted (directories are implied by their files). */
function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(path.join(dir, prefix), { withFileTypes: true })
    .filter((entry) => !SKIPPED.has(entry.name))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((entry) => {
      const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) return listFiles(dir, relative);
      return entry.isFile() || entry.isSymbolicLink() ? [relative] : [];
    });
}

/** Pack a directory into a reproducible .tar.gz; returns the file and its sha256. */
export function packDirectory(dir: string): { file: string; sha256: string } {
  const stat = statSync(dir, { throwIfNoEntry: false });
  if (!stat?.isDirectory()) throw new Error(`code directory ${dir} does not exist or is not a directory`);
  const files = listFiles(dir);
  if (files.length === 0) throw new Error(`code directory ${dir} holds no files`);
  const out = path.join(tmpdir(), 'spot-pipeline-code');
  mkdirSync(out, { recursive: true });
  const staging = path.join(out, `pack-${process.pid}-${Date.now()}.tar.gz`);
  createTar({ gzip: { level: 9 }, portable: true, noDirRecurse: true, mtime: FIXED_MTIME, cwd: dir, file: staging, sync: true }, files);
  const sha256 = createHash('sha256').update(readFileSync(staging)).digest('hex');
  const file = path.join(out, `${sha256}.tar.gz`);
  renameSync(staging, file);
  return { file, sha256 };
}

export interface CodeAssetProps {
  /** The directory of workload code (absolute, or relative to the working directory). */
  readonly directory: string;
}

export class CodeAsset extends Construct {
  /** s3://bucket/key of the uploaded archive. */
  readonly uri: string;
  /** The archive's sha256, which the runner verifies. */
  readonly sha256: string;
  /** The one object's ARN: what an instance role may read. */
  readonly objectArn: string;

  constructor(scope: Construct, id: string, props: CodeAssetProps) {
    super(scope, id);
    const { file, sha256 } = packDirectory(path.resolve(props.directory));
    const asset = new s3assets.Asset(this, 'Archive', { path: file });
    this.uri = asset.s3ObjectUrl;
    this.sha256 = sha256;
    this.objectArn = `arn:${Stack.of(this).partition}:s3:::${asset.s3BucketName}/${asset.s3ObjectKey}`;
  }
}
