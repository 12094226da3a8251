/**
 * Reading a synthesized CloudFormation template as the simulated account would deploy it:
 * every resource gets a deterministic fake physical id, intrinsic functions are resolved, and
 * the state machine definitions come out as plain ASL. Nothing here is hand-kept: change the
 * stack and what the simulator runs changes with it.
 */
import { createHash } from 'node:crypto';

export const SIM_REGION = 'us-east-1';
export const SIM_ACCOUNT = '123456789012';

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
}
export interface CfnTemplate {
  readonly Resources: Record<string, CfnResource>;
  readonly Outputs?: Record<string, { Value: unknown }>;
}

const hex = (seed: string, length: number) => createHash('sha256').update(seed).digest('hex').slice(0, length);

/** The physical id (what Ref returns) of a resource in the simulated account. */
export function physicalId(logicalId: string, resource: CfnResource): string {
  const p = resource.Properties ?? {};
  switch (resource.Type) {
    case 'AWS::Lambda::Function':
      return String(p.FunctionName ?? logicalId);
    case 'AWS::StepFunctions::StateMachine':
      return `arn:aws:states:${SIM_REGION}:${SIM_ACCOUNT}:stateMachine:${String(p.StateMachineName ?? logicalId)}`;
    case 'AWS::EC2::Subnet':
      return `subnet-${hex(logicalId, 17)}`;
    case 'AWS::EC2::VPC':
      return `vpc-${hex(logicalId, 17)}`;
    case 'AWS::EC2::SecurityGroup':
      return `sg-${hex(logicalId, 17)}`;
    case 'AWS::EC2::LaunchTemplate':
      return `lt-${hex(logicalId, 17)}`;
    case 'AWS::Logs::LogGroup':
      return String(p.LogGroupName ?? `/sim/${logicalId}`);
    case 'AWS::IAM::Role':
      return String(p.RoleName ?? logicalId);
    case 'AWS::IAM::InstanceProfile':
      // Without an InstanceProfileName, CloudFormation names it after the stack and the logical id
      // with a unique suffix (CloudFormation user guide, "AWS::IAM::InstanceProfile": Ref returns the name).
      return String(p.InstanceProfileName ?? `SimulatedStack-${logicalId}-${hex(logicalId, 12).toUpperCase()}`);
    case 'AWS::SNS::Topic':
      return `arn:aws:sns:${SIM_REGION}:${SIM_ACCOUNT}:${logicalId}`;
    case 'AWS::S3::Bucket':
      // Without a BucketName, CloudFormation names the bucket after the stack and the logical id,
      // lower-cased, with a unique suffix (CloudFormation user guide, "AWS::S3::Bucket", BucketName).
      return String(p.BucketName ?? `simulatedstack-${logicalId.toLowerCase()}-${hex(logicalId, 12)}`);
    default:
      return logicalId;
  }
}

function getAtt(template: CfnTemplate, logicalId: string, attribute: string): unknown {
  const resource = template.Resources[logicalId];
  if (!resource) throw new Error(`Fn::GetAtt: no resource ${logicalId}`);
  const id = physicalId(logicalId, resource);
  switch (`${resource.Type}.${attribute}`) {
    case 'AWS::Lambda::Function.Arn':
      return `arn:aws:lambda:${SIM_REGION}:${SIM_ACCOUNT}:function:${id}`;
    case 'AWS::StepFunctions::StateMachine.Arn':
      return id;
    case 'AWS::StepFunctions::StateMachine.Name':
      return id.split(':').at(-1);
    case 'AWS::IAM::Role.Arn':
      return `arn:aws:iam::${SIM_ACCOUNT}:role/${id}`;
    case 'AWS::IAM::InstanceProfile.Arn':
      return `arn:aws:iam::${SIM_ACCOUNT}:instance-profile/${id}`;
    case 'AWS::Logs::LogGroup.Arn':
      return `arn:aws:logs:${SIM_REGION}:${SIM_ACCOUNT}:log-group:${id}:*`;
    case 'AWS::EC2::LaunchTemplate.LatestVersionNumber':
    case 'AWS::EC2::LaunchTemplate.DefaultVersionNumber':
      return '1';
    case 'AWS::EC2::LaunchTemplate.LaunchTemplateId':
      return id;
    case 'AWS::EC2::SecurityGroup.GroupId':
      return id;
    case 'AWS::S3::Bucket.Arn':
      return `arn:aws:s3:::${id}`;
    case 'AWS::EC2::VPC.CidrBlock':
      return String(resource.Properties?.CidrBlock ?? '10.0.0.0/16');
    default:
      return `${id}.${attribute}`;
  }
}

