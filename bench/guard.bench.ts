/**
 * guard against `cat`: generates an xl-wrapped v3 HVM stream of BENCH_SIZE_MIB (default
 * 1024) and relays it from a pipe to a reading process, in the same run:
 *
 *   cat file | cat | cat > /dev/null                       cat as the relay
 *   cat file | xenmig guard -- sh -c 'cat > /dev/null'     the guard as the relay
 *
 * Both have a source, a relay and a receiving process, as a migration has; the receiver
 * sends nothing back, as xl's receiver sends only the handshake. The relay's own CPU
 * time is shown too: on a shared machine wall time follows the load, CPU time less so.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AtomicFileSink } from '../src/io/sink.js';
import { writeSampleStream } from '../src/stream/sample.js';
import { measure } from './measure.js';

interface Row {
  label: string;
  wall: number[];
  /** User + system seconds of the relay stage (and what it waited for: its children). */
  relayCpu: number[];
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timeRelay(label: string, source: string, relay: string, dir: string): Promise<Row> {
  const cpuFile = join(dir, 'cpu');
  const start = process.hrtime.bigint();
  const r = spawnSync('bash', ['-c', `${source} | /usr/bin/time -o ${cpuFile} -f '%U %S' ${relay}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.status !== 0) throw new Error(`${label} failed (${r.status}): ${r.stderr.toString()}`);
  const [user, sys] = (await readFile(cpuFile, 'utf8')).trim().split(/\s+/).map(Number);
  return { label, wall: [wall], relayCpu: [user! + sys!] };
}

export async function run(): Promise<void> {
  const sizeMiB = Number(process.env.BENCH_SIZE_MIB ?? 1024);
  const runs = Number(process.env.BENCH_RUNS ?? 5);
  const dir = await mkdtemp(join(tmpdir(), 'xenmig-bench-'));
  const file = join(dir, 'hvm-v3.xl');
  const xenmig = resolve('bin/xenmig');
  try {
    const sink = await AtomicFileSink.create(file);
    await writeSampleStream(sink, { memoryMiB: sizeMiB, wrap: 'xl', pages: 'repeat' });
    await sink.commit();
    process.stdout.write(`stream: ${sizeMiB} MiB v3 HVM guest, xl-wrapped, ${sink.written} octets; ${runs} alternating runs, medians\n`);
    measure('warm the page cache', `cat ${file} > /dev/null`, 1);
    const tee = join(dir, 'tee.xl');
    const cases: [string, string][] = [
      ['cat (relay) | cat', 'sh -c "cat | cat > /dev/null"'],
      ['xenmig guard -- cat', `${xenmig} guard --log /dev/null -- sh -c "exec cat > /dev/null"`],
      ['xenmig guard --tee -- cat', `sh -c "rm -f ${tee}; exec ${xenmig} guard --log /dev/null --tee ${tee} -- sh -c 'exec cat > /dev/null'"`],
    ];
    const rows = new Map<string, Row>();
    // Alternate the cases so a burst of load elsewhere hits them alike.
    for (let i = 0; i < runs; i++) {
      for (const [label, relay] of cases) {
        const r = await timeRelay(label, `cat ${file}`, relay, dir);
        const row = rows.get(label);
        if (row) {
          row.wall.push(...r.wall);
          row.relayCpu.push(...r.relayCpu);
        } else rows.set(label, r);
      }
    }
    const base = rows.get('cat (relay) | cat')!;
    const lines = [`${'relay'.padEnd(28)} ${'wall s'.padStart(8)} ${'x cat'.padStart(6)} ${'CPU s'.padStart(7)} ${'x cat'.padStart(6)}  (relay CPU includes its receiving child)`];
    for (const row of rows.values()) {
      const w = median(row.wall);
      const c = median(row.relayCpu);
      lines.push(
        `${row.label.padEnd(28)} ${w.toFixed(3).padStart(8)} ${(w / median(base.wall)).toFixed(2).padStart(6)} ${c.toFixed(3).padStart(7)} ${(c / median(base.relayCpu)).toFixed(2).padStart(6)}`,
      );
    }
    process.stdout.write(lines.join('\n') + '\n');
    process.stdout.write(`target: xenmig guard wall time <= 1.3x cat's (${(median(rows.get('xenmig guard -- cat')!.wall) / median(base.wall)).toFixed(2)}x in this run)\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
