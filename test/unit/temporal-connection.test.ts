import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { loadConfig } from '../../src/config';
import {
  connectFailure,
  credentialsRefusal,
  describeTemporalSecurity,
  diagnoseTls,
  temporalConnectionOptions,
} from '../../src/temporal-connection';
import { makeTestCertificates, type TestCertificates } from '../support/tls-certs';

/**
 * The options the app, its roles and the CLI connect with. Temporal Cloud is not reachable from
 * the tests: that TEMPORAL_API_KEY reaches `apiKey`, with TLS on, is checked here, and a server
 * that checks API keys accepts and refuses them in test/production/temporal-tls.test.ts.
 */
describe('temporal connection options', () => {
  let dir: string;
  let certs: TestCertificates;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'temporal-connection-'));
    certs = makeTestCertificates(dir);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const options = (env: Record<string, string>) =>
    temporalConnectionOptions(loadConfig({ ROLE: 'workflow', ...env }).temporal);

  test('plain TCP by default: the address alone', () => {
    assert.deepEqual(options({ TEMPORAL_ADDRESS: 'temporal:7233' }), { address: 'temporal:7233' });
    assert.deepEqual(describeTemporalSecurity(loadConfig({ ROLE: 'workflow' }).temporal), {
      tls: 'off',
      apiKey: false,
    });
  });

  test("Temporal Cloud's API key: passed as apiKey, with TLS on (the system's CAs)", () => {
    const config = loadConfig({
      ROLE: 'workflow',
      TEMPORAL_ADDRESS: 'my-ns.a1b2c.tmprl.cloud:7233',
      TEMPORAL_NAMESPACE: 'my-ns.a1b2c',
      TEMPORAL_API_KEY: 'the-api-key',
    });
    assert.deepEqual(temporalConnectionOptions(config.temporal), {
      address: 'my-ns.a1b2c.tmprl.cloud:7233',
      tls: {},
      apiKey: 'the-api-key',
    });
    assert.deepEqual(describeTemporalSecurity(config.temporal), { tls: 'tls', apiKey: true });
  });

  test('mutual TLS: the CA, the server name, the client certificate and key as the SDK takes them', () => {
    const config = loadConfig({
      ROLE: 'workflow',
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.ca,
      TEMPORAL_TLS_SERVER_NAME: 'localhost',
      TEMPORAL_TLS_CLIENT_CERT_PATH: certs.client.cert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: certs.client.key,
    });
    assert.deepEqual(temporalConnectionOptions(config.temporal), {
      address: 'localhost:7233',
      tls: {
        serverRootCACertificate: fs.readFileSync(certs.ca),
        serverNameOverride: 'localhost',
        clientCertPair: { crt: fs.readFileSync(certs.client.cert), key: fs.readFileSync(certs.client.key) },
      },
    });
    assert.deepEqual(describeTemporalSecurity(config.temporal), { tls: 'mutual', apiKey: false });
  });
});

/** The diagnosis of a failed connection, against local servers: TLS on one side only, a port with nothing on it. */
describe('diagnoseTls', () => {
  let dir: string;
  let certs: TestCertificates;
  const servers: Array<net.Server> = [];
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diagnose-tls-'));
    certs = makeTestCertificates(dir);
  });
  after(() => {
    for (const server of servers) server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  async function listen(server: net.Server): Promise<string> {
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  }
  const tlsOptions = () => ({
    serverRootCACertificate: fs.readFileSync(certs.ca),
    serverNameOverride: 'localhost',
  });

  test('a plain client at a TLS server is told to turn TLS on', async () => {
    const address = await listen(
      tls.createServer({ cert: fs.readFileSync(certs.server.cert), key: fs.readFileSync(certs.server.key) }),
    );
    assert.match((await diagnoseTls({ address })) ?? '', /the server speaks TLS: set TEMPORAL_TLS=true/);
    assert.equal(await diagnoseTls({ address, tls: tlsOptions() }), undefined, 'TLS as configured: nothing to say');
  });

  test('a TLS client at a plain server is told it does not answer in TLS', async () => {
    const address = await listen(net.createServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n')));
    assert.match((await diagnoseTls({ address, tls: tlsOptions() })) ?? '', /does not answer in TLS/);
  });

  test('nothing listening: no diagnosis, the connection error stands', async () => {
    const server = net.createServer();
    const address = await listen(server);
    await new Promise((resolve) => server.close(resolve));
    servers.pop();
    assert.equal(await diagnoseTls({ address, tls: tlsOptions() }), undefined);
    const failure = await connectFailure({ address }, new Error('Failed to connect before the deadline'));
    assert.equal(failure.message, `cannot reach Temporal at ${address}: Failed to connect before the deadline`);
  });
});

describe('credentialsRefusal and connectFailure', () => {
  /** As the SDK throws them: its own error, wrapping gRPC's, which carries the status code. */
  const wrapped = (code: number, details: string) =>
    new Error('Failed to list workflows', { cause: Object.assign(new Error(`${code} ${details}`), { code }) });

  test("a PERMISSION_DENIED or UNAUTHENTICATED under the SDK's error says the credentials were refused", () => {
    for (const code of [7, 16]) {
      assert.match(
        credentialsRefusal(wrapped(code, 'Request unauthorized.')) ?? '',
        new RegExp(`the server refused the credentials \\(${code} Request unauthorized\\.\\): check TEMPORAL_API_KEY`),
      );
    }
  });

  test("the worker's native connection words the refusal instead of numbering it", () => {
    const native = new Error(
      'Failed to call GetSystemInfo: code: \'The caller does not have permission to execute the specified operation\', message: "Request unauthorized."',
    );
    assert.match(
      credentialsRefusal(native) ?? '',
      /^the server refused the credentials \(Failed to call GetSystemInfo/,
    );
  });

  test("connectFailure's error, which says so already, is not said again", async () => {
    const described = await connectFailure({ address: 'not-an-address' }, wrapped(7, 'Request unauthorized.'));
    assert.equal(credentialsRefusal(described), undefined);
  });

  test('any other failure is not called a refusal', () => {
    assert.equal(credentialsRefusal(wrapped(14, 'UNAVAILABLE')), undefined);
    assert.equal(credentialsRefusal(new Error('socket hang up')), undefined);
    assert.equal(credentialsRefusal('a string'), undefined);
  });

  test("connectFailure names the refusal, else gives the wrapped errors' messages too", async () => {
    const options = { address: 'not-an-address' };
    assert.match(
      (await connectFailure(options, wrapped(7, 'Request unauthorized.'))).message,
      /^cannot reach Temporal at not-an-address: the server refused the credentials/,
    );
    assert.equal(
      (await connectFailure(options, wrapped(14, 'No connection established'))).message,
      'cannot reach Temporal at not-an-address: Failed to list workflows: 14 No connection established',
    );
  });
});
