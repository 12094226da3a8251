/**
 * The pipeline bucket: the pipeline's artifacts, run outputs and checkpoints, under
 * `<pipelineName>/` (prefixes in contract/storage.ts). Created by the stack, or an existing bucket
 * named in config (`storage.bucketName`), which is only referenced: its encryption, policy,
 * versioning and lifecycle stay its owner's.
 *
 * The created bucket:
 * - SSE-S3 (AES256) default encryption. Not KMS: SSE-S3 encrypts every object at rest with keys
 *   S3 manages, at no extra cost and with no key policy to get right; a KMS key would add a key
 *   charge and a KMS request per object read or written, and kms:Decrypt/GenerateDataKey grants
 *   for every reader and writer, for data (build outputs, run results, checkpoints) that needs no
 *   separate key-level access control or audit. Switch to KMS if your data does.
 *   https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingServerSideEncryption.html
 * - TLS only: a bucket policy denies every request with aws:SecureTransport false.
 *   https://repost.aws/knowledge-center/s3-bucket-policy-for-config-rule
 * - All public access blocked; ACLs disabled (bucket owner enforced).
 * - Versioned: an overwritten or deleted artifact can be recovered.
 * - Lifecycle: run outputs expire after `runRetentionDays`, checkpoints after
 *   `checkpointRetentionDays`; noncurrent versions expire (runs and checkpoints 1 day after they
 *   become noncurrent: a checkpoint is overwritten at every save; artifacts after 30 days);
 *   incomplete multipart uploads, which an instance reclaimed mid-upload leaves behind, are aborted
 *   after a day. https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-s3-bucket-noncurrentversionexpiration.html
 * - Kept on `cdk destroy` (RETAIN) unless `retainOnDestroy` is false: then DESTROY, and CDK's
 *   auto-delete custom resource empties it first (CloudFormation cannot delete a non-empty bucket).
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { PipelineConfig } from '../../contract/config';
import { areaPrefix, type StorageArea } from '../../contract/storage';
import { acknowledgeNag, acknowledgeWildcardResource, NAG_PACK } from '../nag';

/** Days a replaced (noncurrent) version of a run output or checkpoint is kept. */
export const NONCURRENT_RUN_DAYS = 1;
/** Days a waiting phase's token is kept (a phase waits at most EVENT_WAIT_MAX_SECONDS at a time; S3 expires objects daily). */
const WAIT_TOKEN_DAYS = 1;

/** Days a pool memory event is kept: the launches weigh a week of them (decisions/pools.ts, POOL_MEMORY_MS). */
export const POOL_MEMORY_DAYS = 30;
/** Days a replaced (noncurrent) version of an artifact is kept. */
export const NONCURRENT_ARTIFACT_DAYS = 30;
/** Days before an incomplete multipart upload is aborted. */
export const ABORT_MULTIPART_DAYS = 1;

export interface PipelineBucketProps {
  readonly pipelineName: string;
  readonly storage: PipelineConfig['storage'];
}

export class PipelineBucket extends Construct {
  readonly bucket: s3.IBucket;
  /** True when the stack created the bucket (false: an existing bucket named in config). */
  readonly created: boolean;
  private readonly pipelineName: string;

