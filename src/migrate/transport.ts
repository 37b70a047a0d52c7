/**
 * A migration runs over any duplex byte pair: a TCP socket, our own stdin/stdout (the
 * receiving end of `ssh host xenmig receive --stdio`), a child process's pipes (the
 * sending end of `--ssh-command`), or an in-process pipe pair in tests. A Channel is
 * that pair as one ByteReader (the input, read by the handshake and the stream reader
 * alike) and one ChannelSink (the output).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { IoError } from '../format/errors.js';
import { ByteReader } from '../io/byte-reader.js';
import { ReadableRawSource, type RawSource } from '../io/raw-source.js';
import { PooledSocketSource } from '../io/pooled-socket.js';
import type { ByteSink } from '../io/sink.js';

/** Writes smaller than this are gathered into one buffer; larger ones go out on their own. */
const COALESCE = 256 * 1024;
const LARGE = 64 * 1024;
/**
 * How far the receiving side reads ahead of the restore engine: a whole PAGE_DATA record
 * (4 MiB), so the socket keeps flowing while the engine writes the previous record's
 * pages. More would only lengthen the backlog the receiver works off during downtime.
 */
const READ_AHEAD = 4 * 1024 * 1024;
/**
 * A socket's read blocks (see PooledSocketSource): the read-ahead, plus the page
 * contents lent to a sink that writes them while the stream goes on (a memory image
 * queues 8 MiB).
 */
const POOL = READ_AHEAD + 8 * 1024 * 1024;

/**
 * A ByteSink over a Writable that keeps small writes (record headers, pfn arrays, handshake
 * messages) together and hands large ones (page runs) to the stream without copying when
 * the transport copies them into the kernel before its write callback: then waiting for
 * that callback is enough to let the caller reuse its buffer. `flush` pushes out what is
 * gathered (the handshake needs its messages to leave now).
 */
export class ChannelSink implements ByteSink {
  written = 0;
  private buf = Buffer.allocUnsafe(COALESCE);
  private used = 0;
  private failure: Error | null = null;
  private closed = false;

  constructor(
    readonly name: string,
    private readonly stream: Writable,
    /** True for sockets and pipes (libuv writes to the kernel before calling back). */
    private readonly kernelCopies: boolean,
  ) {
    stream.on('error', (err) => (this.failure ??= err));
    stream.on('close', () => (this.closed = true));
  }

  private check(): void {
    if (this.failure) throw new IoError(`writing ${this.name}: ${this.failure.message}`, { cause: this.failure });
    if (this.closed || this.stream.destroyed || this.stream.writableEnded) throw new IoError(`writing ${this.name}: connection closed`);
  }

  async write(bytes: Uint8Array): Promise<void> {
    this.check();
    this.written += bytes.length;
    if (bytes.length < LARGE) {
      if (this.used + bytes.length > this.buf.length) await this.flush();
      this.buf.set(bytes, this.used);
      this.used += bytes.length;
      return;
    }
    await this.flush();
    if (this.kernelCopies) await this.send(bytes, true);
    else await this.send(Buffer.from(bytes), false);
  }

  /** Send what is gathered; a fresh buffer takes its place, so nothing in flight is overwritten. */
  async flush(): Promise<void> {
    if (this.used === 0) return;
    const out = this.buf.subarray(0, this.used);
    this.buf = Buffer.allocUnsafe(COALESCE);
    this.used = 0;
    await this.send(out, false);
  }

