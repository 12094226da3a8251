/**
 * CheckArtifact (lambdas/check-artifact.ts), a build stage's first and last state, against the
 * S3 answers it gets: which version a run needs (a commit from the config or from a run
 * parameter, or a source object's ETag), whether that version is in the bucket with its sha256,
 * and, after the build, that it is there or the stage fails before a phase could use it.
 */
import { HeadObjectCommand, NotFound, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ArtifactMissing, ArtifactVersionUnknown, InvalidTaskInput, TransientApiError } from '../../contract/errors';
import type { BuildSource } from '../../contract/config';
import type { RunContext } from '../../contract/job';
import { handler } from '../../lambdas/check-artifact';
import { ENV, runContext, stubHandlerEnv } from './fixtures';

const s3 = mockClient(S3Client);

const BUCKET = ENV.PIPELINE_BUCKET;
const PIPELINE = 'moolloy-runs';
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const OTHER_COMMIT = 'fedcba9876543210fedcba9876543210fedcba98';
const SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const GIT_URL = 'https://github.com/AlloyTools/org.alloytools.alloy.git';
/** The artifact key of a version, as contract/storage.ts names it. */
const artifactKey = (version: string) => `${PIPELINE}/artifacts/moolloy/${version}`;

/** What the build stage's CheckArtifact state hands the function (state-machines/stages/build.ts). */
function event(parts: { mode?: 'check' | 'record'; source?: BuildSource; run?: Partial<RunContext> } = {}) {
  return {
    mode: parts.mode ?? 'check',
    build: { name: 'BuildMoolloy', artifact: 'moolloy', source: parts.source ?? { git: { url: GIT_URL, commit: COMMIT } }, pipelineName: PIPELINE },
    run: runContext({ artifacts: {}, ...parts.run }),
  };
}

/** HeadObject of a missing key, as S3 answers it to a role that may list the bucket: 404 NotFound, no body. */
const notFound = () => new NotFound({ $metadata: { httpStatusCode: 404 }, message: 'UnknownError' });
/** HeadObject of an object: its ETag in quotes, user metadata without the x-amz-meta- prefix. */
const headOf = (metadata: Record<string, string> = {}, etag = '"9b2cf535f27731c974343645a3985328"') => ({
  $metadata: { httpStatusCode: 200 },
  ContentLength: 4_194_304,
  ContentType: 'application/octet-stream',
  ETag: etag,
  LastModified: new Date('2026-05-23T09:12:00Z'),
  Metadata: metadata,
});
const s3Error = (name: string, httpStatusCode: number, message: string) =>
  new S3ServiceException({ name, $fault: httpStatusCode >= 500 ? 'server' : 'client', $metadata: { httpStatusCode }, message });

beforeEach(() => {
  s3.reset();
  s3.on(HeadObjectCommand).rejects(notFound());
  stubHandlerEnv();
});

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('CheckArtifact check: a commit written in the config', () => {
  it('not in the bucket: present false, for the version at <pipeline>/artifacts/<name>/<commit>', async () => {
    // Prepare: every HeadObject is 404 (beforeEach).
    const input = event();

    // Act
    const ref = await handler(input);

    // Assess
    expect(ref).toEqual({ name: 'moolloy', version: COMMIT, uri: `s3://${BUCKET}/${artifactKey(COMMIT)}`, present: false });
    expect(s3).toHaveReceivedCommandTimes(HeadObjectCommand, 1);
    expect(s3).toHaveReceivedCommandWith(HeadObjectCommand, { Bucket: BUCKET, Key: artifactKey(COMMIT) });
  });

  it('in the bucket with the sha256 its build worker recorded: present true, with the sha256 (nothing to launch)', async () => {
    // Prepare
    s3.on(HeadObjectCommand, { Bucket: BUCKET, Key: artifactKey(COMMIT) }).resolves(headOf({ sha256: SHA256 }));

    // Act
    const ref = await handler(event());

    // Assess
    expect(ref).toEqual({ name: 'moolloy', version: COMMIT, uri: `s3://${BUCKET}/${artifactKey(COMMIT)}`, sha256: SHA256, present: true });
  });

  it.each<{ what: string; metadata: Record<string, string> }>([
    { what: 'no sha256 metadata (an upload cut short, or put by hand)', metadata: {} },
    { what: 'sha256 metadata that is not a sha256', metadata: { sha256: 'not-a-digest' } },
    { what: 'an upper-case digest (the worker records lower-case hex)', metadata: { sha256: SHA256.toUpperCase() } },
  ])('an object with $what is not the artifact: present false, no sha256, so it is built again', async ({ metadata }) => {
    // Prepare
    s3.on(HeadObjectCommand, { Bucket: BUCKET, Key: artifactKey(COMMIT) }).resolves(headOf(metadata));

    // Act
    const ref = await handler(event());

    // Assess
    expect(ref).toEqual({ name: 'moolloy', version: COMMIT, uri: `s3://${BUCKET}/${artifactKey(COMMIT)}`, present: false });
  });

  it('a commit in the config wins over a run parameter of the same value: the run parameters are not read', async () => {
    // Prepare
    const input = event({ run: { params: { PIPELINE_PARAM_COMMIT: OTHER_COMMIT } } });

    // Act
    const ref = await handler(input);

    // Assess
    expect(ref.version).toBe(COMMIT);
  });
});

