/**
 * Where bytes come from. A RawSource only moves bytes; ByteReader (byte-reader.ts) adds
 * buffering, exact reads and skipping on top, the same way for every kind of source.
 */
import { closeSync, fstatSync, openSync, read as fsRead, readSync, readvSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { IoError } from '../format/errors.js';
import { ioBuffer } from './io-buffer.js';

export interface RawSource {
  /** A name for messages: the path, "stdin", "socket". */
  readonly name: string;
  /** Total size when known (regular files). */
  readonly size?: number;
  /**
   * Read up to `into.length` octets. Returns 0 only at the end of the input. A source
   * that can seek (`canSeek`) reads at `position`; others ignore it and read onward.
   */
  read(into: Uint8Array, position: number): Promise<number>;
  /** True when positions can be jumped over without reading (regular files). */
  readonly canSeek: boolean;
  /**
   * Optional, for sources that cannot seek: pass over up to `n` octets without handing
   * them out (a source in memory drops them, a descriptor reads them into scratch
   * space). Returns how many; 0 only at the end.
   */
  discard?(n: number): Promise<number>;
  /**
   * Optional, for sources whose bytes arrive in buffers of their own: up to `n` octets as
   * views of those buffers, in order, without copying. The views stay valid until
   * `release` is called (once); a source that reuses its buffers waits for that before
   * reading more into them. Resolves to no views only at the end.
   */
  lend?(n: number): Promise<Lent>;
  /** With `lend`, when buffers are finite: octets that can be lent and unreleased at once. */
  readonly lendable?: number;
  close(): Promise<void>;
}

/** Octets lent by a source: valid until released. */
export interface Lent {
  views: Uint8Array[];
  release(): void;
}

const NOTHING_TO_RELEASE = (): void => undefined;

/**
 * Opens a stream file for reading: its descriptor and, for a regular file, its size.
 * A directory is refused with an IoError naming it.
 */
function openStreamFile(path: string): { fd: number; size: number | undefined } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new IoError(`cannot open ${path}: ${(err as Error).message}`, { cause: err });
  }
  const st = fstatSync(fd);
  if (st.isDirectory()) {
    closeSync(fd);
    throw new IoError(`${path} is a directory, expected a stream file`);
  }
  return { fd, size: st.isFile() ? st.size : undefined };
}

/** A regular file, read by position: skipping is free. */
export class FileRawSource implements RawSource {
  readonly canSeek = true;
  private constructor(
    readonly name: string,
    private readonly fd: number,
    readonly size: number,
    private readonly blocking: boolean,
  ) {}

  /**
   * `blocking`: positional reads are synchronous (for a command that only reads this
   * file: a thread-pool round trip costs more than a small read from the page cache).
   * Opening is synchronous either way: it is one quick call, and the first use of the
   * thread pool (starting its threads) cost `xenmig verify` milliseconds of idle time.
   */
  static async open(path: string, opts: { blocking?: boolean } = {}): Promise<FileRawSource> {
    const { fd, size } = openStreamFile(path);
    return new FileRawSource(path, fd, size ?? Number.MAX_SAFE_INTEGER, opts.blocking ?? false);
  }

