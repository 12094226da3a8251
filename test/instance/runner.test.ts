/**
 * instance/pipeline-runner.sh, run as the instance runs it: under bash, with a stub `aws` command
 * (it records its calls and serves a fake S3 and Parameter Store from a directory) and a fake
 * instance metadata service on 127.0.0.1 that answers IMDSv2 as EC2 does (fake-instance.ts).
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { create as createTar } from 'tar';
import { RUNNER_EXIT, RUNNER_NOTICE_LINE, RUNNER_SAVED_LINE } from '../../contract/runner';
import { installAwsStub, putFakeObject, RUNNER, startFakeImds } from './fake-instance';
import { RUNNER_DELIMITER } from '../../decisions/workload-script';



interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

describe('pipeline-runner.sh on the instance', () => {
  let dir: string;
  let fakeS3: string;
  let calls: string;
  let imds: Awaited<ReturnType<typeof startFakeImds>>;
  let imdsUrl: string;
  /** When the fake metadata service starts answering instance-action with 200. */
  let noticeAfterMs = Infinity;
  let startedAt = 0;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'runner-'));
    fakeS3 = path.join(dir, 's3');
    calls = path.join(dir, 'aws-calls.log');
    installAwsStub(path.join(dir, 'bin'));
    mkdirSync(path.join(dir, 'ssm'));
    writeFileSync(calls, '');
    noticeAfterMs = Infinity;
    imds = await startFakeImds(() => Date.now() - startedAt >= noticeAfterMs);
    imdsUrl = imds.url;
  });

  afterEach(async () => {
    await imds.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const putObject = (uri: string, data: Buffer | string) => putFakeObject(fakeS3, uri, data);

  /** Run the runner around `workload` (a bash script), with `env`; resolves when it exits. */
  function run(workload: string, env: Record<string, string> = {}): Promise<Run> {
    const script = path.join(dir, 'workload.sh');
    writeFileSync(script, `#!/usr/bin/env bash\n${workload}\n`);
    chmodSync(script, 0o755);
    startedAt = Date.now();
    return new Promise((resolve) => {
      const child = spawn('bash', [RUNNER, script], {
        env: {
          PATH: `${path.join(dir, 'bin')}:${process.env.PATH}`,
          AWS_CALLS: calls,
          FAKE_S3: fakeS3,
          FAKE_SSM: path.join(dir, 'ssm'),
          PIPELINE_WORK_DIR: path.join(dir, 'work'),
          PIPELINE_IMDS_ENDPOINT: imdsUrl,
          PIPELINE_NOTICE_POLL_SECONDS: '0.2',
          PIPELINE_RETRY_SLEEP_SECONDS: '0',
          PIPELINE_OUTPUT_URI: 's3://pipeline-bucket/saturday/runs/2026-05-30/exec-1/DataPhase1/',
          PIPELINE_CHECKPOINT_URI: 's3://pipeline-bucket/saturday/checkpoints/2026-05-30/exec-1/DataPhase1/',
          ...env,
        },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  const awsCalls = () => readFileSync(calls, 'utf8').trim().split('\n').filter(Boolean);
  const marker = () => path.join(dir, 'ran');

  it('a code asset whose sha256 does not match runs nothing: exit 65, ArtifactIntegrityFailed named', async () => {
    // Prepare
    putObject('s3://pipeline-bucket/saturday/artifacts/code/v1.zip', 'tampered bytes');

    // Act
    const result = await run(`touch ${marker()}`, { PIPELINE_CODE_URI: 's3://pipeline-bucket/saturday/artifacts/code/v1.zip', PIPELINE_CODE_SHA256: sha256('the real zip') });

    // Assess
    expect(result.code).toBe(65);
    expect(result.stdout).toMatch(/^ArtifactIntegrityFailed: code from s3:\/\/pipeline-bucket\/saturday\/artifacts\/code\/v1\.zip has sha256 [0-9a-f]{64}, expected/m);
    expect(existsSync(marker())).toBe(false);
  });

  it('a declared artifact that does not match runs nothing either', async () => {
    // Prepare
    putObject('s3://pipeline-bucket/saturday/artifacts/engine/abc.jar', 'jar bytes');

    // Act
    const result = await run(`touch ${marker()}`, { PIPELINE_ARTIFACTS: `engine|s3://pipeline-bucket/saturday/artifacts/engine/abc.jar|${sha256('other bytes')}` });

    // Assess
    expect(result.code).toBe(65);
    expect(result.stdout).toContain('ArtifactIntegrityFailed: engine');
    expect(existsSync(marker())).toBe(false);
  });

  it('verified artifacts are in place, the checkpoint restored, and outputs uploaded; the exit code is the workload\'s', async () => {
    // Prepare
    putObject('s3://pipeline-bucket/saturday/artifacts/engine/abc.jar', 'jar bytes');
    putObject('s3://pipeline-bucket/saturday/checkpoints/2026-05-30/exec-1/DataPhase1/progress', 'minute 38');

    // Act
    const result = await run(
      ['cat "$PIPELINE_ARTIFACTS_DIR/engine" > "$PIPELINE_OUTPUT_DIR/seen-jar"', 'cat "$PIPELINE_CHECKPOINT_DIR/progress" > "$PIPELINE_OUTPUT_DIR/resumed-from"', 'exit 3'].join('\n'),
      { PIPELINE_ARTIFACTS: `engine|s3://pipeline-bucket/saturday/artifacts/engine/abc.jar|${sha256('jar bytes')}` },
    );

    // Assess: outputs are uploaded on failure too.
    expect(result.code).toBe(3);
    const outputs = path.join(fakeS3, 'pipeline-bucket/saturday/runs/2026-05-30/exec-1/DataPhase1');
    expect(readFileSync(path.join(outputs, 'seen-jar'), 'utf8')).toBe('jar bytes');
    expect(readFileSync(path.join(outputs, 'resumed-from'), 'utf8')).toBe('minute 38');
    expect(awsCalls()).toContain(`s3 sync --only-show-errors ${path.join(dir, 'work', 'output')} s3://pipeline-bucket/saturday/runs/2026-05-30/exec-1/DataPhase1/`);
  });

  it('on the spot notice the workload receives SIGTERM, its checkpoint is saved within the 2 minutes, and the runner waits for the interruption', async () => {
    // Prepare: the workload saves progress as it goes and traps SIGTERM (saving once more); the notice comes after 1 s.
    noticeAfterMs = 1000;
    const workload = [
      'trap \'echo "saved on TERM after $(cat "$PIPELINE_CHECKPOINT_DIR/progress")" > "$PIPELINE_CHECKPOINT_DIR/progress"; exit 143\' TERM',
      'for i in $(seq 1 600); do echo "step $i" > "$PIPELINE_CHECKPOINT_DIR/progress"; sleep 0.1; done',
    ].join('\n');

    // Act: the interruption never comes here, so the runner gives up waiting after its grace.
    const result = await run(workload, { PIPELINE_NOTICE_GRACE_SECONDS: '1' });
    const elapsedMs = Date.now() - startedAt;

    // Assess: the checkpoint holds what the workload wrote on SIGTERM, and the runner did not exit
    // with the workload's 143 (an exit the pipeline would judge a genuine failure).
    expect(result.code).toBe(RUNNER_EXIT.noticeWithoutInterruption);
    expect(elapsedMs).toBeLessThan(20_000);
    expect(result.stderr).toContain(RUNNER_NOTICE_LINE);
    // The pipeline relaunches at once on this line (decisions/attempt.ts): it comes after the save reached S3.
    expect(result.stderr.split('\n').some((line) => line.startsWith(RUNNER_SAVED_LINE))).toBe(true);
    const saved = readFileSync(path.join(fakeS3, 'pipeline-bucket/saturday/checkpoints/2026-05-30/exec-1/DataPhase1/progress'), 'utf8');
    expect(saved).toMatch(/^saved on TERM after step \d+/);
  });

  it('a workload that ignores SIGTERM after the notice is killed, and its checkpoint saved still', async () => {
    // Prepare
    noticeAfterMs = 500;
    const workload = ['trap "" TERM', 'echo "step 1" > "$PIPELINE_CHECKPOINT_DIR/progress"', 'while true; do sleep 0.1; done'].join('\n');

    // Act
    const result = await run(workload, { PIPELINE_NOTICE_STOP_SECONDS: '1', PIPELINE_NOTICE_GRACE_SECONDS: '0' });

    // Assess
    expect(result.code).toBe(RUNNER_EXIT.noticeWithoutInterruption);
    expect(readFileSync(path.join(fakeS3, 'pipeline-bucket/saturday/checkpoints/2026-05-30/exec-1/DataPhase1/progress'), 'utf8')).toBe('step 1\n');
  });

  it('SIGTERM sent to the runner is passed on to the workload', async () => {
    // Prepare
    const script = path.join(dir, 'workload.sh');
    writeFileSync(script, '#!/usr/bin/env bash\ntrap \'touch "$PIPELINE_OUTPUT_DIR/forwarded"; exit 143\' TERM\nwhile true; do sleep 0.1; done\n');
    chmodSync(script, 0o755);

    // Act
    const done = new Promise<number | null>((resolve) => {
      const child = spawn('bash', [RUNNER, script], {
        env: { PATH: `${path.join(dir, 'bin')}:${process.env.PATH}`, AWS_CALLS: calls, FAKE_S3: fakeS3, PIPELINE_WORK_DIR: path.join(dir, 'work'), PIPELINE_IMDS_ENDPOINT: imdsUrl, PIPELINE_NOTICE_POLL_SECONDS: '0.2' },
      });
      setTimeout(() => child.kill('SIGTERM'), 1000);
      child.on('close', resolve);
    });

    // Assess
    expect(await done).toBe(143);
    expect(existsSync(path.join(dir, 'work', 'output', 'forwarded'))).toBe(true);
  });

  it('secrets reach the workload\'s environment, never the runner\'s output or the command line', async () => {
    // Prepare
    writeFileSync(path.join(dir, 'ssm', 'saturday-db-password'), 'hunter2-s3cr3t');

    // Act
    const result = await run('[ "$DB_PASSWORD" = hunter2-s3cr3t ] && touch "$PIPELINE_OUTPUT_DIR/had-secret"; ps -o args= -p $$ > "$PIPELINE_OUTPUT_DIR/args"', {
      PIPELINE_SECRETS: 'DB_PASSWORD|ssm:/saturday-db-password',
    });

    // Assess
    expect(result.code).toBe(0);
    const outputs = path.join(fakeS3, 'pipeline-bucket/saturday/runs/2026-05-30/exec-1/DataPhase1');
    expect(existsSync(path.join(outputs, 'had-secret'))).toBe(true);
    expect(readFileSync(path.join(outputs, 'args'), 'utf8')).not.toContain('hunter2');
    expect(`${result.stdout}${result.stderr}`).not.toContain('hunter2');
    expect(result.stderr).toContain('resolved secret DB_PASSWORD from ssm');
  });

  it('the code asset is unpacked into PIPELINE_CODE_DIR once its sha256 matches, executable bits kept', async () => {
    // Prepare: a .tar.gz as synth makes it (lib/constructs/code-asset.ts uses the same library).
    const src = path.join(dir, 'src');
    mkdirSync(path.join(src, 'bin'), { recursive: true });
    writeFileSync(path.join(src, 'bin', 'job.sh'), '#!/usr/bin/env bash\necho "job ran" > "$PIPELINE_OUTPUT_DIR/job.txt"\n');
    chmodSync(path.join(src, 'bin', 'job.sh'), 0o755);
    const archive = path.join(dir, 'code.tar.gz');
    createTar({ gzip: true, portable: true, cwd: src, file: archive, sync: true }, ['bin/job.sh']);
    const bytes = readFileSync(archive);
    putObject('s3://cdk-assets-bucket/abc.tar.gz', bytes);

    // Act
    const result = await run('"$PIPELINE_CODE_DIR/bin/job.sh"', { PIPELINE_CODE_URI: 's3://cdk-assets-bucket/abc.tar.gz', PIPELINE_CODE_SHA256: sha256(bytes) });

    // Assess
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`verified code (${sha256(bytes)})`);
    expect(readFileSync(path.join(fakeS3, 'pipeline-bucket/saturday/runs/2026-05-30/exec-1/DataPhase1/job.txt'), 'utf8')).toBe('job ran\n');
  });

  it('a code asset that cannot be downloaded runs nothing: exit 65', async () => {
    // Act
    const result = await run(`touch ${marker()}`, { PIPELINE_CODE_URI: 's3://cdk-assets-bucket/missing.tar.gz', PIPELINE_CODE_SHA256: sha256('x') });

    // Assess
    expect(result.code).toBe(RUNNER_EXIT.artifactIntegrity);
    expect(result.stdout).toContain('ArtifactIntegrityFailed: code could not be downloaded');
    expect(existsSync(marker())).toBe(false);
  });

  it('a secret that cannot be read runs nothing: exit 66, SecretUnavailable named, from either service', async () => {
    // Act
    const fromSsm = await run(`touch ${marker()}`, { PIPELINE_SECRETS: 'DB_PASSWORD|ssm:/no/such/parameter' });
    const fromSecretsManager = await run(`touch ${marker()}`, { PIPELINE_SECRETS: 'API_KEY|secretsmanager:alpha/api-key' });

    // Assess
    expect(fromSsm.code).toBe(RUNNER_EXIT.secretUnavailable);
    expect(fromSsm.stdout).toContain('SecretUnavailable: DB_PASSWORD from ssm:/no/such/parameter could not be read');
    expect(fromSecretsManager.code).toBe(RUNNER_EXIT.secretUnavailable);
    expect(existsSync(marker())).toBe(false);
  });

  it('a secret from Secrets Manager reaches the workload as well', async () => {
    // Prepare
    writeFileSync(path.join(dir, 'ssm', 'sm-alpha-api-key'), 'k3y-value');

    // Act
    const result = await run('[ "$API_KEY" = k3y-value ] && touch "$PIPELINE_OUTPUT_DIR/had-key"', { PIPELINE_SECRETS: 'API_KEY|secretsmanager:alpha-api-key' });

    // Assess
    expect(result.code).toBe(0);
    expect(existsSync(path.join(fakeS3, 'pipeline-bucket/saturday/runs/2026-05-30/exec-1/DataPhase1/had-key'))).toBe(true);
    expect(`${result.stdout}${result.stderr}`).not.toContain('k3y-value');
  });

  it('a workload exiting with a code the runner reserves is reported as exit 1', async () => {
    // Act (one after another: the runs share a work directory)
    const results: Run[] = [];
    for (const code of Object.values(RUNNER_EXIT)) results.push(await run(`exit ${code}`));

    // Assess
    for (const result of results) {
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('a code the runner reserves');
    }
  });

  it('a workload that succeeded but whose outputs cannot be uploaded fails: exit 74; a failed one keeps its own exit', async () => {
    // Act
    const succeeded = await run('echo result > "$PIPELINE_OUTPUT_DIR/r.txt"', { FAKE_S3_READONLY: '1' });
    const failed = await run('exit 3', { FAKE_S3_READONLY: '1' });

    // Assess
    expect(succeeded.code).toBe(RUNNER_EXIT.outputUpload);
    expect(succeeded.stdout).toContain('OutputUploadFailed');
    expect(failed.code).toBe(3);
  });

  it('a preflight proves the bucket writable with a probe in its outputs', async () => {
    // Act
    const ok = await run('true', { PIPELINE_MODE: 'preflight' });
    const readOnly = await run('true', { PIPELINE_MODE: 'preflight', FAKE_S3_READONLY: '1' });

    // Assess
    expect(ok.code).toBe(0);
    expect(readFileSync(path.join(fakeS3, 'pipeline-bucket/saturday/runs/2026-05-30/exec-1/DataPhase1/preflight-probe.txt'), 'utf8')).toMatch(/^preflight ok /);
    expect(readOnly.code).toBe(RUNNER_EXIT.outputUpload);
  });

  it('the runner holds no line that would end the heredoc SendWorkload writes it with', () => {
    expect(readFileSync(RUNNER, 'utf8').split('\n')).not.toContain(RUNNER_DELIMITER);
  });

  it('a declared tool the instance lacks runs nothing: exit 69, MissingTool named (in a preflight too)', async () => {
    // Act
    const full = await run(`touch ${marker()}`, { PIPELINE_TOOLS: 'bash no-such-tool-xyz' });
    const preflight = await run(`touch ${marker()}`, { PIPELINE_TOOLS: 'no-such-tool-xyz', PIPELINE_MODE: 'preflight' });
    const present = await run('true', { PIPELINE_TOOLS: 'bash sha256sum' });

    // Assess
    expect(full.code).toBe(RUNNER_EXIT.toolMissing);
    expect(full.stdout).toContain('MissingTool: the instance lacks no-such-tool-xyz, which this phase declares in tools');
    expect(preflight.code).toBe(RUNNER_EXIT.toolMissing);
    expect(existsSync(marker())).toBe(false);
    expect(present.code).toBe(0);
  });

  describe('a build stage', () => {
    /** A git repository with one commit whose build makes dist/engine.jar (or fails, writing a log). */
    function repository(build: string): { url: string; commit: string } {
      const repo = path.join(dir, 'repo');
      mkdirSync(repo, { recursive: true });
      writeFileSync(path.join(repo, 'build.sh'), build);
      const git = (...args: string[]) => execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { encoding: 'utf8' }).trim();
      git('init', '--quiet');
      git('add', '.');
      git('commit', '--quiet', '-m', 'engine');
      return { url: `file://${repo}`, commit: git('rev-parse', 'HEAD') };
    }
    const artifactUri = 's3://pipeline-bucket/saturday/artifacts/engine/';

    it('checks out the commit, runs the build in the source, uploads the output with its sha256 recorded', async () => {
      // Prepare
      const { url, commit } = repository('mkdir -p dist && printf "jar of %s" "$(git rev-parse HEAD)" > dist/engine.jar\n');

      // Act
      const result = await run('bash build.sh', { PIPELINE_BUILD_ARTIFACT_URI: `${artifactUri}${commit}`, PIPELINE_BUILD_VERSION: commit, PIPELINE_BUILD_OUTPUT: 'dist/engine.jar', PIPELINE_BUILD_GIT_URL: url });

      // Assess
      expect(result.code).toBe(0);
      const stored = path.join(fakeS3, 'pipeline-bucket/saturday/artifacts/engine', commit);
      expect(readFileSync(stored, 'utf8')).toBe(`jar of ${commit}`);
      expect(readFileSync(`${stored}.metadata`, 'utf8')).toBe(`sha256=${sha256(`jar of ${commit}`)}`);
      expect(result.stdout).toContain(`ArtifactBuilt: ${artifactUri}${commit} sha256 ${sha256(`jar of ${commit}`)}`);
    });

    it('a failed build uploads nothing and leaves the logs of its working directory in its outputs', async () => {
      // Prepare
      const { url, commit } = repository('echo "compile error in Engine.java" > compile.log; exit 2\n');

      // Act
      const result = await run('bash build.sh', { PIPELINE_BUILD_ARTIFACT_URI: `${artifactUri}${commit}`, PIPELINE_BUILD_VERSION: commit, PIPELINE_BUILD_OUTPUT: 'dist/engine.jar', PIPELINE_BUILD_GIT_URL: url });

      // Assess
      expect(result.code).toBe(2);
      expect(existsSync(path.join(fakeS3, 'pipeline-bucket/saturday/artifacts/engine', commit))).toBe(false);
      const logs = path.join(fakeS3, 'pipeline-bucket/saturday/runs/2026-05-30/exec-1/DataPhase1/build-logs.tar.gz');
      expect(execFileSync('tar', ['-xzOf', logs], { encoding: 'utf8' })).toContain('compile error in Engine.java');
    });

    it('a build that makes no output fails (BuildOutputMissing); a commit that does not exist builds nothing (BuildSourceUnavailable)', async () => {
      // Prepare
      const { url, commit } = repository('true\n');

      // Act
      const noOutput = await run('bash build.sh', { PIPELINE_BUILD_ARTIFACT_URI: `${artifactUri}${commit}`, PIPELINE_BUILD_VERSION: commit, PIPELINE_BUILD_OUTPUT: 'dist/engine.jar', PIPELINE_BUILD_GIT_URL: url });
      const missing = 'f'.repeat(40);
      const noCommit = await run(`touch ${marker()}`, { PIPELINE_BUILD_ARTIFACT_URI: `${artifactUri}${missing}`, PIPELINE_BUILD_VERSION: missing, PIPELINE_BUILD_OUTPUT: 'dist/engine.jar', PIPELINE_BUILD_GIT_URL: url });

      // Assess
      expect(noOutput.code).toBe(1);
      expect(noOutput.stdout).toContain('BuildOutputMissing: the build succeeded but made no dist/engine.jar');
      expect(noCommit.code).toBe(1);
      expect(noCommit.stdout).toContain(`BuildSourceUnavailable: could not check out ${missing}`);
      expect(existsSync(marker())).toBe(false);
    });

    it('builds from a source archive in the bucket', async () => {
      // Prepare
      const src = path.join(dir, 'source');
      mkdirSync(src);
      writeFileSync(path.join(src, 'build.sh'), 'mkdir -p out && echo built-from-archive > out/tool.bin\n');
      createTar({ gzip: true, cwd: src, file: path.join(dir, 'source.tar.gz'), sync: true }, ['build.sh']);
      putObject('s3://pipeline-bucket/saturday/sources/tool.tar.gz', readFileSync(path.join(dir, 'source.tar.gz')));

      // Act
      const result = await run('bash build.sh', {
        PIPELINE_BUILD_ARTIFACT_URI: `s3://pipeline-bucket/saturday/artifacts/tool/etag1`,
        PIPELINE_BUILD_VERSION: 'etag1',
        PIPELINE_BUILD_OUTPUT: 'out/tool.bin',
        PIPELINE_BUILD_SOURCE_URI: 's3://pipeline-bucket/saturday/sources/tool.tar.gz',
      });

      // Assess
      expect(result.code).toBe(0);
      expect(readFileSync(path.join(fakeS3, 'pipeline-bucket/saturday/artifacts/tool/etag1'), 'utf8')).toBe('built-from-archive\n');
    });
  });

  it('a checkpoint that cannot be restored is never saved over: the next attempt still finds the saved progress', async () => {
    // Prepare
    const saved = 's3://pipeline-bucket/saturday/checkpoints/2026-05-30/exec-1/DataPhase1/progress';
    putObject(saved, 'step 8');

    // Act: S3 will not list the checkpoint; the workload starts from scratch and writes its own.
    const result = await run('echo "step 1" > "$PIPELINE_CHECKPOINT_DIR/progress"', { FAKE_S3_RESTORE_FAILS: '1', PIPELINE_CHECKPOINT_SYNC_SECONDS: '1' });

    // Assess
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('the checkpoint could not be restored');
    expect(readFileSync(path.join(fakeS3, saved.slice(5)), 'utf8')).toBe('step 8');
  }, 60_000);

  it('the checkpoint directory is uploaded while the workload runs, not only at its end', async () => {
    // Prepare: the workload saves, then looks at the bucket a few sync intervals later, while still running.
    const saved = path.join(fakeS3, 'pipeline-bucket/saturday/checkpoints/2026-05-30/exec-1/DataPhase1/progress');
    const workload = ['echo "step 3" > "$PIPELINE_CHECKPOINT_DIR/progress"', `for i in $(seq 1 100); do [ -f ${saved} ] && break; sleep 0.1; done`, `cat ${saved} > "$PIPELINE_OUTPUT_DIR/seen-while-running" || true`].join('\n');

    // Act
    const result = await run(workload, { PIPELINE_CHECKPOINT_SYNC_SECONDS: '1' });

    // Assess
    expect(result.code).toBe(0);
    expect(readFileSync(path.join(fakeS3, 'pipeline-bucket/saturday/runs/2026-05-30/exec-1/DataPhase1/seen-while-running'), 'utf8')).toBe('step 3\n');
  }, 60_000);
});
