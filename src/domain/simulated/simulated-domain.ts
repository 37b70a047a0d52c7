/**
 * A domain that lives in this process: pfn-addressed memory that materialises lazily (a
 * page nobody wrote is computed when read: the sample's seeded stamp, or zeros; written
 * pages are stored in 2 MiB segments allocated on first write, so a 64 GiB sample costs
 * what its written pages cost), dirty logging as a byte map plus a list, vcpus that
 * "run" a Workload on timers, and the context records a saver needs. It is both a DomainSource (the saver reads it) and a DomainSink (a restorer
 * can fill it), like the memory image on disk.
 */
import { createHash } from 'node:crypto';
import { PAGE_SIZE, PAGE_TYPE, pageTypeHasData, type GuestType } from '../../format/constants.js';
import type { HvmParam } from '../../format/records.js';
import { DomainState } from '../state.js';
import type {
  CpuPolicyData,
  DirtyLog,
  DomainDescription,
  DomainSink,
  DomainSource,
  EmulatorData,
  P2mFrames,
  PvInfo,
  TscInfo,
  VcpuContext,
} from '../types.js';
import {
  SAMPLE_PV_INFO,
  sampleConfig,
  sampleCpuPolicy,
  sampleEmulatorData,
  sampleHvmContext,
  sampleHvmParams,
  sampleTscInfo,
} from './sample.js';
import { Workload, type WorkloadOptions } from './workload.js';
import { layOutPvGuestPages, PV_PAGE_TABLES, pvReservedPfns, pvSharedInfo, pvVcpuContexts } from './pv-guest.js';

export interface SimulatedDomainOptions {
  guest: GuestType;
  /** Memory size in MiB (a whole number of pages). */
  memoryMiB: number;
  seed?: number;
  vcpus?: number;
  name?: string;
  workload?: WorkloadOptions;
  /** The CPU policy the guest sees (the policy layer's sample guests are realistic ones); a minimal one by default. */
  cpuPolicy?: CpuPolicyData;
}

/** The legacy VGA hole an HVM guest has no RAM in (pfns 0xa0-0xbf). */
const HVM_HOLE_START = 0xa0;
const HVM_HOLE_END = 0xc0;

/** Bytes of each page the fresh domain fills with seeded data (the rest starts zero, as in an idle guest). */
const STAMP_BYTES = 64;

/** Pages per stored segment (2 MiB): the unit memory is allocated in when first written. */
export const SEGMENT_PAGES = 512;
const SEGMENT_SHIFT = 9;
/** Pages of the scratch ring computed runs are handed out from (two batches' worth). */
const SCRATCH_PAGES = 2048;
/** The generator's step (mulberry32): its state after n draws is seed + n * step, so any draw can be computed directly. */
const PRNG_STEP = 0x6d2b79f5;

/** The k-th (0-based) u32 a Prng seeded with `seed` draws, without drawing the ones before. */
function prngAt(seed: number, k: number): number {
  let t = ((seed >>> 0) + Math.imul(k + 1, PRNG_STEP)) >>> 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) >>> 0;
}

export class SimulatedDomain implements DomainSource, DomainSink {
  guestType: GuestType;
  maxPfn: number;
  /** Written pages, by segment (pfn >> 9); undefined: nothing in it written yet. Unused once `flat` exists. */
  private segments: (Buffer | undefined)[] = [];
  /** All of memory in one Buffer, made the first time someone asks for `memory`. */
  private flat: Buffer | undefined;
  /** The sample's seed: unwritten pages below `stampedPfns` hold its stamps; undefined: they are zero. */
  private stampSeed: number | undefined;
  private stampedPfns = 0;
  private stampHvmHole = false;
  private scratch: Buffer | undefined;
  private scratchAt = 0;
  /** Per pfn: 0xff not populated, else the page type. */
  private types: Uint8Array;
  private dirtyMap: Uint8Array | undefined;
  private dirtyList: number[] = [];
  private isRunning = false;
  workload: Workload | undefined;
  /** Everything besides memory and page types, kept as the memory image keeps it. */
  state = new DomainState();
  /** Pages the guest's workload leaves alone (a PV guest's start info and P2M). */
  private reserved: ReadonlySet<number> = new Set();
  /** Set once a restorer has committed into this domain. */
  committed = false;
  abortedWith: string | undefined;

