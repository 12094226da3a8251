/**
 * PromotionGate (lambdas/promotion-gate.ts, seed 004) against a bucket S3 answers as it does
 * (GetObject of a missing key: NoSuchKey 404; bodies with transformToString; listings in pages):
 * it promotes by copying the candidate phase's outputs to production/<gate>/, keeps production
 * otherwise, promotes the first candidate, copies nothing in a dry run, and records every decision
 * at promotions/<runDate>/<gate>.json. Missing or malformed metrics fail it naming the file and
 * field, with nothing copied nor recorded; a retry adopts an earlier try's record, and a retry
 * after a copy cut short promotes again; S3 throttling is TransientApiError; bad input is refused.
 */
import { CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, NoSuchKey, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { GateRule } from '../../contract/config';
import { InvalidTaskInput, MetricsInvalid, TransientApiError } from '../../contract/errors';
import type { RunContext } from '../../contract/job';
import { handler, type GateResult } from '../../lambdas/promotion-gate';
import { ENV, runContext, stubHandlerEnv } from './fixtures';

const s3 = mockClient(S3Client);

const BUCKET = ENV.PIPELINE_BUCKET;
const PIPELINE = 'daily-training';
const RUN_DATE = '2026-05-30';
/** The candidate phase's outputs of this run (contract/storage.ts, runOutputPrefix). */
const CANDIDATE = `${PIPELINE}/runs/${RUN_DATE}/exec-1/TrainModel/`;
const PRODUCTION = `${PIPELINE}/production/PromoteModel/`;
const RECORD = `${PIPELINE}/promotions/${RUN_DATE}/PromoteModel.json`;
const uri = (key: string) => `s3://${BUCKET}/${key}`;

/** The example's rules (examples/train-and-promote.json). */
const RULES: GateRule[] = [
  { metric: 'accuracy', better: 'higher', rule: 'improve' },
  { metric: 'maxDrawdown', better: 'lower', rule: 'not-worse', tolerance: 0.1 },
  { metric: 'sharpe', better: 'higher', rule: 'improve', advisory: true },
];
const BETTER = { accuracy: 0.61, maxDrawdown: 0.125, sharpe: 1.1 };
const PRODUCTION_METRICS = { accuracy: 0.58, maxDrawdown: 0.12, sharpe: 1.2 };
const WORSE = { accuracy: 0.57, maxDrawdown: 0.1, sharpe: 1.3 };

/** What the gate's state hands the function (state-machines/stages/gate.ts). */
function event(parts: { gate?: Partial<{ name: string; candidate: string; metricsFile: string; rules: GateRule[]; dryRun: boolean; pipelineName: string }>; run?: Partial<RunContext> } = {}) {
  return {
    gate: { name: 'PromoteModel', candidate: 'TrainModel', metricsFile: 'metrics.json', rules: RULES, dryRun: false, pipelineName: PIPELINE, ...parts.gate },
    run: runContext({ runDate: RUN_DATE, pipelineExecution: 'exec-1', ...parts.run }),
  };
}

/** The simulated bucket's objects: key -> body. */
let objects: Map<string, string>;
const json = (value: unknown) => `${JSON.stringify(value)}\n`;

/** GetObject's answer for a body, as the SDK hands it (a stream with the SDK's transformToString). */
const objectBody = (text: string) => ({
  $metadata: { httpStatusCode: 200 },
  ContentType: 'application/json',
  ETag: '"9b2cf535f27731c974343645a3985328"',
  Body: Object.assign(Readable.from([Buffer.from(text)]), { transformToString: async () => text }) as never,
});
/** GetObject of a missing key, as S3 answers it to a role that may list the bucket. */
const noSuchKey = () => new NoSuchKey({ $metadata: { httpStatusCode: 404 }, message: 'The specified key does not exist.' });
const s3Error = (name: string, httpStatusCode: number, message: string) =>
  new S3ServiceException({ name, $fault: httpStatusCode >= 500 ? 'server' : 'client', $metadata: { httpStatusCode }, message });

/** CopyObject in the simulated bucket: CopySource is "<bucket>/<URL-encoded key>". */
function copyObject(input: { Bucket: string; Key: string; CopySource: string }) {
  const slash = input.CopySource.indexOf('/');
  const [sourceBucket, sourceKey] = [input.CopySource.slice(0, slash), decodeURIComponent(input.CopySource.slice(slash + 1))];
  const body = sourceBucket === BUCKET ? objects.get(sourceKey) : undefined;
  if (body === undefined) throw noSuchKey();
  objects.set(input.Key, body);
  return { $metadata: { httpStatusCode: 200 }, CopyObjectResult: { ETag: '"9b2cf535f27731c974343645a3985328"', LastModified: new Date('2026-05-30T04:31:00Z') } };
}

/** Keys per ListObjectsV2 page: small, so a candidate of a few files spans pages. */
const PAGE = 2;

beforeEach(() => {
  objects = new Map();
  s3.reset();
  s3.on(GetObjectCommand).callsFake((input: { Bucket: string; Key: string }) => {
    const body = input.Bucket === BUCKET ? objects.get(input.Key) : undefined;
    if (body === undefined) throw noSuchKey();
    return objectBody(body);
  });
  s3.on(ListObjectsV2Command).callsFake((input: { Bucket: string; Prefix?: string; ContinuationToken?: string }) => {
    const keys = [...objects.keys()].filter((k) => k.startsWith(input.Prefix ?? '')).sort();
    const from = input.ContinuationToken ? Number(input.ContinuationToken) : 0;
    const page = keys.slice(from, from + PAGE);
    const truncated = from + PAGE < keys.length;
    return {
      $metadata: { httpStatusCode: 200 },
      Contents: page.map((Key) => ({ Key, Size: objects.get(Key)!.length, ETag: '"d41d8cd98f00b204e9800998ecf8427e"', LastModified: new Date('2026-05-30T04:30:00Z'), StorageClass: 'STANDARD' })),
      KeyCount: page.length,
      MaxKeys: 1000,
      Prefix: input.Prefix,
      IsTruncated: truncated,
      ...(input.ContinuationToken ? { ContinuationToken: input.ContinuationToken } : {}),
      ...(truncated ? { NextContinuationToken: String(from + PAGE) } : {}),
    };
  });
  s3.on(CopyObjectCommand).callsFake(copyObject);
  s3.on(DeleteObjectCommand).callsFake((input: { Bucket: string; Key: string }) => {
    objects.delete(input.Key);
    return { $metadata: { httpStatusCode: 204 } };
  });
  s3.on(PutObjectCommand).callsFake((input: { Bucket: string; Key: string; Body: string }) => {
    objects.set(input.Key, input.Body);
    return { $metadata: { httpStatusCode: 200 }, ETag: '"9b2cf535f27731c974343645a3985328"' };
  });
  stubHandlerEnv();
});

afterEach(() => {
  vi.unstubAllEnvs();
});

/** The candidate TrainModel wrote: its metrics, its model, a nested report. */
function candidateWrote(metrics: unknown = BETTER): void {
  objects.set(`${CANDIDATE}metrics.json`, typeof metrics === 'string' ? metrics : json(metrics));
  objects.set(`${CANDIDATE}model.json`, json({ trees: 200 }));
  objects.set(`${CANDIDATE}report/summary.txt`, 'trained on 2026-05-29\n');
}

/** What production holds before the run. */
function productionHolds(metrics: unknown = PRODUCTION_METRICS): void {
  objects.set(`${PRODUCTION}metrics.json`, typeof metrics === 'string' ? metrics : json(metrics));
  objects.set(`${PRODUCTION}model.json`, json({ trees: 100 }));
}

/** The decision record the gate wrote, parsed. */
const recorded = () => JSON.parse(objects.get(RECORD)!) as GateResult;

describe('PromotionGate: promote', () => {
  it('the candidate beats production: copies every object under the candidate prefix to production/<gate>/, records the decision, promotedValue 1', async () => {
    // Prepare: besides the candidate, objects the gate must not take: another execution's TrainModel, a phase whose name starts alike.
    candidateWrote();
    productionHolds();
    objects.set(`${PIPELINE}/runs/${RUN_DATE}/exec-0/TrainModel/model.json`, json({ trees: 1 }));
    objects.set(`${PIPELINE}/runs/${RUN_DATE}/exec-1/TrainModelEval/model.json`, json({ trees: 2 }));

    // Act
    const result = await handler(event());

    // Assess
    const copied = ['model.json', 'report/summary.txt', 'metrics.json'].map((f) => uri(`${PRODUCTION}${f}`));
    expect(result).toMatchObject({
      gate: 'PromoteModel',
      pipeline: PIPELINE,
      dryRun: false,
      candidate: uri(CANDIDATE),
      production: uri(PRODUCTION),
      decision: 'promoted',
      copied,
      promotedValue: 1,
      record: uri(RECORD),
    });
    expect(result.reasons).toEqual([
      'accuracy 0.61 > 0.58 (higher is better; must improve): passed',
      'maxDrawdown 0.125 > 0.12 (lower is better; may worsen by at most 10 %): passed',
      'sharpe 1.1 < 1.2 (higher is better; must improve, advisory): failed',
    ]);
    expect(s3).toHaveReceivedCommandTimes(CopyObjectCommand, 3);
    for (const file of ['model.json', 'report/summary.txt', 'metrics.json']) {
      expect(s3).toHaveReceivedCommandWith(CopyObjectCommand, { Bucket: BUCKET, Key: `${PRODUCTION}${file}`, CopySource: `${BUCKET}/${CANDIDATE}${file}` });
      expect(objects.get(`${PRODUCTION}${file}`)).toBe(objects.get(`${CANDIDATE}${file}`));
    }
    expect(s3).not.toHaveReceivedCommandWith(CopyObjectCommand, { CopySource: expect.stringContaining('exec-0') });
    expect(s3).not.toHaveReceivedCommandWith(CopyObjectCommand, { CopySource: expect.stringContaining('TrainModelEval') });
    expect(s3).toHaveReceivedCommandTimes(PutObjectCommand, 1);
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, { Bucket: BUCKET, Key: RECORD, ContentType: 'application/json' });
    expect(recorded()).toEqual(result);
  });

  it("copies the metrics file last: production's metrics change only once the model beside them has", async () => {
    // Prepare
    candidateWrote();
    productionHolds();

    // Act
    await handler(event());

    // Assess
    expect(s3).toHaveReceivedNthCommandWith(CopyObjectCommand, 3, { Key: `${PRODUCTION}metrics.json` });
  });

  it('nothing in production yet (its metrics file is NoSuchKey): the first candidate is promoted', async () => {
    // Prepare
    candidateWrote(WORSE);

    // Act
    const result = await handler(event());

    // Assess
    expect(s3).toHaveReceivedCommandWith(GetObjectCommand, { Bucket: BUCKET, Key: `${PRODUCTION}metrics.json` });
    expect(result).toMatchObject({ decision: 'promoted', promotedValue: 1, reasons: ['production holds no model yet: the first candidate is promoted'] });
    expect(result.rules.map((r) => r.production)).toEqual([null, null, null]);
    expect(result.copied).toHaveLength(3);
    expect(objects.get(`${PRODUCTION}metrics.json`)).toBe(json(WORSE));
    expect(recorded()).toMatchObject({ decision: 'promoted', promotedValue: 1 });
  });

  it.each([
    ['feature importance.csv', 'feature%20importance.csv'],
    ['a+b#1?.csv', 'a%2Bb%231%3F.csv'],
  ])('a key named %j is copied with its CopySource URL-encoded segment by segment', async (name, encoded) => {
    // Prepare
    candidateWrote();
    objects.set(`${CANDIDATE}${name}`, 'a,1\n');

    // Act
    const result = await handler(event());

    // Assess
    expect(s3).toHaveReceivedCommandWith(CopyObjectCommand, { Key: `${PRODUCTION}${name}`, CopySource: `${BUCKET}/${CANDIDATE}${encoded}` });
    expect(result.copied).toContain(uri(`${PRODUCTION}${name}`));
  });
});

