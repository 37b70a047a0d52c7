/**
 * Legacy (Xen <= 4.5) images without Xen: detection, what they convert to, verify's
 * findings at offsets and chunk indexes, forced flags, the CLI's exit codes. Images come
 * from test/support/legacy-writer.ts, written independently of src/stream/legacy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ByteReader } from '../../../src/io/byte-reader.js';
import { BufferRawSource } from '../../../src/io/raw-source.js';
import { BufferSink } from '../../../src/io/sink.js';
import { convertLegacy, detectLegacyKind, type LegacyOptions } from '../../../src/stream/legacy/index.js';
import { convertStream } from '../../../src/stream/convert.js';
import { readStream } from '../../../src/stream/reader.js';
import { verifyStream } from '../../../src/verify/index.js';
import { legacyImage, LEGACY_CHUNK, type LegacyImageSpec } from '../../support/legacy-writer.js';
import { xenmig } from '../../support/xen-tools.js';
import { tmpDirFor } from '../../support/tmp.js';

const reader = (b: Uint8Array) => new ByteReader(new BufferRawSource(b));

async function convert(bytes: Uint8Array, to: 2 | 3 = 3, legacy: LegacyOptions = {}, unwrap = false) {
  const sink = new BufferSink();
  const result = await convertLegacy(reader(bytes), sink, { to, legacy, unwrap });
  return { result, out: sink.bytes() };
}

const KINDS: [string, LegacyImageSpec][] = [
  ['PV 64-bit toolstack, 64-bit guest', { width: 64, guest: 'pv', pages: 40, batch: 16, vcpus: 2 }],
  ['PV 32-bit toolstack, 64-bit guest', { width: 32, guest: 'pv', pages: 40, batch: 16 }],
  ['PV 32-bit toolstack, 32-bit guest', { width: 32, guest: 'pv', pages: 40, guestWidth: 4 }],
  ['PV 64-bit toolstack, 32-bit guest', { width: 64, guest: 'pv', pages: 40, guestWidth: 4 }],
  ['HVM 64-bit toolstack', { width: 64, guest: 'hvm', pages: 30, batch: 8 }],
  ['HVM 32-bit toolstack', { width: 32, guest: 'hvm', pages: 30, vcpus: 2 }],
];

for (const [name, spec] of KINDS) {
  test(`legacy ${name}: detected, converted to a conforming v3 stream`, async () => {
    const { bytes } = legacyImage(spec);
    const kind = detectLegacyKind(bytes.subarray(0, 16));
    assert.deepEqual(kind, { width: spec.width, guest: spec.guest });
    const { result } = await convert(bytes);
    // A bare libxc conversion of an HVM image carries the qemu tail after END, as Xen's converter writes it: check the libxc stream alone.
    const { out } = await convert(bytes, 3, {}, true);
    assert.equal(result.layout.width, spec.width);
    assert.equal(result.layout.guest, spec.guest);
    if (spec.guest === 'pv') assert.equal(result.layout.guestWidth, spec.guestWidth ?? 8);
    assert.equal(result.bytesIn, bytes.length);
    const v = await verifyStream(reader(out));
    assert.equal(v.conforming, true, JSON.stringify(v.diagnostics));
    assert.equal(v.warnings, 0, JSON.stringify(v.diagnostics));
    // The legacy image verifies the same way, read in place.
    const direct = await verifyStream(reader(bytes));
    assert.equal(direct.conforming, true, JSON.stringify(direct.diagnostics));
    assert.equal(direct.summary.libxc?.guestType, spec.guest);
  });
}

test('legacy -> v2 is the v3 conversion without STATIC_DATA_END, as xenmig converts v3 -> v2', async () => {
  for (const [, spec] of KINDS) {
    const { bytes } = legacyImage(spec);
    const v3 = (await convert(bytes, 3, {}, true)).out;
    const v2 = (await convert(bytes, 2, {}, true)).out;
    const sink = new BufferSink();
    await convertStream(readStream(reader(v3), { pageContents: 'stream', expectEndOfInput: false }), sink, { to: 2 });
    assert.deepEqual(Buffer.from(v2), Buffer.from(sink.bytes()));
    assert.equal(new DataView(v2.buffer).getUint32(12, false), 2, 'image header version 2');
    const v = await verifyStream(reader(v2));
    assert.equal(v.conforming, true, JSON.stringify(v.diagnostics));
  }
});

test('legacy page batches: XTAB fillers dropped, dataless entries kept, pfn types moved to bits 63-60', async () => {
  const { bytes } = legacyImage({ width: 64, guest: 'pv', pages: 20, batch: 10, xtabFiller: 3, xalloc: 2, unmapped: 4 });
  const { result, out } = await convert(bytes);
  assert.equal(result.pageBatches, 3);
  assert.ok(result.notes.some((n) => /3 XTAB entries for pfn 0 dropped/.test(n.text)));
  assert.ok(result.notes.some((n) => /4 "unmapped" pfn\(s\) discarded/.test(n.text)));
  const items = [];
  for await (const it of readStream(reader(out), { pageContents: 'skip' })) if (it.kind === 'record' && it.type === 1) items.push({ body: it.body.slice(), length: it.length });
  const first = new DataView(items[0]!.body.buffer);
  assert.equal(first.getUint32(0, true), 10);
  // pfn 1 is the L4 (pinned: type 12), pfn 2 the L3 (type 3).
  assert.equal(first.getUint32(8 + 8 * 1 + 4, true), 0xc0000000);
  assert.equal(first.getUint32(8 + 8 * 1, true), 1);
  assert.equal(first.getUint32(8 + 8 * 2 + 4, true), 0x30000000);
  const last = new DataView(items[2]!.body.buffer);
  assert.equal(last.getUint32(0, true), 2);
  assert.equal(last.getUint32(12, true), 0xe0000000);
  assert.equal(items[2]!.length, 8 + 16);
});

test('legacy libxl conversion: the physmap toolstack chunk becomes EMULATOR_XENSTORE_DATA, the qemu tail EMULATOR_CONTEXT', async () => {
  for (const width of [32, 64] as const) {
    const { bytes } = legacyImage({ width, guest: 'hvm', pages: 8, physmap: [{ phys: 0xf0000000n, start: 0xfc000000n, size: 0x800000n, name: 'vga.vram' }] });
    const { out, result } = await convert(bytes, 3, { wrap: 'libxl' });
    assert.deepEqual(result.layers, ['libxl', 'libxc']);
    const text = Buffer.from(out).toString('latin1');
    assert.ok(text.includes(['physmap/f0000000/start_addr', 'fc000000', 'physmap/f0000000/size', '800000', 'physmap/f0000000/name', 'vga.vram', ''].join('\x00')), `width ${width}`);
    const v = await verifyStream(reader(out));
    assert.equal(v.conforming, true, JSON.stringify(v.diagnostics));
  }
});

test('forced width and guest type override detection; a wrong one is a finding, not a crash', async () => {
  const { bytes } = legacyImage({ width: 64, guest: 'hvm', pages: 8 });
  const ok = await convert(bytes, 3, { width: 64, guest: 'hvm' });
  assert.equal(ok.result.layout.width, 64);
  await assert.rejects(convert(bytes, 3, { guest: 'pv' }), /not a Xen stream.*PV image starts with/);
  await assert.rejects(convert(bytes, 3, { width: 32, guest: 'hvm' }), (err: Error & { location?: { offset?: number } }) => {
    assert.match(err.message, /offset \d+/);
    return true;
  });
});

/** Patch a copy of `bytes` at `at`. */
function patched(bytes: Uint8Array, at: number, put: (v: DataView) => void): Uint8Array {
  const b = bytes.slice();
  put(new DataView(b.buffer, at));
  return b;
}

