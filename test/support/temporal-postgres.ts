import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { Connection, type TLSConfig } from '@temporalio/client';
import YAML from 'yaml';
import { freePort, retryPortClash, supervise, toolPath, TOOLS_BIN, type Supervised } from '../../scripts/local-servers';

/**
 * The production deployment without Docker: PostgreSQL from Debian, the Temporal server built from
 * its Go module (both installed by scripts/install-tools.sh), set up by the compose's own one-shot
 * scripts (deploy/temporal/scripts), run unchanged.
 */

const ROOT = path.resolve(__dirname, '..', '..');
const SCRIPTS = path.join(ROOT, 'deploy', 'temporal', 'scripts');
const SERVER_DIR = path.join(ROOT, '.tools', 'temporal-server');
const DYNAMIC_CONFIG = path.join(ROOT, 'deploy', 'temporal', 'dynamicconfig', 'development-sql.yaml');
const CONFIG_ENV = 'development-postgres12';
const INSTALL_HINT = 'run `npm run setup` (scripts/install-tools.sh) to install it';
const DB_USER = 'temporal';
/** The server's default services and the internal-frontend, which only authorization needs. */
const SERVICES = ['frontend', 'internal-frontend', 'history', 'matching', 'worker'];

/**
 * TLS on the frontend (internode traffic stays plain, on loopback). The server's own system
 * workers reach the frontend as any client does, so they get the client certificate and the CA
 * (with authorization, they reach an internal-frontend instead, see `writeServerConfig`).
 */
export interface FrontendTls {
  /** The CA that signed the server's certificate and, for mutual TLS, the clients'. */
  caFile: string;
  /** The frontend's certificate and key (PEM). */
  certFile: string;
  keyFile: string;
  /** The name the server's certificate carries. */
  serverName: string;
  /** A client certificate and key signed by `caFile`: the system workers' and this helper's. */
  clientCertFile: string;
  clientKeyFile: string;
  /** Mutual TLS: the frontend refuses a client without a certificate signed by `caFile`. */
  requireClientAuth: boolean;
}

/**
 * Authorization on the frontend: the server's default JWT claim mapper and default authorizer,
 * which take `Authorization: Bearer <JWT>` (what the SDK's `apiKey` and the CLIs'
 * TEMPORAL_API_KEY send) signed by a key of `jwksFile`, with the roles its `permissions` claim
 * grants (`<namespace>:admin`, `temporal-system:admin`...). PermissionDenied: any call with a
 * token it cannot verify, and, without a token or the role, any but the health checks
 * (GetSystemInfo included). Needs `frontendTls`: the app sends an API key only over TLS.
 */
export interface FrontendAuthorization {
  /** The JSON Web Key Set (public keys, each with its `kid`) the server checks tokens against. */
  jwksFile: string;
  /** A JWT the server accepts, with `temporal-system:admin` (creating a namespace needs it): this helper's, create-namespace.sh's and `clientEnv`'s. */
  apiKey: string;
}

/** A one-shot script's run: its exit status and what it printed (stdout and stderr interleaved). */
export interface ScriptRun {
  status: number | null;
  output: string;
}

export interface ProductionTemporal {
  address: string;
  namespace: string;
  port: number;
  postgresPort: number;
  /**
   * TEMPORAL_ADDRESS and, with frontend TLS, the TEMPORAL_TLS_* variables (client certificate
   * included) and, with authorization, TEMPORAL_API_KEY, that the app, its CLI and the official
   * `temporal` CLI all read.
   */
  clientEnv: Record<string, string>;
  /** The options of `Connection.connect` that reach this server. */
  connectionOptions: { address: string; tls?: TLSConfig; apiKey?: string };
  /** The server's log (stdout and stderr). */
  logFile: string;
  /** deploy/temporal/scripts/setup-postgres.sh, run twice before the server started. */
  setupRuns: ScriptRun[];
  /** deploy/temporal/scripts/create-namespace.sh, run twice once the server answered. */
  namespaceRuns: ScriptRun[];
  /** Kills the server process with `signal` (SIGKILL: no shutdown at all), leaving PostgreSQL up. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the killed server again on the same ports with the same config, and waits until it serves the namespace. */
  start(): Promise<void>;
  /** Server, then PostgreSQL; removes their directories. */
  stop(): Promise<void>;
}

