/**
 * The legacy framing reader: walks a legacy (Xen <= 4.5) image, optionally behind an
 * xl header without the stream-v2 flag, and yields the stream a v3 reader would yield
 * for what Xen's `convert-legacy-stream` writes from it, record for record (its quirks
 * included: libxc version 3 with STATIC_DATA_END and no CPU policy, xen_major 0,
 * HVM params at the end of the chunks, the tail's magic pfns as a second HVM_PARAMS).
 * Every item names where its source sits in the legacy input, so verify, dump, info,
 * restore and convert work on it as on any stream. Memory stays bounded: one page
 * batch (1024 pages) at a time, in a reused buffer.
 */
import { MAX_RECORD_BODY, MAX_XENSTORE_DATA, MAX_XL_OPTIONAL_DATA, LIBXL_REC_TYPE, REC_TYPE, XL_HEADER_FIXED_SIZE, XL_MANDATORY_FLAG_STREAMV2, recordTypeName, DHDR_TYPE_X86_HVM, DHDR_TYPE_X86_PV, LIBXL_IDENT, LIBXL_OPT_LEGACY, IHDR_MARKER, IHDR_ID, LIBXL_VERSION, LIBXC_VERSION_3 } from '../../format/constants.js';
import { libxlRecordTypeName } from '../../format/libxl/table.js';
import { StreamFormatError, TruncatedStreamError, type StreamLocation } from '../../format/errors.js';
import { decodeXlHeader, hasXlMagic, xlHeaderFixed } from '../../format/headers.js';
import { paddingFor } from '../../format/bytes.js';
import type { ByteReader } from '../../io/byte-reader.js';
import type { RecordItem, StreamItem } from '../items.js';
import {
  CHUNK,
  CONVERTER_VERSION,
  HVM_TAIL_PARAMS,
  LEGACY_FIRST_DATALESS,
  LEGACY_MAX_BATCH,
  LEGACY_MAX_VCPU_ID,
  LEGACY_PFN_MASK,
  LEGACY_TYPE_MASK,
  LEGACY_XTAB_ZERO,
  PARAM_CHUNKS,
  QEMU_SIG_LENGTH,
  QEMU_SIG_REMUS,
  QEMU_SIG_TO_EOF,
  QEMU_SIG_V2,
  UNSUPPORTED_CHUNKS,
  VCPU_CONTEXT_SIZE_32,
  VCPU_CONTEXT_SIZE_64,
  VCPU_EXTENDED_SIZE,
  chunkName,
} from './constants.js';
import { LEGACY_SNIFF, detectLegacyKind, type LegacyGuest, type LegacyWidth } from './detect.js';
import { LegacyFormatError } from './errors.js';
import { emulatorBody, hvmParamsBody, p2mFramesHead, physmapToXenstore, pvInfoBody, tscInfoBody, vcpuBody, type LegacyParam } from './records.js';

/** What the caller knows about a legacy input; anything left out is detected. */
export interface LegacyOptions {
  /** The saving toolstack's bitness (the size of an unsigned long), Xen's converter's `-w`. */
  width?: LegacyWidth;
  /** Xen's converter's `-g`. */
  guest?: LegacyGuest;
  /**
   * What the converted stream is: a bare libxc stream (the converter's default) or a
   * libxl stream with the legacy option bit (`-f libxl`, what libxl restores). Default:
   * libxl behind an xl header, libxc otherwise.
   */
  wrap?: 'libxc' | 'libxl';
}

/** What was found (or forced), for messages and the convert report. */
export interface LegacyLayout {
  width: LegacyWidth;
  guest: LegacyGuest;
  wrap: 'libxc' | 'libxl';
  xl: boolean;
  /** Guest width and page-table levels from the "vcpu" block (PV). */
  guestWidth?: number;
  levels?: number;
  p2mSize: number;
  qemu?: string;
}

