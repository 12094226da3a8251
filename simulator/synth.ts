/**
 * In-process synth of the CDK app, without bundling (the simulator runs the handler sources;
 * tests only need the template) and without the built-in CloudFormation validation, which only
 * warns and costs about a second a synth: `cdk synth` (bin/app.ts) still runs it.
 */
import { App } from 'aws-cdk-lib';
import type { PipelineConfig } from '../contract/config';
import { SpotPipelineStack } from '../lib/spot-pipeline-stack';
import type { CfnTemplate } from './template';

export function synthTemplate(config: PipelineConfig): CfnTemplate {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new SpotPipelineStack(app, 'SimulatedStack', { config });
  return app.synth().getStackByName(stack.stackName).template as CfnTemplate;
}
