/**
 * Mutation test: thousands of generated streams flipped, cut, extended and spliced.
 * verify must always answer with diagnostics (never another exception), never hang, and
 * stay within memory; dump's decoding of whatever frames must not throw either.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { libxlWrap, sampleHvmV3, xlWrap } from '../support/builder.js';
import { ByteReader } from '../../src/io/byte-reader.js';
import { BufferRawSource } from '../../src/io/raw-source.js';
import { readStream } from '../../src/stream/reader.js';
import { StreamFormatError } from '../../src/format/errors.js';
import { DIAGNOSTIC_CODES, verifyStream } from '../../src/verify/index.js';
import { itemJson, itemText } from '../../src/inspect/describe.js';
import { hvmRecords, libxcBytes, pvRecords } from './streams.js';
import { rng } from '../support/rng.js';

const BASES: Uint8Array[] = [
  libxcBytes(hvmRecords(3)),
  libxcBytes(pvRecords(2), { version: 2, domainType: 1 }),
  libxcBytes(pvRecords(3, false), { domainType: 1, bigEndian: true }),
  xlWrap(libxlWrap(sampleHvmV3({ pages: 2 }))),
  libxlWrap(sampleHvmV3({ pages: 1, bigEndian: true }), { bigEndian: true }),
];

const INTERESTING = [0, 1, 7, 8, 0xff, 0x7fffffff, 0x80000000, 0xffffffff, 0x08000000, 0x08000001, 16, 0x10, 0x12, 0x80000012];

function mutate(base: Uint8Array, next: () => number): Uint8Array {
  let b = base.slice();
  const steps = 1 + (next() % 3);
  for (let s = 0; s < steps; s++) {
    const at = b.length === 0 ? 0 : next() % b.length;
    switch (next() % 6) {
      case 0: // flip bits of one octet
        if (b.length) b[at]! ^= 1 << (next() % 8);
        break;
      case 1: // cut
        b = b.subarray(0, at);
        break;
      case 2: {
        // extend with random octets
        const extra = new Uint8Array(1 + (next() % 64)).map(() => next() & 0xff);
        const out = new Uint8Array(b.length + extra.length);
        out.set(b);
        out.set(extra, b.length);
        b = out;
        break;
      }
      case 3: {
        // splice random octets into the middle
        const extra = new Uint8Array(1 + (next() % 16)).map(() => next() & 0xff);
        const out = new Uint8Array(b.length + extra.length);
        out.set(b.subarray(0, at));
        out.set(extra, at);
        out.set(b.subarray(at), at + extra.length);
        b = out;
        break;
      }
      case 4: {
        // an interesting u32 at an aligned place (types, lengths, counts)
        const pos = at & ~3;
        if (pos + 4 <= b.length) new DataView(b.buffer, b.byteOffset).setUint32(pos, INTERESTING[next() % INTERESTING.length]!, (next() & 1) === 0);
        break;
      }
      default: // drop a run of octets
        b = new Uint8Array([...b.subarray(0, at), ...b.subarray(Math.min(b.length, at + 1 + (next() % 40)))]);
    }
  }
  return b;
}

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