describe('PromotionGate: keep and dry run', () => {
  it('the candidate does not improve: nothing copied, production untouched, the decision recorded, promotedValue 0', async () => {
    // Prepare
    candidateWrote(WORSE);
    productionHolds();
    const before = new Map([...objects].filter(([k]) => k.startsWith(PRODUCTION)));

    // Act
    const result = await handler(event());

    // Assess
    expect(result).toMatchObject({ decision: 'kept', copied: [], promotedValue: 0, dryRun: false });
    expect(result.reasons[0]).toBe('accuracy 0.57 < 0.58 (higher is better; must improve): failed');
    expect(s3).not.toHaveReceivedCommand(CopyObjectCommand);
    expect(s3).not.toHaveReceivedCommand(ListObjectsV2Command);
    expect(new Map([...objects].filter(([k]) => k.startsWith(PRODUCTION)))).toEqual(before);
    expect(recorded()).toEqual(result);
  });

  it('a dry run that would promote: nothing copied, promotedValue 0, the record says promoted in a dry run', async () => {
    // Prepare
    candidateWrote();
    productionHolds();

    // Act
    const result = await handler(event({ gate: { dryRun: true } }));

    // Assess
    expect(result).toMatchObject({ decision: 'promoted', dryRun: true, copied: [], promotedValue: 0 });
    expect(s3).not.toHaveReceivedCommand(CopyObjectCommand);
    expect(objects.get(`${PRODUCTION}metrics.json`)).toBe(json(PRODUCTION_METRICS));
    expect(recorded()).toMatchObject({ decision: 'promoted', dryRun: true, copied: [], promotedValue: 0 });
  });

  it('a dry run with nothing in production: still nothing copied', async () => {
    // Prepare
    candidateWrote();

    // Act
    const result = await handler(event({ gate: { dryRun: true } }));

    // Assess
    expect(result).toMatchObject({ decision: 'promoted', promotedValue: 0 });
    expect(s3).not.toHaveReceivedCommand(CopyObjectCommand);
    expect([...objects.keys()].filter((k) => k.startsWith(PRODUCTION))).toEqual([]);
  });
});