/** The newest PostgreSQL server binaries of Debian's package (/usr/lib/postgresql/<major>/bin). */
function postgresBin(): string {
  const base = '/usr/lib/postgresql';
  const majors = fs.existsSync(base)
    ? fs
        .readdirSync(base)
        .filter((major) => fs.existsSync(path.join(base, major, 'bin', 'pg_ctl')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (majors.length === 0) throw new Error(`PostgreSQL (initdb, pg_ctl) not found under ${base}: ${INSTALL_HINT}`);
  return path.join(base, majors[0], 'bin');
}

function requireOnPath(name: string, env: NodeJS.ProcessEnv): void {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { env, encoding: 'utf8' }).stdout.trim();
  if (!found) throw new Error(`${name} is not on PATH: ${INSTALL_HINT}`);
}

/** Runs a command to its end (bounded), as `user` when given; throws with its output when it fails. */
function runAs(user: string | null, command: string, args: string[], timeoutMs = 60_000): string {
  const [file, argv] = user ? ['runuser', ['-u', user, '--', command, ...args]] : [command, args];
  const run = spawnSync(file, argv, { encoding: 'utf8', timeout: timeoutMs });
  const output = `${run.stdout ?? ''}${run.stderr ?? ''}`;
  if (run.status !== 0)
    throw new Error(`${command} ${args.join(' ')} ended with ${run.status ?? run.signal ?? run.error}: ${output}`);
  return output;
}

/** Runs a POSIX sh script, bounded; resolves with its status and output, whatever the status. */
export function runScript(script: string, env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<ScriptRun> {
  return new Promise((resolve) => {
    const child = spawn('sh', [script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (data: Buffer) => (output += data.toString()));
    child.stderr.on('data', (data: Buffer) => (output += data.toString()));
    const timer = setTimeout(() => {
      output += `\n[killed: ${path.basename(script)} still running after ${timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, output });
    });
  });
}

function tail(file: string, chars = 6000): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.length > chars ? `…${text.slice(-chars)}` : text;
  } catch {
    return '(no log)';
  }
}

/**
 * A free loopback port below 32768: the server stores membership ports in a `smallint` column, and
 * the kernel's ephemeral ports (what `freePort` gets) lie above it.
 */
async function freeMembershipPort(): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
    if (attempt > 100) throw new Error('no free loopback port between 20000 and 32000');
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Postgres {
  port: number;
  password: string;
  stop(): void;
}

/**
 * PostgreSQL in a fresh directory on a free loopback port, with a superuser `temporal` that logs
 * in with a password over TCP, as the compose's postgres image sets it up. initdb refuses root, so
 * as root it runs as the `postgres` user Debian's package creates.
 */
async function startPostgres(scratch: string): Promise<Postgres> {
  const bin = postgresBin();
  const asRoot = process.getuid?.() === 0;
  const user = asRoot ? 'postgres' : null;
  const dir = path.join(scratch, 'postgres');
  fs.mkdirSync(dir);
  const dataDir = path.join(dir, 'data');
  const password = randomBytes(12).toString('hex');
  const pwFile = path.join(dir, 'password');
  fs.writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  if (asRoot) {
    const ids = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
    const uid = ids('-u');
    if (!uid) throw new Error(`there is no postgres user (Debian's postgresql package creates it): ${INSTALL_HINT}`);
    fs.chmodSync(scratch, 0o755);
    fs.chownSync(dir, uid, ids('-g'));
    fs.chownSync(pwFile, uid, ids('-g'));
  }
  runAs(user, path.join(bin, 'initdb'), [
    '-D',
    dataDir,
    '-U',
    DB_USER,
    '--auth=scram-sha-256',
    `--pwfile=${pwFile}`,
    '--no-sync',
  ]);
  const port = await freePort();
  const logFile = path.join(dir, 'postgres.log');
  const pgCtl = path.join(bin, 'pg_ctl');
  try {
    runAs(user, pgCtl, [
      '-D',
      dataDir,
      '-l',
      logFile,
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
      '-w',
      '-t',
      '60',
      'start',
    ]);
  } catch (err) {
    throw new Error(`PostgreSQL did not start on 127.0.0.1:${port}: ${(err as Error).message}\n${tail(logFile)}`, {
      cause: err,
    });
  }
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    process.off('exit', stop);
    spawnSync(
      user ? 'runuser' : pgCtl,
      [...(user ? ['-u', user, '--', pgCtl] : []), '-D', dataDir, '-m', 'fast', '-w', 'stop'],
      {
        timeout: 30_000,
      },
    );
  };
  // A crashed test must not leave a postgres behind (it is pg_ctl's daemon, not our child).
  process.once('exit', stop);
  return { port, password, stop };
}

/** The module's config template, every port moved to a free loopback one, PostgreSQL and the compose's dynamic config. */
async function writeServerConfig(
  root: string,
  postgres: Postgres,
  tls: FrontendTls | undefined,
  authorization: FrontendAuthorization | undefined,
): Promise<{ port: number; configFile: string }> {
  const template = path.join(SERVER_DIR, 'config', `${CONFIG_ENV}.yaml`);
  if (!fs.existsSync(template)) throw new Error(`${template} not found: ${INSTALL_HINT}`);
  const config = YAML.parse(fs.readFileSync(template, 'utf8')) as ServerConfig;
  for (const store of Object.values(config.persistence.datastores)) {
    store.sql.connectAddr = `127.0.0.1:${postgres.port}`;
    store.sql.user = DB_USER;
    store.sql.password = postgres.password;
  }
  config.global.membership.broadcastAddress = '127.0.0.1';
  if (authorization) {
    config.global.authorization = {
      jwtKeyProvider: { keySourceURIs: [pathToFileURL(authorization.jwksFile).href], refreshInterval: '1m' },
      permissionsClaimName: 'permissions',
      authorizer: 'default',
      claimMapper: 'default',
    };
    // The server's own clients of the frontend (the worker service's system workers: scanners,
    // per-namespace schedulers and batchers...) hold no token: the default authorizer would refuse
    // every call of theirs. Given an internal-frontend, they use it instead, over the internode
    // connection (plain, on loopback), and it grants them system admin (its own claim mapper).
    config.services['internal-frontend'] = {
      rpc: { grpcPort: 0, membershipPort: 0, httpPort: 0, bindOnLocalHost: true },
    };
  }
  if (config.global.pprof) config.global.pprof.port = await freePort();
  if (config.global.metrics?.prometheus)
    config.global.metrics.prometheus.listenAddress = `127.0.0.1:${await freePort()}`;
  const port = await freePort();
  for (const [name, service] of Object.entries(config.services)) {
    const rpc = service.rpc;
    rpc.grpcPort = name === 'frontend' ? port : await freePort();
    rpc.membershipPort = await freeMembershipPort();
    if (rpc.httpPort !== undefined) rpc.httpPort = await freePort();
    rpc.bindOnLocalHost = true;
  }
  for (const cluster of Object.values(config.clusterMetadata.clusterInformation))
    cluster.rpcAddress = `127.0.0.1:${port}`;
  config.dynamicConfigClient.filepath = DYNAMIC_CONFIG;
  if (tls) {
    const client = { serverName: tls.serverName, rootCaFiles: [tls.caFile] };
    config.global.tls = {
      frontend: {
        server: {
          certFile: tls.certFile,
          keyFile: tls.keyFile,
          requireClientAuth: tls.requireClientAuth,
          ...(tls.requireClientAuth && { clientCaFiles: [tls.caFile] }),
        },
        client,
      },
      // Set, it is what the worker service's clients of the frontend use (else frontend.client);
      // with an internal-frontend (authorization), they use the internode settings instead.
      systemWorker: { certFile: tls.clientCertFile, keyFile: tls.clientKeyFile, client },
    };
  }
  const dir = path.join(root, 'config');
  fs.mkdirSync(dir);
  const configFile = path.join(dir, `${CONFIG_ENV}.yaml`);
  fs.writeFileSync(configFile, YAML.stringify(config));
  return { port, configFile };
}

interface ServerConfig {
  persistence: { datastores: Record<string, { sql: { connectAddr: string; user: string; password: string } }> };
  global: {
    membership: { broadcastAddress: string };
    pprof?: { port: number };
    metrics?: { prometheus?: { listenAddress: string } };
    tls?: unknown;
    authorization?: unknown;
  };
  services: Record<
    string,
    { rpc: { grpcPort: number; membershipPort: number; httpPort?: number; bindOnLocalHost: boolean } }
  >;
  clusterMetadata: { clusterInformation: Record<string, { rpcAddress: string }> };
  dynamicConfigClient: { filepath: string };
}

export async function startProductionTemporal(
  opts: { namespace?: string; frontendTls?: FrontendTls; authorization?: FrontendAuthorization } = {},
): Promise<ProductionTemporal> {
  if (opts.authorization && !opts.frontendTls) throw new Error('authorization (an API key) needs frontendTls');
  return retryPortClash(() => startOnce(opts.namespace ?? 'default', opts.frontendTls, opts.authorization));
}

/** The variables of a secured Temporal, as the app, its CLI and the `temporal` CLI read them. */
function tlsClientEnv(tls: FrontendTls | undefined): Record<string, string> {
  if (!tls) return {};
  return {
    TEMPORAL_TLS: 'true',
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: tls.caFile,
    TEMPORAL_TLS_SERVER_NAME: tls.serverName,
    TEMPORAL_TLS_CLIENT_CERT_PATH: tls.clientCertFile,
    TEMPORAL_TLS_CLIENT_KEY_PATH: tls.clientKeyFile,
  };
}

function tlsConnectionOptions(tls: FrontendTls | undefined): TLSConfig | undefined {
  if (!tls) return undefined;
  return {
    serverRootCACertificate: fs.readFileSync(tls.caFile),
    serverNameOverride: tls.serverName,
    clientCertPair: { crt: fs.readFileSync(tls.clientCertFile), key: fs.readFileSync(tls.clientKeyFile) },
  };
}

async function startOnce(
  namespace: string,
  tls: FrontendTls | undefined,
  authorization: FrontendAuthorization | undefined,
): Promise<ProductionTemporal> {
  const serverBin = toolPath('temporal-server');
  toolPath('temporal-sql-tool');
  toolPath('temporal');
  const schemaDir = path.join(SERVER_DIR, 'schema', 'postgresql', 'v12');
  if (!fs.existsSync(schemaDir)) throw new Error(`${schemaDir} not found: ${INSTALL_HINT}`);
  const scriptEnv = { ...process.env, PATH: `${TOOLS_BIN}:${process.env.PATH ?? ''}` };
  requireOnPath('nc', scriptEnv);

  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'stream-uploader-temporal-postgres-'));
  let postgres: Postgres | undefined;
  let server: Supervised | undefined;
  try {
    postgres = await startPostgres(scratch);
    const setupEnv = {
      ...scriptEnv,
      POSTGRES_SEEDS: '127.0.0.1',
      DB_PORT: String(postgres.port),
      POSTGRES_USER: DB_USER,
      SQL_PASSWORD: postgres.password,
      SCHEMA_DIR: schemaDir,
    };
    const setupRuns = [];
    for (let run = 0; run < 2; run++)
      setupRuns.push(await runScript(path.join(SCRIPTS, 'setup-postgres.sh'), setupEnv));

    const root = path.join(scratch, 'server');
    fs.mkdirSync(root);
    const { port, configFile } = await writeServerConfig(root, postgres, tls, authorization);
    const address = `127.0.0.1:${port}`;
    const apiKey = authorization?.apiKey;
    const clientEnv = { TEMPORAL_ADDRESS: address, ...tlsClientEnv(tls), ...(apiKey && { TEMPORAL_API_KEY: apiKey }) };
    const connectionOptions = { address, ...(tls && { tls: tlsConnectionOptions(tls) }), ...(apiKey && { apiKey }) };
    const logFile = path.join(scratch, 'temporal-server.log');
    // --config-file: 1.32 deprecates --root/--config/--env. The internal-frontend is no default service.
    const args = authorization
      ? ['--config-file', configFile, 'start', ...SERVICES.flatMap((service) => ['--service', service])]
      : ['--config-file', configFile, '--allow-no-auth', 'start'];

    /** Starts the server and waits until its frontend answers (and, once it exists, serves the namespace). */
    const launch = async (namespaceExists: boolean): Promise<Supervised> => {
      const launched = supervise(serverBin, args, { ...process.env }, logFile);
      const timeoutMs = 90_000;
      const deadline = Date.now() + timeoutMs;
      const what = namespaceExists ? `namespace ${namespace} served` : 'frontend answering GetSystemInfo';
      for (;;) {
        const { exitCode, signalCode } = launched.child;
        if (exitCode !== null || signalCode !== null)
          throw new Error(`temporal-server exited with ${exitCode ?? signalCode} (log ${logFile}):\n${tail(logFile)}`);
        const ready = await (async () => {
          const connection = await Connection.connect({ ...connectionOptions, connectTimeout: 1000 });
          try {
            await connection.workflowService.getSystemInfo({});
            if (namespaceExists) await connection.workflowService.describeNamespace({ namespace });
            return true;
          } finally {
            await connection.close();
          }
        })().catch(() => false);
        if (ready) return launched;
        if (Date.now() > deadline) {
          await launched.stop();
          throw new Error(
            `temporal-server at ${address}: no ${what} within ${timeoutMs} ms (log ${logFile}):\n${tail(logFile)}`,
          );
        }
        await sleep(250);
      }
    };
    server = await launch(false);

    const namespaceEnv = { ...scriptEnv, ...clientEnv, NAMESPACE: namespace };
    const namespaceRuns = [];
    for (let run = 0; run < 2; run++)
      namespaceRuns.push(await runScript(path.join(SCRIPTS, 'create-namespace.sh'), namespaceEnv));

    const db = postgres;
    return {
      address,
      namespace,
      port,
      postgresPort: postgres.port,
      clientEnv,
      connectionOptions,
      logFile,
      setupRuns,
      namespaceRuns,
      async kill(signal = 'SIGKILL') {
        const running = server!;
        if (running.child.exitCode === null && running.child.signalCode === null) {
          const exited = new Promise((resolve) => running.child.once('exit', resolve));
          running.child.kill(signal);
          await exited;
        }
        await running.stop();
      },
      async start() {
        server = await launch(true);
      },
      async stop() {
        await server?.stop();
        db.stop();
        fs.rmSync(scratch, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await server?.stop();
    postgres?.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
    throw err;
  }
}
