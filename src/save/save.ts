/**
 * The save engine, shaped like libxc's: headers, static records, STATIC_DATA_END, then
 * memory (all at once while suspended, or live: every page, then the dirty pages round
 * after round until the pre-copy policy says stop, then suspend and send what is still
 * dirty plus the deferred pages), then the context records and END. Optional layers
 * around it (libxl records, the xl header) make it what `xl save` writes.
 *
 * Page contents go to the sink as views of the domain's memory when the domain offers
 * them (DomainSource.pageRun), so a page is not copied on its way out.
 */
import {
  LIBXL_REC_TYPE,
  MAX_BATCH_PFNS,
  PAGE_SIZE,
  PAGE_TYPE,
  REC_TYPE,
  domainTypeOf,
  pageTypeHasData,
} from '../format/constants.js';
import { RefusedError } from '../format/errors.js';
import { makeImageHeader, makeLibxlHeader, makeXlHeader } from '../format/headers.js';
import type { PfnEntry } from '../format/records.js';
import type { ByteSink } from '../io/sink.js';
import { StreamWriter } from '../stream/writer.js';
import type { DirtyLog, DomainSource } from '../domain/types.js';
import { saveOpsFor, type SaveOps } from './ops.js';
import { explainPrecopyStop, precopyLimits, xenPrecopyPolicy, type PrecopyDecision, type PrecopyPolicy } from './precopy.js';

export type SaveLayer = 'libxc' | 'libxl' | 'xl';

export type SavePhase = 'static' | 'live' | 'final' | 'verify' | 'checkpoint';

export interface SaveProgress {
  phase: SavePhase;
  /** 1-based round; the final (suspended) round counts too. */
  round: number;
  /** Pages sent in this round so far, out of roundPages. */
  pagesSent: number;
  roundPages: number;
  /** Pages the dirty log holds right now (live rounds), else 0. */
  dirtyLeft: number;
  /** Octets written to the sink so far. */
  bytes: number;
  /** Octets per second since the memory part began. */
  rate: number;
}

export interface CheckpointOptions {
  /** Time the domain runs between checkpoints. */
  intervalMs: number;
  /** Checkpoints after the first before the stream ends (with END). */
  count: number;
}

export interface SaveOptions {
  live?: boolean;
  /** Append VERIFY and every page again (libxc's debug mode). */
  debug?: boolean;
  layer?: SaveLayer;
  /** libxc stream version: 3 (with STATIC_DATA_END and the CPU policy) or 2. */
  streamVersion?: 2 | 3;
  precopyPolicy?: PrecopyPolicy;
  /**
   * Remus-style: after the first pass, a CHECKPOINT-terminated batch every interval. With
   * the libxl layer, each CHECKPOINT is followed by libxl's records for that checkpoint
   * (HVM: emulator xenstore data and context) and CHECKPOINT_END, as libxl writes them.
   */
  checkpoint?: CheckpointOptions;
  /** Headers, static records, STATIC_DATA_END and END only: the migration preflight. */
  staticOnly?: boolean;
  xenVersion?: { major: number; minor: number };
  onProgress?: (p: SaveProgress) => void;
  /** Called right after the domain stops for the last time (downtime starts here). */
  onSuspend?: () => void;
  /** Called after each CHECKPOINT record is written (1-based). */
  onCheckpoint?: (n: number) => void;
}

/** One memory round as the migration log keeps it. */
export interface SaveRound {
  /** 1-based; the final (suspended) round counts too. */
  round: number;
  phase: 'live' | 'final';
  /** Pfns sent (page entries, XTAB ones included). */
  pages: number;
  /** Pages found dirty when the round ended (what the next round sends); -1 unknown; 0 after the final round. */
  dirtyAfter: number;
  /** Octets this round wrote. */
  bytes: number;
  /** Since the save began. */
  startMs: number;
  durationMs: number;
}

/** Where the pre-copy policy stopped a live save, and why. */
export interface PrecopyStop {
  afterRound: number;
  dirtyCount: number;
  totalWritten: number;
  decision: PrecopyDecision;
  reason: string;
}

