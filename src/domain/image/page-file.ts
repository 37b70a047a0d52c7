/**
 * A pfn-addressed file: page N lives at `base + N*4096`. Pages never written stay
 * holes, so a 2 GiB guest with little memory in use costs little disk. Writes are
 * positional, one per contiguous run of pfns, straight from the caller's buffer.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { writeSync, writevSync } from 'node:fs';
import { PAGE_SIZE } from '../../format/constants.js';
import { IoError } from '../../format/errors.js';
import { ViewCursor } from '../../io/views.js';

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

/**
 * Queued page writes held at most (the bytes stay in the caller's buffers meanwhile): a
 * couple of PAGE_DATA records, so the writer always has the next one while the stream
 * reader parses the one after.
 */
const QUEUE_LIMIT = 8 * 1024 * 1024;

/**
 * Queued runs this small are written synchronously when their turn comes: a thread-pool
 * round trip costs more than writing a few pages from the page cache's point of view,
 * and a dirty round's scattered pages would otherwise queue up one round trip each.
 */
const INLINE_WRITE = 64 * 1024;

/**
 * Large runs written in the thread pool at once (never two over the same octets, so
 * the order still holds): the next is under way when one finishes, not one event-loop
 * turn later. Measured on the migration receiver, 1 GiB into tmpfs, runs taken in
 * turn: one at a time 1005-1128 MiB/s, two 1062-1198, for the same CPU time.
 */
const IN_FLIGHT = 2;

