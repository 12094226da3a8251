/**
 * A minimal VPC for a fresh account: public subnets in the first `azCount` AZs of whatever region
 * the stack deploys to (Fn::Select of Fn::GetAZs, resolved by CloudFormation at deploy, so synth
 * stays offline and env-agnostic and never picks CDK's dummy AZs), an internet gateway, no NAT
 * gateway (nothing billed while idle), no inbound rules anywhere, and flow logs (accepted and
 * rejected traffic) to a CloudWatch log group with retention.
 *
 * Fn::GetAZs lists the region's AZs that have a default subnet (all of them when none has), in
 * no guaranteed order; some regions offer only two, hence two by default.
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference-getavailabilityzones.html
 */
import { Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface MinimalVpcProps {
  /** @default '10.42.0.0/16' */
  readonly cidr?: string;
  /** How many AZs get a public subnet (2-6: the /16 is cut into /20s). @default 2 */
  readonly azCount?: number;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly flowLogRetention?: logs.RetentionDays;
}

export class MinimalVpc extends Construct {
  readonly vpcId: string;
  readonly subnetIds: string[];

  constructor(scope: Construct, id: string, props: MinimalVpcProps = {}) {
    super(scope, id);
    const vpc = new ec2.CfnVPC(this, 'Vpc', { cidrBlock: props.cidr ?? '10.42.0.0/16', enableDnsHostnames: true, enableDnsSupport: true });
    const igw = new ec2.CfnInternetGateway(this, 'InternetGateway');
    const attachment = new ec2.CfnVPCGatewayAttachment(this, 'GatewayAttachment', { vpcId: vpc.ref, internetGatewayId: igw.ref });
    const routes = new ec2.CfnRouteTable(this, 'PublicRoutes', { vpcId: vpc.ref });
    const route = new ec2.CfnRoute(this, 'DefaultRoute', { routeTableId: routes.ref, destinationCidrBlock: '0.0.0.0/0', gatewayId: igw.ref });
    route.node.addDependency(attachment);

    const azCount = props.azCount ?? 2;
    if (!Number.isInteger(azCount) || azCount < 1 || azCount > 16) throw new Error(`${this.node.path}: azCount must be a whole number from 1 to 16, got ${azCount}`);
    const subnetCidrs = Fn.cidr(vpc.attrCidrBlock, azCount, '12');
    this.subnetIds = Array.from({ length: azCount }, (_, i) => {
      const subnet = new ec2.CfnSubnet(this, `PublicSubnet${i + 1}`, {
        vpcId: vpc.ref,
        availabilityZone: Fn.select(i, Fn.getAzs()),
        cidrBlock: Fn.select(i, subnetCidrs),
        mapPublicIpOnLaunch: true,
      });
      new ec2.CfnSubnetRouteTableAssociation(this, `PublicSubnet${i + 1}Routes`, { subnetId: subnet.ref, routeTableId: routes.ref });
      return subnet.ref;
    });
    this.vpcId = vpc.ref;

    // Flow logs: the role may write this one group, and only the flow-log service of this account may assume it.
    const stack = Stack.of(this);
    const flowLogs = new logs.LogGroup(this, 'FlowLogs', {
      retention: props.flowLogRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const flowLogRole = new iam.Role(this, 'FlowLogRole', {
      description: 'VPC flow logs of the spot pipeline workers: writes the flow log group only',
      assumedBy: new iam.ServicePrincipal('vpc-flow-logs.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': `arn:${stack.partition}:ec2:${stack.region}:${stack.account}:vpc-flow-log/*` },
        },
      }),
    });
    flowLogRole.addToPolicy(
      new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'], resources: [flowLogs.logGroupArn] }),
    );
    const flowLog = new ec2.CfnFlowLog(this, 'FlowLog', {
      resourceType: 'VPC',
      resourceId: vpc.ref,
      trafficType: 'ALL',
      logDestinationType: 'cloud-watch-logs',
      logGroupName: flowLogs.logGroupName,
      deliverLogsPermissionArn: flowLogRole.roleArn,
    });
    flowLog.node.addDependency(flowLogRole); // the role's policy too, so delivery works from the first flow
  }
}
