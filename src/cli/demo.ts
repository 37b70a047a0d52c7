/**
 * `xenmig demo` (what `npm start` runs): build the embedded sample domain's stream in a
 * temporary folder, verify it and print its summary.
 */
import type { Command } from 'commander';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitCode, EXIT_NONCONFORMING } from './main.js';

export function register(program: Command): void {
  program
    .command('demo')
    .description('build the sample domain\'s stream (v3 HVM in libxl and xl), verify it and print its summary')
    .option('--memory <MiB>', 'sample guest memory in MiB', '64')
    .option('--keep', 'keep the stream file and print its path')
    .action(async (o: { memory: string; keep?: boolean }) => {
      const { AtomicFileSink } = await import('../io/sink.js');
      const { writeSampleStream } = await import('../stream/sample.js');
      const { verifyStream } = await import('../verify/index.js');
      const { resultLines } = await import('./summary-text.js');
      const dir = await mkdtemp(join(tmpdir(), 'xenmig-demo-'));
      const path = join(dir, 'sample.xl');
      try {
        const sink = await AtomicFileSink.create(path);
        await writeSampleStream(sink, { memoryMiB: Number(o.memory) });
        await sink.commit();
        process.stdout.write(`built ${path}: sample domain, ${o.memory} MiB, v3 HVM in libxl in an xl save file\n`);
        const result = await verifyStream(path);
        process.stdout.write(resultLines(result).join('\n') + '\n');
        if (!result.conforming) throw new ExitCode(EXIT_NONCONFORMING);
      } finally {
        if (!o.keep) await rm(dir, { recursive: true, force: true });
      }
    });
}
