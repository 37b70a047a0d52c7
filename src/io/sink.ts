/**
 * Where bytes go. A file output is written to a temporary name beside its target and
 * renamed only on commit, so a failure never leaves a half-written file under the
 * name a user asked for.
 */
import { open, rename, unlink, stat, type FileHandle } from 'node:fs/promises';
import { fsyncSync, writeSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { IoError, UsageError } from '../format/errors.js';
import { releaseTemp, sweepStaleTemps, tempPathFor } from './temp-files.js';

export interface ByteSink {
  readonly name: string;
  /** Octets written so far. */
  readonly written: number;
  /** The bytes may be a view into a buffer the caller reuses: write before returning. */
  write(bytes: Uint8Array): Promise<void>;
  /** Everything was written: make it durable and visible. */
  commit(): Promise<void>;
  /** Something failed: leave nothing behind where possible. */
  abort(): Promise<void>;
}

/**
 * File writes are made at most this large. Measured on Linux 6.18 / ext4: one 4 MiB
 * write into the page cache costs 2-4x the system time of the same bytes in 256 KiB
 * writes (the kernel builds large folios for big writes), and `convert` hands over
 * whole 4 MiB PAGE_DATA bodies.
 */
export const FILE_WRITE_CHUNK = 256 * 1024;

export { tempPathFor } from './temp-files.js';

export interface FileSinkOptions {
  /** Replace an existing file. */
  force?: boolean;
  /**
   * Write synchronously (for a command whose only job is this copy: a thread-pool
   * round trip per 256 KiB costs more than the write from the page cache itself).
   * The event loop still gets a turn every few writes.
   */
  blocking?: boolean;
}

/** Blocking writes between turns given to the event loop (16 MiB of FILE_WRITE_CHUNK). */
const WRITES_PER_TURN = 64;

export class AtomicFileSink implements ByteSink {
  written = 0;
  private done = false;
  private syncWrites = 0;
  private constructor(
    readonly name: string,
    private readonly tempPath: string,
    private readonly handle: FileHandle,
    private readonly blocking: boolean,
  ) {}

  /** Refuses to replace an existing file unless `force`. */
  static async create(path: string, opts: FileSinkOptions = {}): Promise<AtomicFileSink> {
    const existing = await stat(path).catch(() => undefined);
    if (existing !== undefined && !existing.isFile()) {
      // Renaming over a device or FIFO would replace the node itself (openSink writes those in place).
      throw new UsageError(`${path} exists and is not a regular file`);
    }
    if (existing !== undefined && !opts.force) throw new UsageError(`${path} exists; use --force to replace it`);
    await sweepStaleTemps(path);
    const tempPath = tempPathFor(path);
    let handle: FileHandle;
    try {
      handle = await open(tempPath, 'wx');
    } catch (err) {
      releaseTemp(tempPath);
      throw new IoError(`cannot create ${path}: ${(err as Error).message}`, { cause: err });
    }
    return new AtomicFileSink(path, tempPath, handle, opts.blocking ?? false);
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.blocking) return this.writeBlocking(bytes);
    let off = 0;
    try {
      while (off < bytes.length) {
        const { bytesWritten } = await this.handle.write(bytes, off, Math.min(FILE_WRITE_CHUNK, bytes.length - off));
        off += bytesWritten;
      }
    } catch (err) {
      throw new IoError(`writing ${this.name}: ${(err as Error).message}`, { cause: err });
    }
    this.written += bytes.length;
  }

  private async writeBlocking(bytes: Uint8Array): Promise<void> {
    let off = 0;
    try {
      while (off < bytes.length) {
        off += writeSync(this.handle.fd, bytes, off, Math.min(FILE_WRITE_CHUNK, bytes.length - off));
        this.syncWrites++;
      }
    } catch (err) {
      throw new IoError(`writing ${this.name}: ${(err as Error).message}`, { cause: err });
    }
    this.written += bytes.length;
    if (this.syncWrites >= WRITES_PER_TURN) {
      this.syncWrites = 0;
      await new Promise((r) => setImmediate(r));
    }
  }

  async commit(): Promise<void> {
    if (this.done) return;
    this.done = true;
    try {
      if (this.blocking) fsyncSync(this.handle.fd);
      else await this.handle.sync();
      await this.handle.close();
      await rename(this.tempPath, this.name);
    } catch (err) {
      await unlink(this.tempPath).catch(() => undefined);
      throw new IoError(`finishing ${this.name}: ${(err as Error).message}`, { cause: err });
    } finally {
      releaseTemp(this.tempPath);
    }
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.handle.close().catch(() => undefined);
    await unlink(this.tempPath).catch(() => undefined);
    releaseTemp(this.tempPath);
  }
}

