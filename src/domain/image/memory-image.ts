/**
 * The memory image: a restored domain as a directory, readable by people and tools,
 * and a domain the save engine can send again.
 *
 *   DIR/memory.raw     sparse; pfn N at offset N*4096; holes for pages never sent.
 *                      Its size is (highest pfn + 1) * 4096.
 *   DIR/domain.json    everything else (below); bigger blobs are files beside it.
 *   DIR/vcpuN-KIND.bin X86_PV_VCPU_{BASIC,EXTENDED,XSAVE,MSRS} context of vcpu N
 *   DIR/hvm-context.bin, DIR/shared-info.bin, DIR/emulator-KIND-ID-INDEX.bin, DIR/config
 *
 * domain.json (format "xenmig-memory-image", version 1):
 *   guestType "hvm" | "pv"; pageShift; source {streamVersion, xenMajor, xenMinor}
 *   memory {file, maxPfn (highest pfn with a type, -1 if none), populated (pages that
 *          hold memory), pageTypes: [[startPfn, count, typeName], ...] run-length encoded,
 *          or, past MAX_INLINE_RUNS runs, pageTypesFile {file, chunkPfns, chunks} instead}
 *   pvInfo {guestWidth, ptLevels}; p2mFrames {startPfn, endPfn, p2mPfns [hex]}
 *   cpuPolicy {cpuid [{leaf, subleaf, eax, ebx, ecx, edx} as hex], msrs [{index, flags, value} hex]}
 *   tsc {mode, khz, nsec (decimal string), incarnation}
 *   hvmParams {NAME: hex value} in stream order (names from src/format/hvm-params.ts)
 *   hvmContext {file}; sharedInfo {file}; vcpus [{vcpuId, kind, file}]
 *   emulator [{kind, emulatorId, emulator, index, file, xenstore? {key: value}}]
 *            (past MAX_XENSTORE_PAIRS_SHOWN pairs: xenstorePairs, a count, instead)
 *   config {file}: the xl domain config as text (JSON or xl.cfg syntax)
 * Absent things are absent keys. Numbers beyond 2^53 are strings.
 *
 * Writing goes to a temporary directory beside DIR that is renamed into place on
 * commit; abort removes it, so a failed restore leaves nothing half made.
 */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import { MAX_XENSTORE_PAIRS_SHOWN, PAGE_SHIFT, PAGE_SIZE, PAGE_TYPE, emulatorName, pageTypeName, type GuestType } from '../../format/constants.js';
import { IoError, StreamFormatError, UsageError } from '../../format/errors.js';
import { hvmParamIndexByName, hvmParamName } from '../../format/hvm-params.js';
import { parseXenstoreData, scanXenstoreData } from '../../format/libxl-records.js';
import type { HvmParam } from '../../format/records.js';
import { releaseTemp, sweepStaleTemps, tempPathFor } from '../../io/temp-files.js';
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
  VcpuContextKind,
} from '../types.js';
import { PageFile } from './page-file.js';
import { SparsePfnBytes } from './pfn-map.js';

export const IMAGE_FORMAT = 'xenmig-memory-image';
export const IMAGE_VERSION = 1;
export const MEMORY_FILE = 'memory.raw';
export const DOMAIN_FILE = 'domain.json';

/** Types that leave a pfn without memory. */
export function pageTypeIsPopulated(t: number): boolean {
  return t !== PAGE_TYPE.XTAB && t !== PAGE_TYPE.BROKEN;
}

const PAGE_TYPE_BY_NAME = new Map(Object.entries(PAGE_TYPE).map(([k, v]) => [k, v as number]));
const VCPU_KINDS: readonly VcpuContextKind[] = ['basic', 'extended', 'xsave', 'msrs'];

const hex = (n: number | bigint): string => `0x${n.toString(16)}`;

