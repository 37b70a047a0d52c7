/**
 * What a stream holds, gathered from the same items the verifier sees: layers, versions,
 * guest type, pages by type and memory size, vcpus, policies, where the static data
 * ends. `info`, `demo`, the restore engine and the migration preflight share it.
 * Memory stays bounded whatever the stream's size (see PfnSet).
 */
import {
  LIBXL_OPT_LEGACY,
  LIBXL_REC_TYPE,
  PAGE_SIZE,
  PAGE_TYPE,
  REC_TYPE,
  XL_MANDATORY_FLAG_JSON,
  guestTypeOf,
  pageTypeName,
  type GuestType,
} from '../format/constants.js';
import { VCPU_RECORDS } from '../format/records.js';
import { hvmContextRegisters, hvmContextVcpus } from '../format/hvm-context.js';
import { decodePvVcpuContext, pvVcpuRegisters, widthOfContextLength, type PvGuestWidth } from '../format/pv/vcpu-context.js';
import type { VcpuRegisters } from '../format/vcpu-registers.js';
import { EMULATOR_HEADER_LAYOUT } from '../format/libxl/emulator.js';
import {
  CPUID_LEAF_LAYOUT,
  HVM_PARAMS_HEADER_LAYOUT,
  MSR_ENTRY_LAYOUT,
  PV_INFO_LAYOUT,
  TSC_INFO_LAYOUT,
  VCPU_HEADER_LAYOUT,
  isPfnRun,
  pfnEntriesOf,
  wordsPageType,
  wordsPfn,
} from '../format/records.js';
import type { StreamItem, RecordItem } from '../stream/items.js';
import { StaticDataTracker } from '../stream/static-data.js';
import type { Diagnostic } from './types.js';

/** Set bits in each byte value. */
const BITS_SET = Uint8Array.from({ length: 256 }, (_, b) => {
  let n = 0;
  for (let v = b; v !== 0; v &= v - 1) n++;
  return n;
});

/**
 * A set of pfns in 32768-pfn bitmap chunks (4 KiB per 128 MiB of guest memory). Past
 * `maxChunks` (a stream scattering pfns everywhere) it stops adding chunks and says
 * the count is a lower bound, so memory stays bounded.
 */
export class PfnSet {
  private static readonly CHUNK = 2 ** 15;
  private readonly chunks = new Map<number, Uint8Array>();
  /** Pfns mostly come in runs: the chunk used last is tried first, without the map. */
  private lastBase = -Infinity;
  private lastChunk: Uint8Array | undefined;
  size = 0;
  overflowed = false;

  constructor(private readonly maxChunks = 4096) {}

  /**
   * Adds `count` pfns from `first` on. Whole bytes of the bitmap are filled at once: a
   * PAGE_DATA record is usually one run of 1024 pfns, 128 bytes here.
   */
  addRun(first: number, count: number): void {
    let pfn = first;
    const end = first + count;
    while (pfn < end) {
      if (pfn % 8 !== 0 || end - pfn < 8) {
        this.add(pfn++);
        continue;
      }
      const chunk = this.chunkOf(pfn);
      if (chunk === undefined) {
        // Past the chunk limit (the count is now a lower bound): on to the next chunk, which may exist.
        pfn = (Math.floor(pfn / PfnSet.CHUNK) + 1) * PfnSet.CHUNK;
        continue;
      }
      const from = (pfn - this.lastBase) >>> 3;
      const to = Math.min(Math.floor((end - this.lastBase) / 8), chunk.length);
      let had = 0;
      for (let b = from; b < to; b++) had += BITS_SET[chunk[b]!]!;
      chunk.fill(0xff, from, to);
      this.size += 8 * (to - from) - had;
      pfn = this.lastBase + 8 * to;
    }
  }

  add(pfn: number): void {
    const chunk = this.chunkOf(pfn);
    if (chunk === undefined) return;
    const bit = pfn - this.lastBase;
    const mask = 1 << (bit & 7);
    const byte = bit >>> 3;
    if ((chunk[byte]! & mask) === 0) {
      chunk[byte] = chunk[byte]! | mask;
      this.size++;
    }
  }