/**
 * Bytes the converted stream carries outside any record: a bare libxc conversion of an
 * HVM image copies the qemu tail (signature, length, data) after the libxc END as is.
 */
export interface LegacyRawItem {
  kind: 'legacy-raw';
  offset: number;
  end: number;
  bytes: Uint8Array;
}

export type LegacyItem = StreamItem | LegacyRawItem;

export interface LegacyReadOptions {
  legacy?: LegacyOptions;
  /** As ReadOptions.pageContents: 'skip' leaves page contents unread (bodyComplete false). */
  pageContents?: 'read' | 'skip' | 'stream';
  expectEndOfInput?: boolean;
}

const ZEROS = new Uint8Array(8);
const EMPTY = new Uint8Array(0);
const dec = new TextDecoder('latin1');
/** Most vcpu_info chunks a hostile image may repeat before the online map is refused. */
const MAX_ONLINE_ENTRIES = 65536;

/** True when an xl header at the reader's position lacks the stream-v2 flag (a legacy image follows). */
export async function xlHeaderIsLegacy(reader: ByteReader): Promise<boolean> {
  const fixed = await reader.peek(XL_HEADER_FIXED_SIZE);
  if (fixed.length < XL_HEADER_FIXED_SIZE || !hasXlMagic(fixed)) return false;
  try {
    const { littleEndian } = xlHeaderFixed(fixed);
    const flags = new DataView(fixed.buffer, fixed.byteOffset + 36, 4).getUint32(0, littleEndian);
    return (flags & XL_MANDATORY_FLAG_STREAMV2) === 0;
  } catch {
    return false;
  }
}

/**
 * Reads one legacy image. `layout` is filled in once the first item is out. Findings
 * that stop the walk are LegacyFormatErrors (or truncation errors) naming the input
 * offset, the chunk index and what was expected.
 */
export class LegacyReader {
  layout: LegacyLayout | undefined;
  /** Things converted away that a user may want to know (dropped XTAB entries, discarded data). */
  readonly notes: { offset: number; text: string }[] = [];

  private libxcIndex = 0;
  private libxlIndex = 0;
  private chunkIndex = -1;
  private chunkOffset = 0;
  private chunk = '';
  private pageBuf = new Uint8Array(0);

  constructor(
    private readonly reader: ByteReader,
    private readonly opts: LegacyReadOptions = {},
  ) {}

  private where(offset = this.chunkOffset): StreamLocation {
    const loc: StreamLocation = { offset, layer: 'legacy' };
    if (this.chunkIndex >= 0) loc.recordIndex = this.chunkIndex;
    if (this.chunk) loc.recordType = this.chunk;
    return loc;
  }

  private fail(code: string, detail: string, offset?: number): never {
    throw new LegacyFormatError(code, detail, this.where(offset));
  }

  private note(text: string, offset = this.chunkOffset): void {
    if (this.notes.length < 1000) this.notes.push({ offset, text });
  }

  /** Exactly n octets, as a copy the caller keeps. */
  private async take(n: number, what: string): Promise<Uint8Array> {
    const at = this.reader.position;
    try {
      return (await this.reader.read(n, what)).slice();
    } catch (err) {
      if (err instanceof TruncatedStreamError) throw new TruncatedStreamError(err.detail, this.where(at));
      throw err;
    }
  }

  private async u32(what: string): Promise<number> {
    const b = await this.take(4, what);
    return new DataView(b.buffer).getUint32(0, true);
  }

  private async i32(what: string): Promise<number> {
    const b = await this.take(4, what);
    return new DataView(b.buffer).getInt32(0, true);
  }

  /** One unsigned long as (lo, hi) halves; hi is 0 for a 32-bit toolstack. */
  private async ulong(what: string): Promise<[number, number]> {
    const w = this.layout!.width === 64 ? 8 : 4;
    const b = await this.take(w, what);
    const v = new DataView(b.buffer);
    return [v.getUint32(0, true), w === 8 ? v.getUint32(4, true) : 0];
  }

