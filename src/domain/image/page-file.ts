/**
 * A pfn-addressed file: page N lives at `base + N*4096`. Pages never written stay
 * holes, so a 2 GiB guest with little memory in use costs little disk. Writes are
 * positional, one per contiguous run of pfns, straight from the caller's buffer.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { writeSync } from 'node:fs';
import { PAGE_SIZE } from '../../format/constants.js';
import { IoError } from '../../format/errors.js';

/**
 * Page runs are written at most this much per call. Measured on Linux 6.18 / ext4: 4 MiB
 * writes at 4 MiB-aligned offsets (what pfn-addressed runs are) cost 2-4x the system time
 * of 256 KiB writes, as the page cache then builds large folios for each write.
 */
const WRITE_CHUNK = 256 * 1024;

/** Largest pfn whose offset a JS number (and the file) can still address exactly. */
export const MAX_FILE_PFN = 2 ** 40 - 1;

/** Blocking writes between turns given to the event loop (16 MiB of WRITE_CHUNK). */
const WRITES_PER_TURN = 64;

export interface PageFileOptions {
  /**
   * Write synchronously: for a command whose only job is filling this file from a local
   * input, a thread-pool round trip per 256 KiB costs more than the write itself. The
   * event loop still gets a turn every few writes.
   */
  blocking?: boolean;
}

export class PageFile {
  private syncWrites = 0;
  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    readonly base: number,
    private readonly blocking = false,
  ) {}

  static async create(path: string, base = 0, opts: PageFileOptions = {}): Promise<PageFile> {
    return new PageFile(path, await openOrFail(path, 'wx+'), base, opts.blocking ?? false);
  }

  static async openRead(path: string, base = 0): Promise<PageFile> {
    return new PageFile(path, await openOrFail(path, 'r'), base);
  }

  /** pfns[i] gets data[i*4096 ..]; runs of consecutive pfns become one write. */
  async writePages(pfns: readonly number[], data: Uint8Array): Promise<void> {
    for (const [i, j] of runsOf(pfns)) {
      checkPfn(pfns[j - 1]!, this.path);
      await this.writeAt(data.subarray(i * PAGE_SIZE, j * PAGE_SIZE), this.base + pfns[i]! * PAGE_SIZE);
    }
  }

  async writeAt(bytes: Uint8Array, position: number): Promise<void> {
    let off = 0;
    try {
      while (off < bytes.length) {
        const n = Math.min(WRITE_CHUNK, bytes.length - off);
        if (this.blocking) {
          off += writeSync(this.handle.fd, bytes, off, n, position + off);
          this.syncWrites++;
        } else {
          off += (await this.handle.write(bytes, off, n, position + off)).bytesWritten;
        }
      }
    } catch (err) {
      throw new IoError(`writing ${this.path}: ${(err as Error).message}`, { cause: err });
    }
    if (this.syncWrites >= WRITES_PER_TURN) {
      this.syncWrites = 0;
      await new Promise((r) => setImmediate(r));
    }
  }

  /** Fills into[i*4096 ..] with page pfns[i]; holes and pages past the end read as zeros. */
  async readPages(pfns: readonly number[], into: Uint8Array): Promise<void> {
    for (const [i, j] of runsOf(pfns)) {
      await this.readAt(into.subarray(i * PAGE_SIZE, j * PAGE_SIZE), this.base + pfns[i]! * PAGE_SIZE);
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

/** Index ranges [i, j) of pfns that are consecutive numbers: one I/O each. */
function* runsOf(pfns: readonly number[]): Generator<[number, number]> {
  let i = 0;
  while (i < pfns.length) {
    const first = pfns[i]!;
    let j = i + 1;
    while (j < pfns.length && pfns[j] === first + (j - i)) j++;
    yield [i, j];
    i = j;
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
