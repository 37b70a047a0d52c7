/**
 * `xenmig demo` (what `npm start` runs): the main job. A sample HVM domain (256 MiB, its
 * workload dirtying pages) migrates live over loopback TCP from this process to a
 * `xenmig receive` child process, preflight first; then the receiver's memory image is
 * compared page by page (a hash each) with the source's memory at the moment of
 * suspend, and the result printed, with the path of the migration's report page
 * (`xenmig report`).
 */
import { spawn } from 'node:child_process';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { IoError } from '../format/errors.js';
import { MemoryImage } from '../domain/image/memory-image.js';
import { compareMemory, type MemoryComparison } from '../inspect/memory.js';
import { samplePolicyPath } from '../policy/samples.js';
import { ExitCode, EXIT_NONCONFORMING } from './exit-codes.js';
import { quietOption } from './options.js';
import { migrationSummaryLines, runMigration, type MigrateCliOptions } from './migrate.js';
import { addDomainOptions, openDomainFromOptions, type DomainOptions } from './save.js';
import { reportLine } from './report.js';
import type { WrittenReport } from '../report/write.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '../../../bin/xenmig');

export interface ReceiverProcess {
  port: number;
  /** Resolves with the exit code. */
  exited: Promise<number>;
  kill(): void;
}

/** Start `xenmig receive --listen 127.0.0.1:0` and learn its port from its first line. */
export async function spawnReceiver(args: string[], onLine: (l: string) => void): Promise<ReceiverProcess> {
  const child = spawn(process.execPath, [BIN, 'receive', '--listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 70)));
  child.stdout.resume();
  const lines = createInterface({ input: child.stderr });
  const port = await new Promise<number>((resolve, reject) => {
    lines.on('line', (l) => {
      const m = /listening on [^\s]+:(\d+)$/.exec(l);
      if (m) resolve(Number(m[1]));
      else onLine(l);
    });
    void exited.then((code) => reject(new IoError(`the receiver exited (${code}) before listening`)));
  });
  return { port, exited, kill: () => child.kill() };
}

/** The image is a throwaway: tmpfs (/dev/shm) when there is one, so the disk does not set the pace. */
export async function scratchBase(): Promise<string> {
  try {
    await access('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}

interface DemoOptions extends DomainOptions {
  hostPolicy?: string;
  keep?: boolean;
  quiet?: boolean;
  report?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('demo')
    .description('live-migrate the sample domain between two xenmig processes over loopback TCP and prove the copy exact');
  addDomainOptions(cmd, { dirtyRate: '5000' })
    .option('--host-policy <FILE>', 'the receiving host\'s CPU policy', samplePolicyPath('intel-icelake-sp.txt'))
    .option('--keep', 'keep the receiver\'s memory image and print where it is')
    .option('--report <FILE>', 'where to write the migration\'s report page (default: xenmig-demo-report.html beside the demo\'s scratch directory)')
    .addOption(quietOption('no progress'))
    .action(async (o: DemoOptions) => {
      const out = (l: string): void => void process.stdout.write(l + '\n');
      const base = await scratchBase();
      const dir = await mkdtemp(join(base, 'xenmig-demo-'));
      const into = join(dir, 'image');
      // Beside the scratch directory, not in it: the page outlives the demo's image.
      const reportPath = o.report ?? join(base, 'xenmig-demo-report.html');
      let report: WrittenReport | undefined;
      try {
        const domain = await openDomainFromOptions(o);
        out(
          `source: sample ${domain.guestType.toUpperCase()} domain, ${(domain.maxPfn * 4096) / 1048576} MiB, workload ${o.dirtyRate} pages/s (${o.pattern})`,
        );
        const receiver = await spawnReceiver(['--into', into, '--host-policy', o.hostPolicy!, '--min-version', '3'], (l) =>
          out(`  [receiver] ${l.replace(/^xenmig receive: /, '')}`),
        );
        out(`receiver: a 'xenmig receive' process on 127.0.0.1:${receiver.port}, host policy ${o.hostPolicy}`);
        domain.start();
        const mo: MigrateCliOptions = { ...o, to: `127.0.0.1:${receiver.port}`, preflight: true, quiet: o.quiet, report: reportPath, onReport: (w) => (report = w) };
        let result;
        try {
          result = await runMigration(domain, mo);
        } catch (err) {
          receiver.kill();
          throw err;
        } finally {
          domain.destroy();
        }
        const code = await receiver.exited;
        if (code !== 0) throw new IoError(`the receiver exited with status ${code}`);
        for (const l of migrationSummaryLines(result)) out(l);
        const image = await MemoryImage.open(into);
        let cmp: MemoryComparison;
        try {
          cmp = await compareMemory(domain, image);
        } finally {
          await image.close();
        }
        out(`memory at suspend vs the receiver's image: ${cmp.pages} pages hashed, ${cmp.differing.length} differ`);
        if (cmp.zeroed.length > 0) out(`  ${cmp.zeroed.length} page(s) expected zero: the xenstore/console rings and ioreq pages, which the restorer clears as libxc does`);
        out(`  source   sha256(page hashes) ${cmp.sourceDigest}`);
        out(`  receiver sha256(page hashes) ${cmp.receiverDigest}`);
        if (cmp.differing.length > 0) {
          if (report) out(reportLine(report));
          out(`RESULT: the copy is NOT exact (first differing pfns: ${cmp.differing.slice(0, 8).map((p) => '0x' + p.toString(16)).join(', ')})`);
          throw new ExitCode(EXIT_NONCONFORMING);
        }
        out('RESULT: the copy is exact');
        if (report) out(reportLine(report));
        if (o.keep) out(`image kept in ${into}`);
      } finally {
        if (!o.keep) await rm(dir, { recursive: true, force: true });
      }
    });
}
