/**
 * Migration streams for the guard tests: an xl-wrapped HVM guest whose CPU policy is
 * the sample Skylake-SP guest's, in v3 or v2, with an optional broken record.
 */
import assert from 'node:assert/strict';
import { DHDR_TYPE_X86_HVM, LIBXL_REC_TYPE, REC_TYPE } from '../../src/format/constants.js';
import { makeImageHeader, makeLibxlHeader, makeXlHeader } from '../../src/format/headers.js';
import type { PfnEntry } from '../../src/format/records.js';
import { BufferSink } from '../../src/io/sink.js';
import { sampleGuestPolicy } from '../../src/policy/samples.js';
import { sampleConfig, sampleHvmContext } from '../../src/domain/simulated/sample.js';
import { StreamWriter } from '../../src/stream/writer.js';
import { ByteReader } from '../../src/io/byte-reader.js';
import { BufferRawSource } from '../../src/io/raw-source.js';
import { readStream } from '../../src/stream/reader.js';
import { itemLabel } from '../../src/stream/items.js';

export interface TestStreamOptions {
  version?: 2 | 3;
  /** Pages per round; one PAGE_DATA record of up to 1024 pfns each. */
  rounds?: number[];
  /** X86_TSC_INFO with a 16-octet body (the format says 24). */
  badTscInfo?: boolean;
}

/** The xl config the test streams carry (the sample domain's, for their one vcpu). */
export const TEST_STREAM_CONFIG = sampleConfig({ guest: 'hvm', name: 'sample', memoryMiB: 1, vcpus: 1 });

export async function testStream(opts: TestStreamOptions = {}): Promise<Uint8Array> {
  const version = opts.version ?? 3;
  const sink = new BufferSink();
  const w = new StreamWriter(sink);
  await w.xlHeader(makeXlHeader(TEST_STREAM_CONFIG));
  await w.libxlHeader(makeLibxlHeader());
  await w.record(LIBXL_REC_TYPE.LIBXC_CONTEXT);
  await w.libxcHeader(makeImageHeader(version), { type: DHDR_TYPE_X86_HVM, pageShift: 12, reserved: 0, xenMajor: 4, xenMinor: 19 });
  if (version === 3) {
    const policy = sampleGuestPolicy('hvm').toData();
    await w.libxcRecord({ type: REC_TYPE.X86_CPUID_POLICY, entries: policy.cpuid ?? [] });
    await w.libxcRecord({ type: REC_TYPE.X86_MSR_POLICY, entries: policy.msrs ?? [] });
    await w.libxcRecord({ type: REC_TYPE.STATIC_DATA_END });
  }
  const rounds = opts.rounds ?? [64];
  const memoryPages = rounds[0]!;
  const pages = new Uint8Array(1024 * 4096);
  const pageWords = new DataView(pages.buffer);
  for (const count of rounds) {
    for (let first = 0; first < count; first += 1024) {
      const n = Math.min(1024, count - first);
      const entries: PfnEntry[] = [];
      for (let i = 0; i < n; i++) {
        entries.push({ pfn: first + i, pageType: 0, reservedBits: 0 });
        // Each page starts with its pfn: one delivered to the wrong place shows.
        pageWords.setUint32(i * 4096, first + i, true);
      }
      await w.pageData(entries, pages.subarray(0, n * 4096));
    }
  }
  if (opts.badTscInfo) await w.record(REC_TYPE.X86_TSC_INFO, new Uint8Array(16));
  else await w.libxcRecord({ type: REC_TYPE.X86_TSC_INFO, mode: 0, khz: 2_400_000, nsec: 1_000_000_000n, incarnation: 1, reserved: 0 });
  await w.libxcRecord({
    type: REC_TYPE.HVM_PARAMS,
    reserved: 0,
    params: [
      { index: 1n, value: BigInt(memoryPages - 2) },
      { index: 2n, value: 1n },
    ],
  });
  await w.libxcRecord({ type: REC_TYPE.HVM_CONTEXT, data: sampleHvmContext(1) });
  await w.libxcRecord({ type: REC_TYPE.END });
  await w.record(LIBXL_REC_TYPE.END);
  return sink.bytes();
}

/** Where each item of a stream lies, labelled as the fake receiver labels them. */
export async function itemSpans(bytes: Uint8Array): Promise<{ label: string; offset: number; end: number }[]> {
  const spans: { label: string; offset: number; end: number }[] = [];
  for await (const item of readStream(new ByteReader(new BufferRawSource(bytes)), { expectEndOfInput: false })) {
    if (item.kind === 'trailing') continue;
    spans.push({ label: item.kind === 'record' ? `${item.layer}:${itemLabel(item)}` : item.kind, offset: item.offset, end: item.end });
  }
  return spans;
}

export async function spanOf(bytes: Uint8Array, label: string): Promise<{ offset: number; end: number }> {
  const found = (await itemSpans(bytes)).find((s) => s.label === label);
  if (!found) throw new Error(`no ${label} in the test stream`);
  return found;
}

/** What reached the receiver is the stream up to the held record, without that record's last octet. */
export async function assertHeldAt(received: Uint8Array | undefined, stream: Uint8Array, label: string): Promise<void> {
  const span = await spanOf(stream, label);
  assert.ok(received !== undefined);
  assert.ok(received.length >= span.offset && received.length < span.end, `receiver got ${received.length} octets; ${label} spans ${span.offset}..${span.end}`);
  assert.deepEqual(received, stream.subarray(0, received.length));
}
