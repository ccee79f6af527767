import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import { isIP } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { MAX_BATCH_CHUNKS } from './stream/chunk-plan';
import { MAX_S3_PREFIX_BYTES } from './stream/identity';
import { printable } from './printable';

/**
 * What one process runs: `all` (the default) the watcher, the activities and the workflows;
 * `edge`, beside the files, the watcher and the activities of its host queue; `workflow` the
 * workflows only, with no file or bucket access. Edges and workflow processes share one Temporal.
 */
export const ROLES = ['all', 'edge', 'workflow'] as const;
export type Role = (typeof ROLES)[number];

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

export const AFTER_UPLOAD = ['keep', 'delete'] as const;
export type AfterUpload = (typeof AFTER_UPLOAD)[number];

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

/**
 * The classes whose objects can be read at once: the app reads its manifests and record pages
 * back, and copies its chunks into the assembled object. GLACIER and DEEP_ARCHIVE need a restore.
 */
export const STORAGE_CLASSES = [
  'STANDARD',
  'REDUCED_REDUNDANCY',
  'STANDARD_IA',
  'ONEZONE_IA',
  'INTELLIGENT_TIERING',
  'GLACIER_IR',
] as const;
export type StorageClass = (typeof STORAGE_CLASSES)[number];

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

/** The files of the `TEMPORAL_TLS_*` variables, read and checked at start. */
export interface TemporalTlsConfig {
  /** PEM CA certificates the server's certificate must chain to; absent: the system's roots. */
  serverRootCACertificate?: Buffer;
  /** The name the server's certificate must carry, when it is not the host of TEMPORAL_ADDRESS. */
  serverNameOverride?: string;
  /** Mutual TLS: this client's certificate chain and its private key. */
  clientCertPair?: { crt: Buffer; key: Secret<Buffer> };
}

/**
 * A value that never prints: JSON (pino's logs included), util.inspect, console.log and template
 * strings all show `[redacted]`. Only `reveal()` gives it, to the code that sends it.
 */
export class Secret<T> {
  readonly #value: T;
  constructor(value: T) {
    this.#value = value;
  }
  reveal(): T {
    return this.#value;
  }
  toString(): string {
    return '[redacted]';
  }
  toJSON(): string {
    return '[redacted]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'Secret [redacted]';
  }
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * The variables the app reads. Credentials are not here: the AWS SDK reads its usual variables
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ...) itself, so they never pass through our code.
 */
export const ENV_VARS = [
  'WATCH_DIR',
  'CHUNK_SIZE',
  'STREAM_IDLE_TIMEOUT',
  'WATCH_COALESCE_INTERVAL',
  'WATCH_RESCAN_INTERVAL',
  'UPLOAD_CONCURRENCY',
  'MAX_CONCURRENT_UPLOADS',
  'UPLOAD_RATE_LIMIT',
  'WATCH_PATTERNS',
  'ROLE',
  'HOST_ID',
  'S3_ENDPOINT',
  'S3_REGION',
  'S3_BUCKET',
  'S3_PREFIX',
  'S3_FORCE_PATH_STYLE',
  'S3_REQUEST_TIMEOUT',
  'S3_SSE',
  'S3_SSE_KMS_KEY_ID',
  'S3_STORAGE_CLASS',
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'TEMPORAL_TASK_QUEUE',
  'LOG_LEVEL',
  'METRICS_HOST',
  'METRICS_PORT',
  'TEMPORAL_METRICS_PORT',
  'SHUTDOWN_GRACE_TIME',
  'COMPLETION_WEBHOOK_URL',
  'ASSEMBLE',
  'AFTER_UPLOAD',
] as const;

/**
 * A secured Temporal (TLS, mutual TLS, Temporal Cloud's API key): read by every role and the CLI,
 * under the names the official `temporal` CLI reads too. Not in ENV_VARS: compose's app talks to
 * the stack's own Temporal, which has no TLS, so compose does not pass them.
 */
