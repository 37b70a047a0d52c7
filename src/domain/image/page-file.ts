/**
 * A pfn-addressed file: page N lives at `base + N*4096`. Pages never written stay
 * holes, so a 2 GiB guest with little memory in use costs little disk. Writes are
 * positional, one per contiguous run of pfns, straight from the caller's buffer.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { PAGE_SIZE } from '../../format/constants.js';
import { IoError } from '../../format/errors.js';

/** Largest pfn whose offset a JS number (and the file) can still address exactly. */
export const MAX_FILE_PFN = 2 ** 40 - 1;

export class PageFile {
  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    readonly base: number,
  ) {}

  static async create(path: string, base = 0): Promise<PageFile> {
    return new PageFile(path, await openOrFail(path, 'wx+'), base);
  }

  static async openRead(path: string, base = 0): Promise<PageFile> {
    return new PageFile(path, await openOrFail(path, 'r'), base);
  }

  /** pfns[i] gets data[i*4096 ..]; runs of consecutive pfns become one write. */
  async writePages(pfns: readonly number[], data: Uint8Array): Promise<void> {
    let i = 0;
    while (i < pfns.length) {
      const first = pfns[i]!;
      checkPfn(first, this.path);
      let j = i + 1;
      while (j < pfns.length && pfns[j] === first + (j - i)) j++;
      checkPfn(pfns[j - 1]!, this.path);
      await this.writeAt(data.subarray(i * PAGE_SIZE, j * PAGE_SIZE), this.base + first * PAGE_SIZE);
      i = j;
    }
  }

  async writeAt(bytes: Uint8Array, position: number): Promise<void> {
    let off = 0;
    try {
      while (off < bytes.length) {
        const { bytesWritten } = await this.handle.write(bytes, off, bytes.length - off, position + off);
        off += bytesWritten;
      }
    } catch (err) {
      throw new IoError(`writing ${this.path}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Fills into[i*4096 ..] with page pfns[i]; holes and pages past the end read as zeros. */
  async readPages(pfns: readonly number[], into: Uint8Array): Promise<void> {
    let i = 0;
    while (i < pfns.length) {
      const first = pfns[i]!;
      let j = i + 1;
      while (j < pfns.length && pfns[j] === first + (j - i)) j++;
      await this.readAt(into.subarray(i * PAGE_SIZE, j * PAGE_SIZE), this.base + first * PAGE_SIZE);
      i = j;
    }
  }

  async readAt(into: Uint8Array, position: number): Promise<void> {
    let off = 0;
    try {
      while (off < into.length) {
        const { bytesRead } = await this.handle.read(into, off, into.length - off, position + off);
        if (bytesRead === 0) {
          into.fill(0, off);
          return;
        }
        off += bytesRead;
      }
    } catch (err) {
      throw new IoError(`reading ${this.path}: ${(err as Error).message}`, { cause: err });
    }
  }

  async truncate(size: number): Promise<void> {
    try {
      await this.handle.truncate(size);
    } catch (err) {
      throw new IoError(`sizing ${this.path}: ${(err as Error).message}`, { cause: err });
    }
  }

  async sync(): Promise<void> {
    await this.handle.sync();
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }
}

function checkPfn(pfn: number, path: string): void {
  if (pfn > MAX_FILE_PFN) {
    throw new IoError(`pfn 0x${pfn.toString(16)} lies beyond what ${path} can address (pfn limit 0x${MAX_FILE_PFN.toString(16)})`);
  }
}

async function openOrFail(path: string, flags: string): Promise<FileHandle> {
  try {
    return await open(path, flags);
  } catch (err) {
    throw new IoError(`cannot open ${path}: ${(err as Error).message}`, { cause: err });
  }
}
