import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** A certificate and its private key, as PEM files. */
export interface CertFiles {
  cert: string;
  key: string;
}

/** A throwaway PKI made by `openssl` for one test run. */
export interface TestCertificates {
  /** The CA that signs the server's and the client's certificates. */
  ca: string;
  /** A second CA, which signed nothing here: trusting it instead of `ca` must fail. */
  otherCa: string;
  /** For 127.0.0.1 and `localhost` (subject alternative names), signed by `ca`. */
  server: CertFiles;
  /** A client certificate (extended key usage clientAuth) signed by `ca`. */
  client: CertFiles;
  /** The name the server's certificate carries. */
  serverName: string;
}

const INSTALL_HINT =
  'install it (Debian/Ubuntu: `apt-get install openssl`; `npm run setup`, scripts/install-tools.sh, does it)';

const EXTENSIONS = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = stream-uploader test
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

/** The `openssl` on PATH; throws with how to install it when there is none. */
export function requireOpenssl(): string {
  const found = spawnSync('sh', ['-c', 'command -v openssl'], { encoding: 'utf8' }).stdout.trim();
  if (!found) throw new Error(`openssl is not on PATH: ${INSTALL_HINT}`);
  return found;
}

/** Makes, in `dir`, a CA, a server certificate for 127.0.0.1/localhost and a client certificate (P-256 keys, valid two days). */
export function makeTestCertificates(dir: string): TestCertificates {
  const openssl = requireOpenssl();
  fs.mkdirSync(dir, { recursive: true });
  const file = (name: string) => path.join(dir, name);
  fs.writeFileSync(file('openssl.cnf'), EXTENSIONS);
  const run = (...args: string[]) => {
    const result = spawnSync(openssl, args, { cwd: dir, encoding: 'utf8', timeout: 30_000 });
    if (result.status !== 0)
      throw new Error(
        `openssl ${args.join(' ')} ended with ${result.status ?? result.signal ?? result.error}: ${result.stderr}`,
      );
  };
  const newKey = (name: string) => {
    // PKCS#8: what every TLS stack here reads (Go, Node, rustls).
    run('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file(name));
    fs.chmodSync(file(name), 0o600);
  };
  const newCa = (name: string, subject: string) => {
    newKey(`${name}.key`);
    run(
      'req',
      '-x509',
      '-new',
      '-key',
      file(`${name}.key`),
      '-sha256',
      '-days',
      '2',
      '-subj',
      subject,
      '-config',
      file('openssl.cnf'),
      '-extensions',
      'ca_ext',
      '-out',
      file(`${name}.pem`),
    );
  };
  const signed = (name: string, subject: string, extensions: string): CertFiles => {
    newKey(`${name}.key`);
    run(
      'req',
      '-new',
      '-key',
      file(`${name}.key`),
      '-subj',
      subject,
      '-config',
      file('openssl.cnf'),
      '-out',
      file(`${name}.csr`),
    );
    run(
      'x509',
      '-req',
      '-in',
      file(`${name}.csr`),
      '-CA',
      file('ca.pem'),
      '-CAkey',
      file('ca.key'),
      '-set_serial',
      `0x${randomBytes(8).toString('hex')}`,
      '-days',
      '2',
      '-sha256',
      '-extfile',
      file('openssl.cnf'),
      '-extensions',
      extensions,
      '-out',
      file(`${name}.pem`),
    );
    return { cert: file(`${name}.pem`), key: file(`${name}.key`) };
  };
  newCa('ca', '/CN=stream-uploader test CA');
  newCa('other-ca', '/CN=stream-uploader other CA');
  return {
    ca: file('ca.pem'),
    otherCa: file('other-ca.pem'),
    server: signed('server', '/CN=localhost', 'server_ext'),
    client: signed('client', '/CN=stream-uploader test client', 'client_ext'),
    serverName: 'localhost',
  };
}