  private record(layer: 'libxc' | 'libxl', type: number, body: Uint8Array, offset: number, opts: { bodyLength?: number; complete?: boolean } = {}): RecordItem {
    const length = opts.bodyLength ?? body.length;
    const pad = paddingFor(length);
    return {
      kind: 'record',
      layer,
      offset,
      end: this.reader.position,
      index: layer === 'libxc' ? this.libxcIndex++ : this.libxlIndex++,
      type,
      typeName: layer === 'libxc' ? recordTypeName(type) : libxlRecordTypeName(type),
      length,
      littleEndian: true,
      body,
      bodyComplete: opts.complete ?? true,
      padding: pad === 0 ? EMPTY : ZEROS.subarray(0, pad),
    };
  }

  async *items(): AsyncGenerator<LegacyItem> {
    const r = this.reader;
    const forced = this.opts.legacy ?? {};
    let xl = false;
    let xlItem: StreamItem | undefined;
    if (await xlHeaderIsLegacy(r)) {
      xl = true;
      const offset = r.position;
      const fixed = await r.peek(XL_HEADER_FIXED_SIZE);
      const { optionalDataLength } = xlHeaderFixed(fixed);
      if (optionalDataLength > MAX_XL_OPTIONAL_DATA) {
        this.fail('limit-exceeded', `xl header: optional_data_len ${optionalDataLength} exceeds the ${MAX_XL_OPTIONAL_DATA} octet (4 MiB) limit on the xl config`, offset);
      }
      const raw = await this.take(XL_HEADER_FIXED_SIZE + optionalDataLength, 'xl header');
      const wrapLibxl = (forced.wrap ?? 'libxl') === 'libxl';
      // The converter sets the flag through a native-order (little-endian) view of the field.
      if (wrapLibxl) raw[36]! |= XL_MANDATORY_FLAG_STREAMV2;
      xlItem = { kind: 'xl-header', offset, end: r.position, header: decodeXlHeader(raw), raw };
    }

    const start = r.position;
    const first = await r.peek(LEGACY_SNIFF);
    const kind = detectLegacyKind(first, forced);
    if (typeof kind === 'string') {
      if (xl) {
        throw new StreamFormatError(
          `the xl header does not set the stream-v2 flag, so a legacy (pre-v2, Xen <= 4.5) image should follow, but ${kind}`,
          { offset: start, layer: 'xl' },
        );
      }
      throw new StreamFormatError(
        `not a Xen stream: the first 8 octets are neither the xl magic, "LibxlFmt" nor the libxc all-ones marker, and not the start of a legacy (pre-v2, Xen <= 4.5) image either: ${kind}`,
        { offset: start },
      );
    }
    const wrap = forced.wrap ?? (xl ? 'libxl' : 'libxc');
    const libxl = wrap === 'libxl';
    const pv = kind.guest === 'pv';
    this.layout = { width: kind.width, guest: kind.guest, wrap, xl, p2mSize: 0 };
    if (xlItem) yield xlItem;

    this.chunk = 'p2m_size';
    this.chunkOffset = start;
    const [sizeLo, sizeHi] = await this.ulong('p2m_size');
    if (sizeHi > 1 || (sizeHi === 1 && sizeLo !== 0) || (sizeHi === 0 && sizeLo === 0)) {
      this.fail('legacy-p2m-size', `p2m_size 0x${(sizeHi * 2 ** 32 + sizeLo).toString(16)}, expected 1..0x100000000 (end_pfn p2m_size - 1 must fit 32 bits)`, start);
    }
    const p2mSize = sizeHi * 2 ** 32 + sizeLo;
    this.layout.p2mSize = p2mSize;

    if (libxl) {
      yield { kind: 'libxl-header', offset: start, end: r.position, header: { ident: LIBXL_IDENT, version: LIBXL_VERSION, options: LIBXL_OPT_LEGACY }, littleEndian: true };
      yield this.record('libxl', LIBXL_REC_TYPE.LIBXC_CONTEXT, EMPTY, start);
    }
    yield {
      kind: 'libxc-header',
      offset: start,
      end: r.position,
      image: { marker: IHDR_MARKER, id: IHDR_ID, version: LIBXC_VERSION_3, options: 0, reserved1: 0, reserved2: 0 },
      domain: { type: pv ? DHDR_TYPE_X86_PV : DHDR_TYPE_X86_HVM, pageShift: 12, reserved: 0, xenMajor: 0, xenMinor: CONVERTER_VERSION },
      littleEndian: true,
    };

    const pvState = { basicLen: 0, extd: false, xsaveLen: 0, guestWidth: 0 };
    if (pv) yield* this.extendedInfo(pvState);
    yield this.record('libxc', REC_TYPE.STATIC_DATA_END, EMPTY, r.position);

    if (pv) {
      this.chunk = 'p2m frame list';
      this.chunkOffset = r.position;
      const fpp = 4096 / pvState.guestWidth;
      const frames = Math.floor((p2mSize - 1) / fpp) + 1;
      const w = kind.width / 8;
      if (8 + 8 * frames > MAX_RECORD_BODY) this.fail('legacy-p2m-size', `p2m_size ${p2mSize} needs ${frames} p2m frames, over the 128 MiB record limit`);
      const body = new Uint8Array(8 + 8 * frames);
      p2mFramesHead(body, p2mSize - 1);
      const raw = await this.take(frames * w, `p2m frame list (${frames} unsigned longs)`);
      if (w === 8) body.set(raw, 8);
      else for (let i = 0; i < frames; i++) body.set(raw.subarray(4 * i, 4 * i + 4), 8 + 8 * i);
      yield this.record('libxc', REC_TYPE.X86_PV_P2M_FRAMES, body, this.chunkOffset);
    }

    const online: number[] = [];
    const emuXenstore: Uint8Array[] = [];
    let emuLength = 0;
    const params: LegacyParam[] = [];
    this.chunkIndex = 0;
    for (; ; this.chunkIndex++) {
      this.chunkOffset = r.position;
      this.chunk = 'chunk marker';
      const marker = await this.i32('chunk marker');
      this.chunk = chunkName(marker);
      if (marker === CHUNK.END) {
        if (params.length > 0) {
          if (pv) this.fail('legacy-hvm-chunk-in-pv', `HVM param chunk(s) in a PV image (${params.length} param(s)), expected none`);
          yield this.record('libxc', REC_TYPE.HVM_PARAMS, hvmParamsBody(params), this.chunkOffset);
        }
        break;
      }
      if (marker > 0) {
        yield await this.pageBatch(marker);
        continue;
      }
      const param = PARAM_CHUNKS.get(marker);
      if (param !== undefined) {
        const b = await this.take(12, `${this.chunk} (u32 pad, u64 value)`);
        params.push({ index: param, value: b.subarray(4, 12) });
        continue;
      }
      if (UNSUPPORTED_CHUNKS.has(marker)) {
        this.fail('legacy-unsupported-chunk', `${this.chunk} chunk: tmem and Remus compression are not converted (neither does Xen's converter)`);
      }
      switch (marker) {
        case CHUNK.ENABLE_VERIFY_MODE:
          this.note('debug (verify mode) image: pages after this chunk are resent for checking');
          break;
        case CHUNK.LAST_CHECKPOINT:
          break;
        case CHUNK.VCPU_INFO: {
          const maxId = await this.i32('vcpu_info max_id');
          if (maxId > LEGACY_MAX_VCPU_ID) this.fail('legacy-vcpu-info', `vcpu_info max_id ${maxId}, expected at most ${LEGACY_MAX_VCPU_ID}`);
          const words = Math.max(0, Math.floor(maxId / 64) + 1);
          const map = await this.take(8 * words, 'vcpu_info online map');
          const v = new DataView(map.buffer);
          for (let i = 0; i < words * 2; i++) {
            const word = v.getUint32(4 * i, true);
            for (let bit = 0; bit < 32; bit++) if ((word >>> bit) & 1) online.push(32 * i + bit);
          }
          if (online.length > MAX_ONLINE_ENTRIES) this.fail('legacy-vcpu-info', `vcpu_info chunks name ${online.length} vcpus, over ${MAX_ONLINE_ENTRIES}`);
          break;
        }
        case CHUNK.TSC_INFO: {
          const b = await this.take(20, 'tsc_info (mode u32, nsec u64, khz u32, incarnation u32)');
          yield this.record('libxc', REC_TYPE.X86_TSC_INFO, tscInfoBody(b), this.chunkOffset);
          break;
        }
        case CHUNK.TOOLSTACK: {
          const size = await this.u32('toolstack size');
          if (size === 0) break;
          if (size > MAX_XENSTORE_DATA) this.fail('limit-exceeded', `toolstack data of ${size} octets, over the ${MAX_XENSTORE_DATA} octet limit`);
          const dataAt = r.position;
          const data = await this.take(size, 'toolstack data');
          if (!libxl) {
            this.note(`toolstack data (${size} octets) discarded: only a libxl conversion keeps it`);
            break;
          }
          const kv = physmapToXenstore(data, kind.width, dataAt, this.chunkIndex);
          emuLength += kv.length;
          if (emuLength > MAX_XENSTORE_DATA) this.fail('limit-exceeded', `emulator xenstore data over the ${MAX_XENSTORE_DATA} octet limit`);
          emuXenstore.push(kv);
          break;
        }
        default:
          this.fail('legacy-unknown-chunk', `chunk marker ${marker}: expected a page batch (1..${LEGACY_MAX_BATCH}), 0 (end) or a chunk id down to ${CHUNK.HVM_NR_IOREQ_SERVER_PAGES}`);
      }
    }
    this.chunkIndex = -1;

    if (pv) yield* this.pvTail(pvState, online);
    else yield* this.hvmTail();

    if (libxl && emuLength > 0) {
      const all = new Uint8Array(emuLength);
      let o = 0;
      for (const p of emuXenstore) {
        all.set(p, o);
        o += p.length;
      }
      yield this.record('libxl', LIBXL_REC_TYPE.EMULATOR_XENSTORE_DATA, emulatorBody(all), r.position);
    }
    if (!pv) yield* this.qemuTail(libxl);
    if (libxl) yield this.record('libxl', LIBXL_REC_TYPE.END, EMPTY, r.position);

    if (this.opts.expectEndOfInput ?? true) {
      const offset = r.position;
      if ((await r.peek(1)).length > 0) {
        const size = r.source.size;
        yield { kind: 'trailing', offset, length: size !== undefined && r.source.canSeek ? size - offset : 1 };
      }
    }
  }