describe('PromotionGate: missing or malformed metrics', () => {
  it('the candidate wrote no metrics file: MetricsInvalid naming its s3:// URI; nothing copied nor recorded', async () => {
    // Prepare
    objects.set(`${CANDIDATE}model.json`, json({ trees: 200 }));
    productionHolds();

    // Act
    const gating = handler(event());

    // Assess
    await expect(gating).rejects.toBeInstanceOf(MetricsInvalid);
    await expect(gating).rejects.toMatchObject({ name: 'MetricsInvalid' });
    await expect(gating).rejects.toThrow(`${uri(`${CANDIDATE}metrics.json`)}: missing (phase TrainModel wrote no metrics.json); nothing was promoted`);
    expect(s3).not.toHaveReceivedCommand(CopyObjectCommand);
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });

  it('a metricsFile of its own name is looked for under that name', async () => {
    // Prepare
    candidateWrote();

    // Act
    const gating = handler(event({ gate: { metricsFile: 'eval.json' } }));

    // Assess
    await expect(gating).rejects.toThrow(`${uri(`${CANDIDATE}eval.json`)}: missing (phase TrainModel wrote no eval.json)`);
  });

  it.each([
    { what: 'candidate: not JSON', candidate: 'accuracy=0.61', production: PRODUCTION_METRICS, message: `${uri(`${CANDIDATE}metrics.json`)}: not valid JSON (` },
    { what: 'candidate: an array', candidate: '[0.61]', production: PRODUCTION_METRICS, message: `${uri(`${CANDIDATE}metrics.json`)}: must be a JSON object of metrics; nothing was promoted` },
    { what: 'candidate: a metric missing', candidate: { accuracy: 0.61, sharpe: 1 }, production: PRODUCTION_METRICS, message: `${uri(`${CANDIDATE}metrics.json`)}: maxDrawdown: missing; nothing was promoted` },
    { what: 'candidate: a string value', candidate: { ...BETTER, accuracy: '0.61' }, production: PRODUCTION_METRICS, message: `${uri(`${CANDIDATE}metrics.json`)}: accuracy: must be a finite number, got "0.61"; nothing was promoted` },
    { what: 'candidate: "NaN"', candidate: { ...BETTER, sharpe: 'NaN' }, production: PRODUCTION_METRICS, message: `${uri(`${CANDIDATE}metrics.json`)}: sharpe: must be a finite number, got "NaN"; nothing was promoted` },
    { what: 'production: not JSON', candidate: BETTER, production: '{"accuracy": 0.58,', message: `${uri(`${PRODUCTION}metrics.json`)}: not valid JSON (` },
    { what: 'production: a metric missing', candidate: BETTER, production: { accuracy: 0.58, sharpe: 1.2 }, message: `${uri(`${PRODUCTION}metrics.json`)}: maxDrawdown: missing; nothing was promoted` },
    { what: 'production: null as a value', candidate: BETTER, production: { ...PRODUCTION_METRICS, accuracy: null }, message: `${uri(`${PRODUCTION}metrics.json`)}: accuracy: must be a finite number, got null; nothing was promoted` },
  ])('$what: MetricsInvalid naming the file and the field; nothing copied nor recorded', async ({ candidate, production, message }) => {
    // Prepare
    candidateWrote(candidate);
    productionHolds(production);

    // Act
    const gating = handler(event());

    // Assess
    await expect(gating).rejects.toBeInstanceOf(MetricsInvalid);
    await expect(gating).rejects.toThrow(message);
    expect(s3).not.toHaveReceivedCommand(CopyObjectCommand);
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
    expect(objects.has(RECORD)).toBe(false);
  });
});

