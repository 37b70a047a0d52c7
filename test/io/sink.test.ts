import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { AtomicFileSink, BufferSink, openSink } from '../../src/io/sink.js';
import { UsageError } from '../../src/format/errors.js';
import { tmpDirFor } from '../support/tmp.js';

test('a regular file appears only on commit, and an abort leaves nothing', async (t) => {
  const dir = tmpDirFor(t, 'xenmig-sink-');
  const out = join(dir, 'out.bin');
  const sink = await openSink(out);
  await sink.write(new Uint8Array([1, 2, 3]));
  assert.throws(() => statSync(out));
  await sink.commit();
  assert.deepEqual([...readFileSync(out)], [1, 2, 3]);
  const again = await openSink(join(dir, 'other.bin'));
  await again.write(new Uint8Array([9]));
  await again.abort();
  assert.deepEqual(readdirSync(dir), ['out.bin']);
});

test('an existing file is kept unless forced', async (t) => {
  const dir = tmpDirFor(t, 'xenmig-sink-');
  const out = join(dir, 'out.bin');
  writeFileSync(out, 'old');
  await assert.rejects(openSink(out), (e: unknown) => e instanceof UsageError && /--force/.test(e.message));
  const sink = await openSink(out, { force: true });
  await sink.write(new Uint8Array([7]));
  await sink.commit();
  assert.deepEqual([...readFileSync(out)], [7]);
});

test('a device or FIFO is written in place, never renamed over', async (t) => {
  const sink = await openSink('/dev/null', { force: true });
  await sink.write(new Uint8Array(4096));
  await sink.commit();
  assert.ok(statSync('/dev/null').isCharacterDevice());
  await assert.rejects(AtomicFileSink.create('/dev/null', { force: true }), UsageError);
  const dir = tmpDirFor(t, 'xenmig-sink-');
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const reader = import('node:fs/promises').then((fs) => fs.readFile(fifo));
  const f = await openSink(fifo);
  await f.write(new Uint8Array([5, 6]));
  await f.commit();
  assert.deepEqual([...(await reader)], [5, 6]);
  assert.ok(statSync(fifo).isFIFO());
});

test('BufferSink copies what it is given, even from a Node Buffer that is reused', async () => {
  const sink = new BufferSink();
  const buf = Buffer.from([1, 2, 3]);
  await sink.write(buf);
  buf.fill(0);
  assert.deepEqual([...sink.bytes()], [1, 2, 3]);
});

test('writeWhole commits what completes and aborts what throws', async (t) => {
  const { writeWhole } = await import('../../src/io/sink.js');
  const dir = tmpDirFor(t, 'xenmig-sink-');
  const ok = await openSink(join(dir, 'ok.bin'));
  assert.equal(await writeWhole(ok, async () => (await ok.write(new Uint8Array([1])), 'done')), 'done');
  const bad = await openSink(join(dir, 'bad.bin'));
  await assert.rejects(
    writeWhole(bad, async () => {
      await bad.write(new Uint8Array([2]));
      throw new Error('source broke');
    }),
    /source broke/,
  );
  assert.deepEqual(readdirSync(dir), ['ok.bin']);
});
