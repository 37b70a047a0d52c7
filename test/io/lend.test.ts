/** Lending: page contents handed out as the source's own buffers, no copy, until released. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { ByteReader } from '../../src/io/byte-reader.js';
import { ReadableRawSource } from '../../src/io/raw-source.js';
import { PooledSocketSource } from '../../src/io/pooled-socket.js';
import { socketPair } from '../support/sockets.js';
import { TruncatedStreamError } from '../../src/format/errors.js';

const pattern = (n: number, seed = 7): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed + (i >> 12)) & 0xff);
const concat = (views: readonly Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(views));

test('lendOut hands exactly n octets in pieces, buffered ones first (copied), and reading goes on after them', async () => {
  const data = pattern(300_000);
  const pass = new PassThrough();
  const r = new ByteReader(new ReadableRawSource('pass', pass), 4096);
  for (let at = 0; at < data.length; at += 7000) pass.write(data.subarray(at, at + 7000));
  pass.end();
  assert.deepEqual(await r.read(10, 'head'), data.subarray(0, 10));
  const pieces: Uint8Array[] = [];
  let releases = 0;
  await r.lendOut(250_000, 'pages', (views, length, release) => {
    const piece = concat(views);
    assert.equal(piece.length, length);
    pieces.push(piece);
    release();
    releases++;
  }, { piece: 65536 });
  assert.deepEqual(pieces.map((p) => p.length), [65536, 65536, 65536, 53392]);
  assert.equal(releases, 4);
  assert.deepEqual(concat(pieces), data.subarray(10, 250_010));
  assert.equal(r.position, 250_010);
  assert.deepEqual(await r.read(49_990, 'tail'), data.subarray(250_010));
  assert.equal(await r.atEnd(), true);
});

test('lendOut past the end: a truncation naming what was there, and what was lent is released', async () => {
  const data = pattern(10_000);
  const pass = new PassThrough();
  pass.end(data);
  let released = 0;
  const src = new ReadableRawSource('pass', pass);
  const lend = src.lend.bind(src);
  src.lend = async (n) => {
    const l = await lend(n);
    return { views: l.views, release: () => void released++ };
  };
  const r = new ByteReader(src, 4096);
  await r.read(8, 'head');
  await assert.rejects(
    r.lendOut(20_000, 'page contents', () => assert.fail('no piece is complete'), { piece: 65536 }),
    (err: unknown) => {
      assert.ok(err instanceof TruncatedStreamError);
      assert.match(err.message, /page contents needs 20000 octet\(s\), only 9992 left/);
      assert.equal(err.location.offset, 10_000);
      return true;
    },
  );
  assert.ok(released >= 1);
});


test('a pooled socket source: the same bytes by read and lend; lent blocks are not read into again until released; reading stops while all are lent', async () => {
  const { client, server, close } = await socketPair();
  try {
    const pooled = PooledSocketSource.adopt('pooled', server, 256 * 1024);
    assert.ok(pooled, 'a fresh accepted socket can be adopted');
    const r = new ByteReader(pooled, 4096);
    const data = pattern(3 * 1024 * 1024, 3);
    const sent = (async () => {
      for (let at = 0; at < data.length; at += 50_000) {
        if (!client.write(data.subarray(at, at + 50_000))) await new Promise((res) => client.once('drain', res));
      }
      client.end();
    })();
    assert.deepEqual(await r.read(100, 'head'), data.subarray(0, 100));
    // Hold two pieces unreleased: the pool (4 blocks) runs dry, yet their bytes must stay as they were.
    const held: { views: Uint8Array[]; copy: Uint8Array; release: () => void }[] = [];
    await r.lendOut(96 * 1024, 'held', (views, _n, release) => void held.push({ views, copy: concat(views), release }), { piece: 48 * 1024 });
    assert.deepEqual(concat(held.map((h) => h.copy)), data.subarray(100, 100 + 96 * 1024));
    const waiting = r.read(1024 * 1024, 'more than the pool holds');
    await new Promise((res) => setTimeout(res, 100));
    for (const h of held) assert.deepEqual(concat(h.views), h.copy, 'a lent block was read into before its release');
    for (const h of held) h.release();
    const at = 100 + 96 * 1024;
    assert.deepEqual(await waiting, data.subarray(at, at + 1024 * 1024));
    // Pieces larger than half the pool shrink to it (pages stay whole), else the pool would run dry mid-piece.
    let next = at + 1024 * 1024;
    const sizes = new Set<number>();
    await r.lendOut(data.length - next, 'rest', (views, n, release) => {
      assert.deepEqual(concat(views), data.subarray(next, next + n));
      sizes.add(n);
      next += n;
      release();
    }, { piece: 1024 * 1024, align: 4096 });
    assert.equal(Math.max(...sizes), 128 * 1024);
    assert.equal(await r.atEnd(), true);
    await sent;
  } finally {
    close();
  }
});

test('a socket that has already read is not adopted (its bytes would be lost)', async () => {
  const { client, server, close } = await socketPair();
  try {
    client.write('x');
    await new Promise<void>((r) => server.once('data', () => r()));
    assert.equal(PooledSocketSource.adopt('late', server, 65536), undefined);
  } finally {
    close();
  }
});
