/**
 * The receiving end's socket, read into a pool of reused blocks. This file is the one
 * place xenmig leans on Node's internals: Node offers reading into the caller's own
 * buffers (`onread`) publicly only for sockets it connects, not for ones a server
 * accepts, so an accepted socket's native handle (`socket._handle`) is moved into a new
 * Socket made with `{ handle, onread }`. Everything after that is public API (pause and
 * resume start and stop the handle's reads). test/io/node-internals.test.ts fails,
 * naming this file, on a Node where this no longer works; the receiver then falls back
 * to a plain stream source (ReadableRawSource) on its own, only slower (see
 * bench/receive.bench.ts for how much).
 */
import { Socket } from 'node:net';
import { ioBuffer } from './io-buffer.js';
import { StreamFedSource, type Lent, type RawSource } from './raw-source.js';

/**
 * The native handle of a connected socket that has read nothing yet, or undefined (then
 * it cannot be taken over). Node keeps it in `_handle`, undocumented.
 */
function unreadHandle(socket: Socket): unknown {
  const handle = (socket as unknown as { _handle?: unknown })._handle;
  if (!handle || socket.readableLength > 0 || socket.bytesRead > 0 || socket.destroyed) return undefined;
  return handle;
}

/** A Socket over `handle` whose reads land in `onread.buffer()` (the option `new Socket` takes undocumented, `net.connect` documented). */
function socketOverHandle(handle: unknown, old: Socket, onread: { buffer: () => Uint8Array; callback: (n: number) => boolean }): Socket {
  return new Socket({ handle, allowHalfOpen: old.allowHalfOpen, onread } as ConstructorParameters<typeof Socket>[0]);
}

/** What a pooled socket source reads into: 64 KiB blocks stay in the CPU cache between the read and the write. */
const BLOCK = 64 * 1024;
/** A block with less room than this left is not read into again: a new one is taken. */
const MIN_READ = 16 * 1024;

interface Block {
  bytes: Uint8Array;
  /** Chunks queued or lent from this block, plus one while it is being read into. */
  refs: number;
}

interface PooledChunk {
  view: Uint8Array;
  block: Block;
}

/**
 * A TCP socket read into a fixed pool of reused blocks (Node's `onread`), not into a
 * fresh buffer per read: no allocation, page faults or garbage per 64 KiB, and the
 * block is still in cache when its pages are written. Lent views hold their block
 * until released; when every block is queued or lent the socket stops reading, which
 * is the peer's backpressure, so memory stays at the pool's size.
 */
export class PooledSocketSource extends StreamFedSource implements RawSource {
  /** The socket to use from now on (reads arrive here; write through it too). */
  readonly socket: Socket;
  /** Half the pool: the other half keeps reading while a lent piece is gathered. */
  readonly lendable: number;
  private readonly free: Block[] = [];
  private chunks: PooledChunk[] = [];
  private head = 0;
  /** Octets in `chunks`, not yet taken. */
  private queued = 0;
  private filling: Block;
  private used = 0;
  private stopped = false;

  /**
   * Takes over a connected socket that has not read anything yet; undefined when it
   * cannot (then use it as a ReadableRawSource).
   */
  static adopt(name: string, socket: Socket, poolBytes: number): PooledSocketSource | undefined {
    const handle = unreadHandle(socket);
    if (handle === undefined) return undefined;
    socket.pause();
    return new PooledSocketSource(name, socket, handle, Math.max(4, Math.ceil(poolBytes / BLOCK)));
  }

  private constructor(name: string, old: Socket, handle: unknown, blocks: number) {
    super(name);
    // One allocation: the kernel hands it out untouched and zero-fills each page on first
    // use, where separate 64 KiB buffers would each be cleared up front (~10 ms for 12 MiB).
    const all = ioBuffer(blocks * BLOCK);
    for (let i = 0; i < blocks; i++) this.free.push({ bytes: all.subarray(i * BLOCK, (i + 1) * BLOCK), refs: 0 });
    this.lendable = (blocks * BLOCK) / 2;
    this.filling = this.free.pop()!;
    this.filling.refs = 1;
    let next: Uint8Array = this.filling.bytes;
    this.socket = socketOverHandle(handle, old, {
      buffer: () => next,
      callback: (n: number) => {
        const more = this.arrived(n);
        next = this.filling.bytes.subarray(this.used);
        return more;
      },
    });
    this.listen(this.socket);
    this.socket.resume();
  }

  /** n octets were read at `used` in the filling block; false stops reading (no block left for later reads). */
  private arrived(n: number): boolean {
    const block = this.filling;
    block.refs++;
    this.chunks.push({ view: block.bytes.subarray(this.used, this.used + n), block });
    this.queued += n;
    this.used += n;
    if (BLOCK - this.used < MIN_READ) {
      this.unref(block);
      // Reading stops below before the last free block is taken, so there is one.
      this.filling = this.free.pop()!;
      this.filling.refs = 1;
      this.used = 0;
    }
    this.notify();
    if (this.free.length === 0) {
      this.stopped = true;
      return false;
    }
    return true;
  }

  private unref(block: Block): void {
    if (--block.refs > 0) return;
    this.free.push(block);
    if (this.stopped && !this.ended && !this.socket.destroyed) {
      this.stopped = false;
      // Returning false from onread stopped the handle's reads; a socket with onread starts them again on resume().
      this.socket.resume();
    }
  }

  async read(into: Uint8Array): Promise<number> {
    let n = 0;
    await this.take(into.length, (c) => {
      into.set(c.view, n);
      n += c.view.length;
      this.unref(c.block);
    });
    return n;
  }

  /**
   * Waits for a good part of n (a quarter of what may be lent) rather than the first
   * chunk: a piece of page contents then takes a few wake-ups, not one per 64 KiB read.
   * The rest of the pool keeps arriving meanwhile, so the wait always ends.
   */
  async lend(n: number): Promise<Lent> {
    const views: Uint8Array[] = [];
    const blocks: Block[] = [];
    const enough = Math.min(n, this.lendable / 4);
    await this.take(n, (c) => {
      views.push(c.view);
      blocks.push(c.block);
    }, enough);
    let released = false;
    return {
      views,
      release: () => {
        if (released) return;
        released = true;
        for (const b of blocks) this.unref(b);
      },
    };
  }

  async discard(n: number): Promise<number> {
    let got = 0;
    await this.take(n, (c) => {
      got += c.view.length;
      this.unref(c.block);
    });
    return got;
  }

  /**
   * Up to n queued octets to `each` (a chunk split where n ends holds its block once
   * more), once `least` are queued or the input ended; none at the end.
   */
  private async take(n: number, each: (c: PooledChunk) => void, least = 1): Promise<void> {
    if (!(await this.arrival(() => this.queued >= least || (this.ended && this.queued > 0)))) return;
    let got = 0;
    while (got < n && this.chunks.length > 0) {
      const c = this.chunks[0]!;
      const k = Math.min(n - got, c.view.length - this.head);
      if (this.head === 0 && k === c.view.length) {
        this.chunks.shift();
        each(c);
      } else {
        c.block.refs++;
        each({ view: c.view.subarray(this.head, this.head + k), block: c.block });
        this.head += k;
        if (this.head === c.view.length) {
          this.chunks.shift();
          this.head = 0;
          this.unref(c.block);
        }
      }
      got += k;
    }
    this.queued -= got;
  }

  async close(): Promise<void> {
    this.socket.destroy();
  }
}
