import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteReader } from '../../src/io/byte-reader.js';
import { BufferRawSource } from '../../src/io/raw-source.js';
import { BufferSink } from '../../src/io/sink.js';
import { readStream } from '../../src/stream/reader.js';
import { convertStream } from '../../src/stream/convert.js';
import { TruncatedStreamError } from '../../src/format/errors.js';
import { Bytes, concat, libxcHeaders, libxlWrap, rec, sampleHvmV3, tscBody, xlWrap, T } from '../support/builder.js';
import { hvmStream, pvStream } from '../restore/fixtures.js';

/** Converts with whole bodies and again with streamed page contents: both must agree exactly. */
async function convert(bytes: Uint8Array, to: 2 | 3) {
  const run = async (pageContents: 'read' | 'stream') => {
    const sink = new BufferSink();
    const result = await convertStream(readStream(new ByteReader(new BufferRawSource(bytes), 4096), { pageContents }), sink, { to });
    return { out: sink.bytes(), result };
  };
  const whole = await run('read');
  const streamed = await run('stream');
  assert.ok(Buffer.from(streamed.out).equals(Buffer.from(whole.out)), 'streamed page contents give other bytes');
  assert.deepEqual(streamed.result, whole.result);
  return whole;
}

const inputs: [string, Uint8Array][] = [
  ['bare HVM', hvmStream({ version: 2 }).bytes],
  ['bare PV', pvStream({ version: 2 }).bytes],
  ['big-endian HVM in libxl', libxlWrap(hvmStream({ version: 2, bigEndian: true }).bytes, { bigEndian: true })],
  ['PV in libxl in xl', xlWrap(libxlWrap(pvStream({ version: 2 }).bytes, { extra: [rec(2, new Bytes(true).u32(2).u32(0).raw(new TextEncoder().encode('physmap\0v\0')).build())] }))],
];

for (const [name, v2] of inputs) {
  test(`${name}: v2 -> v3 -> v2 gives back the input byte for byte`, async () => {
    const up = await convert(v2, 3);
    assert.equal(up.result.from, 2);
    assert.equal(up.out.length, v2.length + 8);
    const down = await convert(up.out, 2);
    assert.deepEqual(down.result.dropped.map((d) => d.typeName), ['STATIC_DATA_END']);
    assert.ok(Buffer.from(down.out).equals(Buffer.from(v2)));
  });
}

test('v2 -> v3 writes exactly the v3 stream a v3 sender would (HVM: STATIC_DATA_END before the first PAGE_DATA)', async () => {
  const v2 = sampleHvmV3({ version: 2, pages: 3 });
  const { out, result } = await convert(v2, 3);
  // Built independently: version 3, STATIC_DATA_END, then the v2 records unchanged.
  const v2Records = v2.subarray(40);
  const expected = concat(libxcHeaders({ version: 3, domainType: 2 }), rec(T.STATIC_DATA_END), v2Records);
  assert.ok(Buffer.from(out).equals(Buffer.from(expected)));
  assert.deepEqual(result.inserted, { beforeOffset: 40, beforeRecord: 'PAGE_DATA', inferredAt: true });
});

test('PV v2 -> v3: STATIC_DATA_END goes right before X86_PV_P2M_FRAMES, after X86_PV_INFO', async () => {
  const v2 = pvStream({ version: 2 }).bytes;
  const { out, result } = await convert(v2, 3);
  assert.equal(result.inserted?.beforeRecord, 'X86_PV_P2M_FRAMES');
  assert.equal(result.inserted?.beforeOffset, 40 + 16);
  assert.deepEqual(out.subarray(56, 64), rec(T.STATIC_DATA_END));
});

test('a record of memory before the inference point still gets STATIC_DATA_END before it', async () => {
  const v2 = concat(libxcHeaders({ version: 2 }), rec(T.X86_TSC_INFO, tscBody()), rec(T.HVM_CONTEXT, new Uint8Array(8)), rec(T.END));
  const { out, result } = await convert(v2, 3);
  assert.deepEqual(result.inserted, { beforeOffset: 40, beforeRecord: 'X86_TSC_INFO', inferredAt: false });
  assert.deepEqual(out.subarray(40, 48), rec(T.STATIC_DATA_END));
});

