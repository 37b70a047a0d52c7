/**
 * What `diff` compares: one domain's state, reduced from a stream or a memory image to
 * what can be held whatever the guest's size. Everything but memory is kept as the
 * restore engine hands it over (policy, params, contexts: KiB); memory is kept as one
 * page type and one 16-octet digest (SHA-256, first half) per pfn holding memory, in
 * 4 Ki-pfn chunks: 17 octets per pfn, about 4.3 MiB per GiB of guest, never a page.
 *
 * A stream is replayed by the restore engine itself into a sink that digests pages
 * instead of storing them, so its state is exactly what `xenmig restore` would leave:
 * the last copy of a page wins (live streams send a pfn several times), XTAB takes memory
 * away, the pages libxc clears on restore (xenstore and console rings, ioreq pages) are
 * zero, a checkpointed stream is the last complete checkpoint (or checkpoint N), and a
 * VERIFY pass changes nothing. The order in which pages arrive never matters.
 */
import { createHash, hash } from 'node:crypto';
import { PAGE_SIZE, PAGE_TYPE } from '../format/constants.js';
import { UsageError } from '../format/errors.js';
import type { HvmParam } from '../format/records.js';
import type { CpuPolicyData, DomainDescription, DomainSink, EmulatorData, P2mFrames, PvInfo, TscInfo, VcpuContext } from '../domain/types.js';
import { isMemoryImageDir } from '../domain/image/memory-files.js';
import { pageTypeIsPopulated } from '../domain/image/domain-json.js';
import { MemoryImage } from '../domain/image/memory-image.js';
import { SparsePfnBytes } from '../domain/image/pfn-map.js';
import { restoreStream, type RestoreResult } from '../restore/index.js';
import type { StreamItem } from '../stream/items.js';
import { openStream } from '../stream/open.js';
import { checkpointedKind, type CheckpointedKind } from '../stream/reader.js';

export const DIGEST_SIZE = 16;
const CHUNK = SparsePfnBytes.CHUNK_PFNS;

/** sha256's first 16 octets of one page (the one-shot `hash` is a third faster than a Hash object per page). */
function digest(page: Uint8Array, into: Uint8Array, at: number): void {
  into.set(hash('sha256', page, 'buffer').subarray(0, DIGEST_SIZE), at);
}

export const ZERO_PAGE_DIGEST = ((): Uint8Array => {
  const d = new Uint8Array(DIGEST_SIZE);
  digest(new Uint8Array(PAGE_SIZE), d, 0);
  return d;
})();

/** One digest per pfn, in chunks opened only where pages were written; unwritten reads as the zero page's. */
export class PageDigests {
  private readonly chunks = new Map<number, Uint8Array>();

  set(pfn: number, page: Uint8Array): void {
    const key = Math.floor(pfn / CHUNK);
    let c = this.chunks.get(key);
    if (c === undefined) {
      c = new Uint8Array(CHUNK * DIGEST_SIZE);
      // A zero digest never comes out of SHA-256 in practice: it marks "never written".
      this.chunks.set(key, c);
    }
    digest(page, c, (pfn % CHUNK) * DIGEST_SIZE);
  }

  /** The page's digest (a view), or the zero page's when nothing was written there. */
  get(pfn: number): Uint8Array {
    const c = this.chunks.get(Math.floor(pfn / CHUNK));
    if (c === undefined) return ZERO_PAGE_DIGEST;
    const at = (pfn % CHUNK) * DIGEST_SIZE;
    const d = c.subarray(at, at + DIGEST_SIZE);
    for (let i = 0; i < DIGEST_SIZE; i++) if (d[i] !== 0) return d;
    return ZERO_PAGE_DIGEST;
  }

  get chunkCount(): number {
    return this.chunks.size;
  }
}

/** The headers an input showed: each layer's version and byte order (a memory image: its source). */
export interface InputHeaders {
  layers: string[];
  xl?: { littleEndian: boolean; mandatoryFlags: number; optionalFlags: number; configOctets: number };
  libxl?: { version: number; littleEndian: boolean };
  libxc?: { version: number; littleEndian: boolean; domainType: number; pageShift: number; xenMajor: number; xenMinor: number };
}

export interface DiffInputState {
  /** The path as given ("-" for standard input). */
  input: string;
  kind: 'stream' | 'image';
  headers: InputHeaders;
  description: DomainDescription;
  /** Checkpointed streams: complete checkpoints applied (the state is as of the last, or of the one asked for). */
  checkpoints?: number;
  cpuPolicy: CpuPolicyData;
  pvInfo?: PvInfo;
  p2mFrames?: P2mFrames;
  tsc?: TscInfo;
  hvmParams: HvmParam[];
  hvmContext?: Uint8Array;
  vcpus: VcpuContext[];
  sharedInfo?: Uint8Array;
  /** Emulator records by their kind, emulator id and index; contexts by length and digest only. */
  emulator: { kind: EmulatorData['kind']; emulatorId: number; index: number; length: number; digest: string; xenstore?: Uint8Array }[];
  config?: string;
  /** type + 1 per pfn (0: never sent), as the memory image keeps them. */
  types: SparsePfnBytes;
  pages: PageDigests;
  /** Notes for the reader of a diff: a failover, records not applied. */
  notes: string[];
}

