/**
 * The interpreter's intrinsic functions where the pipeline depends on them. States.Hash names every
 * phase and shard execution (stages/phase.ts, stages/shards.ts): aws-local-stepfunctions 3.0.0
 * hashed any input longer than one block wrongly (it read the second 64-byte block from byte 16),
 * so shards whose names differed only after the 56th byte of "<execution ARN>/<shard>" got one
 * execution name. patches/aws-local-stepfunctions+3.0.0.patch fixes the offset (npm's postinstall
 * applies it); Step Functions computes the digests as node:crypto does.
 */
import { createHash } from 'node:crypto';
import { StateMachine } from 'aws-local-stepfunctions';
import { describe, expect, it } from 'vitest';

async function hashInInterpreter(text: string, algorithm: string): Promise<string> {
  const machine = new StateMachine({ StartAt: 'H', States: { H: { Type: 'Pass', Parameters: { 'h.$': `States.Hash($.text, '${algorithm}')` }, End: true } } } as never, { validationOptions: { noValidate: true } });
  return ((await machine.run({ text }).result) as { h: string }).h;
}

describe('States.Hash in the local interpreter', () => {
  it.each(['MD5', 'SHA-1', 'SHA-256', 'SHA-384', 'SHA-512'])('%s of inputs of one, two and several blocks is the digest node:crypto computes', async (algorithm) => {
    for (const length of [3, 55, 56, 64, 111, 128, 300]) {
      // Prepare: an execution ARN and a shard, as the shard task hashes them.
      const text = `arn:aws:states:us-east-1:123456789012:execution:ftf-crypto-fanout:run-1/${'b'.repeat(length)}`.slice(0, Math.max(length, 1));

      // Act
      const digest = await hashInInterpreter(text, algorithm);

      // Assess
      expect(digest, `${algorithm} of ${text.length} bytes`).toBe(createHash(algorithm.replace('-', '').toLowerCase()).update(text).digest('hex'));
    }
  });

  it('two shards whose hashed names differ only in their last characters get different execution names', async () => {
    const prefix = 'arn:aws:states:us-east-1:123456789012:execution:ftf-crypto-fanout:saturday-run-2026-05-30';
    expect(await hashInInterpreter(`${prefix}/btc`, 'MD5')).not.toBe(await hashInInterpreter(`${prefix}/bnb`, 'MD5'));
  });
});