  private constructor(guest: GuestType, maxPfn: number) {
    this.guestType = guest;
    this.maxPfn = maxPfn;
    this.types = new Uint8Array(maxPfn).fill(0xff);
    this.state.desc = { guestType: guest, pageShift: 12, xenMajor: 4, xenMinor: 19, streamVersion: 3 };
    this.state.tsc = sampleTscInfo();
  }

  // The state's parts by name, as callers (tests, the demo) have always read them.
  get cpuPolicy(): CpuPolicyData {
    return this.state.cpuPolicy;
  }
  get pvInfo(): PvInfo | undefined {
    return this.state.pvInfo;
  }
  get p2mFrames(): P2mFrames | undefined {
    return this.state.p2mFrames;
  }
  get tscInfo(): TscInfo {
    return this.state.tscInfo;
  }
  get hvmParams(): HvmParam[] {
    return this.state.hvmParams;
  }
  get hvmContext(): Uint8Array | undefined {
    return this.state.hvmContext;
  }
  get vcpuContexts(): VcpuContext[] {
    return this.state.vcpuContexts;
  }
  get sharedInfo(): Uint8Array | undefined {
    return this.state.sharedInfo;
  }
  get emulatorData(): EmulatorData[] {
    return this.state.emulatorData;
  }
  get config(): string | undefined {
    return this.state.config;
  }

  /** A fresh sample domain: memory stamped from the seed, contexts and CPU policy filled in, paused. */
  static create(opts: SimulatedDomainOptions): SimulatedDomain {
    const pages = Math.floor((opts.memoryMiB * 1024 * 1024) / PAGE_SIZE);
    if (!Number.isInteger(opts.memoryMiB) || opts.memoryMiB <= 0 || pages < 256) {
      throw new RangeError(`memory must be a whole number of MiB, at least 1 (got ${opts.memoryMiB})`);
    }
    const seed = opts.seed ?? 1;
    const vcpus = opts.vcpus ?? 2;
    const d = new SimulatedDomain(opts.guest, pages);
    // Every page but the HVM hole is RAM; its contents are computed when read (stampPage).
    d.types.fill(PAGE_TYPE.NOTAB);
    if (opts.guest === 'hvm') d.types.fill(0xff, HVM_HOLE_START, Math.min(HVM_HOLE_END, pages));
    d.stampSeed = seed;
    d.stampedPfns = pages;
    d.stampHvmHole = opts.guest === 'hvm';
    const st = d.state;
    st.cpuPolicy = opts.cpuPolicy ?? sampleCpuPolicy(opts.guest);
    st.config = sampleConfig({ guest: opts.guest, name: opts.name ?? 'sample', memoryMiB: opts.memoryMiB, vcpus });
    if (opts.guest === 'hvm') {
      st.hvmParams = sampleHvmParams(pages);
      st.hvmContext = sampleHvmContext(vcpus, seed);
      st.emulatorData = sampleEmulatorData(seed);
    } else {
      st.pvInfo = { ...SAMPLE_PV_INFO };
      const p2m = layOutPvGuestPages((pfn) => d.writablePage(pfn), pages);
      st.p2mFrames = p2m;
      for (const [pfn, type] of PV_PAGE_TABLES) d.types[pfn] = type;
      d.reserved = new Set(pvReservedPfns(p2m));
      st.vcpuContexts = pvVcpuContexts(vcpus, seed);
      st.sharedInfo = pvSharedInfo(pages);
    }
    if (opts.workload) d.workload = new Workload(d.workloadTarget(), { seed, ...opts.workload });
    return d;
  }