interface ImageState {
  desc?: DomainDescription;
  /** type + 1 per pfn; 0 = never seen. */
  types: SparsePfnBytes;
  pvInfo?: PvInfo;
  cpuPolicy: CpuPolicyData;
  p2mFrames?: P2mFrames;
  tsc?: TscInfo;
  hvmParams: HvmParam[];
  hvmContext?: Uint8Array;
  vcpus: Map<string, VcpuContext>;
  sharedInfo?: Uint8Array;
  emulator: Map<string, EmulatorData>;
  config?: string;
}

function emptyState(): ImageState {
  return { types: new SparsePfnBytes(), cpuPolicy: {}, hvmParams: [], vcpus: new Map(), emulator: new Map() };
}

export interface CreateImageOptions {
  /** Replace an existing DIR (only once the new image is complete). */
  force?: boolean;
  /** Write memory synchronously (see PageFileOptions): for a local input, not a live one. */
  blocking?: boolean;
}

export class MemoryImage implements DomainSink, DomainSource {
  private state: ImageState = emptyState();
  /** Page-type chunks opened by pfns without memory (XTAB, BROKEN). */
  private idleChunks = 0;
  private finished = false;
  private isRunning = true;

  private constructor(
    /** Where the image is now: the temporary directory until commit. */
    private where: string,
    /** Where it goes on commit. */
    readonly dir: string,
    private readonly memory: PageFile,
    private readonly force: boolean,
  ) {}

  /**
   * A new, empty image to restore into; visible at `dir` only after commit. With `force`
   * an existing memory image (or an empty directory) is replaced; anything else is refused.
   */
  static async create(dir: string, opts: CreateImageOptions = {}): Promise<MemoryImage> {
    const exists = await stat(dir).then(
      () => true,
      () => false,
    );
    if (exists && !opts.force) throw new UsageError(`${dir} exists; use --force to replace it`);
    if (exists) await refuseUnlessImage(dir);
    await sweepStaleTemps(dir.replace(/\/+$/, ''));
    const tmp = tempPathFor(dir.replace(/\/+$/, ''));
    try {
      await mkdir(tmp);
    } catch (err) {
      releaseTemp(tmp);
      throw new IoError(`cannot create ${dir}: ${(err as Error).message}`, { cause: err });
    }
    try {
      const memory = await PageFile.create(join(tmp, MEMORY_FILE), 0, { blocking: opts.blocking ?? false });
      return new MemoryImage(tmp, dir, memory, opts.force ?? false);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      releaseTemp(tmp);
      throw err;
    }
  }

  /** An existing image, as a domain source (and a sink for a later restore in place is not offered). */
  static async open(dir: string): Promise<MemoryImage> {
    let json: ImageJson;
    try {
      json = JSON.parse(await readFile(join(dir, DOMAIN_FILE), 'utf8')) as ImageJson;
    } catch (err) {
      throw new IoError(`${dir} is not a memory image: cannot read ${DOMAIN_FILE}: ${(err as Error).message}`, { cause: err });
    }
    if (json.format !== IMAGE_FORMAT || json.version !== IMAGE_VERSION) {
      throw new IoError(`${dir}/${DOMAIN_FILE}: format ${String(json.format)} version ${String(json.version)}, expected ${IMAGE_FORMAT} version ${IMAGE_VERSION}`);
    }
    const memory = await PageFile.openRead(imageFile(dir, json.memory.file));
    const img = new MemoryImage(dir, dir, memory, false);
    img.state = await stateFromJson(dir, json);
    img.finished = true;
    return img;
  }

  get path(): string {
    return this.where;
  }

