/**
 * `xenmig save`: write a migration stream of a domain (the sample, or a memory image)
 * to a file. Also home of the domain options and the progress line that `migrate` and
 * `demo` share.
 */
import { Command, Option } from 'commander';
import { UsageError } from '../format/errors.js';
import { HVM_MAX_VCPUS } from '../format/hvm/context.js';
import { openSink, writeWhole } from '../io/sink.js';
import { SimulatedDomain } from '../domain/simulated/simulated-domain.js';
import type { DirtyPattern } from '../domain/simulated/workload.js';
import type { DomainSource } from '../domain/types.js';
import { saveDomain, type SaveLayer, type SaveProgress, type SaveSummary } from '../save/save.js';
import { precopyPolicy } from '../save/precopy.js';
import { openImageDomain } from './image-domain.js';
import { terminalBar } from './progress.js';
import { jsonOption, outputFormatOption, quietOption } from './options.js';
import { sampleGuestPolicy } from '../policy/samples.js';

export interface DomainOptions {
  domain: string;
  pv?: boolean;
  memory: string;
  seed: string;
  vcpus: string;
  dirtyRate: string;
  pattern: string;
}

export function addDomainOptions(cmd: Command, defaults: { dirtyRate: string }): Command {
  return cmd
    .option('--domain <sample|DIR>', 'the embedded sample domain, or a memory image directory written by `xenmig restore`', 'sample')
    .option('--pv', 'sample: a PV guest instead of HVM')
    .option('--memory <MiB>', 'sample: memory size in MiB', '256')
    .option('--seed <n>', 'sample: seed for memory contents and the workload', '1')
    .option('--vcpus <n>', 'sample: number of vcpus', '2')
    .option('--dirty-rate <pages/s>', 'workload: pages the running guest dirties per second (0: idle)', defaults.dirtyRate)
    .addOption(new Option('--pattern <p>', 'workload: which pages it dirties').choices(['uniform', 'hotset']).default('hotset'));
}

function intOption(name: string, v: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${name} must be an integer >= ${min}, got "${v}"`);
  return n;
}

/** The domain the options name, paused, with its workload ready to start. */
export async function openDomainFromOptions(o: DomainOptions): Promise<SimulatedDomain> {
  const rate = intOption('--dirty-rate', o.dirtyRate, 0);
  const workload = rate > 0 ? { rate, pattern: o.pattern as DirtyPattern, seed: intOption('--seed', o.seed, 0) } : undefined;
  if (o.domain === 'sample') {
    const guest = o.pv ? 'pv' : 'hvm';
    // The policy a guest gets on the Skylake-SP sample host: what the receiver's check judges.
    return SimulatedDomain.create({
      guest,
      cpuPolicy: sampleGuestPolicy(guest).toData(),
      memoryMiB: intOption('--memory', o.memory, 1),
      seed: intOption('--seed', o.seed, 0),
      vcpus: sampleVcpus(guest, o.vcpus),
      workload,
    });
  }
  const dir = o.domain.startsWith('image:') ? o.domain.slice('image:'.length) : o.domain;
  const image: DomainSource = await openImageDomain(dir);
  return SimulatedDomain.fromSource(image, workload);
}

/** --vcpus: an HVM sample has no more vcpus than Xen can restore (a stream with more is refused by verify and by hvm_load). */
function sampleVcpus(guest: 'hvm' | 'pv', v: string): number {
  const n = intOption('--vcpus', v, 1);
  if (guest === 'hvm' && n > HVM_MAX_VCPUS) {
    throw new UsageError(`--vcpus ${n}: an HVM guest has at most ${HVM_MAX_VCPUS} vcpus (Xen's HVM_MAX_VCPUS: hvm_load refuses a CPU record of a vcpu above it)`);
  }
  return n;
}

export function policyFromOptions(o: { maxRounds?: string; targetDirty?: string }) {
  return precopyPolicy(intOption('--max-rounds', o.maxRounds ?? '5', 1), intOption('--target-dirty', o.targetDirty ?? '50', 0));
}

const MiB = 1024 * 1024;

export function formatProgress(p: SaveProgress): string {
  return `${p.phase} round ${p.round}: ${p.pagesSent}/${p.roundPages} pages, dirty ${p.dirtyLeft}, ${(p.bytes / MiB).toFixed(1)} MiB sent, ${(p.rate / MiB).toFixed(0)} MiB/s`;
}

