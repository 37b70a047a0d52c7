import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteReader } from '../../src/io/byte-reader.js';
import { BufferRawSource } from '../../src/io/raw-source.js';
import { readStream } from '../../src/stream/reader.js';
import { restoreStream, type RestoreOptions } from '../../src/restore/index.js';
import { RefusedError, StreamFormatError } from '../../src/format/errors.js';
import { concat, libxcHeaders, libxlWrap, pageDataBody, pageFor, rec, tscBody, hvmContextBody, hvmParamsBody, xlWrap, T, Bytes } from '../support/builder.js';
import { hvmStream, pvStream, pageData } from './fixtures.js';
import { LogSink } from './memory-sink.js';

function items(bytes: Uint8Array) {
  return readStream(new ByteReader(new BufferRawSource(bytes), 4096));
}

async function run(bytes: Uint8Array, opts: RestoreOptions = {}) {
  const sink = new LogSink();
  const result = await restoreStream(items(bytes), sink, opts);
  return { sink, result };
}

function assertPages(sink: LogSink, pages: Map<number, Uint8Array>): void {
  assert.deepEqual([...sink.pages.keys()].sort((a, b) => a - b), [...pages.keys()].sort((a, b) => a - b));
  for (const [pfn, page] of pages) assert.deepEqual(sink.pages.get(pfn), page, `pfn ${pfn}`);
}

for (const version of [2, 3] as const) {
  for (const bigEndian of [false, true]) {
    test(`HVM v${version}${bigEndian ? ' big-endian' : ''}: every page lands, static data done once before memory`, async () => {
      const s = hvmStream({ version, bigEndian });
      const seen: { missing: number; beforePages: boolean }[] = [];
      const sink = new LogSink();
      const result = await restoreStream(items(s.bytes), sink, {
        staticDataDone: (missing) => void seen.push({ missing, beforePages: !sink.calls.includes('writePages') && !sink.calls.includes('populate') }),
      });
      assertPages(sink, s.pages);
      assert.deepEqual(seen, [{ missing: version === 3 ? 0 : 3, beforePages: true }]);
      assert.equal(result.staticDataEnd?.inferred, version === 2);
      assert.equal(result.staticDataEnd?.inferredAt, version === 2 ? 'PAGE_DATA' : undefined);
      assert.equal(result.pagesWritten, s.pages.size);
      assert.equal(result.pfnsPopulated, s.pages.size);
      assert.equal(sink.calls.at(-1), 'commit');
      assert.deepEqual(sink.hvmParams, [{ index: 1n, value: 0xfeffen }, { index: 17n, value: 0xfefffn }]);
      assert.equal(sink.hvmContext?.length, 1080);
      // Params before context, both at the end (libxc's stream_complete order).
      assert.ok(sink.calls.indexOf('setHvmParams') < sink.calls.indexOf('setHvmContext'));
    });

    test(`PV v${version}${bigEndian ? ' big-endian' : ''}: pages, vcpus, shared info; static data end at P2M frames`, async () => {
      const s = pvStream({ version, bigEndian });
      const masks: number[] = [];
      const { sink, result } = await run(s.bytes, { staticDataDone: (m) => void masks.push(m) });
      assertPages(sink, s.pages);
      assert.deepEqual(masks, [version === 3 ? 0 : 3]);
      assert.equal(result.staticDataEnd?.inferredAt, version === 2 ? 'X86_PV_P2M_FRAMES' : undefined);
      assert.deepEqual(sink.vcpus.map((v) => `${v.vcpuId}:${v.kind}`).sort(), ['0:basic', '0:extended', '1:basic']);
      // PV info and policy are applied at static data end, before the P2M.
      const c = sink.calls;
      assert.ok(c.indexOf('setPvInfo') < c.indexOf('setP2mFrames'));
      assert.equal(c.includes('setCpuPolicy'), version === 3);
    });
  }
}

test('missing mask: CPUID only -> 2; none -> 3', async () => {
  for (const [policy, mask] of [['cpuid', 2], ['none', 3]] as const) {
    const masks: number[] = [];
    await run(hvmStream({ policy }).bytes, { staticDataDone: (m) => void masks.push(m) });
    assert.deepEqual(masks, [mask]);
  }
});

test('libxl and xl wrappers: emulator records and the xl config reach the sink', async () => {
  const le = true;
  const xs = new TextEncoder().encode('physmap/1/start\0' + 'f0000000\0');
  const emu = rec(2, new Bytes(le).u32(2).u32(0).raw(xs).build());
  const ctxRec = rec(3, new Bytes(le).u32(2).u32(0).raw(new Uint8Array([1, 2, 3])).build());
  const s = hvmStream();
  const bytes = xlWrap(libxlWrap(s.bytes, { extra: [emu, ctxRec] }), '{"c_info":{"name":"vm1"}}');
  const { sink, result } = await run(bytes);
  assertPages(sink, s.pages);
  assert.equal(sink.config, '{"c_info":{"name":"vm1"}}');
  assert.deepEqual(sink.emulator.map((e) => [e.kind, e.emulatorId, e.data.length]), [['xenstore', 2, xs.length], ['context', 2, 3]]);
  assert.deepEqual(result.layers, ['xl', 'libxl', 'libxc']);
});