  /** The chunk holding pfn, made if need be (then the one used last); undefined past the limit. */
  private chunkOf(pfn: number): Uint8Array | undefined {
    const bit = pfn - this.lastBase;
    if (bit >= 0 && bit < PfnSet.CHUNK) return this.lastChunk;
    const key = Math.floor(pfn / PfnSet.CHUNK);
    let chunk = this.chunks.get(key);
    if (chunk === undefined) {
      if (this.chunks.size >= this.maxChunks) {
        this.overflowed = true;
        return undefined;
      }
      chunk = new Uint8Array(PfnSet.CHUNK / 8);
      this.chunks.set(key, chunk);
    }
    this.lastBase = key * PfnSet.CHUNK;
    this.lastChunk = chunk;
    return chunk;
  }
}

export interface StreamSummary {
  /** Outermost first, e.g. ["xl", "libxl", "libxc"]. */
  layers: string[];
  xl?: { bigEndian: boolean; configFormat: 'json' | 'text' | 'none'; configBytes: number; mandatoryFlags: number };
  libxl?: { version: number; bigEndian: boolean; convertedFromLegacy: boolean; emulators: { kind: 'xenstore' | 'context'; emulatorId: number; index: number; length: number; keys?: number }[] };
  libxc?: {
    version: number;
    bigEndian: boolean;
    domainType: number;
    guestType: GuestType | undefined;
    pageShift: number;
    xenMajor: number;
    xenMinor: number;
    convertedFromLegacy: boolean;
  };
  /** Counts of pfn entries by page type name (every PAGE_DATA entry, resends included). */
  pagesByType: Record<string, number>;
  pageDataRecords: number;
  /** Pages whose contents travelled (resends included). */
  pagesWithData: number;
  /** Distinct pfns given memory (types with data and XALLOC). */
  populatedPfns: number;
  /** True when populatedPfns is a lower bound (pfns scattered beyond the tracking limit). */
  populatedPfnsLowerBound: boolean;
  memoryBytes: number;
  pfnRange?: { min: number; max: number };
  vcpus: number[];
  cpuidPolicy?: { leaves: number };
  msrPolicy?: { msrs: number };
  pvInfo?: { guestWidth: number; ptLevels: number };
  tsc?: { mode: number; khz: number };
  hvmParams: number;
  hvmContextBytes: number;
  /** Each vcpu's registers, by vcpu id (HVM CPU save records, PV BASIC contexts); the last record of a vcpu wins. */
  vcpuStates?: VcpuRegisters[];
  staticDataEnd?: { offset: number; recordIndex: number; inferred: boolean; inferredAt?: string };
  recordsByType: Record<string, number>;
  checkpoints: number;
  verifyRecord: boolean;
  /** Octets read or skipped (the stream's size when it was read to its end). */
  bytes: number;
  errors: number;
  warnings: number;
}

export class SummaryBuilder {
  private readonly s: StreamSummary = {
    layers: [],
    pagesByType: {},
    pageDataRecords: 0,
    pagesWithData: 0,
    populatedPfns: 0,
    populatedPfnsLowerBound: false,
    memoryBytes: 0,
    vcpus: [],
    hvmParams: 0,
    hvmContextBytes: 0,
    recordsByType: {},
    checkpoints: 0,
    verifyRecord: false,
    bytes: 0,
    errors: 0,
    warnings: 0,
  };
  private readonly pfns = new PfnSet();
  private readonly vcpus = new Set<number>();
  private readonly vcpuStates = new Map<number, VcpuRegisters>();
  private readonly typeCounts = new Array<number>(16).fill(0);
  private readonly tracker = new StaticDataTracker();
  private min = Infinity;
  private max = -1;

