import type { Env } from './config-variables';

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
