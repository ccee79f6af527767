import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { TOOLS_BIN, toolPath, type S3Server } from '../../scripts/local-servers';
import { runScript, type ScriptRun } from './temporal-postgres';

const SCRIPT = path.resolve(__dirname, '../../deploy/minio/create-bucket.sh');

/** The S3 credentials of the app's own MinIO user, which the bucket job creates. */
export interface MinioAppUser {
  accessKeyId: string;
  secretAccessKey: string;
}

export function newAppUser(): MinioAppUser {
  return { accessKeyId: `app-${randomBytes(4).toString('hex')}`, secretAccessKey: randomBytes(12).toString('hex') };
}

/**
 * Runs the compose's bucket job (deploy/minio/create-bucket.sh, unchanged) against a test MinIO, as
 * the minio/mc image runs it: `mc` on the PATH (.tools/bin), its configuration in `scratchDir`.
 */
export function runBucketJob(
  minio: S3Server,
  bucket: string,
  user: MinioAppUser,
  scratchDir: string,
): Promise<ScriptRun> {
  toolPath('mc');
  const configDir = path.join(scratchDir, 'mc');
  fs.mkdirSync(configDir, { recursive: true });
  return runScript(SCRIPT, {
    ...process.env,
    PATH: `${TOOLS_BIN}${path.delimiter}${process.env.PATH ?? ''}`,
    MC_CONFIG_DIR: configDir,
    MINIO_URL: minio.endpoint,
    MINIO_ROOT_USER: minio.accessKeyId,
    MINIO_ROOT_PASSWORD: minio.secretAccessKey,
    S3_BUCKET: bucket,
    MINIO_APP_USER: user.accessKeyId,
    MINIO_APP_PASSWORD: user.secretAccessKey,
  });
}