describe('PromotionGate: retries', () => {
  it('a retry after a lost response adopts the record of the earlier try for the same candidate and finishes its promotion: no second decision, no second record', async () => {
    // Prepare: the first try promoted and recorded; its response was lost.
    candidateWrote();
    productionHolds();
    const first = await handler(event());
    s3.resetHistory();

    // Act
    const second = await handler(event());

    // Assess: deciding again would compare the candidate with itself (now in production) and keep it.
    expect(second).toEqual(first);
    expect(second).toMatchObject({ decision: 'promoted', promotedValue: 1 });
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
    expect(s3).toHaveReceivedCommandTimes(GetObjectCommand, 1);
    expect(s3).toHaveReceivedCommandWith(GetObjectCommand, { Bucket: BUCKET, Key: RECORD });
    // The copies again (idempotent: a try cut short between record and copies is finished here).
    for (const file of ['metrics.json', 'model.json', 'report/summary.txt']) expect(objects.get(`${PRODUCTION}${file}`), file).toBe(objects.get(`${CANDIDATE}${file}`));
  });

  it('a record that is no decision record (a corrupt object) is not adopted: the gate decides afresh and replaces it', async () => {
    // Prepare
    candidateWrote();
    productionHolds();
    objects.set(RECORD, '{"decision": "promo');

    // Act
    const result = await handler(event());

    // Assess
    expect(result).toMatchObject({ decision: 'promoted', promotedValue: 1, candidate: uri(CANDIDATE) });
    expect(recorded()).toEqual(result);
  });

  it("a record of the same day for another execution's candidate is not adopted: this run decides for itself", async () => {
    // Prepare: an earlier execution of the same run date kept production.
    candidateWrote();
    productionHolds();
    objects.set(RECORD, json({ decision: 'kept', candidate: uri(`${PIPELINE}/runs/${RUN_DATE}/exec-0/TrainModel/`), promotedValue: 0 }));

    // Act
    const result = await handler(event());

    // Assess
    expect(result).toMatchObject({ decision: 'promoted', promotedValue: 1, candidate: uri(CANDIDATE) });
    expect(s3).toHaveReceivedCommandTimes(CopyObjectCommand, 3);
    expect(recorded()).toEqual(result);
  });

  it('a copy throttled part-way: TransientApiError after the decision was recorded; the retry adopts it and finishes the copies', async () => {
    // Prepare: the second copy is throttled once.
    candidateWrote();
    productionHolds();
    let copies = 0;
    s3.on(CopyObjectCommand).callsFake((input: { Bucket: string; Key: string; CopySource: string }) => {
      copies += 1;
      if (copies === 2) throw s3Error('SlowDown', 503, 'Please reduce your request rate.');
      return copyObject(input);
    });
    const first = handler(event());
    await expect(first).rejects.toBeInstanceOf(TransientApiError);
    expect(recorded()).toMatchObject({ decision: 'promoted', promotedValue: 1 });
    // Production's metrics are still the old model's: the metrics file is copied last.
    expect(JSON.parse(objects.get(`${PRODUCTION}metrics.json`)!)).toEqual(PRODUCTION_METRICS);

    // Act
    const retried = await handler(event());

    // Assess
    expect(retried).toMatchObject({ decision: 'promoted', promotedValue: 1 });
    for (const file of ['metrics.json', 'model.json', 'report/summary.txt']) expect(objects.get(`${PRODUCTION}${file}`), file).toBe(objects.get(`${CANDIDATE}${file}`));
    expect(recorded()).toEqual(retried);
  });

  it("a promotion leaves production holding exactly the candidate's files: the old model's other files are deleted", async () => {
    // Prepare: production also holds a file the new candidate has not.
    candidateWrote();
    productionHolds();
    objects.set(`${PRODUCTION}old-features.parquet`, 'old\n');

    // Act
    await handler(event());

    // Assess
    expect(s3).toHaveReceivedCommandWith(DeleteObjectCommand, { Bucket: BUCKET, Key: `${PRODUCTION}old-features.parquet` });
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectCommand, 1);
    expect([...objects.keys()].filter((k) => k.startsWith(PRODUCTION)).sort()).toEqual(['metrics.json', 'model.json', 'report/summary.txt'].map((f) => `${PRODUCTION}${f}`));
  });

  it('keeping production (or a dry run) deletes nothing', async () => {
    // Prepare
    candidateWrote(WORSE);
    productionHolds();
    objects.set(`${PRODUCTION}old-features.parquet`, 'old\n');

    // Act: kept; then, another day, a better candidate in a dry run.
    await handler(event());
    objects.delete(RECORD);
    candidateWrote(BETTER);
    const dry = await handler(event({ gate: { dryRun: true } }));

    // Assess
    expect(dry).toMatchObject({ decision: 'promoted', promotedValue: 0, copied: [] });
    expect(s3).not.toHaveReceivedCommand(DeleteObjectCommand);
    expect(objects.has(`${PRODUCTION}old-features.parquet`)).toBe(true);
  });
});

