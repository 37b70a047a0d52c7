/**
 * What the engines drive. The restore engine fills a DomainSink; the save engine reads
 * a DomainSource. Both domains we can run here (the memory image on disk and the
 * simulated domain in memory) implement both, which is how restore -> image -> save
 * works without the engines knowing each other.
 */
import type { GuestType } from '../format/constants.js';
import type { CpuidEntry, HvmParam, MsrEntry } from '../format/records.js';

/** The static CPU policy a stream carries (X86_CPUID_POLICY / X86_MSR_POLICY). */
export interface CpuPolicyData {
  cpuid?: CpuidEntry[];
  msrs?: MsrEntry[];
}

export interface PvInfo {
  guestWidth: number;
  ptLevels: number;
}

export interface P2mFrames {
  startPfn: number;
  endPfn: number;
  p2mPfns: bigint[];
}

export interface TscInfo {
  mode: number;
  khz: number;
  nsec: bigint;
  incarnation: number;
}

export type VcpuContextKind = 'basic' | 'extended' | 'xsave' | 'msrs';

export interface VcpuContext {
  vcpuId: number;
  kind: VcpuContextKind;
  data: Uint8Array;
}

/** libxl's emulator records: xenstore data or the device model's saved state. */
export interface EmulatorData {
  kind: 'xenstore' | 'context';
  emulatorId: number;
  index: number;
  data: Uint8Array;
}

/** What a stream says about the domain before any record. */
export interface DomainDescription {
  guestType: GuestType;
  pageShift: number;
  /** 0 when converted from a legacy stream. */
  xenMajor: number;
  xenMinor: number;
  /** libxc stream version the domain came in (2 or 3). */
  streamVersion: number;
}

/**
 * The restore side. Calls arrive in stream order; `commit` makes the result visible
 * (an image directory is renamed into place), `abort` leaves nothing behind.
 * Page writes receive views into reused buffers: copy what you keep.
 */
export interface DomainSink {
  begin(desc: DomainDescription): Promise<void>;
  setPvInfo(info: PvInfo): Promise<void>;
  setCpuPolicy(policy: CpuPolicyData): Promise<void>;
  setP2mFrames(frames: P2mFrames): Promise<void>;
  /** Allocate these pfns (each once; no data yet). */
  populate(pfns: readonly number[]): Promise<void>;
  setPageTypes(pfns: readonly number[], types: readonly number[]): Promise<void>;
  /** Write `count` pages: pfns[i] gets data[i*4096 .. (i+1)*4096). */
  writePages(pfns: readonly number[], data: Uint8Array): Promise<void>;
  /**
   * Optional: the same, with the pages' contents as the concatenation of `views` (split
   * anywhere), valid until the sink calls `done` (exactly once, also when it fails or
   * drops them). So the sink may resolve once it has queued the pages and write them
   * while the stream goes on, in order, holding a bounded amount; a failure then shows
   * at a later call, at the latest at `flush`/`commit`. Such a sink finishes its queue
   * before any call that depends on it (plain page writes, reading pages, commit; abort
   * waits for the write under way).
   */
  writePageViews?(pfns: readonly number[], views: readonly Uint8Array[], done: () => void): Promise<void>;
  /** Optional, with writePageViews: every queued page written; throws the first failure. */
  flush?(): Promise<void>;
  /** Read pages back (for VERIFY mode): fills `into` like writePages' data; false where a pfn was never populated. */
  readPages(pfns: readonly number[], into: Uint8Array): Promise<boolean[]>;
  setTscInfo(tsc: TscInfo): Promise<void>;
  setHvmParams(params: readonly HvmParam[]): Promise<void>;
  setHvmContext(blob: Uint8Array): Promise<void>;
  setVcpuContext(ctx: VcpuContext): Promise<void>;
  setSharedInfo(page: Uint8Array): Promise<void>;
  setEmulatorData(data: EmulatorData): Promise<void>;
  /** The xl domain config, as text (JSON or xl.cfg syntax). */
  setConfig(config: string): Promise<void>;
  commit(): Promise<void>;
  abort(reason: string): Promise<void>;
}

/** What a pre-copy round learns from dirty logging. */
export interface DirtyLog {
  /** Pfns dirtied since the last read, sorted ascending; reading clears the log. */
  readAndClear(): Promise<number[]>;
  /** How many pfns are dirty now, without clearing. */
  peek(): Promise<number>;
}

/**
 * The save side. Memory is pfn-addressed; `pageTypes` says for each pfn whether it is
 * a normal page, a page table (PV), or invalid (XTAB) now.
 */
export interface DomainSource {
  readonly guestType: GuestType;
  /** One past the highest pfn the domain may have. */
  readonly maxPfn: number;
  describe(): DomainDescription;
  /** Pfns that hold memory now (ascending). */
  populatedPfns(): Promise<number[]>;
  pageTypes(pfns: readonly number[]): Promise<number[]>;
  /**
   * Fills `into` like DomainSink.writePages' data. May resolve to the sink's per-pfn
   * presence flags, so one object can be both a source and a sink.
   */
  readPages(pfns: readonly number[], into: Uint8Array): Promise<void | boolean[]>;
  /**
   * Optional fast path: pages first..first+count-1 as one view of memory, without a
   * copy. Offered by domains whose memory is one contiguous buffer.
   */
  pageRun?(firstPfn: number, count: number): Uint8Array;
  enableDirtyLogging(): Promise<DirtyLog>;
  disableDirtyLogging(): Promise<void>;
  /** Stop the guest's vcpus for the final round; `resume` undoes it when a migration fails. */
  suspend(): Promise<void>;
  resume(): Promise<void>;
  readonly running: boolean;
  getPvInfo(): Promise<PvInfo | undefined>;
  getCpuPolicy(): Promise<CpuPolicyData>;
  getP2mFrames(): Promise<P2mFrames | undefined>;
  getTscInfo(): Promise<TscInfo>;
  getHvmParams(): Promise<HvmParam[]>;
  getHvmContext(): Promise<Uint8Array | undefined>;
  getVcpuContexts(): Promise<VcpuContext[]>;
  getSharedInfo(): Promise<Uint8Array | undefined>;
  getEmulatorData(): Promise<EmulatorData[]>;
  getConfig(): Promise<string | undefined>;
}
