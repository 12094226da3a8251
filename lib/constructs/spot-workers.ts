/**
 * Where and how the workers launch: the network (the configured subnets, or a minimal VPC of
 * public subnets in two or more AZs with no NAT and no inbound rules), the security group, the
 * instance role (SSM managed instance, CloudWatch output) and the launch template.
 */
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { ArnFormat, Stack } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { WORKER_ARCHITECTURE } from '../../contract/instance-types';
import { acknowledgeManagedPolicy, acknowledgeNag, NAG_PACK } from '../nag';
import { MinimalVpc } from './minimal-vpc';

export interface SpotWorkersProps {
  /** Subnets to launch into; when absent a minimal VPC is created. */
  readonly subnetIds?: readonly string[];
  /** The VPC of `subnetIds`; required with them. */
  readonly vpcId?: string;
  /** Where SSM writes workload output. */
  readonly workloadLogGroup: logs.ILogGroup;
  /** @default 30 */
  readonly rootVolumeGiB?: number;
  /** Retention of the minimal VPC's flow logs. @default logs.RetentionDays.ONE_MONTH */
  readonly flowLogRetention?: logs.RetentionDays;
  /** AZs of the minimal VPC (unused with subnetIds). @default 2 */
  readonly azCount?: number;
}

/** The image's CPU type for each architecture the config schema admits (contract/instance-types.ts). */
const CPU_TYPE = { x86_64: ec2.AmazonLinuxCpuType.X86_64, arm64: ec2.AmazonLinuxCpuType.ARM_64 } as const;

export class SpotWorkers extends Construct {
  readonly launchTemplate: ec2.LaunchTemplate;
  /** The launch template's role: SSM and the workload log group only (phases launch with their own, see addPhaseRole). */
  readonly instanceRole: iam.Role;
  /** What every worker role holds besides AmazonSSMManagedInstanceCore: the workload log group. */
  readonly basePolicy: iam.ManagedPolicy;
  /** Every phase's role, in the order added (LaunchInstance may pass each of them). */
  readonly phaseRoles: iam.Role[] = [];
  readonly securityGroup: ec2.ISecurityGroup;
  /** The subnets phases launch into unless they name their own. */
  readonly defaultSubnetIds: string[];
  /** The image of a launch that names none: the latest Amazon Linux 2023 of the workers' architecture, resolved at deploy. */
  private readonly defaultImageId: string;
  /** The root volume of a phase whose launch profile names no size. */
  private readonly rootVolumeGiB: number;

