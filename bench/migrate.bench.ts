/**
 * Migration speed, measured in one run on one machine:
 * - the limit: a plain byte pump over loopback TCP between two processes (4 MiB writes,
 *   the reader discards);
 * - the same pump with a reader that writes what it reads to a file on the scratch
 *   filesystem (tmpfs): the most any receiver that stores the memory could do here;
 * - xenmig: a 1 GiB idle sample domain migrated live to a `xenmig receive` process
 *   (preflight, xl handshake, the restore engine writing a memory image on tmpfs);
 * - downtime (suspend to the receiver's "ready") for 1 GiB with a 5000 pages/s hot-set
 *   workload, over a few runs.
 * Prints figures; never passes or fails on time.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { SimulatedDomain } from '../src/domain/simulated/simulated-domain.js';
import { migrateDomain, type MigrateResult } from '../src/migrate/sender.js';
import { connectChannel } from '../src/migrate/transport.js';
import { scratchBase, spawnReceiver } from '../src/cli/demo.js';
import { DISCARDING_READER, loopbackPump } from './storing-pump.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/**
 * A reader that keeps what it reads: each chunk written in order to a file on
 * the scratch filesystem the memory image goes to, gathered into 2 MiB vectored writes
 * by the thread pool (two in flight, so reading goes on meanwhile; the socket pauses
 * past 8 MiB queued), as xenmig's receiver writes. No
 * parsing, no page placement: about the most any receiver that stores a guest's memory
 * can do on this machine. Not issue 15's storing pump (socket.pipe, then fsync;
 * bench/storing-pump.ts, which bench/receive sets beside `receive --into`): this one
 * is the ceiling, that one the plain way.
 */
