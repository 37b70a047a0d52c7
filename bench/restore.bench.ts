/**
 * Restore, extract and convert of a big stream beside `cp` of the same file, in the
 * same run, on the same disk. Each command runs in its own process so its peak RSS is
 * its own. Size: XENMIG_BENCH_MIB (default 2048); place: XENMIG_BENCH_DIR (default tmp).
 * Prints figures; never judges them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sampleHvmContext } from '../src/domain/simulated/sample.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

/** A v3 HVM stream of `mib` MiB of pages, 1024 pages per PAGE_DATA, written straight to disk. */
async function writeStream(path: string, mib: number): Promise<number> {
  const pagesPerRecord = 1024;
  const records = Math.max(1, Math.floor((mib * 256) / pagesPerRecord));
  const fh = await open(path, 'w');
  const head = Buffer.alloc(40 + 8);
  head.writeBigUInt64BE(0xffffffffffffffffn, 0);
  head.writeUInt32BE(0x58454e46, 8);
  head.writeUInt32BE(3, 12);
  head.writeUInt32LE(2, 24);
  head.writeUInt16LE(12, 28);
  head.writeUInt32LE(4, 32);
  head.writeUInt32LE(19, 36);
  head.writeUInt32LE(0x10, 40); // STATIC_DATA_END, empty
  let pos = 0;
  const put = async (b: Uint8Array): Promise<void> => {
    await fh.write(b, 0, b.length, pos);
    pos += b.length;
  };
  await put(head);
  const body = Buffer.alloc(16 + 8 * pagesPerRecord + 4096 * pagesPerRecord);
  const pages = body.subarray(16 + 8 * pagesPerRecord);
  for (let i = 0; i < pages.length; i += 4) pages.writeUInt32LE((i * 2654435761) >>> 0, i);
  body.writeUInt32LE(1, 0);
  body.writeUInt32LE(body.length - 8, 4);
  body.writeUInt32LE(pagesPerRecord, 8);
  for (let r = 0; r < records; r++) {
    for (let i = 0; i < pagesPerRecord; i++) body.writeBigUInt64LE(BigInt(r * pagesPerRecord + i), 16 + 8 * i);
    pages.writeUInt32LE(r, 0);
    await put(body);
  }
  // A context hvm_load takes: restore refuses what verify calls an error.
  const blob = sampleHvmContext(1);
  const ctx = Buffer.alloc(8 + Math.ceil(blob.length / 8) * 8);
  ctx.writeUInt32LE(9, 0);
  ctx.writeUInt32LE(blob.length, 4);
  ctx.set(blob, 8);
  await put(ctx);
  await put(Buffer.alloc(8)); // END
  await fh.sync();
  await fh.close();
  return pos;
}

interface Run {
  seconds: number;
  maxRssMiB?: number;
}

function timeCp(from: string, to: string): Run {
  const t = process.hrtime.bigint();
  const r = spawnSync('cp', [from, to]);
  if (r.status !== 0) throw new Error(`cp failed: ${r.stderr}`);
  spawnSync('sync', [to]);
  return { seconds: Number(process.hrtime.bigint() - t) / 1e9 };
}

const HAVE_TIME = existsSync('/usr/bin/time');

function timeXenmig(args: string[]): Run {
  const script = `import { main } from ${JSON.stringify(MAIN)};
const code = await main(['node', 'xenmig', ...${JSON.stringify(args)}]);
process.stderr.write('\\nBENCH ' + JSON.stringify({ code, maxRSS: process.resourceUsage().maxRSS }) + '\\n');`;
  // Linux carries a forked child's peak RSS across exec: a child forked straight from this
  // process (which may hold a 1 GiB simulated domain from an earlier bench) would report
  // this process's size. /usr/bin/time forks the command from its own small process and
  // reports the command's peak alone.
  const node = [process.execPath, '--input-type=module', '-e', script];
  const t = process.hrtime.bigint();
  const r = HAVE_TIME
    ? spawnSync('/usr/bin/time', ['-f', 'BENCHRSS %M', ...node], { maxBuffer: 1 << 24 })
    : spawnSync(node[0]!, node.slice(1), { maxBuffer: 1 << 24 });
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  const lines = r.stderr.toString().split('\n');
  const line = lines.find((l) => l.startsWith('BENCH '));
  if (!line) throw new Error(`xenmig ${args.join(' ')} failed: ${r.stderr}`);
  const { code, maxRSS } = JSON.parse(line.slice(6)) as { code: number; maxRSS: number };
  if (code !== 0) throw new Error(`xenmig ${args.join(' ')} exited ${code}: ${r.stderr}`);
  const timed = lines.find((l) => l.startsWith('BENCHRSS '));
  return { seconds, maxRssMiB: (timed ? Number(timed.slice(9)) : maxRSS) / 1024 };
}