  constructor(scope: Construct, id: string, props: SpotWorkersProps) {
    super(scope, id);

    let vpcId: string;
    if (props.subnetIds && props.subnetIds.length > 0) {
      if (!props.vpcId) throw new Error(`${this.node.path}: vpcId is required when subnetIds are configured`);
      vpcId = props.vpcId;
      this.defaultSubnetIds = [...props.subnetIds];
    } else {
      const network = new MinimalVpc(this, 'Network', { flowLogRetention: props.flowLogRetention, azCount: props.azCount });
      vpcId = network.vpcId;
      this.defaultSubnetIds = network.subnetIds;
    }
    const sg = new ec2.CfnSecurityGroup(this, 'WorkerSecurityGroup', {
      vpcId,
      groupDescription: 'Spot pipeline workers: no inbound rules; outbound HTTPS only (SSM, CloudWatch, AWS APIs)',
      securityGroupEgress: [{ ipProtocol: 'tcp', fromPort: 443, toPort: 443, cidrIp: '0.0.0.0/0', description: 'HTTPS to AWS APIs' }],
    });
    this.securityGroup = ec2.SecurityGroup.fromSecurityGroupId(this, 'WorkerSg', sg.attrGroupId, { allowAllOutbound: false, mutable: false });

    // Run Command output to CloudWatch Logs: the SSM agent, with the instance profile's credentials,
    // needs logs:CreateLogGroup, CreateLogStream, DescribeLogGroups, DescribeLogStreams and
    // PutLogEvents ("Configuring Amazon CloudWatch Logs for Run Command",
    // https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-rc-setting-up-cwlogs.html).
    // All but DescribeLogGroups take the log group as resource: the workload group only, both as
    // the group's ARN and as ARN:* (its streams), the two forms CloudWatch Logs authorizes
    // (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/iam-access-control-overview-cwl.html).
    const workloadGroup = Stack.of(this).formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: props.workloadLogGroup.logGroupName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    this.basePolicy = new iam.ManagedPolicy(this, 'WorkerBasePolicy', {
      description: 'Spot pipeline workers: write Run Command output to the workload log group',
      statements: [
        new iam.PolicyStatement({
          actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:DescribeLogStreams', 'logs:PutLogEvents'],
          resources: [workloadGroup, props.workloadLogGroup.logGroupArn],
        }),
        // The SSM agent checks the group exists: a List call without resource-level permissions.
        new iam.PolicyStatement({ actions: ['logs:DescribeLogGroups'], resources: ['*'] }),
      ],
    });
    acknowledgeNag(
      this.basePolicy,
      `${NAG_PACK}-IAM5[Resource::*]`,
      'Only logs:DescribeLogGroups is on Resource "*": the SSM agent lists log groups to check the output group exists, a List call without resource-level permissions; creating, describing and writing streams are limited to the workload log group.',
    );
    this.instanceRole = this.workerRole('InstanceRole', 'Spot pipeline worker of a launch that names no phase profile: SSM managed instance, writes command output to CloudWatch Logs');

    this.rootVolumeGiB = props.rootVolumeGiB ?? 30;
    const image = ec2.MachineImage.latestAmazonLinux2023({ cpuType: CPU_TYPE[WORKER_ARCHITECTURE] });
    this.defaultImageId = image.getImage(this).imageId;
    this.launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      machineImage: image,
      role: this.instanceRole,
      securityGroup: this.securityGroup,
      requireImdsv2: true,
      httpPutResponseHopLimit: 1,
      instanceMetadataTags: false,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(this.rootVolumeGiB, { encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3, deleteOnTermination: true }),
        },
      ],
      instanceInitiatedShutdownBehavior: ec2.InstanceInitiatedShutdownBehavior.TERMINATE,
    });
  }

  /** Every phase's launch template, in the order added (LaunchInstance and the fleet may launch from each). */
  readonly phaseTemplates: ec2.CfnLaunchTemplate[] = [];

  /**
   * A phase's own launch template: the stack template's network, metadata and shutdown settings,
   * with the phase's instance profile, image and root volume. A fleet launch needs it: CreateFleet's
   * overrides set instance type and subnet (and image) but not the instance profile or block devices
   * (EC2 API reference, "FleetLaunchTemplateOverridesRequest"). Volumes and spot requests carry the
   * pipeline and phase tags from here: an instant fleet's TagSpecifications tag only the fleet and its
   * instances (EC2 API reference, "CreateFleet": TagSpecifications).
   */
  addPhaseTemplate(
    phase: string,
    props: { profile: iam.InstanceProfile; launch?: { imageId: string; rootVolumeGiB?: number; rootDeviceName: string }; tags: Readonly<Record<string, string>> },
  ): ec2.CfnLaunchTemplate {
    const tags = Object.entries(props.tags).map(([key, value]) => ({ key, value }));
    const template = new ec2.CfnLaunchTemplate(this, `${phase}LaunchTemplate`, {
      launchTemplateData: {
        // An AMI id, or "resolve:ssm:<parameter>", which EC2 resolves at each launch (EC2 user guide,
        // "Use a Systems Manager parameter instead of an AMI ID": launch templates take it too).
        imageId: props.launch?.imageId ?? this.defaultImageId,
        iamInstanceProfile: { arn: props.profile.instanceProfileArn },
        securityGroupIds: [this.securityGroup.securityGroupId],
        metadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 1, instanceMetadataTags: 'disabled' },
        blockDeviceMappings: [
          {
            deviceName: props.launch?.rootDeviceName ?? '/dev/xvda',
            ebs: { volumeSize: props.launch?.rootVolumeGiB ?? this.rootVolumeGiB, volumeType: 'gp3', encrypted: true, deleteOnTermination: true },
          },
        ],
        instanceInitiatedShutdownBehavior: 'terminate',
        tagSpecifications: [
          { resourceType: 'volume', tags },
          { resourceType: 'spot-instances-request', tags },
        ],
      },
    });
    this.phaseTemplates.push(template);
    return template;
  }

  /**
   * A phase's own role and instance profile: the worker base (SSM, the workload log group), plus
   * whatever the stack grants this phase alone (its S3 prefixes, its code, its secrets).
   */
  addPhaseRole(phase: string): { role: iam.Role; profile: iam.InstanceProfile } {
    const role = this.workerRole(`${phase}Role`, `Spot pipeline worker of phase ${phase}: SSM, its log output, its own data and secrets`);
    const profile = new iam.InstanceProfile(this, `${phase}Profile`, { role });
    this.phaseRoles.push(role);
    return { role, profile };
  }

  private workerRole(id: string, description: string): iam.Role {
    const ssmCore = iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore');
    const role = new iam.Role(this, id, { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'), description, managedPolicies: [ssmCore, this.basePolicy] });
    acknowledgeManagedPolicy(
      role,
      ssmCore,
      'AmazonSSMManagedInstanceCore is the policy AWS maintains for the SSM agent (ssm, ssmmessages, ec2messages channels); ' +
        'it is how the pipeline runs workloads without SSH or inbound rules, and AWS updates it as the agent changes.',
    );
    return role;
  }
}