  /** A domain with the memory and state of any DomainSource (a memory image), to run a workload on. */
  static async fromSource(src: DomainSource, workload?: WorkloadOptions): Promise<SimulatedDomain> {
    const d = new SimulatedDomain(src.guestType, src.maxPfn);
    const pfns = await src.populatedPfns();
    const types = await src.pageTypes(pfns);
    const BATCH = 1024;
    for (let i = 0; i < pfns.length; i += BATCH) {
      const chunk = pfns.slice(i, i + BATCH);
      const ctypes = types.slice(i, i + BATCH);
      const withData = chunk.filter((_, k) => pageTypeHasData(ctypes[k]!));
      const buf = Buffer.alloc(withData.length * PAGE_SIZE);
      if (withData.length > 0) await src.readPages(withData, buf);
      let w = 0;
      for (let k = 0; k < chunk.length; k++) {
        const pfn = chunk[k]!;
        d.types[pfn] = ctypes[k]!;
        if (pageTypeHasData(ctypes[k]!)) d.writablePage(pfn).set(buf.subarray(w * PAGE_SIZE, (w + 1) * PAGE_SIZE)), w++;
      }
    }
    d.state = await DomainState.of(src);
    if (workload) d.workload = new Workload(d.workloadTarget(), workload);
    return d;
  }

  private workloadTarget() {
    return {
      writablePfns: (): number[] => {
        const out: number[] = [];
        for (let pfn = 0; pfn < this.maxPfn; pfn++) if (this.types[pfn] === PAGE_TYPE.NOTAB && !this.reserved.has(pfn)) out.push(pfn);
        return out;
      },
      touch: (pfn: number, value: number): void => this.touch(pfn, value),
    };
  }

  /** A guest write: the value lands at an offset that moves with it, and the page becomes dirty. */
  touch(pfn: number, value: number): void {
    // A page the guest gave back (ballooned out) is not its memory any more.
    if (this.types[pfn] === 0xff) return;
    const off = STAMP_BYTES + ((value * 8) % (PAGE_SIZE - STAMP_BYTES));
    const page = this.writablePage(pfn);
    page.writeUInt32LE(value >>> 0, off);
    page.writeUInt32LE(pfn, off + 4);
    this.markDirty(pfn);
  }

  /** The guest gives a page back (ballooning): it stops being valid memory. */
  balloonOut(pfn: number): void {
    this.types[pfn] = 0xff;
    this.writablePage(pfn).fill(0);
    this.markDirty(pfn);
  }

  // ---- Memory: computed until written -----------------------------------------------

  /**
   * All of memory as one Buffer (pfn N at N*4096), for callers that want it whole (tests,
   * small domains): the first use makes it, which costs the whole size, and from then on
   * the domain keeps its memory there, so writes through it are the domain's.
   */
  get memory(): Buffer {
    if (this.flat === undefined) {
      const flat = Buffer.alloc(this.maxPfn * PAGE_SIZE);
      for (let pfn = 0; pfn < this.maxPfn; pfn++) this.readPageInto(pfn, flat, pfn * PAGE_SIZE);
      this.flat = flat;
      this.segments = [];
    }
    return this.flat;
  }

  /** Pages stored so far (written, or all of them once `memory` was asked for), in octets. */
  get storedBytes(): number {
    if (this.flat !== undefined) return this.flat.length;
    let n = 0;
    for (const s of this.segments) if (s !== undefined) n += s.length;
    return n;
  }

  /** What a page holds before anyone writes it: the sample's stamp (its pfn, then 60 seeded octets) or zeros. */
  private initialPage(pfn: number, into: Uint8Array, at: number): void {
    into.fill(0, at, at + PAGE_SIZE);
    const seed = this.stampSeed;
    if (seed === undefined || pfn >= this.stampedPfns) return;
    let ordinal = pfn;
    if (this.stampHvmHole && pfn >= HVM_HOLE_START) {
      if (pfn < HVM_HOLE_END) return;
      ordinal -= HVM_HOLE_END - HVM_HOLE_START;
    }
    // Page stamps are little-endian u32s, as the guest (x86) would store them: the pfn,
    // then the seeded generator's next 15 draws, in pfn order (as one pass filling memory would draw them).
    const words = STAMP_BYTES / 4;
    const put = (v: number, o: number): void => {
      into[o] = v & 0xff;
      into[o + 1] = (v >>> 8) & 0xff;
      into[o + 2] = (v >>> 16) & 0xff;
      into[o + 3] = v >>> 24;
    };
    put(pfn, at);
    const first = ordinal * (words - 1);
    for (let w = 1; w < words; w++) put(prngAt(seed, first + w - 1), at + w * 4);
  }

