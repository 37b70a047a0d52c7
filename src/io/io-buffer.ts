/**
 * Buffers that the kernel copies file data into or out of. Node hands out large
 * buffers on a page boundary, and so is every page of the page cache; a copy between
 * two addresses 4096 apart trips the CPU's 4K-aliasing stall. Measured here, reading a
 * 2 GiB file in 128 KiB pieces into a page-aligned buffer took 0.99 s, and 0.26 s into
 * the same buffer 64 octets on (`cat`, whose malloc'd buffer starts 16 octets into a
 * page, gets the fast case by luck).
 */
const PAGE = 4096;
/** Past a page boundary by a cache line: keeps 8-octet alignment for typed views. */
const SKEW = 64;

export function ioBuffer(size: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(size + PAGE).subarray(SKEW, SKEW + size);
}