test('--min-version 3 refuses a v2 stream before anything reaches the sink', async () => {
  const sink = new LogSink();
  await assert.rejects(restoreStream(items(hvmStream({ version: 2 }).bytes), sink, { minVersion: 3 }), (err: unknown) => {
    assert.ok(err instanceof RefusedError);
    assert.match(err.message, /refusing a libxc v2 stream: this receiver accepts v3 or later/);
    return true;
  });
  assert.deepEqual(sink.calls, ['abort']);
});

test('a libxl header of another version is refused as libxl refuses it, before anything reaches the sink', async () => {
  const good = libxlWrap(hvmStream({ version: 3 }).bytes);
  const v3 = good.slice();
  new DataView(v3.buffer).setUint32(8, 3, false);
  const sink = new LogSink();
  await assert.rejects(restoreStream(items(v3), sink), /libxl header version 3, expected 2 \(libxl refuses any other\)/);
  assert.deepEqual(sink.calls, ['abort']);
});

test('a staticDataDone refusal stops before any memory, aborts the sink with the reason', async () => {
  for (const version of [2, 3] as const) {
    const sink = new LogSink();
    await assert.rejects(
      restoreStream(items(hvmStream({ version }).bytes), sink, { staticDataDone: () => ({ refuse: 'CPU lacks avx512f' }) }),
      (err: unknown) => err instanceof RefusedError && /refused at STATIC_DATA_END.*CPU lacks avx512f/.test(err.message),
    );
    assert.ok(!sink.calls.includes('populate') && !sink.calls.includes('writePages'));
    assert.equal(sink.calls.at(-1), 'abort');
    assert.match(sink.aborted!, /avx512f/);
  }
});

test('unknown optional records are ignored and reported; unknown mandatory ones are fatal with their place', async () => {
  const s = hvmStream();
  const opt = rec(0x80000123, new Uint8Array([1, 2, 3]));
  const withOpt = concat(s.bytes.subarray(0, s.bytes.length - 8), opt, rec(T.END));
  const { result } = await run(withOpt);
  assert.deepEqual(result.ignored.map((i) => i.typeName), ['UNKNOWN_OPTIONAL(0x80000123)']);
  const bad = concat(s.bytes.subarray(0, s.bytes.length - 8), rec(0x123, new Uint8Array(8)), rec(T.END));
  await assert.rejects(run(bad), (err: unknown) => {
    assert.ok(err instanceof StreamFormatError);
    assert.equal(err.location.recordType, 'UNKNOWN(0x00000123)');
    assert.equal(err.location.offset, s.bytes.length - 8);
    assert.match(err.message, /UNKNOWN\(0x00000123\): unknown mandatory record; a restorer must fail here/);
    return true;
  });
});

test('page types: reserved types are fatal; XTAB and BROKEN allocate nothing; XALLOC allocates without data', async () => {
  const head = concat(libxcHeaders({ version: 2, domainType: 2 }));
  const tail = concat(rec(T.HVM_CONTEXT, hvmContextBody(0, 1n)), rec(T.END));
  const body = pageDataBody([{ pfn: 1 }, { pfn: 2, type: 14 }, { pfn: 3, type: 15 }, { pfn: 4, type: 13 }, { pfn: 5 }]);
  const { sink, result } = await run(concat(head, rec(T.PAGE_DATA, body), tail));
  assert.deepEqual([...sink.populated].sort(), [1, 2, 5]);
  assert.deepEqual([...sink.pages.keys()].sort(), [1, 5]);
  assert.deepEqual(sink.pages.get(5), pageFor(5));
  assert.equal(sink.types.get(2), 14);
  assert.equal(sink.types.get(3), 15);
  assert.equal(result.pagesWritten, 2);
  const reserved = pageDataBody([{ pfn: 7, type: 6 }]);
  await assert.rejects(run(concat(head, rec(T.PAGE_DATA, reserved), tail)), /pfn\[0\] 0x6000000000000007 has page type 6; types 5-8 are reserved/);
});

test('each pfn is populated once even when sent again', async () => {
  const pages = new Map<number, Uint8Array>();
  const bytes = concat(
    libxcHeaders({ version: 2, domainType: 2 }),
    pageData([1, 2], true, 0, pages),
    pageData([2, 3], true, 7, pages),
    rec(T.HVM_CONTEXT, hvmContextBody()),
    rec(T.END),
  );
  const { sink, result } = await run(bytes);
  assert.equal(result.pfnsPopulated, 3);
  assertPages(sink, pages);
});

