/** Streams for restore tests, built with the byte-exact builders in test/support. */
import { Bytes, concat, cpuidBody, libxcHeaders, msrBody, pageDataBody, pageFor, pvInfoBody, rec, tscBody, hvmContextBody, hvmParamsBody, vcpuBody, T } from '../support/builder.js';

export interface Sent {
  bytes: Uint8Array;
  /** pfn -> the page the stream leaves there. */
  pages: Map<number, Uint8Array>;
}

export interface StreamOpts {
  version?: 2 | 3;
  bigEndian?: boolean;
  pfns?: number[];
  seed?: number;
  policy?: 'both' | 'cpuid' | 'none';
}

function policyRecords(le: boolean, policy: StreamOpts['policy'] = 'both'): Uint8Array[] {
  const out: Uint8Array[] = [];
  if (policy !== 'none') out.push(rec(T.X86_CPUID_POLICY, cpuidBody([[0, 0xffffffff, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69]], le), le));
  if (policy === 'both') out.push(rec(T.X86_MSR_POLICY, msrBody([[0xce, 0, 0x80000000n]], le), le));
  return out;
}

export function pageData(pfns: number[], le: boolean, seed: number, pages: Map<number, Uint8Array>): Uint8Array {
  for (const pfn of pfns) pages.set(pfn, pageFor(pfn, seed));
  return rec(T.PAGE_DATA, pageDataBody(pfns.map((pfn) => ({ pfn })), le, seed), le);
}

export function hvmStream(o: StreamOpts = {}): Sent {
  const le = !(o.bigEndian ?? false);
  const version = o.version ?? 3;
  const pages = new Map<number, Uint8Array>();
  const pfns = o.pfns ?? [0, 1, 2, 3, 8, 9, 100];
  const parts = [libxcHeaders({ version, bigEndian: !le, domainType: 2 })];
  if (version === 3) parts.push(...policyRecords(le, o.policy), rec(T.STATIC_DATA_END, undefined, le));
  parts.push(pageData(pfns.slice(0, 3), le, o.seed ?? 0, pages));
  if (pfns.length > 3) parts.push(pageData(pfns.slice(3), le, o.seed ?? 0, pages));
  parts.push(rec(T.X86_TSC_INFO, tscBody(le), le));
  parts.push(rec(T.HVM_CONTEXT, hvmContextBody(1), le));
  parts.push(rec(T.HVM_PARAMS, hvmParamsBody([[1n, 0xfeffen], [17n, 0xfefffn]], le), le));
  parts.push(rec(T.END, undefined, le));
  return { bytes: concat(...parts), pages };
}

export function p2mBody(endPfn: number, le: boolean, width = 8): Uint8Array {
  const frames = Math.floor(endPfn / (4096 / width)) + 1;
  const b = new Bytes(le).u32(0).u32(endPfn);
  for (let i = 0; i < frames; i++) b.u64(BigInt(0x1000 + i));
  return b.build();
}

export function pvStream(o: StreamOpts = {}): Sent {
  const le = !(o.bigEndian ?? false);
  const version = o.version ?? 3;
  const pages = new Map<number, Uint8Array>();
  const pfns = o.pfns ?? [0, 1, 2, 5, 6];
  const parts = [libxcHeaders({ version, bigEndian: !le, domainType: 1 }), rec(T.X86_PV_INFO, pvInfoBody(8, 4, le), le)];
  if (version === 3) parts.push(...policyRecords(le, o.policy), rec(T.STATIC_DATA_END, undefined, le));
  parts.push(rec(T.X86_PV_P2M_FRAMES, p2mBody(Math.max(...pfns) + 10, le), le));
  parts.push(pageData(pfns, le, o.seed ?? 0, pages));
  parts.push(rec(T.X86_TSC_INFO, tscBody(le), le));
  parts.push(rec(T.SHARED_INFO, new Uint8Array(4096).fill(0x5a), le));
  parts.push(rec(T.X86_PV_VCPU_BASIC, vcpuBody(0, 64, le), le));
  parts.push(rec(T.X86_PV_VCPU_EXTENDED, vcpuBody(0, 16, le), le));
  parts.push(rec(T.X86_PV_VCPU_BASIC, vcpuBody(1, 64, le), le));
  parts.push(rec(T.END, undefined, le));
  return { bytes: concat(...parts), pages };
}

/** Batches of [pfns, seed, context byte]; the first is the live pass, each ends with CHECKPOINT but the last. */
export const BATCHES: [number[], number, number][] = [
  [[0, 1, 2, 3], 0, 0xa0],
  [[1, 2], 1, 0xb0],
  [[3, 4], 2, 0xc0],
  [[0], 3, 0xd0],
];

export function checkpointed(): { bytes: Uint8Array; checkpointEnds: number[] } {
  const parts: Uint8Array[] = [libxcHeaders({ version: 3 }), rec(T.STATIC_DATA_END)];
  const checkpointEnds: number[] = [];
  let len = parts.reduce((n, p) => n + p.length, 0);
  BATCHES.forEach(([pfns, seed, ctx], i) => {
    const batch = [rec(T.PAGE_DATA, pageDataBody(pfns.map((pfn) => ({ pfn })), true, seed))];
    if (i === 0) batch.push(rec(T.X86_TSC_INFO, tscBody()));
    // The HEADER's changeset (octet 16) tells each batch's context apart.
    batch.push(rec(T.HVM_CONTEXT, hvmContextBody(0, BigInt(ctx))));
    if (i < BATCHES.length - 1) batch.push(rec(T.CHECKPOINT));
    for (const b of batch) len += b.length;
    if (i < BATCHES.length - 1) checkpointEnds.push(len);
    parts.push(...batch);
  });
  parts.push(rec(T.END));
  return { bytes: concat(...parts), checkpointEnds };
}