  // ---- DomainSink ----------------------------------------------------------------------
  async begin(desc: DomainDescription): Promise<void> {
    this.state.desc = desc;
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
      const pfn = pfns[i]!;
      const type = types[i]!;
      // XTAB/BROKEN far from any memory: a chunk each would grow with the records, not the guest.
      if (!pageTypeIsPopulated(type) && !t.hasChunk(pfn)) {
        if (this.idleChunks >= MAX_IDLE_CHUNKS) {
          if (type === PAGE_TYPE.XTAB) continue; // never seen reads as XTAB anyway
          throw new StreamFormatError(
            `BROKEN pfn 0x${pfn.toString(16)} is one more pfn without memory past ${MAX_IDLE_CHUNKS} chunks of ${SparsePfnBytes.CHUNK_PFNS} pfns holding none: refusing (the memory image's bound on page types without memory)`,
          );
        }
        this.idleChunks++;
      }
      t.set(pfn, type + 1);
    }
  }

  async writePages(pfns: readonly number[], data: Uint8Array): Promise<void> {
    await this.memory.writePages(pfns, data);
  }

  /** Queued: written in order while the stream goes on (see PageFile.queuePages). */
  async writePageViews(pfns: readonly number[], views: readonly Uint8Array[], done: () => void): Promise<void> {
    await this.memory.queuePages(pfns, views, done);
  }

  async flush(): Promise<void> {
    await this.memory.drain();
  }

  async readPages(pfns: readonly number[], into: Uint8Array): Promise<boolean[]> {
    await this.memory.readPages(pfns, into);
    return pfns.map((pfn, i) => {
      const v = this.state.types.get(pfn);
      const present = v !== 0 && pageTypeIsPopulated(v - 1);
      if (!present) into.fill(0, i * PAGE_SIZE, (i + 1) * PAGE_SIZE);
      return present;
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
    this.state.vcpus.set(`${ctx.vcpuId}:${ctx.kind}`, { ...ctx, data: ctx.data.slice() });
  }

  async setSharedInfo(page: Uint8Array): Promise<void> {
    this.state.sharedInfo = page.slice();
  }

  async setEmulatorData(data: EmulatorData): Promise<void> {
    this.state.emulator.set(emulatorFile(data), { ...data, data: data.data.slice() });
  }

  async setConfig(config: string): Promise<void> {
    this.state.config = config;
  }

  async commit(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    const tmp = this.where;
    try {
      if (!this.state.desc) throw new IoError(`no domain was restored into ${this.dir}`);
      await this.memory.truncate((this.state.types.maxPfn + 1) * PAGE_SIZE);
      await this.memory.sync();
      const json = stateToJson(this.state);
      for (const [name, bytes] of blobFiles(this.state)) await writeDurably(join(tmp, name), bytes);
      await writeDurably(join(tmp, DOMAIN_FILE), new TextEncoder().encode(formatImageJson(json)));
      await syncDir(tmp);
      let old: string | undefined;
      if (this.force && (await stat(this.dir).then(() => true, () => false))) {
        // Not a tracked temporary: killed between these renames, the old image must survive.
        const aside = tempPathFor(this.dir.replace(/\/+$/, ''));
        releaseTemp(aside);
        old = aside + '.old';
        await rename(this.dir, old);
      }
      await rename(tmp, this.dir);
      releaseTemp(tmp);
      if (old) await rm(old, { recursive: true, force: true });
      this.where = this.dir;
    } catch (err) {
      await this.memory.close();
      await rm(tmp, { recursive: true, force: true });
      releaseTemp(tmp);
      if (err instanceof IoError) throw err;
      throw new IoError(`finishing ${this.dir}: ${(err as Error).message}`, { cause: err });
    }
  }

  async abort(_reason: string): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    await this.memory.close();
    await rm(this.where, { recursive: true, force: true });
    releaseTemp(this.where);
  }

  async close(): Promise<void> {
    await this.memory.close();
  }

  // ---- DomainSource --------------------------------------------------------------------
  get guestType(): GuestType {
    return this.description().guestType;
  }

  get maxPfn(): number {
    const p2mEnd = this.state.p2mFrames ? this.state.p2mFrames.endPfn + 1 : 0;
    return Math.max(this.state.types.maxPfn + 1, p2mEnd);
  }

  describe(): DomainDescription {
    return { ...this.description() };
  }

  private description(): DomainDescription {
    if (!this.state.desc) throw new IoError(`${this.dir}: no domain restored yet`);
    return this.state.desc;
  }

  async populatedPfns(): Promise<number[]> {
    const out: number[] = [];
    for (const [start, count, v] of this.state.types.runs()) {
      if (pageTypeIsPopulated(v - 1)) for (let i = 0; i < count; i++) out.push(start + i);
    }
    return out;
  }

  /** Page types in runs, ascending: [startPfn, count, type] (pfns never sent are left out). */
  *pageTypeRuns(): Generator<[number, number, number]> {
    for (const [start, count, v] of this.state.types.runs()) yield [start, count, v - 1];
  }

  /** Whether the domain came with X86_TSC_INFO (getTscInfo gives zeros otherwise). */
  get hasTscInfo(): boolean {
    return this.state.tsc !== undefined;
  }

  async pageTypes(pfns: readonly number[]): Promise<number[]> {
    return pfns.map((pfn) => {
      const v = this.state.types.get(pfn);
      return v === 0 ? PAGE_TYPE.XTAB : v - 1;
    });
  }

  /** A static image never changes under us: its dirty log is always empty. */
  async enableDirtyLogging(): Promise<DirtyLog> {
    return { readAndClear: async () => [], peek: async () => 0 };
  }

  async disableDirtyLogging(): Promise<void> {}

  async suspend(): Promise<void> {
    this.isRunning = false;
  }

  async resume(): Promise<void> {
    this.isRunning = true;
  }

  get running(): boolean {
    return this.isRunning;
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
    return this.state.tsc ?? { mode: 0, khz: 0, nsec: 0n, incarnation: 0 };
  }
  async getHvmParams(): Promise<HvmParam[]> {
    return this.state.hvmParams.map((p) => ({ ...p }));
  }
  async getHvmContext(): Promise<Uint8Array | undefined> {
    return this.state.hvmContext;
  }
  async getVcpuContexts(): Promise<VcpuContext[]> {
    return [...this.state.vcpus.values()].sort(
      (a, b) => a.vcpuId - b.vcpuId || VCPU_KINDS.indexOf(a.kind) - VCPU_KINDS.indexOf(b.kind),
    );
  }
  async getSharedInfo(): Promise<Uint8Array | undefined> {
    return this.state.sharedInfo;
  }
  async getEmulatorData(): Promise<EmulatorData[]> {
    return [...this.state.emulator.values()];
  }
  async getConfig(): Promise<string | undefined> {
    return this.state.config;
  }
}

