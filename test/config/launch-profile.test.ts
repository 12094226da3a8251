/**
 * Launch profiles (issue 11): a phase's image and architecture, checked against its instance types
 * at synth; GPU phases' defaults; what the phase spec hands LaunchInstance; the launch role's grants.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { GPU_DEFAULTS, pipelineConfigSchema, toPhaseSpec, type PhaseConfigInput, type PipelineConfigInput } from '../../contract/config';
import { AL2023_PARAMETER } from '../../contract/instance-types';
import { parsePipelineConfig } from '../../lib/config/load';
import { SpotPipelineStack } from '../../lib/spot-pipeline-stack';
import { buildReport } from '../../simulator/report';
import { runSimulation } from '../../simulator/run';
import { parseScenario } from '../../simulator/scenario';
import { refusal } from './refusal';

const phase = (extra: Partial<PhaseConfigInput>): PhaseConfigInput => ({ name: 'Train', workloadCommand: 'true', instanceTypes: ['c5.large'], budgetSeconds: 7200, attemptSeconds: 3600, ...extra });
const pipeline = (...phases: PhaseConfigInput[]): PipelineConfigInput => ({ phases });

describe('launch profiles in the config', () => {
  it('refuses arm64 instance types on the default x86_64 image, naming each type and the way out', () => {
    // Act
    const message = refusal(pipeline(phase({ instanceTypes: ['c5.large', 'c7g.large', 'm6g.xlarge'] })));

    // Assess
    expect(message).toContain('phases[0].instanceTypes[1]: phase Train: c7g.large is an arm64 (Graviton) instance type');
    expect(message).toContain('phases[0].instanceTypes[2]');
    expect(message).toContain('"image": {"architecture": "arm64"}');
    expect(message).not.toContain('instanceTypes[0]');
  });

  it('takes arm64 types with an arm64 image, and refuses an x86_64 type next to them', () => {
    // Act
    const arm = pipelineConfigSchema.safeParse(pipeline(phase({ instanceTypes: ['c7g.large', 'm7g.large'], image: { architecture: 'arm64' } })));
    const mixed = refusal(pipeline(phase({ instanceTypes: ['c7g.large', 'c5.large'], image: { architecture: 'arm64' } })));

    // Assess
    expect(arm.success).toBe(true);
    expect(mixed).toContain("phases[0].instanceTypes[1]: phase Train: c5.large is an x86_64 instance type; the workers' image is arm64");
  });

  it('refuses both an AMI and an SSM parameter, and malformed ones', () => {
    // Act
    const both = refusal(pipeline(phase({ image: { ami: 'ami-0123456789abcdef0', ssmParameter: '/aws/service/x' } })));
    const badAmi = refusal(pipeline(phase({ image: { ami: 'my-image' } })));

    // Assess
    expect(both).toContain('phases[0].image (phase Train): must give at most one of ami and ssmParameter');
    expect(badAmi).toContain('phases[0].image.ami (phase Train): must look like ami-0123456789abcdef0');
  });

  it('gives GPU phases longer boot and silence defaults, keeps what the config sets, and leaves CPU phases alone', () => {
    // Act
    const config = parsePipelineConfig(
      pipeline(
        phase({ name: 'Gpu', instanceTypes: ['g5.xlarge', 'g4dn.xlarge'] }),
        phase({ name: 'GpuSet', instanceTypes: ['p3.2xlarge'], bootTimeoutSeconds: 700 }),
        phase({ name: 'Cpu' }),
      ),
    );
    const [gpu, set, cpu] = config.phases as { bootTimeoutSeconds: number; silenceTimeoutSeconds: number }[];

    // Assess
    expect(gpu).toMatchObject(GPU_DEFAULTS);
    expect(set).toMatchObject({ bootTimeoutSeconds: 700, silenceTimeoutSeconds: GPU_DEFAULTS.silenceTimeoutSeconds });
    expect(cpu).toMatchObject({ bootTimeoutSeconds: 600, silenceTimeoutSeconds: 1800 });
  });
});

describe('the phase spec LaunchInstance gets', () => {
  const base = { subnetIds: ['subnet-0123456789abcdef0'], cleanupMarginSeconds: 300, pipelineName: 'p' };
  const spec = (extra: Partial<PhaseConfigInput>) => {
    const config = parsePipelineConfig(pipeline(phase(extra)));
    return toPhaseSpec(config.phases[0] as never, base);
  };

  it.each([
    ['arm64 by default', { architecture: 'arm64' as const }, `resolve:ssm:${AL2023_PARAMETER.arm64}`],
    ['an AMI', { ami: 'ami-0123456789abcdef0' }, 'ami-0123456789abcdef0'],
    ['a Deep Learning AMI parameter', { ssmParameter: '/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id' }, 'resolve:ssm:/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id'],
  ])('%s', (_name, image, imageId) => {
    // Act
    const launch = spec({ instanceTypes: 'architecture' in image ? ['c7g.large'] : ['c5.large'], image }).launch;

    // Assess
    expect(launch).toMatchObject({ imageId, rootDeviceName: '/dev/xvda' });
  });

  it('a phase without an image launches the template\'s; a GPU phase checks nvidia-smi', () => {
    // Act
    const plain = spec({});
    const gpu = spec({ instanceTypes: ['g5.xlarge'], tools: ['python3'], image: { ssmParameter: '/aws/service/x', rootVolumeGiB: 200 } });

    // Assess
    expect(plain.launch).toBeUndefined();
    expect(plain.tools).toBeUndefined();
    expect(gpu.tools).toEqual(['python3', 'nvidia-smi']);
    expect(gpu.launch).toEqual({ imageId: 'resolve:ssm:/aws/service/x', rootVolumeGiB: 200, rootDeviceName: '/dev/xvda' });
  });
});

describe('the launch role', () => {
  it('may launch the configured AMIs and read exactly the image parameters phases name', () => {
    // Prepare
    const config = parsePipelineConfig(
      pipeline(
        phase({ name: 'Arm', instanceTypes: ['c7g.large'], image: { architecture: 'arm64' } }),
        phase({ name: 'Own', image: { ami: 'ami-0123456789abcdef0' } }),
      ),
    );
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
    const template = Template.fromStack(new SpotPipelineStack(app, 'S', { config }));

    // Act
    const statements = Object.entries(template.findResources('AWS::IAM::Policy'))
      .filter(([id]) => id.startsWith('LaunchInstanceFn'))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);
    const text = JSON.stringify(statements);

    // Assess
    expect(statements.filter((s) => [s.Action].flat().includes('ssm:GetParameters'))).toHaveLength(1);
    expect(text).toContain(`::parameter${AL2023_PARAMETER.arm64}`);
    expect(text).toContain('::image/ami-0123456789abcdef0');
    // No parameter of the account's own: no image of the account's own beyond the AMIs named.
    expect(statements.filter((s) => JSON.stringify(s).includes('"ec2:Owner":{"Ref":"AWS::AccountId"}'))).toEqual([]);
  });

  it("may launch the account's own images when a phase names an image parameter of its own (its AMI is known only at launch)", () => {
    // Prepare
    const config = parsePipelineConfig(pipeline(phase({ name: 'Golden', image: { ssmParameter: '/golden/ami-id' } })));
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
    const template = Template.fromStack(new SpotPipelineStack(app, 'S', { config }));

    // Act
    const statements = Object.entries(template.findResources('AWS::IAM::Policy'))
      .filter(([id]) => id.startsWith('LaunchInstanceFn'))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown; Condition?: unknown }[]);

    // Assess
    const own = statements.filter((s) => JSON.stringify(s.Condition ?? {}).includes('"ec2:Owner":{"Ref":"AWS::AccountId"}'));
    expect(own).toHaveLength(1);
    expect(own[0]).toMatchObject({ Action: ['ec2:RunInstances', 'ec2:CreateFleet'], Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ec2:', { Ref: 'AWS::Region' }, '::image/*']] } });
    expect(JSON.stringify(statements)).toContain(':parameter/golden/ami-id');
  });
});

describe('a launch profile in the rehearsal', () => {
  it('an arm64 phase launches Graviton types with the arm64 image, and a GPU phase\'s preflight fails loud on an image without nvidia-smi', async () => {
    // Prepare
    const dir = mkdtempSync(path.join(tmpdir(), 'launch-profile-'));
    const file = path.join(dir, 'pipeline.json');
    writeFileSync(
      file,
      JSON.stringify(
        pipeline(
          phase({ name: 'Arm', instanceTypes: ['c7g.large', 'm7g.large'], image: { architecture: 'arm64' }, budgetSeconds: 3600, attemptSeconds: 1800 }),
          phase({ name: 'Gpu', instanceTypes: ['g5.xlarge'], image: { ssmParameter: '/aws/service/deeplearning/ami/x86_64/base/latest/ami-id' }, budgetSeconds: 7200, attemptSeconds: 3600 }),
        ),
      ),
    );

    // Act
    const full = await runSimulation(parseScenario({ config: file, phases: { Arm: { workloadMinutes: 5 }, Gpu: { workloadMinutes: 5 } } }));
    const preflight = buildReport(await runSimulation(parseScenario({ config: file, mode: 'preflight', toolsMissing: ['nvidia-smi'] })));
    rmSync(dir, { recursive: true, force: true });

    // Assess
    const arm = full.cloud.instances.filter((i) => i.phase === 'Arm');
    expect(arm.length).toBeGreaterThan(0);
    for (const i of arm) {
      expect(i.instanceType).toMatch(/^(c7g|m7g)\./);
      expect(i.imageId).toBe(`resolve:ssm:${AL2023_PARAMETER.arm64}`);
    }
    expect(full.cloud.instances.find((i) => i.phase === 'Gpu')?.imageId).toBe('resolve:ssm:/aws/service/deeplearning/ami/x86_64/base/latest/ami-id');
    expect(buildReport(full).status).toBe('SUCCEEDED');
    expect(preflight.status).toBe('FAILED');
    expect(preflight.phases.find((p) => p.name === 'Gpu')?.cause).toContain('MissingTool: the instance lacks nvidia-smi');
  });
});
