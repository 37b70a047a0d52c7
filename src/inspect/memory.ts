/**
 * Whether a restored or received domain holds the source's memory: page by page, a hash
 * each, and one digest over all. `demo` prints it; tests and library users call it too.
 */
import { createHash } from 'node:crypto';
import { PAGE_SIZE } from '../format/constants.js';
import { pagesZeroedOnRestore } from '../format/hvm-params.js';
import type { SimulatedDomain } from '../domain/simulated/simulated-domain.js';
import type { DomainSource } from '../domain/types.js';

export interface MemoryComparison {
  pages: number;
  /** Pages the restorer zeroes (HVM xenstore/console rings, ioreq pages): expected zero on the receiver. */
  zeroed: number[];
  differing: number[];
  sourceDigest: string;
  receiverDigest: string;
}

/** Hash every page of both, in pfn order: which pfns differ, and one digest over all. */
export async function compareMemory(source: SimulatedDomain, receiver: DomainSource): Promise<MemoryComparison> {
  const pfns = await source.populatedPfns();
  const theirs = await receiver.populatedPfns();
  const differing: number[] = [];
  const mine = new Set(pfns);
  const zeroed = pagesZeroedOnRestore(source.hvmParams).map((z) => z.pfn).filter((pfn) => mine.has(pfn));
  const zeroPage = Buffer.alloc(PAGE_SIZE);
  for (const pfn of theirs) if (!mine.has(pfn)) differing.push(pfn);
  const srcAll = createHash('sha256');
  const dstAll = createHash('sha256');
  const buf = Buffer.alloc(1024 * PAGE_SIZE);
  for (let i = 0; i < pfns.length; i += 1024) {
    const batch = pfns.slice(i, i + 1024);
    await receiver.readPages(batch, buf);
    for (let k = 0; k < batch.length; k++) {
      const expected = zeroed.includes(batch[k]!) ? zeroPage : source.pageRun(batch[k]!, 1);
      const a = createHash('sha1').update(expected).digest();
      const b = createHash('sha1').update(buf.subarray(k * PAGE_SIZE, (k + 1) * PAGE_SIZE)).digest();
      srcAll.update(a);
      dstAll.update(b);
      if (!a.equals(b)) differing.push(batch[k]!);
    }
  }
  return { pages: pfns.length, zeroed, differing, sourceDigest: srcAll.digest('hex'), receiverDigest: dstAll.digest('hex') };
}