describe('CheckArtifact check: the commit from a run parameter (commitParam)', () => {
  const source: BuildSource = { git: { url: GIT_URL, commitParam: 'moolloyCommit' } };

  it('reads the parameter as the workload would (PIPELINE_PARAM_<NAME>) and looks up that commit', async () => {
    // Prepare
    s3.on(HeadObjectCommand, { Bucket: BUCKET, Key: artifactKey(OTHER_COMMIT) }).resolves(headOf({ sha256: SHA256 }));
    const input = event({ source, run: { params: { PIPELINE_PARAM_MOOLLOY_COMMIT: OTHER_COMMIT, PIPELINE_PARAM_MODEL: 'example' } } });

    // Act
    const ref = await handler(input);

    // Assess
    expect(ref).toEqual({ name: 'moolloy', version: OTHER_COMMIT, uri: `s3://${BUCKET}/${artifactKey(OTHER_COMMIT)}`, sha256: SHA256, present: true });
    expect(s3).toHaveReceivedCommandWith(HeadObjectCommand, { Bucket: BUCKET, Key: artifactKey(OTHER_COMMIT) });
  });

  it('accepts a 64-hex SHA-256 object name', async () => {
    // Prepare
    const sha256Commit = 'b'.repeat(64);
    const input = event({ source, run: { params: { PIPELINE_PARAM_MOOLLOY_COMMIT: sha256Commit } } });

    // Act
    const ref = await handler(input);

    // Assess
    expect(ref).toMatchObject({ version: sha256Commit, present: false });
  });

  it.each<{ what: string; params: Record<string, string> | undefined; got: string }>([
    { what: 'the run has no parameters', params: undefined, got: 'null' },
    { what: 'the parameter is not set', params: { PIPELINE_PARAM_MODEL: 'example' }, got: 'null' },
    { what: 'a branch name', params: { PIPELINE_PARAM_MOOLLOY_COMMIT: 'main' }, got: '"main"' },
    { what: 'a short SHA', params: { PIPELINE_PARAM_MOOLLOY_COMMIT: COMMIT.slice(0, 12) }, got: `"${COMMIT.slice(0, 12)}"` },
    { what: 'an upper-case SHA', params: { PIPELINE_PARAM_MOOLLOY_COMMIT: COMMIT.toUpperCase() }, got: `"${COMMIT.toUpperCase()}"` },
    { what: 'a path that would leave the artifact prefix', params: { PIPELINE_PARAM_MOOLLOY_COMMIT: '../../runs/x' }, got: '"../../runs/x"' },
  ])('$what: ArtifactVersionUnknown naming the parameter, and S3 is not asked', async ({ params, got }) => {
    // Prepare
    const input = event({ source, run: { params } });

    // Act
    const checking = handler(input);

    // Assess
    await expect(checking).rejects.toBeInstanceOf(ArtifactVersionUnknown);
    await expect(checking).rejects.toMatchObject({ name: 'ArtifactVersionUnknown', message: expect.stringContaining('build BuildMoolloy: parameter moolloyCommit must be a full commit SHA') });
    await expect(checking).rejects.toThrow(`got ${got}`);
    expect(s3).not.toHaveReceivedCommand(HeadObjectCommand);
  });
});

