import { isIP } from 'node:net';
import tls from 'node:tls';
import type { TLSConfig } from '@temporalio/client';
import type { TemporalConfig } from './config';

/**
 * What both the client's `Connection.connect` and the worker's `NativeConnection.connect` take to
 * reach Temporal. It holds the API key and the client's private key in the clear: pass it to
 * `connect`, never to a logger.
 */
export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig;
  apiKey?: string;
}

/** The one place the app, its roles and the CLI turn the configuration into connection options. */
export function temporalConnectionOptions(
  temporal: Pick<TemporalConfig, 'address' | 'tls' | 'apiKey'>,
): TemporalConnectionOptions {
  const { address, tls, apiKey } = temporal;
  return {
    address,
    ...(tls && {
      tls: {
        ...(tls.serverRootCACertificate && { serverRootCACertificate: tls.serverRootCACertificate }),
        ...(tls.serverNameOverride && { serverNameOverride: tls.serverNameOverride }),
        ...(tls.clientCertPair && {
          clientCertPair: { crt: tls.clientCertPair.crt, key: tls.clientCertPair.key.reveal() },
        }),
      },
    }),
    ...(apiKey && { apiKey: apiKey.reveal() }),
  };
}

/** How this process reaches Temporal, for the start-up log: which settings are on, no value of any. */
export function describeTemporalSecurity(temporal: Pick<TemporalConfig, 'tls' | 'apiKey'>): {
  tls: 'off' | 'tls' | 'mutual';
  apiKey: boolean;
} {
  return {
    tls: !temporal.tls ? 'off' : temporal.tls.clientCertPair ? 'mutual' : 'tls',
    apiKey: temporal.apiKey !== undefined,
  };
}

/**
 * The error to show when connecting failed. gRPC says only that it could not connect before its
 * deadline, whatever went wrong with TLS; a TLS handshake of our own with the same settings names
 * it: a certificate signed by another CA, another server name, a client certificate the server
 * requires, TLS on one side only.
 */
export async function connectFailure(options: TemporalConnectionOptions, err: unknown): Promise<Error> {
  const reason =
    credentialsRefusal(err) ?? (await diagnoseTls(options).catch(() => undefined)) ?? messageWithCauses(err);
  return new Error(`cannot reach Temporal at ${options.address}: ${reason}`, { cause: err });
}

/** gRPC's PERMISSION_DENIED and UNAUTHENTICATED: the server answered, and refused who we are. */
const REFUSED_CREDENTIALS_CODES: ReadonlySet<number> = new Set([7, 16]);
/** The same two codes as the worker's native connection (tonic) words them: its errors carry no number. */
const REFUSED_CREDENTIALS_WORDS =
  /The caller does not have permission|The request does not have valid authentication credentials/;

const REFUSED = 'the server refused the credentials';

/**
 * Says so when `err`, or an error it wraps (the SDK wraps gRPC's in its own), is the server refusing
 * the credentials; undefined otherwise, and for an error that says so already (`connectFailure`'s).
 * The server's words never quote the key.
 */
export function credentialsRefusal(err: unknown): string | undefined {
  for (let cause = err; cause instanceof Error; cause = cause.cause) {
    if (cause.message.includes(REFUSED)) return undefined;
    const { code } = cause as { code?: unknown };
    const refused =
      typeof code === 'number' ? REFUSED_CREDENTIALS_CODES.has(code) : REFUSED_CREDENTIALS_WORDS.test(cause.message);
    if (refused) {
      return `${REFUSED} (${cause.message}): check TEMPORAL_API_KEY and its permissions on TEMPORAL_NAMESPACE, or the client certificate`;
    }
  }
  return undefined;
}

/** An error's message followed by those of the errors it wraps: the SDK's own says little alone. */
function messageWithCauses(err: unknown): string {
  const messages: string[] = [];
  let cause = err;
  for (; cause instanceof Error; cause = cause.cause) messages.push(cause.message);
  if (cause !== undefined) messages.push(String(cause));
  return messages.join(': ');
}

/** What a TLS handshake with `options` says about the server, in at most `timeoutMs`; undefined: nothing wrong found. */
export function diagnoseTls(options: TemporalConnectionOptions, timeoutMs = 3000): Promise<string | undefined> {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(options.address);
  if (!match) return Promise.resolve(undefined);
  const [host, port] = [match[1], Number(match[2])];
  const settings = options.tls;
  return new Promise((resolve) => {
    let settled = false;
    const done = (result: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs).unref();
    const servername = settings?.serverNameOverride ?? (isIP(host) === 0 ? host : undefined);
    const socket = tls.connect({
      host,
      port,
      ALPNProtocols: ['h2'],
      ...(servername && { servername }),
      ...(settings
        ? {
            ...(settings.serverRootCACertificate && { ca: Buffer.from(settings.serverRootCACertificate) }),
            ...(settings.clientCertPair && {
              cert: Buffer.from(settings.clientCertPair.crt),
              key: Buffer.from(settings.clientCertPair.key),
            }),
          }
        : // Only to learn whether the server speaks TLS at all.
          { rejectUnauthorized: false }),
    });
    socket.once('secureConnect', () => {
      if (!settings)
        return done('the server speaks TLS: set TEMPORAL_TLS=true (and TEMPORAL_TLS_SERVER_CA_CERT_PATH, ...)');
      // A server that requires a client certificate refuses the missing one just after the handshake.
      setTimeout(() => done(undefined), 1000).unref();
    });
    socket.once('error', (error: NodeJS.ErrnoException & { reason?: string }) => {
      if (
        !settings ||
        ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND'].includes(error.code ?? '')
      )
        return done(undefined);
      done(`TLS failed: ${tlsProblem(error, settings)}`);
    });
    socket.once('close', () => done(undefined));
  });
}

/** A TLS error in words, with the variable to look at. */
function tlsProblem(error: NodeJS.ErrnoException & { reason?: string }, settings: TLSConfig): string {
  const code = error.code ?? '';
  // OpenSSL's own messages run over lines; its reason is the part that says something.
  const said = error.reason ?? error.message.split('\n')[0];
  if (/CERTIFICATE_REQUIRED/.test(code) || (!settings.clientCertPair && /HANDSHAKE_FAILURE/.test(code)))
    return `the server requires a client certificate (${said}): set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH`;
  if (/ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE|DECRYPT_ERROR)/.test(code))
    return `the server refused the client certificate (${said}): check TEMPORAL_TLS_CLIENT_CERT_PATH`;
  if (
    /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_GET_ISSUER_CERT/.test(
      code,
    )
  )
    return `the server's certificate is not signed by a CA this client trusts (${code}): check TEMPORAL_TLS_SERVER_CA_CERT_PATH`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `${said}: check TEMPORAL_TLS_SERVER_NAME`;
  if (/WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|RECORD_LAYER_FAILURE/.test(code))
    return `the server does not answer in TLS (${said}): does it have TLS on, or is TEMPORAL_TLS wrong?`;
  return code ? `${said} (${code})` : said;
}
