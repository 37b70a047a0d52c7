/**
 * Streams for verifier tests as lists of records, so a test can break one rule by
 * replacing, inserting or removing one record. Bytes come from test/support/builder.
 */
import {
  Bytes,
  T,
  concat,
  cpuidBody,
  hvmContextBody,
  hvmParamsBody,
  libxcHeaders,
  msrBody,
  pageDataBody,
  pvInfoBody,
  rec,
  tscBody,
  vcpuBody,
} from '../support/builder.js';
import { ByteReader } from '../../src/io/byte-reader.js';
import { BufferRawSource } from '../../src/io/raw-source.js';
import { verifyStream, type VerifyResult, type VerifyStreamOptions } from '../../src/verify/index.js';

export interface Rec {
  type: number;
  body: Uint8Array;
  padByte?: number;
}

export const r = (type: number, body: Uint8Array = new Uint8Array(0)): Rec => ({ type, body });

export function hvmRecords(version: 2 | 3 = 3, le = true): Rec[] {
  const out: Rec[] = [];
  if (version === 3) {
    out.push(r(T.X86_CPUID_POLICY, cpuidBody([[0, 0xffffffff, 0xd, 1, 2, 3]], le)));
    out.push(r(T.X86_MSR_POLICY, msrBody([[0xce, 0, 0n]], le)));
    out.push(r(T.STATIC_DATA_END));
  }
  out.push(r(T.PAGE_DATA, pageDataBody([{ pfn: 0 }, { pfn: 1 }, { pfn: 2, type: 15 }], le)));
  out.push(r(T.X86_TSC_INFO, tscBody(le)));
  out.push(r(T.HVM_PARAMS, hvmParamsBody([[1n, 0x10n]], le)));
  out.push(r(T.HVM_CONTEXT, hvmContextBody()));
  out.push(r(T.END));
  return out;
}

export function p2mBody(start: number, end: number, frames: bigint[], le = true): Uint8Array {
  const b = new Bytes(le).u32(start).u32(end);
  for (const f of frames) b.u64(f);
  return b.build();
}

export function pvRecords(version: 2 | 3 = 3, le = true): Rec[] {
  const out: Rec[] = [r(T.X86_PV_INFO, pvInfoBody(8, 4, le))];
  if (version === 3) {
    out.push(r(T.X86_CPUID_POLICY, cpuidBody([[0, 0xffffffff, 0xd, 1, 2, 3]], le)));
    out.push(r(T.STATIC_DATA_END));
  }
  out.push(r(T.X86_PV_P2M_FRAMES, p2mBody(0, 3, [7n], le)));
  out.push(r(T.PAGE_DATA, pageDataBody([{ pfn: 0 }, { pfn: 1, type: 1 }, { pfn: 2, type: 12 }, { pfn: 3, type: 14 }], le)));
  out.push(r(T.X86_TSC_INFO, tscBody(le)));
  out.push(r(T.SHARED_INFO, new Uint8Array(4096)));
  for (const t of [T.X86_PV_VCPU_BASIC, T.X86_PV_VCPU_EXTENDED, T.X86_PV_VCPU_XSAVE, T.X86_PV_VCPU_MSRS]) out.push(r(t, vcpuBody(0, 16, le)));
  out.push(r(T.X86_PV_VCPU_BASIC, vcpuBody(1, 16, le)));
  out.push(r(T.END));
  return out;
}

export function libxcBytes(records: Rec[], hdr: Parameters<typeof libxcHeaders>[0] = {}): Uint8Array {
  const le = !(hdr.bigEndian ?? false);
  return concat(libxcHeaders(hdr), ...records.map((x) => rec(x.type, x.body, le, x.padByte ?? 0)));
}

export async function verifyBytes(bytes: Uint8Array, opts: VerifyStreamOptions = {}): Promise<VerifyResult> {
  return verifyStream(new ByteReader(new BufferRawSource(bytes), 4096), opts);
}

/** "severity code" for each diagnostic, infos included. */
export function codes(res: VerifyResult): string[] {
  return res.diagnostics.map((d) => `${d.severity} ${d.code}`);
}

/** Errors and warnings only. */
export function problems(res: VerifyResult): string[] {
  return res.diagnostics.filter((d) => d.severity !== 'info').map((d) => `${d.severity} ${d.code}`);
}
