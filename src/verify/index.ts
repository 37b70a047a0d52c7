/**
 * The verifier's entry points. Push-based (`createVerifier`) for whoever already reads
 * the items (the guard, the restorer); `verifyStream` reads a path, "-" or a ByteReader
 * itself and returns every diagnostic and the summary.
 */
import { StreamFormatError } from '../format/errors.js';
import { ByteReader } from '../io/byte-reader.js';
import { FdRawSource, openRawSource, type RawSource } from '../io/raw-source.js';
import type { StreamLayer } from '../stream/detect.js';
import { checkpointedKind, readStream } from '../stream/reader.js';
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

export function createVerifier(opts: VerifyOptions = {}): StreamVerifier {
  return new Verifier(opts);
}

export interface VerifyStreamOptions extends VerifyOptions {
  format?: StreamLayer | 'auto';
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
  const keep = (ds: Diagnostic[]): void => {
    for (const d of ds) {
      if (d.severity === 'error') errors++;
      else if (d.severity === 'warning') warnings++;
      if (diagnostics.length < max) diagnostics.push(d);
      else suppressed++;
    }
  };
  const size = reader.source.size;
  try {
    let framed = true;
    try {
      for await (const item of readStream(reader, { format: opts.format ?? 'auto', pageContents: 'skip', checkpointed: checkpointedKind(opts.checkpointed) })) {
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
