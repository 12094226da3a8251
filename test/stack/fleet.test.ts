/**
 * The stack for fleet launches: each phase's spec names its own launch template and allocation,
 * and the launch role may call CreateFleet (on the pipeline's templates, subnets and security group,
 * fleets tagged as the pipeline's) only when some phase allocates by fleet.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import type { PipelineConfigInput } from '../../contract/config';
import { parsePipelineConfig } from '../../lib/config/load';
import { SpotPipelineStack } from '../../lib/spot-pipeline-stack';
import { refusal } from '../config/refusal';

type Statement = { Action: string | string[]; Resource: unknown; Condition?: { StringEquals?: Record<string, unknown> } };

function synth(extra: Partial<PipelineConfigInput>, phaseExtra: object = {}) {
  const config = parsePipelineConfig({
    schedules: { enabled: false },
    phases: [{ name: 'Prepare', workloadCommand: 'run', instanceTypes: ['c5.large', 'm5.large'], budgetSeconds: 3600, attemptSeconds: 1200, ...phaseExtra }],
    ...extra,
  });
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const template = Template.fromStack(new SpotPipelineStack(app, 'S', { config }));
  const statements = Object.entries(template.findResources('AWS::IAM::Policy'))
    .filter(([id]) => id.startsWith('LaunchInstanceFn'))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Statement[]);
  return { template, statements };
}

const allows = (s: Statement, action: string) => [s.Action].flat().includes(action);

describe('fleet allocation in the stack', () => {
  it('by default: CreateFleet on the phase templates and fleets tagged as the pipeline\'s; tags only as part of the launch', () => {
    // Act
    const { template, statements } = synth({});

    // Assess
    const createFleet = statements.filter((s) => allows(s, 'ec2:CreateFleet'));
    const phaseTemplate = Object.keys(template.findResources('AWS::EC2::LaunchTemplate')).find((id) => id.startsWith('WorkersPrepareLaunchTemplate'))!;
    expect(JSON.stringify(createFleet)).toContain(`{"Ref":"${phaseTemplate}"}`);
    const fleets = createFleet.find((s) => JSON.stringify(s.Resource).includes(':fleet/*'))!;
    expect(fleets.Condition?.StringEquals).toEqual({ 'aws:RequestTag/spot-pipeline:pipeline': 'saturday-pipeline' });
    const tagging = statements.find((s) => allows(s, 'ec2:CreateTags'))!;
    expect(tagging.Condition?.StringEquals).toEqual({ 'ec2:CreateAction': ['RunInstances', 'CreateFleet'] });
    expect(JSON.stringify(tagging.Resource)).toContain(':fleet/*');
  });

  it('the phase spec names its allocation and its own launch template (what the fleet launches from)', () => {
    // Act
    const { template } = synth({});

    // Assess
    const pipeline = Object.values(template.findResources('AWS::StepFunctions::StateMachine')).find((sm) => JSON.stringify(sm).includes('"StateMachineName":"saturday-pipeline"'))!;
    const definition = JSON.stringify(pipeline.Properties.DefinitionString);
    expect(definition).toContain('\\"allocation\\":\\"price-capacity-optimized\\"');
    expect(definition).toMatch(/\\"launchTemplate\\":\{\\"id\\":\\"",\{"Ref":"WorkersPrepareLaunchTemplate[0-9A-F]+"\}/);
  });

  it('allocation "rotation" everywhere: no CreateFleet permission at all', () => {
    // Act
    const { statements } = synth({ allocation: 'rotation' });

    // Assess
    expect(statements.filter((s) => allows(s, 'ec2:CreateFleet'))).toEqual([]);
    expect(statements.find((s) => allows(s, 'ec2:CreateTags'))!.Condition?.StringEquals).toEqual({ 'ec2:CreateAction': 'RunInstances' });
  });

  it('one phase choosing the fleet is enough for the permission', () => {
    // Act
    const { statements } = synth({ allocation: 'rotation' }, { allocation: 'price-capacity-optimized' });

    // Assess
    expect(statements.some((s) => allows(s, 'ec2:CreateFleet'))).toBe(true);
  });

  it('an unknown allocation is refused naming the field and the choices', () => {
    // Act
    const message = refusal({ allocation: 'lowest-price', phases: [{ name: 'A', workloadCommand: 'run', instanceTypes: ['c5.large'], budgetSeconds: 3600, attemptSeconds: 1200, allocation: 'cheapest' }] });

    // Assess
    expect(message).toMatch(/allocation: must be one of "price-capacity-optimized", "rotation"/);
    expect(message).toContain(`phases[0].allocation (phase A): must be one of "price-capacity-optimized", "rotation"`);
  });
});

describe('secondary instance types in the config', () => {
  const phase = (extra: object) => ({ name: 'A', workloadCommand: 'run', instanceTypes: ['c5.large'], budgetSeconds: 3600, attemptSeconds: 1200, ...extra });

  it('are refused when of another architecture, or already among the instance types, naming the field', () => {
    // Act
    const message = refusal({ phases: [phase({ secondaryInstanceTypes: ['m7g.large', 'c5.large'] })] });

    // Assess
    expect(message).toContain('phases[0].secondaryInstanceTypes[0]: phase A: m7g.large is an arm64 (Graviton) instance type');
    expect(message).toContain('phases[0].secondaryInstanceTypes[1]: phase A: c5.large is one of its instanceTypes already');
  });

  it('reach the phase spec', () => {
    // Act
    const config = parsePipelineConfig({ schedules: { enabled: false }, phases: [phase({ secondaryInstanceTypes: ['c5.xlarge'] })] });

    // Assess
    expect(config.phases[0]).toMatchObject({ secondaryInstanceTypes: ['c5.xlarge'] });
  });
});
