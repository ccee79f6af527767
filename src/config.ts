import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  parseBoolean,
  parseCount,
  parseDurationWithin,
  parseListenAddress,
  parseOneOf,
  parsePort,
  parseRate,
  parseSizeWithin,
  parseStorageClass,
  parseWatchPatterns,
} from './config-parsers';
import {
  AFTER_UPLOAD,
  CONFIG_VARIABLES,
  LOG_LEVELS,
  ROLES,
  SSE_TYPES,
  type AfterUpload,
  type ConfigVariable,
  type Env,
  type EnvVar,
  type LogLevel,
  type Role,
  type StorageClass,
  type VariableReader,
} from './config-variables';
import type { Secret } from './secret';
import { MAX_S3_PREFIX_BYTES } from './stream/identity';
import { readTemporalSecurity, type TemporalTlsConfig } from './temporal-security-config';

export { parseBoolean, parseDuration, parseSize, parseWatchPatterns } from './config-parsers';
export {
  AFTER_UPLOAD,
  ENV_VARS,
  LOG_LEVELS,
  ROLES,
  STORAGE_CLASSES,
  TEMPORAL_SECURITY_ENV_VARS,
  type AfterUpload,
  type Env,
  type EnvVar,
  type LogLevel,
  type Role,
  type StorageClass,
} from './config-variables';
export { developmentCredentials, developmentCredentialsWarning } from './development-credentials';
export { Secret } from './secret';
export type { TemporalTlsConfig } from './temporal-security-config';

/** Everything the app reads from its environment, validated once at start-up. */
export interface AppConfig {
  role: Role;
  watchDir: string;
  chunkSize: number;
  streamIdleTimeoutMs: number;
  watchCoalesceIntervalMs: number;
  /** How often the watched tree is rescanned for changes whose events were lost. */
  watchRescanIntervalMs: number;
  /** Full chunks of one stream's backlog uploaded at once; 1 keeps them in order. */
  uploadConcurrency: number;
  /** Chunk uploads in flight in this process, over all its streams. */
  maxConcurrentUploads: number;
  /** Bytes per second of chunk uploads for the whole process; absent: no limit. */
  uploadRateLimit?: number;
  /** File-name patterns (`*.mp4`) of the recordings to upload; a file matching any of them is one. */
  watchPatterns: string[];
  /** Names this host's task queue, where the activities that read its files run. */
  hostId: string;
  s3: S3Config;
  temporal: TemporalConfig;
  logLevel: LogLevel;
  /** The address the metrics endpoints listen on: loopback unless the operator says otherwise. */
  metricsHost: string;
  metricsPort: number;
  temporalMetricsPort: number;
  shutdownGraceTimeMs: number;
  /** Where the final manifest of each complete stream is POSTed; unset: no notification. */
  completionWebhookUrl?: string;
  /** Also compose the whole recording as one object next to the chunks. */
  assemble: boolean;
  /** What becomes of a recording's file once its stream is complete and checked in the bucket. */
  afterUpload: AfterUpload;
}

export interface S3Config {
  /** Empty for AWS itself. */
  endpoint?: string;
  region: string;
  bucket: string;
  /** Without leading or trailing slashes; empty puts streams at the bucket's root. */
  prefix: string;
  forcePathStyle: boolean;
  /** A connection silent this long is given up and the upload retried. */
  requestTimeoutMs: number;
  /** Server-side encryption of every object the app writes; absent: the bucket's default. */
  sse?: ServerSideEncryption;
  /** The storage class of every object the app writes; absent: the bucket's default (STANDARD). */
  storageClass?: StorageClass;
}

export type ServerSideEncryption = { type: 'AES256' } | { type: 'aws:kms'; kmsKeyId?: string };

export interface TemporalConfig {
  address: string;
  namespace: string;
  /** The workflows' task queue, shared by every host. */
  taskQueue: string;
  /** This host's task queue: the activities that read its files. */
  fileTaskQueue: string;
  /** TLS to the frontend; absent: plain TCP. */
  tls?: TemporalTlsConfig;
  /** Temporal Cloud's API key, sent as a bearer token (over TLS only). */
  apiKey?: Secret<string>;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Builds the config from an environment, collecting every problem so an operator fixes them all
 * in one go. Never echoes values back: a misplaced secret must not end up in a log. Each
 * variable's default and range come from its entry in CONFIG_VARIABLES.
 */
export function loadConfig(env: Env = process.env, cwd = process.cwd(), { needsBucket = true } = {}): AppConfig {
  const problems: string[] = [];
  function readWith<T>(
    name: EnvVar,
    fallback: string | undefined,
    parse: (text: string, variable: ConfigVariable) => T,
  ): T {
    const raw = env[name];
    const text = raw === undefined || raw.trim() === '' ? fallback : raw;
    if (text === undefined) {
      problems.push(`${name} is required`);
      return undefined as T;
    }
    try {
      return parse(text, CONFIG_VARIABLES[name]);
    } catch (err) {
      // Messages name the variable, never its value: a secret set in the wrong variable stays secret.
      const reason = err instanceof TypeError && 'input' in err ? 'is not a URL' : (err as Error).message;
      problems.push(`${name} ${reason}`);
      return undefined as T;
    }
  }
  const read: VariableReader = (name, parse) => readWith(name, CONFIG_VARIABLES[name].default, parse);
  const text = (t: string) => t.trim();

  const role = read('ROLE', parseOneOf(ROLES));
  // A workflow process touches neither files nor the bucket.
  const bucketNeeded = needsBucket && role !== 'workflow';
  const hostId = read('HOST_ID', (t) => {
    const id = t.trim() || os.hostname();
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) throw new Error('must be 1 to 64 letters, digits, ".", "_" or "-"');
    return id;
  });
  const taskQueue = read('TEMPORAL_TASK_QUEUE', (t) => {
    const name = t.trim();
    // It goes into visibility queries and the task queue names of every host.
    if (name.length > 200 || [...name].some((c) => c < ' ' || c === '\x7f'))
      throw new Error('must be 1 to 200 printable characters');
    return name;
  });