  private async *extendedInfo(st: { basicLen: number; extd: boolean; xsaveLen: number; guestWidth: number }): AsyncGenerator<LegacyItem> {
    const r = this.reader;
    this.chunk = 'extended info';
    this.chunkOffset = r.position;
    const [lo, hi] = await this.ulong('extended-info marker');
    const ones = this.layout!.width === 64 ? hi === 0xffffffff && lo === 0xffffffff : lo === 0xffffffff;
    if (!ones) this.fail('legacy-extended-info', `extended-info marker 0x${(hi ? hi.toString(16) : '') + lo.toString(16).padStart(hi ? 8 : 1, '0')}, expected all ones (a PV image starts with its extended info)`);
    const total = await this.u32('extended-info length');
    let soFar = 0;
    while (soFar < total) {
      const blockAt = r.position;
      const head = await this.take(8, 'extended-info block header');
      const id = dec.decode(head.subarray(0, 4));
      const size = new DataView(head.buffer).getUint32(4, true);
      soFar += 8;
      if (size > MAX_RECORD_BODY) this.fail('legacy-extended-info', `extended-info block "${id}" of ${size} octets, over 128 MiB`, blockAt);
      const data = await this.take(size, `extended-info block "${id}"`);
      soFar += size;
      if (id === 'vcpu') {
        st.basicLen = size;
        let levels: number;
        if (size === VCPU_CONTEXT_SIZE_64) {
          st.guestWidth = 8;
          levels = 4;
        } else if (size === VCPU_CONTEXT_SIZE_32) {
          st.guestWidth = 4;
          levels = 3;
        } else {
          this.fail('legacy-extended-info', `"vcpu" block of ${size} octets, expected 0x${VCPU_CONTEXT_SIZE_64.toString(16)} (64-bit guest) or 0x${VCPU_CONTEXT_SIZE_32.toString(16)} (32-bit guest)`, blockAt);
        }
        this.layout!.guestWidth = st.guestWidth;
        this.layout!.levels = levels;
        yield this.record('libxc', REC_TYPE.X86_PV_INFO, pvInfoBody(st.guestWidth, levels), blockAt);
      } else if (id === 'extv') {
        st.extd = true;
      } else if (id === 'xcnt') {
        if (size < 4) this.fail('legacy-extended-info', `"xcnt" block of ${size} octets, expected at least 4 (the xsave size)`, blockAt);
        st.xsaveLen = new DataView(data.buffer).getUint32(0, true);
        if (st.xsaveLen !== 0 && (st.xsaveLen < 16 || st.xsaveLen > MAX_RECORD_BODY)) {
          this.fail('legacy-extended-info', `"xcnt" xsave size ${st.xsaveLen}, expected 16 (mask and size) plus an xsave area, at most 128 MiB`, blockAt);
        }
      } else {
        this.fail('legacy-extended-info', `extended-info block "${id}", expected "vcpu", "extv" or "xcnt"`, blockAt);
      }
    }
    if (soFar !== total) this.fail('legacy-extended-info', `extended-info blocks end ${soFar - total} octet(s) past its length ${total}`);
    if (st.basicLen === 0) this.fail('legacy-extended-info', 'no "vcpu" block: the guest width and vcpu context size are unknown');
  }

