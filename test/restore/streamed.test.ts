/**
 * Restoring with PAGE_DATA contents streamed out of the reader (what `restore` and
 * `extract` do with a file) must come out exactly as restoring from whole bodies: same
 * sink calls, same pages, same result, same failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteReader } from '../../src/io/byte-reader.js';
import { BufferRawSource } from '../../src/io/raw-source.js';
import { readStream } from '../../src/stream/reader.js';
import { restoreStream, type RestoreOptions } from '../../src/restore/index.js';
import { StreamFormatError } from '../../src/format/errors.js';
import { concat, hvmContextBody, libxcHeaders, libxlWrap, pageDataBody, rec, xlWrap, T } from '../support/builder.js';
import { checkpointed, hvmStream, pageData, pvStream } from './fixtures.js';
import { LogSink } from './memory-sink.js';

async function outcome(bytes: Uint8Array, pageContents: 'read' | 'stream', opts: RestoreOptions = {}) {
  const sink = new LogSink();
  // A small read buffer: page runs then cross buffer refills.
  const items = readStream(new ByteReader(new BufferRawSource(bytes), 8192 + 64), { pageContents });
  const result = await restoreStream(items, sink, opts).catch((e: StreamFormatError) => e);
  if (result instanceof Error) {
    // A streamed record can be partly applied before its truncation shows: the sink is
    // aborted all the same, and the error names the same record (its count differs:
    // what was left of the contents, not of the whole body).
    return { error: result.constructor.name, location: result.location, last: sink.calls.at(-1), committed: sink.calls.includes('commit') };
  }
  // A cut inside a PAGE_DATA head fails over with the same record named; what the reader
  // says was missing differs (the pfn array alone, or the whole body).
  if (result.failover) result.failover.reason = result.failover.reason.replace(/(stream truncated: PAGE_DATA) .*/, '$1 ...');
  // Streamed pages arrive in several writePages calls: the same call otherwise.
  const calls = sink.calls.filter((c, i) => c !== 'writePages' || sink.calls[i - 1] !== 'writePages');
  return { result, calls, pages: [...sink.pages].sort((a, b) => a[0] - b[0]), aborted: sink.aborted };
}

async function same(name: string, bytes: Uint8Array, opts: RestoreOptions = {}): Promise<void> {
  const whole = await outcome(bytes, 'read', opts);
  const streamed = await outcome(bytes, 'stream', opts);
  assert.deepEqual(streamed, whole, name);
}

const verifying = (() => {
  const pages = new Map<number, Uint8Array>();
  const tampered = pageDataBody([{ pfn: 1 }, { pfn: 2, page: new Uint8Array(4096).fill(9) }, { pfn: 3 }]);
  return concat(
    libxcHeaders({ version: 3, domainType: 2 }),
    rec(T.STATIC_DATA_END),
    pageData([1, 2, 3, 4, 5, 6, 7], true, 0, pages),
    rec(T.HVM_CONTEXT, hvmContextBody()),
    rec(T.VERIFY),
    rec(T.PAGE_DATA, tampered),
    rec(T.END),
  );
})();

test('streamed page contents restore exactly as whole bodies: HVM, PV, both versions and byte orders, wrapped, VERIFY', async () => {
  for (const version of [2, 3] as const) {
    for (const bigEndian of [false, true]) {
      await same(`HVM v${version} ${bigEndian}`, hvmStream({ version, bigEndian }).bytes);
      await same(`PV v${version} ${bigEndian}`, pvStream({ version, bigEndian }).bytes);
    }
  }
  await same('xl > libxl > PV', xlWrap(libxlWrap(pvStream().bytes)));
  await same('VERIFY', verifying);
});

test('streamed page contents: a checkpointed stream, whole and cut anywhere, fails over exactly as with whole bodies', async () => {
  const { bytes } = checkpointed();
  for (let cut = 40; cut <= bytes.length; cut += 97) await same(`cut at ${cut}`, bytes.subarray(0, cut), { checkpointed: true });
  await same('whole', bytes, { checkpointed: true });
});

test('streamed page contents: truncation inside the pages of a live stream aborts with the record named', async () => {
  const s = hvmStream({ version: 3 }).bytes;
  for (const cut of [s.length - 9, s.length - 4096, s.length - 5000]) {
    await same(`cut at ${cut}`, s.subarray(0, cut));
    const streamed = await outcome(s.subarray(0, cut), 'stream');
    assert.equal('error' in streamed && streamed.error, 'TruncatedStreamError');
    assert.equal('last' in streamed && streamed.last, 'abort');
  }
});
