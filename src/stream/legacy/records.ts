/**
 * The v2/v3 record bodies a legacy image turns into, laid out as Xen's converter writes
 * them (little-endian, reserved fields zero), and the legacy libxl toolstack chunk (the
 * qemu physmap) decoded into emulator xenstore pairs. Pure byte layouts: no I/O.
 */
import { LegacyFormatError } from './errors.js';
import { TOOLSTACK_VERSION } from './constants.js';

const enc = new TextEncoder();

/** X86_PV_INFO: guest width (4 or 8 octets), page-table levels, 6 reserved octets. */
export function pvInfoBody(guestWidth: number, levels: number): Uint8Array {
  const b = new Uint8Array(8);
  b[0] = guestWidth;
  b[1] = levels;
  return b;
}

/** Header of X86_PV_P2M_FRAMES: start_pfn 0 and end_pfn p2m_size - 1. */
export function p2mFramesHead(into: Uint8Array, endPfn: number): void {
  const v = new DataView(into.buffer, into.byteOffset, 8);
  v.setUint32(0, 0, true);
  v.setUint32(4, endPfn >>> 0, true);
}

/** The vcpu records (BASIC, EXTENDED, XSAVE): vcpu_id, reserved, then the context as read. */
export function vcpuBody(vcpuId: number, data: Uint8Array): Uint8Array {
  const b = new Uint8Array(8 + data.length);
  new DataView(b.buffer).setUint32(0, vcpuId >>> 0, true);
  b.set(data, 8);
  return b;
}

/**
 * X86_TSC_INFO from the legacy chunk's `mode u32 | nsec u64 | khz u32 | incarnation u32`
 * (20 octets): `mode | khz | nsec | incarnation | reserved` (24 octets).
 */
export function tscInfoBody(chunk: Uint8Array): Uint8Array {
  const b = new Uint8Array(24);
  b.set(chunk.subarray(0, 4), 0);
  b.set(chunk.subarray(12, 16), 4);
  b.set(chunk.subarray(4, 12), 8);
  b.set(chunk.subarray(16, 20), 16);
  return b;
}

/** One HVM param: its index and its 8 value octets as they were in the image. */
export interface LegacyParam {
  index: number;
  value: Uint8Array;
}

/** HVM_PARAMS: count, reserved, then {index u64, value u64} in the order they came. */
export function hvmParamsBody(params: readonly LegacyParam[]): Uint8Array {
  const b = new Uint8Array(8 + 16 * params.length);
  const v = new DataView(b.buffer);
  v.setUint32(0, params.length, true);
  params.forEach((p, i) => {
    v.setUint32(8 + 16 * i, p.index, true);
    b.set(p.value.subarray(0, 8), 16 + 16 * i);
  });
  return b;
}

/** EMULATOR_XENSTORE_DATA and EMULATOR_CONTEXT: emulator id 0 (unknown), index 0, then the data. */
export function emulatorBody(data: Uint8Array): Uint8Array {
  const b = new Uint8Array(8 + data.length);
  b.set(data, 8);
  return b;
}

function hexOf(lo: number, hi: number): string {
  return hi === 0 ? lo.toString(16) : hi.toString(16) + lo.toString(16).padStart(8, '0');
}

/**
 * libxl's legacy toolstack chunk (version 1: count, then per entry phys_offset,
 * start_addr, size (u64 each), namelen u32, name) as NUL-terminated xenstore pairs
 * `physmap/<phys>/start_addr`, `/size`, `/name`. A 64-bit libxl put its struct's 4 tail
 * padding octets after the name (and namelen does not count them): `toolstackWidth` says
 * whether to expect them. `offset` is where the chunk's data starts, for messages.
 */
export function physmapToXenstore(data: Uint8Array, toolstackWidth: 32 | 64, offset: number, chunkIndex: number): Uint8Array {
  const where = (at: number) => ({ offset: offset + at, layer: 'legacy', recordIndex: chunkIndex, recordType: 'TOOLSTACK' });
  const fail = (at: number, what: string): never => {
    throw new LegacyFormatError('legacy-toolstack', what, where(at));
  };
  if (data.length < 8) fail(0, `toolstack data of ${data.length} octet(s), expected at least 8 (version, count)`);
  const v = new DataView(data.buffer, data.byteOffset, data.length);
  const version = v.getUint32(0, true);
  const count = v.getUint32(4, true);
  if (version !== TOOLSTACK_VERSION) fail(0, `toolstack data version ${version}, expected ${TOOLSTACK_VERSION}`);
  const parts: Uint8Array[] = [];
  let at = 8;
  for (let i = 0; i < count; i++) {
    if (data.length - at < 28) fail(at, `physmap entry ${i}: ${data.length - at} octet(s) left, expected a 28-octet header`);
    const u64 = (o: number) => hexOf(v.getUint32(at + o, true), v.getUint32(at + o + 4, true));
    const phys = u64(0);
    const start = u64(8);
    const size = u64(16);
    const namelen = v.getUint32(at + 24, true);
    at += 28;
    if (namelen === 0) fail(at - 4, `physmap entry ${i}: namelen 0, expected a NUL-terminated name`);
    const stored = namelen + (toolstackWidth === 64 ? 4 : 0);
    if (data.length - at < stored) fail(at, `physmap entry ${i}: name of ${stored} octet(s), only ${data.length - at} left`);
    const name = data.subarray(at, at + namelen);
    if (name[namelen - 1] !== 0) fail(at + namelen - 1, `physmap entry ${i}: name not NUL-terminated`);
    at += stored;
    const root = `physmap/${phys}`;
    parts.push(enc.encode(`${root}/start_addr\0${start}\0${root}/size\0${size}\0${root}/name\0`), name);
  }
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