const VECTORED_STORER = (file: string): string => `
const net = require('node:net');
const fs = require('node:fs');
const fd = fs.openSync(${JSON.stringify(file)}, 'w');
let position = 0, inFlight = 0, queued = 0, ended = false;
let batch = [], batchBytes = 0;
let sock;
function pump() {
  while (inFlight < 2 && (batchBytes >= 2 * 1048576 || (ended && batchBytes > 0))) {
    const chunks = batch, bytes = batchBytes, at = position;
    batch = []; batchBytes = 0; position += bytes;
    inFlight++;
    fs.writev(fd, chunks, at, (err) => {
      if (err) throw err;
      inFlight--; queued -= bytes;
      if (queued < 4 * 1048576) sock.resume();
      pump();
    });
  }
  if (ended && inFlight === 0 && batchBytes === 0) {
    fs.closeSync(fd); fs.unlinkSync(${JSON.stringify(file)}); sock.end(); server.close();
  }
}
const server = net.createServer((s) => {
  sock = s;
  s.on('data', (b) => {
    batch.push(b); batchBytes += b.length; queued += b.length;
    if (queued > 8 * 1048576) s.pause();
    pump();
  });
  s.on('end', () => { ended = true; pump(); });
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

/**
 * Octets per second of a plain pump: this process writes, a child process reads and
 * discards (or, with `storeIn`, writes what it reads to a file there).
 */
async function bytePump(total: number, storeIn?: string): Promise<number> {
  const reader = storeIn === undefined ? DISCARDING_READER : VECTORED_STORER(join(storeIn, `xenmig-pump-${process.pid}`));
  return total / (await loopbackPump(total, reader));
}

async function migrateOnce(memoryMiB: number, dirtyRate: number): Promise<MigrateResult> {
  const dir = await mkdtemp(join(await scratchBase(), 'xenmig-bench-'));
  try {
    const receiver = await spawnReceiver(['--into', join(dir, 'image'), '--quiet'], () => undefined);
    const domain = SimulatedDomain.create({
      guest: 'hvm',
      memoryMiB,
      seed: 1,
      workload: dirtyRate > 0 ? { rate: dirtyRate, pattern: 'hotset' } : undefined,
    });
    domain.start();
    const channel = await connectChannel('127.0.0.1', receiver.port);
    const result = await migrateDomain(domain, channel);
    await channel.close();
    domain.destroy();
    const code = await receiver.exited;
    if (code !== 0) throw new Error(`receiver exited with ${code}`);
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The same migration into a receiver that runs the whole handshake and restore engine
 * but keeps no pages (a sink that discards them): what the protocol and framing cost
 * without the memory image's writes.
 */
const DISCARD_RECEIVER = (dist: string): string => `
const net = require('node:net');
(async () => {
  const { receiveMigration } = await import('${dist}/src/migrate/receiver.js');
  const { socketChannel } = await import('${dist}/src/migrate/transport.js');
  const { SimulatedDomain } = await import('${dist}/src/domain/simulated/simulated-domain.js');
  const sink = SimulatedDomain.empty();
  sink.writePages = async () => {};
  sink.populate = async () => {};
  // Page types too: the simulated domain grows its memory to fit each pfn typed (a 1 GiB
  // zero-filled buffer and 256 MiB of copies), which this receiver would otherwise measure.
  sink.setPageTypes = async () => {};
  const server = net.createServer(async (sock) => {
    server.close();
    const ch = socketChannel(sock, { receiving: true });
    await receiveMigration(ch, { createSink: async () => sink });
    await ch.close();
  });
  server.listen(0, '127.0.0.1', () => console.log(server.address().port));
})();
`;

async function migrateToDiscard(memoryMiB: number): Promise<MigrateResult> {
  const dist = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
  const child = spawn(process.execPath, ['-e', DISCARD_RECEIVER(dist)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => createInterface({ input: child.stdout! }).once('line', (l) => resolve(Number(l))));
  const domain = SimulatedDomain.create({ guest: 'hvm', memoryMiB, seed: 1 });
  domain.start();
  const channel = await connectChannel('127.0.0.1', port);
  const result = await migrateDomain(domain, channel);
  await channel.close();
  domain.destroy();
  await new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));
  return result;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function run(): Promise<void> {
  const out = (l: string): void => void process.stdout.write(l + '\n');
  const pumps: number[] = [];
  const storing: number[] = [];
  const migs: number[] = [];
  const discards: number[] = [];
  const scratch = await scratchBase();
  for (let i = 0; i < 3; i++) {
    pumps.push(await bytePump(GiB));
    storing.push(await bytePump(GiB, scratch));
    const r = await migrateOnce(1024, 0);
    migs.push(r.save!.bytes / (r.totalMs / 1000));
    const d = await migrateToDiscard(1024);
    discards.push(d.save!.bytes / (d.totalMs / 1000));
    out(
      `run ${i + 1}: byte pump ${(pumps[i]! / MiB).toFixed(0)} MiB/s, storing pump ${(storing[i]! / MiB).toFixed(0)} MiB/s, ` +
        `xenmig 1 GiB idle ${(migs[i]! / MiB).toFixed(0)} MiB/s (${r.totalMs.toFixed(0)} ms, downtime ${r.downtimeMs!.toFixed(1)} ms), ` +
        `into a discarding receiver ${(discards[i]! / MiB).toFixed(0)} MiB/s`,
    );
  }
  const p = median(pumps);
  const st = median(storing);
  const m = median(migs);
  out(`loopback byte pump (limit), median of 3: ${(p / MiB).toFixed(0)} MiB/s`);
  out(`the same pump whose reader writes what it reads to a file in ${scratch}, median of 3: ${(st / MiB).toFixed(0)} MiB/s = ${((100 * st) / p).toFixed(0)}% of the pump`);
  out(`xenmig live migration, 1 GiB idle, median of 3: ${(m / MiB).toFixed(0)} MiB/s = ${((100 * m) / p).toFixed(0)}% of the pump, ${((100 * m) / st).toFixed(0)}% of the storing pump`);
  const dm = median(discards);
  out(`xenmig live migration, 1 GiB idle, receiver keeping no pages, median of 3: ${(dm / MiB).toFixed(0)} MiB/s = ${((100 * dm) / p).toFixed(0)}% of the pump`);
  const downs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await migrateOnce(1024, 5000);
    downs.push(r.downtimeMs!);
    out(`downtime run ${i + 1}: 1 GiB, 5000 pages/s hot set: ${r.downtimeMs!.toFixed(1)} ms (rounds ${r.save!.pagesPerRound.join(', ')})`);
  }
  out(`downtime, 1 GiB with 5000 pages/s hot set, median of 3: ${median(downs).toFixed(1)} ms`);
}

if (process.argv[1]?.endsWith('migrate.bench.js')) await run();