function emptyState(input: string, kind: DiffInputState['kind']): DiffInputState {
  return {
    input,
    kind,
    headers: { layers: [] },
    description: { guestType: 'hvm', pageShift: 12, xenMajor: 0, xenMinor: 0, streamVersion: 0 },
    cpuPolicy: {},
    hvmParams: [],
    vcpus: [],
    emulator: [],
    types: new SparsePfnBytes(),
    pages: new PageDigests(),
    notes: [],
  };
}

const emulatorEntry = (e: EmulatorData): DiffInputState['emulator'][number] => {
  const entry: DiffInputState['emulator'][number] = {
    kind: e.kind,
    emulatorId: e.emulatorId,
    index: e.index,
    length: e.data.length,
    digest: createHash('sha256').update(e.data).digest('hex'),
  };
  if (e.kind === 'xenstore') entry.xenstore = e.data.slice();
  return entry;
};

/** A DomainSink that keeps a DiffInputState: page digests, never pages. */
class StateSink implements DomainSink {
  constructor(readonly state: DiffInputState) {}

  async begin(desc: DomainDescription): Promise<void> {
    this.state.description = { ...desc };
  }
  async setPvInfo(info: PvInfo): Promise<void> {
    this.state.pvInfo = { ...info };
  }
  async setCpuPolicy(policy: CpuPolicyData): Promise<void> {
    this.state.cpuPolicy = { ...policy };
  }
  async setP2mFrames(frames: P2mFrames): Promise<void> {
    this.state.p2mFrames = { ...frames, p2mPfns: [...frames.p2mPfns] };
  }
  async populate(pfns: readonly number[]): Promise<void> {
    const t = this.state.types;
    for (const pfn of pfns) if (t.get(pfn) === 0) t.set(pfn, PAGE_TYPE.NOTAB + 1);
  }
  async setPageTypes(pfns: readonly number[], types: readonly number[]): Promise<void> {
    const t = this.state.types;
    for (let i = 0; i < pfns.length; i++) {
      // A pfn without memory far from any would open a chunk per record, not per guest page.
      if (!pageTypeIsPopulated(types[i]!) && !t.hasChunk(pfns[i]!)) continue;
      t.set(pfns[i]!, types[i]! + 1);
    }
  }
  async writePages(pfns: readonly number[], data: Uint8Array): Promise<void> {
    for (let i = 0; i < pfns.length; i++) this.state.pages.set(pfns[i]!, data.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE));
  }
  /** Only whether each pfn holds memory is known here (the restorer asks before it clears a page); contents read as zero. */
  async readPages(pfns: readonly number[], into: Uint8Array): Promise<boolean[]> {
    into.fill(0, 0, pfns.length * PAGE_SIZE);
    return pfns.map((pfn) => {
      const v = this.state.types.get(pfn);
      return v !== 0 && pageTypeIsPopulated(v - 1);
    });
  }
  async setTscInfo(tsc: TscInfo): Promise<void> {
    this.state.tsc = { ...tsc };
  }
  async setHvmParams(params: readonly HvmParam[]): Promise<void> {
    for (const p of params) {
      const at = this.state.hvmParams.findIndex((q) => q.index === p.index);
      if (at >= 0) this.state.hvmParams[at] = { ...p };
      else this.state.hvmParams.push({ ...p });
    }
  }
  async setHvmContext(blob: Uint8Array): Promise<void> {
    this.state.hvmContext = blob.slice();
  }
  async setVcpuContext(ctx: VcpuContext): Promise<void> {
    const at = this.state.vcpus.findIndex((v) => v.vcpuId === ctx.vcpuId && v.kind === ctx.kind);
    const copy = { ...ctx, data: ctx.data.slice() };
    if (at >= 0) this.state.vcpus[at] = copy;
    else this.state.vcpus.push(copy);
  }
  async setSharedInfo(page: Uint8Array): Promise<void> {
    this.state.sharedInfo = page.slice();
  }
  async setEmulatorData(data: EmulatorData): Promise<void> {
    const e = emulatorEntry(data);
    const at = this.state.emulator.findIndex((x) => x.kind === e.kind && x.emulatorId === e.emulatorId && x.index === e.index);
    if (at >= 0) this.state.emulator[at] = e;
    else this.state.emulator.push(e);
  }
  async setConfig(config: string): Promise<void> {
    this.state.config = config;
  }
  async commit(): Promise<void> {}
  async abort(): Promise<void> {}
}

export interface CollectOptions {
  /** The stream is checkpointed (Remus; or COLO): as `restore --checkpointed`. */
  checkpointed?: boolean | CheckpointedKind;
  /** A checkpointed stream's state as of its Nth complete checkpoint (1 = the first), not its last. */
  checkpoint?: number;
}

