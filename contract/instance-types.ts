/**
 * The CPU architecture of an EC2 instance type, from its name. Pure. The workers boot one image
 * (lib/constructs/spot-workers.ts reads WORKER_ARCHITECTURE), so the config schema refuses a type
 * that image cannot run on; a later image per phase would read the architecture from here.
 */

export type Architecture = 'x86_64' | 'arm64';

/** The architecture of the workers' image (Amazon Linux 2023, x86_64). */
export const WORKER_ARCHITECTURE: Architecture = 'x86_64';

/**
 * An instance type's family, read the way EC2 names them: series letters, generation digits, then
 * optional attribute letters (and for a few families a dash and more), e.g. c6gd = c, 6, "gd";
 * im4gn = im, 4, "gn"; is4gen = is, 4, "gen"; m7i-flex = m, 7, "i-flex".
 * https://docs.aws.amazon.com/ec2/latest/instancetypes/instance-type-names.html
 */
const FAMILY = /^([a-z]+)(\d+)([a-z0-9-]*)$/;

/**
 * arm64 (AWS Graviton) when the family's first attribute letter is the processor marker `g`
 * (a1 predates the marker): t4g, c6g, c6gd, c6gn, c7g, c7gd, c7gn, c8g, m6g, m6gd, m7g, m7gd, m8g,
 * r6g, r6gd, r7g, r7gd, r8g, x2gd, im4gn, is4gen, g5g, i4g, hpc7g, ... Anything else is x86_64:
 * Intel (i), AMD (a) and unmarked families alike (c5, g4dn, g5, inf2, p5, trn1, u7i-12tb).
 * Apple silicon mac2 hosts are outside this rule: mac instances run on Dedicated Hosts, never on spot.
 */
export function instanceArchitecture(instanceType: string): Architecture {
  const family = instanceType.split('.')[0] ?? '';
  if (family === 'a1') return 'arm64';
  const parts = FAMILY.exec(family);
  return parts?.[3]?.startsWith('g') ? 'arm64' : 'x86_64';
}

/**
 * An NVIDIA GPU instance type: the accelerated-computing families g* and p* (g4dn, g5, g5g, g6,
 * g6e, gr6, p3, p4d, p5, ...; EC2 instance types guide, "Accelerated computing"). Inferentia and
 * Trainium (inf*, trn*) are accelerators without nvidia-smi.
 */
export function isGpuInstanceType(instanceType: string): boolean {
  const family = instanceType.split('.')[0] ?? '';
  return /^(g|gr|p)\d/.test(family);
}

/** The Amazon Linux 2023 image of an architecture: its public SSM parameter (EC2 user guide, "Find AMIs with Systems Manager"). */
export const AL2023_PARAMETER: Readonly<Record<Architecture, string>> = {
  x86_64: '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64',
  arm64: '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64',
};

/** Why the workers' image cannot run on this instance type, or undefined when it can. */
export function architectureProblem(instanceType: string, image: Architecture = WORKER_ARCHITECTURE): string | undefined {
  const architecture = instanceArchitecture(instanceType);
  if (architecture === image) return undefined;
  const kind = architecture === 'arm64' ? 'an arm64 (Graviton)' : 'an x86_64';
  return `${instanceType} is ${kind} instance type; the workers' image is ${image}`;
}
