/**
 * What one record type is, in one place: its number, name and flags, its body's length
 * rule and layout, decode/encode, how it reads for people (dump text) and scripts (dump
 * JSON), and the checks of its body. The tables of each layer (libxc, libxl) are lists of
 * these modules; names, type sets, verify body checks, summaries and dump derive from them.
 *
 * Modules sit in src/format, which imports nothing of ours from other layers: a body check
 * reports through `BodyCheckContext` and sees the stream only as `StreamFacts`.
 */
import type { GuestType } from './constants.js';

/** How a record's body length is constrained, for the verifier and for decoding. */
export type LengthRule =
  | { kind: 'exact'; length: number }
  | { kind: 'min'; length: number }
  | { kind: 'multiple'; of: number; min: number; header?: number }
  | { kind: 'any' };

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

export interface RecordFlags {
  /** Invariant of guest execution: before STATIC_DATA_END in a v3 stream. */
  static?: boolean;
  /** Memory or register state: after STATIC_DATA_END in a v3 stream. */
  dynamic?: boolean;
  /** Only streams of this guest type carry it. */
  guest?: GuestType;
  /** Only a v3 stream may carry it. */
  v3Only?: boolean;
  /** One vcpu's state, its vcpu_id first. */
  vcpu?: boolean;
}

/** A record as people and scripts read it: `dump`'s JSON fields and its one-line text. */
export interface Described {
  fields: Record<string, unknown>;
  text: string;
}

/**
 * What describing a record may know beyond its body: the stream's byte order (Xen's HVM
 * save records are little-endian whatever the stream says) and, in a PV stream, the guest
 * width X86_PV_INFO gave (SHARED_INFO and X86_PV_VCPU_BASIC are laid out by it).
 */
export interface DescribeContext {
  readonly littleEndian: boolean;
  readonly pvGuestWidth?: 4 | 8;
}

/** What a body check may know of the stream before this record (the verifier keeps it). */
export interface StreamFacts {
  readonly version: number;
  readonly guestType: GuestType | undefined;
  readonly staticDataEndSeen: boolean;
  /** X86_PV_INFO's guest_width once seen. */
  readonly pvGuestWidth: number | undefined;
  /** X86_PV_P2M_FRAMES' end pfn once seen. */
  readonly p2mEndPfn: number | undefined;
  /** CHECKPOINT records are allowed (Remus/COLO). */
  readonly checkpointed: boolean;
}

export interface BodyCheckContext<R> {
  /**
   * The body as read: whole, except for PAGE_DATA read without its page contents (verify
   * jumps over them), where it holds the fixed part and the pfn array, and for libxl's
   * EMULATOR_CONTEXT, read as its 8-octet head only (device model state is opaque).
   */
  readonly body: Uint8Array;
  /** The body's length in the stream (more than `body.length` when page contents were skipped). */
  readonly length: number;
  readonly littleEndian: boolean;
  /** The record's name as dump and diagnostics show it. */
  readonly typeName: string;
  readonly facts: StreamFacts;
  /** The decoded body (decoded once, on first call); hot checks read the layout instead. */
  record(): R;
  /** One finding: a code of the verifier's table (src/verify/codes.ts) and one line of text. */
  report(code: string, message: string): void;
}

export interface RecordModule<T extends number = number, R extends { type: T } = { type: T }> {
  readonly type: T;
  readonly name: string;
  readonly flags: RecordFlags;
  readonly length: LengthRule;
  decode(body: Uint8Array, littleEndian: boolean): R;
  encode(record: R, littleEndian: boolean): Uint8Array;
  describe(record: R, ctx: DescribeContext): Described;
  /** Checks of a body whose length rule holds; absent when the layout says it all. */
  check?(ctx: BodyCheckContext<R>): void;
}

/** Identity, for inference: `defineRecord<TscInfoRecord>({...})` checks the module against its record type. */
export function defineRecord<R extends { type: number }>(module: RecordModule<R['type'], R>): RecordModule<R['type'], R> {
  return module;
}

/** A record without a body (libxc END, VERIFY, CHECKPOINT, STATIC_DATA_END; libxl END, LIBXC_CONTEXT, CHECKPOINT_END). */
export function emptyRecord<T extends number>(
  type: T,
  name: string,
  flags: RecordFlags = {},
  check?: (ctx: BodyCheckContext<{ type: T }>) => void,
): RecordModule<T, { type: T }> {
  const empty = new Uint8Array(0);
  return defineRecord<{ type: T }>({
    type,
    name,
    flags,
    length: { kind: 'exact', length: 0 },
    decode: () => ({ type }),
    encode: () => empty,
    describe: () => ({ fields: {}, text: '' }),
    ...(check ? { check } : {}),
  });
}

/** The record type a module decodes to. */
export type RecordOf<M> = M extends RecordModule<number, infer R> ? R : never;
