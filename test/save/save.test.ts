import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BufferSink, type ByteSink } from '../../src/io/sink.js';
import { ByteReader } from '../../src/io/byte-reader.js';
import { BufferRawSource } from '../../src/io/raw-source.js';
import { readStream } from '../../src/stream/reader.js';
import type { RecordItem, StreamItem } from '../../src/stream/items.js';
import { decodePageData, decodeRecord } from '../../src/format/records.js';
import { IoError } from '../../src/format/errors.js';
import { SimulatedDomain } from '../../src/domain/simulated/simulated-domain.js';
import { saveDomain, type SaveOptions } from '../../src/save/save.js';
import { precopyPolicy } from '../../src/save/precopy.js';

async function items(bytes: Uint8Array): Promise<StreamItem[]> {
  const out: StreamItem[] = [];
  for await (const it of readStream(new ByteReader(new BufferRawSource(bytes)))) {
    out.push(it.kind === 'record' ? { ...it, body: it.body.slice() } : it);
  }
  return out;
}

function libxcRecords(all: StreamItem[]): RecordItem[] {
  return all.filter((i): i is RecordItem => i.kind === 'record' && i.layer === 'libxc');
}

/** Collapse runs of the same record name: "PAGE_DATA x3". */
function shape(recs: RecordItem[]): string[] {
  const out: string[] = [];
  let last = '';
  let n = 0;
  for (const r of recs) {
    if (r.typeName === last) n++;
    else {
      if (last) out.push(n > 1 ? `${last} x${n}` : last);
      last = r.typeName;
      n = 1;
    }
  }
  if (last) out.push(n > 1 ? `${last} x${n}` : last);
  return out;
}

/** Apply every PAGE_DATA (up to VERIFY) in order: what a receiver's memory ends up as. */
function applyPages(recs: RecordItem[], maxPfn: number): { memory: Buffer; types: Map<number, number>; batches: number[] } {
  const memory = Buffer.alloc(maxPfn * 4096);
  const types = new Map<number, number>();
  const batches: number[] = [];
  for (const r of recs) {
    if (r.typeName === 'VERIFY') break;
    if (r.typeName !== 'PAGE_DATA') continue;
    const pd = decodePageData(r.body, true);
    batches.push(pd.entries.length);
    let k = 0;
    for (const e of pd.entries) {
      types.set(e.pfn, e.pageType);
      if (e.pageType <= 4 || (e.pageType >= 9 && e.pageType <= 12)) {
        memory.set(pd.pages.subarray(k * 4096, (k + 1) * 4096), e.pfn * 4096);
        k++;
      }
    }
  }
  return { memory, types, batches };
}

async function save(d: SimulatedDomain, opts: SaveOptions = {}) {
  const sink = new BufferSink();
  let atSuspend: Buffer | undefined;
  const summary = await saveDomain(d, sink, { ...opts, onSuspend: () => (atSuspend = Buffer.from(d.memory)) });
  return { bytes: sink.bytes(), summary, atSuspend: atSuspend! };
}

test('non-live HVM save: record order, batches of 1024, every page exact', async () => {
  const d = SimulatedDomain.create({ guest: 'hvm', memoryMiB: 5, seed: 7 });
  const { bytes, summary } = await save(d);
  const all = await items(bytes);
  assert.equal(all[0]!.kind, 'libxc-header');
  const hdr = all[0] as Extract<StreamItem, { kind: 'libxc-header' }>;
  assert.equal(hdr.image.version, 3);
  assert.equal(hdr.domain.type, 2);
  const recs = libxcRecords(all);
  assert.deepEqual(shape(recs), [
    'X86_CPUID_POLICY',
    'X86_MSR_POLICY',
    'STATIC_DATA_END',
    'PAGE_DATA x2',
    'X86_TSC_INFO',
    'HVM_CONTEXT',
    'HVM_PARAMS',
    'END',
  ]);
  const applied = applyPages(recs, d.maxPfn);
  assert.deepEqual(applied.batches, [1024, 256]);
  assert.ok(applied.memory.equals(d.memory));
  // The VGA hole is sent as invalid (XTAB), with no data.
  assert.equal(applied.types.get(0xa0), 15);
  assert.equal(applied.types.get(0x9f), 0);
  assert.deepEqual(summary.pagesPerRound, [1280]);
  assert.equal(summary.bytes, bytes.length);
  const cpuid = decodeRecord(0x11, recs[0]!.body, true) as { entries: { leaf: number; ebx: number }[] };
  assert.equal(cpuid.entries[0]!.leaf, 0);
  assert.equal(cpuid.entries[0]!.ebx, 0x756e6547);
});

