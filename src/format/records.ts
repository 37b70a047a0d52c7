/**
 * libxc record bodies: one decode/encode pair per record type, and one table from type
 * to name, body-length rule and codec. Decoders keep reserved fields so that encoding a
 * decoded record gives back the same bytes; whether a reserved field is zero is a rule
 * for the verifier, not a reason to refuse to decode.
 */
import { ByteCursor, ByteWriter } from './bytes.js';
import {
  PAGE_SIZE,
  PAGE_TYPE_SHIFT_HI,
  PFN_HI_MASK,
  PFN_RESERVED_MASK_HI,
  REC_TYPE,
  pageTypeHasData,
} from './constants.js';
import { StreamFormatError } from './errors.js';

/** One PAGE_DATA pfn entry, split into its fields. */
export interface PfnEntry {
  pfn: number;
  /** Bits 63-60. */
  pageType: number;
  /** Bits 59-52, zero in a conforming stream. */
  reservedBits: number;
}

export function decodePfnEntry(hi: number, lo: number): PfnEntry {
  return {
    pfn: (hi & PFN_HI_MASK) * 2 ** 32 + (lo >>> 0),
    pageType: hi >>> PAGE_TYPE_SHIFT_HI,
    reservedBits: (hi & PFN_RESERVED_MASK_HI) >>> 20,
  };
}

export function encodePfnEntry(e: PfnEntry): { hi: number; lo: number } {
  const hi = ((e.pageType & 0xf) << PAGE_TYPE_SHIFT_HI) | ((e.reservedBits & 0xff) << 20) | Math.floor(e.pfn / 2 ** 32);
  return { hi: hi >>> 0, lo: e.pfn % 2 ** 32 >>> 0 };
}

/** Whether this machine stores numbers little-endian (x86 and most others do). */
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * PAGE_DATA's pfn array as host-order words, low word first: entry i is
 * `words[2i]` (bits 31-0) and `words[2i + 1]` (bits 63-32). Verifying a 2 GiB stream
 * walks half a million entries twice; typed-array indexing is several times cheaper than
 * DataView calls there. A stream in host order whose array is 4-aligned is viewed in
 * place, any other is copied (8 octets per entry, once).
 */
export function pfnArrayWords(body: Uint8Array, count: number, le: boolean): Uint32Array {
  const start = body.byteOffset + 8;
  if (le === HOST_LITTLE_ENDIAN && start % 4 === 0) return new Uint32Array(body.buffer, start, count * 2);
  const view = new DataView(body.buffer, start, count * 8);
  const loOff = le ? 0 : 4;
  const hiOff = le ? 4 : 0;
  const words = new Uint32Array(count * 2);
  for (let i = 0, off = 0; i < count; i++, off += 8) {
    words[2 * i] = view.getUint32(off + loOff, le);
    words[2 * i + 1] = view.getUint32(off + hiOff, le);
  }
  return words;
}

/**
 * Whether a pfn array (as `pfnArrayWords` gives it) is one run: every entry has the
 * same high word (so one page type and the same reserved bits) and the pfns ascend by
 * one. libxc sends memory in order in batches of up to 1024 pfns, so nearly every
 * PAGE_DATA record is one run; callers then do their per-entry work once per record.
 */
export function isPfnRun(words: Uint32Array, count: number): boolean {
  if (count === 0) return false;
  const hi = words[1]!;
  const lo = words[0]!;
  if (lo + count - 1 > 0xffffffff) return false;
  for (let i = 1; i < count; i++) {
    if (words[2 * i + 1] !== hi || words[2 * i] !== lo + i) return false;
  }
  return true;
}