export interface SaveSummary {
  bytes: number;
  /** Memory rounds including the final one (a non-live save has 1). */
  rounds: number;
  pagesPerRound: number[];
  /** Each memory round: pages, dirty pages left, octets and times (the verify copy of --debug is not a round). */
  roundLog: SaveRound[];
  /** A live save: where its pre-copy policy stopped and why. */
  precopyStop?: PrecopyStop;
  pagesSent: number;
  /** Pfns sent as XTAB (invalid) in the final round. */
  invalidPages: number;
  deferredPages: number;
  checkpoints: number;
  durationMs: number;
  /** performance.now() when the domain was suspended for good, if it was. */
  suspendedAt?: number;
}

/** Pfns of a batch that carry data and are consecutive can go out as one view. */
function pageViews(src: DomainSource, pfns: readonly number[], scratch: Uint8Array): Uint8Array[] | Promise<Uint8Array[]> {
  if (src.pageRun === undefined) {
    const buf = scratch.subarray(0, pfns.length * PAGE_SIZE);
    return src.readPages(pfns, buf).then(() => [buf]);
  }
  const views: Uint8Array[] = [];
  let i = 0;
  while (i < pfns.length) {
    let j = i + 1;
    while (j < pfns.length && pfns[j] === pfns[j - 1]! + 1) j++;
    views.push(src.pageRun(pfns[i]!, j - i));
    i = j;
  }
  return views;
}

class Saver {
  private readonly w: StreamWriter;
  private readonly ops: SaveOps;
  private readonly scratch = new Uint8Array(MAX_BATCH_PFNS * PAGE_SIZE);
  private readonly deferred = new Set<number>();
  private log: DirtyLog | undefined;
  private memoryStartBytes = 0;
  private memoryStart = 0;
  private startedAt = 0;
  summary: SaveSummary = {
    bytes: 0,
    rounds: 0,
    pagesPerRound: [],
    roundLog: [],
    pagesSent: 0,
    invalidPages: 0,
    deferredPages: 0,
    checkpoints: 0,
    durationMs: 0,
  };

  constructor(
    private readonly src: DomainSource,
    sink: ByteSink,
    private readonly opts: SaveOptions,
  ) {
    this.w = new StreamWriter(sink);
    this.ops = saveOpsFor(src.guestType);
  }

  async run(): Promise<SaveSummary> {
    const t0 = performance.now();
    this.startedAt = t0;
    const layer = this.opts.layer ?? 'libxc';
    if (layer === 'xl') {
      const config = await this.src.getConfig();
      await this.w.xlHeader(makeXlHeader(config ?? '{}', { json: config === undefined || config.trimStart().startsWith('{') }));
    }
    if (layer !== 'libxc') {
      await this.w.libxlHeader(makeLibxlHeader());
      await this.w.libxlRecord({ type: LIBXL_REC_TYPE.LIBXC_CONTEXT });
    }
    await this.libxc();
    // A checkpointed stream sent the emulator records with each checkpoint; its receiver
    // completes at the libxc END and would not read them here.
    if (layer !== 'libxc' && !this.opts.staticOnly && !this.opts.checkpoint) await this.emulatorRecords(false);
    if (layer !== 'libxc') await this.w.libxlRecord({ type: LIBXL_REC_TYPE.END });
    this.summary.bytes = this.w.position;
    this.summary.durationMs = performance.now() - t0;
    return this.summary;
  }

  private async libxc(): Promise<void> {
    const version = this.opts.streamVersion ?? 3;
    const desc = this.src.describe();
    const xen = this.opts.xenVersion ?? { major: desc.xenMajor || 4, minor: desc.xenMajor ? desc.xenMinor : 19 };
    await this.w.libxcHeader(makeImageHeader(version), {
      type: domainTypeOf(this.src.guestType),
      pageShift: 12,
      reserved: 0,
      xenMajor: xen.major,
      xenMinor: xen.minor,
    });
    await this.ops.staticData(this.w, this.src, version);
    if (version >= 3) await this.w.record(REC_TYPE.STATIC_DATA_END);
    if (this.opts.staticOnly) {
      await this.w.record(REC_TYPE.END);
      return;
    }
    await this.ops.startOfStream(this.w, this.src);
    this.memoryStart = performance.now();
    this.memoryStartBytes = this.w.position;
    try {
      if (this.opts.live || this.opts.checkpoint) await this.memoryLive();
      else await this.memoryNonLive();
      if (this.opts.debug && !this.opts.checkpoint) await this.verifyPass();
      await this.ops.endOfCheckpoint(this.w, this.src);
      if (this.opts.checkpoint) await this.checkpoints(this.opts.checkpoint);
      await this.w.record(REC_TYPE.END);
    } finally {
      if (this.log) await this.src.disableDirtyLogging();
    }
  }