test('non-live PV save: PV record order, page-table types, vcpu records per vcpu', async () => {
  const d = SimulatedDomain.create({ guest: 'pv', memoryMiB: 2, seed: 3, vcpus: 2 });
  const { bytes } = await save(d);
  const recs = libxcRecords(await items(bytes));
  assert.deepEqual(shape(recs), [
    'X86_PV_INFO',
    'X86_CPUID_POLICY',
    'X86_MSR_POLICY',
    'STATIC_DATA_END',
    'X86_PV_P2M_FRAMES',
    'PAGE_DATA',
    'X86_TSC_INFO',
    'SHARED_INFO',
    'X86_PV_VCPU_BASIC',
    'X86_PV_VCPU_EXTENDED',
    'X86_PV_VCPU_XSAVE',
    'X86_PV_VCPU_BASIC',
    'X86_PV_VCPU_EXTENDED',
    'X86_PV_VCPU_XSAVE',
    'END',
  ]);
  const applied = applyPages(recs, d.maxPfn);
  assert.ok(applied.memory.equals(d.memory));
  assert.equal(applied.types.get(1), 12); // L4TAB pinned
  assert.equal(applied.types.get(4), 1); // L1TAB
  const p2m = decodeRecord(3, recs[4]!.body, true) as { startPfn: number; endPfn: number; p2mPfns: bigint[] };
  assert.equal(p2m.endPfn, 511);
  assert.deepEqual(p2m.p2mPfns, [511n]);
});

test('live HVM save with the workload running: memory at suspend arrives exactly', async () => {
  const d = SimulatedDomain.create({ guest: 'hvm', memoryMiB: 8, seed: 11, workload: { rate: 50_000, pattern: 'uniform', tickMs: 1 } });
  d.start();
  const { bytes, summary, atSuspend } = await save(d, { live: true });
  assert.equal(d.running, false);
  const recs = libxcRecords(await items(bytes));
  const applied = applyPages(recs, d.maxPfn);
  assert.ok(applied.memory.equals(atSuspend), 'receiver memory equals the source at suspend');
  assert.ok(summary.rounds >= 2);
  assert.equal(summary.pagesPerRound[0], 2048);
  assert.ok(d.workload!.written > 0);
  // Nothing after the final round may change memory.
  assert.ok(d.memory.equals(atSuspend));
});

test('live PV save with a hot-set workload and a ballooned page: XTAB in the final round', async () => {
  const d = SimulatedDomain.create({ guest: 'pv', memoryMiB: 4, seed: 5, workload: { rate: 20_000, pattern: 'hotset', tickMs: 1 } });
  d.start();
  let ballooned = false;
  const { bytes, summary, atSuspend } = await save(d, {
    live: true,
    onProgress: (p) => {
      if (p.round === 1 && p.pagesSent === 1024 && !ballooned) {
        d.balloonOut(900);
        ballooned = true;
      }
    },
  });
  const recs = libxcRecords(await items(bytes));
  const applied = applyPages(recs, d.maxPfn);
  assert.equal(applied.types.get(900), 15, 'the ballooned pfn ends as XTAB');
  // An invalid pfn holds nothing at the receiver: compare the rest.
  applied.memory.fill(0, 900 * 4096, 901 * 4096);
  assert.ok(applied.memory.equals(atSuspend));
  assert.ok(summary.invalidPages >= 1);
});

