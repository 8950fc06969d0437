/**
 * The CDC IIS SOAP web service as a server (WSDL `urn:cdc:iisb:2011`, SOAP 1.2, the copy in ../iis/wsdl), on the
 * hub's HTTP server: submitSingleMessage takes one HL7 message from a sender authenticated by username, password and
 * facilityID (a SecurityFault otherwise) and returns the answer; connectivityTest echoes. Built with the `soap`
 * package the hub's registry client uses. Faults are SOAP 1.2 faults carrying the WSDL's fault element in Detail.
 * A body that is not a SOAP request the service can bind (no XML, another operation) is a Sender fault with 400,
 * never a 500.
 * @see https://www.cdc.gov/vaccines/programs/iis/technical-guidance/soap/services.html
 */
import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import express, { type Router } from 'express';
import * as soap from 'soap';
import { CDC_IIS_2011_WSDL } from '../iis/soap-transport.js';
import { authenticateSoap, type IisSender } from './senders.js';
import type { Db } from '../../store/db.js';

export interface SoapServiceOptions {
  path: string;
  db: Db;
  /** The HL7 message of an authenticated sender in, the answer out. */
  onMessage(sender: IisSender, hl7: string, req: IncomingMessage): Promise<string>;
  maxBytes?: number;
}

type FaultName = 'fault' | 'SecurityFault' | 'MessageTooLargeFault' | 'UnsupportedOperationFault';

/** Set on a response whose 500 is the service's own fault (kept), not the soap server's refusal of the request. */
const SENDER_FAULT_MARK = Symbol('soap service fault');

/** A SOAP 1.2 fault with the CDC element in Detail; the sender's faults are HTTP 400, the hub's own 500. */
function fault(name: FaultName, code: number, reason: string, sender: boolean): { Fault: Record<string, unknown> } {
  return {
    Fault: {
      Code: { Value: sender ? 'soap:Sender' : 'soap:Receiver' },
      Reason: { Text: reason },
      Detail: { [name]: { Code: code, Reason: reason, Detail: reason } },
      statusCode: sender ? 400 : 500,
    },
  };
}

function senderFaultXml(reason: string): string {
  const esc = reason.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return (
    '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" xmlns:tns="urn:cdc:iisb:2011">' +
    `<soap:Body><soap:Fault><soap:Code><soap:Value>soap:Sender</soap:Value></soap:Code><soap:Reason><soap:Text xml:lang="en">${esc}</soap:Text></soap:Reason>` +
    `<soap:Detail><tns:fault><tns:Code>400</tns:Code><tns:Reason>${esc}</tns:Reason></tns:fault></soap:Detail></soap:Fault></soap:Body></soap:Envelope>`
  );
}

const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : typeof v === 'object' && '$value' in v ? String((v as { $value: unknown }).$value) : String(v));

export function soapServiceRouter(opts: SoapServiceOptions): Router {
  const router = express.Router();
  const maxBytes = opts.maxBytes ?? 2_000_000;
  // The body is read here (bounded) and handed to the soap server, which otherwise reads it itself.
  router.use(opts.path, express.raw({ type: () => true, limit: maxBytes }), (req, res, next) => {
    if (req.method === 'POST' && (!Buffer.isBuffer(req.body) || req.body.length === 0)) {
      res.status(400).type('application/soap+xml').send(senderFaultXml('An empty request is not a SOAP message'));
      return;
    }
    if (req.method !== 'POST' && req.method !== 'GET') {
      res.status(405).set('allow', 'GET, POST').type('application/soap+xml').send(senderFaultXml(`${req.method} is not a SOAP operation: POST a SOAP 1.2 envelope`));
      return;
    }
    // What the soap server answers 500 to without a fault of ours is a request it could not read or bind: the
    // caller's mistake, so a Sender fault with 400.
    const end = res.end.bind(res) as (...a: unknown[]) => typeof res;
    (res as unknown as { end: (...a: unknown[]) => typeof res }).end = (...args: unknown[]) => {
      if (res.statusCode === 500 && !(res.locals as Record<symbol, boolean>)[SENDER_FAULT_MARK]) {
        res.statusCode = 400;
        res.setHeader('content-type', 'application/soap+xml; charset=utf-8');
        const xml = senderFaultXml('The request is not a SOAP 1.2 envelope with submitSingleMessage or connectivityTest');
        res.setHeader('content-length', Buffer.byteLength(xml));
        return end(xml);
      }
      return end(...args);
    };
    next();
  });
  const service = {
    client_Service: {
      client_Port_Soap12: {
        connectivityTest(args: { echoBack?: unknown }) {
          return { return: str(args?.echoBack) };
        },
        async submitSingleMessage(args: Record<string, unknown>, _cb: unknown, _headers: unknown, req: IncomingMessage, res?: express.Response) {
          const username = str(args?.username);
          const password = str(args?.password);
          const facilityId = str(args?.facilityID);
          const mark = (): void => {
            if (res?.locals) (res.locals as Record<symbol, boolean>)[SENDER_FAULT_MARK] = true;
          };
          const sender = username && password ? await authenticateSoap(opts.db, username, password, facilityId).catch(() => undefined) : undefined;
          if (!sender) throw fault('SecurityFault', 10, 'Invalid username, password or facilityID', true);
          const hl7 = str(args?.hl7Message);
          if (hl7.length > maxBytes) throw fault('MessageTooLargeFault', 20, `The message is larger than ${maxBytes} bytes`, true);
          try {
            return { return: await opts.onMessage(sender, hl7, req) };
          } catch {
            mark();
            throw fault('fault', 1, 'The message could not be processed; send it again later', false);
          }
        },
      },
    },
  };
  soap.listen(router as unknown as Parameters<typeof soap.listen>[0], {
    path: opts.path,
    services: service,
    xml: fs.readFileSync(CDC_IIS_2011_WSDL, 'utf8'),
    uri: CDC_IIS_2011_WSDL,
    forceSoap12Headers: true,
    suppressStack: true,
    enableChunkedEncoding: false,
  } as soap.IServerOptions);
  return router;
}
