/**
 * Checkpointed libxl streams (Remus / COLO) as lists of parts, the way libxl and libxc
 * interleave them: libxc records up to CHECKPOINT, then libxl's records for that
 * checkpoint (EMULATOR_XENSTORE_DATA, EMULATOR_CONTEXT for HVM, CHECKPOINT_END; COLO
 * then CHECKPOINT_STATE), then the next checkpoint's libxc records. Tests break one rule
 * by editing the list; `assemble` turns it into bytes and says where each part begins.
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
  pageFor,
  pvInfoBody,
  rec,
  tscBody,
  vcpuBody,
} from './builder.js';

export const L = { END: 0, LIBXC_CONTEXT: 1, XENSTORE: 2, EMULATOR_CONTEXT: 3, CHECKPOINT_END: 4, CHECKPOINT_STATE: 5 } as const;

export type Part =
  | { kind: 'libxl-header' }
  | { kind: 'libxc-header'; domainType: number }
  | { kind: 'record'; layer: 'libxl' | 'libxc'; type: number; body?: Uint8Array; label?: string };

export const xl = (type: number, body?: Uint8Array, label?: string): Part => ({ kind: 'record', layer: 'libxl', type, body, label });
export const xc = (type: number, body?: Uint8Array, label?: string): Part => ({ kind: 'record', layer: 'libxc', type, body, label });

export function emulatorBody(id: number, index: number, data: Uint8Array): Uint8Array {
  return new Bytes().u32(id).u32(index).raw(data).build();
}

export function checkpointStateBody(id: number): Uint8Array {
  return new Bytes().u32(id).build();
}

/** The emulator context libxl sends with checkpoint `n` (0: the live pass). */
export function emulatorContextFor(n: number): Uint8Array {
  return new Uint8Array(20 + n).fill(0x40 + n);
}

export const XENSTORE_DATA = new TextEncoder().encode('physmap/1/start_addr\0f0000000\0');

export interface CheckpointedOpts {
  guest?: 'hvm' | 'pv';
  kind?: 'remus' | 'colo';
  /** Checkpoints after the live pass (each closed by CHECKPOINT ... CHECKPOINT_END). */
  checkpoints?: number;
  /** HVM: send EMULATOR_XENSTORE_DATA with each checkpoint. */
  xenstore?: boolean;
}

/** Pfns (and page seed) the live pass (0) and each later checkpoint send. */
export function batchPfns(n: number): number[] {
  return n === 0 ? [0, 1, 2, 3, 4, 5] : [(n * 2) % 6, (n * 2 + 1) % 6];
}

/** The stream's parts; `label` marks each libxc CHECKPOINT ("checkpoint N") and its CHECKPOINT_END ("end N"). */
export function checkpointedParts(o: CheckpointedOpts = {}): Part[] {
  const guest = o.guest ?? 'hvm';
  const count = o.checkpoints ?? 3;
  const parts: Part[] = [{ kind: 'libxl-header' }, xl(L.LIBXC_CONTEXT), { kind: 'libxc-header', domainType: guest === 'hvm' ? 2 : 1 }];
  if (guest === 'pv') parts.push(xc(T.X86_PV_INFO, pvInfoBody(8, 4)));
  parts.push(xc(T.X86_CPUID_POLICY, cpuidBody([[0, 0xffffffff, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69]])));
  parts.push(xc(T.X86_MSR_POLICY, msrBody([[0xce, 0, 0x80000000n]])));
  parts.push(xc(T.STATIC_DATA_END));
  if (guest === 'pv') parts.push(xc(T.X86_PV_P2M_FRAMES, new Bytes().u32(0).u32(63).u64(0x1000n).build()));
  for (let n = 0; n <= count; n++) {
    parts.push(xc(T.PAGE_DATA, pageDataBody(batchPfns(n).map((pfn) => ({ pfn })), true, n)));
    parts.push(xc(T.X86_TSC_INFO, tscBody()));
    if (guest === 'hvm') {
      parts.push(xc(T.HVM_PARAMS, hvmParamsBody([[1n, 0xfeffen]])));
      parts.push(xc(T.HVM_CONTEXT, hvmContextBody(0, BigInt(0xa0 + n))));
    } else {
      parts.push(xc(T.SHARED_INFO, new Uint8Array(4096).fill(0x50 + n)));
      parts.push(xc(T.X86_PV_VCPU_BASIC, vcpuBody(0, 64)));
    }
    parts.push(xc(T.CHECKPOINT, undefined, `checkpoint ${n + 1}`));
    if (guest === 'hvm') {
      if (o.xenstore) parts.push(xl(L.XENSTORE, emulatorBody(2, 0, XENSTORE_DATA)));
      parts.push(xl(L.EMULATOR_CONTEXT, emulatorBody(2, 0, emulatorContextFor(n))));
    }
    parts.push(xl(L.CHECKPOINT_END, undefined, `end ${n + 1}`));
    if (o.kind === 'colo') parts.push(xl(L.CHECKPOINT_STATE, checkpointStateBody(0)));
  }
  parts.push(xc(T.END), xl(L.END));
  return parts;
}

const LIBXL_HEADER = new Bytes(false).raw(new TextEncoder().encode('LibxlFmt')).u32(2).u32(0).build();

export interface Assembled {
  bytes: Uint8Array;
  /** Offset where each part begins. */
  offsets: number[];
  /** Offset just past the part with this label. */
  after(label: string): number;
}

export function assemble(parts: readonly Part[]): Assembled {
  const pieces: Uint8Array[] = [];
  const offsets: number[] = [];
  const ends = new Map<string, number>();
  let at = 0;
  for (const p of parts) {
    const bytes =
      p.kind === 'libxl-header'
        ? LIBXL_HEADER
        : p.kind === 'libxc-header'
          ? libxcHeaders({ version: 3, domainType: p.domainType })
          : rec(p.type, p.body ?? new Uint8Array(0));
    offsets.push(at);
    at += bytes.length;
    pieces.push(bytes);
    if (p.kind === 'record' && p.label) ends.set(p.label, at);
  }
  return {
    bytes: concat(...pieces),
    offsets,
    after(label) {
      const v = ends.get(label);
      if (v === undefined) throw new Error(`no part labelled ${label}`);
      return v;
    },
  };
}

/** pfn -> page once checkpoints 1..n are complete (the live pass is checkpoint 1). */
export function memoryAt(n: number): Map<number, Uint8Array> {
  const pages = new Map<number, Uint8Array>();
  for (let i = 0; i < n; i++) for (const pfn of batchPfns(i)) pages.set(pfn, pageFor(pfn, i));
  return pages;
}