test('a pfn invalid during pre-copy of a PV guest is deferred and resent after suspend', async () => {
  const d = SimulatedDomain.create({ guest: 'pv', memoryMiB: 2, seed: 5 });
  d.balloonOut(300);
  d.start();
  const pfnRounds: number[][] = [];
  const { bytes, summary } = await save(d, { live: true, precopyPolicy: precopyPolicy(2, 0) });
  const recs = libxcRecords(await items(bytes));
  for (const r of recs) if (r.typeName === 'PAGE_DATA') pfnRounds.push(decodePageData(r.body, true).entries.map((e) => e.pfn));
  assert.equal(summary.deferredPages, 1);
  assert.deepEqual(pfnRounds.at(-1), [300]);
});

test('the pre-copy policy sees what libxc gives it and bounds the rounds', async () => {
  const d = SimulatedDomain.create({ guest: 'hvm', memoryMiB: 4, seed: 2, workload: { rate: 100_000, pattern: 'uniform', tickMs: 1 } });
  d.start();
  const seen: { iteration: number; dirtyCount: number }[] = [];
  const { summary } = await save(d, {
    live: true,
    precopyPolicy: (s) => {
      seen.push({ iteration: s.iteration, dirtyCount: s.dirtyCount });
      return s.iteration >= 3 ? 'stop' : 'continue';
    },
  });
  assert.deepEqual(seen[0], { iteration: 0, dirtyCount: 1024 });
  assert.deepEqual(seen[1], { iteration: 1, dirtyCount: -1 });
  assert.ok(summary.rounds <= 4);
});

test('debug mode appends VERIFY and every page again, equal to memory at suspend', async () => {
  const d = SimulatedDomain.create({ guest: 'hvm', memoryMiB: 2, seed: 9 });
  const { bytes } = await save(d, { debug: true });
  const recs = libxcRecords(await items(bytes));
  const names = shape(recs);
  assert.deepEqual(names.slice(3), ['PAGE_DATA', 'VERIFY', 'PAGE_DATA', 'X86_TSC_INFO', 'HVM_CONTEXT', 'HVM_PARAMS', 'END']);
  const verifyAt = recs.findIndex((r) => r.typeName === 'VERIFY');
  const again = applyPages(recs.slice(verifyAt + 1), d.maxPfn);
  assert.ok(again.memory.equals(d.memory));
});

test('v2 streams carry no STATIC_DATA_END nor CPU policy', async () => {
  const d = SimulatedDomain.create({ guest: 'hvm', memoryMiB: 1, seed: 1 });
  const { bytes } = await save(d, { streamVersion: 2 });
  const all = await items(bytes);
  assert.equal((all[0] as Extract<StreamItem, { kind: 'libxc-header' }>).image.version, 2);
  assert.deepEqual(shape(libxcRecords(all)), ['PAGE_DATA', 'X86_TSC_INFO', 'HVM_CONTEXT', 'HVM_PARAMS', 'END']);
});

test('static-only (the preflight): headers, static records, STATIC_DATA_END, END', async () => {
  const d = SimulatedDomain.create({ guest: 'pv', memoryMiB: 1, seed: 1 });
  const { bytes } = await save(d, { staticOnly: true });
  assert.deepEqual(shape(libxcRecords(await items(bytes))), ['X86_PV_INFO', 'X86_CPUID_POLICY', 'X86_MSR_POLICY', 'STATIC_DATA_END', 'END']);
  assert.ok(bytes.length < 512);
});

test('xl layer: xl header with the config, libxl records around the libxc stream, emulator records, END', async () => {
  const d = SimulatedDomain.create({ guest: 'hvm', memoryMiB: 1, seed: 1, name: 'vm1' });
  const { bytes } = await save(d, { layer: 'xl' });
  const all = await items(bytes);
  assert.equal(all[0]!.kind, 'xl-header');
  const xl = all[0] as Extract<StreamItem, { kind: 'xl-header' }>;
  assert.equal(xl.header.mandatoryFlags, 3);
  assert.match(new TextDecoder().decode(xl.header.config), /"name":"vm1"/);
  const libxl = all.filter((i): i is RecordItem => i.kind === 'record' && i.layer === 'libxl').map((r) => r.typeName);
  assert.deepEqual(libxl, ['LIBXC_CONTEXT', 'EMULATOR_XENSTORE_DATA', 'EMULATOR_CONTEXT', 'END']);
});