// ---- domain.json ---------------------------------------------------------------------------
interface ImageJson {
  format: string;
  version: number;
  guestType: GuestType;
  pageShift: number;
  source: { streamVersion: number; xenMajor: number; xenMinor: number };
  memory: {
    file: string;
    maxPfn: number;
    populated: number;
    /** Absent when the types change more than MAX_INLINE_RUNS times: then `pageTypesFile`. */
    pageTypes?: [number, number, string][];
    pageTypesFile?: { file: string; chunkPfns: number; chunks: number[] };
  };
  pvInfo?: PvInfo;
  p2mFrames?: { startPfn: number; endPfn: number; p2mPfns: string[] };
  cpuPolicy?: {
    cpuid?: { leaf: string; subleaf: string; eax: string; ebx: string; ecx: string; edx: string }[];
    msrs?: { index: string; flags: string; value: string }[];
  };
  tsc?: { mode: number; khz: number; nsec: string; incarnation: number };
  hvmParams?: Record<string, string>;
  hvmContext?: { file: string };
  sharedInfo?: { file: string };
  vcpus?: { vcpuId: number; kind: VcpuContextKind; file: string }[];
  emulator?: { kind: EmulatorData['kind']; emulatorId: number; emulator: string; index: number; file: string; xenstore?: Record<string, string>; xenstorePairs?: number }[];
  config?: { file: string };
}

const vcpuFile = (c: { vcpuId: number; kind: string }): string => `vcpu${c.vcpuId}-${c.kind}.bin`;
const emulatorFile = (e: EmulatorData): string => `emulator-${e.kind}-${e.emulatorId}-${e.index}.bin`;