export interface CpuidEntry {
  leaf: number;
  subleaf: number;
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

export interface MsrEntry {
  index: number;
  flags: number;
  value: bigint;
}

export interface HvmParam {
  index: bigint;
  value: bigint;
}

export type KnownLibxcRecord =
  | { type: typeof REC_TYPE.END }
  | PageDataRecord
  | { type: typeof REC_TYPE.X86_PV_INFO; guestWidth: number; ptLevels: number; reserved1: number; reserved2: number }
  | { type: typeof REC_TYPE.X86_PV_P2M_FRAMES; startPfn: number; endPfn: number; p2mPfns: bigint[] }
  | VcpuRecord
  | { type: typeof REC_TYPE.SHARED_INFO; data: Uint8Array }
  | TscInfoRecord
  | { type: typeof REC_TYPE.HVM_CONTEXT; data: Uint8Array }
  | { type: typeof REC_TYPE.HVM_PARAMS; reserved: number; params: HvmParam[] }
  | { type: typeof REC_TYPE.TOOLSTACK; data: Uint8Array }
  | { type: typeof REC_TYPE.VERIFY }
  | { type: typeof REC_TYPE.CHECKPOINT }
  | { type: typeof REC_TYPE.CHECKPOINT_DIRTY_PFN_LIST; pfns: bigint[] }
  | { type: typeof REC_TYPE.STATIC_DATA_END }
  | { type: typeof REC_TYPE.X86_CPUID_POLICY; entries: CpuidEntry[] }
  | { type: typeof REC_TYPE.X86_MSR_POLICY; entries: MsrEntry[] };

export type LibxcRecord = KnownLibxcRecord | UnknownRecord;

export function isKnownRecord(r: LibxcRecord): r is KnownLibxcRecord {
  return !('unknown' in r);
}

export interface PageDataRecord {
  type: typeof REC_TYPE.PAGE_DATA;
  reserved: number;
  entries: PfnEntry[];
  /** The pages with data, concatenated in entry order (4096 octets each). */
  pages: Uint8Array;
}

export interface VcpuRecord {
  type:
    | typeof REC_TYPE.X86_PV_VCPU_BASIC
    | typeof REC_TYPE.X86_PV_VCPU_EXTENDED
    | typeof REC_TYPE.X86_PV_VCPU_XSAVE
    | typeof REC_TYPE.X86_PV_VCPU_MSRS;
  vcpuId: number;
  reserved: number;
  context: Uint8Array;
}

export interface TscInfoRecord {
  type: typeof REC_TYPE.X86_TSC_INFO;
  mode: number;
  khz: number;
  nsec: bigint;
  incarnation: number;
  reserved: number;
}

/** A type this table does not know: the body is kept as it came. */
export interface UnknownRecord {
  type: number;
  unknown: true;
  body: Uint8Array;
}

/** How a record's body length is constrained, for the verifier and for decoding. */
export type LengthRule =
  | { kind: 'exact'; length: number }
  | { kind: 'min'; length: number }
  | { kind: 'multiple'; of: number; min: number; header?: number }
  | { kind: 'any' };

export interface RecordSpec {
  type: number;
  name: string;
  length: LengthRule;
  decode(body: Uint8Array, littleEndian: boolean): LibxcRecord;
  encode(rec: LibxcRecord, littleEndian: boolean): Uint8Array;
}

const EMPTY = new Uint8Array(0);

function emptySpec(type: number, name: string): RecordSpec {
  return {
    type,
    name,
    length: { kind: 'exact', length: 0 },
    decode: () => ({ type }) as LibxcRecord,
    encode: () => EMPTY,
  };
}

function blobSpec(type: number, name: string, length: LengthRule): RecordSpec {
  return {
    type,
    name,
    length,
    decode: (body) => ({ type, data: body }) as LibxcRecord,
    encode: (rec) => (rec as { data: Uint8Array }).data,
  };
}

function vcpuSpec(type: VcpuRecord['type'], name: string): RecordSpec {
  return {
    type,
    name,
    length: { kind: 'min', length: 8 },
    decode(body, le) {
      const c = new ByteCursor(body, le);
      return { type, vcpuId: c.u32('vcpu_id'), reserved: c.u32('reserved'), context: c.rest() };
    },
    encode(rec, le) {
      const r = rec as VcpuRecord;
      return new ByteWriter(le, 8 + r.context.length).u32(r.vcpuId).u32(r.reserved).bytes(r.context).finish();
    },
  };
}

/** Reads PAGE_DATA's fixed part and pfn array; page contents stay a view of the body. */
export function decodePageData(body: Uint8Array, le: boolean): PageDataRecord {
  const c = new ByteCursor(body, le);
  const count = c.u32('count');
  const reserved = c.u32('reserved');
  c.need(count * 8, `pfn array of ${count} entries`);
  const entries: PfnEntry[] = new Array(count);
  let withData = 0;
  for (let i = 0; i < count; i++) {
    const a = c.u32();
    const b = c.u32();
    const e = le ? decodePfnEntry(b, a) : decodePfnEntry(a, b);
    entries[i] = e;
    if (pageTypeHasData(e.pageType)) withData++;
  }
  const pages = c.bytesView(c.remaining);
  if (pages.length !== withData * PAGE_SIZE) {
    throw new StreamFormatError(
      `PAGE_DATA: ${count} pfn(s), ${withData} with data need ${8 + 8 * count + withData * PAGE_SIZE} octets of body, found ${body.length}`,
    );
  }
  return { type: REC_TYPE.PAGE_DATA, reserved, entries, pages };
}

export function encodePageData(rec: PageDataRecord, le: boolean): Uint8Array {
  const w = new ByteWriter(le, 8 + rec.entries.length * 8 + rec.pages.length);
  w.u32(rec.entries.length).u32(rec.reserved);
  for (const e of rec.entries) {
    const { hi, lo } = encodePfnEntry(e);
    if (le) w.u32(lo).u32(hi);
    else w.u32(hi).u32(lo);
  }
  return w.bytes(rec.pages).finish();
}

const SPECS: RecordSpec[] = [
  emptySpec(REC_TYPE.END, 'END'),
  {
    type: REC_TYPE.PAGE_DATA,
    name: 'PAGE_DATA',
    length: { kind: 'min', length: 16 },
    decode: decodePageData,
    encode: (rec, le) => encodePageData(rec as PageDataRecord, le),
  },
  {
    type: REC_TYPE.X86_PV_INFO,
    name: 'X86_PV_INFO',
    length: { kind: 'exact', length: 8 },
    decode(body, le) {
      const c = new ByteCursor(body, le);
      return {
        type: REC_TYPE.X86_PV_INFO,
        guestWidth: c.u8('guest_width'),
        ptLevels: c.u8('pt_levels'),
        reserved1: c.u16('reserved'),
        reserved2: c.u32('reserved'),
      };
    },
    encode(rec, le) {
      const r = rec as Extract<LibxcRecord, { type: typeof REC_TYPE.X86_PV_INFO }>;
      return new ByteWriter(le, 8).u8(r.guestWidth).u8(r.ptLevels).u16(r.reserved1).u32(r.reserved2).finish();
    },
  },
  {
    type: REC_TYPE.X86_PV_P2M_FRAMES,
    name: 'X86_PV_P2M_FRAMES',
    length: { kind: 'multiple', of: 8, min: 16, header: 8 },
    decode(body, le) {
      const c = new ByteCursor(body, le);
      const startPfn = c.u32('p2m_start_pfn');
      const endPfn = c.u32('p2m_end_pfn');
      const p2mPfns: bigint[] = [];
      while (c.remaining >= 8) p2mPfns.push(c.u64());
      if (c.remaining !== 0) throw new StreamFormatError('X86_PV_P2M_FRAMES: body is not 8 + a multiple of 8 octets');
      return { type: REC_TYPE.X86_PV_P2M_FRAMES, startPfn, endPfn, p2mPfns };
    },
    encode(rec, le) {
      const r = rec as Extract<LibxcRecord, { type: typeof REC_TYPE.X86_PV_P2M_FRAMES }>;
      const w = new ByteWriter(le, 8 + 8 * r.p2mPfns.length).u32(r.startPfn).u32(r.endPfn);
      for (const p of r.p2mPfns) w.u64(p);
      return w.finish();
    },
  },
  vcpuSpec(REC_TYPE.X86_PV_VCPU_BASIC, 'X86_PV_VCPU_BASIC'),
  vcpuSpec(REC_TYPE.X86_PV_VCPU_EXTENDED, 'X86_PV_VCPU_EXTENDED'),
  vcpuSpec(REC_TYPE.X86_PV_VCPU_XSAVE, 'X86_PV_VCPU_XSAVE'),
  blobSpec(REC_TYPE.SHARED_INFO, 'SHARED_INFO', { kind: 'exact', length: PAGE_SIZE }),
  {
    type: REC_TYPE.X86_TSC_INFO,
    name: 'X86_TSC_INFO',
    length: { kind: 'exact', length: 24 },
    decode(body, le) {
      const c = new ByteCursor(body, le);
      return {
        type: REC_TYPE.X86_TSC_INFO,
        mode: c.u32('mode'),
        khz: c.u32('khz'),
        nsec: c.u64('nsec'),
        incarnation: c.u32('incarnation'),
        reserved: c.u32('reserved'),
      };
    },
    encode(rec, le) {
      const r = rec as TscInfoRecord;
      return new ByteWriter(le, 24).u32(r.mode).u32(r.khz).u64(r.nsec).u32(r.incarnation).u32(r.reserved).finish();
    },
  },
  blobSpec(REC_TYPE.HVM_CONTEXT, 'HVM_CONTEXT', { kind: 'min', length: 1 }),
  {
    type: REC_TYPE.HVM_PARAMS,
    name: 'HVM_PARAMS',
    length: { kind: 'multiple', of: 16, min: 8, header: 8 },
    decode(body, le) {
      const c = new ByteCursor(body, le);
      const count = c.u32('count');
      const reserved = c.u32('reserved');
      c.need(count * 16, `${count} HVM params`);
      const params: HvmParam[] = new Array(count);
      for (let i = 0; i < count; i++) params[i] = { index: c.u64(), value: c.u64() };
      if (c.remaining !== 0) {
        throw new StreamFormatError(`HVM_PARAMS: count ${count} needs ${8 + 16 * count} octets of body, found ${body.length}`);
      }
      return { type: REC_TYPE.HVM_PARAMS, reserved, params };
    },
    encode(rec, le) {
      const r = rec as Extract<LibxcRecord, { type: typeof REC_TYPE.HVM_PARAMS }>;
      const w = new ByteWriter(le, 8 + 16 * r.params.length).u32(r.params.length).u32(r.reserved);
      for (const p of r.params) w.u64(p.index).u64(p.value);
      return w.finish();
    },
  },
  blobSpec(REC_TYPE.TOOLSTACK, 'TOOLSTACK', { kind: 'any' }),
  vcpuSpec(REC_TYPE.X86_PV_VCPU_MSRS, 'X86_PV_VCPU_MSRS'),
  emptySpec(REC_TYPE.VERIFY, 'VERIFY'),
  emptySpec(REC_TYPE.CHECKPOINT, 'CHECKPOINT'),
  {
    type: REC_TYPE.CHECKPOINT_DIRTY_PFN_LIST,
    name: 'CHECKPOINT_DIRTY_PFN_LIST',
    length: { kind: 'multiple', of: 8, min: 0 },
    decode(body, le) {
      const c = new ByteCursor(body, le);
      if (body.length % 8 !== 0) throw new StreamFormatError('CHECKPOINT_DIRTY_PFN_LIST: body is not a multiple of 8 octets');
      const pfns: bigint[] = [];
      while (c.remaining > 0) pfns.push(c.u64());
      return { type: REC_TYPE.CHECKPOINT_DIRTY_PFN_LIST, pfns };
    },
    encode(rec, le) {
      const r = rec as Extract<LibxcRecord, { type: typeof REC_TYPE.CHECKPOINT_DIRTY_PFN_LIST }>;
      const w = new ByteWriter(le, 8 * r.pfns.length);
      for (const p of r.pfns) w.u64(p);
      return w.finish();
    },
  },
  emptySpec(REC_TYPE.STATIC_DATA_END, 'STATIC_DATA_END'),
  {
    type: REC_TYPE.X86_CPUID_POLICY,
    name: 'X86_CPUID_POLICY',
    length: { kind: 'multiple', of: 24, min: 24 },
    decode(body, le) {
      if (body.length % 24 !== 0) throw new StreamFormatError('X86_CPUID_POLICY: body is not a multiple of 24 octets');
      const c = new ByteCursor(body, le);
      const entries: CpuidEntry[] = [];
      while (c.remaining > 0) {
        entries.push({ leaf: c.u32(), subleaf: c.u32(), eax: c.u32(), ebx: c.u32(), ecx: c.u32(), edx: c.u32() });
      }
      return { type: REC_TYPE.X86_CPUID_POLICY, entries };
    },
    encode(rec, le) {
      const r = rec as Extract<LibxcRecord, { type: typeof REC_TYPE.X86_CPUID_POLICY }>;
      const w = new ByteWriter(le, 24 * r.entries.length);
      for (const e of r.entries) w.u32(e.leaf).u32(e.subleaf).u32(e.eax).u32(e.ebx).u32(e.ecx).u32(e.edx);
      return w.finish();
    },
  },
  {
    type: REC_TYPE.X86_MSR_POLICY,
    name: 'X86_MSR_POLICY',
    length: { kind: 'multiple', of: 16, min: 16 },
    decode(body, le) {
      if (body.length % 16 !== 0) throw new StreamFormatError('X86_MSR_POLICY: body is not a multiple of 16 octets');
      const c = new ByteCursor(body, le);
      const entries: MsrEntry[] = [];
      while (c.remaining > 0) entries.push({ index: c.u32(), flags: c.u32(), value: c.u64() });
      return { type: REC_TYPE.X86_MSR_POLICY, entries };
    },
    encode(rec, le) {
      const r = rec as Extract<LibxcRecord, { type: typeof REC_TYPE.X86_MSR_POLICY }>;
      const w = new ByteWriter(le, 16 * r.entries.length);
      for (const e of r.entries) w.u32(e.index).u32(e.flags).u64(e.value);
      return w.finish();
    },
  },
];

/** The one table: record type -> spec. */
export const RECORD_SPECS: ReadonlyMap<number, RecordSpec> = new Map(SPECS.map((s) => [s.type, s]));

/** Whether a body length satisfies a rule; the text says what was expected when not. */
export function checkLength(rule: LengthRule, length: number): string | undefined {
  switch (rule.kind) {
    case 'exact':
      return length === rule.length ? undefined : `body length ${length}, expected exactly ${rule.length}`;
    case 'min':
      return length >= rule.length ? undefined : `body length ${length}, expected at least ${rule.length}`;
    case 'multiple': {
      const header = rule.header ?? 0;
      if (length < rule.min) return `body length ${length}, expected at least ${rule.min}`;
      if ((length - header) % rule.of !== 0) {
        return header > 0
          ? `body length ${length}, expected ${header} + a multiple of ${rule.of}`
          : `body length ${length}, expected a multiple of ${rule.of}`;
      }
      return undefined;
    }
    case 'any':
      return undefined;
  }
}

/**
 * Decode a body by its type. Unknown types come back as UnknownRecord; a body that does
 * not fit its type's layout throws StreamFormatError (the caller adds the location).
 */
export function decodeRecord(type: number, body: Uint8Array, littleEndian: boolean): LibxcRecord {
  const spec = RECORD_SPECS.get(type);
  if (spec === undefined) return { type, unknown: true, body };
  const bad = checkLength(spec.length, body.length);
  if (bad !== undefined) throw new StreamFormatError(`${spec.name}: ${bad}`);
  return spec.decode(body, littleEndian);
}

export function encodeRecordBody(rec: LibxcRecord, littleEndian: boolean): Uint8Array {
  if ('unknown' in rec) return rec.body;
  const spec = RECORD_SPECS.get(rec.type);
  if (spec === undefined) throw new Error(`no codec for record type ${rec.type}`);
  return spec.encode(rec, littleEndian);
}
