/**
 * The sender's bytes as they arrive on the guard's input, handed to the relay in batches:
 * every chunk that arrived since the last call, so the relay parses and forwards once per
 * burst rather than once per 64 KiB pipe read. Reading pauses while too much waits (the
 * sender then blocks: backpressure).
 *
 * Two kinds of input:
 *  - PipeInput: a pipe or socket descriptor (xl's pipe on the guard's stdin), read into
 *    the guard's own reused buffers with net.Socket's `onread` (public API): no buffer
 *    allocated per read, consecutive reads land side by side so that a batch is usually
 *    one view, forwarded and copied to the tee as it is. The relay says which octets it
 *    no longer needs (`release`); until then they stay untouched.
 *  - FileInput: a regular file on the guard's stdin, read the same way with fs.read.
 *  - ReadableInput: any Readable (terminals, tests), each chunk as node made it.
 */
import { Socket, type OnReadOpts, type SocketConstructorOpts } from 'node:net';
import { fstatSync, read } from 'node:fs';
import type { Readable } from 'node:stream';

export abstract class SenderInput {
  private queue: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private wake: (() => void) | undefined;
  /** Octets in the last batch. */
  lastLength = 0;

  constructor(private readonly gather = 1 << 20) {}

  /** Octets before `offset` in the sender's bytes are no longer needed (forwarded, copied, parsed). */
  abstract release(offset: number): void;
  /** Stop reading (the relay is done with the input). */
  abstract close(): void;
  /** Stop reading for good and drop the descriptor's handle. */
  abstract destroy(): void;
  /** A batch was taken: reading may go on. */
  protected abstract taken(): void;

  protected arrived(chunk: Buffer): void {
    const last = this.queue[this.queue.length - 1];
    // Side by side in one buffer (consecutive reads into the same slab): one view.
    if (last !== undefined && last.buffer === chunk.buffer && last.byteOffset + last.length === chunk.byteOffset) {
      this.queue[this.queue.length - 1] = Buffer.from(last.buffer, last.byteOffset, last.length + chunk.length);
    } else {
      this.queue.push(chunk);
    }
    this.queued += chunk.length;
    this.notify();
  }

  protected get waiting(): number {
    return this.queued;
  }

