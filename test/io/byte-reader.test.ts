/** ByteReader over short reads, seekable and onward sources, and real pipes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ByteReader } from '../../src/io/byte-reader.js';
import { ioBuffer } from '../../src/io/io-buffer.js';
import { BufferRawSource, FdRawSource, FileRawSource, ReadableRawSource, type RawSource } from '../../src/io/raw-source.js';
import { TruncatedStreamError } from '../../src/format/errors.js';
import { withTmp } from '../support/tmp.js';

/** Hands out at most `max` octets per read, like a slow pipe. */
class DribbleSource implements RawSource {
  readonly canSeek = false;
  readonly name = 'dribble';
  private pos = 0;
  reads = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly max: number,
  ) {}
  async read(into: Uint8Array): Promise<number> {
    this.reads++;
    const n = Math.min(into.length, this.max, this.bytes.length - this.pos);
    into.set(this.bytes.subarray(this.pos, this.pos + n));
    this.pos += n;
    return n;
  }
  async close(): Promise<void> {}
}

const data = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 31) & 0xff);

test('exact reads assemble short reads and keep the position', async () => {
  const r = new ByteReader(new DribbleSource(data, 3), 16);
  assert.deepEqual(await r.read(10, 'a'), data.subarray(0, 10));
  assert.deepEqual(await r.read(100, 'b'), data.subarray(10, 110));
  await r.skip(1000, 'c');
  assert.equal(r.position, 1110);
  assert.deepEqual(await r.peek(4), data.subarray(1110, 1114));
  const tail = new Uint8Array(8890);
  await r.readInto(tail, 'd');
  assert.deepEqual(tail, data.subarray(1110));
  assert.equal(await r.atEnd(), true);
});

test('skip on a seekable source jumps without reading; past the end it is a truncation with the offset', async () => {
  let reads = 0;
  const src = new BufferRawSource(data);
  const counting: RawSource = { name: 'counting', canSeek: true, size: src.size, read: (i, p) => (reads++, src.read(i, p)), close: () => src.close() };
  const r = new ByteReader(counting, 64);
  await r.read(8, 'head');
  const before = reads;
  await r.skip(9000, 'pages');
  assert.equal(reads, before);
  assert.deepEqual(await r.read(4, 'after'), data.subarray(9008, 9012));
  await assert.rejects(r.skip(5000, 'page contents'), (err: unknown) => {
    assert.ok(err instanceof TruncatedStreamError);
    assert.equal(err.location.offset, 10_000);
    assert.match(err.message, /page contents needs 5000 octet\(s\), only 988 left/);
    return true;
  });
});

test('a read past the end of a dribbling source says how much was there', async () => {
  const r = new ByteReader(new DribbleSource(data.subarray(0, 50), 7), 16);
  await assert.rejects(r.read(80, 'record body'), /record body needs 80 octet\(s\), only 50 left/);
});

test('copyOut hands over exactly n octets in bounded pieces, buffered ones first, and keeps the position', async () => {
  const r = new ByteReader(new DribbleSource(data, 5), 16);
  assert.deepEqual(await r.read(3, 'head'), data.subarray(0, 3));
  const pieces: Uint8Array[] = [];
  await r.copyOut(1000, 'contents', (p) => void pieces.push(p.slice()), { piece: 8 });
  assert.ok(pieces.every((p) => p.length > 0 && p.length <= 8));
  assert.deepEqual(Buffer.concat(pieces), Buffer.from(data.subarray(3, 1003)));
  assert.equal(r.position, 1003);
  assert.deepEqual(await r.read(4, 'after'), data.subarray(1003, 1007));
  const aligned: number[] = [];
  await r.copyOut(1001, 'pages', (p) => void aligned.push(p.length), { piece: 12, align: 4 });
  assert.ok(aligned.slice(0, -1).every((k) => k > 0 && k <= 12 && k % 4 === 0), `pieces ${aligned}`);
  assert.equal(aligned.reduce((a, b) => a + b), 1001);
  assert.equal(r.position, 2008);
  await assert.rejects(r.copyOut(9000, 'page contents', () => undefined), (err: unknown) => {
    assert.ok(err instanceof TruncatedStreamError);
    assert.equal(err.location.offset, 10_000);
    assert.match(err.message, /page contents needs 9000 octet\(s\), only 7992 left/);
    return true;
  });
});

