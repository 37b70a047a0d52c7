import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteReader } from '../../src/io/byte-reader.js';
import { BufferRawSource } from '../../src/io/raw-source.js';
import { readStream } from '../../src/stream/reader.js';
import { restoreStream } from '../../src/restore/index.js';
import { StreamFormatError } from '../../src/format/errors.js';
import { pageFor } from '../support/builder.js';
import { BATCHES, checkpointed } from './fixtures.js';

import { LogSink } from './memory-sink.js';

const items = (b: Uint8Array) => readStream(new ByteReader(new BufferRawSource(b), 4096));

/** Memory and HVM context after the first k batches. */
function stateAfter(k: number): { pages: Map<number, Uint8Array>; ctx: number } {
  const pages = new Map<number, Uint8Array>();
  for (const [pfns, seed] of BATCHES.slice(0, k)) for (const pfn of pfns) pages.set(pfn, pageFor(pfn, seed));
  return { pages, ctx: BATCHES[k - 1]![2] };
}

async function recordOffsets(bytes: Uint8Array): Promise<number[]> {
  const out: number[] = [];
  for await (const it of items(bytes)) if (it.kind === 'record') out.push(it.offset, it.end);
  return out;
}

test('checkpointed stream read to END: the last complete checkpoint is the domain; records after it are dropped', async () => {
  const { bytes } = checkpointed();
  const sink = new LogSink();
  const result = await restoreStream(items(bytes), sink, { checkpointed: true });
  const want = stateAfter(3);
  assert.deepEqual(new Map([...sink.pages].sort((a, b) => a[0] - b[0])), new Map([...want.pages].sort((a, b) => a[0] - b[0])));
  assert.equal(sink.hvmContext?.[16], 0xc0);
  assert.equal(result.checkpoints, 3);
  assert.equal(result.failover, undefined);
  assert.match(result.warnings.at(-1)!.message, /2 record\(s\) after the last CHECKPOINT were not applied/);
});

test('CHECKPOINT in a stream not restored as checkpointed is fatal', async () => {
  await assert.rejects(restoreStream(items(checkpointed().bytes), new LogSink()), /CHECKPOINT record in a stream that is not checkpointed/);
});

test('cut anywhere: the domain is exactly the last complete checkpoint, or nothing before the first', async () => {
  const { bytes, checkpointEnds } = checkpointed();
  const bounds = await recordOffsets(bytes);
  const cuts = new Set<number>();
  for (const b of bounds) for (const d of [0, 3, 8, 13]) if (b + d < bytes.length) cuts.add(b + d);
  for (let i = 0; i + 1 < bounds.length; i += 2) cuts.add((bounds[i]! + bounds[i + 1]!) >> 1);
  assert.ok(cuts.size > 40);
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    const k = checkpointEnds.filter((e) => e <= cut).length;
    const sink = new LogSink();
    const run = restoreStream(items(bytes.subarray(0, cut)), sink, { checkpointed: true });
    if (k === 0) {
      await assert.rejects(run, StreamFormatError, `cut at ${cut}`);
      assert.equal(sink.committed, false);
      assert.equal(sink.calls.at(-1), 'abort');
      continue;
    }
    const result = await run;
    const want = stateAfter(k);
    assert.equal(sink.committed, true, `cut at ${cut}`);
    assert.deepEqual([...sink.pages.keys()].sort(), [...want.pages.keys()].sort(), `cut at ${cut}`);
    for (const [pfn, page] of want.pages) assert.deepEqual(sink.pages.get(pfn), page, `cut at ${cut}, pfn ${pfn}`);
    assert.equal(sink.hvmContext?.[16], want.ctx, `cut at ${cut}`);
    assert.equal(result.checkpoints, k);
    assert.match(result.failover!.reason, /truncated/);
  }
});
