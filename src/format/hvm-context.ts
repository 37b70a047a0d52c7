/**
 * Xen's HVM context blob (the body of HVM_CONTEXT) is a run of save records, each with a
 * descriptor `typecode u16 | instance u16 | length u32` in the host's (little-endian)
 * order, ending with typecode 0. Only what summaries need: the CPU records' instances.
 */
/** Typecodes of Xen's HVM save records (public/arch-x86/hvm/save.h). */
export const HVM_SAVE_TYPE_END = 0;
export const HVM_SAVE_TYPE_HEADER = 1;
export const HVM_SAVE_TYPE_CPU = 2;

/** The vcpu ids of the CPU records in an HVM context blob (little-endian descriptors). */
export function hvmContextVcpus(blob: Uint8Array): number[] {
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const ids: number[] = [];
  for (let off = 0; off + 8 <= blob.length; ) {
    const typecode = view.getUint16(off, true);
    const instance = view.getUint16(off + 2, true);
    const length = view.getUint32(off + 4, true);
    if (typecode === HVM_SAVE_TYPE_END) break;
    if (typecode === HVM_SAVE_TYPE_CPU) ids.push(instance);
    off += 8 + length;
  }
  return ids;
}

/** HVM_SAVE_MAGIC in the HEADER record's first field. */
export const HVM_FILE_MAGIC = 0x54381286;

/** What Xen's HEADER save record carries (struct hvm_save_header). */
export interface HvmSaveHeader {
  version: number;
  changeset: bigint;
  /** CPUID leaf 1 eax of the host that saved. */
  cpuid: number;
  /** Guest TSC frequency in kHz. */
  gtscKhz: number;
}

/** An HVM context blob: HEADER, one CPU record per entry of `cpus` (instance = index), END. */
export function encodeHvmContext(header: HvmSaveHeader, cpus: readonly Uint8Array[]): Uint8Array {
  const size = 8 + 24 + cpus.reduce((n, c) => n + 8 + c.length, 0) + 8;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let off = 0;
  const descriptor = (typecode: number, instance: number, length: number): void => {
    view.setUint16(off, typecode, true);
    view.setUint16(off + 2, instance, true);
    view.setUint32(off + 4, length, true);
    off += 8;
  };
  descriptor(HVM_SAVE_TYPE_HEADER, 0, 24);
  view.setUint32(off, HVM_FILE_MAGIC, true);
  view.setUint32(off + 4, header.version, true);
  view.setBigUint64(off + 8, header.changeset, true);
  view.setUint32(off + 16, header.cpuid, true);
  view.setUint32(off + 20, header.gtscKhz, true);
  off += 24;
  cpus.forEach((cpu, instance) => {
    descriptor(HVM_SAVE_TYPE_CPU, instance, cpu.length);
    out.set(cpu, off);
    off += cpu.length;
  });
  descriptor(HVM_SAVE_TYPE_END, 0, 0);
  return out;
}
