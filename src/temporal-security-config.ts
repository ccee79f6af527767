import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { parseBoolean } from './config-parsers';
import { TEMPORAL_SECURITY_ENV_VARS, type Env, type EnvVar, type VariableReader } from './config-variables';
import { printable } from './printable';
import { Secret } from './secret';

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
 * TLS (a CA, a server name), mutual TLS (a client certificate and its key) and an API key. Any of
 * them turns TLS on unless TEMPORAL_TLS says otherwise, which is then an error: a certificate
 * would be ignored, an API key sent in the clear.
 */
export function readTemporalSecurity(
  env: Env,
  cwd: string,
  read: VariableReader,
  problems: string[],
): { tls?: TemporalTlsConfig; apiKey?: Secret<string> } {
  const isSet = (name: EnvVar) => (env[name] ?? '').trim() !== '';
  const tlsFlag = read('TEMPORAL_TLS', (t) => (t.trim() === '' ? undefined : parseBoolean(t)));
  const ca = read('TEMPORAL_TLS_SERVER_CA_CERT_PATH', readPemFile(cwd, 'certificate'));
  const serverName = read('TEMPORAL_TLS_SERVER_NAME', (t) => (t.trim() === '' ? undefined : parseServerName(t)));
  const crt = read('TEMPORAL_TLS_CLIENT_CERT_PATH', readPemFile(cwd, 'certificate'));
  const key = read('TEMPORAL_TLS_CLIENT_KEY_PATH', readPemFile(cwd, 'private key'));
  const apiKey = read('TEMPORAL_API_KEY', (t) => {
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