/** Standard output or another descriptor we do not own (written synchronously: it is a pipe or a file). */
export class FdSink implements ByteSink {
  written = 0;
  constructor(
    readonly name: string,
    private readonly fd: number,
  ) {}

  async write(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) {
      try {
        off += writeSync(this.fd, bytes, off, bytes.length - off);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
          await new Promise((r) => setTimeout(r, 1));
          continue;
        }
        throw new IoError(`writing ${this.name}: ${(err as Error).message}`, { cause: err });
      }
    }
    this.written += bytes.length;
  }

  async commit(): Promise<void> {}
  async abort(): Promise<void> {}
}

/** A socket or child stdin: waits for 'drain' when the peer is slow (backpressure). */
export class WritableSink implements ByteSink {
  written = 0;
  private failure: Error | null = null;
  constructor(
    readonly name: string,
    private readonly stream: Writable,
    private readonly endOnCommit = false,
  ) {
    stream.on('error', (err) => (this.failure = err));
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.failure) throw new IoError(`writing ${this.name}: ${this.failure.message}`, { cause: this.failure });
    if (this.stream.destroyed || this.stream.writableEnded) throw new IoError(`writing ${this.name}: connection closed`);
    // The stream keeps a reference to what it is given; callers reuse their buffers.
    const ok = this.stream.write(Buffer.from(bytes));
    this.written += bytes.length;
    if (!ok) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = (): void => {
          cleanup();
          resolve();
        };
        const onGone = (err?: Error): void => {
          cleanup();
          reject(new IoError(`writing ${this.name}: ${err?.message ?? 'connection closed'}`, { cause: err }));
        };
        const cleanup = (): void => {
          this.stream.off('drain', onDrain);
          this.stream.off('error', onGone);
          this.stream.off('close', onGone);
        };
        this.stream.on('drain', onDrain);
        this.stream.on('error', onGone);
        this.stream.on('close', onGone);
      });
    }
  }

  async commit(): Promise<void> {
    if (this.endOnCommit) await new Promise<void>((resolve) => this.stream.end(resolve));
  }

  async abort(): Promise<void> {}
}

/**
 * Runs `work` writing into `sink`: commits when it completes, aborts (leaving nothing
 * under the output's name) when it throws.
 */
export async function writeWhole<T>(sink: ByteSink, work: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await work();
  } catch (err) {
    await sink.abort();
    throw err;
  }
  await sink.commit();
  return result;
}

/** Collects everything in memory (tests, small streams). */
export class BufferSink implements ByteSink {
  readonly name = 'buffer';
  private chunks: Uint8Array[] = [];
  written = 0;

  async write(bytes: Uint8Array): Promise<void> {
    // Uint8Array's own slice: a Node Buffer's slice would share memory with the caller's reused buffer.
    this.chunks.push(Uint8Array.prototype.slice.call(bytes));
    this.written += bytes.length;
  }

  async commit(): Promise<void> {}
  async abort(): Promise<void> {}

  bytes(): Uint8Array {
    const out = new Uint8Array(this.written);
    let pos = 0;
    for (const c of this.chunks) {
      out.set(c, pos);
      pos += c.length;
    }
    return out;
  }
}

/**
 * A device, FIFO or socket that already exists (/dev/null, a named pipe): written in
 * place. A rename would swap the node itself for a regular file, and such outputs
 * have no half-written state a rename could hide anyway.
 */
export class DeviceSink implements ByteSink {
  written = 0;
  private constructor(
    readonly name: string,
    private readonly handle: FileHandle,
  ) {}

  static async open(path: string): Promise<DeviceSink> {
    try {
      return new DeviceSink(path, await open(path, 'w'));
    } catch (err) {
      throw new IoError(`cannot open ${path}: ${(err as Error).message}`, { cause: err });
    }
  }

  async write(bytes: Uint8Array): Promise<void> {
    let off = 0;
    try {
      while (off < bytes.length) off += (await this.handle.write(bytes, off, bytes.length - off)).bytesWritten;
    } catch (err) {
      throw new IoError(`writing ${this.name}: ${(err as Error).message}`, { cause: err });
    }
    this.written += bytes.length;
  }

  async commit(): Promise<void> {
    await this.handle.close();
  }

  async abort(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }
}

/**
 * A path, or "-" for standard output. A regular file (new, or replaced with `force`)
 * is written atomically; an existing device or FIFO is written in place.
 */
export async function openSink(pathOrDash: string, opts: FileSinkOptions = {}): Promise<ByteSink> {
  if (pathOrDash === '-') return new FdSink('stdout', 1);
  const st = await stat(pathOrDash).catch(() => undefined);
  if (st?.isDirectory()) throw new UsageError(`${pathOrDash} is a directory, expected a file name`);
  if (st !== undefined && !st.isFile()) return DeviceSink.open(pathOrDash);
  return AtomicFileSink.create(pathOrDash, opts);
}