  /** Copies page `pfn`'s contents into `into` at `at`. */
  private readPageInto(pfn: number, into: Uint8Array, at: number): void {
    if (this.flat !== undefined) {
      into.set(this.flat.subarray(pfn * PAGE_SIZE, (pfn + 1) * PAGE_SIZE), at);
      return;
    }
    const seg = this.segments[pfn >> SEGMENT_SHIFT];
    if (seg !== undefined) {
      const off = (pfn & (SEGMENT_PAGES - 1)) * PAGE_SIZE;
      into.set(seg.subarray(off, off + PAGE_SIZE), at);
    } else this.initialPage(pfn, into, at);
  }

  /** Page `pfn` as a writable view of where it is stored, storing its segment first if need be. */
  private writablePage(pfn: number): Buffer {
    if (this.flat !== undefined) return this.flat.subarray(pfn * PAGE_SIZE, (pfn + 1) * PAGE_SIZE);
    const index = pfn >> SEGMENT_SHIFT;
    let seg = this.segments[index];
    if (seg === undefined) {
      seg = Buffer.alloc(SEGMENT_PAGES * PAGE_SIZE);
      const base = index << SEGMENT_SHIFT;
      if (this.stampSeed !== undefined) {
        const end = Math.min(SEGMENT_PAGES, this.stampedPfns - base);
        for (let i = 0; i < end; i++) this.initialPage(base + i, seg, i * PAGE_SIZE);
      }
      while (this.segments.length < index) this.segments.push(undefined);
      this.segments[index] = seg;
    }
    const off = (pfn & (SEGMENT_PAGES - 1)) * PAGE_SIZE;
    return seg.subarray(off, off + PAGE_SIZE);
  }

  private markDirty(pfn: number): void {
    const map = this.dirtyMap;
    if (map !== undefined && map[pfn] === 0) {
      map[pfn] = 1;
      this.dirtyList.push(pfn);
    }
  }

  // ---- DomainSource ----------------------------------------------------------------

  get running(): boolean {
    return this.isRunning;
  }

  describe(): DomainDescription {
    return { ...this.state.desc!, guestType: this.guestType };
  }

  async populatedPfns(): Promise<number[]> {
    const out: number[] = [];
    for (let pfn = 0; pfn < this.maxPfn; pfn++) if (this.types[pfn] !== 0xff) out.push(pfn);
    return out;
  }

  async pageTypes(pfns: readonly number[]): Promise<number[]> {
    return this.pageTypesSync(pfns);
  }

  pageTypesSync(pfns: readonly number[]): number[] {
    const out = new Array<number>(pfns.length);
    for (let i = 0; i < pfns.length; i++) {
      const t = pfns[i]! < this.maxPfn ? this.types[pfns[i]!]! : 0xff;
      out[i] = t === 0xff ? PAGE_TYPE.XTAB : t;
    }
    return out;
  }

  /** Copies pages out; false (and a zero page) where a pfn holds no memory. */
  async readPages(pfns: readonly number[], into: Uint8Array): Promise<boolean[]> {
    const found = new Array<boolean>(pfns.length);
    for (let i = 0; i < pfns.length; i++) {
      const pfn = pfns[i]!;
      found[i] = pfn < this.maxPfn && this.types[pfn] !== 0xff;
      if (found[i]) this.readPageInto(pfn, into, i * PAGE_SIZE);
      else into.fill(0, i * PAGE_SIZE, (i + 1) * PAGE_SIZE);
    }
    return found;
  }

