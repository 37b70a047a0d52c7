/**
 * The restore engine: one consumer of stream items that drives a DomainSink, like
 * libxc's restore loop. Every item first goes through the verifier's rules, strictly:
 * the first error stops the restore with the verifier's code and words, its warnings
 * become the restore's, so `verify` and `restore` never disagree on a stream. Each record
 * is then prepared (decoded, nothing applied) and applied; in a checkpointed stream the prepared records after the
 * first CHECKPOINT wait for the next CHECKPOINT, so a stream that breaks leaves the
 * domain exactly at the last complete checkpoint.
 */
import {
  CHECKPOINT_STATE_ID,
  LIBXL_REC_TYPE,
  PAGE_SIZE,
  PAGE_TYPE,
  REC_TYPE,
  guestTypeOf,
  isOptionalRecordType,
  pageTypeHasData,
  type GuestType,
} from '../format/constants.js';
import { RefusedError, StreamFormatError, TruncatedStreamError, type StreamLocation } from '../format/errors.js';
import { xlConfigText } from '../format/headers.js';
import { decodeLibxlRecord } from '../format/libxl/table.js';
import { scanXenstoreData } from '../format/libxl/xenstore-data.js';
import { PAGE_DATA_HEADER_LAYOUT, decodeRecord, isKnownRecord, pfnArrayWords, wordsPageType, wordsPfn, type KnownLibxcRecord } from '../format/records.js';
import type { DomainSink, EmulatorData } from '../domain/types.js';
import { SparsePfnBytes } from '../domain/image/pfn-map.js';
import type { RecordItem, RecordRest, StreamItem } from '../stream/items.js';
import { checkpointedKind, type CheckpointedKind } from '../stream/reader.js';
import { StaticDataTracker, type StaticDataEnd } from '../stream/static-data.js';
import type { Diagnostic } from '../verify/types.js';
import { Verifier } from '../verify/verifier.js';
import { hvmOps } from './hvm.js';
import type { GuestOps, RestoreContext } from './ops.js';
import { pvOps } from './pv.js';
import { IGNORED_SHOWN, WARNINGS_KEPT, type RestoreOptions, type RestoreResult } from './types.js';

const RESTORE_OPS: Record<GuestType, () => GuestOps> = { hvm: hvmOps, pv: pvOps };

/**
 * Page contents lent to the sink per call, a multiple of the page size. Measured on the
 * migration receiver (1 GiB into a memory image on tmpfs, 12 MiB of socket blocks),
 * runs taken in turn: 1 MiB pieces 880-970 MiB/s, 2 MiB 940-1120, 4 MiB 960-1130; 256
 * KiB cost the receiver 0.3 s more CPU than 1 MiB. Each piece is a thread-pool round
 * trip (two context switches) at the sink.
 */
const LENT_PIECE = 2 * 1024 * 1024;

/** A record checked and decoded, ready to apply. Page data may be a view (applied at once) or a copy (buffered). */
/** Entries handed to the sink at a time (and pages compared at a time in VERIFY mode). */
const ENTRY_SLICE = 65536;

/** A PAGE_DATA record's pfn array, read through the PAGE_DATA module's reader. */
class PfnEntries {
  private readonly words: Uint32Array;
  constructor(
    body: Uint8Array,
    readonly count: number,
    le: boolean,
  ) {
    this.words = pfnArrayWords(body, count, le);
  }

  type(i: number): number {
    return wordsPageType(this.words, i);
  }

  pfn(i: number): number {
    return wordsPfn(this.words, i);
  }

  slice(first: number, end: number): { pfns: number[]; types: number[] } {
    const pfns = new Array<number>(end - first);
    const types = new Array<number>(end - first);
    for (let i = first; i < end; i++) {
      pfns[i - first] = this.pfn(i);
      types[i - first] = this.type(i);
    }
    return { pfns, types };
  }

  /** The pfns whose pages follow, handed out n at a time in entry order. */
  dataPfns(): { next(n: number): number[] } {
    let at = 0;
    return {
      next: (n: number): number[] => {
        const out: number[] = [];
        while (out.length < n && at < this.count) {
          if (pageTypeHasData(this.type(at))) out.push(this.pfn(at));
          at++;
        }
        return out;
      },
    };
  }
}

/** Warnings the result already holds in its own shape: unknown optional records are `ignored` (and counted). */
const SHOWN_OTHERWISE: ReadonlySet<string> = new Set(['unknown-optional-record']);

