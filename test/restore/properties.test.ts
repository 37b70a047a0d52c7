import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ByteReader } from '../../src/io/byte-reader.js';
import { BufferRawSource } from '../../src/io/raw-source.js';
import { readStream } from '../../src/stream/reader.js';
import { restoreStream } from '../../src/restore/index.js';
import { concat, hvmContextBody, libxcHeaders, pageDataBody, pageFor, rec, T } from '../support/builder.js';
import { LogSink } from './memory-sink.js';

const HAS_DATA = new Set([0, 1, 2, 3, 4, 9, 10, 11, 12]);

test('any sequence of PAGE_DATA batches: last write wins, each pfn populated once, XTAB/BROKEN never populated', async () => {
  const entry = fc.record({ pfn: fc.integer({ min: 0, max: 300 }), type: fc.constantFrom(0, 0, 0, 1, 10, 13, 14, 15) });
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(entry, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 6 }),
      fc.boolean(),
      fc.constantFrom(2, 3),
      async (batches, bigEndian, version) => {
        const le = !bigEndian;
        const parts = [libxcHeaders({ version, bigEndian, domainType: 2 })];
        if (version === 3) parts.push(rec(T.STATIC_DATA_END, undefined, le));
        const want = new Map<number, Uint8Array>();
        const populated = new Set<number>();
        batches.forEach((batch, seed) => {
          parts.push(rec(T.PAGE_DATA, pageDataBody(batch, le, seed), le));
          for (const e of batch) {
            if (HAS_DATA.has(e.type)) want.set(e.pfn, pageFor(e.pfn, seed));
            if (e.type !== 13 && e.type !== 15) populated.add(e.pfn);
          }
        });
        parts.push(rec(T.HVM_CONTEXT, hvmContextBody(), le), rec(T.END, undefined, le));
        const sink = new LogSink();
        const result = await restoreStream(readStream(new ByteReader(new BufferRawSource(concat(...parts)))), sink);
        assert.deepEqual([...sink.populated].sort((a, b) => a - b), [...populated].sort((a, b) => a - b));
        assert.equal(result.pfnsPopulated, populated.size);
        assert.equal(sink.pages.size, want.size);
        for (const [pfn, page] of want) assert.deepEqual(sink.pages.get(pfn), page);
      },
    ),
    { numRuns: 60 },
  );
});
