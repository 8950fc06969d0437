/** A registry speaking the CDC SOAP web service, built with the `soap` package on the same CDC 2011 WSDL. */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as soap from 'soap';
import { parseHl7 } from '../../src/sync/iis/hl7-message.js';
import { CDC_IIS_2011_WSDL } from '../../src/sync/iis/soap-transport.js';
import { RegistryBrain, replyText } from './registry-brain.js';

export interface SoapPeer {
  url: string;
  brain: RegistryBrain;
  /** Credentials the peer accepts; anything else is a SecurityFault. */
  credentials: { username: string; password: string };
  /** How connectivityTest answers: echo (default), or one of the WSDL's faults for that operation. */
  connectivity: 'echo' | 'UnknownFault' | 'UnsupportedOperationFault';
  close(): Promise<void>;
}

function fault(name: string, code: number, reason: string): never {
  // SOAP 1.2 fault: Code/Reason, and the CDC fault element in Detail.
  throw {
    Fault: {
      Code: { Value: 'soap:Receiver' },
      Reason: { Text: reason },
      Detail: { [name]: { Code: code, Reason: reason, Detail: reason } },
      statusCode: 500,
    },
  };
}

export async function startSoapPeer(): Promise<SoapPeer> {
  const brain = new RegistryBrain();
  const credentials = { username: 'vaxhub', password: 'secret-1' };
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const peer: SoapPeer = { url: '', brain, credentials, connectivity: 'echo', close: async () => undefined };
  const service = {
    client_Service: {
      client_Port_Soap12: {
        connectivityTest(args: { echoBack?: string }) {
          if (peer.connectivity === 'UnsupportedOperationFault') fault('UnsupportedOperationFault', 3, 'connectivityTest is not supported by this registry');
          if (peer.connectivity === 'UnknownFault') fault('fault', 1, 'registry database unavailable');
          return { return: args.echoBack ?? '' };
        },
        submitSingleMessage(args: { username?: string; password?: string; facilityID?: string; hl7Message?: string }) {
          if (args.username !== credentials.username || args.password !== credentials.password) {
            fault('SecurityFault', 10, 'Invalid username/password');
          }
          const text = args.hl7Message ?? '';
          const reply = brain.answer(text);
          if ('fault' in reply) fault(reply.fault, 1, reply.reason);
          if ('hangUp' in reply) fault('fault', 2, 'hang up');
          return { return: replyText(parseHl7(text), reply) };
        },
      },
    },
  };
  // soap attaches its request listener only once the WSDL is parsed: a request before that would hang unanswered,
  // so the peer is ready when the callback says so.
  await new Promise<void>((resolve, reject) => {
    soap.listen(server, {
      path: '/IISService2011',
      services: service,
      xml: fs.readFileSync(CDC_IIS_2011_WSDL, 'utf8'),
      uri: CDC_IIS_2011_WSDL,
      forceSoap12Headers: true,
      callback: (err: unknown) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve()),
    });
  });
  const { port } = server.address() as AddressInfo;
  Object.assign(peer, {
    url: `http://127.0.0.1:${port}/IISService2011`,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  });
  return peer;
}
