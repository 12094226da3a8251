#!/usr/bin/env node
/**
 * The CDK app. `cdk synth` builds the built-in Saturday pipeline; `cdk synth -c
 * pipelineConfig=path/to/pipeline.json` builds yours, validated by the same schema: an invalid
 * config fails synth with exit status 2 (as `npm run simulate` does) and a message naming each
 * offending field. `cdk synth -c nag=true` also runs
 * the cdk-nag AwsSolutions checks: any unacknowledged finding fails synth. The stack is named after
 * the pipeline (pipelineStackName).
 */
import { App } from 'aws-cdk-lib';
import { loadPipelineConfig, PipelineConfigError } from '../lib/config/load';
import { addNagChecks, nagRequested } from '../lib/nag';
import { pipelineStackName, SpotPipelineStack } from '../lib/spot-pipeline-stack';

const app = new App();
if (nagRequested(app.node.tryGetContext('nag'))) addNagChecks(app);
const configPath = app.node.tryGetContext('pipelineConfig') as string | undefined;
try {
  const config = loadPipelineConfig(configPath);
  // One stack per pipeline, named after it, so a second config deploys a second pipeline beside the
  // first (-c stackName=... keeps another name, e.g. SaturdaySpotPipeline for a stack deployed before).
  new SpotPipelineStack(app, (app.node.tryGetContext('stackName') as string | undefined) ?? pipelineStackName(config.pipelineName), {
    config,
    description: `${config.pipelineName}: batch phases on EC2 spot, orchestrated by Step Functions`,
  });
} catch (err) {
  if (err instanceof PipelineConfigError) {
    console.error(err.message);
    process.exit(2);
  }
  throw err;
}