  /**
   * Pages first..first+count-1 in one Uint8Array: the saver's fast path. A view of where
   * they are stored (no copy) when they are stored together; otherwise (never written,
   * or across segments) computed into a scratch ring of 2048 pages that is reused: such a
   * run stays valid until pageRun has handed out 1024 more pages (one batch), and
   * a run of more than 2048 pages gets a buffer of its own.
   */
  pageRun(firstPfn: number, count: number): Uint8Array {
    // A plain Uint8Array, not a Buffer: Buffer#slice makes a view, and sinks that keep
    // what they are given copy with slice().
    if (this.flat !== undefined) return new Uint8Array(this.flat.buffer, this.flat.byteOffset + firstPfn * PAGE_SIZE, count * PAGE_SIZE);
    const index = firstPfn >> SEGMENT_SHIFT;
    const seg = this.segments[index];
    if (seg !== undefined && (firstPfn + count - 1) >> SEGMENT_SHIFT === index) {
      return new Uint8Array(seg.buffer, seg.byteOffset + (firstPfn & (SEGMENT_PAGES - 1)) * PAGE_SIZE, count * PAGE_SIZE);
    }
    let out: Uint8Array;
    if (count > SCRATCH_PAGES) out = new Uint8Array(count * PAGE_SIZE);
    else {
      this.scratch ??= Buffer.allocUnsafe(SCRATCH_PAGES * PAGE_SIZE);
      // A run that does not fit before the ring's end starts at its beginning; with runs of
      // at most 1024 pages per batch, a batch never overwrites its own runs.
      if (this.scratchAt + count > SCRATCH_PAGES) this.scratchAt = 0;
      const s = this.scratch;
      out = new Uint8Array(s.buffer, s.byteOffset + this.scratchAt * PAGE_SIZE, count * PAGE_SIZE);
      this.scratchAt += count;
    }
    for (let i = 0; i < count; i++) {
      const pfn = firstPfn + i;
      if (pfn < this.maxPfn) this.readPageInto(pfn, out, i * PAGE_SIZE);
      else out.fill(0, i * PAGE_SIZE, (i + 1) * PAGE_SIZE);
    }
    return out;
  }

  async enableDirtyLogging(): Promise<DirtyLog> {
    this.dirtyMap = new Uint8Array(this.maxPfn);
    this.dirtyList = [];
    return {
      readAndClear: async () => this.readAndClearDirty(),
      peek: async () => this.dirtyList.length,
    };
  }

  private readAndClearDirty(): number[] {
    const list = Uint32Array.from(this.dirtyList).sort();
    const map = this.dirtyMap!;
    for (const pfn of list) map[pfn] = 0;
    this.dirtyList = [];
    return Array.from(list);
  }

  async disableDirtyLogging(): Promise<void> {
    this.dirtyMap = undefined;
    this.dirtyList = [];
  }

  /** Unpause: the workload (if any) starts writing. */
  start(): void {
    this.isRunning = true;
    this.workload?.start();
  }

  async suspend(): Promise<void> {
    this.workload?.stop();
    this.isRunning = false;
  }

  async resume(): Promise<void> {
    this.start();
  }

  /** The domain has moved away or been destroyed: it never runs again. */
  destroy(): void {
    this.workload?.stop();
    this.isRunning = false;
  }

  async getPvInfo(): Promise<PvInfo | undefined> {
    return this.state.pvInfo;
  }
  async getCpuPolicy(): Promise<CpuPolicyData> {
    return this.state.cpuPolicy;
  }
  async getP2mFrames(): Promise<P2mFrames | undefined> {
    return this.state.p2mFrames;
  }
  async getTscInfo(): Promise<TscInfo> {
    return this.state.tscInfo;
  }
  async getHvmParams(): Promise<HvmParam[]> {
    return this.state.hvmParams;
  }
  async getHvmContext(): Promise<Uint8Array | undefined> {
    return this.state.hvmContext;
  }
  async getVcpuContexts(): Promise<VcpuContext[]> {
    return this.state.vcpuContexts;
  }
  async getSharedInfo(): Promise<Uint8Array | undefined> {
    return this.state.sharedInfo;
  }
  async getEmulatorData(): Promise<EmulatorData[]> {
    return this.state.emulatorData;
  }
  async getConfig(): Promise<string | undefined> {
    return this.state.config;
  }

