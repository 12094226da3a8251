/**
 * Built artifacts as the pipeline carries them from stage to stage (`$.artifacts` of the pipeline
 * state, by artifact name): which version, where it is, its sha256, and whether it was already in
 * the bucket when the run looked (then its build stage launched nothing).
 */
import * as z from 'zod';
import { ARTIFACT_NAME } from './phase-config';

export const artifactRefSchema = z
  .object({
    name: z.string().regex(ARTIFACT_NAME),
    /** The source version it is built from: a commit, or a source object's ETag. */
    version: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/),
    /** s3://bucket/<pipeline>/artifacts/<name>/<version> */
    uri: z.string().regex(/^s3:\/\/[^/]+\/.+/),
    /** Recorded by the build worker that uploaded it (object metadata sha256); absent until built. */
    sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
    /** It was in the bucket when its build stage looked: nothing was built. */
    present: z.boolean(),
  })
  .strict();
export type ArtifactRef = z.output<typeof artifactRefSchema>;

export const artifactsSchema = z.record(z.string(), artifactRefSchema);
export type Artifacts = z.output<typeof artifactsSchema>;

/** The object metadata key the build worker records the artifact's sha256 under (x-amz-meta-sha256). */
export const SHA256_METADATA = 'sha256';
