/**
 * `xenmig report` on a big stream: generates an xl save file of BENCH_SIZE_MIB (default
 * 2048) in a temp folder, then times `verify` and `report` on it in their own processes
 * with their peak RSS (the report must stay in verify's memory bound), and prints the
 * page's size (it must stay a few hundred KiB whatever the stream's size).
 */
import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AtomicFileSink } from '../src/io/sink.js';
import { saveSampleStream } from '../src/save/sample.js';
import { measure, table } from './measure.js';

export async function run(): Promise<void> {
  const sizeMiB = Number(process.env.BENCH_SIZE_MIB ?? 2048);
  const dir = await mkdtemp(join(tmpdir(), 'xenmig-bench-'));
  const file = join(dir, 'big.xl');
  const page = join(dir, 'big.html');
  const xenmig = resolve('bin/xenmig');
  try {
    const t0 = process.hrtime.bigint();
    const sink = await AtomicFileSink.create(file);
    // The sample domain saved (src/save/sample.ts). Since the one-sample change its VGA
    // hole goes as 32 XTAB pfns (the memory map shows the hole) and each page holds a
    // 64-octet seeded stamp then zeros: 128 KiB fewer octets (the hole's pages), framed alike.
    await saveSampleStream(sink, { memoryMiB: sizeMiB, layer: 'xl' });
    await sink.commit();
    const genSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    process.stdout.write(`stream: ${sizeMiB} MiB HVM xl save file, ${sink.written} octets, generated in ${genSeconds.toFixed(2)} s\n`);
    const verify = measure('xenmig verify file', `${xenmig} verify --quiet ${file} > /dev/null`);
    const report = measure('xenmig report file -o page', `${xenmig} report --quiet --force ${file} -o ${page} > /dev/null`);
    if (report.exitCode !== 0) throw new Error(`xenmig report exited with ${report.exitCode}`);
    process.stdout.write(table([verify, report], verify) + '\n');
    process.stdout.write(`page: ${statSync(page).size} octets (${(statSync(page).size / 1024).toFixed(0)} KiB) for a ${sizeMiB} MiB stream\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
