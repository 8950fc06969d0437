/**
 * "Can we reach this registry?" for operators. SOAP: the CDC web service's own connectivityTest operation (the
 * registry echoes the text; UnknownFault / UnsupportedOperationFault come back as faults). MLLP has no such
 * operation, so the check is that the registry's port accepts a TCP connection.
 * @see https://www.cdc.gov/vaccines/programs/iis/technical-guidance/soap/services.html
 */
import net from 'node:net';
import type { IisConnection } from './connections.js';
import { SoapTransport } from './soap-transport.js';
import { IisTransportError, type TransportFailure } from './transport.js';

export type ConnectivityResult =
  | { ok: true; transport: 'soap'; echo: string; ms: number }
  | { ok: true; transport: 'mllp'; ms: number }
  | { ok: false; transport: 'soap' | 'mllp'; failure: TransportFailure; message: string; ms: number };

function tcpReachable(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const fail = (message: string): void => {
      socket.destroy();
      reject(new IisTransportError('network', message));
    };
    socket.setTimeout(timeoutMs, () => fail(`no TCP connection to ${host}:${port} within ${timeoutMs} ms`));
    socket.once('error', (e) => fail(`${host}:${port}: ${e.message}`));
    socket.once('connect', () => {
      socket.end();
      resolve();
    });
  });
}

export async function testConnectivity(c: IisConnection, echoBack = 'vaxhub connectivity test', timeoutMs = 10_000): Promise<ConnectivityResult> {
  const started = Date.now();
  const ms = (): number => Date.now() - started;
  try {
    if (c.transport === 'soap') {
      const t = new SoapTransport({ transport: 'soap', url: c.endpoint, ...c.credentials, facilityId: c.facilityId, timeoutMs });
      try {
        return { ok: true, transport: 'soap', echo: await t.connectivityTest(echoBack), ms: ms() };
      } finally {
        await t.close();
      }
    }
    const [host, port] = c.endpoint.split(':');
    await tcpReachable(host!, Number(port), timeoutMs);
    return { ok: true, transport: 'mllp', ms: ms() };
  } catch (e) {
    if (!(e instanceof IisTransportError)) throw e;
    return { ok: false, transport: c.transport, failure: e.failure, message: e.message, ms: ms() };
  }
}