  /** One page batch: pfns (unsigned longs), then a page per entry whose type carries one. */
  private async pageBatch(count: number): Promise<RecordItem> {
    const r = this.reader;
    if (count > LEGACY_MAX_BATCH) this.fail('legacy-batch-too-big', `page batch of ${count} pfns, expected at most ${LEGACY_MAX_BATCH}`);
    const w = this.layout!.width / 8;
    const raw = await this.take(count * w, `page batch pfn array (${count} unsigned longs)`);
    const v = new DataView(raw.buffer);
    // The new entries (type moved to bits 63-60) as u32 halves, and how many carry a page.
    const his: number[] = [];
    const los: number[] = [];
    const seen = new Set<string>();
    let pages = 0;
    let dropped = 0;
    for (let i = 0; i < count; i++) {
      const lo = v.getUint32(w * i, true);
      const hi = w === 8 ? v.getUint32(w * i + 4, true) : 0;
      if (lo === LEGACY_XTAB_ZERO && hi === 0) {
        dropped++;
        continue;
      }
      const key = `${hi}:${lo}`;
      if (seen.has(key)) this.fail('legacy-duplicate-pfn', `pfn entry ${i} (0x${(lo & LEGACY_PFN_MASK).toString(16)}, type ${lo >>> 28}) appears twice in one batch`, this.chunkOffset + 4 + w * i);
      seen.add(key);
      if ((lo & LEGACY_TYPE_MASK) >>> 0 < LEGACY_FIRST_DATALESS) pages++;
      his.push((lo & LEGACY_TYPE_MASK) >>> 0);
      los.push(lo & LEGACY_PFN_MASK);
    }
    if (dropped > 0) this.note(`${dropped} XTAB entr${dropped === 1 ? 'y' : 'ies'} for pfn 0 dropped (xc_domain_save's filler)`);
    const n = his.length;
    const head = 8 + 8 * n;
    const length = head + 4096 * pages;
    const skip = this.opts.pageContents === 'skip';
    const size = skip ? head : length;
    if (this.pageBuf.length < size) this.pageBuf = new Uint8Array(Math.max(size, 8 + 8 * LEGACY_MAX_BATCH));
    const body = this.pageBuf.subarray(0, size);
    const bv = new DataView(body.buffer, body.byteOffset, body.length);
    bv.setUint32(0, n, true);
    bv.setUint32(4, 0, true);
    for (let i = 0; i < n; i++) {
      bv.setUint32(8 + 8 * i, los[i]!, true);
      bv.setUint32(12 + 8 * i, his[i]!, true);
    }
    const at = r.position;
    try {
      if (skip) await r.skip(4096 * pages, 'page batch contents');
      else await r.readInto(body.subarray(head), 'page batch contents');
    } catch (err) {
      if (err instanceof TruncatedStreamError) throw new TruncatedStreamError(err.detail, this.where(at));
      throw err;
    }
    return this.record('libxc', REC_TYPE.PAGE_DATA, body, this.chunkOffset, { bodyLength: length, complete: !skip || pages === 0 });
  }