/**
 * Progress on stderr: a bar while it is a terminal, else one line per finished round;
 * nothing with --quiet.
 */
export async function progressReporter(quiet: boolean): Promise<{ update(p: SaveProgress): void; stop(): void }> {
  if (quiet) return { update() {}, stop() {} };
  if (!process.stderr.isTTY) {
    return {
      update(p) {
        if (p.pagesSent === p.roundPages) process.stderr.write(formatProgress(p) + '\n');
      },
      stop() {},
    };
  }
  const bar = await terminalBar('{phase} round {round} [{bar}] {value}/{total} pages | dirty {dirty} | {mib} MiB | {rate} MiB/s');
  let started = false;
  let lastRound = -1;
  return {
    update(p) {
      const payload = { phase: p.phase, round: p.round, dirty: p.dirtyLeft, mib: (p.bytes / MiB).toFixed(1), rate: (p.rate / MiB).toFixed(0) };
      if (!started) {
        bar.start(p.roundPages, p.pagesSent, payload);
        started = true;
      } else if (p.round !== lastRound) bar.setTotal(p.roundPages);
      lastRound = p.round;
      bar.update(p.pagesSent, payload);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

export function summaryLines(s: SaveSummary): string[] {
  return [
    `${s.bytes} octets (${(s.bytes / MiB).toFixed(1)} MiB) in ${s.durationMs.toFixed(0)} ms`,
    `${s.rounds} round(s), pages per round: ${s.pagesPerRound.join(', ')}`,
    ...(s.checkpoints > 0 ? [`${s.checkpoints} checkpoint(s)`] : []),
  ];
}

export function register(program: Command): void {
  const cmd = program
    .command('save')
    .description('save a domain (the sample, or a memory image) to a migration stream file')
    .argument('<OUT>', 'stream file to write ("-" for standard output)');
  addDomainOptions(cmd, { dirtyRate: '0' })
    .option('--live', 'save while the guest runs: pre-copy rounds, then suspend for the last dirty pages')
    .option('--debug', 'append VERIFY and every page again')
    .addOption(outputFormatOption('libxc (bare stream), libxl (libxl records around it) or xl (what `xl save` writes)'))
    .addOption(new Option('--stream-version <v>', 'libxc stream version').choices(['2', '3']).default('3'))
    .option('--max-rounds <n>', 'pre-copy: stop after this many rounds', '5')
    .option('--target-dirty <n>', 'pre-copy: stop once fewer pages than this are dirty', '50')
    .option('--checkpoint-interval <ms>', 'checkpointed (Remus-style) stream: a CHECKPOINT batch this often (libxl/xl: each followed by libxl\'s emulator records and CHECKPOINT_END)')
    .option('--checkpoints <n>', 'checkpointed stream: checkpoints after the first, then END', '3')
    .option('--force', 'replace OUT if it exists')
    .addOption(jsonOption('print the summary as JSON'))
    .addOption(quietOption('no progress line'))
    .action(async (out: string, o: DomainOptions & Record<string, string | boolean | undefined>) => {
      const domain = await openDomainFromOptions(o);
      const live = Boolean(o.live) || o.checkpointInterval !== undefined;
      if (live) domain.start();
      const sink = await openSink(out, { force: Boolean(o.force) });
      const progress = await progressReporter(Boolean(o.quiet) || out === '-');
      let summary: SaveSummary;
      try {
        summary = await writeWhole(sink, () => saveDomain(domain, sink, {
          live,
          debug: Boolean(o.debug),
          layer: o.format as SaveLayer,
          streamVersion: Number(o.streamVersion) as 2 | 3,
          precopyPolicy: policyFromOptions(o as { maxRounds?: string; targetDirty?: string }),
          checkpoint:
            o.checkpointInterval === undefined
              ? undefined
              : { intervalMs: intOption('--checkpoint-interval', String(o.checkpointInterval), 1), count: intOption('--checkpoints', String(o.checkpoints), 0) },
          onProgress: (p) => progress.update(p),
        }));
      } finally {
        progress.stop();
        domain.destroy();
      }
      if (o.json) process.stdout.write(JSON.stringify({ out, ...summary }) + '\n');
      else if (out !== '-') for (const line of summaryLines(summary)) process.stderr.write(`saved ${out}: ${line}\n`);
    });
}