test('verify names what is wrong in a legacy image, with its offset and chunk index', async () => {
  const spec: LegacyImageSpec = { width: 64, guest: 'pv', pages: 16, batch: 3, tsc: false };
  const { bytes } = legacyImage(spec);
  // Layout: p2m_size (8), marker (8), total (4), "vcpu" block (8 + 0x1430), "extv" (8), "xcnt" (12), p2m frames (8).
  const ext = 8 + 8 + 4;
  const vcpuBlock = ext + 4;
  const firstChunk = ext + 8 + 0x1430 + 8 + 12 + 8;
  const expectCode = async (b: Uint8Array, code: string, offset?: number, chunk?: number) => {
    const v = await verifyStream(reader(b));
    assert.equal(v.conforming, false);
    const d = v.diagnostics.find((x) => x.severity === 'error')!;
    assert.equal(d.code, code, JSON.stringify(v.diagnostics));
    if (offset !== undefined) assert.equal(d.location.offset, offset, d.message);
    if (chunk !== undefined) assert.equal(d.location.recordIndex, chunk, d.message);
    return d;
  };
  await expectCode(patched(bytes, vcpuBlock, (v) => v.setUint32(0, 0x1000, true)), 'legacy-extended-info', ext);
  // Second pfn of the first batch duplicates the first.
  await expectCode(patched(bytes, firstChunk + 4 + 8, (v) => v.setUint32(0, 0, true)), 'legacy-duplicate-pfn', firstChunk + 4 + 8, 0);
  await expectCode(patched(bytes, firstChunk, (v) => v.setInt32(0, 1025, true)), 'legacy-batch-too-big', firstChunk, 0);
  await expectCode(patched(bytes, firstChunk, (v) => v.setInt32(0, -99, true)), 'legacy-unknown-chunk', firstChunk, 0);
  await expectCode(patched(bytes, firstChunk, (v) => v.setInt32(0, -12, true)), 'legacy-unsupported-chunk', firstChunk, 0);
  const secondChunk = firstChunk + 4 + 3 * 8 + 3 * 4096;
  const d = await expectCode(bytes.subarray(0, secondChunk + 100), 'truncated', secondChunk + 4 + 3 * 8, 1);
  assert.match(d.message, /page batch contents needs 12288 octet\(s\), only 72 left/);
  await expectCode(bytes.subarray(0, 5), 'legacy-image', 0);

  const hvm = legacyImage({ width: 64, guest: 'hvm', pages: 4 }).bytes;
  const sig = Buffer.from(hvm).lastIndexOf(Buffer.from('DeviceModelRecord0002'));
  await expectCode(patched(hvm, sig, (v) => v.setUint8(0, 0x78)), 'legacy-qemu-signature', sig);
  const pvWithParam = legacyImage({ width: 32, guest: 'pv', pages: 4, guestWidth: 4, hvmChunks: [[LEGACY_CHUNK.HVM_VIRIDIAN, 1n]] }).bytes;
  await expectCode(pvWithParam, 'legacy-hvm-chunk-in-pv');
  const ident = legacyImage({ width: 64, guest: 'hvm', pages: 4, hvmChunks: [[LEGACY_CHUNK.HVM_IDENT_PT, 0xfeffc000n]] }).bytes;
  const v = await verifyStream(reader(ident));
  assert.equal(v.conforming, true, JSON.stringify(v.diagnostics));
});