/** A verifier rule the stream breaks: the restore stops with the verifier's code, words and place. */
export class RuleViolation extends StreamFormatError {
  readonly code: string;
  constructor(d: Diagnostic) {
    super(d.message, d.location);
    this.code = d.code;
  }
}

/** The verifier's missing-end: still a truncation to whoever tells broken inputs apart (failover, receivers). */
export class RuleTruncation extends TruncatedStreamError {
  readonly code: string;
  constructor(d: Diagnostic) {
    super(d.message, d.location);
    this.code = d.code;
  }
}

type Prepared =
  | {
      kind: 'pages';
      loc: StreamLocation;
      /**
       * The pfn entries, read in slices when applied: a record may list millions of
       * pfns, and per-entry arrays for all of them cost hundreds of MiB.
       */
      entries: PfnEntries;
      /** Entries whose page type carries data (their pages follow, in entry order). */
      dataCount: number;
      /** The pages' contents, or nothing yet when they are still to be copied out of the input (`rest`). */
      data: Uint8Array;
      rest?: RecordRest;
      end: number;
    }
  | { kind: 'record'; loc: StreamLocation; rec: KnownLibxcRecord; end: number }
  | { kind: 'skip' };

function locOf(item: RecordItem): StreamLocation {
  return { offset: item.offset, layer: item.layer, recordIndex: item.index, recordType: item.typeName };
}

/** Errors that mean "the input broke" rather than "applying failed". */
class InputBroke extends Error {
  constructor(readonly inner: unknown) {
    super((inner as Error)?.message ?? String(inner));
  }
}

export class Restorer implements RestoreContext {
  private readonly tracker = new StaticDataTracker();
  /** The verifier's rules, run strictly on every item before it is applied. */
  private readonly rules: Verifier;
  private ops: GuestOps | undefined;
  private guestType: GuestType | undefined;
  private streamVersion = 0;
  private staticEnd: StaticDataEnd | undefined;
  private readonly populated = new SparsePfnBytes();
  private verifying: boolean;
  private verifyScratch = new Uint8Array(0);
  private buffering = false;
  private buffered: Prepared[] = [];
  /** Checkpointed libxl stream: between a libxc CHECKPOINT and its CHECKPOINT_END. */
  private inCheckpoint = false;
  /** Its emulator records, applied with the checkpoint's libxc records at CHECKPOINT_END. */
  private checkpointEmulator: EmulatorData[] = [];
  /** COLO: the record after CHECKPOINT_END must be CHECKPOINT_STATE. */
  private expectState = false;
  private libxcEnded = false;
  private libxlStarted = false;
  private libxlEnded = false;
  private pendingConfig: string | undefined;
  private pendingEmulator: Parameters<DomainSink['setEmulatorData']>[0][] = [];
  private begun = false;
  readonly result: RestoreResult = {
    guestType: 'hvm',
    streamVersion: 0,
    xenMajor: 0,
    xenMinor: 0,
    layers: [],
    records: 0,
    libxlRecords: 0,
    pageRecords: 0,
    pagesWritten: 0,
    pfnsPopulated: 0,
    ignored: [],
    ignoredCounts: [],
    warnings: [],
    warningsDropped: 0,
    checkpoints: 0,
    clearedPages: [],
    bytes: 0,
  };

  constructor(
    readonly sink: DomainSink,
    private readonly opts: RestoreOptions = {},
  ) {
    this.rules = new Verifier({ checkpointed: opts.checkpointed ?? false });
    this.verifying = opts.verifyMode ?? false;
    if (this.verifying) this.result.verify = { pagesChecked: 0, mismatches: [] };
  }

  get staticDataEnded(): boolean {
    return this.staticEnd !== undefined;
  }

  warn(message: string, location: StreamLocation): void {
    if (this.result.warnings.length < WARNINGS_KEPT) this.result.warnings.push({ message, location });
    else this.result.warningsDropped++;
    this.opts.onEvent?.({ kind: 'warning', message, location });
  }

  pageCleared(pfn: number, param: string): void {
    const known = this.result.clearedPages.find((c) => c.pfn === pfn && c.param === param);
    if (!known) this.result.clearedPages.push({ pfn, param });
  }

  /** Remus or COLO when the stream is restored as checkpointed. */
  private get checkpointKind(): CheckpointedKind | undefined {
    return checkpointedKind(this.opts.checkpointed);
  }

