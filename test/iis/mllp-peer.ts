/**
 * A registry listening on MLLP, built with node-hl7-server. Its SendResponse writes only a plain ACK, so the
 * peer swaps in the registry's own ACK text (with ERR segments) for the one the library would build; framing,
 * socket handling and parsing of the incoming message stay the library's.
 */
import { Server } from 'node-hl7-server';
import net from 'node:net';
import { parseHl7 } from '../../src/sync/iis/hl7-message.js';
import { RegistryBrain, replyText } from './registry-brain.js';

export interface MllpPeer {
  port: number;
  brain: RegistryBrain;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** `brain` lets a registry that goes down and comes back on the same port keep its memory of deliveries. */
export async function startMllpPeer(port?: number, brain = new RegistryBrain()): Promise<MllpPeer> {
  const listenPort = port ?? (await freePort());
  const server = new Server({ bindAddress: '127.0.0.1' });
  const inbound = server.createInbound({ port: listenPort }, async (req, res) => {
    const text = req.getMessage().toString();
    const reply = brain.answer(text);
    if ('hangUp' in reply || 'fault' in reply) {
      (res as unknown as { _socket: net.Socket })._socket.destroy();
      return;
    }
    const answer = replyText(parseHl7(text), reply)!;
    (res as unknown as { _createAckMessage: () => { toString(): string } })._createAckMessage = () => ({ toString: () => answer });
    await res.sendResponse('AA');
  });
  await new Promise((r) => setTimeout(r, 50));
  return {
    port: listenPort,
    brain,
    close: async () => {
      await inbound.close();
    },
  };
}
