/**
 * What an instance looks like to the runner in the tests that run it under bash: a stub `aws`
 * command over a directory-backed S3 and Parameter Store, and a fake instance metadata service on
 * 127.0.0.1 that answers IMDSv2 as EC2 does (a session token from PUT /latest/api/token;
 * spot/instance-action 404 until the notice, then 200; anything without the token 401).
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import * as path from 'node:path';

export const RUNNER = path.join(__dirname, '..', '..', 'instance', 'pipeline-runner.sh');

/** A stub of the AWS CLI: logs each call, copies between the fake S3 ($FAKE_S3/<bucket>/<key>) and disk. */
export const AWS_STUB = `#!/usr/bin/env bash
set -eu
printf '%s\\n' "$*" >> "$AWS_CALLS"
s3path() { local u="\${1#s3://}"; printf '%s/%s' "$FAKE_S3" "$u"; }
case "$1 $2" in
  "s3 cp")
    shift 2; meta=""
    while [ "\${1#--}" != "$1" ]; do case "$1" in --metadata) meta="$2"; shift 2 ;; *) shift ;; esac; done
    if [ "\${1#s3://}" != "$1" ]; then
      src="$(s3path "$1")"; [ -f "$src" ] || { echo "fatal error: An error occurred (404) when calling the HeadObject operation: Not Found" >&2; exit 1; }
      cp "$src" "$2"
    else
      [ -z "\${FAKE_S3_READONLY:-}" ] || { echo "upload failed: An error occurred (AccessDenied) when calling the PutObject operation" >&2; exit 1; }
      dst="$(s3path "$2")"; mkdir -p "$(dirname "$dst")"; cp "$1" "$dst"; [ -z "$meta" ] || printf '%s' "$meta" > "$dst.metadata"
    fi ;;
  "s3 sync")
    shift 2; [ "$1" = --only-show-errors ] && shift
    if [ "\${1#s3://}" != "$1" ]; then [ -z "\${FAKE_S3_RESTORE_FAILS:-}" ] || { echo "download failed: An error occurred (SlowDown) when calling the ListObjectsV2 operation" >&2; exit 1; }
      src="$(s3path "$1")"; mkdir -p "$2"; [ -d "$src" ] && cp -R "$src/." "$2/"; exit 0
    else [ -z "\${FAKE_S3_READONLY:-}" ] || { echo "upload failed: An error occurred (AccessDenied) when calling the PutObject operation" >&2; exit 1; }
      dst="$(s3path "$2")"; mkdir -p "$dst"; cp -R "$1/." "$dst/"; fi ;;
  "ssm get-parameter")
    while [ "$#" -gt 0 ]; do [ "$1" = --name ] && name="$2"; shift; done
    [ -f "$FAKE_SSM/\${name#/}" ] || { echo "An error occurred (ParameterNotFound) when calling the GetParameter operation" >&2; exit 254; }
    cat "$FAKE_SSM/\${name#/}" ;;
  "secretsmanager get-secret-value")
    while [ "$#" -gt 0 ]; do [ "$1" = --secret-id ] && name="$2"; shift; done
    [ -f "$FAKE_SSM/sm-$name" ] || { echo "An error occurred (AccessDeniedException) when calling the GetSecretValue operation" >&2; exit 254; }
    cat "$FAKE_SSM/sm-$name" ;;
  *) echo "aws stub: unexpected call: $*" >&2; exit 2 ;;
esac
`;

/** Put an object in the fake S3 (`<fakeS3>/<bucket>/<key>`). */
export function putFakeObject(fakeS3: string, uri: string, data: Buffer | string): void {
  const file = path.join(fakeS3, uri.replace(/^s3:\/\//, ''));
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, data);
}

/** Put the stub on a PATH directory: `<dir>/aws`. */
export function installAwsStub(binDir: string): void {
  mkdirSync(binDir, { recursive: true });
  writeFileSync(path.join(binDir, 'aws'), AWS_STUB);
  chmodSync(path.join(binDir, 'aws'), 0o755);
}

/** A fake instance metadata service; `noticeNow()` says whether the spot notice is up at each request. */
export async function startFakeImds(noticeNow: () => boolean): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    if (req.method === 'PUT' && req.url === '/latest/api/token') {
      res.end('token-123');
    } else if (req.url === '/latest/meta-data/spot/instance-action' && req.headers['x-aws-ec2-metadata-token'] === 'token-123') {
      const noticed = noticeNow();
      res.statusCode = noticed ? 200 : 404;
      res.end(noticed ? '{"action": "terminate", "time": "2026-05-30T10:02:00Z"}' : 'Not Found');
    } else {
      res.statusCode = 401;
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
