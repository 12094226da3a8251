/**
 * cdk-nag wiring. `cdk synth -c nag=true` (and test/stack/nag.test.ts) run the AwsSolutions rule
 * pack as a CDK policy-validation plugin: any unacknowledged finding fails synth, and CDK writes
 * validation-report.json into the output folder.
 *
 * A finding we accept is acknowledged here, through `acknowledgeNag` and friends, at the
 * narrowest construct that owns it and next to the code that causes it, with a written reason.
 * Acknowledgements carry the plugin namespace (`AwsSolutions::<rule>`), so CDK itself matches them
 * to the findings: the report lists every acknowledged finding under `suppressedViolations` with
 * its reason and the construct it was acknowledged at, and the checks fail on a finding that no
 * acknowledgement names exactly (an IAM5 wildcard finding is acknowledged per resource string).
 */
import { Stack, Validations, type App } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/** The name the AwsSolutions pack registers as a validation plugin, and its rule id prefix. */
export const NAG_PACK = 'AwsSolutions';

/** Shorter reasons are rejected: an acknowledgement must say why, not just that. */
export const MIN_REASON_LENGTH = 20;

/** True when the `nag` context value asks for the checks: `-c nag=true`, or `"nag": true` in cdk.json. */
export function nagRequested(value: unknown): boolean {
  return value === true || value === 'true';
}

/** Run the AwsSolutions checks on every stack of the app at synth (verbose: findings explain themselves). */
export function addNagChecks(app: App): AwsSolutionsChecks {
  const checks = new AwsSolutionsChecks(app, { verbose: true });
  Validations.of(app).addPlugins(checks);
  return checks;
}

/**
 * Acknowledge one AwsSolutions finding on `scope` and everything under it.
 * @param rule the finding as cdk-nag names it, e.g. `AwsSolutions-L1` or `AwsSolutions-IAM5[Resource::*]`
 */
export function acknowledgeNag(scope: IConstruct, rule: string, reason: string): void {
  if (!rule.startsWith(`${NAG_PACK}-`)) throw new Error(`${scope.node.path}: '${rule}' is not an ${NAG_PACK} rule`);
  if (reason.trim().length < MIN_REASON_LENGTH) {
    throw new Error(`${scope.node.path}: the reason for acknowledging ${rule} must say why (at least ${MIN_REASON_LENGTH} characters)`);
  }
  Validations.of(scope).acknowledge({ id: `${NAG_PACK}::${rule}`, reason });
}

/**
 * Acknowledge the IAM5 finding for one wildcard resource of a role's policies (its default policy
 * included). `resource` is the ARN as the policy was given it (tokens allowed): it is rendered the
 * way cdk-nag renders it, so the acknowledgement covers that resource string and no other.
 */
export function acknowledgeWildcardResource(role: iam.IRole, resource: string, reason: string): void {
  acknowledgeNag(role, `${NAG_PACK}-IAM5[Resource::${nagRendering(role, resource)}]`, reason);
}

/** Acknowledge the IAM4 finding for one AWS managed policy attached to a role. */
export function acknowledgeManagedPolicy(role: iam.IRole, policy: iam.IManagedPolicy, reason: string): void {
  acknowledgeNag(role, `${NAG_PACK}-IAM4[Policy::${nagRendering(role, policy.managedPolicyArn)}]`, reason);
}

/**
 * A value as cdk-nag shows it in granular finding ids: resolved to CloudFormation, then flattened
 * (Fn::Join joined, Ref as <Id>, Fn::GetAtt as <Id.Attr>, anything else as JSON). Mirrors
 * flattenCfnReference in cdk-nag 3 (lib/utils/flatten-cfn-reference); test/stack/nag.test.ts fails
 * if the two drift apart, since the finding would then go unacknowledged.
 */
export function nagRendering(scope: IConstruct, value: string): string {
  const visit = (node: unknown): string => {
    if (node === undefined) return '';
    if (typeof node === 'string') return node.replace(/\${/g, '<').replace(/}/g, '>');
    const o = node as Record<string, unknown>;
    if (o['Fn::Join']) {
      const [delimiter, items] = o['Fn::Join'] as [string, unknown[]];
      return items.map(visit).join(delimiter);
    }
    if (o['Fn::Sub']) return visit(o['Fn::Sub']);
    if (o['Fn::GetAtt']) {
      const [resource, attribute] = o['Fn::GetAtt'] as [unknown, unknown];
      return `<${visit(resource)}.${visit(attribute)}>`;
    }
    if (o['Fn::ImportValue']) return visit(o['Fn::ImportValue']);
    if (o.Ref) return `<${visit(o.Ref)}>`;
    return JSON.stringify(node);
  };
  return visit(Stack.of(scope).resolve(value));
}
