/** A memory image directory (written by `xenmig restore`) as a domain to save or migrate. */
import { UsageError } from '../format/errors.js';
import type { DomainSource } from '../domain/types.js';

export async function openImageDomain(dir: string): Promise<DomainSource> {
  throw new UsageError(`memory images need the restore engineer's src/domain/image (not merged yet): ${dir}`);
}
