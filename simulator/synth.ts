/**
 * In-process synth of the CDK app, without bundling (the simulator runs the handler sources;
 * tests only need the template) and without the built-in CloudFormation validation, which only
 * warns and costs about a second a synth: `cdk synth` (bin/app.ts) still runs it.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import * as cxapi from 'aws-cdk-lib/cx-api';
import type { PipelineConfig } from '../contract/config';
import { SpotPipelineStack } from '../lib/spot-pipeline-stack';
import { SIM_ACCOUNT, SIM_REGION, type CfnTemplate } from './template';

/** A file asset as `cdk deploy` publishes it: its bytes, to the bucket and key the template names. */
export interface PublishedFile {
  readonly bucket: string;
  readonly key: string;
  readonly sha256: string;
  readonly size: number;
}

/** What `cdk deploy` hands the account: the stack's template and the file assets it publishes first. */
export interface SimDeployment {
  readonly template: CfnTemplate;
  readonly files: readonly PublishedFile[];
}

/** ${AWS::AccountId} and ${AWS::Region} in an asset destination, as the bootstrap stack fills them. */
const placeholders = (text: string) => text.replaceAll('${AWS::AccountId}', SIM_ACCOUNT).replaceAll('${AWS::Region}', SIM_REGION).replaceAll('${AWS::Partition}', 'aws');

export function synthDeployment(config: PipelineConfig): SimDeployment {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new SpotPipelineStack(app, 'SimulatedStack', { config });
  const assembly = app.synth();
  const artifact = assembly.getStackByName(stack.stackName);
  const files: PublishedFile[] = [];
  for (const dependency of artifact.dependencies) {
    if (!(dependency instanceof cxapi.AssetManifestArtifact)) continue;
    const manifest = JSON.parse(readFileSync(dependency.file, 'utf8')) as {
      files?: Record<string, { source: { path: string; packaging?: string }; destinations: Record<string, { bucketName: string; objectKey: string }> }>;
    };
    for (const entry of Object.values(manifest.files ?? {})) {
      // Directory assets (zipped by cdk-assets at publish time: the Lambda bundles) are not simulated; the handlers run from source.
      if (entry.source.packaging === 'zip' || entry.source.path.endsWith('.template.json')) continue; // the template itself is deployed, not read
      const bytes = readFileSync(path.join(assembly.directory, entry.source.path));
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      for (const destination of Object.values(entry.destinations)) {
        files.push({ bucket: placeholders(destination.bucketName), key: placeholders(destination.objectKey), sha256, size: bytes.length });
      }
    }
  }
  return { template: artifact.template as CfnTemplate, files };
}

export function synthTemplate(config: PipelineConfig): CfnTemplate {
  return synthDeployment(config).template;
}
