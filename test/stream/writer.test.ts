/**
 * The writer against the independent test builder, and the whole-stream round trip:
 * bytes -> reader -> decode -> encode -> writer gives the same bytes, in every layer
 * and byte order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ByteReader } from '../../src/io/byte-reader.js';
import { BufferRawSource } from '../../src/io/raw-source.js';
import { BufferSink } from '../../src/io/sink.js';
import { StreamWriter, frameRecord } from '../../src/stream/writer.js';
import { readStream } from '../../src/stream/reader.js';
import { writeSampleStream } from '../../src/stream/sample.js';
import { decodeRecord, decodeLibxlRecord, makeImageHeader, makeLibxlHeader, REC_TYPE } from '../../src/format/index.js';
import { libxlWrap, pageDataBody, rec, sampleHvmV3, T, xlWrap } from '../support/builder.js';
import { verifyBytes, problems } from '../verify/streams.js';

/** Reads a stream and writes every item back through StreamWriter from its decoded form. */
async function rewrite(bytes: Uint8Array, chunk = 4096): Promise<Uint8Array> {
  const sink = new BufferSink();
  const w = new StreamWriter(sink);
  for await (const item of readStream(new ByteReader(new BufferRawSource(bytes), chunk))) {
    switch (item.kind) {
      case 'xl-header':
        await w.xlHeader(item.header);
        break;
      case 'libxl-header':
        await w.libxlHeader(item.header);
        break;
      case 'libxc-header':
        await w.libxcHeader(item.image, item.domain);
        break;
      case 'record':
        w.littleEndian = item.littleEndian;
        if (item.layer === 'libxc') await w.libxcRecord(decodeRecord(item.type, item.body, item.littleEndian));
        else await w.libxlRecord(decodeLibxlRecord(item.type, item.body, item.littleEndian));
        break;
      case 'trailing':
        throw new Error('unexpected trailing data');
    }
  }
  return sink.bytes();
}

test('StreamWriter frames records exactly as the builder spells them', async () => {
  for (const le of [true, false]) {
    const sink = new BufferSink();
    const w = new StreamWriter(sink, le);
    await w.record(T.HVM_CONTEXT, new Uint8Array([1, 2, 3]));
    await w.pageData([{ pfn: 5, pageType: 0, reservedBits: 0 }, { pfn: 6, pageType: 15, reservedBits: 0 }], pageDataBody([{ pfn: 5 }], le).subarray(16));
    const expected = new Uint8Array([...rec(T.HVM_CONTEXT, new Uint8Array([1, 2, 3]), le), ...rec(T.PAGE_DATA, pageDataBody([{ pfn: 5 }, { pfn: 6, type: 15 }], le), le)]);
    assert.deepEqual(sink.bytes(), expected);
    assert.deepEqual(frameRecord(T.HVM_CONTEXT, new Uint8Array([1, 2, 3]), le), rec(T.HVM_CONTEXT, new Uint8Array([1, 2, 3]), le));
  }
});

test('round trip through reader, codecs and writer is byte for byte for every layer and byte order', async () => {
  const streams = [
    sampleHvmV3({ pages: 3 }),
    sampleHvmV3({ pages: 2, bigEndian: true, version: 2 }),
    xlWrap(libxlWrap(sampleHvmV3({ pages: 1 }))),
    libxlWrap(sampleHvmV3({ bigEndian: true }), { bigEndian: true }),
  ];
  for (const s of streams) assert.deepEqual(await rewrite(s, 64), s);
});

test('property: random record sequences written by StreamWriter read back and rewrite identically', async () => {
  const body = fc.uint8Array({ maxLength: 40 });
  const record = fc.oneof(
    fc.tuple(fc.constantFrom(T.HVM_CONTEXT, T.TOOLSTACK, 0x80000042), body.filter((b) => b.length > 0)),
    fc.tuple(fc.constant(T.X86_PV_VCPU_BASIC), fc.uint8Array({ minLength: 8, maxLength: 40 })),
    fc.tuple(fc.constant(T.PAGE_DATA), fc.array(fc.integer({ min: 0, max: 15 }), { minLength: 1, maxLength: 4 })),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(record, { maxLength: 8 }), fc.boolean(), fc.constantFrom<'libxc' | 'libxl'>('libxc', 'libxl'), async (records, le, wrap) => {
      const sink = new BufferSink();
      const w = new StreamWriter(sink);
      if (wrap === 'libxl') {
        await w.libxlHeader(makeLibxlHeader(!le));
        await w.record(1);
      }
      await w.libxcHeader(makeImageHeader(3, !le), { type: 2, pageShift: 12, reserved: 0, xenMajor: 4, xenMinor: 19 });
      for (const [type, b] of records) {
        // PAGE_DATA's layout depends on the byte order: build it once that is known.
        await w.record(type, type === T.PAGE_DATA ? pageDataBody((b as number[]).map((t, i) => ({ pfn: i, type: t })), le) : (b as Uint8Array));
      }
      await w.record(REC_TYPE.END);
      if (wrap === 'libxl') await w.record(0);
      const bytes = sink.bytes();
      assert.deepEqual(await rewrite(bytes, 16), bytes);
    }),
    { numRuns: 150 },
  );
});

test('the sample stream is conforming in every wrapping, version and byte order', async () => {
  for (const wrap of ['xl', 'libxl', 'libxc'] as const) {
    for (const version of [2, 3] as const) {
      const sink = new BufferSink();
      await writeSampleStream(sink, { memoryMiB: 1, wrap, version, bigEndian: wrap !== 'xl' && version === 2 });
      const res = await verifyBytes(sink.bytes());
      assert.deepEqual(problems(res), [], `${wrap} v${version}`);
      assert.equal(res.summary.memoryBytes, 1024 * 1024);
    }
  }
});