  const security = readTemporalSecurity(env, cwd, read, problems);

  const config: AppConfig = {
    role,
    watchDir: read('WATCH_DIR', (t) => path.resolve(cwd, t)),
    chunkSize: read('CHUNK_SIZE', parseSizeWithin),
    streamIdleTimeoutMs: read('STREAM_IDLE_TIMEOUT', parseDurationWithin),
    watchCoalesceIntervalMs: read('WATCH_COALESCE_INTERVAL', parseDurationWithin),
    watchRescanIntervalMs: read('WATCH_RESCAN_INTERVAL', parseDurationWithin),
    uploadConcurrency: read('UPLOAD_CONCURRENCY', parseCount),
    maxConcurrentUploads: read('MAX_CONCURRENT_UPLOADS', parseCount),
    uploadRateLimit: read('UPLOAD_RATE_LIMIT', parseRate),
    watchPatterns: read('WATCH_PATTERNS', parseWatchPatterns),
    hostId,
    s3: {
      endpoint: read('S3_ENDPOINT', (t) => {
        if (t === '') return undefined;
        const url = new URL(t);
        if (url.username || url.password)
          throw new Error('must not carry credentials; use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY');
        return url.toString().replace(/\/$/, '');
      }),
      region: read('S3_REGION', text),
      // Required only where it is used: the CLI's commands but `chunks` use Temporal only.
      bucket: readWith('S3_BUCKET', bucketNeeded ? CONFIG_VARIABLES.S3_BUCKET.default : '', (t) => {
        if (t === '' && !bucketNeeded) return '';
        if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(t.trim()))
          throw new Error('is not a valid bucket name (3 to 63 lowercase letters, digits, "." or "-")');
        return t.trim();
      }),
      prefix: read('S3_PREFIX', (t) => {
        const prefix = t.trim().replace(/^\/+|\/+$/g, '');
        if (Buffer.byteLength(prefix) > MAX_S3_PREFIX_BYTES)
          throw new Error(`must be at most ${MAX_S3_PREFIX_BYTES} bytes`);
        return prefix;
      }),
      forcePathStyle: read('S3_FORCE_PATH_STYLE', parseBoolean),
      requestTimeoutMs: read('S3_REQUEST_TIMEOUT', parseDurationWithin),
      sse: readServerSideEncryption(read, problems),
      storageClass: read('S3_STORAGE_CLASS', parseStorageClass),
    },
    temporal: {
      address: read('TEMPORAL_ADDRESS', text),
      namespace: read('TEMPORAL_NAMESPACE', text),
      taskQueue,
      fileTaskQueue: `${taskQueue}@${hostId}`,
      ...security,
    },
    logLevel: read('LOG_LEVEL', parseOneOf(LOG_LEVELS)),
    metricsHost: read('METRICS_HOST', parseListenAddress),
    metricsPort: read('METRICS_PORT', parsePort),
    temporalMetricsPort: read('TEMPORAL_METRICS_PORT', parsePort),
    shutdownGraceTimeMs: read('SHUTDOWN_GRACE_TIME', parseDurationWithin),
    completionWebhookUrl: read('COMPLETION_WEBHOOK_URL', (t) => {
      if (t.trim() === '') return undefined;
      const url = new URL(t.trim());
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('must be an http(s) URL');
      return url.toString();
    }),
    assemble: read('ASSEMBLE', parseBoolean),
    afterUpload: read('AFTER_UPLOAD', parseOneOf(AFTER_UPLOAD)),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** S3_SSE and its KMS key: a key without `aws:kms` would be ignored, so it is an error. */
function readServerSideEncryption(read: VariableReader, problems: string[]): ServerSideEncryption | undefined {
  const type = read('S3_SSE', (t) => {
    const value = t.trim();
    if (value === '') return undefined;
    const known = SSE_TYPES.find((name) => name.toLowerCase() === value.toLowerCase());
    if (!known) throw new Error('is not AES256 (keys managed by S3) or aws:kms (keys in KMS), or empty for none');
    return known;
  });
  const kmsKeyId = read('S3_SSE_KMS_KEY_ID', (t) => {
    const value = t.trim();
    if (value === '') return undefined;
    if (!/^[\x21-\x7e]{1,2048}$/.test(value))
      throw new Error('must be printable ASCII without spaces (a KMS key id, ARN or alias)');
    return value;
  });
  if (kmsKeyId !== undefined && type !== 'aws:kms') {
    problems.push('S3_SSE_KMS_KEY_ID is set, but S3_SSE is not aws:kms: set S3_SSE=aws:kms or unset the key id');
    return undefined;
  }
  if (type === 'aws:kms') return kmsKeyId === undefined ? { type } : { type, kmsKeyId };
  return type === 'AES256' ? { type } : undefined;
}

/**
 * Reads `KEY=value` lines from a `.env` file into `env`, never overriding what the environment
 * already sets (the process environment wins, as with docker compose).
 */
export function loadDotEnv(file: string, env: NodeJS.ProcessEnv = process.env): void {
  if (!fs.existsSync(file)) return;
  for (const line of fs.readFileSync(file, 'utf8').split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match || line.trim().startsWith('#')) continue;
    const value = match[2].replace(/^(['"])(.*)\1$/, '$2');
    if (env[match[1]] === undefined) env[match[1]] = value;
  }
}