const PSEUDO: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': SIM_REGION,
  'AWS::AccountId': SIM_ACCOUNT,
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': 'SimulatedStack',
  'AWS::NoValue': '',
};

/** Resolve the intrinsic functions CDK emits, as CloudFormation would in the simulated account. */
export function resolve(template: CfnTemplate, value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => resolve(template, v));
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length === 1) {
    const [key] = keys as [string];
    const arg = obj[key];
    switch (key) {
      case 'Ref': {
        const name = String(arg);
        if (name in PSEUDO) return PSEUDO[name];
        const resource = template.Resources[name];
        if (!resource) throw new Error(`Ref: no resource ${name}`);
        return physicalId(name, resource);
      }
      case 'Fn::GetAtt': {
        const [id, attribute] = Array.isArray(arg) ? (arg as [string, string]) : (String(arg).split('.') as [string, string]);
        return getAtt(template, id, attribute);
      }
      case 'Fn::Join': {
        const [sep, parts] = arg as [string, unknown[]];
        return (resolve(template, parts) as unknown[]).join(sep);
      }
      case 'Fn::Select': {
        const [index, list] = arg as [unknown, unknown];
        return (resolve(template, list) as unknown[])[Number(resolve(template, index))];
      }
      case 'Fn::GetAZs':
        return ['a', 'b', 'c', 'd', 'e', 'f'].map((l) => `${SIM_REGION}${l}`);
      case 'Fn::Cidr': {
        const [, count] = arg as [unknown, number];
        return Array.from({ length: Number(count) }, (_, i) => `10.42.${i * 16}.0/20`);
      }
      case 'Fn::Sub': {
        const text = Array.isArray(arg) ? String(arg[0]) : String(arg);
        const vars = Array.isArray(arg) ? (resolve(template, arg[1]) as Record<string, string>) : {};
        return text.replace(/\$\{([^}]+)\}/g, (_, name: string) =>
          name in vars ? String(vars[name]) : name.includes('.') ? String(getAtt(template, ...(name.split('.') as [string, string]))) : String(resolve(template, { Ref: name })),
        );
      }
      default:
        break;
    }
  }
  return Object.fromEntries(keys.map((k) => [k, resolve(template, obj[k])]));
}

/** Logical ids of resources of one type. */
export function resourcesOfType(template: CfnTemplate, type: string): [string, CfnResource][] {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}

export interface DeployedStateMachine {
  readonly logicalId: string;
  readonly arn: string;
  readonly name: string;
  /** The ASL definition, parsed, with every token resolved. */
  readonly definition: Record<string, unknown> & { StartAt: string; States: Record<string, Record<string, unknown>> };
}

/** Every state machine of a template, as the simulated account would deploy it. */
export function deployedStateMachines(template: CfnTemplate): DeployedStateMachine[] {
  return resourcesOfType(template, 'AWS::StepFunctions::StateMachine').map(([logicalId, resource]) => {
    const props = resource.Properties ?? {};
    const text = resolve(template, props.DefinitionString) as string;
    const arn = physicalId(logicalId, resource);
    return { logicalId, arn, name: arn.split(':').at(-1)!, definition: JSON.parse(text) };
  });
}

/** Tags of a resource as a plain map (CloudFormation lists them as Key/Value pairs). */
export function tagsOf(resource: CfnResource): Record<string, string> {
  const tags = (resource.Properties?.Tags ?? []) as { Key: string; Value: string }[];
  return Object.fromEntries(tags.map((t) => [t.Key, t.Value]));
}

/**
 * The launch templates a template deploys, by id, with what the simulation reads of each: the
 * instance profile (LaunchTemplateData.IamInstanceProfile.Arn) and the image when it is written out
 * (an AMI id or resolve:ssm:<parameter>; a deploy-time parameter reference is left undefined).
 */
export function deployedLaunchTemplates(template: CfnTemplate): Map<string, { instanceProfileArn?: string; imageId?: string }> {
  const templates = new Map<string, { instanceProfileArn?: string; imageId?: string }>();
  for (const [id, resource] of resourcesOfType(template, 'AWS::EC2::LaunchTemplate')) {
    const data = ((resource.Properties ?? {}) as { LaunchTemplateData?: { IamInstanceProfile?: { Arn?: unknown }; ImageId?: unknown } }).LaunchTemplateData ?? {};
    const profile = data.IamInstanceProfile?.Arn === undefined ? undefined : String(resolve(template, data.IamInstanceProfile.Arn));
    const imageId = typeof data.ImageId === 'string' ? data.ImageId : undefined;
    templates.set(physicalId(id, resource), { ...(profile ? { instanceProfileArn: profile } : {}), ...(imageId ? { imageId } : {}) });
  }
  return templates;
}
