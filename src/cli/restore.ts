/** `xenmig restore <stream|-> --into DIR`: a stream into an on-disk memory image. */
import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { describeLocation } from '../format/errors.js';
import { MemoryImage } from '../domain/image/memory-image.js';
import type { DomainSink } from '../domain/types.js';
import { restoreStream, type RestoreOptions, type RestoreResult } from '../restore/index.js';
import { progressBar } from './progress.js';
import { EXIT_NONCONFORMING, ExitCode } from './exit-codes.js';
import { jsonOption, minVersionOption, quietOption } from './options.js';
import { addLegacyOptions, legacyOptions, type LegacyFlags } from './legacy-flags.js';

export interface EngineFlags extends LegacyFlags {
  minVersion?: 2 | 3;
  checkpointed?: boolean;
  colo?: boolean;
  json?: boolean;
  quiet?: boolean;
  force?: boolean;
}

async function inputSize(input: string): Promise<number | undefined> {
  if (input === '-') return undefined;
  return stat(input).then(
    (s) => (s.isFile() ? s.size : undefined),
    () => undefined,
  );
}

/** Runs the engine from a path or "-" into a sink, with the CLI's progress and flags. */
export async function restoreWithFlags(input: string, sink: DomainSink, flags: EngineFlags, label: string): Promise<RestoreResult> {
  const opts: RestoreOptions = { checkpointed: flags.colo ? 'colo' : (flags.checkpointed ?? false), blockingInput: true, legacy: legacyOptions(flags) };
  if (flags.minVersion !== undefined) opts.minVersion = flags.minVersion;
  const bar = await progressBar(label, await inputSize(input), flags.quiet ?? false);
  opts.onProgress = (p) => bar.update(p.offset);
  try {
    return await restoreStream(input, sink, opts);
  } finally {
    bar.stop();
  }
}

const MISSING_TEXT = ['none', 'CPUID policy', 'MSR policy', 'CPUID and MSR policies'];

export function summary(r: RestoreResult): string[] {
  const lines = [
    // Xen 0.x is what a converted legacy image says (convert-legacy-stream writes xen_major 0), as dump reads it too.
    `  stream: ${r.layers.join(' > ')}, libxc v${r.streamVersion} ${r.xenMajor === 0 ? 'converted from a legacy image' : `from Xen ${r.xenMajor}.${r.xenMinor}`}, ${r.bytes} octets`,
    `  records: ${r.records} libxc${r.layers.includes('libxl') ? `, ${r.libxlRecords} libxl` : ''}; ${r.pageRecords} PAGE_DATA, ${r.pagesWritten} pages written, ${r.pfnsPopulated} pfns populated`,
  ];
  const s = r.staticDataEnd;
  if (s) {
    const where = s.inferred ? `inferred at ${s.inferredAt} (offset ${s.offset})` : `sent at offset ${s.offset}`;
    lines.push(`  STATIC_DATA_END: ${where}; missing: ${MISSING_TEXT[s.missing & 3]}`);
  }
  for (const i of r.ignored) lines.push(`  ignored optional record ${i.typeName} at ${describeLocation(i.location)}`);
  for (const c of r.ignoredCounts ?? []) {
    const shown = r.ignored.filter((i) => i.type === c.type).length;
    if (c.count > shown) {
      lines.push(`  ${c.count.toLocaleString('en-US')} optional records ${c.typeName} ignored in all (${(c.count - shown).toLocaleString('en-US')} more than listed)`);
    }
  }
  for (const w of r.warnings) lines.push(`  warning: ${w.message} (${describeLocation(w.location)})`);
  if (r.warningsDropped > 0) lines.push(`  ${r.warningsDropped.toLocaleString('en-US')} more warning(s) not listed`);
  if (r.clearedPages.length > 0) {
    lines.push(`  zeroed as libxc's restorer does: ${r.clearedPages.map((c) => `${c.param} 0x${c.pfn.toString(16)}`).join(', ')}`);
  }
  if (r.checkpoints > 0) lines.push(`  checkpoints: ${r.checkpoints}`);
  if (r.failover) {
    lines.push(`  the stream broke after checkpoint ${r.checkpoints} (${r.failover.reason}); restored that checkpoint, ${r.failover.discardedRecords} record(s) discarded`);
  }
  if (r.verify) {
    const m = r.verify.mismatches;
    lines.push(`  VERIFY: ${r.verify.pagesChecked} pages compared, ${m.length} differ${m.length ? `: ${m.map((p) => '0x' + p.toString(16)).join(' ')}` : ''}`);
  }
  return lines;
}

/** Pages that differ from their VERIFY copy mean the sender sent something wrong: the output stays, the exit code says so. */
export function failOnVerifyMismatch(r: RestoreResult): void {
  if (r.verify && r.verify.mismatches.length > 0) throw new ExitCode(EXIT_NONCONFORMING);
}

export function register(program: Command): void {
  const cmd = program
    .command('restore')
    .description('restore a stream (xl save file, libxl or libxc stream; "-" for stdin) into a memory image directory')
    .argument('<stream>', 'stream file, or - for standard input')
    .requiredOption('--into <dir>', 'image directory to create (memory.raw + domain.json); written atomically')
    .addOption(minVersionOption('refuse libxc streams older than this version (3 refuses v2 senders)'))
    .option('--checkpointed', 'the stream is checkpointed (Remus): apply batches at each CHECKPOINT (libxl streams: at each CHECKPOINT_END)')
    .option('--colo', 'a COLO stream: as --checkpointed, with CHECKPOINT_STATE after each CHECKPOINT_END')
    .option('--force', 'replace an existing image directory')
    .addOption(jsonOption('print the result as JSON'))
    .addOption(quietOption('no progress bar'));
  addLegacyOptions(cmd).action(async (input: string, flags: EngineFlags & { into: string }) => {
      const image = await MemoryImage.create(flags.into, { force: flags.force ?? false, blocking: true });
      const result = await restoreWithFlags(input, image, flags, 'restore');
      await image.close();
      if (flags.json) {
        process.stdout.write(JSON.stringify({ image: flags.into, ...result }, null, 2) + '\n');
        return failOnVerifyMismatch(result);
      }
      const kind = result.guestType === 'hvm' ? 'HVM' : 'PV';
      process.stdout.write([`restored ${kind} domain into ${flags.into}`, ...summary(result)].join('\n') + '\n');
      failOnVerifyMismatch(result);
    });
}