  /**
   * A checkpointed libxl stream whose libxc END arrived: the receiver completes there
   * (libxl_stream_read.c, libxl__xc_domain_restore_done) and reads no libxl record after it.
   */
  get completeAtLibxcEnd(): boolean {
    return this.checkpointKind !== undefined && this.libxlStarted && this.libxcEnded;
  }

  /** Whether a failure now can fall back to the last complete checkpoint. */
  get canFailover(): boolean {
    return (this.opts.checkpointed ?? false) && this.buffering && !this.libxcEnded;
  }

  /**
   * The verifier's findings on one item: the first error stops the restore (a broken
   * checkpoint when `broke`, so the restore can fail over), warnings are kept.
   */
  private applyRules(ds: readonly Diagnostic[], broke = false): void {
    for (const d of ds) {
      if (d.severity === 'error') {
        const err = d.code === 'missing-end' ? new RuleTruncation(d) : new RuleViolation(d);
        throw broke ? new InputBroke(err) : err;
      }
      if (d.severity === 'warning' && !SHOWN_OTHERWISE.has(d.code)) this.warn(d.message, d.location);
    }
  }

  async push(item: StreamItem): Promise<void> {
    // A streamed record's contents count once they are read.
    if ('end' in item) this.result.bytes = item.kind === 'record' && item.rest ? item.offset : item.end;
    // Inside a checkpoint a broken record breaks that checkpoint only (libxc fails over).
    const inBatch =
      item.kind === 'record' &&
      (item.layer === 'libxc'
        ? this.buffering && !this.libxcEnded && item.type !== REC_TYPE.END && item.type !== REC_TYPE.CHECKPOINT
        : this.inCheckpoint || this.expectState);
    this.applyRules(this.rules.push(item), inBatch);
    switch (item.kind) {
      case 'xl-header': {
        this.result.layers.push('xl');
        if (item.header.config) {
          this.pendingConfig = xlConfigText(item.header.config);
          this.result.config = this.pendingConfig;
        }
        return;
      }
      case 'libxl-header':
        this.result.layers.push('libxl');
        this.libxlStarted = true;
        return;
      case 'libxc-header':
        return this.libxcHeader(item);
      case 'trailing':
        throw new StreamFormatError(`${item.length} octet(s) of trailing data after the stream's END`, { offset: item.offset });
      case 'record':
        if (item.layer === 'libxl') return this.libxlRecord(item);
        return this.libxcRecord(item);
    }
  }

  private async libxcHeader(item: Extract<StreamItem, { kind: 'libxc-header' }>): Promise<void> {
    const loc: StreamLocation = { offset: item.offset, layer: 'libxc', recordType: 'image header' };
    if (this.result.layers.includes('libxc')) throw new StreamFormatError('a second libxc stream in one input', loc);
    this.result.layers.push('libxc');
    const v = item.image.version;
    const min = this.opts.minVersion;
    if (min !== undefined && v < min) {
      throw new RefusedError(`refusing a libxc v${v} stream: this receiver accepts v${min} or later (--min-version ${min})`, [
        `the sender (Xen ${item.domain.xenMajor}.${item.domain.xenMinor}) wrote a v${v} stream`,
        v < 3
          ? 'v2 streams carry no STATIC_DATA_END and no CPU policy; upgrade the sender, or convert the stream with `xenmig convert --to 3`'
          : `upgrade the sender to write v${min} streams`,
      ]);
    }
    // The rules refused any other domain type already.
    const guest = guestTypeOf(item.domain.type);
    if (guest === undefined) throw new StreamFormatError(`domain type ${item.domain.type}, expected 1 (x86 PV) or 2 (x86 HVM)`, loc);
    this.guestType = guest;
    this.streamVersion = v;
    this.ops = RESTORE_OPS[guest]();
    Object.assign(this.result, { guestType: guest, streamVersion: v, xenMajor: item.domain.xenMajor, xenMinor: item.domain.xenMinor });
    this.tracker.push(item);
    await this.sink.begin({ guestType: guest, pageShift: 12, xenMajor: item.domain.xenMajor, xenMinor: item.domain.xenMinor, streamVersion: v });
    this.begun = true;
    if (this.pendingConfig !== undefined) await this.sink.setConfig(this.pendingConfig);
    for (const e of this.pendingEmulator) await this.sink.setEmulatorData(e);
    this.pendingEmulator = [];
  }