/** A stream or a memory image, reduced to its DiffInputState. */
export async function collectState(path: string, opts: CollectOptions = {}): Promise<DiffInputState> {
  if (await isMemoryImageDir(path)) {
    const state = await collectImage(path);
    // An image holds one state: a checkpoint number picks among a stream's only.
    if (opts.checkpoint !== undefined) state.notes.push(`a memory image has one state; --checkpoint applies to the stream`);
    return state;
  }
  return collectStream(path, opts);
}

/** Replays a stream through the restore engine into digests; bounded by the guest's size, not the stream's. */
export async function collectStream(path: string, opts: CollectOptions = {}): Promise<DiffInputState> {
  const state = emptyState(path, 'stream');
  const wanted = opts.checkpoint;
  if (wanted !== undefined && (!Number.isSafeInteger(wanted) || wanted < 1)) throw new UsageError(`--checkpoint ${wanted}: expected a checkpoint number from 1`);
  const checkpointed = checkpointedKind(opts.checkpointed ?? (wanted !== undefined ? 'remus' : undefined));
  const opened = await openStream(path, { pageContents: 'stream', checkpointed });
  let reached = false;
  const h = state.headers;
  // The headers as they pass, and the end of the input right after checkpoint N is applied.
  const items = async function* (): AsyncGenerator<StreamItem> {
    for await (const item of opened.items) {
      if (item.kind === 'xl-header') {
        h.layers.push('xl');
        h.xl = { littleEndian: item.header.littleEndian, mandatoryFlags: item.header.mandatoryFlags, optionalFlags: item.header.optionalFlags, configOctets: item.header.optionalData.length };
      } else if (item.kind === 'libxl-header') {
        h.layers.push('libxl');
        h.libxl = { version: item.header.version, littleEndian: item.littleEndian };
      } else if (item.kind === 'libxc-header') {
        h.layers.push('libxc');
        const d = item.domain;
        h.libxc = { version: item.image.version, littleEndian: item.littleEndian, domainType: d.type, pageShift: d.pageShift, xenMajor: d.xenMajor, xenMinor: d.xenMinor };
      }
      yield item;
      if (reached) return;
    }
  };
  let result: RestoreResult;
  try {
    result = await restoreStream(items(), new StateSink(state), {
      checkpointed,
      onEvent: (e) => {
        if (e.kind === 'checkpoint' && wanted !== undefined && e.index === wanted) reached = true;
      },
    });
  } finally {
    await opened.close();
  }
  if (checkpointed !== undefined) state.checkpoints = result.checkpoints;
  if (wanted !== undefined && !reached) {
    throw new UsageError(`${path} has ${result.checkpoints} complete checkpoint(s); --checkpoint ${wanted} asks for more`);
  }
  if (result.failover && !reached) state.notes.push(`the stream broke after checkpoint ${result.checkpoints} (${result.failover.reason}); its state is that checkpoint's`);
  if (result.verify) state.notes.push(`${result.verify.pagesChecked} page(s) sent again after VERIFY (a --debug stream) are not part of its state`);
  for (const c of result.ignoredCounts) state.notes.push(`${c.count} optional ${c.typeName} record(s) ignored, as a restore ignores them`);
  return state;
}

/** Pages read from memory.raw at a time to digest them. */
const IMAGE_PIECE = 64;

/** A memory image: its domain.json, and its memory read once to digest every page that holds memory. */
export async function collectImage(dir: string): Promise<DiffInputState> {
  const state = emptyState(dir, 'image');
  const img = await MemoryImage.open(dir);
  try {
    const d = img.describe();
    state.description = d;
    state.headers = { layers: ['image'] };
    const pvInfo = await img.getPvInfo();
    if (pvInfo) state.pvInfo = pvInfo;
    state.cpuPolicy = await img.getCpuPolicy();
    const p2m = await img.getP2mFrames();
    if (p2m) state.p2mFrames = p2m;
    const tsc = img.hasTscInfo ? await img.getTscInfo() : undefined;
    if (tsc) state.tsc = tsc;
    state.hvmParams = await img.getHvmParams();
    const ctx = await img.getHvmContext();
    if (ctx) state.hvmContext = ctx;
    state.vcpus = await img.getVcpuContexts();
    const shared = await img.getSharedInfo();
    if (shared) state.sharedInfo = shared;
    state.emulator = (await img.getEmulatorData()).map(emulatorEntry);
    const config = await img.getConfig();
    if (config !== undefined) state.config = config;
    const buf = new Uint8Array(IMAGE_PIECE * PAGE_SIZE);
    const pfns: number[] = [];
    const flush = async (): Promise<void> => {
      if (pfns.length === 0) return;
      const present = await img.readPages(pfns, buf.subarray(0, pfns.length * PAGE_SIZE));
      pfns.forEach((pfn, i) => {
        if (present[i]) state.pages.set(pfn, buf.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE));
      });
      pfns.length = 0;
    };
    for (const [start, count, type] of img.pageTypeRuns()) {
      for (let i = 0; i < count; i++) state.types.set(start + i, type + 1);
      if (!pageTypeIsPopulated(type)) continue;
      for (let i = 0; i < count; i++) {
        pfns.push(start + i);
        if (pfns.length === IMAGE_PIECE) await flush();
      }
    }
    await flush();
  } finally {
    await img.close();
  }
  return state;
}
