import { MAX_BATCH_CHUNKS } from './stream/chunk-plan';

/** The process environment, or the one a test or the CLI hands loadConfig. */
export type Env = Partial<Record<string, string | undefined>>;

/**
 * What one process runs: `all` (the default) the watcher, the activities and the workflows;
 * `edge`, beside the files, the watcher and the activities of its host queue; `workflow` the
 * workflows only, with no file or bucket access. Edges and workflow processes share one Temporal.
 */
export const ROLES = ['all', 'edge', 'workflow'] as const;
export type Role = (typeof ROLES)[number];

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const AFTER_UPLOAD = ['keep', 'delete'] as const;
export type AfterUpload = (typeof AFTER_UPLOAD)[number];

export const SSE_TYPES = ['AES256', 'aws:kms'] as const;

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

/** A bound the code enforces: `min` to `max` in the variable's own syntax (`1KiB`, `100ms`, `16`), or a list. */
export type Range = { readonly min: string; readonly max?: string } | { readonly oneOf: readonly string[] };

/** One variable, under its name in CONFIG_VARIABLES. */
export interface ConfigVariable {
  /** The text loadConfig parses when the variable is unset or blank; undefined: required. */
  readonly default: string | undefined;
  /** loadConfig checks `min` and `max` from this very entry, and lists are the constants its parsers check. */
  readonly range?: Range;
  readonly meaning: string;
  /** The roles whose processes use it. Every role still validates every variable at start. */
  readonly roles: readonly Role[];
  /** How README.md's configuration table states the default, where it says it in words. */
  readonly readmeDefault?: string;
  /** example.env's value, where example.env deliberately sets something other than the default. */
  readonly exampleEnv?: string;
  /** Compose's in-stack Temporal has no TLS: compose passes none of these, and example.env has them commented out. */
  readonly temporalSecurity?: true;
}

const EVERY_ROLE = ROLES;
/** Variables of the files and the bucket: a workflow process has neither. */
const EDGE: readonly Role[] = ['all', 'edge'];
const PORT = { min: '0', max: '65535' };

/**
 * Every variable the app reads. Credentials are not here: the AWS SDK reads its usual variables
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ...) itself, so they never pass through our code.
 */