  private async suspend(): Promise<void> {
    await this.src.suspend();
    this.summary.suspendedAt = performance.now();
    this.opts.onSuspend?.();
  }

  private async memoryNonLive(): Promise<void> {
    await this.suspend();
    await this.sendPages(this.allPfns(), 'final', 1, false);
  }

  private allPfns(): number[] {
    return Array.from({ length: this.src.maxPfn }, (_, i) => i);
  }

  /** libxc's send_memory_live, then suspend_and_send_dirty. */
  private async memoryLive(): Promise<void> {
    const policy = this.opts.precopyPolicy ?? xenPrecopyPolicy;
    this.log = await this.src.enableDirtyLogging();
    const stats = { iteration: 0, dirtyCount: this.src.maxPfn, totalWritten: 0 };
    let pfns = this.allPfns();
    let decision = policy({ ...stats });
    for (;;) {
      if (decision === 'abort') break;
      if (pfns.length > 0) await this.sendPages(pfns, 'live', stats.iteration + 1, true);
      if (decision !== 'continue') break;
      stats.iteration++;
      stats.totalWritten += pfns.length;
      stats.dirtyCount = -1;
      decision = policy({ ...stats });
      if (decision !== 'continue') break;
      pfns = await this.log.readAndClear();
      stats.dirtyCount = pfns.length;
      this.noteDirty(pfns.length);
      decision = policy({ ...stats });
    }
    this.summary.precopyStop = { afterRound: stats.iteration, dirtyCount: stats.dirtyCount, totalWritten: stats.totalWritten, decision, reason: explainPrecopyStop(stats, decision, precopyLimits(policy)) };
    if (decision === 'abort') throw new RefusedError('the pre-copy policy aborted the migration');
    await this.suspendAndSendDirty();
  }

  /** The dirty log was read after the last round: that round left this many pages dirty. */
  private noteDirty(count: number): void {
    const last = this.summary.roundLog[this.summary.roundLog.length - 1];
    if (last !== undefined && last.dirtyAfter < 0) last.dirtyAfter = count;
  }

  private async suspendAndSendDirty(): Promise<void> {
    await this.suspend();
    const dirty = await this.log!.readAndClear();
    this.noteDirty(dirty.length);
    const all = new Set(dirty);
    for (const pfn of this.deferred) all.add(pfn);
    this.summary.deferredPages += this.deferred.size;
    this.deferred.clear();
    const pfns = [...all].sort((a, b) => a - b);
    await this.sendPages(pfns, 'final', this.summary.rounds + 1, false);
  }

