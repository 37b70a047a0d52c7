/**
 * One HVM context save record type (Xen's public/arch-x86/hvm/save.h) in one module: its
 * typecode and name, whether each vcpu has one, how `hvm_load` takes its length (per Xen
 * version where the structure grew), its layout, decode/encode, how it reads for people
 * and scripts, and the refusals of its Xen 4.17 loader. The table (./table.ts), the blob
 * decoder and checker (./context.ts), `dump` and `verify` derive from these modules.
 *
 * Save records are always in the saving host's order, which for x86 is little-endian.
 */
import type { Layout, FieldKind, StructValue } from '../layout.js';
import type { Described } from '../record-module.js';

/**
 * How Xen 4.17's `hvm_load` takes a record's length: `strict` exactly the structure
 * (`hvm_load_entry`); `zeroextend` at most the structure, zero-filling the rest
 * (`hvm_load_entry_zeroextend`); `xsave` and `msr` carry their own variable-length checks.
 */
export type HvmLengthRule = 'strict' | 'zeroextend' | 'xsave' | 'msr';

/** A structure size some Xen versions write, where it differs from 4.17's. */
export interface HvmSizeHistory {
  /** Which Xen versions write it, e.g. "4.13 and older". */
  xen: string;
  size: number;
}

/** What a body check of one save record sees. */
export interface HvmCheckContext<R> {
  /** The record's body as it is in the blob (not zero-extended). */
  readonly body: Uint8Array;
  readonly instance: number;
  /** The decoded body (zero-extended as Xen's loader extends it). */
  readonly record: R;
  /** One refusal: a verifier code (src/verify/codes.ts) and one line of text. */
  report(code: string, message: string): void;
}

/** Where a layout meets Xen's C headers, for the layout test (test/xen/layouts.test.ts). */
export interface CStructRef {
  /** The C type as the header names it, e.g. `struct hvm_hw_cpu`. */
  type: string;
  /** sizeof(type) in Debian's libxen-dev 4.17 headers. */
  size: number;
  /** C member expressions for layout fields whose name is not the member's; null: not a C member (a bit-field byte). */
  members?: Readonly<Record<string, string | null>>;
}

export interface HvmSaveRecordModule<N extends string = string, R = unknown> {
  readonly typecode: number;
  readonly name: N;
  /** One record per vcpu, its instance the vcpu id; otherwise per domain. */
  readonly perVcpu: boolean;
  /** Highest instance a per-domain record may carry (PIC: 1, master and slave). */
  readonly maxInstance: number;
  readonly rule: HvmLengthRule;
  /** Xen 4.17's length: exactly (strict), at most (zeroextend), at least (xsave, msr). */
  readonly length: number;
  /** Sizes other Xen versions write, where the structure differs from 4.17's. */
  readonly history: readonly HvmSizeHistory[];
  /** The newest layout xenmig knows (a later Xen's fields past 4.17's size included). */
  readonly layout: Layout<Record<string, FieldKind>>;
  readonly c?: CStructRef;
  decode(body: Uint8Array): R;
  encode(record: R): Uint8Array;
  describe(record: R): Described;
  check?(ctx: HvmCheckContext<R>): void;
}

/** Identity, for inference and to check a module against its record type. */
export function defineHvmSaveRecord<const N extends string, R>(m: HvmSaveRecordModule<N, R>): HvmSaveRecordModule<N, R> {
  return m;
}

/** `body` zero-extended to `size` octets (what `hvm_load_entry_zeroextend` gives the loader). */
export function zeroExtend(body: Uint8Array, size: number): Uint8Array {
  if (body.length >= size) return body;
  const out = new Uint8Array(size);
  out.set(body);
  return out;
}

export const hex = (v: number | bigint, width = 0): string => `0x${v.toString(16).padStart(width, '0')}`;

const isGap = (name: string): boolean => /^(_?pad|res|reserved|_rsvd)/.test(name);

/** The layout's fields as JSON-able named values, gaps (pad, reserved) left out unless nonzero. */
export function namedFields<F extends Record<string, FieldKind>>(layout: Layout<F>, value: StructValue<F>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of layout.fields) {
    const v = (value as Record<string, unknown>)[f.name];
    if (isGap(f.name) && isZero(v)) continue;
    out[f.name] = v;
  }
  return out;
}

export function isZero(v: unknown): boolean {
  if (typeof v === 'number') return v === 0;
  if (typeof v === 'bigint') return v === 0n;
  if (v instanceof Uint8Array) return v.every((b) => b === 0);
  return false;
}

/**
 * A module for a fixed structure whose decoded form is its layout's value: decode
 * zero-extends a short body (as Xen does for `zeroextend` types; strict ones are
 * refused before), encode writes the newest layout.
 */
export function plainRecord<const N extends string, F extends Record<string, FieldKind>>(m: {
  typecode: number;
  name: N;
  perVcpu: boolean;
  maxInstance?: number;
  rule: 'strict' | 'zeroextend';
  length: number;
  history?: readonly HvmSizeHistory[];
  layout: Layout<F>;
  c?: CStructRef;
  text(r: StructValue<F>): string;
  /** Extra named values derived from the fields (bit-fields, decoded registers). */
  derive?(r: StructValue<F>): Record<string, unknown>;
  check?(ctx: HvmCheckContext<StructValue<F>>): void;
}): HvmSaveRecordModule<N, StructValue<F>> {
  return defineHvmSaveRecord<N, StructValue<F>>({
    typecode: m.typecode,
    name: m.name,
    perVcpu: m.perVcpu,
    maxInstance: m.maxInstance ?? 0,
    rule: m.rule,
    length: m.length,
    history: m.history ?? [],
    layout: m.layout as unknown as Layout<Record<string, FieldKind>>,
    ...(m.c ? { c: m.c } : {}),
    decode: (body) => m.layout.read(zeroExtend(body, m.layout.size), true),
    encode: (r) => m.layout.encode(r, true),
    describe: (r) => ({ fields: { ...namedFields(m.layout, r), ...(m.derive?.(r) ?? {}) }, text: m.text(r) }),
    ...(m.check ? { check: m.check } : {}),
  });
}

/** `count` little-endian u64s starting at `field`'s octets. */
export function u64s(bytes: Uint8Array): bigint[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: bigint[] = [];
  for (let o = 0; o + 8 <= bytes.length; o += 8) out.push(view.getBigUint64(o, true));
  return out;
}

/** Little-endian u64s as octets (the inverse of `u64s`). */
export function u64Bytes(values: readonly bigint[]): Uint8Array {
  const out = new Uint8Array(values.length * 8);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setBigUint64(i * 8, BigInt.asUintN(64, v), true));
  return out;
}
