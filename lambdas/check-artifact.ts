/**
 * CheckArtifact: a build stage's first and last state. First ("check"): which version the run
 * needs (the commit, from the config or the run's parameter; or the source object's ETag) and
 * whether that version is already in the bucket, with its sha256; if it is, the stage launches
 * nothing. Last ("record"): after the build, the artifact must be there with the sha256 its build
 * worker recorded, or the stage fails with ArtifactMissing before any phase could use it (a
 * preflight builds nothing and records what it found).
 */
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import * as z from 'zod';
import { SHA256_METADATA, type ArtifactRef } from '../contract/artifacts';
import { ARTIFACT_NAME, buildSourceSchema, GIT_COMMIT } from '../contract/phase-config';
import { bucketEnvSchema, type BucketEnv } from '../contract/environment';
import { ArtifactMissing, ArtifactVersionUnknown, TransientApiError } from '../contract/errors';
import { runContextSchema } from '../contract/job';
import { paramEnvName } from '../contract/params';
import { artifactKey, sourceKey } from '../contract/storage';
import { errorCode, isTransient } from './aws/aws-errors';
import { CLIENT_CONFIG, type S3Send } from './aws/clients';
import { readEnv } from './runtime/environment';
import { logger } from './runtime/logger';
import { parseTaskInput } from './runtime/task-input';

const s3 = new S3Client(CLIENT_CONFIG);

export const checkArtifactInputSchema = z
  .object({
    mode: z.enum(['check', 'record']),
    build: z.object({ name: z.string().min(1), artifact: z.string().regex(ARTIFACT_NAME), source: buildSourceSchema, pipelineName: z.string().min(1) }).strict(),
    run: runContextSchema,
  })
  .strict();
export type CheckArtifactInput = z.output<typeof checkArtifactInputSchema>;

/** HeadObject, or undefined when there is no such object (404 NotFound: the roles may list, so a missing key is 404). */
async function head(client: S3Send, bucket: string, key: string) {
  try {
    return await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  } catch (err) {
    const code = errorCode(err);
    if (code === 'NotFound' || code === 'NoSuchKey') return undefined;
    if (isTransient(err)) throw new TransientApiError(`HeadObject ${key}: ${code}`, { cause: err });
    throw err;
  }
}

/** The version this run builds: the commit (config, or the run's parameter), or the source object's ETag. */
async function versionOf(client: S3Send, bucket: string, input: CheckArtifactInput): Promise<string> {
  const { source, name, pipelineName } = input.build;
  if ('git' in source) {
    if (source.git.commit) return source.git.commit;
    const env = paramEnvName(source.git.commitParam!);
    const commit = input.run.params?.[env];
    if (commit === undefined || !GIT_COMMIT.test(commit)) {
      throw new ArtifactVersionUnknown(`build ${name}: parameter ${source.git.commitParam} must be a full commit SHA (40 hex characters), got ${JSON.stringify(commit ?? null)}`);
    }
    return commit;
  }
  const key = sourceKey(pipelineName, source.s3.key);
  const object = await head(client, bucket, key);
  const etag = object?.ETag?.replaceAll('"', '');
  if (!etag) throw new ArtifactVersionUnknown(`build ${name}: source s3://${bucket}/${key} does not exist`);
  return etag.replace(/[^A-Za-z0-9._-]/g, '_');
}

export async function checkArtifact(client: S3Send, env: BucketEnv, input: CheckArtifactInput): Promise<ArtifactRef> {
  const { build } = input;
  // Record the version the check chose (the build uploaded that one), not the source's version now:
  // an archive replaced during the build has a new ETag, never built.
  const chosen = input.mode === 'record' ? input.run.artifacts?.[build.artifact]?.version : undefined;
  const version = chosen ?? (await versionOf(client, env.PIPELINE_BUCKET, input));
  const key = artifactKey(build.pipelineName, build.artifact, version);
  const object = await head(client, env.PIPELINE_BUCKET, key);
  const sha256 = object?.Metadata?.[SHA256_METADATA];
  const ref: ArtifactRef = {
    name: build.artifact,
    version,
    uri: `s3://${env.PIPELINE_BUCKET}/${key}`,
    ...(sha256 && /^[0-9a-f]{64}$/.test(sha256) ? { sha256 } : {}),
    present: object !== undefined && sha256 !== undefined && /^[0-9a-f]{64}$/.test(sha256),
  };
  if (input.mode === 'record') {
    // A preflight's build stage built nothing (decisions/data-plane.ts): there is nothing to record.
    if (input.run.mode === 'preflight') return ref;
    if (!ref.sha256) throw new ArtifactMissing(`build ${build.name}: the build succeeded but ${ref.uri} is ${object ? 'there without its sha256' : 'not there'}`);
    logger.info('artifact built', { build: build.name, artifact: ref.name, version, sha256: ref.sha256 });
    return { ...ref, present: false };
  }
  if (object && !ref.present) logger.warn('an object without its sha256 is in the artifact\'s place: building it again', { key });
  logger.info(ref.present ? 'artifact already built: nothing to launch' : 'artifact not built yet', { build: build.name, artifact: ref.name, version });
  return ref;
}

export async function handler(event: unknown): Promise<ArtifactRef> {
  const env = readEnv(bucketEnvSchema);
  const input = parseTaskInput(checkArtifactInputSchema, event, 'CheckArtifact');
  return checkArtifact(s3, env, input);
}
