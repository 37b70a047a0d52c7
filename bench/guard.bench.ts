/**
 * guard against `cat`: generates an xl-wrapped v3 HVM stream of BENCH_SIZE_MIB (default
 * 1024) and pipes it through `cat` and through `xenmig guard -- cat`, in the same run.
 * The guard path has two relays (the guard and its child), so `cat | cat` is shown too.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AtomicFileSink } from '../src/io/sink.js';
import { writeSampleStream } from '../src/stream/sample.js';
import { measure, table } from './measure.js';

export async function run(): Promise<void> {
  const sizeMiB = Number(process.env.BENCH_SIZE_MIB ?? 1024);
  const dir = await mkdtemp(join(tmpdir(), 'xenmig-bench-'));
  const file = join(dir, 'hvm-v3.xl');
  const xenmig = resolve('bin/xenmig');
  try {
    const sink = await AtomicFileSink.create(file);
    await writeSampleStream(sink, { memoryMiB: sizeMiB, wrap: 'xl', pages: 'repeat' });
    await sink.commit();
    process.stdout.write(`stream: ${sizeMiB} MiB v3 HVM guest, xl-wrapped, ${sink.written} octets\n`);
    measure('warm the page cache', `cat ${file} > /dev/null`, 1);

    const cat = measure('cat file | cat > /dev/null', `cat ${file} | cat > /dev/null`);
    const catCat = measure('cat file | cat | cat > /dev/null', `cat ${file} | cat | cat > /dev/null`);
    const guard = measure('cat file | xenmig guard -- cat > /dev/null', `cat ${file} | ${xenmig} guard --log /dev/null -- cat > /dev/null`);
    const tee = join(dir, 'tee.xl');
    const guardTee = measure(
      'cat file | xenmig guard --tee -- cat',
      `rm -f ${tee}; cat ${file} | ${xenmig} guard --log /dev/null --tee ${tee} -- cat > /dev/null`,
    );
    process.stdout.write(
      table([cat, catCat, guard, guardTee], cat, {
        'cat file | xenmig guard -- cat > /dev/null': `target <= 1.3x cat: ${(guard.seconds / cat.seconds).toFixed(2)}x`,
        'cat file | xenmig guard --tee -- cat': 'also writes the copy (fsync at the end)',
      }) + '\n',
    );
    process.stdout.write('(x base = ratio to "cat file | cat > /dev/null"; each figure the fastest of 3 runs)\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
