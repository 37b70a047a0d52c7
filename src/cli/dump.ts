/** `xenmig dump`: every header and record with its offset, type, length and decoded fields. */
import type { Command } from 'commander';
import { REC_TYPE } from '../format/constants.js';
import { openStream } from '../stream/open.js';
import { itemLabel, type RecordItem, type StreamItem } from '../stream/items.js';
import { describeItem, mergeStats, pageDataStats, pageStatsText, type PageDataStats } from './describe.js';
import { jsonReplacer } from './json.js';
import { LineOutput } from './output.js';
import { startProgress } from './progress.js';
import { formatOption } from './verify.js';

const off = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

/** Consecutive PAGE_DATA records folded into one line. */
interface PageRun {
  first: RecordItem;
  lastIndex: number;
  records: number;
  bytes: number;
  stats: PageDataStats;
}

export function itemJson(item: StreamItem, listPfns: boolean): Record<string, unknown> {
  if (item.kind === 'record') {
    const fields = item.layer === 'libxc' && item.type === REC_TYPE.PAGE_DATA ? { ...pageDataStats(item, listPfns) } : describeItem(item).fields;
    return { offset: item.offset, layer: item.layer, index: item.index, type: item.type, typeName: item.typeName, length: item.length, fields };
  }
  return { offset: item.offset, kind: item.kind, fields: describeItem(item).fields };
}

export function itemText(item: StreamItem): string {
  const { text } = describeItem(item);
  if (item.kind === 'record') return `${off(item.offset)}  ${item.layer} #${item.index} ${item.typeName}  len ${item.length}${text ? `  ${text}` : ''}`;
  return `${off(item.offset)}  ${itemLabel(item)}  ${text}`;
}

function runText(run: PageRun): string {
  const r = run.first;
  const idx = run.records > 1 ? `#${r.index}-#${run.lastIndex}` : `#${r.index}`;
  const times = run.records > 1 ? ` x${run.records}` : '';
  return `${off(r.offset)}  ${r.layer} ${idx} PAGE_DATA${times}  len ${run.bytes}  ${pageStatsText(run.stats)}`;
}

export function register(program: Command): void {
  program
    .command('dump')
    .description('print every record: offset, type, length and decoded fields')
    .argument('<file>', 'stream file, or - for standard input')
    .addOption(formatOption())
    .option('--json', 'one JSON object per header or record (JSON Lines)')
    .option('--pages', 'one line per PAGE_DATA record (default: consecutive ones squashed); with --json, list every pfn')
    .option('--quiet', 'no progress on stderr')
    .action(async (file: string, o: { format: 'auto'; json?: boolean; pages?: boolean; quiet?: boolean }) => {
      const stream = await openStream(file, { format: o.format, pageContents: 'skip' });
      const out = new LineOutput();
      const progress = startProgress('dump', o);
      let run: PageRun | undefined;
      const flushRun = async (): Promise<void> => {
        if (run) await out.line(runText(run));
        run = undefined;
      };
      try {
        for await (const item of stream.items) {
          if (!out.open) break;
          if (item.kind === 'record') progress.update(item.end, stream.reader.source.size);
          if (o.json) {
            await out.line(JSON.stringify(itemJson(item, o.pages ?? false), jsonReplacer));
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
          await out.line(itemText(item));
        }
      } finally {
        progress.stop();
        await flushRun();
        await out.flush();
        await stream.close();
      }
    });
}
