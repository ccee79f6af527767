import net from 'node:net';

/**
 * What the link between the app and a server does:
 * - `pass`: forwards both ways;
 * - `drop`: the link is cut: live connections are reset (TCP RST) and new ones are reset on accept;
 * - `stall`: connections stay open but no byte moves either way (a black hole); new ones are
 *   accepted and stall too. Back to `pass`, the stalled bytes flow again, as after a network
 *   partition heals.
 */
export type LinkMode = 'pass' | 'drop' | 'stall';

export interface ProxyStats {
  connections: number;
  /** Connections the proxy reset: by `drop`, `resetAll` or a refused accept. */
  resets: number;
  /** Bytes forwarded from the clients to the server, and back. */
  bytesUp: number;
  bytesDown: number;
}

/** A TCP proxy on loopback between a client (the app) and a server (S3), with faults to inject. */
export interface TcpProxy {
  port: number;
  /** `http://127.0.0.1:<port>`: what the app's S3_ENDPOINT points at. */
  endpoint: string;
  mode(): LinkMode;
  setMode(mode: LinkMode): void;
  /** Resets every live connection (TCP RST on both sides); returns how many. */
  resetAll(): number;
  /** Caps each connection's client-to-server rate, so an upload stays in flight for a while; null lifts it. */
  throttleUp(bytesPerSecond: number | null): void;
  stats(): ProxyStats;
  close(): Promise<void>;
}

interface Link {
  client: net.Socket;
  server: net.Socket;
  /** Set while a direction waits for the other side's drain or for the throttle. */
  held: Set<net.Socket>;
}

/**
 * Ends a connection with a TCP RST. One that already sent its FIN is destroyed instead: resetting
 * it left this process's event loop spinning at full CPU (Node 20).
 */
function abort(socket: net.Socket): void {
  if (socket.destroyed) return;
  if (socket.writableEnded) socket.destroy();
  else socket.resetAndDestroy();
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: LinkMode = 'pass';
  let upRate: number | null = null;
  const links = new Set<Link>();
  const stats: ProxyStats = { connections: 0, resets: 0, bytesUp: 0, bytesDown: 0 };

  const reset = (link: Link) => {
    links.delete(link);
    abort(link.client);
    abort(link.server);
    stats.resets++;
  };

  const flowing = (link: Link, from: net.Socket) => mode === 'pass' && !link.held.has(from);

  /** Forwards `from` to `to` by hand (not `pipe`), so a stall can hold reads without `pipe` resuming them. */
  function forward(link: Link, from: net.Socket, to: net.Socket, up: boolean) {
    from.on('data', (data: Buffer) => {
      if (up) stats.bytesUp += data.length;
      else stats.bytesDown += data.length;
      const release = () => {
        link.held.delete(from);
        if (flowing(link, from)) from.resume();
      };
      const drained = to.write(data);
      const delayMs = up && upRate ? (data.length / upRate) * 1000 : 0;
      if (drained && delayMs === 0) return;
      link.held.add(from);
      from.pause();
      let waits = (drained ? 0 : 1) + (delayMs > 0 ? 1 : 0);
      const done = () => --waits === 0 && release();
      if (!drained) to.once('drain', done);
      if (delayMs > 0) setTimeout(done, delayMs);
    });
    from.once('end', () => to.end());
  }

  const proxy = net.createServer((client) => {
    stats.connections++;
    if (mode === 'drop') {
      client.resetAndDestroy();
      stats.resets++;
      return;
    }
    const server = net.connect(target);
    const link: Link = { client, server, held: new Set() };
    links.add(link);
    if (mode === 'stall') {
      client.pause();
      server.pause();
    }
    forward(link, client, server, true);
    forward(link, server, client, false);
    // Whichever side fails, the other sees the connection die as abruptly.
    const teardown = () => {
      if (!links.delete(link)) return;
      client.destroy();
      server.destroy();
    };
    client.on('error', () => (links.has(link) ? reset(link) : undefined));
    server.on('error', () => (links.has(link) ? reset(link) : undefined));
    client.on('close', teardown);
    server.on('close', teardown);
  });
  await new Promise<void>((resolve, reject) => {
    proxy.once('error', reject);
    proxy.listen(0, '127.0.0.1', resolve);
  });
  const { port } = proxy.address() as net.AddressInfo;

  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    mode: () => mode,
    setMode(next) {
      mode = next;
      for (const link of [...links]) {
        if (mode === 'drop') reset(link);
        else if (mode === 'stall') {
          link.client.pause();
          link.server.pause();
        } else {
          if (flowing(link, link.client)) link.client.resume();
          if (flowing(link, link.server)) link.server.resume();
        }
      }
    },
    resetAll() {
      const count = links.size;
      for (const link of [...links]) reset(link);
      return count;
    },
    throttleUp(bytesPerSecond) {
      upRate = bytesPerSecond;
    },
    stats: () => ({ ...stats }),
    async close() {
      for (const link of [...links]) reset(link);
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}