  push(item: StreamItem): void {
    switch (item.kind) {
      case 'xl-header': {
        const h = item.header;
        this.s.layers.push('xl');
        this.s.xl = {
          bigEndian: !h.littleEndian,
          configFormat: h.config === undefined ? 'none' : (h.mandatoryFlags & XL_MANDATORY_FLAG_JSON) !== 0 ? 'json' : 'text',
          configBytes: h.config?.length ?? 0,
          mandatoryFlags: h.mandatoryFlags,
        };
        break;
      }
      case 'libxl-header':
        this.s.layers.push('libxl');
        this.s.libxl = {
          version: item.header.version,
          bigEndian: !item.littleEndian,
          convertedFromLegacy: (item.header.options & LIBXL_OPT_LEGACY) !== 0,
          emulators: [],
        };
        break;
      case 'libxc-header':
        this.s.layers.push('libxc');
        this.tracker.push(item);
        this.s.libxc = {
          version: item.image.version,
          bigEndian: !item.littleEndian,
          domainType: item.domain.type,
          guestType: guestTypeOf(item.domain.type),
          pageShift: item.domain.pageShift,
          xenMajor: item.domain.xenMajor,
          xenMinor: item.domain.xenMinor,
          convertedFromLegacy: item.domain.xenMajor === 0,
        };
        break;
      case 'record':
        this.s.bytes = item.end;
        if (item.layer === 'libxc') this.libxcRecord(item);
        else this.libxlRecord(item);
        break;
      case 'trailing':
        break;
    }
  }

  private libxlRecord(item: RecordItem): void {
    if (item.type !== LIBXL_REC_TYPE.EMULATOR_XENSTORE_DATA && item.type !== LIBXL_REC_TYPE.EMULATOR_CONTEXT) return;
    const H = EMULATOR_HEADER_LAYOUT;
    if (item.body.length < H.size) return;
    const xenstore = item.type === LIBXL_REC_TYPE.EMULATOR_XENSTORE_DATA;
    const entry: NonNullable<StreamSummary['libxl']>['emulators'][number] = {
      kind: xenstore ? 'xenstore' : 'context',
      emulatorId: H.get(item.body, 'emulatorId', item.littleEndian),
      index: H.get(item.body, 'index', item.littleEndian),
      length: item.length - H.size,
    };
    if (xenstore) {
      let nuls = 0;
      for (let i = H.size; i < item.body.length; i++) if (item.body[i] === 0) nuls++;
      entry.keys = Math.floor(nuls / 2);
    }
    this.s.libxl?.emulators.push(entry);
  }

  private libxcRecord(item: RecordItem): void {
    this.s.recordsByType[item.typeName] = (this.s.recordsByType[item.typeName] ?? 0) + 1;
    const end = this.tracker.push(item);
    if (end) {
      this.s.staticDataEnd = { offset: end.offset, recordIndex: end.recordIndex, inferred: end.inferred };
      if (end.inferredAt) this.s.staticDataEnd.inferredAt = end.inferredAt;
    }
    const le = item.littleEndian;
    const body = item.body;
    switch (item.type) {
      case REC_TYPE.PAGE_DATA:
        this.pageData(item);
        return;
      case REC_TYPE.X86_CPUID_POLICY:
        this.s.cpuidPolicy = { leaves: (this.s.cpuidPolicy?.leaves ?? 0) + Math.floor(item.length / CPUID_LEAF_LAYOUT.size) };
        return;
      case REC_TYPE.X86_MSR_POLICY:
        this.s.msrPolicy = { msrs: (this.s.msrPolicy?.msrs ?? 0) + Math.floor(item.length / MSR_ENTRY_LAYOUT.size) };
        return;
      case REC_TYPE.X86_PV_INFO:
        if (PV_INFO_LAYOUT.has(body, 'ptLevels')) {
          this.s.pvInfo = { guestWidth: PV_INFO_LAYOUT.get(body, 'guestWidth', le), ptLevels: PV_INFO_LAYOUT.get(body, 'ptLevels', le) };
        }
        return;
      case REC_TYPE.X86_TSC_INFO:
        if (TSC_INFO_LAYOUT.has(body, 'khz')) this.s.tsc = { mode: TSC_INFO_LAYOUT.get(body, 'mode', le), khz: TSC_INFO_LAYOUT.get(body, 'khz', le) };
        return;
      case REC_TYPE.HVM_PARAMS:
        if (HVM_PARAMS_HEADER_LAYOUT.has(body, 'reserved')) this.s.hvmParams = HVM_PARAMS_HEADER_LAYOUT.get(body, 'count', le);
        return;
      case REC_TYPE.HVM_CONTEXT:
        this.s.hvmContextBytes = item.length;
        for (const id of hvmContextVcpus(body)) this.vcpus.add(id);
        if (le) for (const v of safely(() => hvmContextRegisters(body)) ?? []) this.vcpuStates.set(v.vcpu, v);
        return;
      case REC_TYPE.X86_PV_VCPU_BASIC: {
        if (!VCPU_HEADER_LAYOUT.has(body, 'reserved')) return;
        const id = VCPU_HEADER_LAYOUT.get(body, 'vcpuId', le);
        this.vcpus.add(id);
        const context = body.subarray(8);
        const width = (this.s.pvInfo?.guestWidth === 4 || this.s.pvInfo?.guestWidth === 8 ? (this.s.pvInfo.guestWidth as PvGuestWidth) : undefined) ?? widthOfContextLength(context.length);
        const regs = width === undefined ? undefined : safely(() => pvVcpuRegisters(id, decodePvVcpuContext(context, width, le)));
        if (regs) this.vcpuStates.set(id, regs);
        return;
      }
      case REC_TYPE.CHECKPOINT:
        this.s.checkpoints++;
        return;
      case REC_TYPE.VERIFY:
        this.s.verifyRecord = true;
        return;
      default:
        if (VCPU_RECORDS.has(item.type) && VCPU_HEADER_LAYOUT.has(body, 'vcpuId')) this.vcpus.add(VCPU_HEADER_LAYOUT.get(body, 'vcpuId', le));
    }
  }