test('checkpointed: the first pass, then a CHECKPOINT-terminated batch per interval, END last', async () => {
  const d = SimulatedDomain.create({ guest: 'hvm', memoryMiB: 1, seed: 4, workload: { rate: 10_000, pattern: 'uniform', tickMs: 1 } });
  d.start();
  const { bytes, summary } = await save(d, { checkpoint: { intervalMs: 5, count: 2 } });
  const names = libxcRecords(await items(bytes)).map((r) => r.typeName);
  assert.equal(names.filter((n) => n === 'CHECKPOINT').length, 3);
  assert.equal(summary.checkpoints, 3);
  assert.equal(names.at(-1), 'END');
  assert.equal(names.at(-2), 'CHECKPOINT');
  // Each checkpoint is closed by the context records.
  const idx = names.reduce<number[]>((a, n, i) => (n === 'CHECKPOINT' ? [...a, i] : a), []);
  for (const i of idx) assert.deepEqual(names.slice(i - 3, i), ['X86_TSC_INFO', 'HVM_CONTEXT', 'HVM_PARAMS']);
});

class FailingSink implements ByteSink {
  readonly name = 'failing';
  written = 0;
  constructor(private readonly failAfter: number) {}
  async write(bytes: Uint8Array): Promise<void> {
    if (this.written + bytes.length > this.failAfter) throw new IoError('writing failing: connection closed');
    this.written += bytes.length;
  }
  async commit(): Promise<void> {}
  async abort(): Promise<void> {}
}

test('a sink that fails mid-stream: the error comes back and the guest is running again', async () => {
  for (const failAfter of [100, 5000, 2_000_000, 4_060_000]) {
    const d = SimulatedDomain.create({ guest: 'hvm', memoryMiB: 4, seed: 1, workload: { rate: 1000, tickMs: 1 } });
    d.start();
    await assert.rejects(saveDomain(d, new FailingSink(failAfter), { live: true }), IoError);
    assert.equal(d.running, true, `running after a failure at ${failAfter}`);
    d.destroy();
  }
});

test('a lazy domain (pages computed when read, only written ones stored) saves exactly what a whole one holds', async () => {
  for (const guest of ['hvm', 'pv'] as const) {
    const lazy = SimulatedDomain.create({ guest, memoryMiB: 8, seed: 13 });
    const whole = SimulatedDomain.create({ guest, memoryMiB: 8, seed: 13 });
    for (const d of [lazy, whole]) for (const pfn of [3, 700, 1000]) d.touch(pfn, pfn * 3);
    const stored = lazy.storedBytes;
    const sink = new BufferSink();
    await saveDomain(lazy, sink, { debug: true });
    const applied = applyPages(libxcRecords(await items(sink.bytes())), lazy.maxPfn);
    assert.ok(applied.memory.equals(whole.memory), `${guest}: every page as the whole domain holds it`);
    assert.ok(stored < 8 * 1024 * 1024);
    assert.equal(lazy.storedBytes, stored, `${guest}: the save stored nothing`);
  }
});

test('a 5 GiB sample saves through a counting sink without allocating its memory', async () => {
  const d = SimulatedDomain.create({ guest: 'hvm', memoryMiB: 5 * 1024, seed: 2 });
  let written = 0;
  const sink: ByteSink = { name: 'count', get written() { return written; }, write: async (b) => void (written += b.length), commit: async () => {}, abort: async () => {} };
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  const summary = await saveDomain(d, sink);
  const ms = performance.now() - t0;
  assert.equal(summary.bytes, written);
  assert.ok(written > 5 * 1024 * 1024 * 1024);
  assert.equal(d.storedBytes, 0);
  assert.ok(process.memoryUsage().rss - rssBefore < 512 * 1024 * 1024, `rss grew ${((process.memoryUsage().rss - rssBefore) / 1048576).toFixed(0)} MiB`);
  assert.ok(ms < 20_000, `saved in ${ms.toFixed(0)} ms`);
});
