/**
 * Test-only writer of legacy (Xen <= 4.5) save images, written from the format as Xen's
 * `xen/migration/legacy.py` and `convert-legacy-stream` read it (and as 4.5's
 * xc_domain_save wrote it), independently of src/stream/legacy so that it catches the reader's
 * mistakes instead of sharing them:
 *
 *   [xl header without the stream-v2 flag]
 *   unsigned long p2m_size
 *   PV: unsigned long ~0 | u32 total | "vcpu" u32 size ctxt | "extv" u32 0 | ["xcnt" u32 4 u32 xsave_len]
 *       unsigned long p2m_frame_list[(p2m_size - 1) / fpp + 1]
 *   chunks: int n > 0: unsigned long pfn[n] (type << 28 | pfn), then a page per entry with data
 *           int < 0: VCPU_INFO (int max_id, u64 map[max_id / 64 + 1]), TSC_INFO (u32 mode,
 *           u64 nsec, u32 khz, u32 incarnation), HVM param chunks (u32 pad, u64 value),
 *           TOOLSTACK (u32 size, data), LAST_CHECKPOINT, ...
 *           int 0: end
 *   PV tail: u32 nr_unmapped, unsigned long unmapped[], per online vcpu: ctxt, [128 ext],
 *            [u64 mask, u64 size, xsave[size]], then the 4096-octet shared info
 *   HVM tail: u64 ioreq, bufioreq, store pfn | u32 size, HVM context | qemu tail
 *            ("DeviceModelRecord0002", u32 length, data)
 *
 * "unsigned long" is the saving toolstack's width (4 or 8 octets); everything is little-endian.
 */
import { PV_PAGE_TABLES, layOutPvGuestPages, pvP2mFrames, pvSharedInfo, pvVcpuContexts } from '../../src/domain/simulated/pv-guest.js';
import { hvmContextBody, pageFor } from './builder.js';

export const PAGE = 4096;

export interface LegacyImageSpec {
  width: 32 | 64;
  guest: 'pv' | 'hvm';
  /** Guest pages: pfns 0..pages-1, every one sent with data. */
  pages: number;
  /** pfns per page batch (at most 1024). */
  batch?: number;
  vcpus?: number;
  seed?: number;
  /** PV: guest width in octets (8: 64-bit guest with the restorable layout; 4: 32-bit guest, opaque contents). */
  guestWidth?: 4 | 8;
  /** PV: send the extended vcpu context (an "extv" block). Default true. */
  extv?: boolean;
  /** PV: send xsave state (an "xcnt" block). Default true for 64-bit guests. */
  xsave?: boolean;
  /** PV: "unmapped" pfns in the tail (discarded by every reader). */
  unmapped?: number;
  /** Pad each batch with this many XTAB entries for pfn 0 (xc_domain_save's filler). */
  xtabFiller?: number;
  /** Add a few dataless entries (XALLOC) for pfns past the end. */
  xalloc?: number;
  tsc?: boolean;
  /** HVM: the param chunks to send (index chunk id -> value). Default: console pfn. */
  hvmChunks?: [number, bigint][];
  /** HVM: the qemu tail's data; null for no tail at all. */
  qemu?: Uint8Array | null;
  /** libxl's toolstack chunk: qemu physmap entries. */
  physmap?: { phys: bigint; start: bigint; size: bigint; name: string }[];
  /** An xl header in front (without the stream-v2 flag), with this config. */
  xlConfig?: string;
}

export interface LegacyImage {
  bytes: Uint8Array;
  /** Where the magic pfns are (HVM). */
  magic?: { ioreq: number; bufioreq: number; store: number; console: number };
}