  private pageData(item: RecordItem): void {
    this.s.pageDataRecords++;
    if (item.body.length < 8) return;
    const { words } = pfnEntriesOf(item.body, item.littleEndian);
    const count = words.length / 2;
    const typeCounts = this.typeCounts;
    if (isPfnRun(words, count)) {
      const type = wordsPageType(words, 0);
      typeCounts[type]! += count;
      if (type === PAGE_TYPE.XTAB || type === PAGE_TYPE.BROKEN || (type >= 5 && type <= 8)) return;
      const first = wordsPfn(words, 0);
      this.pfns.addRun(first, count);
      if (first < this.min) this.min = first;
      if (first + count - 1 > this.max) this.max = first + count - 1;
      return;
    }
    for (let i = 0; i < count; i++) {
      const type = wordsPageType(words, i);
      typeCounts[type]!++;
      if (type === PAGE_TYPE.XTAB || type === PAGE_TYPE.BROKEN || (type >= 5 && type <= 8)) continue;
      const pfn = wordsPfn(words, i);
      this.pfns.add(pfn);
      if (pfn < this.min) this.min = pfn;
      if (pfn > this.max) this.max = pfn;
    }
  }

  /** The summary so far; `diagnostics` adds the error and warning counts. */
  finish(diagnostics: { errors: number; warnings: number } = { errors: 0, warnings: 0 }): StreamSummary {
    const s = this.s;
    s.pagesByType = {};
    let withData = 0;
    this.typeCounts.forEach((n, t) => {
      if (n === 0) return;
      s.pagesByType[pageTypeName(t)] = n;
      if (t <= 4 || (t >= 9 && t <= 12)) withData += n;
    });
    s.pagesWithData = withData;
    s.populatedPfns = this.pfns.size;
    s.populatedPfnsLowerBound = this.pfns.overflowed;
    s.memoryBytes = this.pfns.size * PAGE_SIZE;
    if (this.max >= 0) s.pfnRange = { min: this.min, max: this.max };
    else delete s.pfnRange;
    s.vcpus = [...this.vcpus].sort((a, b) => a - b);
    if (this.vcpuStates.size) s.vcpuStates = [...this.vcpuStates.values()].sort((a, b) => a.vcpu - b.vcpu);
    s.errors = diagnostics.errors;
    s.warnings = diagnostics.warnings;
    return { ...s, layers: [...s.layers] };
  }
}

export function countSeverities(diags: readonly Diagnostic[]): { errors: number; warnings: number } {
  let errors = 0;
  let warnings = 0;
  for (const d of diags) {
    if (d.severity === 'error') errors++;
    else if (d.severity === 'warning') warnings++;
  }
  return { errors, warnings };
}

/** The value, or undefined when the record's body is too short for its layout (the verifier reports that). */
function safely<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}