test('v3 -> v2 drops STATIC_DATA_END and the policy records, saying what they held', async () => {
  const v3 = hvmStream().bytes;
  const { out, result } = await convert(v3, 2);
  assert.deepEqual(
    result.dropped.map((d) => [d.typeName, d.entries]),
    [['X86_CPUID_POLICY', 1], ['X86_MSR_POLICY', 1], ['STATIC_DATA_END', undefined]],
  );
  assert.equal(out.length, v3.length - (8 + 24) - (8 + 16) - 8);
  assert.equal(new DataView(out.buffer).getUint32(12, false), 2);
});

test('converting to the version the stream already has copies it unchanged', async () => {
  const v3 = xlWrap(libxlWrap(hvmStream().bytes));
  const { out, result } = await convert(v3, 3);
  assert.equal(result.changed, false);
  assert.ok(Buffer.from(out).equals(Buffer.from(v3)));
});

test('the converted v3 stream restores with STATIC_DATA_END sent, not inferred, and the same memory', async () => {
  const { restoreStream } = await import('../../src/restore/index.js');
  const { LogSink } = await import('../restore/memory-sink.js');
  const sent = pvStream({ version: 2 });
  const { out } = await convert(sent.bytes, 3);
  const sink = new LogSink();
  const r = await restoreStream(readStream(new ByteReader(new BufferRawSource(out))), sink, { minVersion: 3 });
  assert.equal(r.staticDataEnd?.inferred, false);
  assert.equal(r.streamVersion, 3);
  for (const [pfn, page] of sent.pages) assert.deepEqual(sink.pages.get(pfn), page);
});

test('every converted stream verifies clean (no errors, no warnings), both directions', async () => {
  const { verifyStream } = await import('../../src/verify/index.js');
  for (const [name, v2] of inputs) {
    const up = (await convert(v2, 3)).out;
    const down = (await convert(up, 2)).out;
    for (const [dir, bytes] of [['v3', up], ['v2', down]] as const) {
      const r = await verifyStream(new ByteReader(new BufferRawSource(bytes)));
      assert.deepEqual([r.errors, r.warnings], [0, 0], `${name} -> ${dir}: ${r.diagnostics.map((d) => d.message).join('; ')}`);
    }
  }
});

test('streamed page contents: a truncated PAGE_DATA fails with its record named, and no output is claimed', async () => {
  const v3 = hvmStream().bytes;
  const items = readStream(new ByteReader(new BufferRawSource(v3), 4096), { pageContents: 'stream' });
  let at = -1;
  for await (const item of items) if (item.kind === 'record' && item.rest) { at = item.offset; break; }
  assert.ok(at > 0);
  const cut = v3.subarray(0, at + 8 + 16 + 8 + 100);
  await assert.rejects(
    convertStream(readStream(new ByteReader(new BufferRawSource(cut), 4096), { pageContents: 'stream' }), new BufferSink(), { to: 2 }),
    (e: unknown) => e instanceof TruncatedStreamError && e.location.recordType === 'PAGE_DATA' && e.location.layer === 'libxc',
  );
});

test('streamed page contents a consumer leaves alone are passed over: the items are those of skip mode', async () => {
  const v3 = xlWrap(libxlWrap(hvmStream().bytes));
  const labels = async (pageContents: 'skip' | 'stream') => {
    const out: string[] = [];
    for await (const item of readStream(new ByteReader(new BufferRawSource(v3), 4096), { pageContents })) {
      out.push(item.kind === 'record' ? `${item.typeName}@${item.offset}-${item.end}:${item.body.length}` : item.kind);
    }
    return out;
  };
  assert.deepEqual(await labels('stream'), await labels('skip'));
});
