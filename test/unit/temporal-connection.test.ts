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
  describeTemporalSecurity,
  diagnoseTls,
  temporalConnectionOptions,
} from '../../src/temporal-connection';
import { makeTestCertificates, type TestCertificates } from '../support/tls-certs';

/**
 * The options the app, its roles and the CLI connect with. Temporal Cloud is not reachable from
 * the tests: that TEMPORAL_API_KEY reaches `apiKey`, with TLS on, is checked here.
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