test('VERIFY mode: resent pages are compared, not written; every mismatching pfn is reported', async () => {
  const pages = new Map<number, Uint8Array>();
  const tampered = pageDataBody([{ pfn: 1 }, { pfn: 2, page: new Uint8Array(4096).fill(9) }, { pfn: 3 }, { pfn: 50 }]);
  const bytes = concat(
    libxcHeaders({ version: 3, domainType: 2 }),
    rec(T.STATIC_DATA_END),
    pageData([1, 2, 3], true, 0, pages),
    rec(T.HVM_CONTEXT, hvmContextBody()),
    rec(T.VERIFY),
    rec(T.PAGE_DATA, tampered),
    rec(T.END),
  );
  const { sink, result } = await run(bytes);
  assert.deepEqual(result.verify, { pagesChecked: 4, mismatches: [2, 50] });
  assertPages(sink, pages);
});

test('v3 stream with memory before STATIC_DATA_END is refused before the page is applied', async () => {
  const pages = new Map<number, Uint8Array>();
  const bytes = concat(libxcHeaders({ version: 3 }), pageData([1], true, 0, pages), rec(T.STATIC_DATA_END), rec(T.END));
  const sink = new LogSink();
  await assert.rejects(restoreStream(items(bytes), sink), /PAGE_DATA before STATIC_DATA_END/);
  assert.deepEqual(sink.calls, ['begin', 'abort']);
});

test('a PV record in an HVM stream cannot be restored', async () => {
  const s = hvmStream();
  const bad = concat(s.bytes.subarray(0, s.bytes.length - 8), rec(T.SHARED_INFO, new Uint8Array(4096)), rec(T.END));
  await assert.rejects(run(bad), /SHARED_INFO is a PV record in an HVM stream/);
});

test('malformed records and truncation are StreamFormatErrors with locations; the sink is aborted', async () => {
  const s = hvmStream();
  const sink = new LogSink();
  await assert.rejects(restoreStream(items(s.bytes.subarray(0, s.bytes.length - 20)), sink), (e: unknown) => e instanceof StreamFormatError && /truncated/.test(e.message));
  assert.equal(sink.calls.at(-1), 'abort');
  const badTsc = concat(libxcHeaders({ version: 3 }), rec(T.STATIC_DATA_END), rec(T.X86_TSC_INFO, tscBody().subarray(0, 16)), rec(T.END));
  await assert.rejects(run(badTsc), (e: unknown) => e instanceof StreamFormatError && e.location.recordType === 'X86_TSC_INFO' && /expected exactly 24/.test(e.message));
});

test('HVM_PARAMS with count 0 (Xen 4.6-4.8 erratum) is tolerated with a warning', async () => {
  const bytes = concat(libxcHeaders({ version: 3 }), rec(T.STATIC_DATA_END), rec(T.HVM_PARAMS, hvmParamsBody([])), rec(T.HVM_CONTEXT, hvmContextBody()), rec(T.END));
  const { result } = await run(bytes);
  assert.match(result.warnings[0]!.message, /count 0/);
});

test('PV: X86_PV_P2M_FRAMES must carry one frame per page of P2M entries; pfns beyond it are refused', async () => {
  const le = true;
  const head = concat(libxcHeaders({ version: 2, domainType: 1 }), rec(T.X86_PV_INFO, new Bytes(le).u8(8).u8(4).u16(0).u32(0).build()));
  // 512 entries per frame for a 64-bit guest: pfns 0..1023 need 2 frames.
  const p2m = (start: number, end: number, frames: number) => {
    const b = new Bytes(le).u32(start).u32(end);
    for (let i = 0; i < frames; i++) b.u64(BigInt(i + 1));
    return rec(T.X86_PV_P2M_FRAMES, b.build());
  };
  await assert.rejects(run(concat(head, p2m(0, 1023, 1), rec(T.END))), /pfns 0-1023 span 2 p2m frame\(s\) of 512 entries, the record holds 1/);
  const pages = new Map<number, Uint8Array>();
  const ok = concat(head, p2m(512, 1023, 1), pageData([600], le, 0, pages), rec(T.X86_PV_VCPU_BASIC, new Bytes(le).u32(0).u32(0).fill(16, 1).build()), rec(T.END));
  const { sink } = await run(ok);
  assert.deepEqual(sink.pages.get(600), pages.get(600));
  const beyond = concat(head, p2m(0, 1023, 2), pageData([1024], le, 0, new Map()), rec(T.END));
  await assert.rejects(run(beyond), /pfn\[0\] 0x400 is beyond p2m_end_pfn 0x3ff/);
});