  private async *pvTail(st: { basicLen: number; extd: boolean; xsaveLen: number }, online: number[]): AsyncGenerator<LegacyItem> {
    const r = this.reader;
    this.chunk = 'unmapped pfns';
    this.chunkOffset = r.position;
    const unmapped = await this.u32('unmapped pfn count');
    if (unmapped > 0) {
      if (unmapped * (this.layout!.width / 8) > MAX_RECORD_BODY) this.fail('legacy-tail', `${unmapped} unmapped pfns, over 128 MiB`);
      await r.skip(unmapped * (this.layout!.width / 8), 'unmapped pfn list');
      this.note(`${unmapped} "unmapped" pfn(s) discarded (bogus in every legacy saver)`);
    }
    for (const id of online) {
      this.chunk = `vcpu ${id} context`;
      this.chunkOffset = r.position;
      yield this.record('libxc', REC_TYPE.X86_PV_VCPU_BASIC, vcpuBody(id, await this.take(st.basicLen, `vcpu ${id} context`)), this.chunkOffset);
      if (st.extd) {
        this.chunkOffset = r.position;
        yield this.record('libxc', REC_TYPE.X86_PV_VCPU_EXTENDED, vcpuBody(id, await this.take(VCPU_EXTENDED_SIZE, `vcpu ${id} extended context`)), this.chunkOffset);
      }
      if (st.xsaveLen) {
        this.chunkOffset = r.position;
        const head = await this.take(16, `vcpu ${id} xsave mask and size`);
        const hv = new DataView(head.buffer);
        const sizeHi = hv.getUint32(12, true);
        const size = hv.getUint32(8, true);
        if (sizeHi !== 0 || size !== st.xsaveLen - 16) {
          this.fail('legacy-tail', `vcpu ${id} xsave size ${sizeHi * 2 ** 32 + size}, expected ${st.xsaveLen - 16} (the "xcnt" block's ${st.xsaveLen} less the 16-octet mask and size)`);
        }
        yield this.record('libxc', REC_TYPE.X86_PV_VCPU_XSAVE, vcpuBody(id, await this.take(size, `vcpu ${id} xsave area`)), this.chunkOffset);
      }
    }
    this.chunk = 'shared info';
    this.chunkOffset = r.position;
    yield this.record('libxc', REC_TYPE.SHARED_INFO, await this.take(4096, 'shared info page'), this.chunkOffset);
    yield this.record('libxc', REC_TYPE.END, EMPTY, r.position);
  }

