/**
 * MLLP client (HL7 v2 Minimal Lower Layer Protocol, HL7 v2.5.1 Appendix C): each message is framed as
 * <VT 0x0B> message <FS 0x1C><CR 0x0D>, and the answer comes back framed the same way on the same connection.
 * One connection per message keeps a half-dead socket from swallowing the next dose.
 */
import net from 'node:net';
import { IisTransportError, type IisTransport, type MllpEndpoint } from './transport.js';

export const MLLP_START = 0x0b;
export const MLLP_END = Buffer.from([0x1c, 0x0d]);

export function mllpFrame(message: string): Buffer {
  return Buffer.concat([Buffer.from([MLLP_START]), Buffer.from(message, 'utf8'), MLLP_END]);
}

/** Extracts the first complete framed message from a buffer, or undefined when the frame is not complete yet. */
export function mllpUnframe(buf: Buffer): string | undefined {
  const start = buf.indexOf(MLLP_START);
  if (start === -1) return undefined;
  const end = buf.indexOf(MLLP_END, start + 1);
  if (end === -1) return undefined;
  return buf.subarray(start + 1, end).toString('utf8');
}

export class MllpTransport implements IisTransport {
  readonly kind = 'mllp' as const;
  constructor(private readonly endpoint: MllpEndpoint) {}

  send(hl7: string): Promise<string> {
    const timeoutMs = this.endpoint.timeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: this.endpoint.host, port: this.endpoint.port });
      let received = Buffer.alloc(0);
      let done = false;
      const finish = (err: IisTransportError | undefined, answer?: string): void => {
        if (done) return;
        done = true;
        socket.destroy();
        if (err) reject(err);
        else resolve(answer!);
      };
      socket.setTimeout(timeoutMs, () => finish(new IisTransportError('network', `No MLLP answer within ${timeoutMs} ms`)));
      socket.on('connect', () => socket.write(mllpFrame(hl7)));
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        const answer = mllpUnframe(received);
        if (answer !== undefined) finish(undefined, answer);
      });
      socket.on('error', (e) => finish(new IisTransportError('network', `MLLP ${this.endpoint.host}:${this.endpoint.port}: ${e.message}`)));
      socket.on('close', () => finish(new IisTransportError('network', 'MLLP connection closed before an answer arrived')));
    });
  }

  async close(): Promise<void> {}
}
