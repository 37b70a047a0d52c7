/**
 * The guard's log: where its lines go, and the lines that tell a migration's story
 * (headers, handshake steps, totals, the exit, a stop). Two kinds of line:
 *  - log: one line per event, to --log FILE (time-stamped) or else stderr;
 *  - report: what explains a stop or a forced end, always on stderr (xl shows the
 *    guard's stderr), and in the log file too when there is one.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { UsageError, describeLocation, type StreamLocation } from '../../format/errors.js';
import { xlConfigText } from '../../format/headers.js';
import type { StreamItem } from '../../stream/items.js';
import type { HandshakeEvent } from './handshake.js';

export interface GuardLog {
  /** One line per event. */
  log: (line: string) => void;
  /** The lines that explain a stop: always shown to the user. */
  report: (line: string) => void;
}

/** Why and where the guard stopped a migration. */
export interface GuardStop {
  /** Where the held record starts in the sender's stream. */
  location: StreamLocation;
  what: string;
  reasons: string[];
}

/** The log of the command line: `path` (appended, time-stamped) or stderr. */
export function openGuardLog(path: string | undefined): GuardLog & { close(): void } {
  const logFd = path !== undefined ? openLog(path) : 2;
  const write = (fd: number, line: string): void => {
    try {
      writeSync(fd, line + '\n');
    } catch {
      // A log that cannot be written must not end the migration.
    }
  };
  const stamp = (): string => new Date().toISOString();
  return {
    log: (line) => write(logFd, logFd === 2 ? `xenmig guard: ${line}` : `${stamp()} ${line}`),
    report: (line) => {
      write(2, line);
      if (logFd !== 2) write(logFd, `${stamp()} ${line.replace(/^xenmig guard: /, '')}`);
    },
    close: () => {
      if (logFd !== 2) closeSync(logFd);
    },
  };
}

function openLog(path: string): number {
  try {
    return openSync(path, 'a');
  } catch (err) {
    throw new UsageError(`guard: cannot open the log ${path}: ${(err as Error).message}`);
  }
}

export function describeStop(stop: GuardStop): string {
  const where = describeLocation(stop.location);
  return `${stop.what}${where ? ` (${where})` : ''}`;
}

/** The lines a stop reports: what and where, then every reason. */
export function reportStop(out: GuardLog, stop: GuardStop): void {
  out.report(`xenmig guard: stopped the migration: ${describeStop(stop)}`);
  for (const r of stop.reasons) out.report(`xenmig guard:   - ${r}`);
}

/** A handshake step seen in one direction (`side`: sender or receiver). */
export function handshakeLine(side: string, e: HandshakeEvent): string {
  if (e.kind === 'message') return `${side}: ${e.name}`;
  if (e.kind === 'status' && e.name === 'preflight verdict') return `${side}: xenmig preflight verdict: ${e.status === 0 ? 'accept' : 'refuse'}`;
  if (e.kind === 'status') return `${side}: status byte ${e.status}${e.status === 0 ? ' (domain running at the destination)' : ' (startup failed at the destination)'}`;
  return `${side}: ${e.name} at offset ${e.offset}; relaying without recognising them`;
}

/** The line for a header of the sender's stream; undefined for records. */
export function headerLine(item: StreamItem, guestName: string | undefined): string | undefined {
  switch (item.kind) {
    case 'xl-header': {
      const cfg = item.header.config;
      return `sender: xl header, ${item.end - item.offset} octet(s), config ${cfg ? `${cfg.length} octet(s)${configName(cfg)}` : 'absent'}`;
    }
    case 'libxl-header':
      return `sender: libxl stream v${item.header.version}${item.littleEndian ? '' : ', big-endian'}`;
    case 'libxc-header': {
      const d = item.domain;
      return (
        `sender: libxc stream v${item.image.version}, ${guestName ?? `domain type ${d.type}`} guest, ` +
        `from Xen ${d.xenMajor}.${d.xenMinor}${item.littleEndian ? '' : ', big-endian'}`
      );
    }
    default:
      return undefined;
  }
}

function configName(cfg: Uint8Array): string {
  const m = /"name"\s*:\s*"([^"]*)"|^\s*name\s*=\s*["']([^"']*)["']/m.exec(xlConfigText(cfg));
  return m ? `, domain "${m[1] ?? m[2]}"` : '';
}

export interface Totals {
  senderBytes: number;
  records: number;
  pages: number;
  rounds: number;
  receiverBytes: number;
  seconds: number;
  status: number | undefined;
}

export function totalsLine(t: Totals): string {
  return (
    `totals: ${t.senderBytes} octet(s) from the sender (${t.records} record(s), ${t.pages} page(s) in ${t.rounds} round(s)), ${t.receiverBytes} from the receiver, ${t.seconds.toFixed(3)} s` +
    (t.status !== undefined ? `, receiver status ${t.status}` : '')
  );
}

export function exitLine(exitCode: number, how: { couldNotRun: boolean; code: number | null; signal: NodeJS.Signals | null; stopped: boolean }): string {
  if (how.couldNotRun) return `exit ${exitCode}: the command could not run`;
  const ended = how.signal ? `was killed by ${how.signal}` : `exited with status ${how.code}`;
  return `exit ${exitCode}: the command ${ended}${how.stopped ? ' after the guard stopped the migration' : ''}`;
}

/** Seconds for messages: "0.3 s", "30 s". */
export function secs(ms: number): string {
  return `${+(ms / 1000).toFixed(3)} s`;
}