  private async libxlRecord(item: RecordItem): Promise<void> {
    this.result.libxlRecords++;
    const loc = locOf(item);
    // A bad record inside a checkpoint (or where COLO's CHECKPOINT_STATE belongs) breaks
    // that checkpoint only: libxl reports it to libxc, which fails over to the last one.
    const interleaved = this.inCheckpoint || this.expectState;
    try {
      await this.libxlRecordIn(item, loc);
    } catch (err) {
      if (interleaved && err instanceof StreamFormatError) throw new InputBroke(err);
      throw err;
    }
  }

  private async libxlRecordIn(item: RecordItem, loc: StreamLocation): Promise<void> {
    let rec;
    try {
      rec = decodeLibxlRecord(item.type, item.body, item.littleEndian);
    } catch (err) {
      throw new StreamFormatError((err as StreamFormatError).detail ?? String(err), loc);
    }
    if (this.expectState) {
      this.expectState = false;
      if (rec.type !== LIBXL_REC_TYPE.CHECKPOINT_STATE) {
        throw new StreamFormatError(`${item.typeName} after CHECKPOINT_END, expected COLO's CHECKPOINT_STATE`, loc);
      }
      const id = (rec as Extract<typeof rec, { controlId: number }>).controlId;
      if (id !== CHECKPOINT_STATE_ID.NEW) throw new StreamFormatError(`CHECKPOINT_STATE control_id ${id}, expected 0 (CHECKPOINT_NEW)`, loc);
      return;
    }
    if (this.inCheckpoint && rec.type !== LIBXL_REC_TYPE.CHECKPOINT_END && rec.type !== LIBXL_REC_TYPE.EMULATOR_XENSTORE_DATA && rec.type !== LIBXL_REC_TYPE.EMULATOR_CONTEXT) {
      throw new StreamFormatError(`${item.typeName} between CHECKPOINT and CHECKPOINT_END`, loc);
    }
    switch (rec.type) {
      case LIBXL_REC_TYPE.END:
        if (!this.libxcEnded) throw new StreamFormatError('libxl END before the libxc stream completed', loc);
        this.libxlEnded = true;
        return;
      case LIBXL_REC_TYPE.LIBXC_CONTEXT:
        return;
      case LIBXL_REC_TYPE.EMULATOR_XENSTORE_DATA:
      case LIBXL_REC_TYPE.EMULATOR_CONTEXT: {
        const r = rec as Extract<typeof rec, { emulatorId: number }>;
        const kind = r.type === LIBXL_REC_TYPE.EMULATOR_XENSTORE_DATA ? 'xenstore' : 'context';
        if (kind === 'xenstore') {
          const parsed = scanXenstoreData(r.data);
          if ('error' in parsed) throw new StreamFormatError(parsed.error, loc);
        }
        const data = { kind, emulatorId: r.emulatorId, index: r.index, data: r.data.slice() } as const;
        if (this.inCheckpoint && this.guestType === 'pv') throw new StreamFormatError(`${item.typeName} in a checkpoint of a PV stream (a PV guest has no emulator)`, loc);
        if (this.inCheckpoint) this.checkpointEmulator.push(data);
        else if (this.begun) await this.sink.setEmulatorData(data);
        else this.pendingEmulator.push(data);
        return;
      }
      case LIBXL_REC_TYPE.CHECKPOINT_END:
        if (!this.opts.checkpointed) throw new StreamFormatError(`${item.typeName} in a stream not restored as checkpointed`, loc);
        if (!this.inCheckpoint) throw new StreamFormatError('CHECKPOINT_END that does not follow a libxc CHECKPOINT', loc);
        return this.checkpointEnd(item);
      case LIBXL_REC_TYPE.CHECKPOINT_STATE:
        if (!this.opts.checkpointed) throw new StreamFormatError(`${item.typeName} in a stream not restored as checkpointed`, loc);
        throw new StreamFormatError(
          this.checkpointKind === 'colo' ? 'CHECKPOINT_STATE that does not follow a CHECKPOINT_END' : 'CHECKPOINT_STATE in a Remus stream (only COLO sends it)',
          loc,
        );
      default:
        return this.unknown(item, loc);
    }
  }