export async function run(): Promise<void> {
  const mib = Number(process.env.XENMIG_BENCH_MIB ?? 2048);
  const dir = await mkdtemp(join(process.env.XENMIG_BENCH_DIR ?? tmpdir(), 'xenmig-bench-restore-'));
  try {
    const stream = join(dir, 'stream');
    const size = await writeStream(stream, mib);
    const gib = size / 2 ** 30;
    console.log(`restore/extract/convert bench: ${(size / 2 ** 20).toFixed(0)} MiB v3 HVM stream in ${dir}`);
    timeCp(stream, join(dir, 'warm')); // same page-cache state for everything after
    await rm(join(dir, 'warm'));
    // Shared machines are noisy: interleave the commands, several rounds, report best and median.
    const rounds = Math.max(1, Number(process.env.XENMIG_BENCH_ROUNDS ?? 5));
    const steps: [string, string, () => Run][] = [
      ['cp', 'copy', () => timeCp(stream, join(dir, 'copy'))],
      ['restore --into', 'img', () => timeXenmig(['restore', stream, '--into', join(dir, 'img'), '--quiet'])],
      ['extract --raw', 'm.raw', () => timeXenmig(['extract', stream, '--raw', join(dir, 'm.raw'), '--quiet'])],
      ['extract --elf', 'm.core', () => timeXenmig(['extract', stream, '--elf', join(dir, 'm.core'), '--quiet'])],
      ['convert --to 2', 'v2', () => timeXenmig(['convert', '--to', '2', stream, join(dir, 'v2'), '--quiet'])],
    ];
    const runs = new Map<string, Run[]>(steps.map(([name]) => [name, []]));
    // The command right after another's big delete runs measurably slower here, so the
    // order rotates each round: with as many rounds as commands each takes every slot once.
    for (let round = 0; round < rounds; round++) {
      const order = steps.map((_, i) => steps[(i + round) % steps.length]!);
      for (const [name, out, f] of order) {
        const r = f();
        runs.get(name)!.push(r);
        if (process.env.XENMIG_BENCH_VERBOSE) console.log(`    round ${round + 1} ${name}: ${r.seconds.toFixed(2)} s`);
        await rm(join(dir, out), { recursive: true, force: true });
        // Let the file system finish freeing the output before the next command is timed.
        spawnSync('sync');
      }
    }
    const best = (rs: Run[]): number => Math.min(...rs.map((r) => r.seconds));
    const median = (rs: Run[]): number => [...rs.map((r) => r.seconds)].sort((a, b) => a - b)[Math.floor(rs.length / 2)]!;
    const cpBest = best(runs.get('cp')!);
    const cpMedian = median(runs.get('cp')!);
    console.log(`  ${rounds} round(s); ratios are best/best and median/median against cp`);
    for (const [name, rs] of runs) {
      const rss = rs[0]!.maxRssMiB === undefined ? '' : `, peak RSS ${Math.max(...rs.map((r) => r.maxRssMiB!)).toFixed(0)} MiB`;
      const b = best(rs);
      const m = median(rs);
      console.log(
        `  ${name.padEnd(15)} best ${b.toFixed(2)} s (${(gib / b).toFixed(2)} GiB/s, ${(b / cpBest).toFixed(2)}x cp)  median ${m.toFixed(2)} s (${(m / cpMedian).toFixed(2)}x cp)${rss}`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export { writeStream };
if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
