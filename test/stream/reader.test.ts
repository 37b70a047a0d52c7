import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteReader } from '../../src/io/byte-reader.js';
import { PushRawSource } from '../../src/io/raw-source.js';
import { readStream } from '../../src/stream/reader.js';
import type { StreamItem } from '../../src/stream/items.js';
import { StreamFormatError, TruncatedStreamError } from '../../src/format/errors.js';
import { libxlWrap, rec, sampleHvmV3, xlWrap, T } from '../support/builder.js';
import { collect } from '../support/collect.js';

function kinds(items: StreamItem[]): string[] {
  return items.map((i) => (i.kind === 'record' ? `${i.layer}:${i.typeName}` : i.kind));
}

test('bare libxc v3 stream: headers then every record in order, with offsets', async () => {
  const bytes = sampleHvmV3({ pages: 3 });
  const items = await collect(bytes);
  assert.deepEqual(kinds(items), [
    'libxc-header',
    'libxc:X86_CPUID_POLICY',
    'libxc:X86_MSR_POLICY',
    'libxc:STATIC_DATA_END',
    'libxc:PAGE_DATA',
    'libxc:X86_TSC_INFO',
    'libxc:HVM_CONTEXT',
    'libxc:HVM_PARAMS',
    'libxc:END',
  ]);
  const first = items[1]!;
  assert.equal(first.kind === 'record' && first.offset, 40);
  const last = items.at(-1)!;
  assert.equal(last.kind === 'record' && last.end, bytes.length);
  const page = items[4]!;
  assert.ok(page.kind === 'record' && page.bodyComplete && page.length === 8 + 3 * 8 + 3 * 4096);
});

test('xl and libxl wrappers are framed, and libxl records resume after the libxc END', async () => {
  const bytes = xlWrap(libxlWrap(sampleHvmV3({ pages: 1 })));
  const items = await collect(bytes, {}, 64);
  const k = kinds(items);
  assert.deepEqual(k.slice(0, 3), ['xl-header', 'libxl-header', 'libxl:LIBXC_CONTEXT']);
  assert.deepEqual(k.slice(-2), ['libxc:END', 'libxl:END']);
  const xl = items[0]!;
  assert.ok(xl.kind === 'xl-header' && new TextDecoder().decode(xl.header.config!).startsWith('{"c_info"'));
});

test('big-endian streams are read in their byte order', async () => {
  const items = await collect(libxlWrap(sampleHvmV3({ bigEndian: true, pages: 2 }), { bigEndian: true }));
  const page = items.find((i) => i.kind === 'record' && i.typeName === 'PAGE_DATA');
  assert.ok(page && page.kind === 'record' && page.length === 8 + 16 + 8192 && !page.littleEndian);
});

test('PAGE_DATA contents can be skipped: only count, reserved and pfns are returned', async () => {
  const bytes = sampleHvmV3({ pages: 4 });
  const items = await collect(bytes, { pageContents: 'skip' }, 4096);
  const page = items.find((i) => i.kind === 'record' && i.typeName === 'PAGE_DATA');
  assert.ok(page && page.kind === 'record');
  assert.equal(page.body.length, 8 + 32);
  assert.equal(page.bodyComplete, false);
  assert.equal(items.at(-1)!.kind === 'record' && (items.at(-1) as { end: number }).end, bytes.length);
});

test('a pushed (non-seekable) source with tiny chunks frames the same items', async () => {
  const bytes = xlWrap(libxlWrap(sampleHvmV3({ pages: 2 })));
  const src = new PushRawSource();
  const reader = new ByteReader(src, 4096);
  const seen: string[] = [];
  const consume = (async () => {
    for await (const item of readStream(reader, { pageContents: 'skip' })) seen.push(item.kind);
  })();
  for (let i = 0; i < bytes.length; i += 7) await src.push(bytes.subarray(i, i + 7));
  src.end();
  await consume;
  assert.equal(seen.length, (await collect(bytes)).length);
});

test('truncation names the record, its index and offset', async () => {
  const bytes = sampleHvmV3({ pages: 2 });
  const cut = bytes.subarray(0, 40 + 8 + 24 + 8 + 16 + 8 + 8 + 100);
  await assert.rejects(collect(cut), (err: unknown) => {
    assert.ok(err instanceof TruncatedStreamError);
    assert.equal(err.location.recordType, 'PAGE_DATA');
    assert.equal(err.location.recordIndex, 3);
    assert.equal(err.location.offset, 40 + 32 + 24 + 8);
    return true;
  });
});

test('a body over 128 MiB is refused before reading it', async () => {
  const bytes = new Uint8Array([...sampleHvmV3().subarray(0, 40), ...rec(T.HVM_CONTEXT).subarray(0, 4), 0x01, 0x00, 0x00, 0x08]);
  await assert.rejects(collect(bytes), (err: unknown) => err instanceof StreamFormatError && /128 MiB/.test(err.message));
});

test('legacy images and trailing data are named', async () => {
  await assert.rejects(collect(new Uint8Array(64)), /legacy/);
  const items = await collect(new Uint8Array([...sampleHvmV3(), 1, 2, 3]));
  assert.deepEqual(items.at(-1), { kind: 'trailing', offset: sampleHvmV3().length, length: 3 });
});