/**
 * Page-type runs spelled out in domain.json. A guest whose types churn (a ballooned guest's
 * XTAB/NOTAB every other pfn, or a hostile stream) would make it hundreds of MB; beyond
 * this its types go to page-types.bin, one octet (type + 1, 0 = never sent) per pfn of
 * each 64 Ki-pfn chunk touched: bounded by the guest's pfns, not by the records.
 */
export const MAX_INLINE_RUNS = 65536;
const PAGE_TYPES_FILE = 'page-types.bin';

/**
 * Chunks of page types (4 KiB each) a restore may open for pfns without memory: 32 MiB.
 * Beyond, an XTAB pfn far from memory is not recorded (it reads as XTAB all the same: the
 * image's maxPfn and XTAB runs then leave it out) and a BROKEN one is refused.
 */
export const MAX_IDLE_CHUNKS = 8192;

function pageTypesInline(s: ImageState): boolean {
  return s.types.countRuns() <= MAX_INLINE_RUNS;
}

function blobFiles(s: ImageState): [string, Uint8Array][] {
  const out: [string, Uint8Array][] = [];
  if (!pageTypesInline(s)) {
    const chunks = s.types.chunks();
    const all = new Uint8Array(chunks.length * SparsePfnBytes.CHUNK_PFNS);
    chunks.forEach(([, c], i) => all.set(c, i * SparsePfnBytes.CHUNK_PFNS));
    out.push([PAGE_TYPES_FILE, all]);
  }
  if (s.hvmContext) out.push(['hvm-context.bin', s.hvmContext]);
  if (s.sharedInfo) out.push(['shared-info.bin', s.sharedInfo]);
  for (const v of s.vcpus.values()) out.push([vcpuFile(v), v.data]);
  for (const e of s.emulator.values()) out.push([emulatorFile(e), e.data]);
  if (s.config !== undefined) out.push(['config', new TextEncoder().encode(s.config)]);
  return out;
}

