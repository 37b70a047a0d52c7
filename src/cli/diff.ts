/** `xenmig diff A B`: two streams, a stream and a memory image, or two images, compared. */
import type { Command } from 'commander';
import { UsageError } from '../format/errors.js';
import { DiffInputError, diffInputs, type Change, type DiffResult, type InputSummary, type PfnRanges, type RecordChange } from '../diff/index.js';
import { jsonReplacer } from './json.js';
import { ExitCode } from './exit-codes.js';

export const EXIT_EQUAL = 0;
export const EXIT_DIFFERENT = 1;
export const EXIT_TROUBLE = 2;

interface DiffFlags {
  json?: boolean;
  pages?: boolean;
  checkpoint?: string;
  checkpointed?: boolean;
  colo?: boolean;
}

export function register(program: Command): void {
  program
    .command('diff')
    .description('compare two domains: streams (files or -) or memory images; exit 0 equal, 1 different, 2 trouble')
    .argument('<a>', 'stream file, - for standard input, or a memory image directory')
    .argument('<b>', 'stream file, - for standard input, or a memory image directory')
    .option('--json', 'print one JSON object')
    .option('--pages', 'list every differing pfn (otherwise the first 32 ranges of each kind)')
    .option('--checkpoint <n[:m]>', 'checkpointed (Remus) streams: compare the state as of their Nth complete checkpoint (N:M: A\'s Nth with B\'s Mth)')
    .option('--checkpointed', 'the streams are checkpointed (Remus): compare their last complete checkpoints')
    .option('--colo', 'COLO streams: as --checkpointed, with CHECKPOINT_STATE after each CHECKPOINT_END')
    .action(async (a: string, b: string, flags: DiffFlags) => {
      let checkpoint: number | [number, number] | undefined;
      if (flags.checkpoint !== undefined) {
        const ns = flags.checkpoint.split(':').map(Number);
        if (ns.length > 2 || ns.some((n) => !Number.isSafeInteger(n) || n < 1)) {
          throw new UsageError(`--checkpoint ${flags.checkpoint}: expected N (both inputs) or N:M (A's Nth, B's Mth), checkpoints counted from 1`);
        }
        checkpoint = ns.length === 1 ? ns[0]! : [ns[0]!, ns[1]!];
      }
      const opts: Parameters<typeof diffInputs>[2] = { allPages: flags.pages ?? false };
      if (flags.colo) opts.checkpointed = 'colo';
      else if (flags.checkpointed) opts.checkpointed = 'remus';
      if (checkpoint !== undefined) opts.checkpoint = checkpoint;
      let result: DiffResult;
      try {
        result = await diffInputs(a, b, opts);
      } catch (err) {
        if (err instanceof DiffInputError) {
          process.stderr.write(`xenmig: diff: ${err.message}\n`);
          throw new ExitCode(EXIT_TROUBLE);
        }
        throw err;
      }
      if (flags.json) process.stdout.write(JSON.stringify(result, jsonReplacer, 2) + '\n');
      else process.stdout.write(formatDiff(result));
      if (!result.equal) throw new ExitCode(EXIT_DIFFERENT);
    });
}

const hex = (n: number): string => `0x${n.toString(16)}`;

function describeInput(s: InputSummary): string {
  const what = s.kind === 'image' ? 'memory image' : `stream: ${s.layers.join(' > ')}`;
  const cp = s.checkpoints !== undefined ? `, ${s.checkpoints} checkpoint(s) applied` : '';
  return `${s.input === '-' ? 'standard input' : s.input} (${what}, ${s.guestType.toUpperCase()}, libxc v${s.streamVersion}, Xen ${s.xen}${cp})`;
}

function changeLine(c: Change): string {
  if (c.a === undefined && c.b === undefined) return `  ${c.what}`;
  return `  ${c.what}: ${c.a ?? '(none)'} -> ${c.b ?? '(none)'}`;
}

function recordLines(r: RecordChange): string[] {
  if (r.only) return [`  ${r.record}: only in ${r.only.toUpperCase()}`];
  return [`  ${r.record}:`, ...r.changes.map((c) => `  ${changeLine(c)}`)];
}

function rangesText(r: PfnRanges): string {
  const shown = r.ranges.map(([f, l]) => (f === l ? hex(f) : `${hex(f)}-${hex(l)}`)).join(' ');
  const more = r.rangeCount > r.ranges.length ? ` ... (${r.rangeCount} ranges in all; --pages lists every pfn)` : '';
  return `${shown}${more}`;
}

/** The text `diff` prints: a section per part of the domain, one line per difference. */
export function formatDiff(r: DiffResult): string {
  const out: string[] = [`A: ${describeInput(r.a)}`, `B: ${describeInput(r.b)}`];
  for (const [side, s] of [['A', r.a], ['B', r.b]] as const) for (const n of s.notes) out.push(`note (${side}): ${n}`);
  const section = (name: string, lines: string[]): void => {
    if (lines.length === 0) out.push(`${name}: same`);
    else out.push(`${name}:`, ...lines);
  };
  section('headers and versions', r.headers.map(changeLine));
  const p = r.policy;
  section('static data', [
    ...(p.gained.length > 0 ? [`  CPU features gained (in B, not in A): ${p.gained.join(' ')}`] : []),
    ...(p.lost.length > 0 ? [`  CPU features lost (in A, not in B): ${p.lost.join(' ')}`] : []),
    ...p.changes.map(changeLine),
    ...r.domain.map(changeLine),
  ]);
  section('HVM params', r.hvmParams.map(changeLine));
  section('HVM context', r.hvmContext.flatMap(recordLines));
  section('PV vcpus', r.vcpus.flatMap(recordLines));
  section('devices and config', r.devices.map(changeLine));
  const m = r.memory;
  const mem: string[] = [];
  if (m.differ.count > 0) mem.push(`  ${m.differ.count} page(s) differ: ${rangesText(m.differ)}`);
  if (m.onlyInA.count > 0) mem.push(`  ${m.onlyInA.count} page(s) only in A: ${rangesText(m.onlyInA)}`);
  if (m.onlyInB.count > 0) mem.push(`  ${m.onlyInB.count} page(s) only in B: ${rangesText(m.onlyInB)}`);
  if (m.types.count > 0) {
    const shown = m.types.ranges.map((t) => `${t.first === t.last ? hex(t.first) : `${hex(t.first)}-${hex(t.last)}`} ${t.a} -> ${t.b}`);
    const more = m.types.rangeCount > m.types.ranges.length ? [`  ... (${m.types.rangeCount} ranges in all)`] : [];
    mem.push(`  ${m.types.count} pfn(s) of another page type:`, ...shown.map((s) => `    ${s}`), ...more);
  }
  if (m.differ.pfns && m.differ.pfns.length > 0) mem.push(`  differing pfns: ${m.differ.pfns.map(hex).join(' ')}`);
  if (m.onlyInA.pfns && m.onlyInA.pfns.length > 0) mem.push(`  pfns only in A: ${m.onlyInA.pfns.map(hex).join(' ')}`);
  if (m.onlyInB.pfns && m.onlyInB.pfns.length > 0) mem.push(`  pfns only in B: ${m.onlyInB.pfns.map(hex).join(' ')}`);
  out.push(`memory: ${m.populatedA} page(s) in A, ${m.populatedB} in B${mem.length === 0 ? ', every page the same' : ''}`, ...mem);
  out.push(r.equal ? 'result: equal' : 'result: different');
  return out.join('\n') + '\n';
}
