/**
 * Byte-exact stream builders for tests, written independently of src/stream's writer
 * (so a writer bug cannot hide behind the same bug in the test's expectation).
 * Everything here is deliberately plain: it spells out each field with a DataView.
 */

export class Bytes {
  private parts: number[] = [];
  constructor(readonly le = true) {}

  u8(v: number): this {
    this.parts.push(v & 0xff);
    return this;
  }
  u16(v: number, le = this.le): this {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v, le);
    return this.raw(b);
  }
  u32(v: number, le = this.le): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, le);
    return this.raw(b);
  }
  u64(v: bigint, le = this.le): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), le);
    return this.raw(b);
  }
  raw(b: Uint8Array | number[]): this {
    for (const x of b) this.parts.push(x);
    return this;
  }
  fill(n: number, v = 0): this {
    for (let i = 0; i < n; i++) this.parts.push(v);
    return this;
  }
  get length(): number {
    return this.parts.length;
  }
  build(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** libxc image header (always big-endian) + domain header. */
export function libxcHeaders(opts: {
  version?: number;
  bigEndian?: boolean;
  domainType?: number;
  pageShift?: number;
  xenMajor?: number;
  xenMinor?: number;
}): Uint8Array {
  const be = opts.bigEndian ?? false;
  return new Bytes(false)
    .u64(0xffffffffffffffffn)
    .u32(0x58454e46)
    .u32(opts.version ?? 3)
    .u16(be ? 1 : 0)
    .u16(0)
    .u32(0)
    .u32(opts.domainType ?? 2, !be)
    .u16(opts.pageShift ?? 12, !be)
    .u16(0, !be)
    .u32(opts.xenMajor ?? 4, !be)
    .u32(opts.xenMinor ?? 19, !be)
    .build();
}

/** A record: type, length, body, zero padding to 8. */
export function rec(type: number, body: Uint8Array = new Uint8Array(0), le = true, padByte = 0): Uint8Array {
  const pad = (8 - (body.length % 8)) % 8;
  return new Bytes(le).u32(type).u32(body.length).raw(body).fill(pad, padByte).build();
}

/** A page whose every octet says which pfn it is (pfn mixed with a seed), so misplaced pages show. */
export function pageFor(pfn: number, seed = 0): Uint8Array {
  const p = new Uint8Array(4096);
  const dv = new DataView(p.buffer);
  for (let i = 0; i < 4096; i += 8) {
    dv.setUint32(i, pfn >>> 0, true);
    dv.setUint32(i + 4, (i * 2654435761 + seed + pfn) >>> 0, true);
  }
  return p;
}

/** PAGE_DATA body: count, reserved, pfn entries (type in bits 63-60), then pages for types that carry data. */
export function pageDataBody(
  pfns: { pfn: number; type?: number; reservedBits?: number; page?: Uint8Array }[],
  le = true,
  seed = 0,
): Uint8Array {
  const b = new Bytes(le).u32(pfns.length).u32(0);
  for (const e of pfns) {
    const t = e.type ?? 0;
    const v = (BigInt(t) << 60n) | (BigInt(e.reservedBits ?? 0) << 52n) | BigInt(e.pfn);
    b.u64(v);
  }
  for (const e of pfns) {
    const t = e.type ?? 0;
    if (t <= 4 || (t >= 9 && t <= 12)) b.raw(e.page ?? pageFor(e.pfn, seed));
  }
  return b.build();
}

export const T = {
  END: 0,
  PAGE_DATA: 1,
  X86_PV_INFO: 2,
  X86_PV_P2M_FRAMES: 3,
  X86_PV_VCPU_BASIC: 4,
  X86_PV_VCPU_EXTENDED: 5,
  X86_PV_VCPU_XSAVE: 6,
  SHARED_INFO: 7,
  X86_TSC_INFO: 8,
  HVM_CONTEXT: 9,
  HVM_PARAMS: 10,
  TOOLSTACK: 11,
  X86_PV_VCPU_MSRS: 12,
  VERIFY: 13,
  CHECKPOINT: 14,
  CHECKPOINT_DIRTY_PFN_LIST: 15,
  STATIC_DATA_END: 16,
  X86_CPUID_POLICY: 17,
  X86_MSR_POLICY: 18,
} as const;

export function cpuidBody(entries: number[][], le = true): Uint8Array {
  const b = new Bytes(le);
  for (const e of entries) for (const v of e) b.u32(v);
  return b.build();
}

export function msrBody(entries: [number, number, bigint][], le = true): Uint8Array {
  const b = new Bytes(le);
  for (const [i, f, v] of entries) b.u32(i).u32(f).u64(v);
  return b.build();
}

export function tscBody(le = true): Uint8Array {
  return new Bytes(le).u32(0).u32(2_000_000).u64(123456789n).u32(1).u32(0).build();
}

export function hvmParamsBody(params: [bigint, bigint][], le = true): Uint8Array {
  const b = new Bytes(le).u32(params.length).u32(0);
  for (const [i, v] of params) b.u64(i).u64(v);
  return b.build();
}

/**
 * An HVM context blob Xen 4.17's hvm_load takes (always little-endian, the host's order):
 * HEADER (magic 0x54381286, version 1), `vcpus` CPU records of 1032 octets in protected
 * mode (CR0 = PE|ET, flags FPU_INITIALISED), END. 40 octets with no vcpus. `changeset`
 * (the HEADER's, at offset 16) tells one blob from another in tests.
 */
export function hvmContextBody(vcpus = 0, changeset = 0n): Uint8Array {
  const b = new Bytes(true).u16(1).u16(0).u32(24).u32(0x54381286).u32(1).u64(changeset).u32(0x906ea).u32(2_400_000);
  for (let v = 0; v < vcpus; v++) {
    b.u16(2).u16(v).u32(1032);
    const cpu = new Uint8Array(1032);
    const view = new DataView(cpu.buffer);
    view.setUint32(656, 0x11, true); // cr0
    view.setUint32(1024, 1, true); // flags
    b.raw(cpu);
  }
  return b.u16(0).u16(0).u32(0).build();
}

export function pvInfoBody(width = 8, levels = 4, le = true): Uint8Array {
  return new Bytes(le).u8(width).u8(levels).u16(0).u32(0).build();
}

export function vcpuBody(vcpuId: number, ctxLen = 64, le = true): Uint8Array {
  const b = new Bytes(le).u32(vcpuId).u32(0);
  for (let i = 0; i < ctxLen; i++) b.u8((i * 7 + vcpuId) & 0xff);
  return b.build();
}

/** A small, complete, conforming v3 HVM libxc stream with `pages` pages of memory. */
export function sampleHvmV3(opts: { pages?: number; bigEndian?: boolean; version?: 2 | 3 } = {}): Uint8Array {
  const le = !(opts.bigEndian ?? false);
  const version = opts.version ?? 3;
  const n = opts.pages ?? 8;
  const parts: Uint8Array[] = [libxcHeaders({ version, bigEndian: !le, domainType: 2 })];
  if (version === 3) {
    parts.push(rec(T.X86_CPUID_POLICY, cpuidBody([[0, 0xffffffff, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69]], le), le));
    parts.push(rec(T.X86_MSR_POLICY, msrBody([[0xce, 0, 0n]], le), le));
    parts.push(rec(T.STATIC_DATA_END, undefined, le));
  }
  const pfns = Array.from({ length: n }, (_, i) => ({ pfn: i }));
  parts.push(rec(T.PAGE_DATA, pageDataBody(pfns, le), le));
  parts.push(rec(T.X86_TSC_INFO, tscBody(le), le));
  // libxc's order: TSC, HVM_CONTEXT, HVM_PARAMS (x86_hvm_end_of_checkpoint).
  parts.push(rec(T.HVM_CONTEXT, hvmContextBody(1), le));
  parts.push(rec(T.HVM_PARAMS, hvmParamsBody([[1n, 0xfeffen], [17n, 0xfefffn]], le), le));
  parts.push(rec(T.END, undefined, le));
  return concat(...parts);
}

/** libxl header + records wrapping a libxc stream in LIBXC_CONTEXT. */
export function libxlWrap(libxc: Uint8Array, opts: { bigEndian?: boolean; extra?: Uint8Array[] } = {}): Uint8Array {
  const le = !(opts.bigEndian ?? false);
  const hdr = new Bytes(false).raw(new TextEncoder().encode('LibxlFmt')).u32(2).u32(le ? 0 : 1).build();
  return concat(hdr, rec(1, undefined, le), libxc, ...(opts.extra ?? []), rec(0, undefined, le));
}

/** xl save-file header (little-endian) with config text, flags JSON+v2. */
export function xlWrap(libxl: Uint8Array, config = '{"c_info":{"name":"sample"}}', flags = 3): Uint8Array {
  const cfg = new TextEncoder().encode(config + '\0');
  const magic = new TextEncoder().encode('Xen saved domain, xl format\n \0 \r');
  const opt = new Bytes(true).u32(cfg.length).raw(cfg).build();
  const hdr = new Bytes(true).raw(magic).u32(0x01020304).u32(flags).u32(0).u32(opt.length).raw(opt).build();
  return concat(hdr, libxl);
}