  async read(into: Uint8Array, position: number): Promise<number> {
    try {
      if (this.blocking) return readSync(this.fd, into, 0, into.length, position);
      return await new Promise<number>((resolve, reject) =>
        fsRead(this.fd, into, 0, into.length, position, (err, n) => (err ? reject(err) : resolve(n))),
      );
    } catch (err) {
      throw new IoError(`reading ${this.name}: ${(err as Error).message}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    closeSync(this.fd);
  }
}

/** discard's scratch buffer: small enough to stay in the CPU cache. */
const DISCARD_PIECE = 64 * 1024;
/**
 * Pieces per readv: 4 MiB a call, a PAGE_DATA record's contents. Measured here with 2 MiB calls:
 * 0.22 s per 2 GiB, `cat` 0.24 s, plain 128 KiB reads 0.25-0.27 s.
 */
const DISCARD_PIECES = 64;
/** Octets discard reads between turns of the event loop (progress, signals). */
const DISCARD_BURST = 16 * 1024 * 1024;

/** The readv vector for up to `left` octets: the scratch buffer, over and over. */
function discardPieces(scratch: Uint8Array, left: number): Uint8Array[] {
  const whole = Math.min(DISCARD_PIECES, Math.floor(left / scratch.length));
  const pieces: Uint8Array[] = new Array(whole).fill(scratch);
  const rest = left - whole * scratch.length;
  if (whole < DISCARD_PIECES && rest > 0) pieces.push(scratch.subarray(0, rest));
  return pieces;
}

/**
 * A pipe or terminal by file descriptor, read onward with fs.read: cheaper than a Node
 * stream for a plain pipe, and it never reads ahead more than asked. With `blocking`
 * (a command whose only job is this input, like `verify -`) reads are synchronous:
 * a pipe hands out 64 KiB at a time and a thread-pool round trip per read would cost
 * more than the read itself. The event loop still gets a turn every few reads.
 */
export class FdRawSource implements RawSource {
  readonly canSeek = false;
  private syncReads = 0;
  private scratch: Uint8Array | undefined;
  constructor(
    readonly name: string,
    private readonly fd: number,
    private readonly opts: { blocking?: boolean; ownsFd?: boolean; size?: number } = {},
  ) {}

  /** Known only for a regular file read onward (progress wants it). */
  get size(): number | undefined {
    return this.opts.size;
  }

  /**
   * A regular file read strictly onward with blocking reads: every octet is read once,
   * skipping reads and discards (`verify --read-all`).
   */
  static openFileOnward(path: string): FdRawSource {
    const { fd, size } = openStreamFile(path);
    return new FdRawSource(path, fd, { blocking: true, ownsFd: true, ...(size !== undefined ? { size } : {}) });
  }

  async read(into: Uint8Array): Promise<number> {
    if (this.opts.blocking) {
      try {
        const n = readSync(this.fd, into, 0, into.length, null);
        if (++this.syncReads % 64 === 0) await new Promise((r) => setImmediate(r));
        return n;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EOF') return 0;
        // A non-blocking descriptor: wait the asynchronous way below.
        if (code !== 'EAGAIN') throw new IoError(`reading ${this.name}: ${(err as Error).message}`, { cause: err });
      }
    }
    return this.readAsync(into);
  }

  /**
   * Reads and drops up to n octets. Blocking, it reads on in one tight loop (a turn of
   * the event loop every DISCARD_BURST octets), each call a readv of up to 4 MiB whose
   * pieces all land in one small scratch buffer: the copy stays in the CPU cache, as with
   * `cat`'s buffer, with a sixteenth of the calls. Per-read promises cost
   * `verify --read-all` more than the reads themselves.
   */
  async discard(n: number): Promise<number> {
    const scratch = (this.scratch ??= ioBuffer(DISCARD_PIECE));
    if (!this.opts.blocking) return this.readAsync(scratch.subarray(0, Math.min(n, scratch.length)));
    let done = 0;
    while (done < n && done < DISCARD_BURST) {
      let k: number;
      try {
        k = readvSync(this.fd, discardPieces(scratch, n - done));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EOF') break;
        if (code !== 'EAGAIN') throw new IoError(`reading ${this.name}: ${(err as Error).message}`, { cause: err });
        // A non-blocking descriptor with nothing to read yet.
        return done > 0 ? done : this.readAsync(scratch.subarray(0, Math.min(n, scratch.length)));
      }
      if (k === 0) break;
      done += k;
    }
    if (done >= DISCARD_BURST) await new Promise((r) => setImmediate(r));
    return done;
  }

  private readAsync(into: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      const attempt = (): void => {
        fsRead(this.fd, into, 0, into.length, null, (err, n) => {
          if (err) {
            // A non-blocking pipe says "try again" instead of waiting.
            if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return void setTimeout(attempt, 1);
            if ((err as NodeJS.ErrnoException).code === 'EOF') return resolve(0);
            return reject(new IoError(`reading ${this.name}: ${err.message}`, { cause: err }));
          }
          resolve(n);
        });
      };
      attempt();
    });
  }

  async close(): Promise<void> {
    // Otherwise the descriptor belongs to whoever opened it (stdin belongs to the process).
    if (this.opts.ownsFd) closeSync(this.fd);
  }
}

/** What sources fed by a stream's events share: chunks arrive, then the end or an error. */
export abstract class StreamFedSource {
  readonly canSeek = false;
  protected ended = false;
  private error: Error | null = null;
  private wake: (() => void) | null = null;

  constructor(readonly name: string) {}

  protected listen(stream: Readable): void {
    const end = (): void => {
      this.ended = true;
      this.notify();
    };
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', (err) => {
      this.error = err;
      this.notify();
    });
  }

  protected notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Waits until `ready()`; false at the end of the input; the stream's error is thrown. */
  protected async arrival(ready: () => boolean): Promise<boolean> {
    for (;;) {
      if (ready()) return true;
      if (this.error) throw new IoError(`reading ${this.name}: ${this.error.message}`, { cause: this.error });
      if (this.ended) return false;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

/** How far a Readable may run ahead of its reader before the peer is held back. */
export const DEFAULT_READ_AHEAD = 1024 * 1024;

/**
 * A Node Readable (socket, child process stdout). It keeps reading ahead, up to
 * `readAhead` octets, while its consumer is busy (writing pages to disk, say), and
 * pauses the stream beyond that: the pause is the peer's backpressure. Chunks are
 * handed out in order, by copy (`read`) or as they are (`lend`).
 */
export class ReadableRawSource extends StreamFedSource implements RawSource {
  private chunks: Uint8Array[] = [];
  private head = 0;
  private queued = 0;

  constructor(
    name: string,
    private readonly stream: Readable,
    private readonly readAhead = DEFAULT_READ_AHEAD,
  ) {
    super(name);
    stream.on('data', (chunk: Uint8Array) => {
      this.chunks.push(chunk);
      this.queued += chunk.length;
      if (this.queued > this.readAhead) stream.pause();
      this.notify();
    });
    this.listen(stream);
  }

  async read(into: Uint8Array): Promise<number> {
    let n = 0;
    await this.take(into.length, (c) => {
      into.set(c, n);
      n += c.length;
    });
    return n;
  }

  /** Chunks are fresh buffers from the stream that nothing here writes again: lent as they are. */
  async lend(n: number): Promise<Lent> {
    const views: Uint8Array[] = [];
    await this.take(n, (c) => void views.push(c));
    return { views, release: NOTHING_TO_RELEASE };
  }

  /** Up to n queued octets to `each`, as views of the chunks, once any are queued; none at the end. */
  private async take(n: number, each: (c: Uint8Array) => void): Promise<void> {
    if (!(await this.arrival(() => this.chunks.length > 0))) return;
    let got = 0;
    while (got < n && this.chunks.length > 0) {
      const c = this.chunks[0]!;
      const k = Math.min(n - got, c.length - this.head);
      each(this.head === 0 && k === c.length ? c : c.subarray(this.head, this.head + k));
      got += k;
      this.head += k;
      if (this.head === c.length) {
        this.chunks.shift();
        this.head = 0;
      }
    }
    this.queued -= got;
    if (this.queued <= this.readAhead / 2 && this.stream.isPaused()) this.stream.resume();
  }

  async close(): Promise<void> {
    this.stream.destroy();
  }
}

/** Bytes already in memory. */
export class BufferRawSource implements RawSource {
  readonly canSeek = true;
  readonly size: number;
  constructor(
    private readonly bytes: Uint8Array,
    readonly name = 'buffer',
  ) {
    this.size = bytes.length;
  }

  async read(into: Uint8Array, position: number): Promise<number> {
    const n = Math.max(0, Math.min(into.length, this.bytes.length - position));
    into.set(this.bytes.subarray(position, position + n));
    return n;
  }

  async close(): Promise<void> {}
}

/**
 * Bytes pushed in by someone else (a relay that also parses what it forwards). `push`
 * resolves when the reader has taken the chunk, so a fast pusher cannot run ahead
 * of the parser by more than one chunk.
 */
export class PushRawSource implements RawSource {
  readonly canSeek = false;
  private queue: { chunk: Uint8Array; taken: () => void }[] = [];
  private pos = 0;
  private ended = false;
  private wake: (() => void) | null = null;

  constructor(
    readonly name = 'relay',
    /**
     * Called each time the reader asks for bytes and none are queued: everything pushed
     * so far has been taken and the reader cannot finish what it is reading without
     * more. A relay uses it to know the parser has caught up with the bytes it holds.
     */
    private readonly onStarved?: () => void,
  ) {}

  push(chunk: Uint8Array): Promise<void> {
    return new Promise((resolve) => {
      this.queue.push({ chunk, taken: resolve });
      const w = this.wake;
      this.wake = null;
      w?.();
    });
  }

  end(): void {
    this.ended = true;
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  read(into: Uint8Array): Promise<number> {
    return this.take(into.length, into);
  }

  /** Page contents a parser skips are dropped from the queue, never copied. */
  discard(n: number): Promise<number> {
    return this.take(n, undefined);
  }

  private async take(want: number, into: Uint8Array | undefined): Promise<number> {
    for (;;) {
      const head = this.queue[0];
      if (head !== undefined) {
        const n = Math.min(want, head.chunk.length - this.pos);
        into?.set(head.chunk.subarray(this.pos, this.pos + n));
        this.pos += n;
        if (this.pos >= head.chunk.length) {
          this.queue.shift();
          this.pos = 0;
          head.taken();
        }
        return n;
      }
      if (this.ended) return 0;
      this.onStarved?.();
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  async close(): Promise<void> {
    this.ended = true;
    for (const q of this.queue) q.taken();
    this.queue = [];
  }
}

/** A path, or "-" for standard input (read by position when stdin is a regular file). */
/**
 * `blocking` reads a regular file synchronously. A pipe or socket on stdin is read the
 * asynchronous way unless `blockingPipe` is set too: a blocking read of a stalled pipe
 * holds the thread, and with it any signal handler (a command that cleans up its outputs
 * on Ctrl-C must not block there; a read-only one may, for speed).
 */
export async function openRawSource(pathOrDash: string, opts: { blocking?: boolean; blockingPipe?: boolean } = {}): Promise<RawSource> {
  if (pathOrDash !== '-') return FileRawSource.open(pathOrDash, opts);
  const st = fstatSync(0);
  if (st.isFile()) return FileRawSource.open('/dev/stdin', opts);
  return new FdRawSource('stdin', 0, { blocking: (opts.blocking ?? false) && (opts.blockingPipe ?? false) });
}

