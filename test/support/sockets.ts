/** A connected loopback TCP pair: the accepted (server) side is what the receiver adopts. */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export async function socketPair(): Promise<{ client: Socket; server: Socket; close(): void }> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const accepted = new Promise<Socket>((r) => srv.once('connection', r));
  const client = connect((srv.address() as AddressInfo).port, '127.0.0.1');
  await new Promise<void>((r) => client.once('connect', () => r()));
  const server = await accepted;
  srv.close();
  return { client, server, close: () => (client.destroy(), server.destroy()) };
}
