/**
 * Numbers of the published formats: libxc migration stream spec revision 3, libxl
 * stream spec revision 2, and the xl save-file header. Names match Xen's so that a
 * reader can grep them in Xen's own sources.
 */

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;

/** libxc refuses any record body larger than this before allocating it. */
export const MAX_RECORD_BODY = 128 * 1024 * 1024;

/**
 * xenmig's bound on the xl header's optional data (config_len and the domain config).
 * xl itself reads whatever optional_data_len says (xl_vmcontrol.c, xmalloc of the u32);
 * a real config is a few KiB, so 4 MiB refuses only what no xl wrote.
 */
export const MAX_XL_OPTIONAL_DATA = 4 * 1024 * 1024;

/**
 * xenmig's bound on an EMULATOR_XENSTORE_DATA body. libxl's saver writes three short
 * key/value pairs per qemu physmap entry (libxl__save_emulator_xenstore_data), and its
 * restorer writes each pair as one xenstore write (XENSTORE_PAYLOAD_MAX 4096 octets);
 * 1 MiB holds thousands of entries where qemu has a handful.
 */
export const MAX_XENSTORE_DATA = 1024 * 1024;

/** The most pairs of emulator xenstore data a memory image's domain.json spells out (the .bin holds them all). */
export const MAX_XENSTORE_PAIRS_SHOWN = 1024;

/** Records are padded with zeros to a multiple of this. */
export const RECORD_ALIGN = 8;

/** libxc's saver never puts more pfns than this in one PAGE_DATA record. */
export const MAX_BATCH_PFNS = 1024;

// ---- libxc image header --------------------------------------------------------------
export const IHDR_MARKER = 0xffffffffffffffffn;
export const IHDR_ID = 0x58454e46; // "XENF"
export const IHDR_SIZE = 24;
export const IHDR_OPT_BIG_ENDIAN = 0x0001;
export const IHDR_OPT_RESERVED_MASK = 0xfffe;
export const LIBXC_VERSION_2 = 2;
export const LIBXC_VERSION_3 = 3;

// ---- libxc domain header -------------------------------------------------------------
export const DHDR_SIZE = 16;
export const DHDR_TYPE_X86_PV = 1;
export const DHDR_TYPE_X86_HVM = 2;

export type GuestType = 'pv' | 'hvm';

export function guestTypeOf(domainType: number): GuestType | undefined {
  if (domainType === DHDR_TYPE_X86_PV) return 'pv';
  if (domainType === DHDR_TYPE_X86_HVM) return 'hvm';
  return undefined;
}

export function domainTypeOf(guest: GuestType): number {
  return guest === 'pv' ? DHDR_TYPE_X86_PV : DHDR_TYPE_X86_HVM;
}

// ---- libxc records ---------------------------------------------------------------------
export const RECORD_HEADER_SIZE = 8;
/** Bit 31 of a record type: a restorer may skip an unknown record that has it. */
export const REC_TYPE_OPTIONAL = 0x80000000;

export const REC_TYPE = {
  END: 0x00,
  PAGE_DATA: 0x01,
  X86_PV_INFO: 0x02,
  X86_PV_P2M_FRAMES: 0x03,
  X86_PV_VCPU_BASIC: 0x04,
  X86_PV_VCPU_EXTENDED: 0x05,
  X86_PV_VCPU_XSAVE: 0x06,
  SHARED_INFO: 0x07,
  X86_TSC_INFO: 0x08,
  HVM_CONTEXT: 0x09,
  HVM_PARAMS: 0x0a,
  TOOLSTACK: 0x0b,
  X86_PV_VCPU_MSRS: 0x0c,
  VERIFY: 0x0d,
  CHECKPOINT: 0x0e,
  CHECKPOINT_DIRTY_PFN_LIST: 0x0f,
  STATIC_DATA_END: 0x10,
  X86_CPUID_POLICY: 0x11,
  X86_MSR_POLICY: 0x12,
} as const;

export type RecTypeName = keyof typeof REC_TYPE;

/**
 * Names for one layer's record types: a known type by its name, an unknown one in hex,
 * marked optional when bit 31 says a reader may skip it.
 */
export function recordNamer(table: Readonly<Record<string, number>>): { name(type: number): string; known(type: number): boolean } {
  const byType = new Map<number, string>(Object.entries(table).map(([name, type]) => [type, name]));
  return {
    name(type) {
      const name = byType.get(type);
      if (name !== undefined) return name;
      const hex = `0x${(type >>> 0).toString(16).padStart(8, '0')}`;
      return (type & REC_TYPE_OPTIONAL) !== 0 ? `UNKNOWN_OPTIONAL(${hex})` : `UNKNOWN(${hex})`;
    },
    known: (type) => byType.has(type),
  };
}

const LIBXC_NAMES = recordNamer(REC_TYPE);

/** The name of a libxc record type, with unknown types shown in hex (and optional ones marked). */
export const recordTypeName = LIBXC_NAMES.name;