  constructor(scope: Construct, id: string, props: PipelineBucketProps) {
    super(scope, id);
    const { pipelineName, storage } = props;
    this.pipelineName = pipelineName;
    if (storage.bucketName) {
      this.bucket = s3.Bucket.fromBucketName(this, 'Bucket', storage.bucketName);
      this.created = false;
      return;
    }
    const prefix = (area: StorageArea) => areaPrefix(pipelineName, area);
    const retain = storage.retainOnDestroy;
    const bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      lifecycleRules: [
        {
          id: 'runs',
          prefix: prefix('runs'),
          expiration: Duration.days(storage.runRetentionDays),
          noncurrentVersionExpiration: Duration.days(NONCURRENT_RUN_DAYS),
          abortIncompleteMultipartUploadAfter: Duration.days(ABORT_MULTIPART_DAYS),
        },
        {
          id: 'checkpoints',
          prefix: prefix('checkpoints'),
          expiration: Duration.days(storage.checkpointRetentionDays),
          noncurrentVersionExpiration: Duration.days(NONCURRENT_RUN_DAYS),
          abortIncompleteMultipartUploadAfter: Duration.days(ABORT_MULTIPART_DAYS),
        },
        {
          id: 'pools',
          prefix: prefix('pools'),
          expiration: Duration.days(POOL_MEMORY_DAYS),
          noncurrentVersionExpiration: Duration.days(NONCURRENT_RUN_DAYS),
        },
        {
          // The tokens of waiting phases: each is overwritten by the next wait, useless once its phase ends.
          id: 'waits',
          prefix: prefix('waits'),
          expiration: Duration.days(WAIT_TOKEN_DAYS),
          noncurrentVersionExpiration: Duration.days(WAIT_TOKEN_DAYS),
        },
        {
          // What each run's attempts cost, kept as long as its outputs.
          id: 'costs',
          prefix: prefix('costs'),
          expiration: Duration.days(storage.runRetentionDays),
          noncurrentVersionExpiration: Duration.days(NONCURRENT_RUN_DAYS),
        },
        {
          id: 'artifacts',
          prefix: prefix('artifacts'),
          noncurrentVersionExpiration: Duration.days(NONCURRENT_ARTIFACT_DAYS),
          abortIncompleteMultipartUploadAfter: Duration.days(ABORT_MULTIPART_DAYS),
        },
      ],
      removalPolicy: retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      autoDeleteObjects: !retain,
    });
    acknowledgeNag(
      bucket,
      `${NAG_PACK}-S1`,
      "No server access logs: the bucket is private (public access blocked, TLS only) and only this pipeline's worker role may read or write it, by prefix; " +
        'access logging would need a second bucket with its own retention for little gain. Enable CloudTrail S3 data events if object-level audit is required.',
    );
    this.bucket = bucket;
    this.created = true;
  }

  /** A build stage's role: write its own artifact's versions, read build sources. */
  grantBuild(role: iam.IRole, artifact: string): void {
    const own = this.bucket.arnForObjects(`${areaPrefix(this.pipelineName, 'artifacts')}${artifact}/*`);
    const sources = this.bucket.arnForObjects(`${areaPrefix(this.pipelineName, 'sources')}*`);
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [own] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [sources] }));
    acknowledgeWildcardResource(role, own, `The build of ${artifact} uploads each version under artifacts/${artifact}/<version>: versions (commits) exist only at run time; the artifact segment is fixed.`);
    acknowledgeWildcardResource(role, sources, "A build reads its source archive under this pipeline's sources/ prefix (you upload it there), read only.");
  }

  /** CheckArtifact: look up artifacts and build sources (HeadObject is authorized by s3:GetObject), nothing else. */
  grantCheckArtifacts(role: iam.IRole): void {
    const areas = [areaPrefix(this.pipelineName, 'artifacts'), areaPrefix(this.pipelineName, 'sources')];
    const objects = areas.map((a) => this.bucket.arnForObjects(`${a}*`));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: objects }));
    // With s3:ListBucket a missing key is 404 NotFound rather than 403 (S3 API reference, "HeadObject").
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn], conditions: { StringLike: { 's3:prefix': areas.map((a) => `${a}*`) } } }));
    for (const resource of objects) acknowledgeWildcardResource(role, resource, "CheckArtifact looks up artifact versions and build sources whose keys exist only at run time, under this pipeline's artifacts/ and sources/ prefixes, read only.");
  }

  /**
   * A promotion gate's Lambda: read its candidate phase's outputs (any run), read and write its own
   * production prefix, write (and read back) decision records; list those prefixes.
   */
  grantGate(role: iam.IRole, gate: string, candidate: string): void {
    const area = (a: StorageArea) => areaPrefix(this.pipelineName, a);
    const candidateOutputs = `${area('runs')}*/*/${candidate}/*`;
    const production = `${area('production')}${gate}/*`;
    const records = `${area('promotions')}*`;
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [this.bucket.arnForObjects(candidateOutputs)] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:PutObject'], resources: [this.bucket.arnForObjects(production), this.bucket.arnForObjects(records)] }));
    // A promotion removes the files of the old model the new one has not (the bucket keeps their versions).
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:DeleteObject'], resources: [this.bucket.arnForObjects(production)] }));
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn], conditions: { StringLike: { 's3:prefix': [candidateOutputs, production, records] } } }),
    );
    acknowledgeWildcardResource(role, this.bucket.arnForObjects(candidateOutputs), `Gate ${gate} reads the outputs of phase ${candidate} of the run it decides for; run dates and executions exist only at run time, the phase segment is fixed.`);
    acknowledgeWildcardResource(role, this.bucket.arnForObjects(production), `Gate ${gate} replaces the files of its own production prefix with a promoted candidate's, whose names it learns at run time.`);
    acknowledgeWildcardResource(role, this.bucket.arnForObjects(records), "A gate writes its decision record under this pipeline's promotions/<runDate>/, a date known only at run time.");
  }

  /** The runs' cost records (contract/storage.ts, costs/): add attempt records, nothing else (HandleFailure, FinishPhase). */
  grantRecordRunCosts(role: iam.IRole): void {
    const costs = this.bucket.arnForObjects(`${areaPrefix(this.pipelineName, 'costs')}*`);
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [costs] }));
    acknowledgeWildcardResource(role, costs, 'A cost record is keyed by run, phase and attempt, known only at run time; the wildcard stays under this pipeline\'s costs/ prefix, write only.');
  }

  /** The runs' cost records: list and read them, and mark a run reported (the execution-cleanup rule). */
  grantReportRunCosts(role: iam.IRole): void {
    const prefix = `${areaPrefix(this.pipelineName, 'costs')}*`;
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:PutObject'], resources: [this.bucket.arnForObjects(prefix)] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn], conditions: { StringLike: { 's3:prefix': [prefix] } } }));
    acknowledgeWildcardResource(role, this.bucket.arnForObjects(prefix), 'A run\'s cost records are keyed by run, phase and attempt, known only at run time; the wildcard stays under this pipeline\'s costs/ prefix.');
  }

  /**
   * The tokens of waiting phases (contract/storage.ts, waits/): read them (the wake relay), nothing else.
   * With s3:ListBucket on the prefix, a key nobody wrote (another pipeline's instance) is 404 NoSuchKey,
   * not 403 AccessDenied (S3 API reference, "GetObject": permissions).
   */
  grantReadWaits(role: iam.IRole): void {
    const prefix = `${areaPrefix(this.pipelineName, 'waits')}*`;
    const waits = this.bucket.arnForObjects(prefix);
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [waits] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn], conditions: { StringLike: { 's3:prefix': [prefix] } } }));
    acknowledgeWildcardResource(role, waits, 'A waiting phase\'s token is keyed by its instance id, known only at run time; the wildcard stays under this pipeline\'s waits/ prefix, read only.');
  }

  /** Remove the tokens of waits that are over (HandleFailure, FinishPhase, the execution-cleanup rule): delete under waits/, nothing else. */
  grantForgetWaits(role: iam.IRole): void {
    const waits = this.bucket.arnForObjects(`${areaPrefix(this.pipelineName, 'waits')}*`);
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:DeleteObject'], resources: [waits] }));
    acknowledgeWildcardResource(role, waits, 'A waiting phase\'s token is keyed by its instance id, known only at run time; the wildcard stays under this pipeline\'s waits/ prefix, delete only.');
  }

  /**
   * The pool memory (contract/storage.ts, pools/): list it and add events to it, nothing else
   * (LaunchInstance reads it and records refusals; HandleFailure records reclaims).
   */
  grantPoolMemory(role: iam.IRole): void {
    const pools = `${areaPrefix(this.pipelineName, 'pools')}*`;
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [this.bucket.arnForObjects(pools)] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn], conditions: { StringLike: { 's3:prefix': [pools] } } }));
    acknowledgeWildcardResource(role, this.bucket.arnForObjects(pools), "The pool memory's events are keyed by pool and time, known only at run time; the wildcard stays under this pipeline's pools/ prefix, write only.");
  }

  /** Read the checkpoints (HandleFailure reads a workload's reported progress there), nothing else. */
  grantReadCheckpoints(role: iam.IRole): void {
    const checkpoints = this.bucket.arnForObjects(`${areaPrefix(this.pipelineName, 'checkpoints')}*`);
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [checkpoints] }));
    // With s3:ListBucket, a missing key is 404 NoSuchKey rather than 403 AccessDenied (S3 API reference, "GetObject").
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn], conditions: { StringLike: { 's3:prefix': [`${areaPrefix(this.pipelineName, 'checkpoints')}*`] } } }),
    );
    acknowledgeWildcardResource(role, checkpoints, "HandleFailure reads the progress file of a checkpoint whose run date and execution exist only at run time; the wildcard stays under this pipeline's checkpoints/ prefix, read only.");
  }

  /**
   * What one phase's instances need, and nothing more: read the artifacts; read the run outputs of
   * every phase (a later phase reads an earlier one's) but write only its own
   * (`runs/<runDate>/<execution>/<phase>/`); read and write only its own checkpoints
   * (`checkpoints/<runDate>/<pipelineExecution>/<phase>/`); list only under those prefixes
   * (s3:prefix condition; ListObjectsV2, which `aws s3 sync` calls, is authorized by s3:ListBucket
   * on the bucket). No delete, no other pipeline's prefixes.
   * https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-policies-s3.html
   */
  grantPhase(role: iam.IRole, phase: string): void {
    const area = (a: StorageArea) => areaPrefix(this.pipelineName, a);
    const objects = (pattern: string) => this.bucket.arnForObjects(pattern);
    const ownOutputs = `${area('runs')}*/*/${phase}/*`;
    const ownCheckpoints = `${area('checkpoints')}*/*/${phase}/*`;
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [objects(`${area('artifacts')}*`), objects(`${area('runs')}*`)] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [objects(ownOutputs)] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:PutObject'], resources: [objects(ownCheckpoints)] }));
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${area('artifacts')}*`, `${area('runs')}*`, ownCheckpoints] } },
      }),
    );
    const reasons: [string, string][] = [
      [objects(`${area('artifacts')}*`), "Workers read the built artifacts (names and versions chosen at run time) under this pipeline's artifacts/ prefix only: s3:GetObject, no write."],
      [objects(`${area('runs')}*`), "A phase reads the outputs earlier phases of its run wrote; run dates and execution names exist only at run time, and the wildcard stays under this pipeline's runs/ prefix: s3:GetObject, no write."],
      [objects(ownOutputs), `Phase ${phase} writes its outputs under runs/<runDate>/<execution>/${phase}/: the run date and execution name exist only at run time; the phase segment is fixed.`],
      [objects(ownCheckpoints), `Phase ${phase} saves and restores its checkpoint under checkpoints/<runDate>/<pipelineExecution>/${phase}/: the run date and execution name exist only at run time; the phase segment is fixed.`],
    ];
    for (const [resource, reason] of reasons) acknowledgeWildcardResource(role, resource, reason);
  }
}
