/** A memory image directory (written by `xenmig restore`) as a domain to save or migrate. */
import { MemoryImage } from '../domain/image/memory-image.js';
import type { DomainSource } from '../domain/types.js';

export async function openImageDomain(dir: string): Promise<DomainSource> {
  return MemoryImage.open(dir);
}
