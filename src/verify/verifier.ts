/**
 * The push-based verifier: fed the reader's items one by one, it answers with the
 * diagnostics each item raises before the caller acts on it (the guard stops a live
 * migration before forwarding the offending record). The rules live in the tables of
 * libxc-rules.ts and libxl-rules.ts; this file only routes items and keeps the layers.
 */
import { LimitExceededError, StreamFormatError, TruncatedStreamError, type StreamLocation } from '../format/errors.js';
import { isAllZero } from '../format/bytes.js';
import type { LibxcHeaderItem, RecordItem, StreamItem } from '../stream/items.js';
import { StaticDataTracker, type StaticDataEnd } from '../stream/static-data.js';
import { DIAGNOSTIC_CODES, type DiagnosticCode } from './codes.js';
import {
  LibxcState,
  SEQUENCE_RULES,
  advanceState,
  checkCompleteness,
  checkLibxcHeader,
  checkRecordBody,
  type RecordContext,
} from './libxc-rules.js';
import { LibxlState, checkLibxlHeader, checkLibxlRecord, checkXlHeader } from './libxl-rules.js';
import { CheckpointRules, type CheckpointCounts } from './checkpoint-rules.js';
import { checkpointedKind } from '../stream/reader.js';
import { Reporter } from './report.js';
import type { Diagnostic, StreamVerifier, VerifyOptions } from './types.js';

function recordLocation(item: RecordItem): StreamLocation {
  return { offset: item.offset, layer: item.layer, recordIndex: item.index, recordType: item.typeName };
}

function headerLocation(item: StreamItem, layer: string, name: string): StreamLocation {
  return { offset: item.offset, layer, recordType: name };
}

export class Verifier implements StreamVerifier {
  private libxl: LibxlState | undefined;
  private libxc: LibxcState | undefined;
  private readonly tracker = new StaticDataTracker();
  private started = false;
  private checkpoints: CheckpointRules | undefined;

  constructor(readonly opts: VerifyOptions = {}) {}

  get staticDataEnd(): StaticDataEnd | undefined {
    return this.tracker.done;
  }

  /** Checkpoints of a checkpointed libxl stream, once its libxl header was seen. */
  get checkpointCounts(): CheckpointCounts | undefined {
    return this.checkpoints?.counts;
  }

  push(item: StreamItem): Diagnostic[] {
    this.started = true;
    switch (item.kind) {
      case 'xl-header': {
        const r = new Reporter(headerLocation(item, 'xl', 'xl header'));
        checkXlHeader(item, r);
        return r.out;
      }
      case 'libxl-header': {
        const r = new Reporter(headerLocation(item, 'libxl', 'libxl header'));
        this.libxl = new LibxlState(item, Boolean(this.opts.checkpointed), () => this.libxc);
        const kind = checkpointedKind(this.opts.checkpointed);
        if (kind) this.checkpoints = new CheckpointRules(kind, () => this.libxc?.guestType);
        checkLibxlHeader(item, r);
        return r.out;
      }
      case 'libxc-header':
        return this.libxcHeader(item);
      case 'record':
        return item.layer === 'libxc' ? this.libxcRecord(item) : this.libxlRecord(item);
      case 'trailing': {
        const r = new Reporter({ offset: item.offset });
        r.report('trailing-data', `${item.length === 1 ? 'data' : `${item.length} octet(s)`} after the outermost END; expected end of input`);
        return r.out;
      }
    }
  }

  private libxcHeader(item: LibxcHeaderItem): Diagnostic[] {
    const r = new Reporter(headerLocation(item, 'libxc', 'image header'));
    this.libxc = new LibxcState(item, Boolean(this.opts.checkpointed));
    this.tracker.push(item);
    checkLibxcHeader(item, r);
    if (this.libxl && this.libxl.header.littleEndian !== item.littleEndian) {
      r.report('endianness-mismatch', `libxc stream is ${item.littleEndian ? 'little' : 'big'}-endian inside a ${this.libxl.header.littleEndian ? 'little' : 'big'}-endian libxl stream`);
    }
    return r.out;
  }

  private padding(item: RecordItem, r: Reporter): void {
    if (!isAllZero(item.padding)) {
      const at = item.padding.findIndex((b) => b !== 0);
      r.report('padding-nonzero', `padding octet ${at} of ${item.padding.length} is 0x${item.padding[at]!.toString(16).padStart(2, '0')}, expected zero`);
    }
  }

  private libxcRecord(item: RecordItem): Diagnostic[] {
    const state = this.libxc;
    const r = new Reporter(recordLocation(item));
    if (state === undefined) return r.out;
    this.padding(item, r);
    const ctx: RecordContext = {
      item,
      state,
      opts: this.opts,
      r,
      view: new DataView(item.body.buffer, item.body.byteOffset, item.body.byteLength),
    };
    const end = this.tracker.push(item);
    if (end?.inferred) {
      r.report('static-data-end-inferred', `v2 stream: STATIC_DATA_END inferred before this first ${item.typeName}`);
    }
    for (const rule of SEQUENCE_RULES) rule.check(ctx);
    checkRecordBody(ctx);
    advanceState(item, state);
    this.checkpoints?.libxcRecord(item, r);
    if (state.ended) checkCompleteness(state, r);
    return r.out;
  }

  private libxlRecord(item: RecordItem): Diagnostic[] {
    const r = new Reporter(recordLocation(item));
    if (this.libxl === undefined) return r.out;
    this.padding(item, r);
    checkLibxlRecord({ item, state: this.libxl, r });
    this.checkpoints?.libxlRecord(item, r);
    return r.out;
  }

  finish(): Diagnostic[] {
    const r = new Reporter({});
    if (!this.started) return r.out;
    if (this.libxc !== undefined && !this.libxc.ended) {
      r.report('missing-end', 'the libxc stream stopped before its END record', { layer: 'libxc' });
    } else if (this.libxl !== undefined && !this.libxl.ended) {
      r.report('missing-end', 'the libxl stream stopped before its END record', { layer: 'libxl' });
    }
    return r.out;
  }
}

/** Which code a framing error from the reader gets, so scripts can tell them apart. */
export function framingCode(err: StreamFormatError): DiagnosticCode {
  // The legacy reader names its own findings (src/stream/legacy/errors.ts).
  const own = (err as { code?: unknown }).code;
  if (typeof own === 'string' && own in DIAGNOSTIC_CODES) return own as DiagnosticCode;
  if (err instanceof TruncatedStreamError) return 'truncated';
  if (err instanceof LimitExceededError) return 'limit-exceeded';
  if (/128 MiB/.test(err.detail)) return 'record-too-long';
  if (/stream-v2 flag/.test(err.detail)) return 'xl-legacy-stream';
  if (/legacy/.test(err.detail)) return 'legacy-image';
  if (/^empty input/.test(err.detail)) return 'empty-input';
  return 'bad-framing';
}

export function framingDiagnostic(err: StreamFormatError): Diagnostic {
  return { severity: 'error', code: framingCode(err), message: err.detail, location: err.location };
}
