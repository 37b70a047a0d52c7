/**
 * Fixed C structures described once: each field's name, width and offset, in the order
 * Xen's headers declare them. Decoders, encoders, verify rules and describers all read a
 * field through its layout, so an offset is written down in exactly one place and a test
 * can compare every layout with Xen's own headers (test/xen/layouts.test.ts).
 */
import { StreamFormatError } from './errors.js';

/** A field's storage: an unsigned integer of 1, 2, 4 or 8 octets, or raw octets. */
export type FieldKind = 'u8' | 'u16' | 'u32' | 'u64' | { bytes: number };

type ValueOf<K extends FieldKind> = K extends 'u64' ? bigint : K extends { bytes: number } ? Uint8Array : number;

/** The decoded shape of a layout: numbers, bigints for 64-bit fields, views for byte fields. */
export type StructValue<F extends Record<string, FieldKind>> = { -readonly [N in keyof F]: ValueOf<F[N]> };

export interface FieldInfo {
  name: string;
  kind: FieldKind;
  offset: number;
  size: number;
}

function sizeOf(kind: FieldKind): number {
  switch (kind) {
    case 'u8':
      return 1;
    case 'u16':
      return 2;
    case 'u32':
      return 4;
    case 'u64':
      return 8;
    default:
      return kind.bytes;
  }
}

export class Layout<F extends Record<string, FieldKind>> {
  /** Fields in declaration order, with their offsets. */
  readonly fields: readonly FieldInfo[];
  readonly size: number;
  private readonly byName: ReadonlyMap<string, FieldInfo>;

  /**
   * `fields` in the C declaration's order. Gaps are explicit fields (named `pad…` or
   * `reserved…`), never implied alignment, so the size is the sum of the widths; `size`
   * may say more when the C structure ends in padding.
   */
  constructor(
    readonly name: string,
    spec: F,
    size?: number,
  ) {
    const fields: FieldInfo[] = [];
    let offset = 0;
    for (const [fieldName, kind] of Object.entries(spec)) {
      const s = sizeOf(kind);
      fields.push({ name: fieldName, kind, offset, size: s });
      offset += s;
    }
    if (size !== undefined && size < offset) throw new Error(`layout ${name}: fields need ${offset} octets, declared size ${size}`);
    this.fields = fields;
    this.size = size ?? offset;
    this.byName = new Map(fields.map((f) => [f.name, f]));
  }

  /** Offset of a field from the structure's start. */
  offsetOf(field: keyof F & string): number {
    return this.field(field).offset;
  }

  field(name: keyof F & string): FieldInfo {
    const f = this.byName.get(name);
    if (f === undefined) throw new Error(`layout ${this.name} has no field ${name}`);
    return f;
  }

  /**
   * One field at `at` + its offset, without decoding the rest. It needs only that field's
   * octets: the leading fields of a body cut short still read (a summary of a record whose
   * length is wrong shows what is there; the verifier reports the length).
   */
  get<N extends keyof F & string>(bytes: Uint8Array, field: N, littleEndian: boolean, at = 0): ValueOf<F[N]> {
    const f = this.field(field);
    const o = at + f.offset;
    if (at < 0 || o + f.size > bytes.length) {
      throw new StreamFormatError(`${this.name}: field ${f.name} needs ${f.size} octets at body offset ${o}, only ${Math.max(0, bytes.length - o)} there`);
    }
    return readField(bytes, f, o, littleEndian) as ValueOf<F[N]>;
  }

  /** Whether `bytes` holds `field` whole at `at` (for readers that skip what is not there). */
  has(bytes: Uint8Array, field: keyof F & string, at = 0): boolean {
    const f = this.field(field);
    return at >= 0 && at + f.offset + f.size <= bytes.length;
  }

  /** The whole structure at `at`; byte fields are views, not copies. */
  read(bytes: Uint8Array, littleEndian: boolean, at = 0): StructValue<F> {
    this.need(bytes, at);
    const out: Record<string, unknown> = {};
    for (const f of this.fields) out[f.name] = readField(bytes, f, at + f.offset, littleEndian);
    return out as StructValue<F>;
  }

  /** Writes `value` at `at`; octets the fields do not cover (trailing padding) are left as they are. */
  write(bytes: Uint8Array, value: StructValue<F>, littleEndian: boolean, at = 0): void {
    this.need(bytes, at);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (const f of this.fields) {
      const v = (value as Record<string, unknown>)[f.name];
      const o = at + f.offset;
      switch (f.kind) {
        case 'u8':
          view.setUint8(o, v as number);
          break;
        case 'u16':
          view.setUint16(o, v as number, littleEndian);
          break;
        case 'u32':
          view.setUint32(o, (v as number) >>> 0, littleEndian);
          break;
        case 'u64':
          view.setBigUint64(o, BigInt.asUintN(64, v as bigint), littleEndian);
          break;
        default: {
          const b = v as Uint8Array;
          if (b.length !== f.size) throw new Error(`layout ${this.name}: field ${f.name} takes ${f.size} octets, given ${b.length}`);
          bytes.set(b, o);
        }
      }
    }
  }

  /** A new array of `size` octets holding `value`. */
  encode(value: StructValue<F>, littleEndian: boolean): Uint8Array {
    const out = new Uint8Array(this.size);
    this.write(out, value, littleEndian);
    return out;
  }

  /** A value with every field zero (byte fields zero-filled). */
  zero(): StructValue<F> {
    const out: Record<string, unknown> = {};
    for (const f of this.fields) out[f.name] = f.kind === 'u64' ? 0n : typeof f.kind === 'object' ? new Uint8Array(f.size) : 0;
    return out as StructValue<F>;
  }

  private need(bytes: Uint8Array, at: number): void {
    if (at < 0 || at + this.size > bytes.length) {
      throw new StreamFormatError(`${this.name}: needs ${this.size} octets at body offset ${at}, only ${Math.max(0, bytes.length - at)} there`);
    }
  }
}

function readField(bytes: Uint8Array, f: FieldInfo, o: number, le: boolean): number | bigint | Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (f.kind) {
    case 'u8':
      return view.getUint8(o);
    case 'u16':
      return view.getUint16(o, le);
    case 'u32':
      return view.getUint32(o, le);
    case 'u64':
      return view.getBigUint64(o, le);
    default:
      return bytes.subarray(o, o + f.size);
  }
}

/** A layout from its C name and fields, in declaration order. */
export function struct<const F extends Record<string, FieldKind>>(name: string, fields: F, size?: number): Layout<F> {
  return new Layout(name, fields, size);
}