function stateToJson(s: ImageState): ImageJson {
  const d = s.desc!;
  const inline = pageTypesInline(s);
  const pageTypes: [number, number, string][] = [];
  let populated = 0;
  for (const [start, count, v] of s.types.runs()) {
    if (inline) pageTypes.push([start, count, pageTypeName(v - 1)]);
    if (pageTypeIsPopulated(v - 1)) populated += count;
  }
  const memory: ImageJson['memory'] = { file: MEMORY_FILE, maxPfn: s.types.maxPfn, populated };
  if (inline) memory.pageTypes = pageTypes;
  else {
    const chunkPfns = SparsePfnBytes.CHUNK_PFNS;
    memory.pageTypesFile = { file: PAGE_TYPES_FILE, chunkPfns, chunks: s.types.chunks().map(([key]) => key * chunkPfns) };
  }
  const j: ImageJson = {
    format: IMAGE_FORMAT,
    version: IMAGE_VERSION,
    guestType: d.guestType,
    pageShift: d.pageShift,
    source: { streamVersion: d.streamVersion, xenMajor: d.xenMajor, xenMinor: d.xenMinor },
    memory,
  };
  if (s.pvInfo) j.pvInfo = { guestWidth: s.pvInfo.guestWidth, ptLevels: s.pvInfo.ptLevels };
  if (s.p2mFrames) j.p2mFrames = { startPfn: s.p2mFrames.startPfn, endPfn: s.p2mFrames.endPfn, p2mPfns: s.p2mFrames.p2mPfns.map(hex) };
  if (s.cpuPolicy.cpuid || s.cpuPolicy.msrs) {
    j.cpuPolicy = {};
    if (s.cpuPolicy.cpuid) {
      j.cpuPolicy.cpuid = s.cpuPolicy.cpuid.map((e) => ({
        leaf: hex(e.leaf), subleaf: hex(e.subleaf), eax: hex(e.eax), ebx: hex(e.ebx), ecx: hex(e.ecx), edx: hex(e.edx),
      }));
    }
    if (s.cpuPolicy.msrs) j.cpuPolicy.msrs = s.cpuPolicy.msrs.map((e) => ({ index: hex(e.index), flags: hex(e.flags), value: hex(e.value) }));
  }
  if (s.tsc) j.tsc = { mode: s.tsc.mode, khz: s.tsc.khz, nsec: s.tsc.nsec.toString(), incarnation: s.tsc.incarnation };
  if (s.hvmParams.length > 0) j.hvmParams = Object.fromEntries(s.hvmParams.map((p) => [hvmParamName(p.index), hex(p.value)]));
  if (s.hvmContext) j.hvmContext = { file: 'hvm-context.bin' };
  if (s.sharedInfo) j.sharedInfo = { file: 'shared-info.bin' };
  if (s.vcpus.size > 0) {
    j.vcpus = [...s.vcpus.values()]
      .sort((a, b) => a.vcpuId - b.vcpuId || VCPU_KINDS.indexOf(a.kind) - VCPU_KINDS.indexOf(b.kind))
      .map((v) => ({ vcpuId: v.vcpuId, kind: v.kind, file: vcpuFile(v) }));
  }
  if (s.emulator.size > 0) {
    j.emulator = [...s.emulator.values()].map((e) => {
      const entry: NonNullable<ImageJson['emulator']>[number] = {
        kind: e.kind, emulatorId: e.emulatorId, emulator: emulatorName(e.emulatorId), index: e.index, file: emulatorFile(e),
      };
      if (e.kind === 'xenstore') {
        const scanned = scanXenstoreData(e.data);
        if ('pairs' in scanned && scanned.pairs <= MAX_XENSTORE_PAIRS_SHOWN) {
          const parsed = parseXenstoreData(e.data);
          if ('pairs' in parsed) entry.xenstore = Object.fromEntries(parsed.pairs);
        } else if ('pairs' in scanned) entry.xenstorePairs = scanned.pairs;
      }
      return entry;
    });
  }
  if (s.config !== undefined) j.config = { file: 'config' };
  return j;
}

