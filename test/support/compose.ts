import { execFile, spawnSync } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

/** A compose project run by the real `docker compose` CLI plugin against a real Docker engine. */

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
const INSTALL =
  'run `bash scripts/install-tools.sh` (as root: it installs Docker and the compose plugin and starts dockerd)';

/** Throws, with the command that installs them, unless a Docker engine answers and `docker compose` works. */
export function requireDockerCompose(): void {
  const docker = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8' });
  if (docker.error || docker.status !== 0)
    throw new Error(
      `no Docker engine answers (docker info: ${docker.error?.message ?? docker.stderr.trim()}): ${INSTALL}`,
    );
  const compose = spawnSync('docker', ['compose', 'version', '--short'], { encoding: 'utf8' });
  if (compose.error || compose.status !== 0)
    throw new Error(`the docker compose plugin is missing (${compose.stderr?.trim() ?? ''}): ${INSTALL}`);
}

async function exec(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  try {
    const { stdout } = await run(file, args, { cwd: ROOT, env, timeout: timeoutMs, maxBuffer: 64 * 2 ** 20 });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${file} ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}\n${e.stdout ?? ''}`, {
      cause: err,
    });
  }
}

/** Builds the stand-ins of the images `services` need that the engine lacks (scripts/local-images.sh). */
export async function localImages(services: string[], timeoutMs = 20 * 60_000): Promise<string> {
  return exec('bash', [path.join(ROOT, 'scripts', 'local-images.sh'), ...services], process.env, timeoutMs);
}

/** `docker build` of the project's Dockerfile (the legacy builder: BuildKit would fetch its frontend image). */
export async function buildAppImage(tag: string, timeoutMs = 15 * 60_000): Promise<void> {
  await exec(
    'docker',
    ['build', '--quiet', '--pull=false', '-t', tag, '.'],
    { ...process.env, DOCKER_BUILDKIT: '0' },
    timeoutMs,
  );
}

export async function docker(args: string[], timeoutMs = 120_000): Promise<string> {
  return exec('docker', args, process.env, timeoutMs);
}

export interface ComposeProject {
  name: string;
  /** `docker compose -p NAME --env-file ENV -f FILE... ARGS`, with only `env` for interpolation. */
  compose(args: string[], timeoutMs?: number): Promise<string>;
  /** The container id of `service` (one replica), or '' when it has none. */
  containerId(service: string): Promise<string>;
  /** `docker inspect` of the service's container. */
  inspect(service: string): Promise<ContainerState>;
  logs(service?: string): Promise<string>;
}

export interface ContainerState {
  Id: string;
  State: { Status: string; ExitCode: number; Health?: { Status: string }; StartedAt: string; FinishedAt: string };
  Config: { User: string };
  NetworkSettings: { Ports: Record<string, { HostIp: string; HostPort: string }[] | null> };
}

/**
 * A project named `name` over `files` (relative to the repository), whose `${...}` come from `env`
 * and an empty env file only: a developer's .env and the test process's environment stay out.
 */
export function composeProject(
  name: string,
  files: string[],
  envFile: string,
  env: Record<string, string>,
): ComposeProject {
  const base = ['compose', '-p', name, '--env-file', envFile, ...files.flatMap((file) => ['-f', file])];
  const processEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
    ...(process.env.DOCKER_CONFIG ? { DOCKER_CONFIG: process.env.DOCKER_CONFIG } : {}),
    DOCKER_BUILDKIT: '0',
    ...env,
  };
  const compose = (args: string[], timeoutMs = 300_000) => exec('docker', [...base, ...args], processEnv, timeoutMs);
  const containerId = async (service: string) => (await compose(['ps', '-aq', service])).trim().split('\n')[0] ?? '';
  return {
    name,
    compose,
    containerId,
    async inspect(service) {
      const id = await containerId(service);
      if (!id) throw new Error(`${service} has no container`);
      return (JSON.parse(await docker(['inspect', id])) as ContainerState[])[0];
    },
    async logs(service) {
      return compose(['logs', '--no-color', '--tail', '200', ...(service ? [service] : [])]).catch(
        (err: Error) => err.message,
      );
    },
  };
}
