/**
 * The MLLP listener EHRs send to (HL7 v2.5.1 Appendix C: <VT> message <FS><CR>, the answer framed the same way on
 * the same connection). Messages on one connection are answered in the order they came. Written on node:net rather
 * than node-hl7-server (the test peers' library): that server parses with its own HL7 library before the handler
 * runs, and a message it cannot parse gets no answer at all, where the guide wants an AR naming the problem; it
 * also builds its own ACK and does not hand the handler the peer's address, which is how MLLP senders are known.
 */
import net from 'node:net';
import { MLLP_END, MLLP_START, mllpFrame } from '../iis/mllp-transport.js';

export interface MllpListener {
  port: number;
  close(): Promise<void>;
}

export interface MllpListenerOptions {
  port: number;
  host?: string;
  /** Largest frame taken (bytes); a larger one is answered by `onMessage` with what arrived, then the connection closes. */
  maxBytes?: number;
  /** A connection silent this long is closed. */
  idleMs?: number;
}

export async function startMllpListener(opts: MllpListenerOptions, onMessage: (text: string, remoteAddress: string | undefined) => Promise<string>): Promise<MllpListener> {
  const maxBytes = opts.maxBytes ?? 2_000_000;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setTimeout(opts.idleMs ?? 300_000, () => socket.destroy());
    let buf = Buffer.alloc(0);
    let chain = Promise.resolve();
    const answer = (text: string): void => {
      chain = chain
        .then(() => onMessage(text, socket.remoteAddress))
        .then((reply) => {
          if (!socket.destroyed) socket.write(mllpFrame(reply));
        })
        .catch(() => {
          socket.destroy();
        });
    };
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const start = buf.indexOf(MLLP_START);
        if (start === -1) {
          buf = Buffer.alloc(0); // bytes outside a frame carry nothing
          return;
        }
        const end = buf.indexOf(MLLP_END, start + 1);
        if (end === -1) {
          if (buf.length - start > maxBytes) {
            // Answered (the handler refuses it as too large), then the connection ends: the rest cannot be framed.
            answer(buf.subarray(start + 1).toString('utf8'));
            chain = chain.then(() => {
              socket.end();
            });
            buf = Buffer.alloc(0);
          } else buf = buf.subarray(start);
          return;
        }
        answer(buf.subarray(start + 1, end).toString('utf8'));
        buf = buf.subarray(end + MLLP_END.length);
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
