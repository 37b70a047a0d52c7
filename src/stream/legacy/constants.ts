/**
 * The legacy (Xen <= 4.5) libxc save image as Xen's own converter reads it
 * (`convert-legacy-stream` and `xen/migration/legacy.py`, Xen 4.17): every integer is in
 * the saving host's order (x86: little-endian); "unsigned long" is the saving
 * toolstack's width, 4 or 8 octets. No I/O here.
 */

/** Chunk markers: a positive int is a page batch of that many pfns; these are the rest. */
export const CHUNK = {
  END: 0,
  ENABLE_VERIFY_MODE: -1,
  VCPU_INFO: -2,
  HVM_IDENT_PT: -3,
  HVM_VM86_TSS: -4,
  TMEM: -5,
  TMEM_EXTRA: -6,
  TSC_INFO: -7,
  HVM_CONSOLE_PFN: -8,
  LAST_CHECKPOINT: -9,
  HVM_ACPI_IOPORTS_LOCATION: -10,
  HVM_VIRIDIAN: -11,
  COMPRESSED_DATA: -12,
  ENABLE_COMPRESSION: -13,
  HVM_GENERATION_ID_ADDR: -14,
  HVM_PAGING_RING_PFN: -15,
  HVM_MONITOR_RING_PFN: -16,
  HVM_SHARING_RING_PFN: -17,
  TOOLSTACK: -18,
  HVM_IOREQ_SERVER_PFN: -19,
  HVM_NR_IOREQ_SERVER_PAGES: -20,
} as const;

export const LOWEST_CHUNK = CHUNK.HVM_NR_IOREQ_SERVER_PAGES;

const CHUNK_NAMES = new Map<number, string>(Object.entries(CHUNK).map(([name, id]) => [id, name]));

/** A chunk marker's name: a page batch, a known negative marker, or the number itself. */
export function chunkName(marker: number): string {
  if (marker > 0) return `page batch (${marker})`;
  return CHUNK_NAMES.get(marker) ?? `UNKNOWN_CHUNK(${marker})`;
}

/**
 * The chunks that carry one HVM param (`u32 pad | u64 value`) and the HVM_PARAM index it
 * becomes in a v2 stream.
 */
export const PARAM_CHUNKS: ReadonlyMap<number, number> = new Map([
  [CHUNK.HVM_IDENT_PT, 12],
  [CHUNK.HVM_VM86_TSS, 15],
  [CHUNK.HVM_CONSOLE_PFN, 17],
  [CHUNK.HVM_ACPI_IOPORTS_LOCATION, 19],
  [CHUNK.HVM_VIRIDIAN, 9],
  [CHUNK.HVM_GENERATION_ID_ADDR, 34],
  [CHUNK.HVM_PAGING_RING_PFN, 27],
  [CHUNK.HVM_MONITOR_RING_PFN, 28],
  [CHUNK.HVM_SHARING_RING_PFN, 29],
  [CHUNK.HVM_IOREQ_SERVER_PFN, 32],
  [CHUNK.HVM_NR_IOREQ_SERVER_PAGES, 33],
]);

/** Chunks Xen's converter does not convert (Remus compression, tmem): neither does xenmig. */
export const UNSUPPORTED_CHUNKS: ReadonlySet<number> = new Set([CHUNK.TMEM, CHUNK.TMEM_EXTRA, CHUNK.COMPRESSED_DATA, CHUNK.ENABLE_COMPRESSION]);

/** The HVM tail's "magic" pfns, in the order they come, as HVM_PARAM indexes: IOREQ, BUFIOREQ, STORE. */
export const HVM_TAIL_PARAMS = [5, 6, 1] as const;

/** legacy.py's MAX_BATCH: at most 1024 pfns per page batch. */
export const LEGACY_MAX_BATCH = 1024;
/** legacy.py's MAX_VCPU_ID. */
export const LEGACY_MAX_VCPU_ID = 4095;

/** Extended-info "vcpu" block sizes: the vcpu_guest_context of a 64-bit (4 levels) or 32-bit (3 levels) guest. */
export const VCPU_CONTEXT_SIZE_64 = 0x1430;
export const VCPU_CONTEXT_SIZE_32 = 0xaf0;
/** The extended vcpu context after each basic one when an "extv" block is present. */
export const VCPU_EXTENDED_SIZE = 128;

/** A page batch entry: type in bits 31-28, pfn in 27-0. */
export const LEGACY_TYPE_MASK = 0xf0000000;
export const LEGACY_PFN_MASK = 0x0fffffff;
/** XTAB for pfn 0: xc_domain_save pads batches with these; the converter drops them. */
export const LEGACY_XTAB_ZERO = 0xf0000000;
/** Types at or above BROKEN (13 << 28) carry no page. */
export const LEGACY_FIRST_DATALESS = 0xd0000000;

/** The qemu tail signatures (21 octets) an HVM image may end with. */
export const QEMU_SIG_LENGTH = 21;
export const QEMU_SIG_V2 = 'DeviceModelRecord0002';
export const QEMU_SIG_REMUS = 'RemusDeviceModelState';
export const QEMU_SIG_TO_EOF = 'QemuDeviceModelRecord';

/**
 * What Xen's converter writes as xen_minor under xen_major 0 (its `__version__`), so the
 * output is byte for byte what it writes.
 */
export const CONVERTER_VERSION = 1;

/** libxl's legacy toolstack chunk version that carries the qemu physmap. */
export const TOOLSTACK_VERSION = 1;