  /** One digest per populated pfn (hex sha1), for comparing two copies of a domain's memory. */
  pageHashes(): Map<number, string> {
    const out = new Map<number, string>();
    for (let pfn = 0; pfn < this.maxPfn; pfn++) {
      if (this.types[pfn] === 0xff || !pageTypeHasData(this.types[pfn]!)) continue;
      out.set(pfn, createHash('sha1').update(this.pageRun(pfn, 1)).digest('hex'));
    }
    return out;
  }

  // ---- DomainSink (a restorer filling this domain) ---------------------------------

  /** An empty domain for a restorer to fill; memory grows as pfns are populated. */
  static empty(): SimulatedDomain {
    return new SimulatedDomain('hvm', 0);
  }

  private ensure(pfn: number): void {
    if (pfn < this.maxPfn) return;
    // Grow by 4x: a restore populates upwards (only a `memory` made whole is copied).
    let size = Math.max(4096, this.maxPfn);
    while (size <= pfn) size *= 4;
    if (this.flat !== undefined) {
      const mem = Buffer.alloc(size * PAGE_SIZE);
      this.flat.copy(mem);
      this.flat = mem;
    }
    const types = new Uint8Array(size).fill(0xff);
    types.set(this.types);
    this.types = types;
    this.maxPfn = size;
  }

  async begin(desc: DomainDescription): Promise<void> {
    this.state.desc = { ...desc };
    this.guestType = desc.guestType;
  }
  async setPvInfo(info: PvInfo): Promise<void> {
    this.state.setPvInfo(info);
  }
  async setCpuPolicy(policy: CpuPolicyData): Promise<void> {
    this.state.setCpuPolicy(policy);
  }
  async setP2mFrames(frames: P2mFrames): Promise<void> {
    this.state.setP2mFrames(frames);
  }
  async populate(pfns: readonly number[]): Promise<void> {
    for (const pfn of pfns) {
      this.ensure(pfn);
      if (this.types[pfn] === 0xff) this.types[pfn] = PAGE_TYPE.NOTAB;
    }
  }
  async setPageTypes(pfns: readonly number[], types: readonly number[]): Promise<void> {
    for (let i = 0; i < pfns.length; i++) {
      this.ensure(pfns[i]!);
      this.types[pfns[i]!] = types[i] === PAGE_TYPE.XTAB ? 0xff : types[i]!;
    }
  }
  async writePages(pfns: readonly number[], data: Uint8Array): Promise<void> {
    if (pfns.length === 0) return;
    this.ensure(Math.max(...pfns));
    let i = 0;
    while (i < pfns.length) {
      let j = i + 1;
      while (j < pfns.length && pfns[j] === pfns[i]! + (j - i)) j++;
      for (let k = i; k < j; k++) if (this.types[pfns[k]!] === 0xff) this.types[pfns[k]!] = PAGE_TYPE.NOTAB;
      if (this.flat !== undefined) this.flat.set(data.subarray(i * PAGE_SIZE, j * PAGE_SIZE), pfns[i]! * PAGE_SIZE);
      else for (let k = i; k < j; k++) this.writablePage(pfns[k]!).set(data.subarray(k * PAGE_SIZE, (k + 1) * PAGE_SIZE));
      i = j;
    }
  }
  async setTscInfo(tsc: TscInfo): Promise<void> {
    this.state.setTscInfo(tsc);
  }
  async setHvmParams(params: readonly HvmParam[]): Promise<void> {
    this.state.setHvmParams(params);
  }
  async setHvmContext(blob: Uint8Array): Promise<void> {
    this.state.setHvmContext(blob);
  }
  async setVcpuContext(ctx: VcpuContext): Promise<void> {
    this.state.setVcpuContext(ctx);
  }
  async setSharedInfo(page: Uint8Array): Promise<void> {
    this.state.setSharedInfo(page);
  }
  async setEmulatorData(data: EmulatorData): Promise<void> {
    this.state.setEmulatorData(data);
  }
  async setConfig(config: string): Promise<void> {
    this.state.setConfig(config);
  }
  async commit(): Promise<void> {
    this.committed = true;
  }
  async abort(reason: string): Promise<void> {
    this.abortedWith = reason;
  }
}