export const isKnownRecordType = LIBXC_NAMES.known;

export function isOptionalRecordType(type: number): boolean {
  return ((type >>> 0) & REC_TYPE_OPTIONAL) !== 0;
}

// The sets of record types (static, dynamic, PV only, HVM only, v3 only, vcpu) derive
// from each record module's flags: src/format/libxc/table.ts, exported by records.ts.

// ---- PAGE_DATA pfn entries ---------------------------------------------------------
/** Bits 63-60 of a pfn entry (bits 31-28 of its high u32). */
export const PAGE_TYPE_SHIFT_HI = 28;
/** Bits 59-52 of a pfn entry: reserved, zero (bits 27-20 of its high u32). */
export const PFN_RESERVED_MASK_HI = 0x0ff00000;
/** Bits 51-32 of the pfn (bits 19-0 of the high u32). */
export const PFN_HI_MASK = 0x000fffff;
export const PFN_MAX = 2 ** 52 - 1;

export const PAGE_TYPE = {
  NOTAB: 0,
  L1TAB: 1,
  L2TAB: 2,
  L3TAB: 3,
  L4TAB: 4,
  L1TAB_PINNED: 9,
  L2TAB_PINNED: 10,
  L3TAB_PINNED: 11,
  L4TAB_PINNED: 12,
  BROKEN: 13,
  XALLOC: 14,
  XTAB: 15,
} as const;

export type PageTypeName = keyof typeof PAGE_TYPE;

const PAGE_TYPE_NAMES: (string | undefined)[] = [];
for (const [name, value] of Object.entries(PAGE_TYPE)) PAGE_TYPE_NAMES[value] = name;

export function pageTypeName(t: number): string {
  return PAGE_TYPE_NAMES[t] ?? `RESERVED(${t})`;
}

/** Types 5-8 are reserved: a stream that uses them is invalid. */
export function isReservedPageType(t: number): boolean {
  return t >= 5 && t <= 8;
}

/** Only normal pages and page tables carry a page of data. */
export function pageTypeHasData(t: number): boolean {
  return t <= 4 || (t >= 9 && t <= 12);
}

// ---- libxl stream --------------------------------------------------------------------
export const LIBXL_IDENT = 0x4c6962786c466d74n; // "LibxlFmt"
export const LIBXL_HEADER_SIZE = 16;
export const LIBXL_VERSION = 2;
export const LIBXL_OPT_BIG_ENDIAN = 0x1;
export const LIBXL_OPT_LEGACY = 0x2;
export const LIBXL_OPT_RESERVED_MASK = 0xfffffffc;

export const LIBXL_REC_TYPE = {
  END: 0,
  LIBXC_CONTEXT: 1,
  EMULATOR_XENSTORE_DATA: 2,
  EMULATOR_CONTEXT: 3,
  CHECKPOINT_END: 4,
  CHECKPOINT_STATE: 5,
} as const;

export type LibxlRecTypeName = keyof typeof LIBXL_REC_TYPE;

// libxlRecordTypeName and isKnownLibxlRecordType derive from the libxl record modules:
// src/format/libxl/table.ts.

export const EMULATOR_ID = {
  UNKNOWN: 0,
  QEMU_TRADITIONAL: 1,
  QEMU_UPSTREAM: 2,
} as const;

export function emulatorName(id: number): string {
  switch (id) {
    case EMULATOR_ID.UNKNOWN:
      return 'unknown';
    case EMULATOR_ID.QEMU_TRADITIONAL:
      return 'qemu-traditional';
    case EMULATOR_ID.QEMU_UPSTREAM:
      return 'qemu-upstream';
    default:
      return `invalid(${id})`;
  }
}

export const CHECKPOINT_STATE_ID = {
  NEW: 0,
  SVM_SUSPENDED: 1,
  SVM_READY: 2,
  SVM_RESUMED: 3,
} as const;

// ---- xl save-file header -------------------------------------------------------------
/** 32 octets: the text, a newline, a space, a NUL and a carriage return. */
export const XL_MAGIC = 'Xen saved domain, xl format\n \0 \r';
export const XL_MAGIC_SIZE = 32;
export const XL_BYTEORDER = 0x01020304;
export const XL_HEADER_FIXED_SIZE = 48;
export const XL_MANDATORY_FLAG_JSON = 0x1;
export const XL_MANDATORY_FLAG_STREAMV2 = 0x2;
export const XL_MANDATORY_KNOWN = XL_MANDATORY_FLAG_JSON | XL_MANDATORY_FLAG_STREAMV2;

// ---- migration stream handshake (xl migrate over ssh stdio) --------------------------
export const XL_MIGRATE_RECEIVER_BANNER = 'xl migration receiver ready, send binary domain data.\n';
export const XL_MIGRATE_RECEIVER_READY = 'domain received, ready to unpause\0';
export const XL_MIGRATE_PERMISSION = 'domain is yours, you are cleared to unpause\0';
export const XL_MIGRATE_REPORT = 'my copy unpause results are as follows\0';