describe('CheckArtifact check: a source archive in the bucket', () => {
  const source: BuildSource = { s3: { key: 'moolloy/src-2026-05.tar.gz' } };
  const sourceKey = `${PIPELINE}/sources/moolloy/src-2026-05.tar.gz`;

  it("the version is the source object's ETag without its quotes", async () => {
    // Prepare
    s3.on(HeadObjectCommand, { Bucket: BUCKET, Key: sourceKey }).resolves(headOf({}, '"9b2cf535f27731c974343645a3985328"'));

    // Act
    const ref = await handler(event({ source }));

    // Assess
    expect(ref).toEqual({
      name: 'moolloy',
      version: '9b2cf535f27731c974343645a3985328',
      uri: `s3://${BUCKET}/${artifactKey('9b2cf535f27731c974343645a3985328')}`,
      present: false,
    });
    expect(s3).toHaveReceivedNthCommandWith(HeadObjectCommand, 1, { Bucket: BUCKET, Key: sourceKey });
    expect(s3).toHaveReceivedNthCommandWith(HeadObjectCommand, 2, { Bucket: BUCKET, Key: artifactKey('9b2cf535f27731c974343645a3985328') });
  });

  it('a multipart upload\'s ETag ("<md5>-<parts>") is a version too, and an artifact built from it is found', async () => {
    // Prepare
    const version = 'd41d8cd98f00b204e9800998ecf8427e-12';
    s3.on(HeadObjectCommand, { Bucket: BUCKET, Key: sourceKey }).resolves(headOf({}, `"${version}"`));
    s3.on(HeadObjectCommand, { Bucket: BUCKET, Key: artifactKey(version) }).resolves(headOf({ sha256: SHA256 }));

    // Act
    const ref = await handler(event({ source }));

    // Assess
    expect(ref).toMatchObject({ version, sha256: SHA256, present: true });
  });

  it('no source object: ArtifactVersionUnknown naming its s3:// URI', async () => {
    // Prepare: every HeadObject is 404 (beforeEach).
    const input = event({ source });

    // Act
    const checking = handler(input);

    // Assess
    await expect(checking).rejects.toBeInstanceOf(ArtifactVersionUnknown);
    await expect(checking).rejects.toThrow(`build BuildMoolloy: source s3://${BUCKET}/${sourceKey} does not exist`);
    expect(s3).toHaveReceivedCommandTimes(HeadObjectCommand, 1);
  });
});

describe('CheckArtifact record: after the build', () => {
  it('the artifact is there with its sha256: the ref for the phases after, present false (it was built in this run)', async () => {
    // Prepare
    s3.on(HeadObjectCommand, { Bucket: BUCKET, Key: artifactKey(COMMIT) }).resolves(headOf({ sha256: SHA256 }));

    // Act
    const ref = await handler(event({ mode: 'record' }));

    // Assess
    expect(ref).toEqual({ name: 'moolloy', version: COMMIT, uri: `s3://${BUCKET}/${artifactKey(COMMIT)}`, sha256: SHA256, present: false });
  });

  it('the build succeeded but uploaded nothing: ArtifactMissing naming the object', async () => {
    // Prepare: every HeadObject is 404 (beforeEach).
    const input = event({ mode: 'record' });

    // Act
    const recording = handler(input);

    // Assess
    await expect(recording).rejects.toBeInstanceOf(ArtifactMissing);
    await expect(recording).rejects.toThrow(`build BuildMoolloy: the build succeeded but s3://${BUCKET}/${artifactKey(COMMIT)} is not there`);
  });

  it('an object without its sha256: ArtifactMissing (no phase may download what nobody can verify)', async () => {
    // Prepare
    s3.on(HeadObjectCommand, { Bucket: BUCKET, Key: artifactKey(COMMIT) }).resolves(headOf({}));

    // Act
    const recording = handler(event({ mode: 'record' }));

    // Assess
    await expect(recording).rejects.toBeInstanceOf(ArtifactMissing);
    await expect(recording).rejects.toThrow('there without its sha256');
  });

  it('records the version its check chose, even when the source archive was replaced during the build', async () => {
    // Prepare: the check chose ETag v1 and the build uploaded artifacts/moolloy/v1; since then
    // someone uploaded a new archive (ETag v2), not built.
    const source: BuildSource = { s3: { key: 'moolloy/src.tar.gz' } };
    const chosen = { name: 'moolloy', version: 'v1', uri: `s3://${BUCKET}/${artifactKey('v1')}`, present: false };
    s3.on(HeadObjectCommand, { Bucket: BUCKET, Key: `${PIPELINE}/sources/moolloy/src.tar.gz` }).resolves(headOf({}, '"v2"'));
    s3.on(HeadObjectCommand, { Bucket: BUCKET, Key: artifactKey('v1') }).resolves(headOf({ sha256: SHA256 }));

    // Act
    const ref = await handler(event({ mode: 'record', source, run: { artifacts: { moolloy: chosen } } }));

    // Assess: the object the build worker was told to upload (PIPELINE_BUILD_ARTIFACT_URI) is the one recorded.
    expect(ref).toEqual({ ...chosen, sha256: SHA256 });
    expect(s3).not.toHaveReceivedCommandWith(HeadObjectCommand, { Key: artifactKey('v2') });
  });
});