  private async *hvmTail(): AsyncGenerator<LegacyItem> {
    const r = this.reader;
    this.chunk = 'magic pfns';
    this.chunkOffset = r.position;
    const magic = await this.take(24, 'magic pfns (ioreq, bufioreq, store)');
    const params = HVM_TAIL_PARAMS.map((index, i) => ({ index, value: magic.subarray(8 * i, 8 * i + 8) }));
    yield this.record('libxc', REC_TYPE.HVM_PARAMS, hvmParamsBody(params), this.chunkOffset);
    this.chunk = 'HVM context';
    this.chunkOffset = r.position;
    const size = await this.u32('HVM context size');
    if (size > MAX_RECORD_BODY) this.fail('record-too-long', `HVM context of ${size} octets, over the 128 MiB limit`);
    yield this.record('libxc', REC_TYPE.HVM_CONTEXT, await this.take(size, 'HVM context'), this.chunkOffset);
    yield this.record('libxc', REC_TYPE.END, EMPTY, r.position);
  }

  private async *qemuTail(libxl: boolean): AsyncGenerator<LegacyItem> {
    const r = this.reader;
    this.chunk = 'qemu tail';
    this.chunkOffset = r.position;
    if ((await r.peek(1)).length === 0) {
      this.note('no qemu tail: the image ends after the HVM context (convert-legacy-stream needs --skip-qemu here)');
      return;
    }
    const sigBytes = await this.take(QEMU_SIG_LENGTH, 'qemu signature');
    const sig = dec.decode(sigBytes);
    this.layout!.qemu = sig;
    let head: Uint8Array = sigBytes;
    let data: Uint8Array;
    if (sig === QEMU_SIG_V2 || sig === QEMU_SIG_REMUS) {
      const sz = await this.take(4, 'qemu data length');
      const n = new DataView(sz.buffer).getUint32(0, true);
      if (n > MAX_RECORD_BODY - 8) this.fail('record-too-long', `qemu data of ${n} octets, over the 128 MiB limit`);
      head = new Uint8Array(25);
      head.set(sigBytes);
      head.set(sz, 21);
      data = await this.take(n, 'qemu data');
    } else if (sig === QEMU_SIG_TO_EOF) {
      // This one runs to the end of the input: gather it, within the record limit.
      const parts: Uint8Array[] = [];
      let n = 0;
      for (;;) {
        const piece = await r.peek(64 * 1024);
        if (piece.length === 0) break;
        n += piece.length;
        if (n > MAX_RECORD_BODY - 8) this.fail('record-too-long', 'qemu data (read to the end of the input) over the 128 MiB limit');
        parts.push(await this.take(piece.length, 'qemu data'));
      }
      data = new Uint8Array(n);
      let o = 0;
      for (const p of parts) {
        data.set(p, o);
        o += p.length;
      }
    } else {
      this.fail('legacy-qemu-signature', `qemu signature ${JSON.stringify(sig)}, expected "${QEMU_SIG_V2}", "${QEMU_SIG_REMUS}" or "${QEMU_SIG_TO_EOF}"`);
    }
    if (libxl) {
      yield this.record('libxl', LIBXL_REC_TYPE.EMULATOR_CONTEXT, emulatorBody(data), this.chunkOffset);
    } else {
      const bytes = new Uint8Array(head.length + data.length);
      bytes.set(head);
      bytes.set(data, head.length);
      yield { kind: 'legacy-raw', offset: this.chunkOffset, end: r.position, bytes };
    }
  }
}

/** The items of a legacy image as any consumer of a stream takes them (the raw qemu copy left out). */
export async function* readLegacyStream(reader: ByteReader, opts: LegacyReadOptions = {}): AsyncGenerator<StreamItem> {
  for await (const item of new LegacyReader(reader, opts).items()) if (item.kind !== 'legacy-raw') yield item;
}