  protected ends(): void {
    this.ended = true;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** The next batch, or null at the end of input or when `quit()` says so. */
  async next(quit: () => boolean): Promise<Buffer[] | null> {
    while (this.queue.length === 0 && !this.ended && !quit()) {
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    // While bytes keep coming, gather up to `gather` of them: one parse and one write per
    // burst instead of per 64 KiB pipe read. A few turns of the event loop without new
    // bytes (microseconds) mean the sender paused (the handshake waits for an answer): go.
    for (let quiet = 0; quiet < 3 && this.queued < this.gather && !this.ended && !quit(); ) {
      const before = this.queued;
      await new Promise<void>((resolve) => setImmediate(resolve));
      quiet = this.queued === before ? quiet + 1 : 0;
    }
    if (this.queue.length === 0 || quit()) return null;
    const batch = this.queue;
    this.lastLength = this.queued;
    this.queue = [];
    this.queued = 0;
    this.taken();
    return batch;
  }
}

/**
 * How the guard reads a descriptor itself: 'pipe' (a pipe or socket, xl's case) or 'file'
 * (a regular file, `guard ... < saved.xl`); undefined for anything else (a terminal, or
 * no descriptor), which a Readable such as process.stdin reads instead.
 */
export function descriptorKind(fd: number): 'pipe' | 'file' | undefined {
  try {
    const st = fstatSync(fd);
    if (st.isFIFO() || st.isSocket()) return 'pipe';
    if (st.isFile()) return 'file';
  } catch {
    // No such descriptor: whoever reads it otherwise says so in its own way.
  }
  return undefined;
}

/** The guard's reader of `given`: its own slabs for a pipe, socket or file descriptor. */
export function senderInputFor(given: Readable | number): SenderInput {
  if (typeof given !== 'number') return new ReadableInput(given);
  return descriptorKind(given) === 'file' ? new FileInput(given) : new PipeInput(given);
}

/** Any Readable: chunks as node allocates them; nothing to release. */
export class ReadableInput extends SenderInput {
  constructor(
    private readonly input: Readable,
    private readonly limit = 8 << 20,
  ) {
    super();
    input.on('data', (c: Buffer) => {
      this.arrived(c);
      if (this.waiting >= this.limit) input.pause();
    });
    const end = (): void => this.ends();
    input.on('end', end);
    input.on('close', end);
    input.on('error', end);
  }

  release(): void {}

  protected taken(): void {
    if (this.input.isPaused()) this.input.resume();
  }

  close(): void {
    this.input.pause();
  }

  destroy(): void {
    this.input.destroy();
  }
}

/** A slab of the input's buffers, and the sender's octets it holds: [start, end). */
interface Slab {
  bytes: Buffer;
  start: number;
  end: number;
}

/** Reads shorter than this would waste a read: a slab with less room left is full. */
const MIN_READ = 64 << 10;

/**
 * A descriptor read into reused slabs: each read lands right after the previous one, so
 * that a batch is usually one view; slabs come back to a free list once the relay
 * released every octet in them. How the reads are made is the subclass's business.
 */
abstract class SlabInput extends SenderInput {
  /** Slabs holding octets not yet released, oldest first; the last is being filled. */
  private readonly inUse: Slab[] = [];
  private readonly free: Buffer[] = [];
  private received = 0;
  private released = 0;
  protected paused = false;
  protected closed = false;

  constructor(
    private readonly slabSize: number,
    /** Octets received and not yet released before reading pauses. */
    private readonly limit: number,
  ) {
    super();
    this.inUse.push({ bytes: Buffer.allocUnsafeSlow(slabSize), start: 0, end: Infinity });
  }

  private get filling(): Slab {
    return this.inUse[this.inUse.length - 1]!;
  }

  /** The free room at the end of the slab being filled (a fresh slab when too little is left). */
  protected room(): Buffer {
    let slab = this.filling;
    const used = this.received - slab.start;
    if (slab.bytes.length - used < MIN_READ) {
      slab.end = this.received;
      slab = { bytes: this.free.pop() ?? Buffer.allocUnsafeSlow(this.slabSize), start: this.received, end: Infinity };
      this.inUse.push(slab);
    }
    return slab.bytes.subarray(this.received - slab.start);
  }

  /** `n` octets were read into `into` (from `room()`); false when reading must pause. */
  protected filled(n: number, into: Uint8Array): boolean {
    this.received += n;
    this.arrived(Buffer.from(into.buffer, into.byteOffset, n));
    if (this.received - this.released < this.limit) return true;
    this.paused = true;
    return false;
  }

  /** Reading may go on after a pause. */
  protected abstract restart(): void;

  release(offset: number): void {
    if (offset <= this.released) return;
    this.released = Math.min(offset, this.received);
    while (this.inUse.length > 1 && this.inUse[0]!.end <= this.released) this.free.push(this.inUse.shift()!.bytes);
    if (this.paused && !this.closed && this.received - this.released <= this.limit / 2) {
      this.paused = false;
      this.restart();
    }
  }

  protected taken(): void {}
}

/** A pipe or socket descriptor (see the file's header). */
export class PipeInput extends SlabInput {
  private readonly socket: Socket;

  constructor(fd: number, slabSize = 1 << 20, limit = 8 << 20) {
    super(slabSize, limit);
    // `onread` is documented for the constructor too (net.Socket), though @types/node has it for connect only.
    const opts: SocketConstructorOpts & { onread: OnReadOpts } = {
      fd,
      readable: true,
      writable: false,
      onread: {
        // Called before each read: where it goes. Octets handed out here stay free until read into.
        buffer: () => this.room(),
        callback: (n, into) => this.filled(n, into),
      },
    };
    this.socket = new Socket(opts);
    const end = (): void => this.ends();
    this.socket.on('end', end);
    this.socket.on('close', end);
    this.socket.on('error', end);
  }

  protected restart(): void {
    this.socket.resume();
  }

  close(): void {
    this.closed = true;
    this.socket.pause();
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }
}

/**
 * A regular file on stdin (`xenmig guard ... < saved.xl`): read with fs.read into the
 * slabs, a whole slab (1 MiB) per read and one read in flight. A file stream would read
 * 64 KiB into a fresh buffer each time, through the thread pool: 16 times the round trips
 * and an allocation per chunk, which made the guard slower than `cat` in its place.
 */
export class FileInput extends SlabInput {
  private reading = false;
  private done = false;

  constructor(
    private readonly fd: number,
    slabSize = 1 << 20,
    limit = 8 << 20,
  ) {
    super(slabSize, limit);
    this.readMore();
  }

  private readMore(): void {
    if (this.reading || this.done || this.closed || this.paused) return;
    this.reading = true;
    const into = this.room();
    // Position null: from the descriptor's current offset, as a shell's `<` leaves it.
    read(this.fd, into, 0, into.length, null, (err, n) => {
      this.reading = false;
      if (this.closed) return;
      if (err !== null || n === 0) {
        this.done = true;
        this.ends();
        return;
      }
      if (this.filled(n, into)) this.readMore();
    });
  }

  protected restart(): void {
    this.readMore();
  }

  close(): void {
    this.closed = true;
  }

  destroy(): void {
    this.closed = true;
  }
}