  private unknown(item: RecordItem, loc: StreamLocation): void {
    if (isOptionalRecordType(item.type)) {
      const ignored = { type: item.type, typeName: item.typeName, location: loc };
      let counted = this.result.ignoredCounts.find((c) => c.type === item.type);
      if (!counted) this.result.ignoredCounts.push((counted = { type: item.type, typeName: item.typeName, count: 0 }));
      if (++counted.count <= IGNORED_SHOWN) this.result.ignored.push(ignored);
      this.opts.onEvent?.({ kind: 'ignored', ...ignored });
      return;
    }
    throw new StreamFormatError(`unknown mandatory record type 0x${(item.type >>> 0).toString(16)}: cannot restore past it`, loc);
  }

  private async libxcRecord(item: RecordItem): Promise<void> {
    const loc = locOf(item);
    if (!this.ops) throw new StreamFormatError('record before the libxc headers', loc);
    if (this.libxcEnded) throw new StreamFormatError('libxc record after END', loc);
    // Buffered for a checkpoint or compared with VERIFY: such pages are needed whole.
    if (item.rest && (this.buffering || this.verifying)) {
      item = await wholeRecord(item);
      this.result.bytes = item.end;
    }
    this.result.records++;

    // Static data before dynamic, STATIC_DATA_END once, v3-only records: the rules saw to it.
    const end = this.tracker.push(item);
    if (end?.inferred) await this.staticDataEnd(end, loc);

    if (this.buffering && item.type !== REC_TYPE.END && item.type !== REC_TYPE.CHECKPOINT) {
      let prepared: Prepared;
      try {
        prepared = this.prepare(item, loc, true);
      } catch (err) {
        throw new InputBroke(err);
      }
      if (prepared.kind !== 'skip') this.buffered.push(prepared);
      return;
    }

    switch (item.type) {
      case REC_TYPE.END:
        await this.ops.streamComplete(this, loc);
        this.libxcEnded = true;
        if (this.buffered.length > 0) {
          this.warn(`${this.buffered.length} record(s) after the last CHECKPOINT were not applied (no CHECKPOINT closed them)`, loc);
          this.buffered = [];
        }
        return;
      case REC_TYPE.STATIC_DATA_END:
        if (end) await this.staticDataEnd(end, loc);
        return;
      case REC_TYPE.CHECKPOINT:
        return this.checkpoint(item, loc);
      default:
        await this.apply(this.prepare(item, loc, false));
    }
  }

  private async staticDataEnd(end: StaticDataEnd, loc: StreamLocation): Promise<void> {
    this.staticEnd = end;
    await this.ops!.staticDataComplete(this, end.data, loc);
    const info = { offset: end.offset, recordIndex: end.recordIndex, inferred: end.inferred, missing: end.data.missing };
    if (end.inferredAt !== undefined) Object.assign(info, { inferredAt: end.inferredAt });
    this.result.staticDataEnd = info;
    this.opts.onEvent?.({ kind: 'static-data-end', ...info });
    const answer = await this.opts.staticDataDone?.(end.data.missing, end.data);
    if (answer && typeof answer === 'object' && 'refuse' in answer) {
      throw new RefusedError(`restore refused at STATIC_DATA_END${end.inferred ? ' (inferred)' : ''}: ${answer.refuse}`, [answer.refuse]);
    }
  }

  private async checkpoint(item: RecordItem, _loc: StreamLocation): Promise<void> {
    // In a libxl stream the checkpoint is complete only at libxl's CHECKPOINT_END
    // (libxc's checkpoint callback returns once libxl has read it).
    if (this.libxlStarted) {
      this.inCheckpoint = true;
      return;
    }
    await this.applyCheckpoint(item.offset);
  }

  private async checkpointEnd(item: RecordItem): Promise<void> {
    this.inCheckpoint = false;
    await this.applyCheckpoint(item.offset);
    const emulator = this.checkpointEmulator;
    this.checkpointEmulator = [];
    for (const e of emulator) await this.sink.setEmulatorData(e);
    if (this.checkpointKind === 'colo') this.expectState = true;
  }

  private async applyCheckpoint(offset: number): Promise<void> {
    const batch = this.buffered;
    this.buffered = [];
    for (const p of batch) await this.apply(p);
    this.buffering = true;
    this.result.checkpoints++;
    this.opts.onEvent?.({ kind: 'checkpoint', index: this.result.checkpoints, offset, appliedRecords: batch.length });
  }

