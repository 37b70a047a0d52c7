/**
 * `xenmig migrate`: move a running domain to a receiver, like `xl migrate`: over TCP
 * (`--to HOST:PORT`) or through a command's stdin/stdout (`--ssh-command "ssh host
 * xenmig receive --stdio --into DIR"`). A xenmig receiver is asked first whether it can
 * run the domain (the preflight); `--preflight-only` asks just that (exit 0 accepted,
 * 1 refused, 2 could not ask).
 */
import type { Command } from 'commander';
import { IoError, RefusedError, UsageError } from '../format/errors.js';
import { migrateDomain, type MigrateResult } from '../migrate/sender.js';
import { commandChannel, connectChannel, type Channel } from '../migrate/transport.js';
import type { SimulatedDomain } from '../domain/simulated/simulated-domain.js';
import { parseHostPort } from './receive.js';
import { jsonOption, quietOption } from './options.js';
import { readSecretFile } from '../migrate/auth.js';
import { addDomainOptions, openDomainFromOptions, policyFromOptions, progressReporter, type DomainOptions } from './save.js';
import type { WrittenReport } from '../report/write.js';
import type { ReportTap } from '../report/tap.js';

const MiB = 1024 * 1024;

export interface MigrateCliOptions extends DomainOptions {
  to?: string;
  sshCommand?: string;
  preflight: boolean;
  preflightOnly?: boolean;
  debug?: boolean;
  maxRounds?: string;
  targetDirty?: string;
  json?: boolean;
  quiet?: boolean;
  secretFile?: string;
  /** Write the report page of the migration here (replaced if it exists). */
  report?: string;
  /** Told of the page once written. */
  onReport?: (w: WrittenReport) => void;
}

export function migrationSummaryLines(r: MigrateResult): string[] {
  if (!r.save) return [`preflight accepted in ${r.totalMs.toFixed(0)} ms`];
  const s = r.save;
  const secs = r.totalMs / 1000;
  return [
    `migrated: ${s.bytes} octets (${(s.bytes / MiB).toFixed(1)} MiB) in ${r.totalMs.toFixed(0)} ms, ${(s.bytes / MiB / secs).toFixed(0)} MiB/s`,
    `rounds: ${s.rounds}, pages per round: ${s.pagesPerRound.join(', ')}`,
    `downtime (suspend to the receiver's ready): ${r.downtimeMs!.toFixed(1)} ms`,
  ];
}

/** Open the channel the options name; a child process is reaped when it closes. */
export async function openSenderChannel(o: { to?: string; sshCommand?: string }): Promise<Channel> {
  if ((o.to === undefined) === (o.sshCommand === undefined)) throw new UsageError('give exactly one of --to HOST:PORT and --ssh-command CMD');
  if (o.to !== undefined) {
    const { host, port } = parseHostPort(o.to, '--to');
    return connectChannel(host, port);
  }
  return commandChannel(o.sshCommand!).channel;
}

/** Run one migration of `domain` (already running) as the options say. */
export async function runMigration(domain: SimulatedDomain, o: MigrateCliOptions): Promise<MigrateResult> {
  const say = (l: string): void => {
    if (!o.quiet) process.stderr.write(`xenmig migrate: ${l}\n`);
  };
  let channel: Channel;
  try {
    channel = await openSenderChannel(o);
  } catch (err) {
    if (o.preflightOnly && !(err instanceof UsageError)) throw new IoError(`could not ask the receiver: ${(err as Error).message}`);
    throw err;
  }
  let secret: Uint8Array | undefined;
  if (o.secretFile !== undefined) {
    try {
      const s = readSecretFile(o.secretFile);
      if (s.warning) process.stderr.write(`xenmig migrate: ${s.warning}\n`);
      secret = s.secret;
    } catch (err) {
      channel.destroy();
      throw err;
    }
  }
  const progress = await progressReporter(Boolean(o.quiet));
  let tap: ReportTap | undefined;
  if (o.report !== undefined && !o.preflightOnly) {
    const { ReportTap } = await import('../report/tap.js');
    tap = new ReportTap({ name: `migration to ${o.to ?? o.sshCommand}` });
  }
  try {
    const result = await migrateDomain(domain, channel, {
      ...(secret ? { secret } : {}),
      preflight: o.preflight,
      preflightOnly: Boolean(o.preflightOnly),
      debug: Boolean(o.debug),
      precopyPolicy: policyFromOptions(o),
      onProgress: (p) => progress.update(p),
      log: say,
      ...(tap ? { wrapStreamSink: (sink) => tap.wrap(sink) } : {}),
    });
    progress.stop();
    await channel.close();
    if (tap) await writeMigrationReport(tap, o, result);
    return result;
  } catch (err) {
    progress.stop();
    channel.destroy();
    // A failed migration is when a picture helps most: the page shows what was sent.
    if (tap) await writeMigrationReport(tap, o, undefined, err as Error).catch((e: Error) => say(`could not write the report: ${e.message}`));
    if (o.preflightOnly && !(err instanceof RefusedError) && !(err instanceof UsageError)) {
      throw new IoError(`could not ask the receiver: ${(err as Error).message}`);
    }
    throw err;
  }
}

