/**
 * One rule set, two uses: over a corpus of mutated streams, `verify` finds an error
 * exactly when `restore` refuses, and the restore's refusal carries the code of the
 * verifier's first error (a framing error by the code the verifier gives it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteReader } from '../../src/io/byte-reader.js';
import { BufferRawSource } from '../../src/io/raw-source.js';
import { readAnyStream } from '../../src/stream/any.js';
import { StreamFormatError } from '../../src/format/errors.js';
import { restoreStream } from '../../src/restore/index.js';
import { framingCode, verifyStream } from '../../src/verify/index.js';
import { T, hvmContextBody, vcpuBody } from '../support/builder.js';
import { BASES, mutate } from '../support/mutate.js';
import { rng } from '../support/rng.js';
import { hvmRecords, libxcBytes, pvRecords, r, type Rec } from '../verify/streams.js';
import { LogSink } from './memory-sink.js';

/** The code of the first error verify reports, or undefined when the stream conforms. */
async function verifyVerdict(bytes: Uint8Array): Promise<string | undefined> {
  const res = await verifyStream(new ByteReader(new BufferRawSource(bytes), 4096));
  return res.diagnostics.find((d) => d.severity === 'error')?.code;
}

/** The code restore refuses with (and its message), or undefined when it restores the stream; read as `restore` reads a file (legacy images included). */
async function restoreVerdict(bytes: Uint8Array): Promise<{ code: string; message: string } | undefined> {
  try {
    await restoreStream(readAnyStream(new ByteReader(new BufferRawSource(bytes), 4096)), new LogSink());
    return undefined;
  } catch (err) {
    if (!(err instanceof StreamFormatError)) throw err;
    return { code: (err as StreamFormatError & { code?: string }).code ?? framingCode(err), message: err.message };
  }
}

const FOREIGN: Rec[] = [
  r(T.SHARED_INFO, new Uint8Array(4096)),
  r(T.HVM_CONTEXT, hvmContextBody()),
  r(T.STATIC_DATA_END),
  r(T.CHECKPOINT),
  r(T.TOOLSTACK, new Uint8Array(8)),
  r(T.CHECKPOINT_DIRTY_PFN_LIST, new Uint8Array(8)),
  r(T.X86_PV_VCPU_BASIC, vcpuBody(0, 16)),
  r(T.X86_PV_VCPU_EXTENDED, vcpuBody(0, 0)),
  r(0x123, new Uint8Array(8)),
  r(0x80000123, new Uint8Array(3)),
  r(T.END),
];

/** Record-level mutations: drop, repeat, swap or insert records (sequence rules, completeness). */
function shuffleRecords(next: () => number): { bytes: Uint8Array; what: string } {
  const kind = next() % 4;
  const version = (2 + (next() % 2)) as 2 | 3;
  const recs = kind < 2 ? hvmRecords(version) : pvRecords(version);
  const hdr = { version, domainType: kind < 2 ? 2 : 1 } as const;
  const i = next() % recs.length;
  const op = next() % 4;
  const what = `${hdr.domainType === 1 ? 'PV' : 'HVM'} v${version} op ${op} at ${i}`;
  switch (op) {
    case 0:
      recs.splice(i, 1);
      break;
    case 1:
      recs.splice(i, 0, recs[i]!);
      break;
    case 2:
      if (i + 1 < recs.length) [recs[i], recs[i + 1]] = [recs[i + 1]!, recs[i]!];
      break;
    default:
      recs.splice(i, 0, FOREIGN[next() % FOREIGN.length]!);
  }
  return { bytes: libxcBytes(recs, hdr), what };
}

test('verify errs iff restore refuses, with the same code: record-level mutations', async () => {
  const next = rng(0xa9ee);
  const disagree: string[] = [];
  for (let n = 0; n < 600; n++) {
    const { bytes, what } = shuffleRecords(next);
    const v = await verifyVerdict(bytes);
    const x = await restoreVerdict(bytes);
    if (v !== x?.code) disagree.push(`case ${n} (${what}): verify ${v ?? 'conforms'}, restore ${x ? `${x.code} (${x.message})` : 'restores'}`);
  }
  assert.deepEqual(disagree, []);
});

test('verify errs iff restore refuses, with the same code: byte-level mutations', async () => {
  const next = rng(0x5eed);
  const disagree: string[] = [];
  for (let n = 0; n < 1500; n++) {
    const bytes = mutate(BASES[n % BASES.length]!, next);
    const v = await verifyVerdict(bytes);
    const x = await restoreVerdict(bytes);
    if (v !== x?.code) disagree.push(`case ${n}: verify ${v ?? 'conforms'}, restore ${x ? `${x.code} (${x.message})` : 'restores'}`);
  }
  assert.deepEqual(disagree.slice(0, 20), [], `${disagree.length} disagreements`);
});