  /** Decode and check a record without applying it; `keep` copies what it needs from the reader's buffer. */
  private prepare(item: RecordItem, loc: StreamLocation, keep: boolean): Prepared {
    if (item.type === REC_TYPE.PAGE_DATA) return this.preparePages(item, loc, keep);
    let rec;
    try {
      // Decoded records keep views of the body: a buffered one needs a body of its own.
      rec = decodeRecord(item.type, keep ? item.body.slice() : item.body, item.littleEndian);
    } catch (err) {
      throw new StreamFormatError((err as StreamFormatError).detail ?? String(err), loc);
    }
    if (!isKnownRecord(rec)) {
      this.unknown(item, loc);
      return { kind: 'skip' };
    }
    if (rec.type === REC_TYPE.STATIC_DATA_END) {
      throw new StreamFormatError('STATIC_DATA_END after the first CHECKPOINT', loc);
    }
    return { kind: 'record', loc, rec, end: item.end };
  }

  private preparePages(item: RecordItem, loc: StreamLocation, keep: boolean): Prepared {
    const body = item.body;
    if (!item.bodyComplete && !item.rest) throw new StreamFormatError('PAGE_DATA contents were not read: restore needs them', loc);
    // Count, length, page types and reserved bits passed the rules: what is left is this domain's.
    const count = PAGE_DATA_HEADER_LAYOUT.get(body, 'count', item.littleEndian);
    const array = 8 * count;
    const H = PAGE_DATA_HEADER_LAYOUT.size;
    const entries = new PfnEntries(keep ? body.slice(0, H + array) : body.subarray(0, H + array), count, item.littleEndian);
    let dataCount = 0;
    for (let i = 0; i < count; i++) {
      const problem = this.ops!.pfnProblem(entries.pfn(i));
      if (problem) throw new StreamFormatError(`entry ${i}: ${problem}`, loc);
      if (pageTypeHasData(entries.type(i))) dataCount++;
    }
    const pages = body.subarray(H + array);
    const prepared: Prepared = { kind: 'pages', loc, entries, dataCount, data: keep ? pages.slice() : pages, end: item.end };
    if (item.rest) prepared.rest = item.rest;
    return prepared;
  }

  private async apply(p: Prepared): Promise<void> {
    if (p.kind === 'skip') return;
    if (p.kind === 'pages') {
      await this.applyPages(p);
      this.opts.onProgress?.({ offset: p.end, pages: this.result.pagesWritten });
      return;
    }
    const rec = p.rec;
    if (rec.type === REC_TYPE.VERIFY) {
      this.verifying = true;
      this.result.verify ??= { pagesChecked: 0, mismatches: [] };
      return;
    }
    if (!(await this.ops!.processRecord(this, rec, p.loc))) {
      throw new StreamFormatError(`${p.loc.recordType} cannot be restored into an ${this.guestType === 'hvm' ? 'HVM' : 'x86 PV'} domain`, p.loc);
    }
  }

  private async applyPages(p: Extract<Prepared, { kind: 'pages' }>): Promise<void> {
    this.result.pageRecords++;
    if (this.verifying) return this.verifyPages(p);
    const { entries } = p;
    for (let first = 0; first < entries.count; first += ENTRY_SLICE) {
      const { pfns, types } = entries.slice(first, Math.min(entries.count, first + ENTRY_SLICE));
      const fresh: number[] = [];
      for (let i = 0; i < pfns.length; i++) {
        const t = types[i]!;
        const pfn = pfns[i]!;
        if (t !== PAGE_TYPE.XTAB && t !== PAGE_TYPE.BROKEN && this.populated.get(pfn) === 0) {
          this.populated.set(pfn, 1);
          fresh.push(pfn);
        }
      }
      if (fresh.length > 0) {
        await this.sink.populate(fresh);
        this.result.pfnsPopulated += fresh.length;
      }
      await this.sink.setPageTypes(pfns, types);
    }
    const dataPfns = entries.dataPfns();
    const writeViews = this.sink.writePageViews?.bind(this.sink);
    if (p.rest?.lendTo && writeViews) {
      // The input's own buffers, uncopied, to a sink that may write them while we read on.
      await p.rest.lendTo(async (views, length, release) => {
        const n = length / PAGE_SIZE;
        await writeViews(dataPfns.next(n), views, release);
        this.result.pagesWritten += n;
      }, LENT_PIECE, PAGE_SIZE);
      this.result.bytes = p.end;
    } else if (p.rest) {
      // Whole pages at a time, straight from the reader's buffer to the sink.
      await p.rest.copyTo(async (piece) => {
        const n = piece.length / PAGE_SIZE;
        await this.sink.writePages(dataPfns.next(n), piece);
        this.result.pagesWritten += n;
      }, PAGE_SIZE);
      this.result.bytes = p.end;
    } else {
      for (let done = 0; done < p.dataCount; ) {
        const pfns = dataPfns.next(Math.min(ENTRY_SLICE, p.dataCount - done));
        await this.sink.writePages(pfns, p.data.subarray(done * PAGE_SIZE, (done + pfns.length) * PAGE_SIZE));
        done += pfns.length;
        this.result.pagesWritten += pfns.length;
      }
    }
  }