/** The page of a migration: the stream as the tap read it, the rounds from the result (as `report --migration` reads them). */
async function writeMigrationReport(tap: ReportTap, o: MigrateCliOptions, result: MigrateResult | undefined, failure?: Error): Promise<void> {
  const { parseMigrationLog } = await import('../report/precopy.js');
  const { writeReportPage } = await import('../report/write.js');
  const model = await tap.finish();
  // Refused before the stream began: nothing to picture.
  if (failure && model.items === 0) return;
  if (result?.save) model.precopy = parseMigrationLog(JSON.stringify(result), 'migration result');
  if (failure) model.precopy.outcome = `failed: ${failure.message}`;
  const written = await writeReportPage(model, o.report!, { force: true });
  o.onReport?.(written);
}

export function register(program: Command): void {
  const cmd = program
    .command('migrate')
    .description('live-migrate a domain (the sample, or a memory image) to `xenmig receive`, xl-style');
  addDomainOptions(cmd, { dirtyRate: '2000' })
    .option('--to <HOST:PORT>', 'the receiver\'s address (`xenmig receive --listen`)')
    .option('--ssh-command <CMD>', 'a command whose stdin/stdout reach a receiver, e.g. "ssh host xenmig receive --stdio --into DIR"')
    .option('--no-preflight', 'do not ask first (a plain `xl migrate-receive` on the other end)')
    .option('--preflight-only', 'only ask whether the receiver can run the domain (exit 0 yes, 1 no, 2 could not ask)')
    .option('--debug', 'append VERIFY and every page again')
    .option('--max-rounds <n>', 'pre-copy: stop after this many rounds', '5')
    .option('--target-dirty <n>', 'pre-copy: stop once fewer pages than this are dirty', '50')
    .option('--secret-file <FILE>', 'prove to the receiver (and have it prove) that both hold the secret in FILE; it never travels')
    .option('--report <FILE>', 'write the migration\'s report page (xenmig report) to FILE at the end (replaced if it exists)')
    .addOption(jsonOption('print the result as JSON'))
    .addOption(quietOption('no progress'))
    .action(async (o: MigrateCliOptions) => {
      let report: WrittenReport | undefined;
      if (o.report !== undefined) o.onReport = (w) => (report = w);
      if (o.preflightOnly && !o.preflight) throw new UsageError('--preflight-only and --no-preflight exclude each other');
      const domain = await openDomainFromOptions(o);
      domain.start();
      let result: MigrateResult;
      try {
        result = await runMigration(domain, o);
      } finally {
        // After success the domain lives at the receiver; after a failure it was resumed,
        // but this process is its only host and ends here.
        domain.destroy();
      }
      if (o.json) process.stdout.write(JSON.stringify(result) + '\n');
      else for (const l of migrationSummaryLines(result)) process.stdout.write(l + '\n');
      if (report) {
        const { reportLine } = await import('./report.js');
        // With --json, standard output holds the result alone.
        (o.json ? process.stderr : process.stdout).write(`${reportLine(report)}\n`);
      }
    });
}
