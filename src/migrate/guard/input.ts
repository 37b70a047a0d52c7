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
 *  - ReadableInput: any Readable (files, terminals, tests), each chunk as node made it.
 */
import { Socket, type OnReadOpts, type SocketConstructorOpts } from 'node:net';
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

/** A slab of the pipe input's buffers, and the sender's octets it holds: [start, end). */
interface Slab {
  bytes: Buffer;
  start: number;
  end: number;
}

/** Reads shorter than this would waste a read: a slab with less room left is full. */
const MIN_READ = 64 << 10;

/** A pipe or socket descriptor read into reused slabs (see the file's header). */
export class PipeInput extends SenderInput {
  private readonly socket: Socket;
  /** Slabs holding octets not yet released, oldest first; the last is being filled. */
  private readonly inUse: Slab[] = [];
  private readonly free: Buffer[] = [];
  private received = 0;
  private released = 0;
  private paused = false;
  private closed = false;

  constructor(
    fd: number,
    private readonly slabSize = 1 << 20,
    /** Octets received and not yet released before reading pauses. */
    private readonly limit = 8 << 20,
  ) {
    super();
    this.inUse.push({ bytes: Buffer.allocUnsafeSlow(slabSize), start: 0, end: Infinity });
    // `onread` is documented for the constructor too (net.Socket), though @types/node has it for connect only.
    const opts: SocketConstructorOpts & { onread: OnReadOpts } = {
      fd,
      readable: true,
      writable: false,
      onread: {
        // Called before each read: where it goes. Octets handed out here stay free until read into.
        buffer: () => this.room(),
        callback: (n, into) => this.onRead(n, into),
      },
    };
    this.socket = new Socket(opts);
    const end = (): void => this.ends();
    this.socket.on('end', end);
    this.socket.on('close', end);
    this.socket.on('error', end);
  }

  private get filling(): Slab {
    return this.inUse[this.inUse.length - 1]!;
  }

  /** The free room at the end of the slab being filled (a fresh slab when too little is left). */
  private room(): Buffer {
    let slab = this.filling;
    const used = this.received - slab.start;
    if (slab.bytes.length - used < MIN_READ) {
      slab.end = this.received;
      slab = { bytes: this.free.pop() ?? Buffer.allocUnsafeSlow(this.slabSize), start: this.received, end: Infinity };
      this.inUse.push(slab);
    }
    return slab.bytes.subarray(this.received - slab.start);
  }

  private onRead(n: number, into: Uint8Array): boolean {
    this.received += n;
    this.arrived(Buffer.from(into.buffer, into.byteOffset, n));
    if (this.received - this.released < this.limit) return true;
    this.paused = true;
    return false;
  }

  release(offset: number): void {
    if (offset <= this.released) return;
    this.released = Math.min(offset, this.received);
    while (this.inUse.length > 1 && this.inUse[0]!.end <= this.released) this.free.push(this.inUse.shift()!.bytes);
    if (this.paused && !this.closed && this.received - this.released <= this.limit / 2) {
      this.paused = false;
      this.socket.resume();
    }
  }

  protected taken(): void {}

  close(): void {
    this.closed = true;
    this.socket.pause();
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }
}
