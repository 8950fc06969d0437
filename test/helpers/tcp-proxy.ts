/**
 * A TCP proxy (node:net) between the hub and a real server, to play a database outage without touching the server
 * itself (the shared PostgreSQL serves other test runs): `cut()` drops every connection through it, as a server
 * restart does; `refuse()` stops listening until `restore()` listens on the same port again (ECONNREFUSED, as while
 * a server is down); `blackhole()` accepts new connections and never answers (a hung host: the client's connect timeout must
 * end the wait). Each upstream socket's local port is kept, so a test can find exactly its own backends in
 * pg_stat_activity (client_port) and leave every other session's alone.
 */
import net from 'node:net';

export type ProxyMode = 'open' | 'refuse' | 'blackhole';

export interface TcpProxy {
  /** The port the proxy listens on (127.0.0.1). */
  port: number;
  readonly mode: ProxyMode;
  /** Connections currently open through the proxy. */
  readonly open: number;
  /** Connections accepted since the start (each new one the client opened). */
  readonly accepted: number;
  /** Local ports of the open upstream sockets: pg_stat_activity.client_port of the backends behind the proxy. */
  upstreamPorts(): number[];
  /** Destroys every open connection, both ways (the client sees its connection reset). */
  cut(): void;
  /** New connections are refused (nothing listens) until restore(); open ones are cut too when `cut` is set. */
  refuse(opts?: { cut?: boolean }): Promise<void>;
  /** New connections are accepted and held without a byte forwarded, until restore() closes them. */
  blackhole(): void;
  /** Back to forwarding, on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<{ client: net.Socket; upstream?: net.Socket }>();
  const held = new Set<net.Socket>();
  let mode: ProxyMode = 'open';
  let accepted = 0;
  const server = net.createServer((client) => {
    accepted++;
    client.on('error', () => undefined);
    if (mode === 'blackhole') {
      held.add(client);
      client.once('close', () => held.delete(client));
      return;
    }
    const pair: { client: net.Socket; upstream?: net.Socket } = { client };
    pairs.add(pair);
    const upstream = net.connect(target.port, target.host);
    pair.upstream = upstream;
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.once('close', () => {
      client.destroy();
      pairs.delete(pair);
    });
    client.once('close', () => {
      upstream.destroy();
      pairs.delete(pair);
    });
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const listen = (p: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(p, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;
  const cut = (): void => {
    for (const p of [...pairs]) {
      p.client.resetAndDestroy();
      p.upstream?.destroy();
    }
    pairs.clear();
  };
  return {
    port,
    get mode() {
      return mode;
    },
    get open() {
      return pairs.size;
    },
    get accepted() {
      return accepted;
    },
    upstreamPorts: () => [...pairs].map((p) => p.upstream?.localPort).filter((n): n is number => typeof n === 'number'),
    cut,
    async refuse(opts = {}) {
      if (mode !== 'refuse') {
        mode = 'refuse';
        // Stops accepting at once; the callback (which waits for open connections) is not waited for.
        server.close();
      }
      if (opts.cut) cut();
    },
    blackhole() {
      mode = 'blackhole';
    },
    async restore() {
      const was = mode;
      mode = 'open';
      for (const s of held) s.destroy();
      held.clear();
      if (was === 'refuse') await listen(port);
    },
    async close() {
      cut();
      for (const s of held) s.destroy();
      if (mode !== 'refuse') await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
