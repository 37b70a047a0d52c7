/**
 * The verifier's entry points. Push-based (`createVerifier`) for whoever already reads
 * the items (the guard, the restorer); `verifyStream` reads a path, "-" or a ByteReader
 * itself and returns every diagnostic and the summary.
 */
import { StreamFormatError } from '../format/errors.js';
import { ByteReader } from '../io/byte-reader.js';
import { FdRawSource, openRawSource, type RawSource } from '../io/raw-source.js';
import type { StreamLayer } from '../stream/detect.js';
import { checkpointedKind } from '../stream/reader.js';
import { readAnyStream } from '../stream/any.js';
import type { LegacyOptions } from '../stream/legacy/reader.js';
import { SummaryBuilder, type StreamSummary } from './summary.js';
import { Verifier, framingDiagnostic } from './verifier.js';
import type { CheckpointCounts } from './checkpoint-rules.js';
import type { Diagnostic, StreamVerifier, VerifyOptions } from './types.js';

export * from './types.js';
export * from './codes.js';
export { formatDiagnostic } from './report.js';
export { SummaryBuilder, PfnSet, countSeverities, type StreamSummary } from './summary.js';
export { Verifier, framingCode, framingDiagnostic } from './verifier.js';
export { BODY_CHECKS, SEQUENCE_RULES } from './libxc-rules.js';
export { LIBXL_CHECKS } from './libxl-rules.js';
export { CheckpointRules, type CheckpointCounts } from './checkpoint-rules.js';

const ONWARD_CHUNK = 64 * 1024;

/** Findings of one code shown one by one; the rest are counted in one 'repeated-findings' line. */
export const REPEATS_SHOWN = 10;

export function createVerifier(opts: VerifyOptions = {}): StreamVerifier {
  return new Verifier(opts);
}

export interface VerifyStreamOptions extends VerifyOptions {
  format?: StreamLayer | 'auto';
  /** What to take as given about a legacy image (detected otherwise). */
  legacy?: LegacyOptions;
  /** Read every octet, page contents too (for a pipe-like pass over a file). */
  readAll?: boolean;
  /** Keep at most this many diagnostics (the counts still cover all); default 1000. */
  maxDiagnostics?: number;
  /** Called after each record with the position reached and the size when known. */
  onProgress?: (position: number, size: number | undefined) => void;
}

export interface VerifyResult {
  conforming: boolean;
  diagnostics: Diagnostic[];
  /** Diagnostics counted but not kept (beyond maxDiagnostics). */
  suppressed: number;
  errors: number;
  warnings: number;
  summary: StreamSummary;
  /** A libxl stream verified as checkpointed: its checkpoints, and how many were closed. */
  checkpoints?: CheckpointCounts;
}

/**
 * Verifies a whole stream. Non-conforming input is reported in the result, never thrown;
 * only I/O trouble (IoError) is thrown.
 */
export async function verifyStream(input: string | ByteReader, opts: VerifyStreamOptions = {}): Promise<VerifyResult> {
  let reader: ByteReader;
  if (typeof input === 'string') {
    // Nothing else runs while a whole stream is verified: block on reads rather than poll.
    const raw: RawSource =
      opts.readAll && input !== '-' ? FdRawSource.openFileOnward(input) : await openRawSource(input, { blocking: true, blockingPipe: true });
    // Reading onward, 64 KiB (a pipe's worth) per read measured fastest: the buffer stays in cache.
    reader = new ByteReader(raw, raw.canSeek ? undefined : ONWARD_CHUNK);
  } else {
    reader = input;
  }
  const verifier = new Verifier(opts);
  const summary = new SummaryBuilder();
  const max = opts.maxDiagnostics ?? 1000;
  const diagnostics: Diagnostic[] = [];
  let suppressed = 0;
  let errors = 0;
  let warnings = 0;
  // A hostile stream can repeat one finding millions of times: memory and output stay
  // bounded by the number of codes, not of records.
  const seen = new Map<string, number>();
  const repeated = new Map<string, { severity: string; count: number; typeNames: Set<string>; last: Diagnostic }>();
  const keep = (ds: Diagnostic[]): void => {
    for (const d of ds) {
      if (d.severity === 'error') errors++;
      else if (d.severity === 'warning') warnings++;
      if (diagnostics.length >= max) {
        suppressed++;
        continue;
      }
      const n = (seen.get(d.code) ?? 0) + 1;
      seen.set(d.code, n);
      if (n > REPEATS_SHOWN) {
        let r = repeated.get(d.code);
        if (!r) repeated.set(d.code, (r = { severity: d.severity, count: 0, typeNames: new Set(), last: d }));
        r.count++;
        r.last = d;
        if (d.location.recordType !== undefined && r.typeNames.size < 4) r.typeNames.add(d.location.recordType);
        continue;
      }
      diagnostics.push(d);
    }
  };
  const aggregate = (): void => {
    for (const [code, r] of repeated) {
      const kinds = r.typeNames.size > 0 ? ` (${[...r.typeNames].join(', ')}${r.typeNames.size >= 4 ? ', ...' : ''})` : '';
      const d: Diagnostic = {
        severity: 'info',
        code: 'repeated-findings',
        message: `${r.count.toLocaleString('en-US')} more ${code} ${r.severity}(s)${kinds} like the ${REPEATS_SHOWN} above, counted here instead of one line each; the last: ${r.last.message}`,
        location: r.last.location,
      };
      if (diagnostics.length < max) diagnostics.push(d);
      else suppressed += r.count;
    }
  };
  const size = reader.source.size;
  try {
    let framed = true;
    try {
      for await (const item of readAnyStream(reader, { legacy: opts.legacy ?? {}, format: opts.format ?? 'auto', pageContents: 'skip', headsOnly: true, checkpointed: checkpointedKind(opts.checkpointed) })) {
        keep(verifier.push(item));
        summary.push(item);
        if (opts.onProgress && item.kind === 'record') opts.onProgress(item.end, size);
      }
    } catch (err) {
      if (!(err instanceof StreamFormatError)) throw err;
      keep([framingDiagnostic(err)]);
      framed = false;
    }
    if (framed) keep(verifier.finish());
    aggregate();
  } finally {
    if (typeof input === 'string') await reader.close();
  }
  return {
    conforming: errors === 0,
    diagnostics,
    suppressed,
    errors,
    warnings,
    summary: summary.finish({ errors, warnings }),
    ...(verifier.checkpointCounts ? { checkpoints: { ...verifier.checkpointCounts } } : {}),
  };
}
