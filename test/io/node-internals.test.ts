/**
 * The Node internals xenmig relies on, all in src/io/pooled-socket.ts: an accepted
 * socket's `_handle` moved into `new Socket({ handle, onread })`. On a Node that changes
 * them the receiver quietly falls back to plain stream reads (slower, still correct);
 * these tests are what says so, loudly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteReader } from '../../src/io/byte-reader.js';
import { PooledSocketSource } from '../../src/io/pooled-socket.js';
import { socketPair } from '../support/sockets.js';

const CHANGED = `Node ${process.version} changed what src/io/pooled-socket.ts relies on (an accepted socket's _handle moved into new Socket({ handle, onread }), restarted by resume()): the migration receiver now falls back to plain stream reads; update that file`;


test('node internals: an accepted socket is taken over and read into the pool\'s own blocks', async () => {
  const { client, server, close } = await socketPair();
  try {
    assert.equal(typeof (server as unknown as { _handle?: unknown })._handle, 'object', CHANGED);
    const pooled = PooledSocketSource.adopt('internals', server, 256 * 1024);
    assert.ok(pooled, CHANGED);
    assert.notEqual(pooled.socket, server);
    client.end(Buffer.alloc(200_000, 0x33));
    const buffers = new Set<ArrayBufferLike>();
    let got = 0;
    for (;;) {
      const lent = await pooled.lend(65536);
      if (lent.views.length === 0) break;
      for (const v of lent.views) {
        assert.ok(v.every((b) => b === 0x33));
        buffers.add(v.buffer);
        got += v.length;
      }
      lent.release();
    }
    assert.equal(got, 200_000);
    // Every read landed in the one allocation the pool made, none in a buffer of Node's.
    assert.equal(buffers.size, 1, CHANGED);
    assert.ok([...buffers][0]!.byteLength >= 256 * 1024, CHANGED);
  } finally {
    close();
  }
});

test('node internals: reading stops when every block is held and starts again (resume()) once one is released', async () => {
  const { client, server, close } = await socketPair();
  try {
    const pooled = PooledSocketSource.adopt('internals', server, 256 * 1024);
    assert.ok(pooled, CHANGED);
    const total = 4 * 1024 * 1024;
    const sent = (async () => {
      const piece = Buffer.alloc(64 * 1024, 0x5a);
      for (let at = 0; at < total; at += piece.length) {
        if (!client.write(piece)) await new Promise((r) => client.once('drain', r));
      }
      client.end();
    })();
    // Hold everything lent until the pool runs dry: the socket must stop reading.
    const held: (() => void)[] = [];
    let got = 0;
    while (got < pooled.lendable) {
      const lent = await pooled.lend(pooled.lendable - got);
      got += lent.views.reduce((n, v) => n + v.length, 0);
      held.push(lent.release);
    }
    await new Promise((r) => setTimeout(r, 100));
    const before = pooled.socket.bytesRead;
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(pooled.socket.bytesRead <= 256 * 1024 + 64 * 1024, 'the pool bounds what is read ahead');
    assert.equal(pooled.socket.bytesRead, before, 'reading stopped while every block is held');
    for (const release of held) release();
    // The rest arrives only if releasing a block restarted the handle's reads.
    const r = new ByteReader(pooled, 4096);
    const rest = await Promise.race([
      r.read(total - got, 'the rest'),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(CHANGED)), 5000)),
    ]);
    assert.equal(rest.length, total - got);
    assert.equal(await r.atEnd(), true);
    await sent;
  } finally {
    close();
  }
});
