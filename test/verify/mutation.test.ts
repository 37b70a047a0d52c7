/**
 * Mutation test: thousands of generated streams flipped, cut, extended and spliced.
 * verify must always answer with diagnostics (never another exception), never hang, and
 * stay within memory; dump's decoding of whatever frames must not throw either.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASES, mutate } from '../support/mutate.js';
import { ByteReader } from '../../src/io/byte-reader.js';
import { BufferRawSource } from '../../src/io/raw-source.js';
import { readStream } from '../../src/stream/reader.js';
import { StreamFormatError } from '../../src/format/errors.js';
import { DIAGNOSTIC_CODES, verifyStream } from '../../src/verify/index.js';
import { itemJson, itemText } from '../../src/inspect/describe.js';
import { hvmRecords, libxcBytes } from './streams.js';
import { rng } from '../support/rng.js';

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]);
}

async function dumpAll(bytes: Uint8Array): Promise<void> {
  try {
    for await (const item of readStream(new ByteReader(new BufferRawSource(bytes), 4096), { pageContents: 'skip' })) {
      itemText(item);
      JSON.stringify(itemJson(item, true), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    }
  } catch (err) {
    if (!(err instanceof StreamFormatError)) throw err;
  }
}

test('verify and dump survive 4000 mutated streams with only typed diagnostics', async () => {
  const next = rng(0x5eed);
  const rssBefore = process.memoryUsage().rss;
  let nonConforming = 0;
  for (let i = 0; i < 4000; i++) {
    const bytes = mutate(BASES[i % BASES.length]!, next);
    const chunk = [64, 4096, 256 * 1024][i % 3]!;
    let res;
    try {
      res = await withTimeout(verifyStream(new ByteReader(new BufferRawSource(bytes), chunk), { checkpointed: (i & 1) === 1 }), 2000, `case ${i}`);
      await withTimeout(dumpAll(bytes), 2000, `dump of case ${i}`);
    } catch (err) {
      assert.fail(`case ${i}: unexpected ${(err as Error).stack}`);
    }
    for (const d of res.diagnostics) assert.ok(d.code in DIAGNOSTIC_CODES, `case ${i}: undocumented code ${d.code}`);
    if (!res.conforming) nonConforming++;
  }
  // Most mutations break a rule (those inside page contents or blobs need not); a verifier
  // that shrugs everything off fails here.
  assert.ok(nonConforming > 2700, `only ${nonConforming} of 4000 mutated streams were found non-conforming`);
  assert.ok(process.memoryUsage().rss - rssBefore < 200 * 1024 * 1024, 'memory stayed bounded');
});

test('a length field that lies cannot make verify allocate what the input does not hold', async () => {
  const base = libxcBytes(hvmRecords(3));
  const lie = base.slice(0, 40 + 8);
  new DataView(lie.buffer).setUint32(40, 0x09, true); // HVM_CONTEXT
  new DataView(lie.buffer).setUint32(44, 0x07ffffff, true); // just under 128 MiB
  const before = process.memoryUsage().arrayBuffers;
  const res = await verifyStream(new ByteReader(new BufferRawSource(lie)));
  assert.deepEqual(res.diagnostics.map((d) => d.code), ['truncated']);
  assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 1024 * 1024);
});
