/**
 * The pre-copy section: round after round, how many pages went, how many were dirty at
 * its end, octets and times, and where the policy stopped. From the `--json` log of
 * `xenmig migrate` or `save` (the save engine's round log) or `xenmig receive` (rounds
 * as the receiver saw them), or, without a log, from the stream alone (pages per round, as a
 * round is seen in a stream: see PassCounter).
 */
import { UsageError } from '../format/errors.js';

export interface PrecopyRound {
  round: number;
  phase: string;
  pages: number;
  /** Pages dirty when the round ended (-1 unknown). */
  dirtyAfter: number;
  bytes: number;
  startMs?: number;
  durationMs?: number;
  /** Octets per second over the round. */
  throughput?: number;
  /** Pages dirtied per second while the round ran (its dirty pages over its time). */
  dirtyRate?: number;
}

export interface PrecopySection {
  source: 'migrate' | 'save' | 'receive' | 'stream';
  rounds: PrecopyRound[];
  downtimeMs?: number;
  totalMs?: number;
  totalBytes?: number;
  stop?: { afterRound: number; dirtyCount: number; reason: string };
  /** What the log said of the migration's end (migrated, refused...). */
  outcome?: string;
}

type Json = Record<string, unknown>;

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

function round(r: Json, i: number): PrecopyRound {
  const out: PrecopyRound = {
    round: num(r['round']) ?? i + 1,
    phase: typeof r['phase'] === 'string' ? r['phase'] : 'live',
    pages: num(r['pages']) ?? 0,
    dirtyAfter: num(r['dirtyAfter']) ?? -1,
    bytes: num(r['bytes']) ?? 0,
  };
  const start = num(r['startMs']);
  const dur = num(r['durationMs']);
  if (start !== undefined) out.startMs = start;
  if (dur !== undefined) {
    out.durationMs = dur;
    if (dur > 0) {
      out.throughput = out.bytes / (dur / 1000);
      if (out.dirtyAfter >= 0) out.dirtyRate = out.dirtyAfter / (dur / 1000);
    }
  }
  return out;
}

/** Reads a migrate, save or receive `--json` log (the whole text: one JSON object, or the last line that is one). */
export function parseMigrationLog(text: string, where = 'migration log'): PrecopySection {
  let obj: Json | undefined;
  const tryParse = (s: string): Json | undefined => {
    try {
      const v = JSON.parse(s) as unknown;
      return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
    } catch {
      return undefined;
    }
  };
  obj = tryParse(text);
  if (obj === undefined) {
    for (const line of text.split('\n').reverse()) {
      obj = tryParse(line.trim());
      if (obj !== undefined) break;
    }
  }
  if (obj === undefined) throw new UsageError(`${where}: not JSON (expected the --json output of xenmig migrate or receive)`);
  const save = obj['save'];
  // `save --live --json` prints the save summary itself; `migrate --json` holds it in `save`.
  const bare = Array.isArray(obj['roundLog']);
  if ((typeof save === 'object' && save !== null) || bare) {
    const s = (bare ? obj : save) as Json;
    const log = Array.isArray(s['roundLog']) ? (s['roundLog'] as Json[]) : undefined;
    if (log === undefined) throw new UsageError(`${where}: the migrate log has no per-round data (save.roundLog); it was written by an older xenmig`);
    const section: PrecopySection = { source: bare ? 'save' : 'migrate', rounds: log.map(round) };
    const stop = s['precopyStop'] as Json | undefined;
    if (stop && typeof stop['reason'] === 'string') {
      section.stop = { afterRound: num(stop['afterRound']) ?? 0, dirtyCount: num(stop['dirtyCount']) ?? -1, reason: stop['reason'] };
    }
    const down = num(obj['downtimeMs']);
    const total = num(obj['totalMs']);
    const bytes = num(s['bytes']);
    if (down !== undefined) section.downtimeMs = down;
    if (total !== undefined) section.totalMs = total;
    else if (bare && num(s['durationMs']) !== undefined) section.totalMs = num(s['durationMs']);
    if (bytes !== undefined) section.totalBytes = bytes;
    if (typeof obj['outcome'] === 'string') section.outcome = obj['outcome'];
    return section;
  }
  if (Array.isArray(obj['rounds'])) {
    const section: PrecopySection = { source: 'receive', rounds: (obj['rounds'] as Json[]).map(round) };
    const down = num(obj['downtimeMs']);
    const total = num(obj['totalMs']);
    const bytes = num(obj['bytes']);
    if (down !== undefined) section.downtimeMs = down;
    if (total !== undefined) section.totalMs = total;
    if (bytes !== undefined) section.totalBytes = bytes;
    if (typeof obj['outcome'] === 'string') section.outcome = obj['outcome'];
    return section;
  }
  throw new UsageError(`${where}: neither a migrate or save log (save.roundLog, roundLog) nor a receive log (rounds)`);
}
