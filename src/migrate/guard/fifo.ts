/**
 * A real pipe for the receiving command's stdin. Node's spawn stdio 'pipe' is a
 * socketpair: relaying a migration through it costs the guard far more CPU per octet
 * than a pipe does (most of the guard's time went there). Node cannot create a pipe,
 * so we make a FIFO in a private temp directory, open both ends and remove the name
 * at once: what is left is an anonymous pipe held by two descriptors.
 */
import { spawnSync } from 'node:child_process';
import { close, closeSync, constants, mkdtempSync, openSync, rmSync, writev } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

export interface ChildStdinPipe {
  /** The read end, for the child's stdio[0]; close it in the parent once spawned. */
  readFd: number;
  /** The write end as a stream. */
  writer: Writable;
}

/** Undefined when no FIFO can be made here: then the caller falls back to spawn's socketpair. */
export function openChildStdinPipe(): ChildStdinPipe | undefined {
  let dir: string | undefined;
  try {
    dir = mkdtempSync(join(tmpdir(), 'xenmig-guard-'));
    const path = join(dir, 'stdin');
    if (spawnSync('mkfifo', ['-m', '600', path], { stdio: 'ignore' }).status !== 0) return undefined;
    // Opening one end of a FIFO blocks until the other is open, except a non-blocking
    // reader: that one lets the blocking writer and then the blocking reader open at once.
    // The reader the child gets must be blocking (a descriptor's flags are shared with it).
    const opener = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    let writeFd: number;
    let readFd: number;
    try {
      writeFd = openSync(path, constants.O_WRONLY);
      readFd = openSync(path, constants.O_RDONLY);
    } finally {
      closeSync(opener);
    }
    return { readFd, writer: new FdWriter(writeFd) };
  } catch {
    return undefined;
  } finally {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Writes to a blocking descriptor from the thread pool, everything buffered at once: one
 * writev per gathered batch (the kernel sleeps in it while the reader drains the pipe)
 * instead of a non-blocking write and an event-loop wake-up per 64 KiB of pipe space.
 */
class FdWriter extends Writable {
  constructor(
    private readonly fd: number,
    highWaterMark = 4 << 20,
  ) {
    super({ highWaterMark, decodeStrings: false });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.writeAll([chunk], done);
  }

  override _writev(chunks: { chunk: Buffer }[], done: (err?: Error | null) => void): void {
    this.writeAll(
      chunks.map((c) => c.chunk),
      done,
    );
  }

  private writeAll(bufs: Buffer[], done: (err?: Error | null) => void): void {
    // writev takes at most IOV_MAX (1024) buffers.
    const now = bufs.length > 1024 ? bufs.slice(0, 1024) : bufs;
    writev(this.fd, now, (err, n) => {
      if (err) return done(err);
      let rest = bufs.slice(now.length);
      // A signal can cut a write short: go on from where it stopped.
      let i = 0;
      while (i < now.length && n >= now[i]!.length) n -= now[i++]!.length;
      if (i < now.length) rest = [now[i]!.subarray(n), ...now.slice(i + 1), ...rest];
      if (rest.length === 0) return done();
      this.writeAll(rest, done);
    });
  }

  override _final(done: (err?: Error | null) => void): void {
    close(this.fd, (err) => done(err));
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    if (this.writableFinished) return done(err);
    close(this.fd, () => done(err));
  }
}