test('a large read grows its buffer only as octets arrive', async () => {
  const r = new ByteReader(new DribbleSource(new Uint8Array(1000), 100), 64);
  const before = process.memoryUsage().arrayBuffers;
  await assert.rejects(r.read(100 * 1024 * 1024, 'huge body'), TruncatedStreamError);
  assert.ok(process.memoryUsage().arrayBuffers - before < 8 * 1024 * 1024);
});

test('a Node stream source (socket, child stdout) frames the same bytes', async () => {
  const child = spawn(process.execPath, ['-e', `const b=Buffer.alloc(10000);for(let i=0;i<b.length;i++)b[i]=(i*31)&255;process.stdout.write(b)`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const r = new ByteReader(new ReadableRawSource('child', child.stdout), 1024);
  await r.skip(5000, 'first half');
  assert.deepEqual(await r.read(5000, 'second half'), data.subarray(5000));
  assert.equal(await r.atEnd(), true);
});

test('FdRawSource reads a pipe (a FIFO fed by a child in small bursts) onward, blocking or not', async () => {
  await withTmp(async (dir) => {
    for (const blocking of [false, true]) {
      const fifo = join(dir, `p${blocking}`);
      execFileSync('mkfifo', [fifo]);
      const writer = spawn(process.execPath, ['-e', `const fs=require('fs');const b=Buffer.alloc(10000);for(let i=0;i<b.length;i++)b[i]=(i*31)&255;const fd=fs.openSync(${JSON.stringify(fifo)},'w');for(let o=0;o<b.length;o+=777)fs.writeSync(fd,b.subarray(o,o+777));fs.closeSync(fd)`], { stdio: 'inherit' });
      // Listen before reading: the writer may exit while the reads are awaited.
      const exited = new Promise((resolve) => writer.on('exit', resolve));
      const fd = openSync(fifo, 'r');
      try {
        const r = new ByteReader(new FdRawSource('fifo', fd, { blocking }), 4096);
        await r.skip(3000, 'skip');
        assert.deepEqual(await r.read(7000, 'rest'), data.subarray(3000));
        assert.equal(await r.atEnd(), true);
      } finally {
        // The directory goes only once the writer has exited, even when a read failed.
        closeSync(fd);
        await exited;
      }
    }
  }, 'xenmig-fifo-');
});

test('FileRawSource and openFileOnward read files; directories are refused', async () => {
  await withTmp(async (dir) => {
    const path = join(dir, 'f');
    await writeFile(path, data);
    const f = await FileRawSource.open(path);
    assert.equal(f.size, data.length);
    const r = new ByteReader(f, 256);
    await r.skip(9990, 'x');
    assert.deepEqual(await r.read(10, 'y'), data.subarray(9990));
    await r.close();
    const onward = FdRawSource.openFileOnward(path);
    const r2 = new ByteReader(onward, 256);
    await r2.skip(9990, 'x');
    assert.deepEqual(await r2.read(10, 'y'), data.subarray(9990));
    await r2.close();
    await assert.rejects(FileRawSource.open(dir), /is a directory/);
    assert.throws(() => FdRawSource.openFileOnward(dir), /is a directory/);
    await assert.rejects(FileRawSource.open(join(dir, 'missing')), /cannot open/);
  }, 'xenmig-io-');
});

test('skip on a file read onward discards through FdRawSource: every octet read once, then a truncation past the end', async () => {
  await withTmp(async (dir) => {
    const path = join(dir, 'f');
    const data = new Uint8Array(300_000).map((_, i) => (i * 7) & 255);
    await writeFile(path, data);
    const raw = FdRawSource.openFileOnward(path);
    assert.equal(await raw.discard!(100_000), 100_000);
    const buf = new Uint8Array(10);
    assert.equal(await raw.read(buf), 10);
    assert.deepEqual(buf, data.subarray(100_000, 100_010));
    assert.equal(await raw.discard!(1_000_000), 199_990, 'a discard stops at the end of the file');
    assert.equal(await raw.discard!(5), 0);
    await raw.close();
    const reader = new ByteReader(FdRawSource.openFileOnward(path), 4096);
    await reader.skip(250_000, 'pages');
    assert.deepEqual(await reader.read(4, 'tail'), data.subarray(250_000, 250_004));
    await assert.rejects(reader.skip(60_000, 'pages'), (e: unknown) => e instanceof TruncatedStreamError && /needs 60000 octet\(s\), only 49996 left/.test((e as Error).message));
    await reader.close();
  }, 'xenmig-discard-');
});

test('I/O buffers start 64 octets into their memory, never on its first octet', () => {
  const b = ioBuffer(128 * 1024);
  assert.equal(b.length, 128 * 1024);
  assert.equal(b.byteOffset, 64);
});