  private send(bytes: Uint8Array, waitWritten: boolean): Promise<void> {
    this.check();
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const done = (err?: Error | null): void => {
        if (settled) return;
        settled = true;
        this.stream.off('close', onClose);
        this.stream.off('drain', onDrain);
        if (err) reject(new IoError(`writing ${this.name}: ${err.message}`, { cause: err }));
        else resolve();
      };
      const onClose = (): void => done(this.failure ?? new Error('connection closed'));
      const onDrain = (): void => {
        if (!waitWritten) done();
      };
      this.stream.on('close', onClose);
      const ok = this.stream.write(bytes, (err) => {
        if (err) done(err);
        else if (waitWritten) done();
      });
      if (!waitWritten) {
        if (ok) done();
        else this.stream.on('drain', onDrain);
      }
    });
  }

  async commit(): Promise<void> {
    await this.flush();
  }

  async abort(): Promise<void> {
    this.used = 0;
  }
}

export interface Channel {
  readonly name: string;
  readonly reader: ByteReader;
  readonly sink: ChannelSink;
  /** Finish our output (the peer reads end of input) and stop reading. */
  close(): Promise<void>;
  /** Cut the connection now (on failure). */
  destroy(): void;
}

function channelOf(name: string, input: Readable | RawSource, output: Writable, kernelCopies: boolean, extra?: () => void): Channel {
  const sink = new ChannelSink(name, output, kernelCopies);
  const reader = new ByteReader('read' in input && 'canSeek' in input ? input : new ReadableRawSource(name, input, READ_AHEAD));
  return {
    name,
    reader,
    sink,
    async close() {
      await sink.flush().catch(() => undefined);
      await new Promise<void>((resolve) => {
        if (output.writableEnded || output.destroyed) return resolve();
        output.end(() => resolve());
        output.once('error', () => resolve());
      });
      extra?.();
    },
    destroy() {
      output.destroy();
      void reader.close();
      extra?.();
    },
  };
}

export interface SocketChannelOptions {
  /**
   * The receiving end of a migration: the socket is read into a pool of reused blocks
   * (PooledSocketSource) that page contents are lent from. A sender reads only the
   * handshake's few octets and keeps a plain stream source.
   */
  receiving?: boolean;
  /** Cut the connection when no octet moved either way for this long (0 or absent: never). */
  idleTimeoutMs?: number;
  /** Told just before an idle connection is cut. */
  onIdle?: () => void;
}

export function socketChannel(socket: Socket, opts: SocketChannelOptions = {}): Channel {
  const name = `${socket.remoteAddress ?? 'peer'}:${socket.remotePort ?? '?'}`;
  const pooled = opts.receiving ? PooledSocketSource.adopt(name, socket, POOL) : undefined;
  const s = pooled?.socket ?? socket;
  s.setNoDelay(true);
  if (opts.idleTimeoutMs) {
    s.setTimeout(opts.idleTimeoutMs, () => {
      opts.onIdle?.();
      s.destroy();
    });
  }
  return channelOf(name, pooled ?? s, s, true, () => s.destroySoon());
}

export async function connectChannel(host: string, port: number): Promise<Channel> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect({ host, port });
    s.once('connect', () => resolve(s));
    s.once('error', (err) => reject(new IoError(`cannot connect to ${host}:${port}: ${err.message}`, { cause: err })));
  });
  return socketChannel(socket);
}

/** Our own standard input and output (the receiving end of an ssh pipe). */
export function stdioChannel(): Channel {
  return channelOf('stdio', process.stdin, process.stdout, true);
}

/** A shell command whose stdin/stdout reach a receiver (`ssh host xenmig receive --stdio`), as `xl migrate` runs it. */
export function commandChannel(command: string): { channel: Channel; child: ChildProcess } {
  const child = spawn('sh', ['-c', command], { stdio: ['pipe', 'pipe', 'inherit'] });
  const channel = channelOf(`"${command}"`, child.stdout!, child.stdin!, true);
  child.stdin!.on('error', () => undefined);
  return { channel, child };
}

/** Two connected channels in this process (tests): what one writes the other reads. */
export function pipePair(): [Channel, Channel] {
  const ab = new PassThrough();
  const ba = new PassThrough();
  return [channelOf('pipe a', ba, ab, false), channelOf('pipe b', ab, ba, false)];
}
