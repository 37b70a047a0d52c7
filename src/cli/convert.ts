/**
 * `xenmig convert --to 2|3 IN OUT`: move a stream between libxc v2 and v3; `--unwrap`
 * writes the bare libxc stream of an xl or libxl one. A legacy (Xen <= 4.5) image is
 * converted as Xen's convert-legacy-stream does (src/stream/legacy).
 */
import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { UsageError } from '../format/errors.js';
import { openSink, writeWhole } from '../io/sink.js';
import { convertStream } from '../stream/convert.js';
import { ByteReader } from '../io/byte-reader.js';
import { openRawSource } from '../io/raw-source.js';
import { convertLegacy, type LegacyConvertResult } from '../stream/legacy/index.js';
import { isLegacyInput, readAnyStream } from '../stream/any.js';
import { addLegacyOptions, legacyOptions, type LegacyFlags } from './legacy-flags.js';
import { progressBar } from './progress.js';
import { jsonOption, quietOption } from './options.js';

async function sameFile(a: string, b: string): Promise<boolean> {
  if (a === '-' || b === '-') return false;
  const [sa, sb] = await Promise.all([stat(a).catch(() => undefined), stat(b).catch(() => undefined)]);
  return sa !== undefined && sb !== undefined && sa.dev === sb.dev && sa.ino === sb.ino;
}

/** What a legacy conversion found and wrote, a few lines. */
export function legacyReport(output: string, r: LegacyConvertResult): string[] {
  const l = r.layout;
  const guest = l.guest === 'pv' ? `PV${l.guestWidth ? ` ${l.guestWidth * 8}-bit guest, ${l.levels} levels` : ''}` : 'HVM';
  const lines = [
    `converted legacy image (${l.xl ? 'xl header, ' : ''}${l.width}-bit toolstack, ${guest}, p2m_size ${l.p2mSize}${l.qemu ? `, qemu tail "${l.qemu}"` : ''}) -> libxc v${r.to} (${r.layers.join(' > ')}): ${output}, ${r.bytesOut} octets`,
    `  ${r.records} records, ${r.pageBatches} PAGE_DATA; domain header xen_major 0, xen_minor 1 (converted, as Xen's convert-legacy-stream writes)`,
  ];
  for (const n of r.notes.slice(0, 20)) lines.push(`  note at input offset ${n.offset}: ${n.text}`);
  if (r.notes.length > 20) lines.push(`  ${r.notes.length - 20} more note(s)`);
  return lines;
}

