import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { waitUntil } from '../support/wait';

/** The fault injector itself: each link mode does to a real TCP connection what it says. */
describe('the TCP proxy between the app and S3', () => {
  let echo: net.Server;
  let proxy: TcpProxy;

  before(async () => {
    echo = net.createServer((socket) => {
      // The proxy's resets reach this end too: that is their point, not an error of the test.
      socket.on('error', () => undefined);
      socket.pipe(socket);
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    proxy = await startTcpProxy({ host: '127.0.0.1', port: (echo.address() as net.AddressInfo).port });
  });
  after(async () => {
    await proxy.close();
    await new Promise((resolve) => echo.close(resolve));
  });

  /** A client connection that records what comes back and how it ended. */
  async function connect() {
    const socket = net.connect(proxy.port, '127.0.0.1');
    let received = '';
    socket.on('data', (data: Buffer) => (received += data.toString()));
    const ended = new Promise<string>((resolve) => {
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      socket.once('close', () => resolve('closed'));
    });
    await new Promise((resolve) => socket.once('connect', resolve));
    const until = (text: string) =>
      waitUntil(
        () => received.includes(text),
        10_000,
        () => `received ${JSON.stringify(received)}`,
      );
    return { socket, received: () => received, until, ended };
  }

  test('pass forwards both ways', async () => {
    const client = await connect();
    client.socket.write('hello');
    await client.until('hello');
    client.socket.destroy();
  });

  test('stall holds the bytes of open connections until the link passes again', async () => {
    const client = await connect();
    proxy.setMode('stall');
    client.socket.write('held');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(client.received(), '', 'nothing came back while stalled');
    proxy.setMode('pass');
    await client.until('held');
    client.socket.destroy();
  });

  test('drop resets live connections and every new one', async () => {
    const live = await connect();
    proxy.setMode('drop');
    assert.equal(await live.ended, 'ECONNRESET');
    const refused = net.connect(proxy.port, '127.0.0.1');
    const outcome = await new Promise<string>((resolve) => {
      refused.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      refused.once('close', () => resolve('closed'));
    });
    assert.equal(outcome, 'ECONNRESET');
    proxy.setMode('pass');
  });

  test('resetAll resets every live connection and counts them', async () => {
    const client = await connect();
    assert.equal(proxy.resetAll(), 1);
    assert.equal(await client.ended, 'ECONNRESET');
    assert.ok(proxy.stats().resets >= 1);
  });
});
