/**
 * The report's model: one pass over a stream gives the numbers the rest of the library
 * gives (verify's summary and findings, the rounds a guard would count, compat's
 * reasons), and stays small whatever the stream's size.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ByteReader } from '../../src/io/byte-reader.js';
import { BufferRawSource } from '../../src/io/raw-source.js';
import { BufferSink } from '../../src/io/sink.js';
import { readStream } from '../../src/stream/reader.js';
import { verifyStream } from '../../src/verify/index.js';
import { SimulatedDomain } from '../../src/domain/simulated/simulated-domain.js';
import { saveDomain } from '../../src/save/save.js';
import { precopyPolicy } from '../../src/save/precopy.js';
import { checkCompatibility } from '../../src/policy/compat.js';
import { loadPolicyFile } from '../../src/policy/load.js';
import { samplePolicyPath } from '../../src/policy/samples.js';
import { PassCounter } from '../../src/migrate/guard/passes.js';
import { MemoryMap, CELLS } from '../../src/report/memory-map.js';
import { MAX_MARKS, Timeline } from '../../src/report/timeline.js';
import { buildReportModel } from '../../src/report/model.js';
import { parseMigrationLog } from '../../src/report/precopy.js';
import { renderReportPage } from '../../src/report/page.js';
import { cpuMode, decodeHvmCpu } from '../../src/report/vcpus.js';
import { encodeHvmCpuRecord } from '../../src/format/hvm-context.js';
import { tmpDirFor } from '../support/tmp.js';
import { sampleBytes, sampleFile } from '../support/sample.js';
import type { SampleStreamOptions } from '../../src/save/sample.js';

const reader = (bytes: Uint8Array): ByteReader => new ByteReader(new BufferRawSource(bytes));

const sample = (opts: SampleStreamOptions = {}): Promise<Uint8Array> => sampleBytes({ memoryMiB: 4, ...opts });

async function recordCount(bytes: Uint8Array): Promise<number> {
  let n = 0;
  for await (const item of readStream(reader(bytes), { pageContents: 'skip' })) if (item.kind === 'record') n++;
  return n;
}

test('report model of a sample xl stream: the records, pages, vcpus and findings the library gives', async () => {
  const bytes = await sample({ vcpus: 2 });
  const model = await buildReportModel(reader(bytes), { name: 'sample.xl' });
  const v = await verifyStream(reader(bytes));
  assert.equal(model.records, await recordCount(bytes));
  assert.equal(model.memory.populatedPfns, v.summary.populatedPfns);
  assert.equal(model.memory.pagesSent, v.summary.pagesWithData);
  assert.equal(model.conforming, v.conforming);
  assert.equal(model.errors, v.errors);
  assert.deepEqual(model.summary.layers, ['xl', 'libxl', 'libxc']);
  assert.equal(model.streamRounds.count, 1);
  assert.equal(model.precopy.source, 'stream');
  assert.equal(model.precopy.rounds.length, 1);
  assert.equal(model.timeline.bytes, bytes.length);
  assert.deepEqual(model.timeline.staticDataEnd && { ...model.timeline.staticDataEnd }, { ...v.summary.staticDataEnd! });
  // Every record is in exactly one mark, in order, and the marks tile the stream.
  const marks = model.timeline.marks;
  assert.equal(marks[0]!.offset, 0);
  for (let i = 1; i < marks.length; i++) assert.equal(marks[i]!.offset, marks[i - 1]!.end, `mark ${i} starts where the one before ends`);
  assert.equal(marks[marks.length - 1]!.end, bytes.length);
  const headers = marks.filter((m) => m.kind === 'header').length;
  assert.equal(marks.reduce((n, m) => n + m.count, 0) - headers, model.records);
  const pages = marks.filter((m) => m.label === 'PAGE_DATA');
  assert.equal(pages.length, 1, 'one round of PAGE_DATA folds into one mark');
  assert.equal(pages[0]!.fields['pfns'], v.summary.pagesByType['NOTAB']! + (v.summary.pagesByType['XTAB'] ?? 0));
  assert.deepEqual(
    model.vcpus.map((x) => [x.id, x.source, x.mode]),
    [
      [0, 'hvm-cpu', '64-bit long mode'],
      [1, 'hvm-cpu', '64-bit long mode'],
    ],
  );
  assert.equal(model.cpu.present, true);
  assert.ok((model.cpu.featureCount ?? 0) > 50);
  // The memory map's cells add up to the totals.
  const sum = (a: number[]): number => a.reduce((x, y) => x + y, 0);
  assert.equal(sum(model.memory.populated), model.memory.populatedPfns);
  assert.equal(sum(model.memory.sent), model.memory.pagesSent);
  assert.ok(model.memory.cells <= CELLS);
  assert.equal(sum(model.memory.ranges.map((r) => r.last - r.first + 1)), model.memory.populatedPfns);
});

test('report model with --host: the reasons compat gives, and what Xen would strip', async () => {
  const bytes = await sample();
  const host = samplePolicyPath('amd-zen3-milan.txt');
  const model = await buildReportModel(reader(bytes), { host });
  const v = await verifyStream(reader(bytes));
  assert.ok(model.cpu.host);
  const guest = v.summary.libxc!;
  const { CpuPolicy } = await import('../../src/policy/policy.js');
  const { StaticDataTracker } = await import('../../src/stream/static-data.js');
  const tracker = new StaticDataTracker();
  let policy: InstanceType<typeof CpuPolicy> | undefined;
  for await (const item of readStream(reader(bytes), { pageContents: 'skip' })) {
    const end = tracker.push(item);
    if (end) {
      policy = new CpuPolicy(end.data.cpuid ?? [], end.data.msrs ?? []);
      break;
    }
  }
  const hostPolicy = loadPolicyFile(host, { guestType: 'hvm' });
  const { xenVersionForStream } = await import('../../src/policy/xen-versions.js');
  const expected = checkCompatibility(policy!, hostPolicy.policy, { xen: xenVersionForStream(guest.xenMajor, guest.xenMinor).version });
  assert.equal(model.cpu.host.compatible, expected.compatible);
  assert.equal(model.cpu.host.compatible, false, 'an Intel guest cannot move to an AMD host');
  assert.deepEqual(model.cpu.host.reasons.map((r) => r.text), expected.reasons.map((r) => r.text));
  assert.deepEqual(model.cpu.host.stripped.map((r) => r.text), expected.warnings.map((r) => r.text));
});

test('report model of a broken stream: the findings are pinned where verify puts them, and a page is still made', async () => {
  const whole = await sample();
  const cut = whole.subarray(0, 3_000_000);
  const model = await buildReportModel(reader(cut));
  const v = await verifyStream(reader(cut));
  assert.equal(model.conforming, false);
  assert.ok(model.framingError);
  assert.equal(model.framingError.code, 'truncated');
  assert.deepEqual(
    model.findings.map((f) => [f.code, f.offset]),
    v.diagnostics.map((d) => [d.code, d.location.offset]),
  );
  const html = renderReportPage(model);
  assert.match(html, /broken stream/);
  assert.match(html, /class="pin error"/);
});

test('report model of a v2 stream: STATIC_DATA_END inferred at the first PAGE_DATA', async () => {
  const bytes = await sample({ streamVersion: 2, layer: 'libxc' });
  const model = await buildReportModel(reader(bytes));
  assert.equal(model.timeline.staticDataEnd?.inferred, true);
  assert.equal(model.timeline.staticDataEnd?.inferredAt, 'PAGE_DATA');
  assert.equal(model.cpu.present, false, 'a v2 stream carries no policy');
  assert.match(renderReportPage(model), /class="sde inferred"/);
});

test('report model of a live save with its log: rounds, dirty counts, octets, times and where pre-copy stopped', async () => {
  const d = SimulatedDomain.create({ guest: 'hvm', memoryMiB: 4, seed: 5, workload: { rate: 40_000, pattern: 'hotset', tickMs: 1 } });
  d.start();
  const sink = new BufferSink();
  let summary;
  try {
    summary = await saveDomain(d, sink, { live: true, layer: 'xl', precopyPolicy: precopyPolicy(3, 1) });
  } finally {
    d.destroy();
  }
  const bytes = sink.bytes();
  assert.equal(summary.roundLog.length, summary.rounds);
  assert.deepEqual(
    summary.roundLog.map((r) => r.pages),
    summary.pagesPerRound,
  );
  assert.equal(summary.roundLog[summary.roundLog.length - 1]!.phase, 'final');
  assert.equal(summary.roundLog.reduce((n, r) => n + r.bytes, 0) <= summary.bytes, true);
  for (let i = 0; i + 1 < summary.roundLog.length; i++) {
    const r = summary.roundLog[i]!;
    assert.ok(r.dirtyAfter >= 0, `round ${r.round} knows its dirty pages`);
  }
  assert.ok(summary.precopyStop);
  assert.match(summary.precopyStop.reason, /round\(s\) done, the limit is 3|fewer than the target of 1/);

  const log = parseMigrationLog(JSON.stringify({ outcome: 'migrated', save: summary, downtimeMs: 12.5, totalMs: 99 }));
  const model = await buildReportModel(reader(bytes), { migration: log });
  assert.equal(model.precopy.source, 'migrate');
  assert.equal(model.precopy.rounds.length, summary.rounds);
  assert.equal(model.precopy.downtimeMs, 12.5);
  assert.equal(model.precopy.stop?.reason, summary.precopyStop.reason);
  // The stream's own rounds, by the guard's rule, agree with the saver's.
  const counter = new PassCounter();
  for await (const item of readStream(reader(bytes), { pageContents: 'skip' })) if (item.kind === 'record' && item.layer === 'libxc') counter.push(item);
  counter.close();
  assert.equal(model.streamRounds.count, counter.closed);
  assert.equal(model.memory.rounds.length, counter.closed);
  assert.equal(model.memory.pagesResent, model.memory.pagesSent - model.memory.populatedPfns);
  const html = renderReportPage(model);
  assert.match(html, new RegExp(`data-rounds="${summary.rounds}"`));
  assert.match(html, /Pre-copy stopped after round/);
});

test('a receive or save log is read as rounds and downtime; anything else is refused in one line', () => {
  const log = parseMigrationLog(
    JSON.stringify({ outcome: 'received', rounds: [{ round: 1, pages: 10, dirtyAfter: 2, bytes: 40960, startMs: 0, durationMs: 10 }], downtimeMs: 3 }),
  );
  assert.equal(log.source, 'receive');
  assert.equal(log.rounds[0]!.throughput, 4096000);
  assert.equal(log.rounds[0]!.dirtyRate, 200);
  const saved = parseMigrationLog(JSON.stringify({ out: 'vm.xl', roundLog: [{ round: 1, phase: 'final', pages: 4, dirtyAfter: 0, bytes: 16384, startMs: 1, durationMs: 2 }], durationMs: 5 }));
  assert.equal(saved.source, 'save', 'save --json prints the summary itself');
  assert.equal(saved.totalMs, 5);
  assert.throws(() => parseMigrationLog('not json', 'x.json'), /x\.json: not JSON/);
  assert.throws(() => parseMigrationLog('{"outcome":"migrated","save":{"rounds":2}}', 'old.json'), /no per-round data/);
});

test('PV stream: vcpus listed with their context records', async () => {
  const d = SimulatedDomain.create({ guest: 'pv', memoryMiB: 4, seed: 3, vcpus: 2 });
  const sink = new BufferSink();
  try {
    await saveDomain(d, sink, { layer: 'libxc' });
  } finally {
    d.destroy();
  }
  const model = await buildReportModel(reader(sink.bytes()));
  assert.deepEqual(
    model.vcpus.map((v) => v.id),
    [0, 1],
  );
  for (const v of model.vcpus) {
    assert.equal(v.source, 'pv');
    assert.ok(v.records.some((r) => r.type === 'X86_PV_VCPU_BASIC' && r.bytes > 0));
  }
});

test('HVM CPU record: registers at struct hvm_hw_cpu offsets and the mode they mean', () => {
  const seg = (arbytes: number) => ({ sel: 0x10, limit: 0xffffffff, base: 0n, arbytes });
  const body = encodeHvmCpuRecord({
    gprs: [1n, 2n, 3n, 4n, 5n, 6n, 7n, 0x8000n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n],
    rip: 0x1234n,
    rflags: 2n,
    cr0: 0x80050033n,
    cr3: 0x1000n,
    cr4: 0x6f0n,
    efer: 0xd01n,
    segments: [seg(0xa9b), seg(0xc93), seg(0xc93), seg(0xc93), seg(0xc93), seg(0xc93), seg(0x8b), seg(0x82)],
    gdtr: { base: 0n, limit: 0 },
    idtr: { base: 0n, limit: 0 },
    tsc: 0n,
    tscAux: 0,
  });
  const { registers, mode } = decodeHvmCpu(body);
  assert.equal(mode, '64-bit long mode');
  assert.equal(registers['rip'], '0x0000000000001234');
  assert.equal(registers['rsp'], '0x0000000000008000');
  assert.equal(registers['rax'], '0x0000000000000001');
  assert.equal(registers['cr0'], '0x80050033');
  assert.equal(registers['efer'], '0xd01');
  assert.equal(cpuMode(0x10n, 0n, 0), 'real mode');
  assert.equal(cpuMode(0x80000011n, 0n, 1 << 10), '32-bit protected mode, paging');
  assert.equal(cpuMode(0x80000011n, 1n << 10n, 1 << 9), '64-bit long mode');
  assert.equal(cpuMode(0x80000011n, 1n << 10n, 1 << 10), 'compatibility mode (long mode, 32-bit code)');
});

test('memory map: cells widen as pfns grow, counts stay exact, memory stays fixed', () => {
  const map = new MemoryMap();
  const body = (pfns: number[], type = 0): Uint8Array => {
    const b = new Uint8Array(8 + 8 * pfns.length);
    const v = new DataView(b.buffer);
    v.setUint32(0, pfns.length, true);
    pfns.forEach((p, i) => {
      v.setUint32(8 + 8 * i, p % 2 ** 32, true);
      v.setUint32(12 + 8 * i, Math.floor(p / 2 ** 32) | (type << 28), true);
    });
    return b;
  };
  map.pageData(body([0, 1, 2, 3]), true, 1);
  map.pageData(body([10_000_000, 10_000_001]), true, 1);
  map.pageData(body([1, 2]), true, 2);
  map.pageData(body([5, 6], 15), true, 2);
  map.pageData(body([7], 14), true, 2);
  const m = map.finish();
  assert.equal(m.populatedPfns, 7);
  assert.equal(m.pagesSent, 8);
  assert.equal(m.pagesResent, 2);
  assert.equal(m.maxPfn, 10_000_001);
  assert.ok(m.cellPfns * CELLS > 10_000_001 && m.cellPfns * (CELLS / 2) <= 10_000_001);
  assert.equal(m.populated[0], 5, 'pfns 0-3 and the XALLOC pfn 7 share cell 0');
  assert.deepEqual(
    m.ranges.map((r) => [r.first, r.last]),
    [
      [0, 3],
      [7, 7],
      [10_000_000, 10_000_001],
    ],
  );
  assert.equal(m.holes, 2);
  assert.deepEqual(m.byType, { NOTAB: 8, XTAB: 2, XALLOC: 1 });
  assert.equal(m.rounds.length, 2);
  assert.equal(m.rounds[1]!.pages.reduce((a, b) => a + b, 0), 2, 'round 2 carried pfns 1 and 2 (XTAB and XALLOC carry no page)');
});

test('the page of a 512 MiB stream is the size of the page of a 64 MiB stream (within a few KiB)', async (t) => {
  const dir = tmpDirFor(t, 'xenmig-report-');
  const sizes: number[] = [];
  for (const mib of [64, 512]) {
    const path = join(dir, `s${mib}.xl`);
    await sampleFile(path, { memoryMiB: mib });
    const model = await buildReportModel(path);
    // Every pfn but the VGA hole's 32.
    assert.equal(model.memory.populatedPfns, mib * 256 - 32);
    sizes.push(Buffer.byteLength(renderReportPage(model)));
  }
  t.diagnostic(`page size: 64 MiB stream ${sizes[0]} octets, 512 MiB stream ${sizes[1]} octets`);
  assert.ok(Math.abs(sizes[1]! - sizes[0]!) < 16 * 1024, `pages of ${sizes[0]} and ${sizes[1]} octets`);
  assert.ok(sizes[1]! < 1024 * 1024);
});

test('hostile streams keep the model and the page small: 50,000 unknown records, 20,000 alternating ones, pfns 65536 apart', async () => {
  const { unknownOptionalStream, scatteredXtabStream } = await import('../support/hostile.js');
  const many = await buildReportModel(reader(unknownOptionalStream(50_000)));
  assert.equal(many.warnings, 50_000);
  assert.ok(many.findings.length <= 500);
  assert.equal(Object.values(many.findingsDropped).reduce((a, b) => a + b, 0) + many.findings.length, 50_000);
  assert.ok(many.timeline.marks.length < 20, 'one type in a row folds into one mark');
  assert.ok(Buffer.byteLength(renderReportPage(many)) < 1024 * 1024);

  // Two record types taking turns: nothing folds until the cap, then all but END does.
  const timeline = new Timeline();
  const item = (i: number, type: number, typeName: string) =>
    ({ kind: 'record', layer: 'libxc', offset: i * 8, end: i * 8 + 8, index: i, type, typeName, length: 0, littleEndian: true, body: new Uint8Array(0), bodyComplete: true, padding: new Uint8Array(0) }) as const;
  for (let i = 0; i < 20_000; i++) timeline.push(i % 2 ? item(i, 0x80000123, 'A') : item(i, 0x80000124, 'B'));
  timeline.push(item(20_000, 0, 'END'));
  assert.equal(timeline.marks.length, MAX_MARKS + 1);
  assert.equal(timeline.marks[MAX_MARKS]!.label, 'END');
  assert.equal(timeline.marks[MAX_MARKS - 1]!.label, 'several');
  assert.equal(timeline.marks.reduce((n, m) => n + m.count, 0), 20_001);

  const scattered = await buildReportModel(reader(scatteredXtabStream(20_000)));
  assert.equal(scattered.memory.populatedPfns, 1);
  assert.ok(scattered.memory.cells <= CELLS);
  assert.ok(Buffer.byteLength(renderReportPage(scattered)) < 1024 * 1024);
});
