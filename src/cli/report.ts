/**
 * `xenmig report`: one self-contained HTML page of a stream (timeline, findings, memory
 * map, CPU policy, vcpus, pre-copy rounds). A broken stream is reported too, its
 * findings pinned where they are: exit 0 once the page is written, 2 for usage or I/O.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { IoError } from '../format/errors.js';
import type { WrittenReport } from '../report/write.js';
import { startProgress } from './progress.js';
import { inputFormatOption } from './options.js';

interface ReportCliOptions {
  output: string;
  host?: string;
  policy?: string;
  migration?: string;
  format: 'auto';
  checkpointed?: boolean;
  colo?: boolean;
  force?: boolean;
  json?: boolean;
  quiet?: boolean;
}

/** The one line `report`, `migrate --report` and `demo` print about a page. */
export function reportLine(w: WrittenReport): string {
  const m = w.model;
  const verdict = m.framingError ? 'broken stream' : m.conforming ? 'conforming' : 'NOT conforming';
  return (
    `report written to ${w.path} (${(w.bytes / 1024).toFixed(0)} KiB): ${m.records} records, ${m.memory.populatedPfns} populated pfns, ` +
    `${m.precopy.rounds.length} round(s), ${verdict} (${m.errors} error(s), ${m.warnings} warning(s))`
  );
}

export function reportJson(w: WrittenReport): Record<string, unknown> {
  const m = w.model;
  return {
    path: w.path,
    bytes: w.bytes,
    records: m.records,
    populatedPfns: m.memory.populatedPfns,
    pagesSent: m.memory.pagesSent,
    pagesResent: m.memory.pagesResent,
    rounds: m.precopy.rounds.length,
    roundsSource: m.precopy.source,
    streamRounds: m.streamRounds.count,
    vcpus: m.vcpus.length,
    conforming: m.conforming,
    errors: m.errors,
    warnings: m.warnings,
    ...(m.framingError ? { framingError: m.framingError.message } : {}),
    ...(m.cpu.host ? { hostCompatible: m.cpu.host.compatible, blocking: m.cpu.host.reasons.length } : {}),
  };
}

export function register(program: Command): void {
  program
    .command('report')
    .description('write one self-contained HTML page of a stream: timeline and findings, memory map, CPU policy, vcpus, pre-copy rounds')
    .argument('<stream>', 'stream or save file, or - for standard input')
    .requiredOption('-o, --output <FILE>', 'the HTML file to write (atomically)')
    .option('--host <POLICY>', "a host's policy file (xen-cpuid -p output or xenmig JSON): what blocks the move there, what Xen would strip")
    .option('--policy <name>', 'which policy of the --host file (default: by guest type, as compat)')
    .option('--migration <LOG.json>', 'the --json output of `xenmig migrate`, `save` or `receive`: pages, dirty counts, octets and times per round, the downtime')
    .addOption(inputFormatOption())
    .option('--checkpointed', 'a checkpointed (Remus) stream')
    .option('--colo', 'a COLO stream')
    .option('--force', 'replace an existing output file')
    .option('--json', 'print what the page shows in numbers, as JSON')
    .option('--quiet', 'no progress on stderr')
    .action(async (stream: string, o: ReportCliOptions) => {
      const { parseMigrationLog } = await import('../report/precopy.js');
      const { buildReportModel } = await import('../report/model.js');
      const { writeReportPage } = await import('../report/write.js');
      let migration;
      if (o.migration !== undefined) {
        let text: string;
        try {
          text = readFileSync(o.migration, 'utf8');
        } catch (err) {
          throw new IoError(`${o.migration}: ${(err as Error).message}`, { cause: err });
        }
        migration = parseMigrationLog(text, o.migration);
      }
      const progress = await startProgress('report', o);
      let model;
      try {
        model = await buildReportModel(stream, {
          format: o.format,
          ...(o.colo ? { checkpointed: 'colo' as const } : o.checkpointed ? { checkpointed: 'remus' as const } : {}),
          ...(o.host !== undefined ? { host: o.host } : {}),
          ...(o.policy !== undefined ? { hostPolicyName: o.policy } : {}),
          ...(migration ? { migration } : {}),
          onProgress: progress.update,
        });
      } finally {
        progress.stop();
      }
      const written = await writeReportPage(model, o.output, { force: Boolean(o.force) });
      process.stdout.write((o.json ? JSON.stringify(reportJson(written), null, 2) : reportLine(written)) + '\n');
    });
}