describe('PromotionGate: S3 errors and bad input', () => {
  it.each([
    { what: 'SlowDown 503 (S3 throttling)', error: () => s3Error('SlowDown', 503, 'Please reduce your request rate.') },
    { what: 'InternalError 500', error: () => s3Error('InternalError', 500, 'We encountered an internal error. Please try again.') },
  ])('throttled or failing GetObject, $what: TransientApiError naming the key, for the state machine to retry', async ({ error }) => {
    // Prepare
    candidateWrote();
    s3.on(GetObjectCommand).rejects(error());

    // Act
    const gating = handler(event());

    // Assess
    await expect(gating).rejects.toBeInstanceOf(TransientApiError);
    await expect(gating).rejects.toMatchObject({ name: 'TransientApiError', message: expect.stringContaining(`GetObject ${RECORD}`) });
    expect(s3).not.toHaveReceivedCommand(CopyObjectCommand);
  });

  it.each([
    { what: 'ListObjectsV2', throttle: () => s3.on(ListObjectsV2Command).rejects(s3Error('SlowDown', 503, 'Please reduce your request rate.')) },
    { what: 'PutObject (the record)', throttle: () => s3.on(PutObjectCommand).rejects(s3Error('SlowDown', 503, 'Please reduce your request rate.')) },
  ])('throttled $what: TransientApiError too', async ({ throttle }) => {
    // Prepare
    candidateWrote();
    throttle();

    // Act
    const gating = handler(event());

    // Assess
    await expect(gating).rejects.toBeInstanceOf(TransientApiError);
  });

  it('403 AccessDenied is no verdict to retry: it fails the task as S3 said it', async () => {
    // Prepare
    s3.on(GetObjectCommand).rejects(s3Error('AccessDenied', 403, 'Access Denied'));

    // Act
    const gating = handler(event());

    // Assess
    await expect(gating).rejects.toMatchObject({ name: 'AccessDenied' });
    await expect(gating).rejects.not.toBeInstanceOf(TransientApiError);
    await expect(gating).rejects.not.toBeInstanceOf(MetricsInvalid);
  });

  type Event = ReturnType<typeof event>;
  it.each([
    { what: 'an unknown field', edit: (e: Event) => ({ ...e, force: true }) },
    { what: 'an unknown field of the gate', edit: (e: Event) => ({ ...e, gate: { ...e.gate, copyAll: true } }) },
    { what: 'no run context', edit: (e: Event) => ({ gate: e.gate }) },
    { what: 'a run date that is no date', edit: (e: Event) => ({ ...e, run: { ...e.run, runDate: 'today' } }) },
    { what: 'no rules', edit: (e: Event) => ({ ...e, gate: { ...e.gate, rules: [] } }) },
    { what: 'a rule with a tolerance and rule improve', edit: (e: Event) => ({ ...e, gate: { ...e.gate, rules: [{ metric: 'accuracy', better: 'higher', rule: 'improve', tolerance: 0.1 }] } }) },
    { what: 'a rule better "up"', edit: (e: Event) => ({ ...e, gate: { ...e.gate, rules: [{ metric: 'accuracy', better: 'up', rule: 'improve' }] } }) },
    { what: 'dryRun missing', edit: (e: Event) => ({ ...e, gate: { ...e.gate, dryRun: undefined } }) },
    { what: 'an empty metricsFile', edit: (e: Event) => ({ ...e, gate: { ...e.gate, metricsFile: '' } }) },
  ])('$what: InvalidTaskInput, before S3 is asked', async ({ edit }) => {
    // Prepare
    const input = edit(event());

    // Act
    const gating = handler(input);

    // Assess
    await expect(gating).rejects.toBeInstanceOf(InvalidTaskInput);
    await expect(gating).rejects.toThrow('PromotionGate received invalid input');
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(0);
    expect(s3.calls()).toHaveLength(0);
  });
});