export function register(program: Command): void {
  const cmd = program
    .command('convert')
    .description('convert a stream between libxc v2 and v3 (wrappers kept); v3 -> v2 drops STATIC_DATA_END and the CPU policy; --unwrap keeps only the libxc stream; a legacy (Xen <= 4.5) image becomes what Xen\'s convert-legacy-stream writes (--to 3) or its v2 form')
    .option('--to <version>', 'target libxc stream version: 2 or 3 (default with --unwrap: the input\'s)')
    .option('--unwrap', 'write only the libxc stream, without the xl header and libxl records (what libxc\'s xc_domain_restore reads)')
    .argument('<in>', 'input stream, or - for standard input (never modified)')
    .argument('<out>', 'output file, written atomically, or - for standard output')
    .option('--checkpointed', 'a checkpointed (Remus) libxl stream: libxl records follow each CHECKPOINT up to CHECKPOINT_END')
    .option('--colo', 'a COLO libxl stream: as --checkpointed, and CHECKPOINT_STATE after each CHECKPOINT_END')
    .option('--force', 'replace an existing output file')
    .addOption(jsonOption('print the result as JSON (on stderr when the stream goes to stdout)'))
    .addOption(quietOption('no progress bar'));
  addLegacyOptions(cmd).action(async (input: string, output: string, flags: LegacyFlags & { to?: string; unwrap?: boolean; checkpointed?: boolean; colo?: boolean; force?: boolean; json?: boolean; quiet?: boolean }) => {
      if (flags.to === undefined && !flags.unwrap) throw new UsageError('convert needs --to 2|3, --unwrap, or both');
      if (flags.to !== undefined && flags.to !== '2' && flags.to !== '3') throw new UsageError(`--to ${flags.to}: expected 2 or 3`);
      if (await sameFile(input, output)) throw new UsageError(`${output} is the input: convert never modifies its input`);
      const to = flags.to === undefined ? undefined : (Number(flags.to) as 2 | 3);
      const unwrap = flags.unwrap ?? false;
      // Which kind a checkpointed stream is cannot be read from its bytes: the user says so.
      const checkpointed = flags.colo ? 'colo' : flags.checkpointed ? 'remus' : undefined;
      const reader = new ByteReader(await openRawSource(input, { blocking: true }));
      const legacy = legacyOptions(flags);
      let isLegacy: boolean;
      try {
        isLegacy = await isLegacyInput(reader);
      } catch (err) {
        await reader.close();
        throw err;
      }
      const stream = { reader, items: readAnyStream(reader, { pageContents: 'stream', checkpointed, legacy }), close: () => reader.close() };
      const size = input === '-' ? undefined : stream.reader.source.size;
      let sink;
      try {
        sink = await openSink(output, { force: flags.force ?? false, blocking: true });
      } catch (err) {
        await stream.close();
        throw err;
      }
      const bar = await progressBar('convert', size, flags.quiet ?? false);
      if (isLegacy) {
        let lr: LegacyConvertResult;
        try {
          lr = await writeWhole(sink, () => convertLegacy(reader, sink, { to: to ?? 3, unwrap, legacy, onProgress: (o) => bar.update(o) }));
        } finally {
          bar.stop();
          await stream.close();
        }
        const report = output === '-' ? process.stderr : process.stdout;
        if (flags.json) report.write(JSON.stringify(lr, null, 2) + '\n');
        else report.write(legacyReport(output, lr).join('\n') + '\n');
        return;
      }
      let result;
      try {
        result = await writeWhole(sink, () => convertStream(stream.items, sink, { to, unwrap, onProgress: (o) => bar.update(o) }));
      } finally {
        bar.stop();
        await stream.close();
      }
      const report = output === '-' ? process.stderr : process.stdout;
      if (flags.json) {
        report.write(JSON.stringify(result, null, 2) + '\n');
        return;
      }
      const lines: string[] = [];
      const unwrapped = unwrap && result.layers.length > 1 ? `, unwrapped from ${result.layers.join(' > ')}` : '';
      if (!result.changed) lines.push(`${input} is libxc v${result.to}: ${unwrapped ? `the libxc stream${unwrapped}` : 'copied unchanged'} to ${output}, ${result.bytesOut} octets`);
      else lines.push(`converted libxc v${result.from} -> v${result.to} (${result.layers.join(' > ')}${unwrapped ? ', libxc only' : ''}): ${output}, ${result.bytesOut} octets`);
      if (result.inserted) {
        const why = result.inserted.inferredAt ? 'where a v3 receiver infers it' : 'before the first memory/register record';
        lines.push(`  inserted STATIC_DATA_END before ${result.inserted.beforeRecord} at input offset ${result.inserted.beforeOffset} (${why})`);
      }
      for (const d of result.dropped) {
        const what = d.entries !== undefined ? ` (${d.entries} ${d.typeName === 'X86_CPUID_POLICY' ? 'CPUID leaves' : 'MSRs'})` : '';
        lines.push(`  dropped ${d.typeName} at input offset ${d.offset}${what}`);
      }
      if (result.dropped.some((d) => d.typeName !== 'STATIC_DATA_END')) {
        lines.push('  the receiver will regenerate a CPU policy for the guest, as before Xen 4.14');
      }
      report.write(lines.join('\n') + '\n');
    });
}