export const TEMPORAL_SECURITY_ENV_VARS = [
  'TEMPORAL_TLS',
  'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  'TEMPORAL_TLS_SERVER_NAME',
  'TEMPORAL_TLS_CLIENT_CERT_PATH',
  'TEMPORAL_TLS_CLIENT_KEY_PATH',
  'TEMPORAL_API_KEY',
] as const;
export type EnvVar = (typeof ENV_VARS)[number] | (typeof TEMPORAL_SECURITY_ENV_VARS)[number];
export type Env = Partial<Record<string, string | undefined>>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
};

/** Parses `10485760`, `10MiB`, `512 KiB`, `5MB` into bytes. */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = match ? SIZE_UNITS[match[2].toLowerCase()] : undefined;
  if (!match || unit === undefined) {
    throw new Error('is not a size (examples: 10485760, 10MiB, 512KiB, 5MB)');
  }
  const bytes = Math.round(Number(match[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw new Error('is too large');
  return bytes;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses `500ms`, `30s`, `2m`, `1h` (or a bare number of milliseconds) into milliseconds. */
export function parseDuration(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(text);
  if (!match) throw new Error('is not a duration (examples: 500ms, 30s, 2m, 1h)');
  return Math.round(Number(match[1]) * DURATION_UNITS[(match[2] ?? 'ms').toLowerCase()]);
}

export function parseBoolean(text: string): boolean {
  const value = text.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(value)) return true;
  if (['false', '0', 'no', 'off', ''].includes(value)) return false;
  throw new Error('is not a boolean (true or false)');
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('is not a port (0-65535)');
  return port;
}

function parseListenAddress(text: string): string {
  const address = text.trim();
  if (isIP(address) === 0) throw new Error('must be an IP address (127.0.0.1, or 0.0.0.0 for every interface)');
  return address;
}

/**
 * The passwords docker-compose.yml falls back to (`dev-only-*`) and example.env ships
 * (`change-me-*`): anyone who read the repository knows them.
 */
const PUBLISHED_SECRETS: ReadonlySet<string> = new Set([
  'dev-only-minio-password',
  'change-me-minio-password',
  'dev-only-app-password',
  'change-me-app-password',
  'dev-only-postgres-password',
  'change-me-postgres-password',
  'dev-only-grafana-password',
  'change-me-grafana-password',
]);

/**
 * The secret-bearing variables of example.env and the compose files. The app's container sees
 * only AWS_SECRET_ACCESS_KEY (compose passes MINIO_APP_PASSWORD as it); `npm start` on the host
 * reads the whole .env.
 */
const CREDENTIAL_VARS = [
  'AWS_SECRET_ACCESS_KEY',
  'MINIO_APP_PASSWORD',
  'MINIO_ROOT_PASSWORD',
  'POSTGRES_PASSWORD',
  'GRAFANA_ADMIN_PASSWORD',
] as const;

/** The variables of `env` still at a published development password: names only, never values. */
export function developmentCredentials(env: Env): string[] {
  return CREDENTIAL_VARS.filter((name) => PUBLISHED_SECRETS.has(env[name] ?? ''));
}

/** The start-up warning for `developmentCredentials`, for whoever puts the stack on a network unchanged. */
export function developmentCredentialsWarning(variables: readonly string[]): string {
  const compose = variables.includes('AWS_SECRET_ACCESS_KEY')
    ? " (compose passes MINIO_APP_PASSWORD as the app's AWS_SECRET_ACCESS_KEY)"
    : '';
  return `running with the published development passwords of docker-compose.yml or example.env in ${variables.join(', ')}${compose}: change them before the stack is reachable from anywhere else`;
}

function parseCount(max: number): (text: string) => number {
  return (text) => {
    const count = Number(text);
    if (!Number.isInteger(count) || count < 1 || count > max) throw new Error(`is not a whole number from 1 to ${max}`);
    return count;
  };
}

function parseAfterUpload(text: string): AfterUpload {
  const value = text.trim().toLowerCase();
  if (!(AFTER_UPLOAD as readonly string[]).includes(value)) throw new Error(`is not one of ${AFTER_UPLOAD.join(', ')}`);
  return value as AfterUpload;
}

function parseLogLevel(text: string): LogLevel {
  const level = text.trim().toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new Error(`is not one of ${LOG_LEVELS.join(', ')}`);
  }
  return level as LogLevel;
}

/**
 * A duration from `minMs` to `maxMs`, written as the operator wrote it in the error. The maximum
 * keeps every timer below Node's limit (2^31 ms, about 24.8 days), past which a timer fires at once.
 */
function parseDurationWithin(min: string, max: string): (text: string) => number {
  const [minMs, maxMs] = [parseDuration(min), parseDuration(max)];
  return (text) => {
    const ms = parseDuration(text);
    if (ms < minMs || ms > maxMs) throw new Error(`must be from ${min} to ${max}`);
    return ms;
  };
}

/**
 * A PEM file named by a variable, read now: a missing, unreadable or wrong file stops the start
 * with the variable and the path (never the contents) rather than failing at the first connection.
 */
function readPemFile(cwd: string, kind: 'certificate' | 'private key'): (text: string) => Buffer | undefined {
  return (text) => {
    if (text.trim() === '') return undefined;
    const pasted = pastedContents(text);
    if (pasted) throw new Error(`${pasted}: set it to the file's path`);
    const file = path.resolve(cwd, text.trim());
    let pem: Buffer;
    try {
      pem = fs.readFileSync(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new Error(`names ${printable(file)}, which cannot be read${code ? ` (${code})` : ''}`, {
        cause: err,
      });
    }
    const marker = kind === 'certificate' ? /-----BEGIN CERTIFICATE-----/ : /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
    const valid = (() => {
      try {
        if (!marker.test(pem.toString('latin1'))) return false;
        if (kind === 'certificate') new X509Certificate(pem);
        else createPrivateKey(pem);
        return true;
      } catch {
        return false;
      }
    })();
    if (!valid)
      throw new Error(
        `names ${printable(file)}, which is not a PEM ${kind === 'certificate' ? 'certificate' : 'private key (unencrypted)'}`,
      );
    return pem;
  };
}

/**
 * Why `text`, set where a path belongs, is rather a file's contents (a private key, say), which
 * an error must then not echo as it echoes a path.
 */
function pastedContents(text: string): string | undefined {
  const armor = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(text)?.[1];
  if (armor?.includes('PRIVATE KEY')) return 'looks like a PEM private key, not a path';
  if (armor?.includes('CERTIFICATE')) return 'looks like a PEM certificate, not a path';
  if (armor !== undefined) return 'looks like PEM content, not a path';
  if (/[\r\n]/.test(text.trim())) return 'spans several lines, so it is not a path';
  // Base64 key material without its PEM lines: real paths this long have a dot, a dash or the like.
  if (/^[A-Za-z0-9+/]{100,}={0,2}$/.test(text.trim())) return 'looks like base64 key material, not a path';
  return undefined;
}

/** A host name or IP address, as a certificate names it. */
function parseServerName(text: string): string {
  const name = text.trim();
  if (isIP(name) === 0 && !/^(?=.{1,253}$)[A-Za-z0-9_*]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/.test(name))
    throw new Error('is not a host name or IP address');
  return name;
}

/**
 * The lowest UPLOAD_RATE_LIMIT: below it a single chunk would take hours and outlive the
 * activities' timeouts.
 */
const MIN_UPLOAD_RATE = 2 ** 10;

/** `50MB`, `5MiB/s` and the like (a size per second), or empty for no limit. */
function parseRate(text: string): number | undefined {
  if (text.trim() === '') return undefined;
  const bytes = parseSize(text.replace(/\/s\s*$/i, ''));
  if (bytes < MIN_UPLOAD_RATE) throw new Error('must be at least 1KiB (per second), or empty for no limit');
  return bytes;
}

/**
 * Comma-separated file-name patterns: `*` stands for any characters and `?` for one, matched
 * against the name without its folders, whatever the case (`*.mp4` matches `CAM.MP4`).
 */
export function parseWatchPatterns(text: string): string[] {
  const patterns = text
    .split(',')
    .map((pattern) => pattern.trim())
    .filter((pattern) => pattern !== '');
  if (patterns.length === 0) throw new Error('must list at least one file-name pattern (example: *.mp4,*.mov)');
  for (const pattern of patterns) {
    if (pattern.includes('/') || pattern.includes('\\'))
      throw new Error('patterns match file names, not paths: no "/" or "\\" (example: *.mp4,*.mov)');
    if (pattern.startsWith('.'))
      throw new Error(
        'patterns must not start with "." (hidden files are never uploaded; for an extension write *.mkv)',
      );
  }
  return patterns;
}

function parseStorageClass(text: string): StorageClass | undefined {
  const value = text.trim().toUpperCase();
  if (value === '') return undefined;
  if (value === 'GLACIER' || value === 'DEEP_ARCHIVE')
    throw new Error(
      'cannot be GLACIER or DEEP_ARCHIVE: the app reads its manifests back, and those need a restore first (GLACIER_IR can be read at once)',
    );
  if (!(STORAGE_CLASSES as readonly string[]).includes(value))
    throw new Error(`is not one of ${STORAGE_CLASSES.join(', ')}`);
  return value as StorageClass;
}

/** S3_SSE and its KMS key: a key without `aws:kms` would be ignored, so it is an error. */
function readServerSideEncryption(read: Reader, problems: string[]): ServerSideEncryption | undefined {
  const type = read('S3_SSE', '', (t) => {
    const value = t.trim();
    if (value === '') return undefined;
    const known = ['AES256', 'aws:kms'].find((name) => name.toLowerCase() === value.toLowerCase());
    if (!known) throw new Error('is not AES256 (keys managed by S3) or aws:kms (keys in KMS), or empty for none');
    return known as ServerSideEncryption['type'];
  });
  const kmsKeyId = read('S3_SSE_KMS_KEY_ID', '', (t) => {
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
 * A chunk is one object: S3 takes single PUTs up to 5 GiB. Below 1 KiB a stream would be a
 * flood of requests and objects for nothing.
 */
const MIN_CHUNK_SIZE = 2 ** 10;
const MAX_CHUNK_SIZE = 5 * 2 ** 30;

/**
 * Builds the config from an environment, collecting every problem so an operator fixes them all
 * in one go. Never echoes values back: a misplaced secret must not end up in a log.
 */
export function loadConfig(env: Env = process.env, cwd = process.cwd(), { needsBucket = true } = {}): AppConfig {
  const problems: string[] = [];
  function read<T>(name: EnvVar, fallback: string | undefined, parse: (text: string) => T): T {
    const raw = env[name];
    const text = raw === undefined || raw.trim() === '' ? fallback : raw;
    if (text === undefined) {
      problems.push(`${name} is required`);
      return undefined as T;
    }
    try {
      return parse(text);
    } catch (err) {
      // Messages name the variable, never its value: a secret set in the wrong variable stays secret.
      problems.push(`${name} ${err instanceof TypeError && 'input' in err ? 'is not a URL' : (err as Error).message}`);
      return undefined as T;
    }
  }
  const text = (t: string) => t.trim();
  const role = read('ROLE', 'all', (t) => {
    const value = t.trim().toLowerCase();
    if (!(ROLES as readonly string[]).includes(value)) throw new Error(`is not one of ${ROLES.join(', ')}`);
    return value as Role;
  });
  // A workflow process touches neither files nor the bucket.
  const bucketNeeded = needsBucket && role !== 'workflow';
  const hostId = read('HOST_ID', os.hostname(), (t) => {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(t.trim())) throw new Error('must be 1 to 64 letters, digits, ".", "_" or "-"');
    return t.trim();
  });
  const taskQueue = read('TEMPORAL_TASK_QUEUE', 'stream-uploader', (t) => {
    const name = t.trim();
    // It goes into visibility queries and the task queue names of every host.
    if (name.length > 200 || [...name].some((c) => c < ' ' || c === '\x7f'))
      throw new Error('must be 1 to 200 printable characters');
    return name;
  });

  const security = readTemporalSecurity(env, cwd, read, problems);

  const config: AppConfig = {
    role,
    watchDir: read('WATCH_DIR', './input-videos', (t) => path.resolve(cwd, t)),
    chunkSize: read('CHUNK_SIZE', '10MiB', (t) => {
      const size = parseSize(t);
      if (size < MIN_CHUNK_SIZE || size > MAX_CHUNK_SIZE) throw new Error('must be from 1KiB to 5GiB');
      return size;
    }),
    streamIdleTimeoutMs: read('STREAM_IDLE_TIMEOUT', '30s', parseDurationWithin('100ms', '24h')),
    watchCoalesceIntervalMs: read('WATCH_COALESCE_INTERVAL', '1s', parseDurationWithin('10ms', '1m')),
    watchRescanIntervalMs: read('WATCH_RESCAN_INTERVAL', '10s', parseDurationWithin('1s', '24h')),
    uploadConcurrency: read('UPLOAD_CONCURRENCY', '2', parseCount(MAX_BATCH_CHUNKS)),
    maxConcurrentUploads: read('MAX_CONCURRENT_UPLOADS', '8', parseCount(256)),
    uploadRateLimit: read('UPLOAD_RATE_LIMIT', '', parseRate),
    watchPatterns: read('WATCH_PATTERNS', '*.mp4', parseWatchPatterns),
    hostId,
    s3: {
      endpoint: read('S3_ENDPOINT', '', (t) => {
        if (t === '') return undefined;
        const url = new URL(t);
        if (url.username || url.password)
          throw new Error('must not carry credentials; use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY');
        return url.toString().replace(/\/$/, '');
      }),
      region: read('S3_REGION', 'us-east-1', text),
      // The CLI's commands but `chunks` use Temporal only: they run without a bucket configured.
      bucket: read('S3_BUCKET', bucketNeeded ? undefined : '', (t) => {
        if (t === '' && !bucketNeeded) return '';
        if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(t.trim()))
          throw new Error('is not a valid bucket name (3 to 63 lowercase letters, digits, "." or "-")');
        return t.trim();
      }),
      prefix: read('S3_PREFIX', '', (t) => {
        const prefix = t.trim().replace(/^\/+|\/+$/g, '');
        if (Buffer.byteLength(prefix) > MAX_S3_PREFIX_BYTES)
          throw new Error(`must be at most ${MAX_S3_PREFIX_BYTES} bytes`);
        return prefix;
      }),
      forcePathStyle: read('S3_FORCE_PATH_STYLE', 'false', parseBoolean),
      requestTimeoutMs: read('S3_REQUEST_TIMEOUT', '30s', parseDurationWithin('1s', '1h')),
      sse: readServerSideEncryption(read, problems),
      storageClass: read('S3_STORAGE_CLASS', '', parseStorageClass),
    },
    temporal: {
      address: read('TEMPORAL_ADDRESS', 'localhost:7233', text),
      namespace: read('TEMPORAL_NAMESPACE', 'default', text),
      taskQueue,
      fileTaskQueue: `${taskQueue}@${hostId}`,
      ...security,
    },
    logLevel: read('LOG_LEVEL', 'info', parseLogLevel),
    metricsHost: read('METRICS_HOST', '127.0.0.1', parseListenAddress),
    metricsPort: read('METRICS_PORT', '9464', parsePort),
    temporalMetricsPort: read('TEMPORAL_METRICS_PORT', '9465', parsePort),
    shutdownGraceTimeMs: read('SHUTDOWN_GRACE_TIME', '30s', parseDurationWithin('0s', '1h')),
    completionWebhookUrl: read('COMPLETION_WEBHOOK_URL', '', (t) => {
      if (t.trim() === '') return undefined;
      const url = new URL(t.trim());
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('must be an http(s) URL');
      return url.toString();
    }),
    assemble: read('ASSEMBLE', 'false', parseBoolean),
    afterUpload: read('AFTER_UPLOAD', 'keep', parseAfterUpload),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

type Reader = <T>(name: EnvVar, fallback: string | undefined, parse: (text: string) => T) => T;

/**
 * TLS (a CA, a server name), mutual TLS (a client certificate and its key) and an API key. Any of
 * them turns TLS on unless TEMPORAL_TLS says otherwise, which is then an error: a certificate
 * would be ignored, an API key sent in the clear.
 */
function readTemporalSecurity(
  env: Env,
  cwd: string,
  read: Reader,
  problems: string[],
): Pick<TemporalConfig, 'tls' | 'apiKey'> {
  const isSet = (name: EnvVar) => (env[name] ?? '').trim() !== '';
  const tlsFlag = read('TEMPORAL_TLS', '', (t) => (t.trim() === '' ? undefined : parseBoolean(t)));
  const ca = read('TEMPORAL_TLS_SERVER_CA_CERT_PATH', '', readPemFile(cwd, 'certificate'));
  const serverName = read('TEMPORAL_TLS_SERVER_NAME', '', (t) => (t.trim() === '' ? undefined : parseServerName(t)));
  const crt = read('TEMPORAL_TLS_CLIENT_CERT_PATH', '', readPemFile(cwd, 'certificate'));
  const key = read('TEMPORAL_TLS_CLIENT_KEY_PATH', '', readPemFile(cwd, 'private key'));
  const apiKey = read('TEMPORAL_API_KEY', '', (t) => {
    const value = t.trim();
    if (value === '') return undefined;
    // It goes into an HTTP/2 header.
    if (!/^[\x21-\x7e]+$/.test(value)) throw new Error('must be printable ASCII without spaces');
    return new Secret(value);
  });

  if (isSet('TEMPORAL_TLS_CLIENT_CERT_PATH') !== isSet('TEMPORAL_TLS_CLIENT_KEY_PATH')) {
    problems.push(
      'TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH go together: set both (mutual TLS) or neither',
    );
  } else if (crt && key && !certificateMatchesKey(crt, key)) {
    problems.push("TEMPORAL_TLS_CLIENT_KEY_PATH is not the private key of TEMPORAL_TLS_CLIENT_CERT_PATH's certificate");
  }
  const implyingTls = TEMPORAL_SECURITY_ENV_VARS.filter((name) => name !== 'TEMPORAL_TLS' && isSet(name));
  if (tlsFlag === false && implyingTls.length > 0)
    problems.push(`TEMPORAL_TLS is false, but ${implyingTls.join(', ')} need TLS: unset them or TEMPORAL_TLS`);
  if (!(tlsFlag ?? implyingTls.length > 0)) return {};
  const tls: TemporalTlsConfig = {
    ...(ca && { serverRootCACertificate: ca }),
    ...(serverName && { serverNameOverride: serverName }),
    ...(crt && key && { clientCertPair: { crt, key: new Secret(key) } }),
  };
  return { tls, ...(apiKey && { apiKey }) };
}

function certificateMatchesKey(crt: Buffer, key: Buffer): boolean {
  try {
    const privateKey: KeyObject = createPrivateKey(key);
    return new X509Certificate(crt).checkPrivateKey(privateKey);
  } catch {
    return false;
  }
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
