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
import { sampleBytes } from '../support/sample.js';
import { decodeRecord, decodeLibxlRecord, makeImageHeader, makeLibxlHeader, REC_TYPE } from '../../src/format/index.js';
import { libxlWrap, pageDataBody, rec, sampleHvmV3, T, xlWrap } from '../support/builder.js';
import { verifyBytes, problems } from '../verify/streams.js';

/**
 * Reads a stream and writes every item back through StreamWriter from its decoded form;
 * with `order`, in that byte order (the libxl and libxc headers' option bits say which)
 * instead of the one it was read in.
 */
async function rewrite(bytes: Uint8Array, chunk = 4096, order?: 'big' | 'little'): Promise<Uint8Array> {
  const sink = new BufferSink();
  const w = new StreamWriter(sink);
  const options = (o: number): number => (order === undefined ? o : order === 'big' ? o | 1 : o & ~1);
  for await (const item of readStream(new ByteReader(new BufferRawSource(bytes), chunk))) {
    switch (item.kind) {
      case 'xl-header':
        await w.xlHeader(item.header);
        break;
      case 'libxl-header':
        await w.libxlHeader({ ...item.header, options: options(item.header.options) });
        break;
      case 'libxc-header':
        await w.libxcHeader({ ...item.image, options: options(item.image.options) }, item.domain);
        break;
      case 'record':
        if (order === undefined) w.littleEndian = item.littleEndian;
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

test('the sample stream is conforming in every layer and version, and StreamWriter writes it big-endian too', async () => {
  // 1 MiB of HVM guest: 256 pfns less the VGA hole (0xa0-0xbf), which holds no RAM.
  const memoryBytes = (256 - 32) * 4096;
  for (const layer of ['xl', 'libxl', 'libxc'] as const) {
    for (const streamVersion of [2, 3] as const) {
      const little = await sampleBytes({ memoryMiB: 1, layer, streamVersion });
      const res = await verifyBytes(little);
      assert.deepEqual(problems(res), [], `${layer} v${streamVersion}`);
      assert.equal(res.summary.memoryBytes, memoryBytes);
      assert.equal(res.summary.libxc?.bigEndian, false);
      // No Xen writes big-endian; the format allows it, and the writer writes it: every
      // record re-encoded the other way round verifies alike and comes back byte for byte.
      if (layer === 'xl') continue;
      const big = await rewrite(little, 4096, 'big');
      assert.notDeepEqual(big, little);
      const bigRes = await verifyBytes(big);
      assert.deepEqual(problems(bigRes), [], `${layer} v${streamVersion} big-endian`);
      assert.equal(bigRes.summary.libxc?.bigEndian, true);
      assert.equal(bigRes.summary.memoryBytes, memoryBytes);
      assert.deepEqual(await rewrite(big, 4096, 'little'), little);
    }
  }
});