class LE {
  private parts: Buffer[] = [];
  constructor(private readonly width: 32 | 64) {}
  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    this.parts.push(b);
    return this;
  }
  i32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.parts.push(b);
    return this;
  }
  u64(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt.asUintN(64, v));
    this.parts.push(b);
    return this;
  }
  ulong(v: bigint): this {
    return this.width === 64 ? this.u64(v) : this.u32(Number(BigInt.asUintN(32, v)));
  }
  raw(b: Uint8Array): this {
    this.parts.push(Buffer.from(b));
    return this;
  }
  text(s: string): this {
    this.parts.push(Buffer.from(s, 'latin1'));
    return this;
  }
  build(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Chunk ids as legacy.py names them. */
export const LEGACY_CHUNK = {
  VCPU_INFO: -2,
  HVM_IDENT_PT: -3,
  HVM_VM86_TSS: -4,
  TSC_INFO: -7,
  HVM_CONSOLE_PFN: -8,
  LAST_CHECKPOINT: -9,
  HVM_ACPI_IOPORTS_LOCATION: -10,
  HVM_VIRIDIAN: -11,
  HVM_GENERATION_ID_ADDR: -14,
  HVM_PAGING_RING_PFN: -15,
  TOOLSTACK: -18,
  HVM_IOREQ_SERVER_PFN: -19,
  HVM_NR_IOREQ_SERVER_PAGES: -20,
} as const;

const XTAB = 0xf;
const XALLOC = 0xe;

export function legacyImage(spec: LegacyImageSpec): LegacyImage {
  const w = spec.width;
  const out = new LE(w);
  const seed = spec.seed ?? 1;
  const vcpus = spec.vcpus ?? 1;
  const pv = spec.guest === 'pv';
  const guestWidth = spec.guestWidth ?? 8;
  const n = spec.pages;

  if (spec.xlConfig !== undefined) {
    const cfg = Buffer.from(spec.xlConfig + '\0', 'utf8');
    const opt = new LE(64).u32(cfg.length).raw(cfg).build();
    // Mandatory flags: JSON config only; no stream-v2 flag, so a legacy image follows.
    out.text('Xen saved domain, xl format\n \0 \r').u32(0x01020304).u32(1).u32(0).u32(opt.length).raw(opt);
  }

  // Guest memory and page types.
  const memory = Buffer.alloc(n * PAGE);
  const types = new Map<number, number>();
  let p2mPfns: bigint[] = [];
  for (let pfn = 0; pfn < n; pfn++) memory.set(pageFor(pfn, seed), pfn * PAGE);
  if (pv && guestWidth === 8) {
    const p2m = layOutPvGuestPages((pfn) => memory.subarray(pfn * PAGE, (pfn + 1) * PAGE), n);
    p2mPfns = p2m.p2mPfns;
    for (const [pfn, type] of PV_PAGE_TABLES) if (pfn < n) types.set(pfn, type);
  } else if (pv) {
    // A 32-bit guest: contents are opaque here; the P2M frames are the top pages.
    const fpp = PAGE / 4;
    const frames = Math.floor((n - 1) / fpp) + 1;
    p2mPfns = Array.from({ length: frames }, (_, i) => BigInt(n - frames + i));
  }

  out.ulong(BigInt(n));

  let ctxts: ReturnType<typeof pvVcpuContexts> = [];
  const extv = spec.extv ?? true;
  const xsave = spec.xsave ?? guestWidth === 8;
  let xsaveLen = 0;
  if (pv) {
    const basicSize = guestWidth === 8 ? 0x1430 : 0xaf0;
    if (guestWidth === 8) ctxts = pvVcpuContexts(vcpus, seed);
    const xs = ctxts.find((c) => c.kind === 'xsave');
    if (xsave) xsaveLen = (xs ? xs.data.length : 16 + 832) + 16;
    const blocks = new LE(w);
    const ctx0 = ctxts.find((c) => c.kind === 'basic' && c.vcpuId === 0)?.data ?? opaque(basicSize, seed);
    blocks.text('vcpu').u32(basicSize).raw(ctx0);
    if (extv) blocks.text('extv').u32(0);
    if (xsave) blocks.text('xcnt').u32(4).u32(xsaveLen);
    const b = blocks.build();
    out.ulong(-1n).u32(b.length).raw(b);
    for (const f of p2mPfns) out.ulong(f);
  }

  const chunks: Buffer[] = [];
  const chunk = (build: (c: LE) => void): void => {
    const c = new LE(w);
    build(c);
    chunks.push(c.build());
  };
  if (spec.tsc ?? true) chunk((c) => c.i32(LEGACY_CHUNK.TSC_INFO).u32(0).u64(987654321n + BigInt(seed)).u32(2_400_000).u32(3));

  // Page batches.
  const batch = spec.batch ?? 1024;
  const filler = spec.xtabFiller ?? 0;
  for (let first = 0; first < n; first += batch) {
    const count = Math.min(batch, n - first);
    const entries: bigint[] = [];
    for (let pfn = first; pfn < first + count; pfn++) entries.push(BigInt(((types.get(pfn) ?? 0) << 28) >>> 0) | BigInt(pfn));
    for (let i = 0; i < filler && entries.length < 1024; i++) entries.splice(Math.min(entries.length, 1 + 2 * i), 0, BigInt(XTAB << 28 >>> 0));
    chunk((c) => {
      c.i32(entries.length);
      for (const e of entries) c.ulong(e);
      for (let pfn = first; pfn < first + count; pfn++) c.raw(memory.subarray(pfn * PAGE, (pfn + 1) * PAGE));
    });
  }
  if (spec.xalloc) {
    chunk((c) => {
      c.i32(spec.xalloc!);
      for (let i = 0; i < spec.xalloc!; i++) c.ulong(BigInt((XALLOC << 28) >>> 0) | BigInt(n + i));
    });
  }

  // Which vcpus are online: all of them.
  const maxId = vcpus - 1;
  chunk((c) => {
    c.i32(LEGACY_CHUNK.VCPU_INFO).i32(maxId);
    const words = Math.floor(maxId / 64) + 1;
    for (let wd = 0; wd < words; wd++) {
      let word = 0n;
      for (let b = 0; b < 64; b++) if (wd * 64 + b < vcpus) word |= 1n << BigInt(b);
      c.u64(word);
    }
  });

  let magic: LegacyImage['magic'];
  if (!pv) magic = { ioreq: n - 1, bufioreq: n - 2, store: n - 3, console: n - 4 };
  // A PV image has none unless a test asks for them (to see them refused).
  const params = spec.hvmChunks ?? (magic ? [[LEGACY_CHUNK.HVM_CONSOLE_PFN, BigInt(magic.console)] as [number, bigint]] : []);
  for (const [id, value] of params) chunk((c) => c.i32(id).u32(0).u64(value));
  if (spec.physmap) {
    const ts = new LE(w).u32(1).u32(spec.physmap.length);
    for (const e of spec.physmap) {
      const name = Buffer.from(e.name + '\0', 'latin1');
      ts.u64(e.phys).u64(e.start).u64(e.size).u32(name.length).raw(name);
      // A 64-bit libxl leaked its struct's tail padding after the name.
      if (w === 64) ts.raw(Buffer.from([0xaa, 0xbb, 0xcc, 0xdd]));
    }
    const data = ts.build();
    chunk((c) => c.i32(LEGACY_CHUNK.TOOLSTACK).u32(data.length).raw(data));
  }
  chunk((c) => c.i32(LEGACY_CHUNK.LAST_CHECKPOINT));
  chunk((c) => c.i32(0));
  for (const c of chunks) out.raw(c);

  if (pv) {
    const unmapped = spec.unmapped ?? 0;
    out.u32(unmapped);
    for (let i = 0; i < unmapped; i++) out.ulong(BigInt(n + 100 + i));
    for (let id = 0; id < vcpus; id++) {
      const basic = ctxts.find((c) => c.kind === 'basic' && c.vcpuId === id)?.data ?? opaque(guestWidth === 8 ? 0x1430 : 0xaf0, seed + id);
      out.raw(basic);
      if (extv) {
        const ext = Buffer.alloc(128);
        const e = ctxts.find((c) => c.kind === 'extended' && c.vcpuId === id)?.data;
        if (e) ext.set(e);
        else ext.writeUInt32LE(id, 0);
        out.raw(ext);
      }
      if (xsave) {
        const x = ctxts.find((c) => c.kind === 'xsave' && c.vcpuId === id)?.data ?? opaque(xsaveLen - 16, seed + 7 * id);
        out.u64(7n).u64(BigInt(x.length)).raw(x);
      }
    }
    out.raw(guestWidth === 8 ? pvSharedInfo(n) : opaque(PAGE, seed + 99));
  } else {
    out.u64(BigInt(magic!.ioreq)).u64(BigInt(magic!.bufioreq)).u64(BigInt(magic!.store));
    const ctx = hvmContextBody(vcpus, BigInt(seed));
    out.u32(ctx.length).raw(ctx);
    const q = spec.qemu === undefined ? qemuBlob(300 + seed) : spec.qemu;
    if (q !== null) out.text('DeviceModelRecord0002').u32(q.length).raw(q);
  }
  return { bytes: new Uint8Array(out.build()), magic };
}

/** Octets that look like something and differ by seed. */
export function opaque(length: number, seed: number): Uint8Array {
  const b = new Uint8Array(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** A stand-in for qemu's saved device state ("QEVM" magic, then bytes). */
export function qemuBlob(length: number): Uint8Array {
  const b = opaque(length, length);
  b.set(Buffer.from('QEVM'), 0);
  return b;
}

/** A copy of `bytes` with `put` applied at `at` (little-endian views). */
function patchedAt(bytes: Uint8Array, at: number, put: (v: DataView) => void): Uint8Array {
  const b = bytes.slice();
  put(new DataView(b.buffer, at));
  return b;
}

/**
 * One broken legacy image per legacy diagnostic code, with the verify options it needs
 * (some findings only show once a width, guest type or wrapper is forced).
 */
export function legacyFindingStreams(): { code: string; bytes: Uint8Array; legacy?: { width?: 32 | 64; guest?: 'pv' | 'hvm'; wrap?: 'libxc' | 'libxl' } }[] {
  // 64-bit PV, no TSC chunk: p2m_size 8 | marker 8 | total 4 | "vcpu" 8 + 0x1430 | "extv" 8 | "xcnt" 12 | 1 P2M frame 8 | chunks.
  const pv = legacyImage({ width: 64, guest: 'pv', pages: 16, batch: 4, tsc: false }).bytes;
  const vcpuBlock = 20;
  const xcntValue = 28 + 0x1430 + 8 + 8;
  const firstChunk = xcntValue + 4 + 8;
  // 32-bit HVM, 4 pages in one batch, no TSC chunk: p2m_size 4 | batch 4 + 16 + 4 pages | vcpu_info.
  const hvm = legacyImage({ width: 32, guest: 'hvm', pages: 4, tsc: false }).bytes;
  const vcpuInfo = 4 + 4 + 16 + 4 * PAGE;
  const sig = Buffer.from(hvm).lastIndexOf(Buffer.from('DeviceModelRecord0002'));
  const physmap = legacyImage({ width: 64, guest: 'hvm', pages: 4, tsc: false, physmap: [{ phys: 1n, start: 2n, size: 3n, name: 'rom' }] }).bytes;
  const toolstack = Buffer.from(physmap).indexOf(Buffer.from([0xee, 0xff, 0xff, 0xff]));
  return [
    { code: 'legacy-p2m-size', bytes: patchedAt(pv, 0, (v) => v.setUint32(0, 0, true)), legacy: { width: 64, guest: 'pv' } },
    { code: 'legacy-extended-info', bytes: patchedAt(pv, vcpuBlock, (v) => v.setUint32(4, 0x1000, true)) },
    { code: 'legacy-batch-too-big', bytes: patchedAt(pv, firstChunk, (v) => v.setInt32(0, 1025, true)) },
    { code: 'legacy-duplicate-pfn', bytes: patchedAt(pv, firstChunk + 4 + 8, (v) => v.setUint32(0, 0, true)) },
    { code: 'legacy-unknown-chunk', bytes: patchedAt(pv, firstChunk, (v) => v.setInt32(0, -21, true)) },
    { code: 'legacy-unsupported-chunk', bytes: patchedAt(pv, firstChunk, (v) => v.setInt32(0, -5, true)) },
    { code: 'legacy-tail', bytes: patchedAt(pv, xcntValue, (v) => v.setUint32(0, 9999, true)) },
    { code: 'legacy-vcpu-info', bytes: patchedAt(hvm, vcpuInfo, (v) => v.setInt32(4, 5000, true)) },
    { code: 'legacy-qemu-signature', bytes: patchedAt(hvm, sig, (v) => v.setUint8(0, 0x78)) },
    { code: 'legacy-hvm-chunk-in-pv', bytes: legacyImage({ width: 32, guest: 'pv', pages: 4, guestWidth: 4, hvmChunks: [[LEGACY_CHUNK.HVM_VIRIDIAN, 1n]] }).bytes },
    { code: 'legacy-toolstack', bytes: patchedAt(physmap, toolstack + 8, (v) => v.setUint32(0, 2, true)), legacy: { wrap: 'libxl' } },
  ];
}