interface QueuedRun {
  position: number;
  views: Uint8Array[];
  bytes: number;
  /** The caller's buffers are free once this run is written (the last run of a call). */
  done?: () => void;
}

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
  private readonly queue: QueuedRun[] = [];
  private queuedBytes = 0;
  /** Runs being written in the thread pool (taken off `queue`). */
  private inFlight: QueuedRun[] = [];
  private failure: IoError | undefined;
  private waiters: (() => void)[] = [];
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
    await this.drain();
    for (const [i, j] of runsOf(pfns)) {
      checkPfn(pfns[j - 1]!, this.path);
      await this.writeAt(data.subarray(i * PAGE_SIZE, j * PAGE_SIZE), this.base + pfns[i]! * PAGE_SIZE);
    }
  }

  /**
   * pfns[i] gets octets [i*4096, (i+1)*4096) of the concatenated `views`, written later
   * in the order queued (one vectored write per run of consecutive pfns; runs over
   * different octets may overlap in time).
   * Resolves once queued and the queue is within its limit; a failed write shows here
   * next time, or at `drain`. The views must stay unchanged until `done` is called
   * (once: when written, or when dropped after a failure).
   */
  async queuePages(pfns: readonly number[], views: readonly Uint8Array[], done: () => void): Promise<void> {
    const runs = [...runsOf(pfns)];
    try {
      this.throwFailure();
      for (const [, j] of runs) checkPfn(pfns[j - 1]!, this.path);
    } catch (err) {
      done();
      throw err;
    }
    if (runs.length === 0) done();
    const cursor = new ViewCursor(views);
    for (const [i, j] of runs) {
      const bytes = (j - i) * PAGE_SIZE;
      this.queue.push({ position: this.base + pfns[i]! * PAGE_SIZE, views: cursor.take(bytes), bytes });
      this.queuedBytes += bytes;
    }
    if (runs.length > 0) this.queue[this.queue.length - 1]!.done = done;
    this.pump();
    while (this.queuedBytes > QUEUE_LIMIT && this.failure === undefined) await this.nextWrite();
    this.throwFailure();
  }

  /** Every queued write done; throws the first that failed. */
  async drain(): Promise<void> {
    while (this.inFlight.length > 0 || (this.queue.length > 0 && this.failure === undefined)) await this.nextWrite();
    this.throwFailure();
  }

  /** Nothing more is written: the queue is dropped and the write under way awaited. */
  async settle(): Promise<void> {
    this.failure ??= new IoError(`writing ${this.path}: abandoned`);
    this.dropQueue();
    while (this.inFlight.length > 0) await this.nextWrite();
  }

  /** Nothing queued is written now: its buffers go back to their owners. */
  private dropQueue(): void {
    const dropped = this.queue.splice(0);
    for (const r of dropped) {
      this.queuedBytes -= r.bytes;
      r.done?.();
    }
  }

  private throwFailure(): void {
    if (this.failure) throw this.failure;
  }

  private nextWrite(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wakeWaiters(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /**
   * Starts queued runs in order: small ones written at once (when nothing is in flight),
   * large ones in the thread pool, up to IN_FLIGHT that touch different octets.
   */
  private pump(): void {
    while (this.queue.length > 0 && this.failure === undefined) {
      const run = this.queue[0]!;
      if (run.bytes > INLINE_WRITE && !this.blocking) {
        if (this.inFlight.length >= IN_FLIGHT || this.inFlight.some((r) => overlaps(r, run))) return;
        this.queue.shift();
        this.inFlight.push(run);
        this.writeRun(run).then(
          () => this.written(run),
          (err: unknown) => this.failed(run, err),
        );
        continue;
      }
      if (this.inFlight.length > 0) return;
      try {
        let views = run.views;
        for (let done = 0; done < run.bytes; ) {
          const k = writevSync(this.handle.fd, views, run.position + done);
          done += k;
          if (done < run.bytes) views = restOf(run.views, done, run.bytes);
        }
        this.queue.shift();
        this.queuedBytes -= run.bytes;
        run.done?.();
      } catch (err) {
        this.failed(run, err);
        return;
      }
    }
    this.wakeWaiters();
  }

  /**
   * A queued run, WRITE_CHUNK octets per vectored write (views of the caller's buffers,
   * no copy): a lent piece is 2 MiB at a 2 MiB-aligned offset, and such writes cost
   * ext4 2-3x the system time of 256 KiB ones (see WRITE_CHUNK).
   */
  private async writeRun(run: QueuedRun): Promise<void> {
    const cursor = new ViewCursor(run.views);
    for (let done = 0; done < run.bytes; ) {
      const n = Math.min(WRITE_CHUNK, run.bytes - done);
      const piece = cursor.take(n);
      let views = piece;
      for (let k = 0; k < n; ) {
        k += (await this.handle.writev(views, run.position + done + k)).bytesWritten;
        if (k < n) views = restOf(piece, k, n);
      }
      done += n;
    }
  }

  private written(run: QueuedRun): void {
    this.inFlight.splice(this.inFlight.indexOf(run), 1);
    this.queuedBytes -= run.bytes;
    run.done?.();
    this.pump();
    this.wakeWaiters();
  }

  private failed(run: QueuedRun, err: unknown): void {
    const at = this.inFlight.indexOf(run);
    if (at >= 0) {
      this.inFlight.splice(at, 1);
      this.queuedBytes -= run.bytes;
      run.done?.();
    }
    this.failure ??= err instanceof IoError ? err : new IoError(`writing ${this.path}: ${(err as Error).message}`, { cause: err });
    this.dropQueue();
    this.wakeWaiters();
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
    await this.drain();
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
    await this.drain();
    try {
      await this.handle.truncate(size);
    } catch (err) {
      throw new IoError(`sizing ${this.path}: ${(err as Error).message}`, { cause: err });
    }
  }

  async sync(): Promise<void> {
    await this.drain();
    await this.handle.sync();
  }

  async close(): Promise<void> {
    await this.settle();
    await this.handle.close().catch(() => undefined);
  }
}

function overlaps(a: QueuedRun, b: QueuedRun): boolean {
  return a.position < b.position + b.bytes && b.position < a.position + a.bytes;
}

/** What a short vectored write left: octets [done, total) of the views. */
function restOf(views: readonly Uint8Array[], done: number, total: number): Uint8Array[] {
  const c = new ViewCursor(views);
  c.take(done);
  return c.take(total - done);
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
