/** `xenmig dump`: every header and record with its offset, type, length and decoded fields. */
import type { Command } from 'commander';
import type { DescribeState, PageRun } from '../inspect/describe.js';
import { startProgress } from './progress.js';
import { inputFormatOption, jsonOption, quietOption } from './options.js';
import { addLegacyOptions, legacyOptions, type LegacyFlags } from './legacy-flags.js';

export function register(program: Command): void {
  const cmd = program
    .command('dump')
    .description('print every record: offset, type, length and decoded fields')
    .argument('<file>', 'stream file, or - for standard input')
    .addOption(inputFormatOption())
    .addOption(jsonOption('one JSON object per header or record (JSON Lines)'))
    .option('--pages', 'one line per PAGE_DATA record (default: consecutive ones squashed); with --json, list every pfn')
    .option('--checkpointed', 'a checkpointed (Remus) libxl stream: libxl records follow each CHECKPOINT up to CHECKPOINT_END')
    .option('--colo', 'a COLO libxl stream: as --checkpointed, and CHECKPOINT_STATE after each CHECKPOINT_END')
    .addOption(quietOption('no progress on stderr'));
  addLegacyOptions(cmd).action(async (file: string, o: LegacyFlags & { format: 'auto'; json?: boolean; pages?: boolean; checkpointed?: boolean; colo?: boolean; quiet?: boolean }) => {
      const { REC_TYPE } = await import('../format/constants.js');
      const { openStream } = await import('../stream/open.js');
      const { itemJson, itemText, runText, mergeStats, pageDataStats } = await import('../inspect/describe.js');
      const { jsonReplacer } = await import('./json.js');
      const { LineOutput } = await import('./output.js');
      const checkpointed = o.colo ? 'colo' : o.checkpointed ? 'remus' : undefined;
      const stream = await openStream(file, { format: o.format, pageContents: 'skip', checkpointed, legacy: legacyOptions(o) });
      const out = new LineOutput();
      const progress = await startProgress('dump', o);
      let run: PageRun | undefined;
      const state: DescribeState = {};
      const flushRun = async (): Promise<void> => {
        if (run) await out.line(runText(run));
        run = undefined;
      };
      try {
        for await (const item of stream.items) {
          if (!out.open) break;
          if (item.kind === 'record') progress.update(item.end, stream.reader.source.size);
          if (o.json) {
            await out.line(JSON.stringify(itemJson(item, o.pages ?? false, state), jsonReplacer));
            continue;
          }
          const isPage = item.kind === 'record' && item.layer === 'libxc' && item.type === REC_TYPE.PAGE_DATA;
          if (isPage && !o.pages) {
            const stats = pageDataStats(item, false);
            if (run) {
              run.lastIndex = item.index;
              run.records++;
              run.bytes += item.length;
              mergeStats(run.stats, stats);
            } else {
              run = { first: { ...item }, lastIndex: item.index, records: 1, bytes: item.length, stats };
            }
            continue;
          }
          await flushRun();
          await out.line(itemText(item, state));
        }
      } finally {
        progress.stop();
        await flushRun();
        await out.flush();
        await stream.close();
      }
    });
}