  /**
   * libxl's records after the libxc stream (or, checkpointed, after each CHECKPOINT):
   * xenstore data then context, as libxl_stream_write.c sends them. libxl sends a
   * checkpoint's records only for HVM guests.
   */
  private async emulatorRecords(checkpoint: boolean): Promise<void> {
    if (checkpoint && this.src.guestType !== 'hvm') return;
    const data = [...(await this.src.getEmulatorData())].sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'xenstore' ? -1 : 1));
    for (const e of data) {
      await this.w.libxlRecord({
        type: e.kind === 'xenstore' ? LIBXL_REC_TYPE.EMULATOR_XENSTORE_DATA : LIBXL_REC_TYPE.EMULATOR_CONTEXT,
        emulatorId: e.emulatorId,
        index: e.index,
        data: e.data,
      });
    }
  }

  private async checkpoints(opts: CheckpointOptions): Promise<void> {
    const libxl = (this.opts.layer ?? 'libxc') !== 'libxc';
    for (let n = 1; ; n++) {
      await this.w.record(REC_TYPE.CHECKPOINT);
      // libxc hands the stream to libxl at each checkpoint (Remus: libxl__remus_domain_save_checkpoint_callback).
      if (libxl) {
        await this.emulatorRecords(true);
        await this.w.libxlRecord({ type: LIBXL_REC_TYPE.CHECKPOINT_END });
      }
      this.summary.checkpoints = n;
      this.opts.onCheckpoint?.(n);
      if (n > opts.count) return;
      await this.src.resume();
      await new Promise((r) => setTimeout(r, opts.intervalMs));
      await this.suspendAndSendDirty();
      await this.ops.endOfCheckpoint(this.w, this.src);
    }
  }

  private async verifyPass(): Promise<void> {
    await this.w.record(REC_TYPE.VERIFY);
    const before = this.summary.rounds;
    await this.sendPages(this.allPfns(), 'verify', before + 1, false);
    // The verify copy is not a round of migration.
    this.summary.rounds = before;
    this.summary.pagesSent -= this.summary.pagesPerRound.pop() ?? 0;
  }

  /** One round: pfns in batches of at most 1024, each batch one PAGE_DATA record. */
  private async sendPages(pfns: readonly number[], phase: SavePhase, round: number, live: boolean): Promise<void> {
    const entries: PfnEntry[] = [];
    const withData: number[] = [];
    let sent = 0;
    const roundStart = performance.now();
    const roundBytes = this.w.position;
    for (let start = 0; start < pfns.length; start += MAX_BATCH_PFNS) {
      const batch = pfns.slice(start, start + MAX_BATCH_PFNS);
      const types = await this.src.pageTypes(batch);
      entries.length = 0;
      withData.length = 0;
      for (let i = 0; i < batch.length; i++) {
        const pfn = batch[i]!;
        const type = types[i]!;
        if (type === PAGE_TYPE.XTAB) {
          if (live && this.ops.defersInvalidPages) this.deferred.add(pfn);
          else if (phase === 'final') this.summary.invalidPages++;
        }
        entries.push({ pfn, pageType: type, reservedBits: 0 });
        if (pageTypeHasData(type)) withData.push(pfn);
      }
      const views = withData.length === 0 ? [] : await pageViews(this.src, withData, this.scratch);
      await this.w.pageData(entries, views);
      sent += batch.length;
      if (this.opts.onProgress) {
        const dirtyLeft = live && this.log ? await this.log.peek() : 0;
        this.progress(phase, round, sent, pfns.length, dirtyLeft);
      }
    }
    this.summary.rounds = Math.max(this.summary.rounds, round);
    if (phase !== 'verify') {
      this.summary.roundLog.push({
        round,
        phase: live ? 'live' : 'final',
        pages: pfns.length,
        dirtyAfter: live ? -1 : 0,
        bytes: this.w.position - roundBytes,
        startMs: roundStart - this.startedAt,
        durationMs: performance.now() - roundStart,
      });
    }
    this.summary.pagesPerRound.push(pfns.length);
    this.summary.pagesSent += pfns.length;
  }

  private progress(phase: SavePhase, round: number, pagesSent: number, roundPages: number, dirtyLeft: number): void {
    const cb = this.opts.onProgress!;
    const secs = (performance.now() - this.memoryStart) / 1000;
    const bytes = this.w.position;
    cb({
      phase,
      round,
      pagesSent,
      roundPages,
      dirtyLeft,
      bytes,
      rate: secs > 0 ? (bytes - this.memoryStartBytes) / secs : 0,
    });
  }
}

/**
 * Save `src` into `sink`. On failure a domain this call suspended is resumed before the
 * error is passed on, so the guest keeps running; on success it stays suspended and the
 * caller decides (destroy after a migration, resume after a checkpoint).
 */
export async function saveDomain(src: DomainSource, sink: ByteSink, opts: SaveOptions = {}): Promise<SaveSummary> {
  const saver = new Saver(src, sink, opts);
  const wasRunning = src.running;
  try {
    return await saver.run();
  } catch (err) {
    if (wasRunning && !src.running) await src.resume();
    throw err;
  }
}
