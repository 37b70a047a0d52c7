/** Reading a domain's memory in tests, and what a restorer leaves of it. */
import type { DomainSource } from '../../src/domain/types.js';
import type { HvmParam } from '../../src/format/records.js';
import { pagesZeroedOnRestore } from '../../src/format/hvm-params.js';

/** The contents of `pfns`, in that order, 4096 octets each. */
export async function memoryOf(src: DomainSource, pfns: number[]): Promise<Buffer> {
  const buf = Buffer.alloc(pfns.length * 4096);
  for (let i = 0; i < pfns.length; i += 1024) {
    await src.readPages(pfns.slice(i, i + 1024), buf.subarray(i * 4096, Math.min(pfns.length, i + 1024) * 4096));
  }
  return buf;
}

/** `mem` (the pages of `pfns`) with the pages libxc's restorer zeroes for these HVM params zeroed. */
export function zeroRestoredPages(mem: Buffer, pfns: number[], params: readonly HvmParam[]): Buffer {
  for (const { pfn } of pagesZeroedOnRestore(params)) {
    const i = pfns.indexOf(pfn);
    if (i >= 0) mem.fill(0, i * 4096, (i + 1) * 4096);
  }
  return mem;
}

/** What a restore of `src` must give for `pfns`: its memory, with the xenstore/console rings and ioreq pages zero. */
export async function memoryAfterRestore(src: DomainSource, pfns: number[]): Promise<Buffer> {
  const params = src.guestType === 'hvm' ? await src.getHvmParams() : [];
  return zeroRestoredPages(await memoryOf(src, pfns), pfns, params);
}