async function stateFromJson(dir: string, j: ImageJson): Promise<ImageState> {
  const s = emptyState();
  if (j.guestType !== 'pv' && j.guestType !== 'hvm') throw new IoError(`${dir}: unknown guest type ${String(j.guestType)}`);
  s.desc = { guestType: j.guestType, pageShift: j.pageShift ?? PAGE_SHIFT, ...j.source };
  for (const [start, count, name] of j.memory.pageTypes ?? []) {
    const t = PAGE_TYPE_BY_NAME.get(name);
    if (t === undefined) throw new IoError(`${dir}/${DOMAIN_FILE}: unknown page type ${name}`);
    for (let i = 0; i < count; i++) s.types.set(start + i, t + 1);
  }
  const typesFile = j.memory.pageTypesFile;
  if (typesFile) {
    const chunkPfns = SparsePfnBytes.CHUNK_PFNS;
    const bytes = new Uint8Array(await readFile(imageFile(dir, typesFile.file)));
    if (typesFile.chunkPfns !== chunkPfns || bytes.length !== typesFile.chunks.length * chunkPfns) {
      throw new IoError(`${dir}/${typesFile.file}: expected ${typesFile.chunks.length} chunk(s) of ${chunkPfns} octets`);
    }
    typesFile.chunks.forEach((first, i) => {
      if (!Number.isSafeInteger(first) || first % chunkPfns !== 0) throw new IoError(`${dir}/${DOMAIN_FILE}: page-type chunk ${String(first)} is not a multiple of ${chunkPfns}`);
      s.types.setChunk(first / chunkPfns, bytes.slice(i * chunkPfns, (i + 1) * chunkPfns));
    });
  }
  const blob = async (f: { file: string }): Promise<Uint8Array> => new Uint8Array(await readFile(imageFile(dir, f.file)));
  if (j.pvInfo) s.pvInfo = j.pvInfo;
  if (j.p2mFrames) s.p2mFrames = { startPfn: j.p2mFrames.startPfn, endPfn: j.p2mFrames.endPfn, p2mPfns: j.p2mFrames.p2mPfns.map((p) => BigInt(p)) };
  if (j.cpuPolicy?.cpuid) {
    s.cpuPolicy.cpuid = j.cpuPolicy.cpuid.map((e) => ({
      leaf: Number(e.leaf), subleaf: Number(e.subleaf), eax: Number(e.eax), ebx: Number(e.ebx), ecx: Number(e.ecx), edx: Number(e.edx),
    }));
  }
  if (j.cpuPolicy?.msrs) s.cpuPolicy.msrs = j.cpuPolicy.msrs.map((e) => ({ index: Number(e.index), flags: Number(e.flags), value: BigInt(e.value) }));
  if (j.tsc) s.tsc = { mode: j.tsc.mode, khz: j.tsc.khz, nsec: BigInt(j.tsc.nsec), incarnation: j.tsc.incarnation };
  for (const [name, value] of Object.entries(j.hvmParams ?? {})) {
    const index = hvmParamIndexByName(name);
    if (index === undefined) throw new IoError(`${dir}/${DOMAIN_FILE}: unknown HVM param ${name}`);
    s.hvmParams.push({ index, value: BigInt(value) });
  }
  if (j.hvmContext) s.hvmContext = await blob(j.hvmContext);
  if (j.sharedInfo) s.sharedInfo = await blob(j.sharedInfo);
  for (const v of j.vcpus ?? []) s.vcpus.set(`${v.vcpuId}:${v.kind}`, { vcpuId: v.vcpuId, kind: v.kind, data: await blob(v) });
  for (const e of j.emulator ?? []) {
    const data: EmulatorData = { kind: e.kind, emulatorId: e.emulatorId, index: e.index, data: await blob(e) };
    s.emulator.set(emulatorFile(data), data);
  }
  if (j.config) s.config = new TextDecoder().decode(await blob(j.config));
  return s;
}

/** Pretty, but with each page-type run on one line: a fragmented guest has many. */
function formatImageJson(j: ImageJson): string {
  return JSON.stringify(j, null, 2).replace(/\[\s+(\d+),\s+(\d+),\s+("\w+")\s+\]/g, '[$1, $2, $3]') + '\n';
}

async function writeDurably(path: string, bytes: Uint8Array): Promise<void> {
  await writeFile(path, bytes);
  const h = await open(path, 'r');
  await h.sync().finally(() => h.close());
}

async function syncDir(path: string): Promise<void> {
  const h = await open(path, 'r');
  await h.sync().catch(() => undefined).finally(() => h.close());
}

/**
 * `--force` replaces a memory image, never an arbitrary directory or file a mistyped
 * `--into` happens to name: the old directory must hold a domain.json of this format,
 * or nothing at all.
 */
async function refuseUnlessImage(dir: string): Promise<void> {
  const st = await stat(dir);
  if (!st.isDirectory()) throw new UsageError(`${dir} exists and is not a directory; --force replaces only memory images`);
  const entries = await readdir(dir);
  if (entries.length === 0) return;
  let json: Partial<ImageJson> | undefined;
  try {
    json = JSON.parse(await readFile(join(dir, DOMAIN_FILE), 'utf8')) as Partial<ImageJson>;
  } catch {
    json = undefined;
  }
  if (json?.format !== IMAGE_FORMAT) {
    throw new UsageError(`${dir} exists and is not a memory image (no ${DOMAIN_FILE} of format ${IMAGE_FORMAT}); --force replaces only memory images`);
  }
}

/** A file an image's domain.json names: a plain name inside the image, never a path leading out of it. */
function imageFile(dir: string, name: unknown): string {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
    throw new IoError(`${dir}/${DOMAIN_FILE} names the file ${JSON.stringify(name)}; an image's files are plain names inside it`);
  }
  return join(dir, name);
}
