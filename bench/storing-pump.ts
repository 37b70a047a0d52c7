/**
 * The loopback pumps the migration benches set xenmig beside: this process writes
 * `total` octets in 4 MiB writes over loopback TCP to a reader in a child process, timed
 * from the first write until the reader, done, has closed its end. What the reader does
 * with the octets is what a pump is named for: the byte pump discards them; the storing
 * pump is issue 15's baseline, word for word.
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ioBuffer } from '../src/io/io-buffer.js';

const MiB = 1024 * 1024;

/** Reads and discards: the limit of loopback TCP between two node processes. */
export const DISCARDING_READER = `
const net = require('node:net');
const server = net.createServer((s) => {
  s.on('data', () => {});
  s.on('end', () => { s.end(); server.close(); });
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

/** The storing pump, word for word: socket.pipe(fs.createWriteStream(file)), then fsync. */
const PIPE_STORER = (file: string): string => `
const net = require('node:net');
const fs = require('node:fs');
const server = net.createServer((s) => {
  server.close();
  const out = fs.createWriteStream(${JSON.stringify(file)});
  s.pipe(out);
  out.on('finish', () => {
    fs.fsyncSync(out.fd);
    fs.unlinkSync(${JSON.stringify(file)});
    s.end();
  });
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

/**
 * Seconds to pump `total` octets into `reader`: a node script that prints the port it
 * listens on, reads one connection to its end, and then ends its side.
 */
export async function loopbackPump(total: number, reader: string): Promise<number> {
  const child = spawn(process.execPath, ['-e', reader], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => createInterface({ input: child.stdout! }).once('line', (l) => resolve(Number(l))));
  const chunk = ioBuffer(4 * MiB).fill(0x5a);
  const sock = connect(port, '127.0.0.1');
  await new Promise<void>((r) => sock.once('connect', () => r()));
  // The reader sends nothing but its end; reading lets that end arrive.
  sock.resume();
  const t0 = performance.now();
  for (let sent = 0; sent < total; sent += chunk.length) {
    if (!sock.write(chunk)) await new Promise<void>((r) => sock.once('drain', () => r()));
  }
  sock.end();
  await new Promise<void>((r) => sock.once('close', () => r()));
  const secs = (performance.now() - t0) / 1000;
  await new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));
  return secs;
}

/** Seconds until issue 15's storing pump has stored `total` octets in a file in `dir`, fsynced them and closed. */
export function storingPump(total: number, dir: string): Promise<number> {
  return loopbackPump(total, PIPE_STORER(join(dir, `xenmig-pump-${process.pid}`)));
}
