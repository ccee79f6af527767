import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { toolPath } from '../../scripts/local-servers';
import { s3ClientFor, startMinio, type S3Server } from '../../scripts/s3-servers';
import { newAppUser, runBucketJob, type BucketJobRun } from '../support/minio-bucket-job';
import { tempDir } from '../support/stack';

const FIRST_BUCKET = 'recordings';
const SECOND_BUCKET = 'recordings-moved';
const SRC = path.resolve(__dirname, '..', '..', 'src');

/**
 * The S3 action each call the app makes needs (UploadPartCopy also reads its source, a chunk of the
 * same bucket: s3:GetObject, which GetObject needs anyway). A call not listed here fails the test:
 * its action belongs in deploy/minio/create-bucket.sh's policy, and here.
 */
const ACTION_OF_CALL: Record<string, string> = {
  ListObjectsV2: 's3:ListBucket',
  GetObject: 's3:GetObject',
  HeadObject: 's3:GetObject',
  PutObject: 's3:PutObject',
  CreateMultipartUpload: 's3:PutObject',
  UploadPart: 's3:PutObject',
  UploadPartCopy: 's3:PutObject',
  CompleteMultipartUpload: 's3:PutObject',
  DeleteObjects: 's3:DeleteObject',
  AbortMultipartUpload: 's3:AbortMultipartUpload',
};

/** The S3 calls the app's code makes: every `new <Call>Command(` under src. */
function appS3Calls(): Set<string> {
  const calls = new Set<string>();
  for (const file of fs.readdirSync(SRC, { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.ts')) continue;
    for (const [, call] of fs.readFileSync(path.join(SRC, file), 'utf8').matchAll(/new (\w+)Command\(/g))
      calls.add(call);
  }
  return calls;
}

/**
 * The compose's bucket job (deploy/minio/create-bucket.sh) against a real MinIO, with the `mc`
 * the tests install: run twice for one bucket, then again for another.
 */
describe("the compose's MinIO bucket job", () => {
  let minio: S3Server;
  let s3: S3Client;
  let workDir: string;
  const user = newAppUser();
  const runs: BucketJobRun[] = [];

  /** `mc` as the root, through the alias the job left in its configuration. */
  const mcAsRoot = (...args: string[]) =>
    execFileSync(toolPath('mc'), [...args, '--json'], {
      encoding: 'utf8',
      env: { ...process.env, MC_CONFIG_DIR: path.join(workDir, 'mc') },
    });

  before(async () => {
    minio = await startMinio();
    s3 = s3ClientFor(minio);
    workDir = tempDir('bucket-job');
    for (const bucket of [FIRST_BUCKET, FIRST_BUCKET, SECOND_BUCKET])
      runs.push(await runBucketJob(minio, bucket, user, workDir));
  });
  after(async () => {
    s3?.destroy();
    await minio?.stop();
  });

  test('every run succeeds, and no mc it runs has a password among its arguments (`ps` shows them)', () => {
    runs.forEach((run, i) => assert.equal(run.status, 0, `run ${i + 1}:\n${run.output}`));
    for (const run of runs) {
      assert.ok(
        run.mcArgs.some((args) => args.startsWith('alias set local')),
        `the shim saw mc's runs: ${run.mcArgs.join('\n')}`,
      );
      for (const args of run.mcArgs) {
        assert.ok(!args.includes(minio.secretAccessKey), `the root password in: mc ${args}`);
        assert.ok(!args.includes(user.secretAccessKey), `the app's password in: mc ${args}`);
      }
    }
  });

  test('the policy allows exactly the actions of the S3 calls the app makes', () => {
    const calls = appS3Calls();
    const unknown = [...calls].filter((call) => !(call in ACTION_OF_CALL));
    assert.deepEqual(unknown, [], 'S3 calls of the app that the policy was not checked for');
    const needed = new Set([...calls].map((call) => ACTION_OF_CALL[call]));
    const info = JSON.parse(mcAsRoot('admin', 'policy', 'info', 'local', `stream-uploader-${SECOND_BUCKET}`)) as {
      policyInfo: { Policy: { Statement: Array<{ Action: string[]; Resource: string[] }> } };
    };
    const statements = info.policyInfo.Policy.Statement;
    const granted = new Set(statements.flatMap((statement) => statement.Action));
    assert.deepEqual([...granted].sort(), [...needed].sort());
    const resources = new Set(statements.flatMap((statement) => statement.Resource));
    assert.deepEqual(
      [...resources].sort(),
      [`arn:aws:s3:::${SECOND_BUCKET}`, `arn:aws:s3:::${SECOND_BUCKET}/*`],
      'its bucket only',
    );
  });

  test('a run with another S3_BUCKET leaves only its policy attached: the user has the new bucket, not the old one', async () => {
    const info = JSON.parse(mcAsRoot('admin', 'user', 'info', 'local', user.accessKeyId)) as { policyName: string };
    assert.equal(info.policyName, `stream-uploader-${SECOND_BUCKET}`);

    await s3.send(new PutObjectCommand({ Bucket: FIRST_BUCKET, Key: 'left', Body: 'from before the move' }));
    const asApp = s3ClientFor({ ...minio, ...user });
    try {
      await asApp.send(new PutObjectCommand({ Bucket: SECOND_BUCKET, Key: 'probe', Body: 'x' }));
      await asApp.send(new GetObjectCommand({ Bucket: SECOND_BUCKET, Key: 'probe' }));
      await asApp.send(new ListObjectsV2Command({ Bucket: SECOND_BUCKET }));
      await asApp.send(new DeleteObjectCommand({ Bucket: SECOND_BUCKET, Key: 'probe' }));

      const denied = (what: string, attempt: Promise<unknown>) =>
        assert.rejects(attempt, { name: 'AccessDenied' }, `the app's user may no longer ${what} its old bucket`);
      await denied('read', asApp.send(new GetObjectCommand({ Bucket: FIRST_BUCKET, Key: 'left' })));
      await denied('list', asApp.send(new ListObjectsV2Command({ Bucket: FIRST_BUCKET })));
      await denied('write', asApp.send(new PutObjectCommand({ Bucket: FIRST_BUCKET, Key: 'x', Body: 'x' })));
    } finally {
      asApp.destroy();
    }
  });
});