test('xl header without the stream-v2 flag: the legacy image behind it is read; the config is kept', async () => {
  const { bytes } = legacyImage({ width: 64, guest: 'hvm', pages: 4, xlConfig: '{"c_info":{"name":"old"}}' });
  const { out, result } = await convert(bytes);
  assert.deepEqual(result.layers, ['xl', 'libxl', 'libxc']);
  assert.equal(result.layout.xl, true);
  assert.equal(new DataView(out.buffer).getUint32(36, true), 3, 'JSON and stream-v2 flags');
  const v = await verifyStream(reader(out));
  assert.equal(v.conforming, true, JSON.stringify(v.diagnostics));
  const bare = await convert(bytes, 3, {}, true);
  assert.deepEqual(bare.result.layers, ['xl', 'libxl', 'libxc']);
  assert.equal(Buffer.from(bare.out.subarray(0, 8)).toString('hex'), 'ffffffffffffffff');
});

test('CLI: verify, info, dump and restore take legacy images; findings are one line with the offset; exit 1 and 2', async (t) => {
  const dir = tmpDirFor(t, 'xenmig-legacy-');
  const good = join(dir, 'pv.img');
  writeFileSync(good, legacyImage({ width: 64, guest: 'pv', pages: 12, vcpus: 2 }).bytes);
  const bad = join(dir, 'bad.img');
  const b = legacyImage({ width: 32, guest: 'hvm', pages: 4, tsc: false }).bytes;
  writeFileSync(bad, b.subarray(0, 100));
  const v = xenmig(['verify', good]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /conforming: 0 error\(s\), 0 warning\(s\)/);
  const info = xenmig(['info', good]);
  assert.equal(info.code, 0, info.stderr);
  assert.match(info.stdout, /converted from legacy/);
  const dump = xenmig(['dump', good]);
  assert.match(dump.stdout, /X86_PV_P2M_FRAMES/);
  const vb = xenmig(['verify', bad]);
  assert.equal(vb.code, 1);
  assert.match(vb.stdout, /error: offset 24 \(0x18\), legacy, record #0, page batch \(4\): stream truncated: page batch contents needs 16384 octet\(s\), only 76 left \[truncated\]/);
  const cb = xenmig(['convert', '--to', '2', bad, join(dir, 'out')]);
  assert.equal(cb.code, 1);
  assert.equal(cb.stderr.trim().split('\n').length, 1, cb.stderr);
  assert.match(cb.stderr, /^xenmig: offset 24 \(0x18\), legacy, record #0, page batch \(4\): stream truncated/);
  const usage = xenmig(['verify', '--legacy-width', '48', good]);
  assert.equal(usage.code, 2);
  const r = xenmig(['restore', good, '--into', join(dir, 'img'), '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /restored PV domain/);
  assert.match(r.stdout, /\n  stream: libxc, libxc v3 converted from a legacy image, \d+ octets\n/);
  // extract takes the same forcing flags: the right width reads, the wrong one is a finding, a bad value usage.
  const raw = join(dir, 'pv.raw');
  assert.equal(xenmig(['extract', good, '--legacy-width', '64', '--raw', raw, '--quiet']).code, 0);
  assert.equal(readFileSync(raw).length, 12 * 4096);
  assert.equal(xenmig(['extract', good, '--legacy-width', '32', '--raw', raw, '--force', '--quiet']).code, 1);
  assert.equal(xenmig(['extract', good, '--legacy-width', '48', '--raw', raw, '--force', '--quiet']).code, 2);
  const c = xenmig(['convert', '--to', '3', '--json', good, join(dir, 'v3')]);
  assert.equal(c.code, 0, c.stderr);
  assert.equal((JSON.parse(c.stdout) as { layout: { width: number } }).layout.width, 64);
});