describe('CheckArtifact: S3 errors and bad input', () => {
  it.each([
    { what: 'SlowDown 503 (S3 throttling)', error: () => s3Error('SlowDown', 503, 'Please reduce your request rate.') },
    { what: 'a body-less 503 (HEAD responses carry no error code)', error: () => s3Error('503', 503, 'UnknownError') },
    { what: 'InternalError 500', error: () => s3Error('InternalError', 500, 'We encountered an internal error. Please try again.') },
  ])('throttled or failing HeadObject, $what: TransientApiError, for the state machine to retry', async ({ error }) => {
    // Prepare
    s3.on(HeadObjectCommand).rejects(error());

    // Act
    const checking = handler(event());

    // Assess
    await expect(checking).rejects.toBeInstanceOf(TransientApiError);
    await expect(checking).rejects.toMatchObject({ name: 'TransientApiError', message: expect.stringContaining(`HeadObject ${artifactKey(COMMIT)}`) });
  });

  it('a throttled look-up of the source archive is transient too, not an unknown version', async () => {
    // Prepare
    s3.on(HeadObjectCommand).rejects(s3Error('SlowDown', 503, 'Please reduce your request rate.'));

    // Act
    const checking = handler(event({ source: { s3: { key: 'src.tar.gz' } } }));

    // Assess
    await expect(checking).rejects.toBeInstanceOf(TransientApiError);
  });

  it('403 AccessDenied is no verdict to retry: it fails the task as S3 said it', async () => {
    // Prepare
    s3.on(HeadObjectCommand).rejects(s3Error('Forbidden', 403, 'Forbidden'));

    // Act
    const checking = handler(event());

    // Assess
    await expect(checking).rejects.toMatchObject({ name: 'Forbidden' });
    await expect(checking).rejects.not.toBeInstanceOf(TransientApiError);
  });

  it.each([
    { what: 'an unknown mode', edit: (e: ReturnType<typeof event>) => ({ ...e, mode: 'verify' }) },
    { what: 'an artifact name with a dash', edit: (e: ReturnType<typeof event>) => ({ ...e, build: { ...e.build, artifact: 'moolloy-jar' } }) },
    { what: 'a source with both git and s3', edit: (e: ReturnType<typeof event>) => ({ ...e, build: { ...e.build, source: { git: { url: GIT_URL, commit: COMMIT }, s3: { key: 'a.tar.gz' } } } }) },
    { what: 'a branch as the commit', edit: (e: ReturnType<typeof event>) => ({ ...e, build: { ...e.build, source: { git: { url: GIT_URL, commit: 'main' } } } }) },
    { what: 'no run context', edit: (e: ReturnType<typeof event>) => ({ mode: e.mode, build: e.build }) },
    { what: 'an unknown field', edit: (e: ReturnType<typeof event>) => ({ ...e, force: true }) },
  ])('$what: InvalidTaskInput, before S3 is asked', async ({ edit }) => {
    // Prepare
    const input = edit(event());

    // Act
    const checking = handler(input);

    // Assess
    await expect(checking).rejects.toBeInstanceOf(InvalidTaskInput);
    await expect(checking).rejects.toThrow('CheckArtifact received invalid input');
    expect(s3).not.toHaveReceivedCommand(HeadObjectCommand);
  });
});
