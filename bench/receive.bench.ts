/**
 * Issue 15's table: live migration of an idle 1 GiB sample domain into a memory image,
 * as the operator runs it (`xenmig receive --into DIR` and `xenmig migrate --to`, two
 * processes over loopback TCP), timed by the sender's own "migrated ... in T ms", beside
 * the storing pump the issue names: loopback TCP, Node's plain
 * `socket.pipe(fs.createWriteStream(file))`, then fsync, in the same folder, timed from
 * the sender's first write to the reader closing after its fsync.
 *
 * Both on disk (XENMIG_BENCH_DIR, default the OS temp folder) and on tmpfs (/dev/shm),
 * XENMIG_BENCH_RUNS runs each (default 5), alternating, each figure the median with its
 * spread (min-max) and the ratio of medians. XENMIG_BENCH_BEFORE=/path/to/other/bin/xenmig
 * times another build's two ends in the same run (before/after). XENMIG_BENCH_MIB sizes
 * the domain (default 1024); XENMIG_BENCH_PLACES=disk,tmpfs,pool picks sections.
 *
 * "pool": what the receiver's socket pool (src/io/pooled-socket.ts, the one use of Node
 * internals) buys: the same migration into a receiver in this build that reads its
 * socket through the pool, and into one that reads it as a plain stream (the fallback on
 * a Node where the internals change), on tmpfs where the receiver's CPU shows most,
 * with each receiver's CPU time.
 * Prints figures; never judges them.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { storingPump } from './storing-pump.js';

const MiB = 1024 * 1024;
const XENMIG = fileURLToPath(new URL('../../bin/xenmig', import.meta.url));

/** One migration between two processes of `bin`; the sender's own "migrated ... in T ms", in seconds. */
async function migrateCli(bin: string, mib: number, dir: string): Promise<number> {
  const into = join(dir, `xenmig-image-${process.pid}`);
  const receiver = spawn(bin, ['receive', '--listen', '127.0.0.1:0', '--into', into, '--quiet'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<number>((r) => receiver.once('exit', (code) => r(code ?? 70)));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      createInterface({ input: receiver.stderr! }).on('line', (l) => {
        const m = /listening on [^\s]+:(\d+)$/.exec(l);
        if (m) resolve(Number(m[1]));
      });
      void exited.then((c) => reject(new Error(`receiver exited ${c} before listening`)));
    });
    const sender = spawn(bin, ['migrate', '--to', `127.0.0.1:${port}`, '--memory', String(mib), '--dirty-rate', '0', '--quiet'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let text = '';
    sender.stdout!.on('data', (b: Buffer) => (text += b.toString()));
    const code = await new Promise<number>((r) => sender.once('exit', (c) => r(c ?? 70)));
    if (code !== 0) throw new Error(`${bin} migrate exited ${code}`);
    if ((await exited) !== 0) throw new Error(`${bin} receive failed`);
    const m = /migrated: .* in (\d+) ms/.exec(text);
    if (!m) throw new Error(`no "migrated ... in T ms" from ${bin} migrate: ${text}`);
    return Number(m[1]) / 1000;
  } finally {
    receiver.kill();
    rmSync(into, { recursive: true, force: true });
  }
}

/**
 * A receiver of this build in a child process, reading its socket pooled or as a plain
 * stream; prints its port, then its CPU seconds (user, system) when done.
 */
const RECEIVER = (dist: string, into: string, pooled: boolean): string => `
const net = require('node:net');
(async () => {
  const { receiveMigration } = await import('${dist}/src/migrate/receiver.js');
  const { socketChannel } = await import('${dist}/src/migrate/transport.js');
  const { MemoryImage } = await import('${dist}/src/domain/image/memory-image.js');
  const server = net.createServer(async (sock) => {
    server.close();
    const ch = socketChannel(sock, { receiving: ${pooled} });
    await receiveMigration(ch, { createSink: () => MemoryImage.create(${JSON.stringify(into)}) });
    await ch.close();
    const cpu = process.cpuUsage();
    console.log(cpu.user / 1e6, cpu.system / 1e6);
  });
  server.listen(0, '127.0.0.1', () => console.log(server.address().port));
})();
`;

/** Seconds by the sender's clock, and the receiver's CPU seconds (user + system). */
async function migrateInto(pooled: boolean, mib: number, dir: string): Promise<{ secs: number; cpu: number }> {
  const dist = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
  const into = join(dir, `xenmig-image-${process.pid}`);
  const child = spawn(process.execPath, ['-e', RECEIVER(dist, into, pooled)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const port = Number((await lines.next()).value);
    const sender = spawn(XENMIG, ['migrate', '--to', `127.0.0.1:${port}`, '--memory', String(mib), '--dirty-rate', '0', '--quiet'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let text = '';
    sender.stdout!.on('data', (b: Buffer) => (text += b.toString()));
    const [user, sys] = String((await lines.next()).value).split(' ').map(Number);
    await new Promise<void>((r) => (sender.exitCode !== null ? r() : sender.once('exit', () => r())));
    const m = /migrated: .* in (\d+) ms/.exec(text);
    if (!m) throw new Error(`no "migrated ... in T ms" from xenmig migrate: ${text}`);
    return { secs: Number(m[1]) / 1000, cpu: user! + sys! };
  } finally {
    child.kill();
    rmSync(into, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const fmt = (xs: number[]): string => `${median(xs).toFixed(2)} s (${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)})`;

export async function run(): Promise<void> {
  const mib = Number(process.env.XENMIG_BENCH_MIB ?? 1024);
  const n = Number(process.env.XENMIG_BENCH_RUNS ?? 5);
  const before = process.env.XENMIG_BENCH_BEFORE;
  const builds: [string, string][] = before ? [['before', before], ['this build', XENMIG]] : [['this build', XENMIG]];
  const diskBase = process.env.XENMIG_BENCH_DIR ?? tmpdir();
  const allPlaces: [string, string][] = [['disk', diskBase]];
  if (existsSync('/dev/shm')) allPlaces.push(['tmpfs', '/dev/shm']);
  const only = process.env.XENMIG_BENCH_PLACES;
  const places = allPlaces.filter(([p]) => only === undefined || only.split(',').includes(p));
  const poolSection = only === undefined || only.split(',').includes('pool');
  const out = (l: string): void => void process.stdout.write(l + '\n');
  for (const [place, where] of places) {
    const dir = mkdtempSync(join(where, 'xenmig-bench-receive-'));
    try {
      const pump: number[] = [];
      const migs = new Map<string, number[]>(builds.map(([l]) => [l, []]));
      for (let i = 0; i < n; i++) {
        pump.push(await storingPump(mib * MiB, dir));
        for (const [label, bin] of builds) migs.get(label)!.push(await migrateCli(bin, mib, dir));
        out(`  ${place} run ${i + 1}: pump ${pump[i]!.toFixed(2)} s, ${builds.map(([l]) => `${l} ${migs.get(l)![i]!.toFixed(2)} s`).join(', ')}`);
      }
      out(`${place} (${dir.replace(/\/xenmig-bench-receive-.*/, '')}), ${mib} MiB idle, ${n} runs: median (min-max)`);
      out(`  storing pump (loopback TCP, socket.pipe(fs.createWriteStream(file)), then fsync): ${fmt(pump)}`);
      for (const [label] of builds) {
        const xs = migs.get(label)!;
        out(`  xenmig migrate -> receive --into, ${label}: ${fmt(xs)} = ${(median(xs) / median(pump)).toFixed(2)}x the pump`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  if (poolSection) {
    const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'xenmig-bench-receive-'));
    try {
      const runs = { pooled: [] as { secs: number; cpu: number }[], plain: [] as { secs: number; cpu: number }[] };
      for (let i = 0; i < n; i++) {
        runs.pooled.push(await migrateInto(true, mib, dir));
        runs.plain.push(await migrateInto(false, mib, dir));
        out(`  pool run ${i + 1}: pooled ${runs.pooled[i]!.secs.toFixed(2)} s (receiver CPU ${runs.pooled[i]!.cpu.toFixed(2)} s), plain ${runs.plain[i]!.secs.toFixed(2)} s (${runs.plain[i]!.cpu.toFixed(2)} s)`);
      }
      const secs = (k: 'pooled' | 'plain'): number[] => runs[k].map((r) => r.secs);
      const cpu = (k: 'pooled' | 'plain'): number[] => runs[k].map((r) => r.cpu);
      out(`receiver socket pool (src/io/pooled-socket.ts), ${mib} MiB idle into tmpfs, ${n} runs: median (min-max)`);
      out(`  plain stream source (Node's own buffers): ${fmt(secs('plain'))}, receiver CPU ${fmt(cpu('plain'))}`);
      out(`  pooled: ${fmt(secs('pooled'))} = ${(median(secs('pooled')) / median(secs('plain'))).toFixed(2)}x, receiver CPU ${fmt(cpu('pooled'))} = ${(median(cpu('pooled')) / median(cpu('plain'))).toFixed(2)}x`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

if (process.argv[1]?.endsWith('receive.bench.js')) await run();
