/**
 * The `storage` config (the pipeline bucket) and the storage keys of contract/storage.ts: the
 * defaults, every bad value refused naming the field, and keys that stay under their pipeline's
 * prefixes.
 */
import { describe, expect, it } from 'vitest';
import { SATURDAY_PIPELINE } from '../../lib/config/defaults';
import { parsePipelineConfig } from '../../lib/config/load';
import { refusal } from './refusal';
import { artifactKey, bucketNameProblem, checkpointPrefix, parsePoolEventKey, poolEventKey, runOutputPrefix, STORAGE_PREFIXES } from '../../contract/storage';

const withStorage = (storage: unknown) => ({ ...structuredClone(SATURDAY_PIPELINE), storage });


describe('storage config', () => {
  it('defaults: a created bucket, runs kept 90 days, checkpoints 14, retained on destroy', () => {
    // Prepare
    const raw = structuredClone(SATURDAY_PIPELINE);

    // Act
    const config = parsePipelineConfig(raw);

    // Assess
    expect(config.storage).toEqual({ runRetentionDays: 90, checkpointRetentionDays: 14, retainOnDestroy: true });
  });

  it('fills the defaults of a partial storage object and keeps what is given', () => {
    // Prepare
    const raw = withStorage({ bucketName: 'my-team.pipeline-data', checkpointRetentionDays: 3 });

    // Act
    const config = parsePipelineConfig(raw);

    // Assess
    expect(config.storage).toEqual({ bucketName: 'my-team.pipeline-data', runRetentionDays: 90, checkpointRetentionDays: 3, retainOnDestroy: true });
  });

  it.each([
    { field: 'runRetentionDays', value: 0, message: 'must be >= 1' },
    { field: 'runRetentionDays', value: 3651, message: 'must be <= 3650' },
    { field: 'runRetentionDays', value: 1.5, message: 'must be a whole number' },
    { field: 'runRetentionDays', value: '90', message: 'must be a number' },
    { field: 'checkpointRetentionDays', value: 0, message: 'must be >= 1' },
    { field: 'checkpointRetentionDays', value: 366, message: 'must be <= 365' },
    { field: 'checkpointRetentionDays', value: 2.5, message: 'must be a whole number' },
    { field: 'retainOnDestroy', value: 'no', message: 'must be true or false' },
    { field: 'bucketName', value: 42, message: 'must be a string' },
  ])('refuses $field = $value naming the field', ({ field, value, message }) => {
    // Prepare
    const raw = withStorage({ [field]: value });

    // Act
    const refused = refusal(raw);

    // Assess
    expect(refused).toContain(`storage.${field}: ${message}`);
  });

  it.each([
    { name: 'ab', message: 'must be 3-63 characters long' },
    { name: 'a'.repeat(64), message: 'must be 3-63 characters long' },
    { name: 'My-Bucket', message: 'must hold only lowercase letters, digits, dots (.) and hyphens (-)' },
    { name: 'my_bucket', message: 'must hold only lowercase letters, digits, dots (.) and hyphens (-)' },
    { name: '-my-bucket', message: 'must begin and end with a lowercase letter or a digit' },
    { name: 'my-bucket.', message: 'must begin and end with a lowercase letter or a digit' },
    { name: 'my..bucket', message: 'must not contain two adjacent periods' },
    { name: '192.168.5.4', message: 'must not be formatted as an IP address' },
    { name: 'xn--bucket', message: 'must not start with the reserved prefix xn--' },
    { name: 'sthree-bucket', message: 'must not start with the reserved prefix sthree-' },
    { name: 'bucket-s3alias', message: 'must not end with the reserved suffix -s3alias' },
    { name: 'bucket--ol-s3', message: 'must not end with the reserved suffix --ol-s3' },
  ])('refuses the bucket name $name: $message', ({ name, message }) => {
    // Prepare
    const raw = withStorage({ bucketName: name });

    // Act
    const refused = refusal(raw);

    // Assess
    expect(refused).toContain(`storage.bucketName: ${message}`);
  });

  it.each(['abc', 'my-bucket', 'my.bucket.example', '1bucket9', 'a'.repeat(63), '192.168.5.4.example'])('accepts the bucket name %s', (name) => {
    // Act
    const problem = bucketNameProblem(name);

    // Assess
    expect(problem).toBeUndefined();
    expect(parsePipelineConfig(withStorage({ bucketName: name })).storage.bucketName).toBe(name);
  });

  it('refuses an unknown storage field', () => {
    // Prepare
    const raw = withStorage({ bucket: 'my-bucket' });

    // Act
    const refused = refusal(raw);

    // Assess
    expect(refused).toMatch(/storage.*bucket/);
  });
});

describe('storage keys', () => {
  it('put everything under <pipeline>/ and the area prefix', () => {
    // Act
    const run = runOutputPrefix('saturday-pipeline', '2025-06-07', 'exec-1', 'Research');
    const checkpoint = checkpointPrefix('saturday-pipeline', '2025-06-07', 'exec-1', 'Research');
    const artifact = artifactKey('saturday-pipeline', 'predictor.jar', 'abc123');

    // Assess
    expect(STORAGE_PREFIXES).toEqual({ artifacts: 'artifacts/', runs: 'runs/', checkpoints: 'checkpoints/', sources: 'sources/', production: 'production/', promotions: 'promotions/', pools: 'pools/', waits: 'waits/', costs: 'costs/' });
    expect(run).toBe('saturday-pipeline/runs/2025-06-07/exec-1/Research/');
    expect(checkpoint).toBe('saturday-pipeline/checkpoints/2025-06-07/exec-1/Research/');
    expect(artifact).toBe('saturday-pipeline/artifacts/predictor.jar/abc123');
  });

  it('a pool memory key says its pool, time and kind, and reads back as the same event; other keys read as none', () => {
    // Prepare
    const event = { instanceType: 'c5.large', subnetId: 'subnet-0a1b2c3d', atMs: Date.parse('2026-05-30T03:04:05Z'), kind: 'interrupted' as const };

    // Act
    const key = poolEventKey('saturday-pipeline', event, '0123456789abcdef');

    // Assess
    expect(key).toBe('saturday-pipeline/pools/c5.large/subnet-0a1b2c3d/20260530T030405Z_interrupted_0123456789abcdef');
    expect(parsePoolEventKey('saturday-pipeline', key)).toEqual(event);
    expect(parsePoolEventKey('other-pipeline', key)).toBeUndefined();
    expect(parsePoolEventKey('saturday-pipeline', 'saturday-pipeline/pools/c5.large/subnet-0a1b2c3d/yesterday_interrupted_x')).toBeUndefined();
  });

  it.each([
    { what: 'a phase with a slash', act: () => runOutputPrefix('p', '2025-06-07', 'e', 'a/b') },
    { what: 'an empty execution', act: () => checkpointPrefix('p', '2025-06-07', '', 'Phase') },
    { what: 'a ".." version', act: () => artifactKey('p', 'name', '..') },
    { what: 'a run date not YYYY-MM-DD', act: () => runOutputPrefix('p', '2025-6-7', 'e', 'Phase') },
    { what: 'a pipeline with a slash', act: () => artifactKey('p/q', 'name', 'v1') },
  ])('refuse $what (a key could leave its prefix)', ({ act }) => {
    // Act, Assess
    expect(act).toThrow(/S3 key segment|YYYY-MM-DD/);
  });
});
