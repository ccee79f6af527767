import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { toolPath } from '../../scripts/local-servers';
import { type S3Server } from '../../scripts/s3-servers';
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

/** Stands first on the job's PATH as `mc`: logs its arguments, then runs the real one with them. */
const MC_SHIM = ['#!/bin/sh', `printf '%s\\n' "$*" >> "$MC_ARGS_LOG"`, 'exec "$REAL_MC" "$@"', ''].join('\n');

/** A run of the bucket job, and the arguments of every `mc` it ran, one invocation a line. */
export interface BucketJobRun extends ScriptRun {
  mcArgs: string[];
}

/**
 * Runs the compose's bucket job (deploy/minio/create-bucket.sh, unchanged) against a test MinIO, as
 * the minio/mc image runs it: `mc` (.tools/bin's) on the PATH, its configuration in `scratchDir`.
 * That `mc` is reached through a shim that logs its arguments first: what `ps` would show.
 */
export async function runBucketJob(
  minio: S3Server,
  bucket: string,
  user: MinioAppUser,
  scratchDir: string,
): Promise<BucketJobRun> {
  const mc = toolPath('mc');
  const configDir = path.join(scratchDir, 'mc');
  const shimDir = fs.mkdtempSync(path.join(scratchDir, 'mc-shim-'));
  const argsLog = path.join(shimDir, 'args.log');
  fs.writeFileSync(path.join(shimDir, 'mc'), MC_SHIM, { mode: 0o755 });
  fs.writeFileSync(argsLog, '');
  fs.mkdirSync(configDir, { recursive: true });
  const run = await runScript(SCRIPT, {
    ...process.env,
    PATH: `${shimDir}${path.delimiter}${process.env.PATH ?? ''}`,
    MC_CONFIG_DIR: configDir,
    MC_ARGS_LOG: argsLog,
    REAL_MC: mc,
    MINIO_URL: minio.endpoint,
    MINIO_ROOT_USER: minio.accessKeyId,
    MINIO_ROOT_PASSWORD: minio.secretAccessKey,
    S3_BUCKET: bucket,
    MINIO_APP_USER: user.accessKeyId,
    MINIO_APP_PASSWORD: user.secretAccessKey,
  });
  return { ...run, mcArgs: fs.readFileSync(argsLog, 'utf8').split('\n').filter(Boolean) };
}