export const CONFIG_VARIABLES = {
  ROLE: { default: 'all', range: { oneOf: ROLES }, roles: EVERY_ROLE, meaning: 'What this process runs.' },
  WATCH_DIR: {
    default: './input-videos',
    roles: EDGE,
    meaning: 'Directory watched recursively for the WATCH_PATTERNS files.',
  },
  CHUNK_SIZE: {
    default: '10MiB',
    // A chunk is one object: S3 takes single PUTs up to 5 GiB; below 1 KiB a stream floods the bucket.
    range: { min: '1KiB', max: '5GiB' },
    roles: EDGE,
    meaning: 'Size of each chunk (S3 object), in bytes or with a unit.',
  },
  // Durations stay below Node's timer limit (2^31 ms, about 24.8 days), past which a timer fires at once.
  STREAM_IDLE_TIMEOUT: {
    default: '30s',
    range: { min: '100ms', max: '24h' },
    roles: EDGE,
    meaning: 'A stream ends when its file has not changed for this long.',
  },
  WATCH_COALESCE_INTERVAL: {
    default: '1s',
    range: { min: '10ms', max: '1m' },
    roles: EDGE,
    meaning: 'At most one change signal per file per interval.',
  },
  WATCH_RESCAN_INTERVAL: {
    default: '10s',
    range: { min: '1s', max: '24h' },
    roles: EDGE,
    meaning: 'How often the watched tree is rescanned for changes whose events were lost.',
  },
  UPLOAD_CONCURRENCY: {
    default: '2',
    range: { min: '1', max: String(MAX_BATCH_CHUNKS) },
    roles: EDGE,
    meaning: "Full chunks of one stream's backlog uploaded at once; 1 keeps them in order.",
  },
  MAX_CONCURRENT_UPLOADS: {
    default: '8',
    range: { min: '1', max: '256' },
    roles: EDGE,
    meaning: 'Chunk uploads in flight in this process, over all its streams.',
  },
  UPLOAD_RATE_LIMIT: {
    default: '',
    // Below 1 KiB/s a single chunk would take hours and outlive the activities' timeouts.
    range: { min: '1KiB' },
    roles: EDGE,
    meaning: "Bytes per second for all the process's chunk uploads; empty: no limit.",
    readmeDefault: '(no limit)',
  },
  WATCH_PATTERNS: {
    default: '*.mp4',
    roles: EDGE,
    meaning: 'Comma-separated file-name patterns (`*`, `?`, any case) of the recordings.',
  },
  HOST_ID: {
    default: '',
    roles: EDGE,
    meaning: "Names this host's task queue, where the activities that read its files run; empty: the hostname.",
    readmeDefault: 'the hostname',
  },
  S3_ENDPOINT: {
    default: '',
    roles: EDGE,
    meaning: 'S3-compatible endpoint; empty: AWS itself.',
    readmeDefault: '(AWS)',
    // example.env serves `npm start` on the host against compose's MinIO, as do S3_BUCKET and S3_FORCE_PATH_STYLE.
    exampleEnv: 'http://localhost:9000',
  },
  S3_REGION: { default: 'us-east-1', roles: EDGE, meaning: 'Region.' },
  S3_BUCKET: {
    default: undefined,
    roles: EDGE,
    meaning: 'Bucket the chunks go to; it must exist.',
    readmeDefault: '(required)',
    exampleEnv: 'recordings',
  },
  S3_PREFIX: {
    default: '',
    roles: EDGE,
    meaning: 'Key prefix for every stream; empty: the bucket root.',
    readmeDefault: '(empty)',
  },
  S3_FORCE_PATH_STYLE: {
    default: 'false',
    roles: EDGE,
    meaning: 'Path-style addressing: true for MinIO and most self-hosted S3 servers.',
    exampleEnv: 'true',
  },
  S3_REQUEST_TIMEOUT: {
    default: '30s',
    range: { min: '1s', max: '1h' },
    roles: EDGE,
    meaning: 'A connection to S3 silent this long is dropped and the upload retried.',
  },
  S3_SSE: {
    default: '',
    range: { oneOf: SSE_TYPES },
    roles: EDGE,
    meaning: "Server-side encryption of every object the app writes; empty: the bucket's default.",
    readmeDefault: '(bucket default)',
  },
  S3_SSE_KMS_KEY_ID: {
    default: '',
    roles: EDGE,
    meaning: "With S3_SSE=aws:kms only: the KMS key id, ARN or alias; empty: the account's aws/s3 key.",
    readmeDefault: "(account's `aws/s3` key)",
  },
  S3_STORAGE_CLASS: {
    default: '',
    range: { oneOf: STORAGE_CLASSES },
    roles: EDGE,
    meaning: "Storage class of every object the app writes; empty: the bucket's default.",
    readmeDefault: '(bucket default)',
  },
  TEMPORAL_ADDRESS: { default: 'localhost:7233', roles: EVERY_ROLE, meaning: 'Temporal frontend.' },
  TEMPORAL_NAMESPACE: { default: 'default', roles: EVERY_ROLE, meaning: 'Temporal namespace.' },
  TEMPORAL_TASK_QUEUE: {
    default: 'stream-uploader',
    roles: EVERY_ROLE,
    meaning: 'Task queue of the workflows, shared by every host.',
  },
  TEMPORAL_TLS: {
    default: '',
    roles: EVERY_ROLE,
    meaning: 'TLS to the Temporal frontend; empty: on when any setting below is set.',
    readmeDefault: '`false`, `true` when any setting below is set',
    temporalSecurity: true,
  },
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: {
    default: '',
    roles: EVERY_ROLE,
    meaning: "PEM file of the CA(s) the server's certificate must chain to; empty: the system's CAs.",
    readmeDefault: '(system CAs)',
    temporalSecurity: true,
  },
  TEMPORAL_TLS_SERVER_NAME: {
    default: '',
    roles: EVERY_ROLE,
    meaning: "The name the server's certificate must carry; empty: the host of TEMPORAL_ADDRESS.",
    readmeDefault: 'the host of `TEMPORAL_ADDRESS`',
    temporalSecurity: true,
  },
  TEMPORAL_TLS_CLIENT_CERT_PATH: {
    default: '',
    roles: EVERY_ROLE,
    meaning: "Mutual TLS: PEM file of this client's certificate chain.",
    readmeDefault: '(none)',
    temporalSecurity: true,
  },
  TEMPORAL_TLS_CLIENT_KEY_PATH: {
    default: '',
    roles: EVERY_ROLE,
    meaning: "Mutual TLS: PEM file of this client's unencrypted private key.",
    readmeDefault: '(none)',
    temporalSecurity: true,
  },
  TEMPORAL_API_KEY: {
    default: '',
    roles: EVERY_ROLE,
    meaning: "Temporal Cloud's API key, sent as a bearer token; implies TLS.",
    readmeDefault: '(none)',
    temporalSecurity: true,
  },
  LOG_LEVEL: { default: 'info', range: { oneOf: LOG_LEVELS }, roles: EVERY_ROLE, meaning: 'Log level.' },
  METRICS_HOST: {
    default: '127.0.0.1',
    roles: EVERY_ROLE,
    meaning: 'The IP address both metrics endpoints listen on.',
  },
  METRICS_PORT: {
    default: '9464',
    range: PORT,
    roles: EVERY_ROLE,
    meaning: "The app's Prometheus endpoint, /metrics.",
  },
  TEMPORAL_METRICS_PORT: {
    default: '9465',
    range: PORT,
    roles: EVERY_ROLE,
    meaning: "The Temporal SDK's own worker metrics, /metrics.",
  },
  SHUTDOWN_GRACE_TIME: {
    default: '30s',
    range: { min: '0s', max: '1h' },
    // Only the activities' worker has uploads to wait for.
    roles: EDGE,
    meaning: 'On SIGINT/SIGTERM, how long in-flight uploads may finish before they are handed back.',
  },
  COMPLETION_WEBHOOK_URL: {
    default: '',
    roles: EDGE,
    meaning: "Where each complete stream's final manifest is POSTed; empty: no notification.",
    readmeDefault: '(off)',
  },
  ASSEMBLE: {
    default: 'false',
    roles: EDGE,
    meaning: 'Also compose the whole recording as one object next to the chunks.',
  },
  AFTER_UPLOAD: {
    default: 'keep',
    range: { oneOf: AFTER_UPLOAD },
    roles: EDGE,
    meaning: "What becomes of a recording's file once its stream is complete and checked in the bucket.",
  },
} as const satisfies Record<string, ConfigVariable>;

type Variables = typeof CONFIG_VARIABLES;
export type EnvVar = keyof Variables;
type SecurityVar = { [K in EnvVar]: Variables[K] extends { temporalSecurity: true } ? K : never }[EnvVar];

const NAMES = Object.keys(CONFIG_VARIABLES) as EnvVar[];
const isSecurity = (name: EnvVar): name is SecurityVar => 'temporalSecurity' in CONFIG_VARIABLES[name];

/** The variables compose passes to the app and example.env sets. */
export const ENV_VARS = NAMES.filter((name): name is Exclude<EnvVar, SecurityVar> => !isSecurity(name));

/**
 * A secured Temporal (TLS, mutual TLS, Temporal Cloud's API key): read by every role and the CLI,
 * under the names the official `temporal` CLI reads too.
 */
export const TEMPORAL_SECURITY_ENV_VARS = NAMES.filter(isSecurity);

/**
 * Reads one variable, falling back to its default, and records a problem (naming the variable,
 * never its value) when it is missing or `parse` throws.
 */
export type VariableReader = <T>(name: EnvVar, parse: (text: string, variable: ConfigVariable) => T) => T;
