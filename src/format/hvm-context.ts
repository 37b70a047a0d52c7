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