  private async verifyPages(p: Extract<Prepared, { kind: 'pages' }>): Promise<void> {
    const v = this.result.verify!;
    const dataPfns = p.entries.dataPfns();
    for (let done = 0; done < p.dataCount; ) {
      const pfns = dataPfns.next(Math.min(ENTRY_SLICE, p.dataCount - done));
      const n = pfns.length;
      if (this.verifyScratch.length < n * PAGE_SIZE) this.verifyScratch = new Uint8Array(n * PAGE_SIZE);
      const have = this.verifyScratch.subarray(0, n * PAGE_SIZE);
      const present = await this.sink.readPages(pfns, have);
      for (let i = 0; i < n; i++) {
        v.pagesChecked++;
        const a = have.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE);
        const b = p.data.subarray((done + i) * PAGE_SIZE, (done + i + 1) * PAGE_SIZE);
        if (!present[i] || !Buffer.from(a.buffer, a.byteOffset, PAGE_SIZE).equals(b)) {
          v.mismatches.push(pfns[i]!);
          this.opts.onEvent?.({ kind: 'verify-mismatch', pfn: pfns[i]!, location: p.loc });
        }
      }
      done += n;
    }
  }

  /** The input ended (no more items): it must have ended where a stream ends. */
  async finish(): Promise<void> {
    // Not where libxl completes at the libxc END of a checkpointed stream (restore-only:
    // the receiver reads no libxl record after it).
    if (!this.completeAtLibxcEnd) this.applyRules(this.rules.finish());
    if (!this.ops) throw new TruncatedStreamError('the input ended before a libxc stream began', { offset: this.result.bytes });
    if (!this.libxcEnded) throw new TruncatedStreamError('the input ended before the libxc END record', { offset: this.result.bytes });
    if (this.libxlStarted && !this.libxlEnded && !this.completeAtLibxcEnd) {
      throw new TruncatedStreamError('the input ended before the libxl END record', { offset: this.result.bytes });
    }
    if (!this.staticEnd) {
      throw new StreamFormatError(
        this.streamVersion >= 3
          ? 'v3 stream ended without STATIC_DATA_END'
          : `v2 stream ended without ${this.guestType === 'pv' ? 'X86_PV_P2M_FRAMES' : 'PAGE_DATA'}: it carries no memory`,
        { offset: this.result.bytes, layer: 'libxc' },
      );
    }
  }

  /** The input broke after a complete checkpoint: drop the partial batch and complete from there. */
  async failover(reason: string): Promise<void> {
    const discarded = this.buffered.length + this.checkpointEmulator.length;
    this.buffered = [];
    this.checkpointEmulator = [];
    this.inCheckpoint = this.expectState = false;
    await this.ops!.streamComplete(this, { layer: 'libxc' });
    this.libxcEnded = true;
    this.result.failover = { reason, discardedRecords: discarded };
    this.opts.onEvent?.({ kind: 'failover', reason, checkpoints: this.result.checkpoints });
  }
}

export { InputBroke };

/** A PAGE_DATA record whose contents are still in the input, read whole into a body of its own. */
async function wholeRecord(item: RecordItem): Promise<RecordItem> {
  const rest = item.rest!;
  const all = new Uint8Array(item.body.length + rest.length);
  all.set(item.body);
  let at = item.body.length;
  await rest.copyTo((piece) => {
    all.set(piece, at);
    at += piece.length;
  });
  const whole: RecordItem = { ...item, body: all.subarray(0, item.length), padding: all.subarray(item.length), bodyComplete: true };
  delete whole.rest;
  return whole;
}
